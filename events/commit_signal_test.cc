#include "events/commit_signal.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace stubmesh::events {
namespace {

TEST(CommitSignalTest, ReturnsAtOnceWhenAlreadyBeyond) {
  CommitSignal signal;
  signal.Committed(5);
  // A timeout this long would fail the test by its own size if waited.
  EXPECT_TRUE(signal.WaitBeyond(4, absl::Hours(1), nullptr));
}

TEST(CommitSignalTest, TimesOutWhenNothingNew) {
  CommitSignal signal;
  signal.Committed(5);
  EXPECT_TRUE(signal.WaitBeyond(5, absl::Milliseconds(1), nullptr));
}

TEST(CommitSignalTest, CommitWakesAWaiter) {
  CommitSignal signal;
  absl::Notification woke;
  std::thread waiter([&] {
    signal.WaitBeyond(0, absl::Hours(1), nullptr);
    woke.Notify();
  });
  signal.Committed(1);
  waiter.join();
  EXPECT_TRUE(woke.HasBeenNotified());
}

TEST(CommitSignalTest, CancelledFlagAndWakeAllEndAWait) {
  CommitSignal signal;
  std::atomic<bool> cancelled{false};
  std::thread waiter(
      [&] { EXPECT_TRUE(signal.WaitBeyond(0, absl::Hours(1), &cancelled)); });
  cancelled = true;
  signal.WakeAll();
  waiter.join();
}

TEST(CommitSignalTest, CloseEndsWaitsNowAndLater) {
  CommitSignal signal;
  std::thread waiter(
      [&] { EXPECT_FALSE(signal.WaitBeyond(0, absl::Hours(1), nullptr)); });
  signal.Close();
  waiter.join();
  EXPECT_TRUE(signal.closed());
  EXPECT_FALSE(signal.WaitBeyond(0, absl::Hours(1), nullptr));
}

TEST(CommitSignalTest, BoundsOpenStreams) {
  CommitSignal signal;
  EXPECT_TRUE(signal.OpenStream(2));
  EXPECT_TRUE(signal.OpenStream(2));
  EXPECT_FALSE(signal.OpenStream(2));
  signal.CloseStream();
  EXPECT_TRUE(signal.OpenStream(2));
}

}  // namespace
}  // namespace stubmesh::events
