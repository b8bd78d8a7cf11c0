#include "launcher/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "launcher/child_process.h"
#include "launcher/health_probe.h"
#include "launcher/ports.h"
#include "launcher/restart_backoff.h"
#include "launcher/status_file.h"
#include "mesh/mesh_tls.h"

namespace stubmesh::launcher {

using ::stubmesh::mesh::v1::LauncherStatus;
using ::stubmesh::mesh::v1::ProcessStatus;

namespace {

constexpr size_t kLogTailBytes = 2000;
// Begins the line written to a process's log before each start.
constexpr char kStartHeader[] = " launcher: start #";

sigset_t SignalSet(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : signals) sigaddset(&set, signo);
  return set;
}

void Log(absl::string_view message) {
  absl::FPrintF(stderr, "%s launcher: %s\n",
                absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                 absl::UTCTimeZone()),
                message);
}

// The header written to a process's log before each start, so that one log
// holds every run of a replica and says where each begins.
void AppendToFile(const std::string& path, absl::string_view text) {
  ScopedFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (fd.get() < 0) return;
  (void)!write(fd.get(), text.data(), text.size());
}

int PollTimeoutMs(absl::Time now, absl::Time until) {
  if (until == absl::InfiniteFuture()) return -1;
  if (until <= now) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(until - now) + 1, 60 * 60 * 1000));
}

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t nanos = absl::ToUnixNanos(t);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

std::string SignalName(int signo) {
  switch (signo) {
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGHUP:
      return "SIGHUP";
  }
  return absl::StrCat("signal ", signo);
}

bool Readable(const pollfd& p) {
  return p.revents & (POLLIN | POLLHUP | POLLERR);
}

// A child that a SIGTERM we sent ended before it took over the signal
// stopped as asked, too.
bool StoppedCleanly(const ChildProcess& child) {
  return child.ExitedCleanly() || child.KilledBy(SIGTERM);
}

// With mTLS: every process's certificate and key, checked against the CA
// before anything starts (a bad one would only show as a child that exits),
// and the launcher's own credentials for its health checks. Null without.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> CheckTlsOfPlan(
    const LaunchPlan& plan) {
  if (!plan.mesh_config.has_tls()) return nullptr;
  for (const ProcessPlan* process : ProcessesOf(plan)) {
    absl::StatusOr<std::optional<mesh::MeshTlsFiles>> checked =
        mesh::CheckMeshTls(plan.mesh_config, process->tls_cert_file,
                           process->tls_key_file);
    if (!checked.ok()) {
      return absl::Status(
          checked.status().code(),
          absl::StrCat(process->name, ": ", checked.status().message()));
    }
  }
  absl::StatusOr<std::optional<mesh::MeshTlsFiles>> own = mesh::CheckMeshTls(
      plan.mesh_config, plan.probe_cert_file, plan.probe_key_file);
  if (!own.ok()) {
    return absl::Status(
        own.status().code(),
        absl::StrCat("the launcher's health checks: ", own.status().message()));
  }
  return mesh::MeshChannelCredentials(mesh::NewCertificateProvider(**own),
                                      mesh::v1::ServiceMesh());
}

}  // namespace

struct Supervisor::Process {
  Process(ProcessPlan plan, bool gateway,
          std::vector<std::string> health_services,
          const SupervisionTimes& times)
      : plan(std::move(plan)),
        is_gateway(gateway),
        health_services(std::move(health_services)),
        backoff(times.initial_backoff, times.max_backoff, times.reset_after) {
    status.set_name(this->plan.name);
    status.set_state(ProcessStatus::STOPPED);
    status.set_log(this->plan.log_path);
  }

  const ProcessPlan plan;
  const bool is_gateway;
  // Checked on grpc.health.v1; the gateway is checked on GET /readyz.
  const std::vector<std::string> health_services;
  RestartBackoff backoff;
  std::unique_ptr<ChildProcess> child;  // null while none runs
  ProcessStatus status;                 // kept current for the status file
  absl::Time healthy_since = absl::InfiniteFuture();
  absl::Time restart_at = absl::InfiniteFuture();
  int starts = 0;
};

