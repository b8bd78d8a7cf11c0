#include "events/commit_signal.h"

#include <algorithm>

namespace stubmesh::events {

void CommitSignal::Committed(int64_t sequence) {
  absl::MutexLock lock(&mu_);
  last_committed_ = std::max(last_committed_, sequence);
}

bool CommitSignal::WaitBeyond(int64_t after, absl::Duration timeout,
                              const std::atomic<bool>* cancelled) {
  absl::MutexLock lock(&mu_);
  const int64_t generation = wake_generation_;
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return closed_ || last_committed_ > after ||
           wake_generation_ != generation ||
           (cancelled != nullptr && cancelled->load());
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return !closed_;
}

void CommitSignal::WakeAll() {
  absl::MutexLock lock(&mu_);
  ++wake_generation_;
}

void CommitSignal::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool CommitSignal::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

bool CommitSignal::OpenStream(int limit) {
  absl::MutexLock lock(&mu_);
  if (open_streams_ >= limit) return false;
  ++open_streams_;
  return true;
}

void CommitSignal::CloseStream() {
  absl::MutexLock lock(&mu_);
  --open_streams_;
}

}  // namespace stubmesh::events
