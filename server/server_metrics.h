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
// Thread-safety: thread-safe.
//
// Example:
//   auto registry = std::make_shared<prometheus::Registry>();
//   ServerMetrics metrics(*registry);
//   ServerMetrics::MethodSeries& get =
//       metrics.SeriesOf(MethodLabelsOf("/pkg.Svc/Get", "unary"));
//   get.Started();  // per call, no label lookup
//   get.Handled(absl::StatusCode::kOk, absl::Milliseconds(3));

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/support/server_interceptor.h"
#include "mesh/rpc_labels.h"
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

  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // One method's series, found once per method: prometheus-cpp's
  // Family::Add builds and hashes a label map under a lock, which every call
  // paid five times (16% of a GetUser's instructions in user_svc). Counters
  // per code are added on first use, so /metrics shows the same series.
  class MethodSeries {
   public:
    MethodSeries(ServerMetrics* metrics, MethodLabels labels);

    void Started() { started_->Increment(); }
    void Handled(absl::StatusCode code, absl::Duration latency);
    void MessageReceived() { msg_received_->Increment(); }
    void MessageSent() { msg_sent_->Increment(); }

   private:
    ServerMetrics* const metrics_;
    const MethodLabels labels_;
    prometheus::Counter* const started_;
    prometheus::Histogram* const handling_seconds_;
    prometheus::Counter* const msg_received_;
    prometheus::Counter* const msg_sent_;
    std::array<std::atomic<prometheus::Counter*>, 17> handled_ = {};
  };

  // The series of `labels`; lives as long as this.
  MethodSeries& SeriesOf(const MethodLabels& labels);

  // One-off forms of the MethodSeries calls (a lookup each).
  void Started(const MethodLabels& labels) { SeriesOf(labels).Started(); }
  void Handled(const MethodLabels& labels, absl::StatusCode code,
               absl::Duration latency) {
    SeriesOf(labels).Handled(code, latency);
  }
  void MessageReceived(const MethodLabels& labels) {
    SeriesOf(labels).MessageReceived();
  }
  void MessageSent(const MethodLabels& labels) {
    SeriesOf(labels).MessageSent();
  }

 private:
  prometheus::Family<prometheus::Counter>& started_;
  prometheus::Family<prometheus::Counter>& handled_;
  prometheus::Family<prometheus::Histogram>& handling_seconds_;
  prometheus::Family<prometheus::Counter>& msg_received_;
  prometheus::Family<prometheus::Counter>& msg_sent_;
  absl::Mutex mu_;
  // By "type service method".
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> series_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_SERVER_METRICS_H_
