#ifndef STUBMESH_LAUNCHER_SUPERVISOR_H_
#define STUBMESH_LAUNCHER_SUPERVISOR_H_

// Runs a LaunchPlan: writes the mesh config, starts the services in order
// (each replica healthy before the next one starts) and then the gateway,
// prints where everything is, and supervises:
//
//   - a process that exits is started again on the same port after a
//     backoff (RestartBackoff); each restart is logged to stderr, counted
//     and written to the status file;
//   - on SIGTERM, SIGINT or SIGHUP everything is stopped gracefully: SIGTERM
//     to the gateway, then to each service from the last started to the
//     first, waiting for each group to exit (SIGKILL after the stop
//     timeout, or at once on a second signal).
//
// The status file (<state_dir>/launcher.json, a LauncherStatus) and the
// Prometheus targets are rewritten at every change.
//
// Signals: the supervisor takes SIGTERM, SIGINT, SIGHUP and SIGCHLD through
// signalfd. They must be blocked in every thread, so call
// BlockSupervisorSignals() first thing in main(), before any thread starts.
//
// Thread-safety: thread-compatible; Run() from the main thread (children die
// with the thread that started them).
//
// Example:
//   int main(int argc, char** argv) {
//     BlockSupervisorSignals();
//     ... parse flags, read the topology, BuildLaunchPlan() ...
//     absl::StatusOr<std::unique_ptr<Supervisor>> supervisor =
//         Supervisor::Create(*std::move(plan));
//     if (!supervisor.ok()) { print supervisor.status(); return 1; }
//     return (*supervisor)->Run();
//   }

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/credentials.h"
#include "launcher/launch_plan.h"
#include "launcher/scoped_fd.h"
#include "stubmesh/mesh/v1/topology.pb.h"

namespace stubmesh::launcher {

// Blocks the signals the supervisor takes in the calling thread (and so in
// the threads it starts afterwards). SIGTERM and SIGCHLD are taken even if
// the parent ignored them; SIGINT and SIGHUP are not when it did (`nohup
// launcher` survives a hangup, a script's background `launcher &` ignores
// Ctrl-C, as shells mean it to).
void BlockSupervisorSignals();

class Supervisor {
 public:
  // Checks the plan's binaries and descriptor sets, creates the state and
  // log directories, and opens the signal descriptors.
  // FAILED_PRECONDITION if the signals are not blocked; NOT_FOUND for a
  // missing binary.
  static absl::StatusOr<std::unique_ptr<Supervisor>> Create(LaunchPlan plan);

  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  // SIGKILLs whatever still runs (Run() leaves nothing running).
  ~Supervisor();

  // Starts everything and supervises until a stop signal, then stops
  // everything. Returns the exit code: 0 if everything started and then
  // stopped when told to; 1 if something did not start (the rest is then
  // stopped) or did not stop cleanly. Call once.
  int Run();

 private:
  struct Process;

  Supervisor(LaunchPlan plan, ScopedFd stop_fd, ScopedFd child_fd);

  // Starts `group`, each process healthy before the next starts. CANCELLED
  // on a stop signal.
  absl::Status StartGroup(const std::vector<Process*>& group);
  absl::Status Spawn(Process& process);
  absl::Status AwaitUp(Process& process);
  // Kills and reaps what AwaitUp left half started; the error to report.
  absl::Status FailStart(Process& process, const absl::Status& why);

  // Until a stop signal: reaps, schedules and makes restarts.
  void Supervise();
  void ReapExited();
  void ScheduleRestart(Process& process, absl::string_view why);
  // CANCELLED if a stop signal came while it was starting.
  absl::Status Restart(Process& process);

  // Stops every group in order; true if all exited cleanly.
  bool Stop();
  bool StopGroup(const std::vector<Process*>& group);

  // Reads (and so clears) pending stop signals; the last one's number, or 0.
  int TakeStopSignal();
  void DrainChildSignals();

  void WriteStatus();
  void PrintSummary() const;

  const LaunchPlan plan_;
  // The launcher's mTLS credentials for health checks; null without mTLS.
  std::shared_ptr<grpc::ChannelCredentials> probe_credentials_;
  const ScopedFd stop_fd_;   // signalfd: SIGTERM, SIGINT, SIGHUP
  const ScopedFd child_fd_;  // signalfd: SIGCHLD
  std::vector<std::unique_ptr<Process>> processes_;
  // Start order: one group per service, then the gateway's.
  std::vector<std::vector<Process*>> groups_;
  stubmesh::mesh::v1::LauncherStatus::State state_ =
      stubmesh::mesh::v1::LauncherStatus::STATE_UNSPECIFIED;
};

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_SUPERVISOR_H_
