#include "server/fault_injection.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "mesh/mesh_config_loader.h"

namespace stubmesh::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

FaultInjection Rule(const std::string& json) {
  FaultInjection rule;
  auto status = google::protobuf::util::JsonStringToMessage(json, &rule);
  EXPECT_TRUE(status.ok()) << status.message().as_string() << ": " << json;
  return rule;
}

TEST(DecideFaultTest, ZeroPercentNeverAndHundredPercentAlways) {
  std::mt19937_64 bits(1);
  const FaultInjection never = Rule(
      R"({"method": "*", "delayPercent": 0, "delay": "1s",
          "abortPercent": 0, "abortCode": "UNAVAILABLE"})");
  const FaultInjection always = Rule(
      R"({"method": "*", "delayPercent": 100, "delay": "1.5s",
          "abortPercent": 100, "abortCode": "UNAVAILABLE"})");
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(DecideFault(never, bits).any());
    FaultDecision d = DecideFault(always, bits);
    EXPECT_EQ(d.delay, absl::Milliseconds(1500));
    ASSERT_TRUE(d.abort.has_value());
    EXPECT_EQ(*d.abort, absl::StatusCode::kUnavailable);
  }
}

TEST(DecideFaultTest, DelayOfZeroIsNoDelay) {
  std::mt19937_64 bits(2);
  EXPECT_FALSE(
      DecideFault(Rule(R"({"method": "*", "delayPercent": 100})"), bits).any());
}

// Delay and abort are drawn independently: at 50% each, every combination
// comes up about a quarter of the time.
TEST(DecideFaultTest, DelayAndAbortAreIndependentDraws) {
  std::mt19937_64 bits(3);
  const FaultInjection rule = Rule(
      R"({"method": "*", "delayPercent": 50, "delay": "0.1s",
          "abortPercent": 50, "abortCode": "ABORTED"})");
  constexpr int kDraws = 20000;
  int counts[2][2] = {{0, 0}, {0, 0}};
  for (int i = 0; i < kDraws; ++i) {
    FaultDecision d = DecideFault(rule, bits);
    ++counts[d.delay > absl::ZeroDuration()][d.abort.has_value()];
  }
  for (int delayed = 0; delayed < 2; ++delayed) {
    for (int aborted = 0; aborted < 2; ++aborted) {
      // 25% +- 2.5%: more than 10 standard deviations at 20000 draws.
      EXPECT_GT(counts[delayed][aborted], kDraws * 0.225);
      EXPECT_LT(counts[delayed][aborted], kDraws * 0.275);
    }
  }
}

TEST(DecideFaultTest, PercentIsTheShare) {
  std::mt19937_64 bits(4);
  const FaultInjection rule =
      Rule(R"({"method": "*", "abortPercent": 10, "abortCode": "INTERNAL"})");
  int aborted = 0;
  for (int i = 0; i < 10000; ++i)
    aborted += DecideFault(rule, bits).abort ? 1 : 0;
  EXPECT_GT(aborted, 800);
  EXPECT_LT(aborted, 1200);
}

TEST(FaultDecisionTest, Label) {
  FaultDecision d;
  EXPECT_EQ(d.Label(), "");
  d.delay = absl::Seconds(1);
  EXPECT_EQ(d.Label(), "delay");
  d.abort = absl::StatusCode::kUnavailable;
  EXPECT_EQ(d.Label(), "delay,abort");
  d.delay = absl::ZeroDuration();
  EXPECT_EQ(d.Label(), "abort");
}

TEST(RuleForMethodTest, ExactNameBeforeWildcardThenFirst) {
  const std::vector<FaultInjection> rules = {
      Rule(R"({"method": "*", "abortPercent": 1, "abortCode": "INTERNAL"})"),
      Rule(
          R"({"method": "GetUser", "abortPercent": 2, "abortCode": "INTERNAL"})"),
      Rule(
          R"({"method": "GetUser", "abortPercent": 3, "abortCode": "INTERNAL"})"),
      Rule(R"({"method": "*", "abortPercent": 4, "abortCode": "INTERNAL"})"),
  };
  ASSERT_NE(RuleForMethod(rules, "GetUser"), nullptr);
  EXPECT_EQ(RuleForMethod(rules, "GetUser")->abort_percent(), 2);
  ASSERT_NE(RuleForMethod(rules, "ListUsers"), nullptr);
  EXPECT_EQ(RuleForMethod(rules, "ListUsers")->abort_percent(), 1);
  EXPECT_EQ(RuleForMethod({rules[1]}, "ListUsers"), nullptr);
  EXPECT_EQ(RuleForMethod({}, "GetUser"), nullptr);
}

TEST(ParseInjectFaultsTest, ParsesTheFlagExample) {
  absl::StatusOr<std::vector<FaultInjection>> faults = ParseInjectFaults(
      R"( [{"method":"GetUser","abortPercent":50,"abortCode":"UNAVAILABLE"},
           {"method": "*", "delay_percent": 10, "delay": "0.25s"}] )");
  ASSERT_TRUE(faults.ok()) << faults.status();
  ASSERT_EQ(faults->size(), 2);
  EXPECT_EQ((*faults)[0].method(), "GetUser");
  EXPECT_EQ((*faults)[0].abort_percent(), 50);
  EXPECT_EQ((*faults)[0].abort_code(), "UNAVAILABLE");
  EXPECT_EQ((*faults)[1].delay().nanos(), 250000000);
  EXPECT_TRUE(ParseInjectFaults("[]").ok());
}

