#ifndef STUBMESH_SERVER_SERVER_METRICS_H_
#define STUBMESH_SERVER_SERVER_METRICS_H_

// Server-side gRPC metrics with the go-grpc-prometheus names and labels, so
// that dashboards and alerts written for Go services work unchanged:
//
//   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}
//   grpc_server_msg_received_total{grpc_type,grpc_service,grpc_method}
//   grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
//
// grpc_type is unary, client_stream, server_stream or bidi_stream;
// grpc_code a code name (OK, NOT_FOUND, ...). The histogram's buckets are
// those of the mesh's client metrics.
//
// Thread-safety: thread-safe (prometheus-cpp families lock themselves).
//
// Example:
//   auto registry = std::make_shared<prometheus::Registry>();
//   ServerMetrics metrics(*registry);
//   MethodLabels labels = MethodLabelsOf("/pkg.Svc/Get", "unary");
//   metrics.Started(labels);
//   metrics.Handled(labels, absl::StatusCode::kOk, absl::Milliseconds(3));

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "mesh/rpc_labels.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace stubmesh::server {

// The labels every server metric has, named as the client side names them.
using ::stubmesh::mesh::GrpcTypeLabel;
using ::stubmesh::mesh::MethodLabels;
using ::stubmesh::mesh::MethodLabelsOf;

class ServerMetrics {
 public:
  // Registers the five families in `registry`, which must outlive this.
  explicit ServerMetrics(prometheus::Registry& registry);

  void Started(const MethodLabels& labels);
  void Handled(const MethodLabels& labels, absl::StatusCode code,
               absl::Duration latency);
  void MessageReceived(const MethodLabels& labels);
  void MessageSent(const MethodLabels& labels);

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_SERVER_METRICS_H_
