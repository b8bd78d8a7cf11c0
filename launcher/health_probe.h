#ifndef STUBMESH_LAUNCHER_HEALTH_PROBE_H_
#define STUBMESH_LAUNCHER_HEALTH_PROBE_H_

// Whether a started process is ready: gRPC servers by grpc.health.v1
// Health/Check, the REST gateway by an HTTP GET (/readyz). Each Await*
// function retries with backoff until success or its deadline; between
// attempts it calls `pause`, which waits and may end the wait early with an
// error (the launcher's: a stop signal came, or the process exited).
//
// Thread-safety: thread-safe (no shared state).
//
// Example:
//   absl::Status ready = AwaitGrpcServing(
//       "127.0.0.1:50051", {"stubmesh.user.v1.UserService"},
//       absl::Now() + absl::Seconds(30), SleepingPause());

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace stubmesh::launcher {

// Waits `wait` between two attempts; a non-OK status ends the Await* call
// with that status.
using PauseFn = std::function<absl::Status(absl::Duration wait)>;

// A PauseFn that only sleeps.
PauseFn SleepingPause();

// Until Health/Check at `address` (HOST:PORT) answers SERVING for every one
// of `services` (for "", the server as a whole, when `services` is empty).
// DEADLINE_EXCEEDED with the last answer if that has not happened by
// `deadline`.
// `credentials`: those of the check's channel (mTLS); insecure when null.
absl::Status AwaitGrpcServing(
    const std::string& address, const std::vector<std::string>& services,
    absl::Time deadline, const PauseFn& pause,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// Until GET http://`address``path` answers 200. DEADLINE_EXCEEDED with the
// last answer otherwise.
absl::Status AwaitHttpOk(const std::string& address, const std::string& path,
                         absl::Time deadline, const PauseFn& pause);

// One GET http://`address``path` (HTTP/1.1, Connection: close): the status
// code, or UNAVAILABLE / DEADLINE_EXCEEDED.
absl::StatusOr<int> HttpGetStatus(const std::string& address,
                                  const std::string& path, absl::Time deadline);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_HEALTH_PROBE_H_
