#include "server/grpc_service_runner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"

ABSL_FLAG(std::string, host, "127.0.0.1",
          "Address to listen on (127.0.0.1, ::1, 0.0.0.0, ...).");
ABSL_FLAG(absl::Duration, drain_delay, absl::ZeroDuration(),
          "After SIGTERM: how long to report NOT_SERVING before shutting "
          "down, so that clients' health checks move traffic away.");
ABSL_FLAG(absl::Duration, shutdown_timeout, absl::Seconds(10),
          "After the drain delay: how long in-flight calls may take before "
          "they are cancelled.");
ABSL_FLAG(bool, access_log, true,
          "Log one line per call (method, code, latency, peer) to stderr.");

namespace stubmesh::server {
namespace {

std::string Timestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                          absl::UTCTimeZone());
}

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED"};
  int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

// One log line per call, written when the status is sent.
class AccessLogInterceptor final : public grpc::experimental::Interceptor {
 public:
  AccessLogInterceptor(const std::string* service_name,
                       grpc::experimental::ServerRpcInfo* info)
      : service_name_(service_name), info_(info), start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      absl::FPrintF(stderr, "%s %s access %s %s %dus peer=%s\n", Timestamp(),
                    *service_name_, info_->method(),
                    CodeName(status.error_code()),
                    absl::ToInt64Microseconds(absl::Now() - start_),
                    info_->server_context()->peer());
    }
    methods->Proceed();
  }

 private:
  const std::string* service_name_;
  grpc::experimental::ServerRpcInfo* info_;
  absl::Time start_;
};

class AccessLogInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AccessLogInterceptorFactory(std::string service_name)
      : service_name_(std::move(service_name)) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AccessLogInterceptor(&service_name_, info);
  }

 private:
  const std::string service_name_;
};

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

}  // namespace

GrpcServiceRunnerOptions GrpcServiceRunnerOptionsFromFlags(std::string name) {
  GrpcServiceRunnerOptions options;
  options.name = std::move(name);
  options.host = absl::GetFlag(FLAGS_host);
  options.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  options.shutdown_timeout = absl::GetFlag(FLAGS_shutdown_timeout);
  options.access_log = absl::GetFlag(FLAGS_access_log);
  return options;
}

absl::Status ServeUntilSignalled(const GrpcServiceRunnerOptions& options,
                                 const std::vector<ServedService>& services) {
  absl::Status s = InstallSignalHandlers();
  if (!s.ok()) return s;

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(HostPort(options.host, options.port),
                           grpc::InsecureServerCredentials(), &selected_port);
  for (const ServedService& served : services) {
    builder.RegisterService(served.service);
  }
  if (options.access_log) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<AccessLogInterceptorFactory>(options.name));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
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
  std::string address = HostPort(options.host, selected_port);
  std::printf("%s listening on %s\n", options.name.c_str(), address.c_str());
  std::fflush(stdout);

  int signo = WaitForTerminationSignal();
  absl::FPrintF(stderr, "%s %s got signal %d: NOT_SERVING, draining\n",
                Timestamp(), options.name, signo);
  health->SetServingStatus(false);
  absl::SleepFor(options.drain_delay);
  server->Shutdown(
      absl::ToChronoTime(absl::Now() + options.shutdown_timeout));
  server->Wait();
  absl::FPrintF(stderr, "%s %s stopped\n", Timestamp(), options.name);
  return absl::OkStatus();
}

}  // namespace stubmesh::server
