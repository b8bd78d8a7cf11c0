#ifndef STUBMESH_LAUNCHER_RESTART_BACKOFF_H_
#define STUBMESH_LAUNCHER_RESTART_BACKOFF_H_

// How long to wait before starting a process that exited: `initial`, then
// doubling with each exit up to `max`; a process that had been healthy for
// `reset_after` before it exited starts over at `initial`. A process that
// keeps crashing is retried ever more slowly, one that crashes once in a
// while is back at once.
//
// Thread-safety: thread-compatible (one per supervised process).
//
// Example:
//   RestartBackoff backoff(absl::Milliseconds(200), absl::Seconds(10),
//                          absl::Seconds(30));
//   absl::Duration wait = backoff.OnExit(healthy_since, absl::Now());

#include "absl/time/time.h"

namespace stubmesh::launcher {

class RestartBackoff {
 public:
  RestartBackoff(absl::Duration initial, absl::Duration max,
                 absl::Duration reset_after);

  // The wait before the next start of a process that exited at `exited_at`,
  // having been healthy since `healthy_since` (absl::InfiniteFuture() if it
  // never became healthy).
  absl::Duration OnExit(absl::Time healthy_since, absl::Time exited_at);

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  const absl::Duration reset_after_;
  absl::Duration next_;
};

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_RESTART_BACKOFF_H_