void BlockSupervisorSignals() {
  sigset_t set = SignalSet({SIGTERM, SIGINT, SIGHUP, SIGCHLD});
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // An ignored signal is dropped, not queued for signalfd. An ignored
  // SIGCHLD would also reap children behind the supervisor's back, so these
  // two are taken whatever the parent left; an ignored SIGINT or SIGHUP
  // (a background job, nohup) stays ignored, as the parent meant.
  signal(SIGCHLD, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
}

absl::StatusOr<std::unique_ptr<Supervisor>> Supervisor::Create(
    LaunchPlan plan) {
  sigset_t blocked;
  pthread_sigmask(SIG_BLOCK, nullptr, &blocked);
  for (int signo : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) {
    if (!sigismember(&blocked, signo)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "signal ", signo,
          " is not blocked: call BlockSupervisorSignals() first in main()"));
    }
  }
  absl::Status files = CheckPlanFiles(plan);
  if (!files.ok()) return files;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> probe_credentials =
      CheckTlsOfPlan(plan);
  if (!probe_credentials.ok()) return probe_credentials.status();
  std::error_code error;
  std::filesystem::create_directories(plan.log_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", plan.log_dir, ": ", error.message()));
  }
  sigset_t stop = SignalSet({SIGTERM, SIGINT, SIGHUP});
  sigset_t child = SignalSet({SIGCHLD});
  ScopedFd stop_fd(signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC));
  ScopedFd child_fd(signalfd(-1, &child, SFD_NONBLOCK | SFD_CLOEXEC));
  if (stop_fd.get() < 0 || child_fd.get() < 0) {
    return absl::InternalError(absl::StrCat("signalfd: ", strerror(errno)));
  }
  std::unique_ptr<Supervisor> supervisor(
      new Supervisor(std::move(plan), std::move(stop_fd), std::move(child_fd)));
  supervisor->probe_credentials_ = *std::move(probe_credentials);
  return supervisor;
}

Supervisor::Supervisor(LaunchPlan plan, ScopedFd stop_fd, ScopedFd child_fd)
    : plan_(std::move(plan)),
      stop_fd_(std::move(stop_fd)),
      child_fd_(std::move(child_fd)) {
  for (const ServicePlan& service : plan_.services) {
    std::vector<Process*> group;
    for (const ProcessPlan& replica : service.replicas) {
      processes_.push_back(std::make_unique<Process>(
          replica, false, service.serves, plan_.supervision));
      group.push_back(processes_.back().get());
    }
    groups_.push_back(std::move(group));
  }
  if (plan_.gateway.has_value()) {
    processes_.push_back(std::make_unique<Process>(
        *plan_.gateway, true, std::vector<std::string>(), plan_.supervision));
    groups_.push_back({processes_.back().get()});
  }
}

Supervisor::~Supervisor() = default;  // ~ChildProcess kills what is left.

int Supervisor::Run() {
  state_ = LauncherStatus::STARTING;
  WriteStatus();
  absl::Status ready = WriteFileAtomically(plan_.mesh_config_path,
                                           MeshConfigJson(plan_.mesh_config));
  // A fixed port that is taken would only show as a child that cannot bind;
  // saying so up front is clearer.
  for (const auto& process : processes_) {
    if (!ready.ok()) break;
    ready = CheckPortFree(plan_.host, process->plan.port);
    if (ready.ok() && process->plan.admin_port > 0) {
      ready = CheckPortFree(plan_.host, process->plan.admin_port);
    }
  }
  for (const std::vector<Process*>& group : groups_) {
    if (!ready.ok()) break;
    ready = StartGroup(group);
  }
  if (absl::IsCancelled(ready)) {
    Log(absl::StrCat("got ", SignalName(TakeStopSignal()),
                     " while starting: stopping"));
    return Stop() ? 0 : 1;
  }
  if (!ready.ok()) {
    Log(std::string(ready.message()));
    Stop();
    state_ = LauncherStatus::FAILED;
    WriteStatus();
    return 1;
  }
  state_ = LauncherStatus::RUNNING;
  // Summary first: whoever sees RUNNING in the status file may also read it.
  PrintSummary();
  WriteStatus();
  Supervise();
  return Stop() ? 0 : 1;
}

absl::Status Supervisor::StartGroup(const std::vector<Process*>& group) {
  // One replica after another: replicas that open a new SQLite file at the
  // same moment can fail to switch it to WAL ("database is locked"); once
  // the first has, the others open it as it is.
  for (Process* process : group) {
    absl::Status s = Spawn(*process);
    if (s.ok()) s = AwaitUp(*process);
    if (!s.ok()) return s;
    Log(absl::StrCat(process->plan.name, " is up on ",
                     process->status.address(), " (pid ", process->child->pid(),
                     ")"));
    WriteStatus();
  }
  return absl::OkStatus();
}

