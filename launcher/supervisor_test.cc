#include "launcher/supervisor.h"

#include <signal.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

using ::testing::HasSubstr;

// Running a topology is tested end to end, with the real binaries, by
// //tests/python:launcher_test; these are the refusals before anything runs.
LaunchPlan PlanFor(const std::string& binary) {
  ProcessPlan replica;
  replica.name = "a-0";
  replica.port = 1;
  replica.argv = {binary};
  ServicePlan service;
  service.name = "a";
  service.replicas = {replica};
  LaunchPlan plan;
  plan.host = "127.0.0.1";
  const char* tmp = std::getenv("TEST_TMPDIR");
  plan.state_dir = std::string(tmp ? tmp : "/tmp") + "/supervisor_test";
  plan.log_dir = plan.state_dir + "/log";
  plan.services = {service};
  return plan;
}

TEST(SupervisorTest, RefusesToStartWithoutItsSignalsOrBinaries) {
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);
  absl::StatusOr<std::unique_ptr<Supervisor>> supervisor =
      Supervisor::Create(PlanFor("/bin/true"));
  EXPECT_EQ(supervisor.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(supervisor.status().message()),
              HasSubstr("BlockSupervisorSignals"));

  BlockSupervisorSignals();
  supervisor = Supervisor::Create(PlanFor("/nonexistent/a"));
  EXPECT_EQ(supervisor.status().code(), absl::StatusCode::kNotFound);

  supervisor = Supervisor::Create(PlanFor("/bin/true"));
  EXPECT_TRUE(supervisor.ok()) << supervisor.status();
}

}  // namespace
}  // namespace stubmesh::launcher