// The mesh config's rules, with paths named after the flag.
TEST(ParseInjectFaultsTest, RefusalsNameTheField) {
  const std::pair<const char*, const char*> kCases[] = {
      {R"([{"method": "GetUser", "abortPercent": 50, "abortCode": "NOPE"}])",
       "--inject_faults[0].abort_code: 'NOPE' is not a gRPC code name"},
      {R"([{"method": "GetUser", "abortPercent": 50}])",
       "--inject_faults[0].abort_code"},
      {R"([{"method": "GetUser", "abortPercent": 50, "abortCode": "OK"}])",
       "--inject_faults[0].abort_code: OK is not an error"},
      {R"([{"method": "*"}, {"method": "Get", "delayPercent": 101}])",
       "--inject_faults[1].delay_percent: must be 0 to 100, got 101"},
      {R"([{"method": "Get-User"}])", "--inject_faults[0].method"},
      {R"([{"method": ""}])", "--inject_faults[0].method"},
      {R"([{"method": "Get", "delay": "-1s", "delayPercent": 5}])",
       "--inject_faults[0].delay: must not be negative"},
  };
  for (const auto& [json, expected] : kCases) {
    absl::StatusOr<std::vector<FaultInjection>> faults =
        ParseInjectFaults(json);
    ASSERT_FALSE(faults.ok()) << json;
    EXPECT_EQ(faults.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(faults.status().message()), StartsWith(expected))
        << json;
  }
}

TEST(ParseInjectFaultsTest, RefusesWhatIsNotAnArrayOfFaults) {
  for (const char* json : {"", "{}", R"({"method": "GetUser"})", "[", "[1]",
                           R"([{"method": "GetUser", "abortPercentage": 5}])",
                           R"([{"method": "GetUser"}], "target": "x")"}) {
    absl::StatusOr<std::vector<FaultInjection>> faults =
        ParseInjectFaults(json);
    ASSERT_FALSE(faults.ok()) << json;
    EXPECT_EQ(faults.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(faults.status().message()),
                StartsWith("--inject_faults"))
        << json;
  }
}

constexpr char kMeshConfig[] = R"json({
  "services": {
    "stubmesh.user.v1.UserService": {
      "target": "127.0.0.1:1",
      "faults": [{"method": "GetUser", "abortPercent": 100,
                  "abortCode": "UNAVAILABLE"}]
    },
    "stubmesh.order.v1.OrderService": {
      "target": "127.0.0.1:2",
      "faults": [{"method": "*", "abortPercent": 100, "abortCode": "INTERNAL"}]
    }
  }
})json";

TEST(FaultInjectorTest, TakesTheServedServicesFaultsFromTheMeshConfig) {
  absl::StatusOr<mesh::MeshConfig> config = mesh::ParseMeshConfig(kMeshConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<FaultInjector> faults =
      FaultInjector::Create({"stubmesh.user.v1.UserService"}, *config, nullptr);
  ASSERT_FALSE(faults->empty());
  FaultDecision d = faults->Decide("stubmesh.user.v1.UserService", "GetUser");
  ASSERT_TRUE(d.abort.has_value());
  EXPECT_EQ(*d.abort, absl::StatusCode::kUnavailable);
  EXPECT_FALSE(
      faults->Decide("stubmesh.user.v1.UserService", "ListUsers").any());
  // Not served by this process: its faults are someone else's.
  EXPECT_FALSE(
      faults->Decide("stubmesh.order.v1.OrderService", "GetOrder").any());
  EXPECT_THAT(faults->Describe(),
              ElementsAre("stubmesh.user.v1.UserService GetUser: abort 100% "
                          "UNAVAILABLE"));
}

TEST(FaultInjectorTest, TheFlagReplacesTheMeshConfigForEveryService) {
  absl::StatusOr<mesh::MeshConfig> config = mesh::ParseMeshConfig(kMeshConfig);
  ASSERT_TRUE(config.ok()) << config.status();
  const std::vector<std::string> served = {"stubmesh.user.v1.UserService",
                                           "stubmesh.order.v1.OrderService"};
  const std::vector<FaultInjection> flag = {Rule(
      R"({"method": "ListUsers", "abortPercent": 100, "abortCode": "ABORTED"})")};
  std::unique_ptr<FaultInjector> faults =
      FaultInjector::Create(served, *config, &flag);
  EXPECT_FALSE(faults->Decide("stubmesh.user.v1.UserService", "GetUser").any());
  EXPECT_EQ(faults->Decide("stubmesh.user.v1.UserService", "ListUsers").abort,
            absl::StatusCode::kAborted);
  EXPECT_EQ(faults->Decide("stubmesh.order.v1.OrderService", "ListUsers").abort,
            absl::StatusCode::kAborted);

  const std::vector<FaultInjection> none;
  EXPECT_TRUE(FaultInjector::Create(served, *config, &none)->empty());
}

TEST(FaultInjectorTest, NoConfigNoFaults) {
  std::unique_ptr<FaultInjector> faults =
      FaultInjector::Create({"a.B"}, std::nullopt, nullptr);
  EXPECT_TRUE(faults->empty());
  EXPECT_FALSE(faults->Decide("a.B", "Get").any());
  EXPECT_TRUE(faults->Describe().empty());
}

}  // namespace
}  // namespace stubmesh::server
