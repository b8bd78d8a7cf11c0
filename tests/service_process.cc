#include "tests/service_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "grpcpp/support/stub_options.h"
#include "gtest/gtest.h"

namespace stubmesh::test {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

constexpr absl::string_view kListeningMarker = " listening on ";

std::string ErrnoText(int err) { return std::strerror(err); }

void CloseIfOpen(int fd) {
  if (fd >= 0) close(fd);
}

// write() until done; the log is best effort, so errors are dropped.
void WriteAll(int fd, absl::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

// Parses `<name> listening on <host>:<port>`.
bool ParseListeningLine(absl::string_view line, std::string* name,
                        std::string* address) {
  line = absl::StripAsciiWhitespace(line);
  size_t marker = line.find(kListeningMarker);
  if (marker == absl::string_view::npos || marker == 0) return false;
  absl::string_view service = line.substr(0, marker);
  absl::string_view addr = line.substr(marker + kListeningMarker.size());
  if (service.find(' ') != absl::string_view::npos || addr.empty() ||
      addr.find(' ') != absl::string_view::npos) {
    return false;
  }
  size_t colon = addr.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == addr.size()) {
    return false;
  }
  absl::string_view host = addr.substr(0, colon);
  absl::string_view port = addr.substr(colon + 1);
  if (!std::all_of(port.begin(), port.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  // A server bound to every interface is reached on loopback; "localhost"
  // lets gRPC pick whichever of ::1 and 127.0.0.1 answers.
  if (host.empty() || host == "0.0.0.0") {
    host = "127.0.0.1";
  } else if (host == "[::]") {
    host = "localhost";
  }
  *name = std::string(service);
  *address = absl::StrCat(host, ":", port);
  return true;
}

std::string DescribeExit(int exit_code) {
  if (exit_code > 128) {
    return absl::StrCat("killed by signal ", exit_code - 128);
  }
  return absl::StrCat("exited with code ", exit_code);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    absl::string_view binary_path, const std::vector<std::string>& args,
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string path(binary_path);
  if (access(path.c_str(), X_OK) != 0) {
    const int err = errno;
    char cwd[4096] = "?";
    if (getcwd(cwd, sizeof(cwd)) == nullptr) cwd[0] = '?';
    return absl::NotFoundError(absl::StrCat(path, " is not executable (cwd ",
                                            cwd, "): ", ErrnoText(err)));
  }

  std::string log_path;
  int log_fd = -1;
  if (const char* tmp = std::getenv("TEST_TMPDIR"); tmp != nullptr && *tmp) {
    const size_t slash = path.rfind('/');
    const std::string base =
        slash == std::string::npos ? path : path.substr(slash + 1);
    std::string templ = absl::StrCat(tmp, "/", base, ".XXXXXX.log");
    log_fd = mkstemps(templ.data(), 4);
    if (log_fd < 0) {
      return absl::InternalError(
          absl::StrCat("mkstemps ", templ, ": ", ErrnoText(errno)));
    }
    // O_APPEND so that the child's stderr and our copies of its stdout
    // interleave instead of overwriting each other.
    fcntl(log_fd, F_SETFL, O_APPEND);
    fcntl(log_fd, F_SETFD, FD_CLOEXEC);
    log_path = std::move(templ);
  }

  // Everything the child needs is prepared before fork(): between fork()
  // and execv() only async-signal-safe calls are allowed, because gRPC's
  // threads may hold locks that the child would inherit held.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(path);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int exec_pipe[2];  // Carries execv()'s errno; EOF means exec succeeded.
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    CloseIfOpen(log_fd);
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(errno)));
  }
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    const int err = errno;
    CloseIfOpen(log_fd);
    close(out_pipe[0]);
    close(out_pipe[1]);
    return absl::InternalError(absl::StrCat("pipe2: ", ErrnoText(err)));
  }
  const int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // The parent died before prctl.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dev_null >= 0) dup2(dev_null, STDIN_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    if (log_fd >= 0) dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    const int err = errno;
    (void)!write(exec_pipe[1], &err, sizeof(err));
    _exit(127);
  }

  const int fork_errno = errno;
  CloseIfOpen(dev_null);
  close(out_pipe[1]);
  close(exec_pipe[1]);
  if (pid < 0) {
    CloseIfOpen(log_fd);
    close(out_pipe[0]);
    close(exec_pipe[0]);
    return absl::InternalError(absl::StrCat("fork: ", ErrnoText(fork_errno)));
  }
  // Also from the parent, so that the group exists before we signal it
  // whichever process runs first.
  setpgid(pid, pid);

  int exec_errno = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &exec_errno, sizeof(exec_errno));
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);

  std::unique_ptr<ServiceProcess> process(
      new ServiceProcess(pid, out_pipe[0], log_fd, log_path, path));
  if (n == sizeof(exec_errno)) {
    (void)process->WaitForExit(absl::InfiniteFuture());
    return absl::InternalError(
        absl::StrCat("execv ", path, ": ", ErrnoText(exec_errno)));
  }

  if (absl::Status status = process->AwaitListening(deadline); !status.ok()) {
    (void)process->Kill();
    std::string tail = process->LogTail();
    return absl::Status(
        status.code(), absl::StrCat(status.message(), "; log ",
                                    log_path.empty() ? "(stderr)" : log_path,
                                    tail.empty() ? "" : " ends with:\n", tail));
  }
  process->StartDraining();
  return process;
}

