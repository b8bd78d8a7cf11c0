#include "server/process_start_time.h"

#include <memory>

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace stubmesh::server {
namespace {

TEST(ProcessStartTimeTest, IsThisProcessesStartFromProc) {
  absl::StatusOr<absl::Time> start = ProcessStartTime();
  ASSERT_TRUE(start.ok()) << start.status();
  // Not in the future, and not before this test binary could have started.
  EXPECT_LE(*start, absl::Now());
  EXPECT_GT(*start, absl::Now() - absl::Hours(1));
  // The same each time: it is the start, not the time of asking.
  EXPECT_EQ(*ProcessStartTime(), *start);
}

TEST(ProcessStartTimeTest, ExportsTheConventionalGauge) {
  auto registry = std::make_shared<prometheus::Registry>();
  ExportProcessStartTime(*registry);
  std::vector<prometheus::MetricFamily> families = registry->Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].name, "process_start_time_seconds");
  EXPECT_EQ(families[0].type, prometheus::MetricType::Gauge);
  ASSERT_EQ(families[0].metric.size(), 1u);
  EXPECT_TRUE(families[0].metric[0].label.empty());
  EXPECT_DOUBLE_EQ(
      families[0].metric[0].gauge.value,
      absl::ToDoubleSeconds(*ProcessStartTime() - absl::UnixEpoch()));
}

}  // namespace
}  // namespace stubmesh::server
