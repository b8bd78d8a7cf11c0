#include "mesh/client_call_interceptor.h"

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "mesh/rpc_labels.h"
#include "mesh/trace_context.h"
#include "status/status_mapping.h"

namespace stubmesh::mesh {
namespace {

using ::grpc::experimental::InterceptionHookPoints;

class ClientCallInterceptor final : public grpc::experimental::Interceptor {
 public:
  ClientCallInterceptor(ClientMetrics* metrics,
                        grpc::experimental::ClientRpcInfo* info)
      : series_(metrics == nullptr
                    ? nullptr
                    : &metrics->SeriesOf(info->method() ? info->method() : "",
                                         GrpcTypeLabel(info->type()))),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      std::multimap<std::string, std::string>* metadata =
          methods->GetSendInitialMetadata();
      if (metadata->find(kRequestIdKey) == metadata->end()) {
        metadata->emplace(kRequestIdKey, NewRequestId());
      }
      if (metadata->find(kTraceparentKey) == metadata->end()) {
        metadata->emplace(kTraceparentKey, FormatTraceparent(NewTrace()));
      }
      if (series_ != nullptr) series_->started().Increment();
    }
    if (series_ != nullptr && methods->QueryInterceptionHookPoint(
                                  InterceptionHookPoints::POST_RECV_STATUS)) {
      series_->handling_seconds().Observe(
          absl::ToDoubleSeconds(absl::Now() - start_));
      series_->handled(methods->GetRecvStatus()->error_code()).Increment();
    }
    methods->Proceed();
  }

 private:
  ClientMetrics::MethodSeries* const series_;
  const absl::Time start_;
};

}  // namespace

ClientMetrics::ClientMetrics(prometheus::Registry& registry)
    : started_(&prometheus::BuildCounter()
                    .Name("grpc_client_started_total")
                    .Help("Total number of RPCs started on the client.")
                    .Register(registry)),
      handled_(&prometheus::BuildCounter()
                    .Name("grpc_client_handled_total")
                    .Help("Total number of RPCs completed by the client, "
                          "regardless of success or failure.")
                    .Register(registry)),
      handling_seconds_(&prometheus::BuildHistogram()
                             .Name("grpc_client_handling_seconds")
                             .Help("Histogram of response latency (seconds) "
                                   "of the gRPC until it is finished by the "
                                   "application.")
                             .Register(registry)) {}

ClientMetrics::MethodSeries::MethodSeries(ClientMetrics* metrics,
                                          MethodLabels labels)
    : metrics_(metrics),
      labels_(std::move(labels)),
      started_(&metrics->started().Add({{"grpc_type", labels_.type},
                                        {"grpc_service", labels_.service},
                                        {"grpc_method", labels_.method}})),
      handling_seconds_(&metrics->handling_seconds().Add(
          {{"grpc_type", labels_.type},
           {"grpc_service", labels_.service},
           {"grpc_method", labels_.method}},
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005,
                                                  0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5, 1, 2.5, 5, 10})) {}

prometheus::Counter& ClientMetrics::MethodSeries::handled(
    grpc::StatusCode code) {
  size_t index = static_cast<size_t>(code);
  if (index >= handled_.size()) index = grpc::StatusCode::UNKNOWN;
  prometheus::Counter* counter =
      handled_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add gives every caller the same series for the same labels,
    // so a race here stores the same pointer twice.
    counter = &metrics_->handled().Add(
        {{"grpc_type", labels_.type},
         {"grpc_service", labels_.service},
         {"grpc_method", labels_.method},
         // gRPC and absl number the codes alike.
         {"grpc_code", StatusCodeName(static_cast<absl::StatusCode>(index))}});
    handled_[index].store(counter, std::memory_order_release);
  }
  return *counter;
}

ClientMetrics::MethodSeries& ClientMetrics::SeriesOf(absl::string_view path,
                                                     absl::string_view type) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(path);
    if (it != series_.end()) return *it->second;
  }
  auto series =
      std::make_unique<MethodSeries>(this, MethodLabelsOf(path, type));
  absl::MutexLock lock(&mu_);
  auto [it, added] = series_.try_emplace(path, std::move(series));
  return *it->second;
}

grpc::experimental::Interceptor*
ClientCallInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* info) {
  return new ClientCallInterceptor(metrics_.get(), info);
}

}  // namespace stubmesh::mesh
