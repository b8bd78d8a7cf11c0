#include "server/grpc_service_runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "mesh/grpc_service_config.h"
#include "mesh/mesh_config_flag.h"
#include "mesh/mesh_config_loader.h"
#include "mesh/mesh_tls.h"
#include "prometheus/text_serializer.h"
#include "server/admin_http_server.h"
#include "server/call_observer.h"
#include "server/fault_injection.h"
#include "server/method_authorization.h"
#include "server/process_start_time.h"
#include "server/server_metrics.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (127.0.0.1, ::1, 0.0.0.0, ...).");
ABSL_FLAG(absl::Duration, drain_delay, stubmesh::server::kDefaultDrainDelay,
          "After SIGTERM: how long to report NOT_SERVING (gRPC health, "
          "/healthz 503) before refusing new calls. Clients' health watches "
          "see NOT_SERVING at once and move traffic away, but calls they "
          "picked this replica for a moment earlier still arrive; the default "
          "1s covers that on one machine. Raise it for probes that poll "
          "(e.g. a readiness probe's period); 0 stops at once (tests).");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(10),
          "After the drain delay: how long in-flight calls may take before "
          "they are cancelled.");
ABSL_FLAG(bool, access_log, true,
          "Log one line per call (method, code, latency, peer, request and "
          "trace ids) to stderr.");
ABSL_FLAG(int32_t, admin_port, 0,
          "HTTP port for /metrics (Prometheus) and /healthz (200 while "
          "serving, 503 once draining), on --host; 0 picks a free one, -1 "
          "turns it off.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "Ask clients to reconnect after this long (GOAWAY; calls then get "
          "30s more), so that they re-resolve names and reach new "
          "replicas; 0 turns it off.");
ABSL_FLAG(std::string, inject_faults, "",
          "Faults to inject into every service this process serves, for "
          "testing recovery: a JSON array of stubmesh.mesh.v1.FaultInjection, "
          "e.g. '[{\"method\":\"GetUser\",\"abortPercent\":50,"
          "\"abortCode\":\"UNAVAILABLE\"}]'. Replaces the faults of "
          "--mesh_config; '[]' turns them off.");

namespace stubmesh::server {
namespace {

// Self-pipe: the handler only writes a byte; main reads it outside signal
// context, whichever thread the signal was delivered to.
int signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int signo) {
  char byte = static_cast<char>(signo);
  ssize_t ignored = write(signal_pipe[1], &byte, 1);
  (void)ignored;
}

absl::Status InstallSignalHandlers() {
  if (pipe(signal_pipe) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  struct sigaction action = {};
  action.sa_handler = OnTerminationSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_RESETHAND;  // A second signal kills.
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  return absl::OkStatus();
}

int WaitForTerminationSignal() {
  char byte = 0;
  while (read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
  }
  return byte;
}

std::string HostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

int ClampedMilliseconds(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d),
                                            std::numeric_limits<int>::max()));
}

// What /healthz reports.
enum class Readiness { kStarting, kServing, kDraining };

AdminHttpHandlers AdminHandlers(std::shared_ptr<prometheus::Registry> registry,
                                const std::atomic<Readiness>* readiness) {
  AdminHttpHandlers handlers;
  handlers["/metrics"] = [registry = std::move(registry)] {
    std::ostringstream text;
    prometheus::TextSerializer().Serialize(text, registry->Collect());
    return AdminHttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                             text.str()};
  };
  handlers["/healthz"] = [readiness] {
    switch (readiness->load()) {
      case Readiness::kServing:
        return AdminHttpResponse{200, "text/plain; charset=utf-8", "ok"};
      case Readiness::kStarting:
        return AdminHttpResponse{503, "text/plain; charset=utf-8", "starting"};
      case Readiness::kDraining:
        break;
    }
    return AdminHttpResponse{503, "text/plain; charset=utf-8", "draining"};
  };
  return handlers;
}

