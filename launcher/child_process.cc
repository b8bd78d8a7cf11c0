#include "launcher/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace stubmesh::launcher {
namespace {

// "NAME MARKER ADDRESS" (one word each side), e.g. marker " listening on ":
// the ADDRESS, or nullopt.
std::optional<std::string> AddressAfter(absl::string_view line,
                                        absl::string_view marker) {
  size_t at = line.find(marker);
  if (at == absl::string_view::npos || at == 0) return std::nullopt;
  absl::string_view name = line.substr(0, at);
  absl::string_view address = line.substr(at + marker.size());
  if (address.empty() || absl::StrContains(name, ' ') ||
      absl::StrContains(address, ' ')) {
    return std::nullopt;
  }
  return std::string(address);
}

int PollTimeoutMs(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  // Rounded up, so that a wait never ends just short of the deadline.
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 60 * 1000));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(
    const std::vector<std::string>& argv, const std::string& log_path) {
  if (argv.empty() || access(argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(
        argv.empty() ? "(no binary)" : argv[0], " is not executable"));
  }
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open ", log_path, ": ", strerror(errno)));
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out[2];
  if (null_fd < 0 || pipe2(out, O_CLOEXEC) != 0) {
    const std::string error = strerror(errno);
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return absl::InternalError(absl::StrCat("pipe: ", error));
  }
  // Everything the child needs is made before fork(): between fork() and
  // exec() only async-signal-safe calls are allowed (the launcher has
  // threads: gRPC's).
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid < 0) {
    const std::string error = strerror(errno);
    close(log_fd);
    close(null_fd);
    close(out[0]);
    close(out[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", error));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // The launcher died already.
    setpgid(0, 0);
    dup2(null_fd, STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    // The launcher blocks the signals it takes through signalfd, and gRPC
    // ignores SIGPIPE; the child starts with neither.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    execv(args[0], args.data());
    static constexpr char kExecFailed[] = "launcher: exec failed\n";
    (void)!write(STDERR_FILENO, kExecFailed, sizeof(kExecFailed) - 1);
    _exit(127);
  }
  // Also here, so that the group exists before anyone signals it.
  setpgid(pid, pid);
  close(null_fd);
  close(out[1]);
  fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0], log_fd));
}

ChildProcess::ChildProcess(pid_t pid, int stdout_fd, int log_fd)
    : pid_(pid), stdout_fd_(stdout_fd), log_fd_(log_fd) {}

ChildProcess::~ChildProcess() {
  KillAndReap();
  CloseStdout();
  close(log_fd_);
}

void ChildProcess::AppendToLog(absl::string_view text) {
  while (!text.empty()) {
    ssize_t n = write(log_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // A full disk loses log lines, not the launcher.
    text.remove_prefix(n);
  }
}

void ChildProcess::CloseStdout() {
  if (stdout_fd_ >= 0) close(stdout_fd_);
  stdout_fd_ = -1;
}

absl::StatusOr<ChildProcess::Endpoints> ChildProcess::AwaitListening(
    absl::Time deadline, int interrupt_fd) {
  Endpoints endpoints;
  std::string line;
  char buffer[4096];
  while (true) {
    if (stdout_fd_ < 0) {
      return absl::FailedPreconditionError(
          "closed its stdout before printing its listening line");
    }
    pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    const int ready =
        poll(fds, interrupt_fd >= 0 ? 2 : 1, PollTimeoutMs(deadline));
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (interrupt_fd >= 0 && (fds[1].revents & POLLIN)) {
      return absl::CancelledError("interrupted");
    }
    if (ready <= 0) {
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError("printed no listening line in time");
      }
      continue;
    }
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      CloseStdout();
      continue;
    }
    if (n == 0) {
      CloseStdout();
      continue;
    }
    AppendToLog(absl::string_view(buffer, n));
    line.append(buffer, n);
    size_t newline;
    while ((newline = line.find('\n')) != std::string::npos) {
      absl::string_view text =
          absl::StripSuffix(absl::string_view(line).substr(0, newline), "\r");
      if (std::optional<std::string> admin = AddressAfter(text, " admin on ")) {
        endpoints.admin_address = *admin;
      } else if (std::optional<std::string> address =
                     AddressAfter(text, " listening on ")) {
        endpoints.address = *address;
        return endpoints;
      }
      line.erase(0, newline + 1);
    }
  }
}

void ChildProcess::PumpStdout() {
  char buffer[4096];
  while (stdout_fd_ >= 0) {
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n > 0) {
      AppendToLog(absl::string_view(buffer, n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return;
    } else {
      CloseStdout();
    }
  }
}

void ChildProcess::Signal(int signo) {
  if (!reaped_) kill(-pid_, signo);
}

bool ChildProcess::TryReap() {
  if (reaped_) return true;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
  } else if (r < 0 && errno == ECHILD) {
    reaped_ = true;  // Someone else reaped it; its status is lost.
    wait_status_ = 0xff00;
  }
  return reaped_;
}

void ChildProcess::KillAndReap() {
  if (reaped_) return;
  kill(-pid_, SIGKILL);
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, 0);
  } while (r < 0 && errno == EINTR);
  reaped_ = true;
  wait_status_ = r == pid_ ? status : 0xff00;
  // What it printed last is still worth keeping.
  PumpStdout();
}

bool ChildProcess::ExitedCleanly() const {
  return reaped_ && WIFEXITED(wait_status_) && WEXITSTATUS(wait_status_) == 0;
}

bool ChildProcess::KilledBy(int signo) const {
  return reaped_ && WIFSIGNALED(wait_status_) &&
         WTERMSIG(wait_status_) == signo;
}

std::string ChildProcess::DescribeExit() const {
  if (!reaped_) return "still running";
  if (WIFEXITED(wait_status_)) {
    return absl::StrCat("exited with code ", WEXITSTATUS(wait_status_));
  }
  if (WIFSIGNALED(wait_status_)) {
    const int signo = WTERMSIG(wait_status_);
    return absl::StrCat("killed by signal ", signo, " (", strsignal(signo),
                        ")");
  }
  return absl::StrCat("ended with wait status ", wait_status_);
}

std::string ReadTail(const std::string& path, size_t max_bytes) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st;
  std::string tail;
  if (fstat(fd, &st) == 0) {
    const off_t start =
        st.st_size > static_cast<off_t>(max_bytes) ? st.st_size - max_bytes : 0;
    tail.resize(st.st_size - start);
    const ssize_t n = pread(fd, tail.data(), tail.size(), start);
    tail.resize(n > 0 ? n : 0);
  }
  close(fd);
  return tail;
}

}  // namespace stubmesh::launcher