absl::Status Supervisor::Spawn(Process& process) {
  ++process.starts;
  AppendToFile(
      process.plan.log_path,
      absl::StrCat("---- ", absl::FormatTime(absl::Now()), kStartHeader,
                   process.starts, " of ", process.plan.name, ": ",
                   absl::StrJoin(process.plan.argv, " "), "\n"));
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn(process.plan.argv, process.plan.log_path);
  if (!child.ok()) {
    return absl::Status(child.status().code(),
                        absl::StrCat(process.plan.name, " did not start: ",
                                     child.status().message()));
  }
  process.child = *std::move(child);
  process.status.set_state(ProcessStatus::STARTING);
  process.status.set_pid(process.child->pid());
  SetTimestamp(absl::Now(), process.status.mutable_started_at());
  process.status.clear_restart_at();
  return absl::OkStatus();
}

absl::Status Supervisor::AwaitUp(Process& process) {
  const absl::Time deadline = absl::Now() + plan_.supervision.startup_timeout;
  absl::StatusOr<ChildProcess::Endpoints> endpoints =
      process.child->AwaitListening(deadline, stop_fd_.get());
  if (absl::IsCancelled(endpoints.status())) return endpoints.status();
  if (!endpoints.ok()) return FailStart(process, endpoints.status());
  process.status.set_address(endpoints->address);
  // The gateway serves /metrics on its own port.
  process.status.set_admin_address(
      process.is_gateway ? endpoints->address : endpoints->admin_address);

  // Waits between health checks, but not for a process that exited or
  // when told to stop.
  ChildProcess* child = process.child.get();
  PauseFn pause = [this, child](absl::Duration wait) -> absl::Status {
    pollfd fds[2] = {{stop_fd_.get(), POLLIN, 0},
                     {child->stdout_fd(), POLLIN, 0}};
    const absl::Time until = absl::Now() + wait;
    while (absl::Now() < until) {
      poll(fds, child->stdout_fd() >= 0 ? 2 : 1,
           PollTimeoutMs(absl::Now(), until));
      if (fds[0].revents & POLLIN) return absl::CancelledError("stopping");
      if (Readable(fds[1])) child->PumpStdout();
      if (child->TryReap()) {
        return absl::FailedPreconditionError("exited before it was healthy");
      }
      fds[1].fd = child->stdout_fd();
    }
    return absl::OkStatus();
  };
  absl::Status healthy =
      process.is_gateway
          ? AwaitHttpOk(endpoints->address, "/readyz", deadline, pause)
          : AwaitGrpcServing(endpoints->address, process.health_services,
                             deadline, pause, probe_credentials_);
  if (absl::IsCancelled(healthy)) return healthy;
  if (!healthy.ok()) return FailStart(process, healthy);
  process.status.set_state(ProcessStatus::RUNNING);
  process.healthy_since = absl::Now();
  return absl::OkStatus();
}

absl::Status Supervisor::FailStart(Process& process, const absl::Status& why) {
  process.child->KillAndReap();
  const std::string exit = process.child->DescribeExit();
  process.child.reset();
  process.status.set_pid(0);
  process.status.set_state(ProcessStatus::STOPPED);
  process.status.set_last_exit(exit);
  // Only this run's output: earlier runs are in the log, and a process that
  // keeps failing would repeat them at every attempt.
  std::string tail = ReadTail(process.plan.log_path, kLogTailBytes);
  const size_t header = tail.rfind(kStartHeader);
  if (header != std::string::npos) {
    const size_t end = tail.find('\n', header);
    tail.erase(0, end == std::string::npos ? tail.size() : end + 1);
  }
  return absl::Status(
      why.code(),
      absl::StrCat(process.plan.name, " did not start: ", why.message(),
                   " (it ", exit, "); its output, in ", process.plan.log_path,
                   ":\n", tail));
}

void Supervisor::Supervise() {
  while (true) {
    const absl::Time now = absl::Now();
    absl::Time next_restart = absl::InfiniteFuture();
    std::vector<pollfd> fds = {{stop_fd_.get(), POLLIN, 0},
                               {child_fd_.get(), POLLIN, 0}};
    std::vector<Process*> piped;
    for (const auto& process : processes_) {
      next_restart = std::min(next_restart, process->restart_at);
      if (process->child != nullptr && process->child->stdout_fd() >= 0) {
        fds.push_back({process->child->stdout_fd(), POLLIN, 0});
        piped.push_back(process.get());
      }
    }
    const int ready =
        poll(fds.data(), fds.size(), PollTimeoutMs(now, next_restart));
    if (ready < 0 && errno != EINTR) {
      Log(absl::StrCat("poll: ", strerror(errno), "; stopping"));
      return;
    }
    if (fds[0].revents & POLLIN) {
      Log(absl::StrCat("got ", SignalName(TakeStopSignal()), ": stopping"));
      return;
    }
    for (size_t i = 0; i < piped.size(); ++i) {
      if (Readable(fds[i + 2])) piped[i]->child->PumpStdout();
    }
    if (fds[1].revents & POLLIN) {
      DrainChildSignals();
      ReapExited();
    }
    for (const auto& process : processes_) {
      if (process->restart_at > absl::Now()) continue;
      if (absl::IsCancelled(Restart(*process))) {
        Log(absl::StrCat("got ", SignalName(TakeStopSignal()), ": stopping"));
        return;
      }
    }
  }
}

