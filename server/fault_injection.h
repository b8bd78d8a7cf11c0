#ifndef STUBMESH_SERVER_FAULT_INJECTION_H_
#define STUBMESH_SERVER_FAULT_INJECTION_H_

// Faults that a server injects into its own calls, for testing how callers
// recover: a share of a method's calls is held for a while before its
// handler runs (delay), and a share is answered with an error code and the
// message "injected fault" (abort). Off unless configured.
//
// The faults of a service come from the mesh config
// (services[<full name>].faults) or, overriding them for every service the
// process serves, from --inject_faults: a JSON array of
// stubmesh.mesh.v1.FaultInjection, e.g.
//   [{"method": "GetUser", "abortPercent": 50, "abortCode": "UNAVAILABLE"}]
// checked by the mesh config's rules.
//
// Which rule applies to a call: the first whose `method` is the call's
// method; else the first with method "*". Delay and abort are drawn
// independently, per call.
//
// An abort replaces the status the handler sent: the handler has run, as if
// its answer had been lost on the way back. That is safe here because
// creates are idempotent by request_id.
//
// Thread-safety: FaultInjector is thread-safe; the functions are pure.
//
// Example:
//   absl::StatusOr<std::vector<FaultInjection>> flag =
//       ParseInjectFaults(absl::GetFlag(FLAGS_inject_faults));
//   absl::StatusOr<std::unique_ptr<FaultInjector>> faults =
//       FaultInjector::Create({"stubmesh.user.v1.UserService"}, mesh_config,
//                             &*flag);
//   FaultDecision d = (*faults)->Decide("stubmesh.user.v1.UserService",
//                                       "GetUser");
//   if (d.abort) { ...replace the status with *d.abort... }

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::server {

using ::stubmesh::mesh::v1::FaultInjection;

// The message of an aborted call.
inline constexpr char kInjectedFaultMessage[] = "injected fault";

// What to do to one call.
struct FaultDecision {
  absl::Duration delay = absl::ZeroDuration();  // zero: none
  std::optional<absl::StatusCode> abort;        // the code to answer with

  bool any() const { return delay > absl::ZeroDuration() || abort.has_value(); }
  // "delay", "abort", "delay,abort", or "" for none: for the access log.
  std::string Label() const;
};

// How the call observer tells a handler that its call is to be aborted: an
// entry added to the call's client metadata. Upper case, so no client can
// send it (gRPC refuses upper-case keys from the wire).
inline constexpr char kInjectedAbortKey[] = "X-Stubmesh-Injected-Abort";

// For a handler, first thing: the status to finish with when fault
// injection aborts this call, or nullopt. Finishing with it before sending
// anything gives the client a trailers-only answer, as a server that is
// really unavailable would, which gRPC may retry; a handler that does not
// ask still has its status replaced (see call_observer.h), but its answer
// has gone out by then and the client will not retry it.
//
//   if (auto abort = InjectedAbort(*context)) return FinishWith(context, *abort);
std::optional<absl::Status> InjectedAbort(
    const grpc::ServerContextBase& context);

// Draws one call's faults from `rule`, which must be valid (as checked by
// ParseInjectFaults or the mesh config loader).
FaultDecision DecideFault(const FaultInjection& rule, absl::BitGenRef bits);

// The rule for `method` among `rules` (see above), or null.
const FaultInjection* RuleForMethod(const std::vector<FaultInjection>& rules,
                                    absl::string_view method);

// Parses and checks the value of --inject_faults. Errors (INVALID_ARGUMENT)
// name the field: "--inject_faults[0].abort_code: 'NOPE' is not a gRPC code
// name ...".
absl::StatusOr<std::vector<FaultInjection>> ParseInjectFaults(
    absl::string_view json);

class FaultInjector {
 public:
  // The rules of each of `services`: `override_faults` when given, else
  // those of the service in `mesh_config` (if any), which must have been
  // validated. Services without rules get none.
  static std::unique_ptr<FaultInjector> Create(
      const std::vector<std::string>& services,
      const std::optional<mesh::v1::MeshConfig>& mesh_config,
      const std::vector<FaultInjection>* override_faults);

  // True if no service has a rule: calls need not ask.
  bool empty() const { return rules_.empty(); }

  // The faults of one call of `service`/`method`; none if no rule applies.
  FaultDecision Decide(absl::string_view service, absl::string_view method);

  // One line per service with rules, for the startup log.
  std::vector<std::string> Describe() const;

 private:
  explicit FaultInjector(
      std::map<std::string, std::vector<FaultInjection>, std::less<>> rules)
      : rules_(std::move(rules)) {}

  // By full service name; never empty vectors. Not changed after Create.
  const std::map<std::string, std::vector<FaultInjection>, std::less<>> rules_;
  absl::Mutex mu_;
  absl::BitGen bits_ ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_FAULT_INJECTION_H_
