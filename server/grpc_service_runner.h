#ifndef STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_
#define STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_

// The bootstrap every stubmesh service runs: one gRPC server with the
// grpc.health.v1 service (its descriptor linked in, so grpcurl can describe
// it), server reflection, and, for every call, the call observer
// (call_observer.h): go-grpc-prometheus metrics, an access log line with the
// request and trace ids, injected faults when configured, and a count of
// calls in flight for the graceful stop. Beside it, an admin HTTP port
// serves /metrics (Prometheus text) and /healthz to probes that speak
// neither gRPC nor mTLS.
//
// When the mesh config has tls (mesh/mesh_tls.h), the gRPC port is mTLS
// only: the server presents `tls_cert_file`, requires a client certificate
// from the mesh CA, and checks every call against the `authorization` of
// its service (method_authorization.h: PERMISSION_DENIED, counted and
// logged). The admin port stays plain HTTP.
//
// Lifecycle of ServeUntilSignalled():
//   1. checks the options (the faults of --mesh_config and --inject_faults
//      included, and the mTLS files): a bad one refuses to start, naming
//      the field;
//   2. binds the admin port (port 0 picks a free port) and host:port, and
//      starts serving; connections are closed after `max_connection_age`
//      (GOAWAY, then `max_connection_age_grace` for their calls), so that
//      clients re-resolve names and spread over new replicas; keepalive
//      pings are accepted as often as the mesh config lets clients send
//      them (mesh/grpc_service_config.h);
//   3. marks every service SERVING (/healthz: 200 "ok") and prints to
//      stdout "<name> admin on <host>:<port>" (when the admin port is on),
//      then, last, "<name> listening on <host>:<port>", which scripts and
//      tests wait for;
//   4. on SIGTERM or SIGINT: health NOT_SERVING and /healthz 503, logs
//      "<name> got signal N: NOT_SERVING, draining for <drain_delay>", waits
//      `drain_delay` (1s by default) so balancers stop sending, then shuts
//      down, giving
//      in-flight calls up to `shutdown_timeout` (calls held by an injected
//      delay are let go then); returns OK.
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

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/impl/codegen/service_type.h"
#include "prometheus/registry.h"

namespace stubmesh::server {

// How long a stopping server reports NOT_SERVING before it refuses calls,
// by default (see --drain_delay).
inline constexpr absl::Duration kDefaultDrainDelay = absl::Seconds(1);

struct GrpcServiceRunnerOptions {
  std::string name;            // the binary's name, for logs
  std::string host = "127.0.0.1";
  int port = 0;                // 0 picks a free port
  absl::Duration drain_delay = kDefaultDrainDelay;
  absl::Duration shutdown_timeout = absl::Seconds(10);
  bool access_log = true;

  // HTTP port of /metrics and /healthz, on `host`: 0 picks a free port; a
  // negative value turns the admin port off.
  int admin_port = 0;
  // Age after which a connection is asked to go (GOAWAY, with gRPC's +-10%
  // jitter); zero: never. Its calls then get `max_connection_age_grace`.
  absl::Duration max_connection_age = absl::Minutes(5);
  absl::Duration max_connection_age_grace = absl::Seconds(30);

  // A mesh config file (JSON); the faults of the served services are taken
  // from it. Empty: none.
  std::string mesh_config_path;
  // A JSON array of stubmesh.mesh.v1.FaultInjection for every served
  // service, in place of the mesh config's faults ("[]": none). Empty: the
  // mesh config's faults apply. See fault_injection.h.
  std::string inject_faults;

  // This process's certificate and key for mTLS; required exactly when the
  // mesh config has tls.
  std::string tls_cert_file;
  std::string tls_key_file;

  // Where the server's metrics go, and what /metrics shows: a process that
  // also makes calls passes the registry of its client metrics here. Null:
  // a registry of the runner's own.
  std::shared_ptr<prometheus::Registry> metrics;

  // Called once the drain delay has passed, before waiting for calls in
  // flight: ends calls that never end by themselves (event streams), so the
  // stop is not held for `shutdown_timeout`. May be empty.
  std::function<void()> before_shutdown;
};

// Fills the options from the flags --host, --drain_delay, --shutdown_timeout,
// --access_log, --admin_port, --max_connection_age, --inject_faults,
// --mesh_config, --tls_cert_file and --tls_key_file (mesh/mesh_config_flag.h).
GrpcServiceRunnerOptions GrpcServiceRunnerOptionsFromFlags(std::string name);

// A service to serve, with the full name its health status is reported under.
struct ServedService {
  std::string full_name;     // e.g. "stubmesh.user.v1.UserService"
  grpc::Service* service;    // not owned; must outlive ServeUntilSignalled
};

// Serves `services` until SIGTERM or SIGINT. Errors: INVALID_ARGUMENT for a
// bad option (a message naming it), NOT_FOUND for a missing mesh config,
// UNAVAILABLE if an address cannot be bound or the server did not start.
absl::Status ServeUntilSignalled(const GrpcServiceRunnerOptions& options,
                                 const std::vector<ServedService>& services);

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_GRPC_SERVICE_RUNNER_H_
