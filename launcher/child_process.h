#ifndef STUBMESH_LAUNCHER_CHILD_PROCESS_H_
#define STUBMESH_LAUNCHER_CHILD_PROCESS_H_

// One server process started by the launcher: its stderr and stdout go to a
// log file (stdout through a pipe, so that the launcher can read the
// `<name> listening on HOST:PORT` line that says it is up, and the
// `<name> admin on HOST:PORT` line before it).
//
// The child runs in a process group of its own, so that a Ctrl-C at the
// terminal reaches only the launcher, which then stops the children in
// order. If the launcher dies without stopping it, the child gets SIGTERM
// (PR_SET_PDEATHSIG, tied to the thread that called Spawn(): call it from
// the main thread).
//
// Thread-safety: thread-compatible; use each ChildProcess from one thread.
// Nothing else in the process may reap children (waitpid(-1, ...)).
//
// Ownership: the ChildProcess owns the child; its destructor SIGKILLs the
// child if it was not reaped, and reaps it.
//
// Example:
//   absl::StatusOr<std::unique_ptr<ChildProcess>> child = ChildProcess::Spawn(
//       {"/abs/bazel-bin/user_svc/user_svc", "--port=0"}, "var/log/u-0.log");
//   absl::StatusOr<ChildProcess::Endpoints> up = (*child)->AwaitListening(
//       absl::Now() + absl::Seconds(30), /*interrupt_fd=*/-1);
//   ... poll() on (*child)->stdout_fd(), then (*child)->PumpStdout() ...
//   (*child)->Signal(SIGTERM);
//   ... once SIGCHLD comes: if ((*child)->TryReap()) (*child)->DescribeExit();

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stubmesh::launcher {

class ChildProcess {
 public:
  // From the lines the child printed on startup.
  struct Endpoints {
    std::string address;        // HOST:PORT of "<name> listening on"
    std::string admin_address;  // of "<name> admin on"; empty if none
  };

  // Starts argv[0] (an executable path) with `argv`, stdin from /dev/null,
  // stdout and stderr appended to `log_path` (created if missing).
  // NOT_FOUND if argv[0] is not executable.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& argv, const std::string& log_path);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }

  // Reads stdout until the listening line, copying it to the log.
  // DEADLINE_EXCEEDED if it has not come by `deadline`; CANCELLED as soon as
  // `interrupt_fd` (-1: none) is readable (nothing is read from it);
  // FAILED_PRECONDITION if the child closes stdout (exits) first.
  absl::StatusOr<Endpoints> AwaitListening(absl::Time deadline,
                                           int interrupt_fd);

  // The read end of the child's stdout, for poll(); -1 once it is closed.
  int stdout_fd() const { return stdout_fd_; }

  // Copies what the child has written to stdout to the log, without
  // blocking; closes stdout_fd() at end of file.
  void PumpStdout();

  // Sends `signo` to the child's process group, unless it was reaped.
  void Signal(int signo);

  // Reaps the child if it has exited, without blocking. True once reaped.
  bool TryReap();

  // SIGKILLs the child if it was not reaped, and reaps it.
  void KillAndReap();

  bool reaped() const { return reaped_; }

  // Once reaped: true if it exited with code 0.
  bool ExitedCleanly() const;

  // Once reaped: true if signal `signo` ended it.
  bool KilledBy(int signo) const;

  // Once reaped: "exited with code 1", "killed by signal 9 (Killed)".
  std::string DescribeExit() const;

 private:
  ChildProcess(pid_t pid, int stdout_fd, int log_fd);

  void AppendToLog(absl::string_view text);
  void CloseStdout();

  const pid_t pid_;
  int stdout_fd_;     // Owned; -1 once closed.
  const int log_fd_;  // Owned; O_APPEND, shared with the child's stderr.
  bool reaped_ = false;
  int wait_status_ = 0;  // From waitpid(), once reaped_.
};

// The last `max_bytes` of the file at `path` ("" if it cannot be read).
std::string ReadTail(const std::string& path, size_t max_bytes);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_CHILD_PROCESS_H_
