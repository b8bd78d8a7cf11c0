#ifndef STUBMESH_GATEWAY_REQUEST_ACCOUNTING_H_
#define STUBMESH_GATEWAY_REQUEST_ACCOUNTING_H_

// What the gateway keeps of every HTTP answer, whichever layer makes it (the
// HTTP server's own 400/413/431, the request guard's refusals and CORS
// preflights, the gateway's routes): the request id it carries
// (X-Request-Id), and a count and a latency in Prometheus:
//
//   http_requests_total{route, method, code}
//   http_request_duration_seconds{route, method}
//
// Label values stay bounded whatever clients send: `route` is a route
// template or one of a few fixed words ("unmatched", "rejected",
// "preflight", "/healthz", ...), `method` a standard HTTP method or "other"
// (MethodLabel).
//
// Thread-safety: thread-safe. Shared by the layers as
// std::shared_ptr<RequestAccounting>; the registry must outlive it.
//
// Example:
//   auto accounting = std::make_shared<RequestAccounting>(registry.get());
//   std::string id = RequestAccounting::AssignRequestId(&request);
//   ...
//   accounting->Answered("rejected", RequestAccounting::MethodLabel(m),
//                        start, id, &response);
//   respond(std::move(response));

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/http_server.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace stubmesh::gateway {

inline constexpr char kRequestIdHeader[] = "X-Request-Id";
// The route label of answers made before routing: the HTTP server's own
// errors and the request guard's refusals.
inline constexpr char kRejectedRoute[] = "rejected";
// The route label of CORS preflights the request guard answered.
inline constexpr char kPreflightRoute[] = "preflight";

class RequestAccounting {
 public:
  // Registers the two metric families in `registry` (not owned).
  explicit RequestAccounting(prometheus::Registry* registry);

  // The request's id: the client's X-Request-Id when it is 1 to 128
  // printable ASCII characters, else a new one (32 hex digits). The
  // request's header is set to it, so the layers after this one see the
  // same id.
  static std::string AssignRequestId(HttpRequest* request);
  // The id a request head carries, as AssignRequestId decides it, without
  // changing the head (for answers made before a request is complete).
  static std::string RequestIdOf(const HttpRequest& head);

  // `method` when it is a standard HTTP method, else "other": clients
  // cannot mint metric series with made-up methods.
  static std::string MethodLabel(absl::string_view method);

  // Sets X-Request-Id on `response` and records it: Count() with its status
  // and ObserveLatency() from `start`.
  void Answered(const std::string& route, const std::string& method,
                absl::Time start, absl::string_view request_id,
                HttpResponse* response);

  void Count(const std::string& route, const std::string& method, int code);
  void ObserveLatency(const std::string& route, const std::string& method,
                      absl::Time start);

 private:
  prometheus::Family<prometheus::Counter>* requests_total_;
  prometheus::Family<prometheus::Histogram>* request_seconds_;
  // The series found so far, by their label values joined with '\0':
  // prometheus-cpp's Family::Add builds and hashes a label map under its
  // lock, twice a request. Bounded, as the label values are.
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, prometheus::Counter*> counters_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Histogram*> histograms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REQUEST_ACCOUNTING_H_
