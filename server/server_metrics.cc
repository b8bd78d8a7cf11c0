#include "server/server_metrics.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "status/status_mapping.h"

namespace stubmesh::server {
namespace {

using Labels = std::map<std::string, std::string>;

Labels ToMap(const MethodLabels& labels) {
  return {{"grpc_type", labels.type},
          {"grpc_service", labels.service},
          {"grpc_method", labels.method}};
}

}  // namespace

ServerMetrics::ServerMetrics(prometheus::Registry& registry)
    : started_(prometheus::BuildCounter()
                   .Name("grpc_server_started_total")
                   .Help("Total number of RPCs started on the server.")
                   .Register(registry)),
      handled_(prometheus::BuildCounter()
                   .Name("grpc_server_handled_total")
                   .Help("Total number of RPCs completed on the server, "
                         "regardless of success or failure.")
                   .Register(registry)),
      handling_seconds_(prometheus::BuildHistogram()
                            .Name("grpc_server_handling_seconds")
                            .Help("Histogram of response latency (seconds) "
                                  "of gRPC that had been application-level "
                                  "handled by the server.")
                            .Register(registry)),
      msg_received_(prometheus::BuildCounter()
                        .Name("grpc_server_msg_received_total")
                        .Help("Total number of RPC stream messages received "
                              "on the server.")
                        .Register(registry)),
      msg_sent_(prometheus::BuildCounter()
                    .Name("grpc_server_msg_sent_total")
                    .Help("Total number of gRPC stream messages sent by the "
                          "server.")
                    .Register(registry)) {}

ServerMetrics::MethodSeries::MethodSeries(ServerMetrics* metrics,
                                          MethodLabels labels)
    : metrics_(metrics),
      labels_(std::move(labels)),
      started_(&metrics->started_.Add(ToMap(labels_))),
      // The same buckets as the mesh's client histogram, so that both sides
      // of a call can be compared bucket by bucket.
      handling_seconds_(&metrics->handling_seconds_.Add(
          ToMap(labels_),
          prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005,
                                                  0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5, 1, 2.5, 5, 10})),
      msg_received_(&metrics->msg_received_.Add(ToMap(labels_))),
      msg_sent_(&metrics->msg_sent_.Add(ToMap(labels_))) {}

void ServerMetrics::MethodSeries::Handled(absl::StatusCode code,
                                          absl::Duration latency) {
  handling_seconds_->Observe(absl::ToDoubleSeconds(latency));
  size_t index = static_cast<size_t>(code);
  if (index >= handled_.size())
    index = static_cast<size_t>(absl::StatusCode::kUnknown);
  prometheus::Counter* counter =
      handled_[index].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add gives every caller the same series for the same labels,
    // so a race here stores the same pointer twice.
    Labels map = ToMap(labels_);
    map["grpc_code"] = StatusCodeName(static_cast<absl::StatusCode>(index));
    counter = &metrics_->handled_.Add(map);
    handled_[index].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

ServerMetrics::MethodSeries& ServerMetrics::SeriesOf(
    const MethodLabels& labels) {
  const std::string key =
      absl::StrCat(labels.type, " ", labels.service, " ", labels.method);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(key);
    if (it != series_.end()) return *it->second;
  }
  auto series = std::make_unique<MethodSeries>(this, labels);
  absl::MutexLock lock(&mu_);
  auto [it, added] = series_.try_emplace(key, std::move(series));
  return *it->second;
}

}  // namespace stubmesh::server
