#ifndef STUBMESH_SERVER_CALL_OBSERVER_H_
#define STUBMESH_SERVER_CALL_OBSERVER_H_

// The server interceptor every stubmesh service runs (installed by
// grpc_service_runner). Per call it
// - counts the call while it runs, so that a graceful stop can wait for it
//   (health watches are left out: they last as long as the client wants);
// - records the go-grpc-prometheus server metrics (server_metrics.h);
// - applies the injected faults of the call's method (fault_injection.h):
//   a delay holds the call before its handler runs, on a gRPC timer, not on
//   a blocked thread; an abort replaces the status the handler sent;
// - logs one line to stderr when the status is sent:
//     <time> <server> access <method> <code> <n>us peer=<peer>
//         rid=<x-request-id> trace=<trace id of traceparent>
//         span=<span id of traceparent: the caller's span>
//         deadline=<time left of the caller's deadline on arrival, or ->[
//         fault=...]
//   with "-" for an id that is absent or malformed.
//
// Thread-safety: CallObservers is thread-safe; gRPC creates one interceptor
// per call. Its table of methods is built in the constructor and only read
// afterwards (no lock per call); a method's series are found on its first
// call and kept in atomics.
//
// Ownership: CallObservers must outlive the server it observes (until
// grpc::Server::Wait() returns); the factory only points at it.
//
// Example:
//   CallObservers observers(options);
//   std::vector<std::unique_ptr<ServerInterceptorFactoryInterface>> f;
//   f.push_back(std::make_unique<CallObserverFactory>(&observers));
//   builder.experimental().SetInterceptorCreators(std::move(f));
//   ...
//   bool drained = observers.AwaitNoCallsInFlight(deadline);
//   observers.ReleaseDelayedCalls();

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/fault_injection.h"
#include "server/server_metrics.h"

namespace stubmesh::server {

// The time as every log line of the server starts: 2024-01-02T03:04:05.678Z.
std::string LogTimestamp();

// The x-request-id value as logged: itself if it is 1 to 128 printable
// ASCII characters without spaces, else "-".
std::string RequestIdForLog(absl::string_view value);

// The trace id of a W3C traceparent value, or "-" if it is not one.
std::string TraceIdForLog(absl::string_view traceparent);
// The span id of a well-formed traceparent (the caller's span), else "-".
std::string SpanIdForLog(absl::string_view traceparent);

struct CallObserverOptions {
  std::string server_name;  // for the access log
  bool access_log = true;
  ServerMetrics* metrics = nullptr;  // not owned; null: no metrics
  FaultInjector* faults = nullptr;   // not owned; null: no faults
  // Full names of the services the server serves. Metrics label calls of
  // other services, except health and reflection, "unknown", so that
  // clients cannot grow the label set.
  std::vector<std::string> services;
};

// State shared by the interceptors of one server.
class CallObservers {
 public:
  explicit CallObservers(CallObserverOptions options);

  CallObservers(const CallObservers&) = delete;
  CallObservers& operator=(const CallObservers&) = delete;

  // True if the calls in flight (health watches aside) reached zero before
  // `deadline`.
  bool AwaitNoCallsInFlight(absl::Time deadline);

  // Ends every injected delay now, and skips those of later calls: for the
  // end of a graceful stop, so that a long delay cannot hold it up.
  void ReleaseDelayedCalls();

  // The series a call of `path` ("/pkg.Service/Method") and `type` counts
  // under: its own for a method of the served services (and of health and
  // reflection), found once per method and type; for a served service
  // without a linked-in descriptor, its own too, looked up per call; else
  // the one "unknown" method of the type. Null without metrics. Lives as
  // long as the ServerMetrics.
  ServerMetrics::MethodSeries* SeriesFor(
      absl::string_view path, grpc::experimental::ServerRpcInfo::Type type);

 private:
  friend class CallObserver;

  // A method's labels, and its series per grpc_type (indexed by
  // ServerRpcInfo::Type) once a call of that type came: made on first use,
  // so that /metrics shows only the methods that were called.
  struct MethodEntry {
    std::string service;
    std::string method;
    std::array<std::atomic<ServerMetrics::MethodSeries*>, 4> series = {};
  };

  // Runs `resume` after `delay` on a gRPC thread, or at once after
  // ReleaseDelayedCalls().
  void Hold(absl::Duration delay, std::function<void()> resume);

  // True for a method of a served service known by its descriptor.
  bool IsKnownMethod(absl::string_view path) const {
    return methods_.contains(path);
  }

  void AddInFlight();
  void RemoveInFlight();

  const CallObserverOptions options_;
  // By "/svc/Method"; keys and labels set in the constructor only.
  absl::node_hash_map<std::string, MethodEntry> methods_;
  MethodEntry unknown_method_;  // service and method "unknown"
  // Served services without a linked-in descriptor: any method.
  std::set<std::string, std::less<>> known_services_;

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_alarm_ ABSL_GUARDED_BY(mu_) = 0;
  // Alarms of held calls, by id; shared with their Set() callers so that
  // ReleaseDelayedCalls can cancel them outside the lock.
  std::map<uint64_t, std::shared_ptr<grpc::Alarm>> alarms_ ABSL_GUARDED_BY(mu_);
};

class CallObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallObserverFactory(CallObservers* observers)
      : observers_(observers) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  CallObservers* const observers_;
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_CALL_OBSERVER_H_