// The faults of `services`, from the mesh config and --inject_faults.
absl::StatusOr<std::unique_ptr<FaultInjector>> LoadFaults(
    const GrpcServiceRunnerOptions& options,
    const std::optional<mesh::MeshConfig>& mesh_config,
    const std::vector<std::string>& services) {
  std::optional<std::vector<FaultInjection>> override_faults;
  if (!options.inject_faults.empty()) {
    absl::StatusOr<std::vector<FaultInjection>> parsed =
        ParseInjectFaults(options.inject_faults);
    if (!parsed.ok()) return parsed.status();
    override_faults = *std::move(parsed);
  }
  return FaultInjector::Create(
      services, mesh_config,
      override_faults.has_value() ? &*override_faults : nullptr);
}

}  // namespace

GrpcServiceRunnerOptions GrpcServiceRunnerOptionsFromFlags(std::string name) {
  GrpcServiceRunnerOptions options;
  options.name = std::move(name);
  options.host = absl::GetFlag(FLAGS_host);
  options.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  options.shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  options.access_log = absl::GetFlag(FLAGS_access_log);
  options.admin_port = absl::GetFlag(FLAGS_admin_port);
  options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  options.inject_faults = absl::GetFlag(FLAGS_inject_faults);
  options.mesh_config_path = absl::GetFlag(FLAGS_mesh_config);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert_file);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key_file);
  return options;
}

