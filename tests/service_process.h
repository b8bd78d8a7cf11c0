// A server binary run as a child process, for tests that talk to it over a
// real socket.
//
// Thread-safety: a ServiceProcess is not thread-safe; use it from one thread
// (address(), pid() and log_path() are const and may be read from any
// thread). Start() must be called from a thread that outlives the child: the
// child is killed when the thread that started it exits (PR_SET_PDEATHSIG),
// so that a crashed test never leaves servers behind.
//
// Ownership: the ServiceProcess owns the child. Its destructor SIGKILLs the
// child's process group if the child is still running and reaps it.
//
// Usage:
//
//   absl::StatusOr<std::unique_ptr<ServiceProcess>> users =
//       ServiceProcess::Start("user_svc/user_svc",
//                             {"--port=0", "--db=" + dir + "/users.db"});
//   ASSERT_TRUE(users.ok()) << users.status();
//   ASSERT_TRUE(WaitForServing((*users)->address(), "",
//                              absl::Now() + absl::Seconds(10)).ok());
//   auto channel = grpc::CreateChannel((*users)->address(),
//                                      grpc::InsecureChannelCredentials());
//   ...
//   absl::StatusOr<int> exit_code = (*users)->Terminate();  // 0 if graceful.

#ifndef STUBMESH_TESTS_SERVICE_PROCESS_H_
#define STUBMESH_TESTS_SERVICE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/channel.h"

namespace stubmesh::test {

class ServiceProcess {
 public:
  // Runs `binary_path` with `args` (argv[0] is `binary_path`) in a process
  // group of its own, and waits up to `timeout` for the line
  // `<name> listening on <host>:<port>` on its stdout.
  //
  // The child's stderr, and its stdout besides that line, are appended to
  // log_path(), a file in $TEST_TMPDIR; without $TEST_TMPDIR the child
  // inherits this process's stderr. Errors: NOT_FOUND if the binary is not
  // executable, DEADLINE_EXCEEDED if the line does not come in time (the
  // child is then killed), FAILED_PRECONDITION if the child exits first.
  // Error messages carry the tail of the child's log.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      absl::string_view binary_path, const std::vector<std::string>& args,
      absl::Duration timeout = absl::Seconds(30));

  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  // SIGKILLs and reaps the child if it is still running.
  ~ServiceProcess();

  // `<host>:<port>` from the listening line, ready for grpc::CreateChannel.
  // A wildcard host (0.0.0.0, [::]) is replaced by a loopback one.
  const std::string& address() const { return address_; }

  // `<name>` from the listening line, e.g. "user_svc".
  const std::string& name() const { return name_; }

  pid_t pid() const { return pid_; }

  // The file that holds the child's output; empty if it inherited stderr.
  const std::string& log_path() const { return log_path_; }

  // The last `max_bytes` of log_path(), or "" if there is none.
  std::string LogTail(size_t max_bytes = 4096) const;

  // True until the child has been reaped.
  bool running() const { return !exited_; }

  // Sends SIGTERM to the child's process group and waits up to `timeout` for
  // the child to exit. The default leaves room for a gRPC server's shutdown
  // grace period: it waits for clients' connections to go, which an idle
  // client can stretch to several seconds. Returns its exit code, or 128 + the
  // signal number if a signal ended it. If the child does not exit in time it
  // is SIGKILLed and DEADLINE_EXCEEDED returned. Once the child has exited,
  // returns the same result again without signalling.
  absl::StatusOr<int> Terminate(absl::Duration timeout = absl::Seconds(30));

  // As Terminate, with SIGINT (what Ctrl-C sends).
  absl::StatusOr<int> Interrupt(absl::Duration timeout = absl::Seconds(30));

  // Sends SIGKILL to the child's process group and reaps the child. OK if
  // the child was already reaped.
  absl::Status Kill();

 private:
  ServiceProcess(pid_t pid, int stdout_fd, int log_fd, std::string log_path,
                 std::string binary_path);

  absl::StatusOr<int> StopWith(int signal_number, absl::Duration timeout);

  // Reads stdout until the listening line; fills address_ and name_.
  absl::Status AwaitListening(absl::Time deadline);

  // Starts drainer_, which runs Drain().
  void StartDraining();

  // Copies what the child writes to stdout into the log, until EOF or until
  // StopDraining() asks it to stop and the pipe is empty.
  void Drain();

  // Stops and joins drainer_, if it runs.
  void StopDraining();

  // Appends to the log (or to stderr when there is no log file).
  void AppendToLog(absl::string_view text) const;

  // waitpid() until the child exits or `deadline` passes. True once reaped.
  bool WaitForExit(absl::Time deadline);

  const pid_t pid_;
  const int stdout_fd_;  // Read end of the child's stdout pipe; owned.
  const int log_fd_;     // Owned; -1 without $TEST_TMPDIR.
  const std::string log_path_;
  const std::string binary_path_;
  std::string address_;
  std::string name_;
  std::string pending_stdout_;  // Bytes after the listening line.
  bool exited_ = false;
  int exit_code_ = -1;     // Valid once exited_.
  int stop_read_fd_ = -1;  // A byte here tells drainer_ to stop.
  int stop_write_fd_ = -1;
  std::thread drainer_;
};

// The serving status of `service` ("" for the whole server) according to
// grpc.health.v1.Health/Check on `channel`, asked with deadline `deadline`.
// RPC failures come back as the matching absl::Status.
absl::StatusOr<grpc::health::v1::HealthCheckResponse::ServingStatus>
CheckHealth(const std::shared_ptr<grpc::Channel>& channel,
            absl::string_view service, absl::Time deadline);

// Polls grpc.health.v1.Health/Check at `address` until `service` is SERVING.
// Returns DEADLINE_EXCEEDED, with the last answer, if that has not happened
// by `deadline`.
absl::Status WaitForServing(absl::string_view address,
                            absl::string_view service, absl::Time deadline);

// A fresh directory under $TEST_TMPDIR named after the running gtest test,
// for its databases and logs. FAILED_PRECONDITION outside `bazel test`.
absl::StatusOr<std::string> MakeTestDir();

}  // namespace stubmesh::test

#endif  // STUBMESH_TESTS_SERVICE_PROCESS_H_