void Supervisor::ReapExited() {
  for (const auto& process : processes_) {
    if (process->child == nullptr || !process->child->TryReap()) continue;
    process->child->PumpStdout();
    const std::string exit = process->child->DescribeExit();
    const pid_t pid = process->child->pid();
    process->child.reset();
    process->status.set_last_exit(exit);
    ScheduleRestart(*process, absl::StrCat("pid ", pid, " ", exit));
  }
}

void Supervisor::ScheduleRestart(Process& process, absl::string_view why) {
  const absl::Time now = absl::Now();
  const absl::Duration wait =
      process.backoff.OnExit(process.healthy_since, now);
  process.healthy_since = absl::InfiniteFuture();
  process.restart_at = now + wait;
  process.status.set_state(ProcessStatus::BACKOFF);
  process.status.set_pid(0);
  SetTimestamp(process.restart_at, process.status.mutable_restart_at());
  Log(absl::StrCat(process.plan.name, ": ", why, "; restart #",
                   process.status.restarts() + 1, " in ",
                   absl::FormatDuration(wait)));
  WriteStatus();
}

absl::Status Supervisor::Restart(Process& process) {
  process.restart_at = absl::InfiniteFuture();
  process.status.set_restarts(process.status.restarts() + 1);
  Log(absl::StrCat("restarting ", process.plan.name, " on ",
                   HostPort(plan_.host, process.plan.port), " (restart #",
                   process.status.restarts(), ")"));
  absl::Status s = Spawn(process);
  if (s.ok()) s = AwaitUp(process);
  if (absl::IsCancelled(s)) return s;
  if (!s.ok()) {
    Log(std::string(s.message()));
    ScheduleRestart(process, "restart failed");
    return absl::OkStatus();
  }
  Log(absl::StrCat(process.plan.name, " is back on ", process.status.address(),
                   " (pid ", process.child->pid(), ", restart #",
                   process.status.restarts(), ")"));
  WriteStatus();
  return absl::OkStatus();
}

bool Supervisor::Stop() {
  state_ = LauncherStatus::STOPPING;
  WriteStatus();
  bool clean = true;
  // The gateway first, then each service before the ones it calls, so that
  // no process loses what it calls while it still has calls to make.
  for (auto group = groups_.rbegin(); group != groups_.rend(); ++group) {
    clean = StopGroup(*group) && clean;
  }
  state_ = LauncherStatus::STOPPED;
  WriteStatus();
  Log(clean ? "stopped" : "stopped, not all cleanly (see above)");
  return clean;
}

bool Supervisor::StopGroup(const std::vector<Process*>& group) {
  for (Process* process : group) {
    process->restart_at = absl::InfiniteFuture();
    process->status.clear_restart_at();
    if (process->child == nullptr) {
      process->status.set_state(ProcessStatus::STOPPED);
      continue;
    }
    Log(absl::StrCat("stopping ", process->plan.name, " (pid ",
                     process->child->pid(), ")"));
    process->child->Signal(SIGTERM);
    process->status.set_state(ProcessStatus::STOPPING);
  }
  WriteStatus();
  const absl::Time deadline = absl::Now() + plan_.supervision.stop_timeout;
  bool forced = false;
  while (true) {
    // Drained before reaping: a SIGCHLD that comes after makes the next
    // poll() return.
    DrainChildSignals();
    std::vector<pollfd> fds = {{stop_fd_.get(), POLLIN, 0},
                               {child_fd_.get(), POLLIN, 0}};
    std::vector<Process*> running;
    for (Process* process : group) {
      if (process->child == nullptr || process->child->TryReap()) continue;
      running.push_back(process);
      if (process->child->stdout_fd() >= 0) {
        fds.push_back({process->child->stdout_fd(), POLLIN, 0});
      }
    }
    if (running.empty() || absl::Now() >= deadline) break;
    poll(fds.data(), fds.size(), PollTimeoutMs(absl::Now(), deadline));
    if (fds[0].revents & POLLIN) {
      Log(absl::StrCat("got ", SignalName(TakeStopSignal()),
                       " again: killing what is left"));
      forced = true;
      break;
    }
    for (Process* process : running) process->child->PumpStdout();
  }
  bool clean = true;
  for (Process* process : group) {
    if (process->child == nullptr) continue;
    ChildProcess& child = *process->child;
    if (!child.reaped()) {
      if (!forced) {
        Log(absl::StrCat(
            process->plan.name, " (pid ", child.pid(), ") did not stop within ",
            absl::FormatDuration(plan_.supervision.stop_timeout), ": SIGKILL"));
      }
      child.KillAndReap();
      clean = false;
    } else {
      child.PumpStdout();
      if (!StoppedCleanly(child)) clean = false;
    }
    Log(absl::StrCat(process->plan.name, " (pid ", child.pid(), ") ",
                     child.DescribeExit()));
    process->status.set_last_exit(child.DescribeExit());
    process->status.set_state(ProcessStatus::STOPPED);
    process->status.set_pid(0);
    process->child.reset();
  }
  WriteStatus();
  return clean;
}

