#ifndef STUBMESH_MESH_CLIENT_CALL_INTERCEPTOR_H_
#define STUBMESH_MESH_CLIENT_CALL_INTERCEPTOR_H_

// What every call made through a mesh channel gets, on the client side:
// - an `x-request-id` and a W3C `traceparent` (a new trace when the caller
//   did not pass one on; see ClientContextFor in mesh.h for passing on);
// - client metrics with the go-grpc-prometheus names and labels:
//   grpc_client_started_total{grpc_type,grpc_service,grpc_method},
//   grpc_client_handled_total{...,grpc_code},
//   grpc_client_handling_seconds{grpc_type,grpc_service,grpc_method}.
//
// Thread-safety: the factory and the metrics are thread-safe; one
// interceptor exists per call.
//
// Example:
//   auto metrics = std::make_shared<ClientMetrics>(*registry);
//   std::vector<std::unique_ptr<ClientInterceptorFactoryInterface>> f;
//   f.push_back(std::make_unique<ClientCallInterceptorFactory>(metrics));
//   auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
//       target, creds, args, std::move(f));

#include <array>
#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/client_interceptor.h"
#include "mesh/rpc_labels.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace stubmesh::mesh {

class ClientMetrics {
 public:
  explicit ClientMetrics(prometheus::Registry& registry);

  // One method's series, found once per method: prometheus' Family::Add
  // builds and hashes a label map under a lock, which every call paid
  // three times. Counters per code are added on first use, so /metrics
  // shows the same series as before.
  class MethodSeries {
   public:
    MethodSeries(ClientMetrics* metrics, MethodLabels labels);
    prometheus::Counter& started() const { return *started_; }
    prometheus::Histogram& handling_seconds() const {
      return *handling_seconds_;
    }
    prometheus::Counter& handled(grpc::StatusCode code);

   private:
    ClientMetrics* const metrics_;
    const MethodLabels labels_;
    prometheus::Counter* const started_;
    prometheus::Histogram* const handling_seconds_;
    std::array<std::atomic<prometheus::Counter*>, 17> handled_ = {};
  };
  // The series of `path` ("/pkg.Service/Method"); lives as long as this.
  MethodSeries& SeriesOf(absl::string_view path, absl::string_view type);

  prometheus::Family<prometheus::Counter>& started() const { return *started_; }
  prometheus::Family<prometheus::Counter>& handled() const { return *handled_; }
  prometheus::Family<prometheus::Histogram>& handling_seconds() const {
    return *handling_seconds_;
  }

 private:
  prometheus::Family<prometheus::Counter>* started_;
  prometheus::Family<prometheus::Counter>* handled_;
  prometheus::Family<prometheus::Histogram>* handling_seconds_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> series_
      ABSL_GUARDED_BY(mu_);
};

class ClientCallInterceptorFactory final
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  // `metrics` may be null: then calls only get their ids.
  explicit ClientCallInterceptorFactory(std::shared_ptr<ClientMetrics> metrics)
      : metrics_(std::move(metrics)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override;

 private:
  std::shared_ptr<ClientMetrics> metrics_;
};

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_CLIENT_CALL_INTERCEPTOR_H_