ServiceProcess::ServiceProcess(pid_t pid, int stdout_fd, int log_fd,
                               std::string log_path, std::string binary_path)
    : pid_(pid),
      stdout_fd_(stdout_fd),
      log_fd_(log_fd),
      log_path_(std::move(log_path)),
      binary_path_(std::move(binary_path)) {}

ServiceProcess::~ServiceProcess() {
  if (!exited_) (void)Kill();
  StopDraining();
  CloseIfOpen(stdout_fd_);
  CloseIfOpen(log_fd_);
}

absl::Status ServiceProcess::AwaitListening(absl::Time deadline) {
  std::string buffer;
  while (true) {
    size_t newline;
    while ((newline = buffer.find('\n')) != std::string::npos) {
      const std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      AppendToLog(absl::StrCat(line, "\n"));
      if (ParseListeningLine(line, &name_, &address_)) {
        pending_stdout_ = std::move(buffer);
        return absl::OkStatus();
      }
    }

    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat(binary_path_, " printed no '<name>", kListeningMarker,
                       "<host>:<port>' line in time"));
    }
    pollfd pfd = {stdout_fd_, POLLIN, 0};
    const int timeout_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60'000));
    const int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", ErrnoText(errno)));
    }
    if (ready == 0) continue;  // The loop head checks the deadline.

    char chunk[4096];
    const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("read: ", ErrnoText(errno)));
    }
    if (n == 0) {
      AppendToLog(buffer);
      // Closing stdout almost always means the child is exiting; give it a
      // moment so the error can say how.
      const bool reaped =
          WaitForExit(std::min(deadline, absl::Now() + absl::Seconds(2)));
      return absl::FailedPreconditionError(absl::StrCat(
          binary_path_, " closed stdout before listening",
          reaped ? absl::StrCat(" and ", DescribeExit(exit_code_)) : ""));
    }
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

void ServiceProcess::StartDraining() {
  int stop_pipe[2];
  if (pipe2(stop_pipe, O_CLOEXEC) != 0) return;  // Output goes unread.
  stop_read_fd_ = stop_pipe[0];
  stop_write_fd_ = stop_pipe[1];
  drainer_ = std::thread(&ServiceProcess::Drain, this);
}