absl::Status ServeUntilSignalled(const GrpcServiceRunnerOptions& options,
                                 const std::vector<ServedService>& services) {
  // Debian's Abseil keeps a lock graph on every Mutex::Lock (deadlock
  // detection is compiled in): 2% of a GetUser's CPU in a profile.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (options.max_connection_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--max_connection_age: must not be negative (0 turns it off)");
  }
  if (options.max_connection_age_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "max_connection_age_grace: must not be negative");
  }
  if (options.admin_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--admin_port: must be at most 65535, got ", options.admin_port));
  }
  std::vector<std::string> service_names;
  for (const ServedService& served : services) {
    service_names.push_back(served.full_name);
  }
  std::optional<mesh::MeshConfig> mesh_config;
  if (!options.mesh_config_path.empty()) {
    absl::StatusOr<mesh::MeshConfig> read =
        mesh::ReadMeshConfig(options.mesh_config_path);
    if (!read.ok()) return read.status();
    mesh_config = *std::move(read);
  }
  absl::StatusOr<std::unique_ptr<FaultInjector>> faults =
      LoadFaults(options, mesh_config, service_names);
  if (!faults.ok()) return faults.status();
  const mesh::MeshConfig no_config;
  absl::StatusOr<std::optional<mesh::MeshTlsFiles>> tls =
      mesh::CheckMeshTls(mesh_config.has_value() ? *mesh_config : no_config,
                         options.tls_cert_file, options.tls_key_file);
  if (!tls.ok()) return tls.status();
  absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>>
      authorization = MethodAuthorizationPolicy::Create(
          mesh_config.has_value() ? *mesh_config : no_config, service_names);
  if (!authorization.ok()) return authorization.status();
  for (const std::string& line : (*faults)->Describe()) {
    absl::FPrintF(stderr, "%s %s injecting faults into %s\n", LogTimestamp(),
                  options.name, line);
  }

  absl::Status s = InstallSignalHandlers();
  if (!s.ok()) return s;

  std::shared_ptr<prometheus::Registry> registry =
      options.metrics != nullptr ? options.metrics
                                 : std::make_shared<prometheus::Registry>();
  ServerMetrics metrics(*registry);
  // A restart shows as a new value (deploy/prometheus/alerts.yml counts
  // restarts with it).
  ExportProcessStartTime(*registry);
  CallObserverOptions observer_options;
  observer_options.server_name = options.name;
  observer_options.access_log = options.access_log;
  observer_options.metrics = &metrics;
  observer_options.faults = faults->get();
  observer_options.services = service_names;
  // Outlives the server: interceptors point at it until Wait() returns.
  CallObservers observers(std::move(observer_options));

  std::atomic<Readiness> readiness{Readiness::kStarting};
  std::unique_ptr<AdminHttpServer> admin;
  if (options.admin_port >= 0) {
    absl::StatusOr<std::unique_ptr<AdminHttpServer>> started =
        AdminHttpServer::Start(options.host, options.admin_port,
                               AdminHandlers(registry, &readiness));
    if (!started.ok()) return started.status();
    admin = *std::move(started);
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (tls->has_value()) {
    credentials =
        mesh::MeshServerCredentials(mesh::NewCertificateProvider(**tls));
    credentials->SetAuthMetadataProcessor(std::make_shared<MethodAuthorizer>(
        *authorization, registry, options.name));
    absl::FPrintF(stderr, "%s %s mTLS on as %s (CA %s)\n", LogTimestamp(),
                  options.name,
                  (*tls)->identities.empty()
                      ? std::string("a certificate without a URI SAN")
                      : absl::StrJoin((*tls)->identities, ", "),
                  (*tls)->ca_file);
  }

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(HostPort(options.host, options.port), credentials,
                           &selected_port);
  if (options.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                               ClampedMilliseconds(options.max_connection_age));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        ClampedMilliseconds(options.max_connection_age_grace));
  }
  // Accept the keepalive pings the mesh config allows its clients.
  for (const auto& [key, value] : mesh::ServerKeepaliveArguments()) {
    builder.AddChannelArgument(key, value);
  }
  for (const ServedService& served : services) {
    builder.RegisterService(served.service);
  }
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<CallObserverFactory>(&observers));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || selected_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", HostPort(options.host, options.port),
                     " (in use, or not an address of this machine)"));
  }

  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  for (const ServedService& served : services) {
    health->SetServingStatus(served.full_name, true);
  }
  readiness = Readiness::kServing;
  // The listening line comes last: scripts wait for it and take it to mean
  // that everything is up.
  if (admin != nullptr) {
    std::printf("%s admin on %s\n", options.name.c_str(),
                HostPort(options.host, admin->port()).c_str());
  }
  std::string address = HostPort(options.host, selected_port);
  std::printf("%s listening on %s\n", options.name.c_str(), address.c_str());
  std::fflush(stdout);

  int signo = WaitForTerminationSignal();
  absl::FPrintF(stderr, "%s %s got signal %d: NOT_SERVING, draining for %s\n",
                LogTimestamp(), options.name, signo,
                absl::FormatDuration(options.drain_delay));
  readiness = Readiness::kDraining;
  health->SetServingStatus(false);
  absl::SleepFor(options.drain_delay);
  if (options.before_shutdown) options.before_shutdown();
  // Shutdown() refuses new calls at once but returns only when every
  // connection is gone, idle ones included, or at its deadline. Waiting for
  // the calls in flight ourselves, then cutting the connections, keeps a
  // stop as short as the slowest call.
  absl::Time deadline = absl::Now() + options.shutdown_timeout;
  std::thread shutdown([&] { server->Shutdown(absl::ToChronoTime(deadline)); });
  bool drained = observers.AwaitNoCallsInFlight(deadline);
  // A call still held by an injected delay goes on now, to be cancelled
  // with the rest.
  observers.ReleaseDelayedCalls();
  grpc_server_cancel_all_calls(server->c_server());
  shutdown.join();
  server->Wait();
  if (!drained) {
    absl::FPrintF(stderr, "%s %s calls still running after %s were cancelled\n",
                  LogTimestamp(), options.name,
                  absl::FormatDuration(options.shutdown_timeout));
  }
  absl::FPrintF(stderr, "%s %s stopped\n", LogTimestamp(), options.name);
  return absl::OkStatus();
}

}  // namespace stubmesh::server
