#ifndef STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_
#define STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_

// The bootstrap every stubmesh service runs: one gRPC server with the
// grpc.health.v1 service (its descriptor linked in, so grpcurl can describe
// it), server reflection, an access log line per call, and a graceful stop.
//
// Lifecycle of ServeUntilSignalled():
//   1. binds host:port (port 0 picks a free port) and starts serving;
//   2. marks every service SERVING and prints one line to stdout,
//      "<name> listening on <host>:<port>", which scripts and tests wait for;
//   3. on SIGTERM or SIGINT: health NOT_SERVING, waits `drain_delay` so
//      balancers stop sending, then shuts down, giving in-flight calls up to
//      `shutdown_timeout`; returns OK.
//
// Thread-safety: call once per process, from main.
//
// Example:
//   UserServiceImpl service(store.get());
//   GrpcServiceRunnerOptions options = GrpcServiceRunnerOptionsFromFlags("user_svc");
//   options.port = absl::GetFlag(FLAGS_port);
//   absl::Status s = ServeUntilSignalled(
//       options, {{v1::UserService::service_full_name(), &service}});
//   return s.ok() ? 0 : 1;

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"

namespace stubmesh::server {

struct GrpcServiceRunnerOptions {
  std::string name;            // the binary's name, for logs
  std::string host = "127.0.0.1";
  int port = 0;                // 0 picks a free port
  absl::Duration drain_delay = absl::ZeroDuration();
  absl::Duration shutdown_timeout = absl::Seconds(10);
  bool access_log = true;
};

// Fills host, drain_delay, shutdown_timeout and access_log from the flags
// --host, --drain_delay, --shutdown_timeout and --access_log.
GrpcServiceRunnerOptions GrpcServiceRunnerOptionsFromFlags(std::string name);

// A service to serve, with the full name its health status is reported under.
struct ServedService {
  std::string full_name;     // e.g. "stubmesh.user.v1.UserService"
  grpc::Service* service;    // not owned; must outlive ServeUntilSignalled
};

// Serves `services` until SIGTERM or SIGINT. Errors: the address cannot be
// bound, or the server did not start.
absl::Status ServeUntilSignalled(const GrpcServiceRunnerOptions& options,
                                 const std::vector<ServedService>& services);

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_
