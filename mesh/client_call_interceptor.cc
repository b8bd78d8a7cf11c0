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
      : metrics_(metrics),
        start_(absl::Now()),
        labels_(MethodLabelsOf(info->method() ? info->method() : "",
                               GrpcTypeLabel(info->type()))) {}

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
      if (metrics_ != nullptr) metrics_->started().Add(Labels()).Increment();
    }
    if (metrics_ != nullptr &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      grpc::Status* status = methods->GetRecvStatus();
      std::map<std::string, std::string> labels = Labels();
      metrics_->handling_seconds()
          .Add(labels, prometheus::Histogram::BucketBoundaries{
                           0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                           0.1, 0.25, 0.5, 1, 2.5, 5, 10})
          .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
      labels["grpc_code"] = StatusCodeName(ToAbslStatus(*status).code());
      metrics_->handled().Add(labels).Increment();
    }
    methods->Proceed();
  }

 private:
  std::map<std::string, std::string> Labels() const {
    return {{"grpc_type", labels_.type},
            {"grpc_service", labels_.service},
            {"grpc_method", labels_.method}};
  }

  ClientMetrics* const metrics_;
  const absl::Time start_;
  const MethodLabels labels_;
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

grpc::experimental::Interceptor*
ClientCallInterceptorFactory::CreateClientInterceptor(
    grpc::experimental::ClientRpcInfo* info) {
  return new ClientCallInterceptor(metrics_.get(), info);
}

}  // namespace stubmesh::mesh
