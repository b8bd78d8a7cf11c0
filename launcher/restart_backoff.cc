#include "launcher/restart_backoff.h"

#include <algorithm>

namespace stubmesh::launcher {

RestartBackoff::RestartBackoff(absl::Duration initial, absl::Duration max,
                               absl::Duration reset_after)
    : initial_(initial), max_(max), reset_after_(reset_after), next_(initial) {}

absl::Duration RestartBackoff::OnExit(absl::Time healthy_since,
                                      absl::Time exited_at) {
  if (healthy_since != absl::InfiniteFuture() &&
      exited_at - healthy_since >= reset_after_) {
    next_ = initial_;
  }
  const absl::Duration wait = next_;
  next_ = std::min(next_ * 2, max_);
  return wait;
}

}  // namespace stubmesh::launcher
