#include "server/server_metrics.h"

#include <map>

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

void ServerMetrics::Started(const MethodLabels& labels) {
  started_.Add(ToMap(labels)).Increment();
}

void ServerMetrics::Handled(const MethodLabels& labels, absl::StatusCode code,
                            absl::Duration latency) {
  Labels map = ToMap(labels);
  // The same buckets as the mesh's client histogram, so that both sides of a
  // call can be compared bucket by bucket.
  handling_seconds_
      .Add(map,
           prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005,
                                                   0.01, 0.025, 0.05, 0.1, 0.25,
                                                   0.5, 1, 2.5, 5, 10})
      .Observe(absl::ToDoubleSeconds(latency));
  map["grpc_code"] = StatusCodeName(code);
  handled_.Add(map).Increment();
}

void ServerMetrics::MessageReceived(const MethodLabels& labels) {
  msg_received_.Add(ToMap(labels)).Increment();
}

void ServerMetrics::MessageSent(const MethodLabels& labels) {
  msg_sent_.Add(ToMap(labels)).Increment();
}

}  // namespace stubmesh::server
