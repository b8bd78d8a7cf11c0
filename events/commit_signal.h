#ifndef STUBMESH_EVENTS_COMMIT_SIGNAL_H_
#define STUBMESH_EVENTS_COMMIT_SIGNAL_H_

// Wakes the event streams of one process when its event log grows, and ends
// them when the process stops.
//
// A store calls Committed() after a transaction that appended events has
// committed; streams wait in WaitBeyond(). Another process writing the same
// database does not signal here: streams also wake at their poll interval,
// which bounds the delay for events committed elsewhere.
//
// Thread-safety: thread-safe.
//
// Example:
//   CommitSignal signal;
//   // store, after COMMIT:  signal.Committed(last_sequence);
//   // stream:  while (signal.WaitBeyond(sent, absl::Milliseconds(200), &cancelled)) {...}
//   // shutdown: signal.Close();

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace stubmesh::events {

class CommitSignal {
 public:
  // Events up to `sequence` are committed.
  void Committed(int64_t sequence);

  // Waits until an event after `after` is known committed, `timeout` has
  // passed, `*cancelled` is true (checked at each wake-up; see WakeAll), or
  // Close() was called. Returns false once closed.
  bool WaitBeyond(int64_t after, absl::Duration timeout,
                  const std::atomic<bool>* cancelled);

  // Wakes every waiter, e.g. after setting a cancelled flag.
  void WakeAll();

  // Ends every wait, now and later: the process is stopping.
  void Close();
  bool closed() const;

  // Streams open now: callers count them with OpenStream/CloseStream to
  // bound how many a process serves. OpenStream returns false (and counts
  // nothing) when `limit` streams are open.
  bool OpenStream(int limit);
  void CloseStream();

 private:
  mutable absl::Mutex mu_;
  int64_t last_committed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t wake_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace stubmesh::events

#endif  // STUBMESH_EVENTS_COMMIT_SIGNAL_H_
