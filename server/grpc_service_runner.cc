#include "server/grpc_service_runner.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "grpc/grpc.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_interceptor.h"
#include "status/status_mapping.h"

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

// Calls that a graceful stop waits for. Health watches are left out: they
// last as long as the client wants and end with the server.
class InFlightCalls {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  void Remove() {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  // True if the count reached zero before `deadline`.
  bool AwaitZero(absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto zero = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return count_ == 0; };
    return mu_.AwaitWithDeadline(absl::Condition(&zero), deadline);
  }

 private:
  absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

struct CallObserverState {
  std::string service_name;
  bool access_log = true;
  InFlightCalls in_flight;
};

// Counts the call while it runs; logs one line when its status is sent.
class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(CallObserverState* state,
               grpc::experimental::ServerRpcInfo* info)
      : state_(state),
        info_(info),
        start_(absl::Now()),
        counted_(absl::string_view(info->method()) !=
                 "/grpc.health.v1.Health/Watch") {
    if (counted_) state_->in_flight.Add();
  }
  ~CallObserver() override {
    if (counted_) state_->in_flight.Remove();
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (state_->access_log &&
        methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      absl::FPrintF(stderr, "%s %s access %s %s %dus peer=%s\n", Timestamp(),
                    state_->service_name, info_->method(),
                    StatusCodeName(ToAbslStatus(status).code()),
                    absl::ToInt64Microseconds(absl::Now() - start_),
                    info_->server_context()->peer());
    }
    methods->Proceed();
  }

 private:
  CallObserverState* const state_;
  grpc::experimental::ServerRpcInfo* const info_;
  const absl::Time start_;
  const bool counted_;
};

class CallObserverFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallObserverFactory(CallObserverState* state) : state_(state) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CallObserver(state_, info);
  }

 private:
  CallObserverState* const state_;
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
  CallObserverState observer_state;
  observer_state.service_name = options.name;
  observer_state.access_log = options.access_log;
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(std::make_unique<CallObserverFactory>(&observer_state));
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
  std::string address = HostPort(options.host, selected_port);
  std::printf("%s listening on %s\n", options.name.c_str(), address.c_str());
  std::fflush(stdout);

  int signo = WaitForTerminationSignal();
  absl::FPrintF(stderr, "%s %s got signal %d: NOT_SERVING, draining\n",
                Timestamp(), options.name, signo);
  health->SetServingStatus(false);
  absl::SleepFor(options.drain_delay);
  // Shutdown() refuses new calls at once but returns only when every
  // connection is gone, idle ones included, or at its deadline. Waiting for
  // the calls in flight ourselves, then cutting the connections, keeps a
  // stop as short as the slowest call.
  absl::Time deadline = absl::Now() + options.shutdown_timeout;
  std::thread shutdown([&] { server->Shutdown(absl::ToChronoTime(deadline)); });
  bool drained = observer_state.in_flight.AwaitZero(deadline);
  grpc_server_cancel_all_calls(server->c_server());
  shutdown.join();
  server->Wait();
  if (!drained) {
    absl::FPrintF(stderr, "%s %s calls still running after %s were cancelled\n",
                  Timestamp(), options.name,
                  absl::FormatDuration(options.shutdown_timeout));
  }
  absl::FPrintF(stderr, "%s %s stopped\n", Timestamp(), options.name);
  return absl::OkStatus();
}

}  // namespace stubmesh::server