int Supervisor::TakeStopSignal() {
  int last = 0;
  signalfd_siginfo info;
  while (read(stop_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
    last = static_cast<int>(info.ssi_signo);
  }
  return last;
}

void Supervisor::DrainChildSignals() {
  signalfd_siginfo info;
  while (read(child_fd_.get(), &info, sizeof(info)) == sizeof(info)) {
  }
}

void Supervisor::WriteStatus() {
  LauncherStatus status;
  status.set_state(state_);
  status.set_pid(getpid());
  status.set_state_dir(plan_.state_dir);
  status.set_mesh_config(plan_.mesh_config_path);
  status.set_prometheus_targets(plan_.prometheus_targets_path);
  size_t next = 0;
  for (const ServicePlan& service : plan_.services) {
    auto* out = status.add_services();
    out->set_name(service.name);
    for (const std::string& served : service.serves) out->add_serves(served);
    out->set_target(service.target);
    out->set_db(service.db_path);
    for (size_t i = 0; i < service.replicas.size(); ++i) {
      *out->add_replicas() = processes_[next++]->status;
    }
  }
  if (plan_.gateway.has_value()) {
    const ProcessStatus& gateway = processes_[next]->status;
    *status.mutable_gateway() = gateway;
    if (!gateway.address().empty()) {
      status.set_rest_url(absl::StrCat("http://", gateway.address()));
    }
  }
  for (const auto& [path, contents] :
       {std::make_pair(plan_.status_path, LauncherStatusJson(status)),
        std::make_pair(plan_.prometheus_targets_path,
                       PrometheusTargetsJson(status))}) {
    absl::Status s = WriteFileAtomically(path, contents);
    if (!s.ok()) Log(std::string(s.message()));
  }
}

void Supervisor::PrintSummary() const {
  std::string text =
      absl::StrCat("stubmesh is up (state in ", plan_.state_dir, "):\n");
  for (const auto& process : processes_) {
    if (!process->is_gateway) continue;
    absl::StrAppendFormat(
        &text,
        "  REST gateway   http://%s   (/openapi.json lists the routes; "
        "/healthz, /readyz, /metrics)   log %s\n",
        process->status.address(), process->status.log());
  }
  size_t next = 0;
  for (const ServicePlan& service : plan_.services) {
    absl::StrAppendFormat(&text, "  %s   %s   mesh target %s\n", service.name,
                          absl::StrJoin(service.serves, ", "), service.target);
    for (size_t i = 0; i < service.replicas.size(); ++i) {
      const ProcessStatus& replica = processes_[next++]->status;
      absl::StrAppendFormat(&text,
                            "    %-12s grpc %s   metrics http://%s/metrics   "
                            "log %s\n",
                            replica.name(), replica.address(),
                            replica.admin_address(), replica.log());
    }
  }
  absl::StrAppendFormat(&text, "  mesh config    %s\n", plan_.mesh_config_path);
  absl::StrAppendFormat(&text, "  status         %s\n", plan_.status_path);
  absl::StrAppendFormat(&text, "  scrape targets %s (Prometheus file_sd)\n",
                        plan_.prometheus_targets_path);
  absl::StrAppend(
      &text, "Crashed processes are restarted; Ctrl-C stops everything.\n");
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace stubmesh::launcher