void ServiceProcess::Drain() {
  AppendToLog(pending_stdout_);
  while (true) {
    pollfd pfds[2] = {{stdout_fd_, POLLIN, 0}, {stop_read_fd_, POLLIN, 0}};
    if (poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (pfds[0].revents != 0) {
      char chunk[4096];
      const ssize_t n = read(stdout_fd_, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      AppendToLog(absl::string_view(chunk, static_cast<size_t>(n)));
      continue;
    }
    // Asked to stop and nothing is left to read: a grandchild holding the
    // pipe open must not keep us here.
    if (pfds[1].revents != 0) return;
  }
}

void ServiceProcess::StopDraining() {
  if (!drainer_.joinable()) return;
  WriteAll(stop_write_fd_, "x");
  drainer_.join();
  close(stop_read_fd_);
  close(stop_write_fd_);
  stop_read_fd_ = stop_write_fd_ = -1;
}

void ServiceProcess::AppendToLog(absl::string_view text) const {
  WriteAll(log_fd_ >= 0 ? log_fd_ : STDERR_FILENO, text);
}

std::string ServiceProcess::LogTail(size_t max_bytes) const {
  if (log_path_.empty()) return "";
  const int fd = open(log_path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st;
  std::string tail;
  if (fstat(fd, &st) == 0 && st.st_size > 0) {
    const off_t size = st.st_size;
    const off_t begin = size > static_cast<off_t>(max_bytes)
                            ? size - static_cast<off_t>(max_bytes)
                            : 0;
    tail.resize(static_cast<size_t>(size - begin));
    const ssize_t n = pread(fd, tail.data(), tail.size(), begin);
    tail.resize(n > 0 ? static_cast<size_t>(n) : 0);
  }
  close(fd);
  return tail;
}

bool ServiceProcess::WaitForExit(absl::Time deadline) {
  if (exited_) return true;
  // There is no waitpid() with a timeout; poll with a short, growing
  // backoff, which the deadline bounds.
  absl::Duration backoff = absl::Milliseconds(1);
  while (true) {
    int status = 0;
    const pid_t reaped = waitpid(pid_, &status, WNOHANG);
    if (reaped == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status)     ? WEXITSTATUS(status)
                   : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                         : -1;
      break;
    }
    if (reaped < 0 && errno != EINTR) {  // ECHILD: not ours to wait for.
      exited_ = true;
      exit_code_ = -1;
      break;
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    absl::SleepFor(std::min(backoff, deadline - now));
    backoff = std::min(backoff * 2, absl::Milliseconds(50));
  }
  StopDraining();
  return true;
}

absl::StatusOr<int> ServiceProcess::Terminate(absl::Duration timeout) {
  return StopWith(SIGTERM, timeout);
}

absl::StatusOr<int> ServiceProcess::Interrupt(absl::Duration timeout) {
  return StopWith(SIGINT, timeout);
}

absl::StatusOr<int> ServiceProcess::StopWith(int signal_number,
                                             absl::Duration timeout) {
  if (!exited_) {
    if (kill(-pid_, signal_number) != 0 && errno == ESRCH) {
      kill(pid_, signal_number);
    }
    if (!WaitForExit(absl::Now() + timeout)) {
      (void)Kill();
      return absl::DeadlineExceededError(absl::StrCat(
          binary_path_, " (pid ", pid_, ") ignored ", strsignal(signal_number),
          " for ", absl::FormatDuration(timeout), "; killed it"));
    }
  }
  if (exit_code_ < 0) {
    return absl::InternalError(
        absl::StrCat(binary_path_, " (pid ", pid_, ") exit status unknown"));
  }
  return exit_code_;
}

absl::Status ServiceProcess::Kill() {
  if (exited_) return absl::OkStatus();
  if (kill(-pid_, SIGKILL) != 0 && errno == ESRCH) kill(pid_, SIGKILL);
  if (!WaitForExit(absl::Now() + absl::Seconds(30))) {
    return absl::InternalError(
        absl::StrCat(binary_path_, " (pid ", pid_, ") survived SIGKILL"));
  }
  return absl::OkStatus();
}

absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view service,
    absl::Time deadline) {
  // @grpc_proto//:health has no generated stub, so call the method by name.
  grpc::TemplatedGenericStub<HealthCheckRequest, HealthCheckResponse> stub(
      channel);
  HealthCheckRequest request;
  request.set_service(std::string(service));
  HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&status, &done](grpc::Status result) {
                   status = std::move(result);
                   done.Notify();
                 });
  // The context's deadline guarantees that the callback runs.
  done.WaitForNotification();
  if (!status.ok()) return FromGrpc(status);
  return response.status();
}

absl::Status WaitForServing(absl::string_view address,
                            absl::string_view service, absl::Time deadline) {
  std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      std::string(address), grpc::InsecureChannelCredentials());
  absl::Duration backoff = absl::Milliseconds(10);
  std::string last;
  while (true) {
    const absl::Time attempt_deadline =
        std::min(deadline, absl::Now() + absl::Seconds(2));
    absl::StatusOr<HealthCheckResponse::ServingStatus> serving =
        CheckHealth(channel, service, attempt_deadline);
    if (serving.ok() && *serving == HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    last = serving.ok() ? HealthCheckResponse::ServingStatus_Name(*serving)
                        : serving.status().ToString();
    const absl::Time now = absl::Now();
    if (now + backoff >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("health of '", service, "' at ", address,
                       " is not SERVING; last answer: ", last));
    }
    // Backoff between attempts; the loop is bounded by `deadline`.
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(200));
  }
}

absl::StatusOr<std::string> MakeTestDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  if (tmp == nullptr) {
    return absl::FailedPreconditionError(
        "TEST_TMPDIR is unset: run under bazel test");
  }
  const ::testing::TestInfo* test =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir =
      absl::StrCat(tmp, "/", test ? test->name() : "test", ".XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
  }
  return dir;
}

}  // namespace stubmesh::test
