#include "launcher/restart_backoff.h"

#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000000);

TEST(RestartBackoffTest, DoublesUpToTheMaximum) {
  RestartBackoff backoff(absl::Milliseconds(200), absl::Seconds(10),
                         absl::Seconds(30));
  const absl::Duration expected[] = {
      absl::Milliseconds(200),  absl::Milliseconds(400),
      absl::Milliseconds(800),  absl::Milliseconds(1600),
      absl::Milliseconds(3200), absl::Milliseconds(6400),
      absl::Seconds(10),        absl::Seconds(10)};
  absl::Time now = kStart;
  for (absl::Duration want : expected) {
    // Crashes one second after it became healthy: no reset.
    EXPECT_EQ(backoff.OnExit(now, now + absl::Seconds(1)), want);
    now += absl::Minutes(1);
  }
}

TEST(RestartBackoffTest, NeverHealthyKeepsGrowing) {
  RestartBackoff backoff(absl::Seconds(1), absl::Seconds(8), absl::Seconds(30));
  EXPECT_EQ(backoff.OnExit(absl::InfiniteFuture(), kStart), absl::Seconds(1));
  EXPECT_EQ(backoff.OnExit(absl::InfiniteFuture(), kStart + absl::Hours(1)),
            absl::Seconds(2));
}

TEST(RestartBackoffTest, StartsOverAfterLongEnoughHealthy) {
  RestartBackoff backoff(absl::Milliseconds(200), absl::Seconds(10),
                         absl::Seconds(30));
  EXPECT_EQ(backoff.OnExit(kStart, kStart + absl::Seconds(1)),
            absl::Milliseconds(200));
  EXPECT_EQ(backoff.OnExit(kStart, kStart + absl::Seconds(1)),
            absl::Milliseconds(400));
  EXPECT_EQ(backoff.OnExit(kStart, kStart + absl::Seconds(29)),
            absl::Milliseconds(800));
  // Healthy for exactly reset_after: back to the start.
  EXPECT_EQ(backoff.OnExit(kStart, kStart + absl::Seconds(30)),
            absl::Milliseconds(200));
  EXPECT_EQ(backoff.OnExit(kStart, kStart + absl::Seconds(1)),
            absl::Milliseconds(400));
}

}  // namespace
}  // namespace stubmesh::launcher
