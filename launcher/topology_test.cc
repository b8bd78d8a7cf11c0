#include "launcher/topology.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

using ::testing::HasSubstr;

constexpr char kSmall[] = R"json({
  "services": [
    {"name": "users", "binary": "user_svc/user_svc", "replicas": 2,
     "basePort": 50051, "portStep": 10,
     "serves": ["stubmesh.user.v1.UserService"]},
    {"name": "orders", "binary": "/opt/order_svc",
     "serves": ["stubmesh.order.v1.OrderService"]}
  ],
  "gateway": {"binary": "gateway/gateway", "port": 8080}
})json";

absl::Status ErrorOf(const std::string& json) {
  return ParseTopology(json).status();
}

TEST(TopologyTest, ReadsTheDefaultTopology) {
  absl::StatusOr<Topology> topology =
      ReadTopology("deploy/local/topology.json");
  ASSERT_TRUE(topology.ok()) << topology.status();
  ASSERT_EQ(topology->services_size(), 2);
  EXPECT_EQ(topology->services(0).name(), "user_svc");
  EXPECT_EQ(ReplicaCount(topology->services(0)), 2);
  EXPECT_EQ(topology->services(1).serves(0), "stubmesh.order.v1.OrderService");
  EXPECT_EQ(topology->gateway().port(), 8080);
}

TEST(TopologyTest, ParsesASmallTopologyWithDefaults) {
  absl::StatusOr<Topology> topology = ParseTopology(kSmall);
  ASSERT_TRUE(topology.ok()) << topology.status();
  EXPECT_EQ(ReplicaCount(topology->services(1)), 1);
  SupervisionTimes times = SupervisionTimesOf(topology->supervision());
  EXPECT_EQ(times.initial_backoff, absl::Milliseconds(200));
  EXPECT_EQ(times.max_backoff, absl::Seconds(10));
  EXPECT_EQ(times.reset_after, absl::Seconds(30));
  EXPECT_EQ(times.startup_timeout, absl::Seconds(30));
  EXPECT_EQ(times.stop_timeout, absl::Seconds(20));
}

TEST(TopologyTest, SupervisionOverridesDefaults) {
  Topology topology;
  topology.mutable_supervision()->mutable_initial_backoff()->set_nanos(
      50000000);
  topology.mutable_supervision()->mutable_max_backoff()->set_seconds(1);
  SupervisionTimes times = SupervisionTimesOf(topology.supervision());
  EXPECT_EQ(times.initial_backoff, absl::Milliseconds(50));
  EXPECT_EQ(times.max_backoff, absl::Seconds(1));
  EXPECT_EQ(times.reset_after, absl::Seconds(30));
}

TEST(TopologyTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadTopology("/nonexistent/topology.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TopologyTest, RefusesUnknownFields) {
  absl::Status s = ErrorOf(R"({"services": [], "replicaz": 2})");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("topology: "));
}

TEST(TopologyTest, NamesTheBadField) {
  struct Case {
    const char* json;
    const char* error;
  };
  const Case cases[] = {
      {R"({"services": []})", "services: none given"},
      {R"({"services": [{"name": "a b", "binary": "x"}]})",
       "services[0].name: must be letters"},
      {R"({"services": [{"name": "gateway", "binary": "x"}]})",
       "services[0].name: 'gateway' is the gateway's name"},
      {R"({"services": [{"name": "a"}]})", "services[0].binary: is required"},
      {R"({"services": [{"name": "a", "binary": "x"},
                        {"name": "a", "binary": "y"}]})",
       "services[1].name: 'a' is used twice"},
      {R"({"services": [{"name": "a", "binary": "x", "replicas": 65}]})",
       "services[0].replicas: must be at most 64, got 65"},
      {R"({"services": [{"name": "a", "binary": "x", "db": "../a.db"}]})",
       "services[0].db: must be a file name"},
      {R"({"services": [{"name": "a", "binary": "x", "serves": ["Users"]}]})",
       "services[0].serves[0]: 'Users' is not a full service name"},
      {R"({"services": [{"name": "a", "binary": "x", "serves": ["p.S"]},
                        {"name": "b", "binary": "y", "serves": ["p.S"]}]})",
       "services[1].serves: p.S is also served by a"},
      {R"({"services": [{"name": "a", "binary": "x", "basePort": 50051,
                         "replicas": 2},
                        {"name": "b", "binary": "y", "basePort": 50052}]})",
       "services[1] (b-0): port 50052 is also services[0] (a-1)'s"},
      {R"({"services": [{"name": "a", "binary": "x", "basePort": 65535,
                         "replicas": 2}]})",
       "port 65536 is above 65535"},
      {R"({"services": [{"name": "a", "binary": "x", "basePort": 8080}],
           "gateway": {"binary": "g", "port": 8080}})",
       "gateway: port 8080 is also services[0] (a-0)'s"},
      {R"({"services": [{"name": "a", "binary": "x"}],
           "gateway": {"port": 8080}})",
       "gateway.binary: is required"},
      {R"({"host": "localhost", "services": [{"name": "a", "binary": "x"}]})",
       "host: 'localhost' is not an IP address"},
      {R"({"services": [{"name": "a", "binary": "x", "serves": ["p.S"]}],
           "mesh": {"services": {"p.T": {}}}})",
       "mesh.services[\"p.T\"]: no entry of `services` serves it"},
      {R"({"services": [{"name": "a", "binary": "x", "serves": ["p.S"]}],
           "mesh": {"services": {"p.S": {"target": "dns:///s"}}}})",
       "mesh.services[\"p.S\"].target: is set by the launcher"},
      {R"({"services": [{"name": "a", "binary": "x"}], "tls": {}})",
       "tls.cert_dir: is required"},
      {R"({"services": [{"name": "a", "binary": "x"}],
           "mesh": {"tls": {"caFile": "ca.crt"}}})",
       "mesh.tls: is set by the launcher"},
      {R"({"services": [{"name": "a", "binary": "x"}],
           "supervision": {"stopTimeout": "-1s"}})",
       "supervision.stop_timeout: must not be negative"},
      {R"({"services": [{"name": "a", "binary": "x"}],
           "supervision": {"initialBackoff": "20s"}})",
       "supervision.initial_backoff: must not exceed max_backoff (10s)"},
  };
  for (const Case& c : cases) {
    absl::Status s = ErrorOf(c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.error)) << c.json;
  }
}

TEST(TopologyTest, AcceptsIpv6Host) {
  EXPECT_TRUE(
      ParseTopology(
          R"({"host": "::1", "services": [{"name": "a", "binary": "x"}]})")
          .ok());
}

}  // namespace
}  // namespace stubmesh::launcher
