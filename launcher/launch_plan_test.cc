#include "launcher/launch_plan.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kUsers[] = "stubmesh.user.v1.UserService";
constexpr char kOrders[] = "stubmesh.order.v1.OrderService";

// Hands out 40000, 40001, ... and remembers how many were asked for.
struct FakePicker {
  int asked = 0;
  PortPicker picker() {
    return [this](int count) -> absl::StatusOr<std::vector<int>> {
      std::vector<int> ports;
      for (int i = 0; i < count; ++i) ports.push_back(40000 + asked++);
      return ports;
    };
  }
};

Topology Default() {
  absl::StatusOr<Topology> topology =
      ReadTopology("deploy/local/topology.json");
  EXPECT_TRUE(topology.ok()) << topology.status();
  return *topology;
}

TEST(LaunchPlanTest, DefaultTopologyKeepsItsPorts) {
  FakePicker ports;
  LaunchOptions options;
  options.bin_dir = "/repo/bazel-bin";
  options.state_dir = "/tmp/state";
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(Default(), options, ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(ports.asked, 3);  // only the three replicas' admin ports
  EXPECT_EQ(plan->state_dir, "/tmp/state");
  EXPECT_EQ(plan->mesh_config_path, "/tmp/state/mesh.json");
  EXPECT_EQ(plan->status_path, "/tmp/state/launcher.json");
  ASSERT_EQ(plan->services.size(), 2u);

  const ServicePlan& users = plan->services[0];
  EXPECT_EQ(users.target, "ipv4:127.0.0.1:50051,127.0.0.1:50061");
  EXPECT_EQ(users.db_path, "/tmp/state/users.db");
  ASSERT_EQ(users.replicas.size(), 2u);
  EXPECT_EQ(users.replicas[1].name, "user_svc-1");
  EXPECT_EQ(users.replicas[1].port, 50061);
  EXPECT_EQ(users.replicas[1].log_path, "/tmp/state/log/user_svc-1.log");
  // A fixed admin port per replica, from the picker, so that a restart
  // keeps it.
  const int admin = users.replicas[1].admin_port;
  EXPECT_GE(admin, 40000);
  EXPECT_LT(admin, 40003);
  EXPECT_NE(admin, users.replicas[0].admin_port);
  EXPECT_THAT(
      users.replicas[1].argv,
      ElementsAre("/repo/bazel-bin/user_svc/user_svc", "--host=127.0.0.1",
                  "--port=50061", absl::StrCat("--admin_port=", admin),
                  "--db=/tmp/state/users.db",
                  "--mesh_config=/tmp/state/mesh.json"));

  EXPECT_EQ(plan->services[1].target, "ipv4:127.0.0.1:50052");
  ASSERT_TRUE(plan->gateway.has_value());
  EXPECT_EQ(plan->gateway->port, 8080);
  EXPECT_EQ(plan->gateway->admin_port, 0);  // /metrics on its own port
  EXPECT_THAT(plan->gateway->argv,
              ElementsAre("/repo/bazel-bin/gateway/gateway", "--host=127.0.0.1",
                          "--port=8080", "--mesh_config=/tmp/state/mesh.json",
                          "--descriptor_set=/repo/bazel-bin/protos/"
                          "descriptor_set.pb"));

  // The template's policies are kept, the targets filled in.
  const auto& mesh = plan->mesh_config.services();
  EXPECT_EQ(mesh.at(kUsers).target(), users.target);
  EXPECT_EQ(mesh.at(kUsers).timeout().seconds(), 2);
  EXPECT_EQ(mesh.at(kOrders).target(), "ipv4:127.0.0.1:50052");
}

TEST(LaunchPlanTest, FreePortsReplacesEveryPort) {
  FakePicker ports;
  LaunchOptions options;
  options.free_ports = true;
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(Default(), options, ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  // Two users, one order, the gateway, and the replicas' admin ports.
  EXPECT_EQ(ports.asked, 7);
  std::set<int> used;
  for (const ServicePlan& s : plan->services) {
    for (const ProcessPlan& p : s.replicas) {
      used.insert(p.port);
      used.insert(p.admin_port);
    }
  }
  used.insert(plan->gateway->port);
  EXPECT_EQ(used.size(), 7u);  // each once
  for (int port : used) {
    EXPECT_GE(port, 40000);
    EXPECT_LT(port, 40007);
  }
  EXPECT_THAT(plan->services[0].replicas[0].argv,
              testing::Contains(
                  absl::StrCat("--port=", plan->services[0].replicas[0].port)));
}

TEST(LaunchPlanTest, RelativePathsBecomeAbsolute) {
  absl::StatusOr<Topology> topology = ParseTopology(R"json({
    "stateDir": "some/state",
    "services": [{"name": "a", "binary": "a/a", "serves": ["p.A"],
                  "args": ["--drain_delay=1s"]}]
  })json");
  ASSERT_TRUE(topology.ok()) << topology.status();
  FakePicker ports;
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(*topology, LaunchOptions(), ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->state_dir[0], '/');
  EXPECT_THAT(plan->state_dir, testing::EndsWith("/some/state"));
  const std::vector<std::string>& argv = plan->services[0].replicas[0].argv;
  EXPECT_EQ(argv[0][0], '/');
  EXPECT_THAT(argv[0], testing::EndsWith("/bazel-bin/a/a"));
  EXPECT_EQ(argv.back(), "--drain_delay=1s");
  EXPECT_THAT(
      argv, testing::Contains(absl::StrCat("--db=", plan->state_dir, "/a.db")));
  EXPECT_FALSE(plan->gateway.has_value());
}

TEST(LaunchPlanTest, Ipv6Targets) {
  EXPECT_EQ(MeshTarget("::1", {1, 2}), "ipv6:[::1]:1,[::1]:2");
  EXPECT_EQ(MeshTarget("127.0.0.1", {1}), "ipv4:127.0.0.1:1");
}

TEST(LaunchPlanTest, PickerErrorsAreReturned) {
  LaunchOptions options;
  options.free_ports = true;
  absl::StatusOr<LaunchPlan> plan = BuildLaunchPlan(
      Default(), options, [](int) -> absl::StatusOr<std::vector<int>> {
        return absl::ResourceExhaustedError("no ports");
      });
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(LaunchPlanTest, RefusedMeshConfigIsInvalidArgument) {
  // PICK_FIRST with client health checks on is a mesh config error.
  absl::StatusOr<Topology> topology = ParseTopology(R"json({
    "services": [{"name": "a", "binary": "a", "serves": ["p.A"]}],
    "mesh": {"services": {"p.A": {"loadBalancing": "PICK_FIRST"}}}
  })json");
  ASSERT_TRUE(topology.ok()) << topology.status();
  FakePicker ports;
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(*topology, LaunchOptions(), ports.picker());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("health_check"));
}

TEST(LaunchPlanTest, TlsDirGivesEveryProcessItsCertificate) {
  absl::StatusOr<Topology> topology =
      ReadTopology("deploy/local/topology-mtls.json");
  ASSERT_TRUE(topology.ok()) << topology.status();
  FakePicker ports;
  LaunchOptions options;
  options.bin_dir = "/repo/bazel-bin";
  options.state_dir = "/tmp/state";
  options.tls_dir = "/tmp/certs";  // replaces the topology's var/certs
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(*topology, options, ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->mesh_config.tls().ca_file(), "/tmp/certs/ca.crt");
  EXPECT_EQ(plan->probe_cert_file, "/tmp/certs/launcher.crt");
  EXPECT_EQ(plan->probe_key_file, "/tmp/certs/launcher.key");
  EXPECT_THAT(
      plan->services[1].replicas[0].argv,
      ElementsAre("/repo/bazel-bin/order_svc/order_svc", "--host=127.0.0.1",
                  "--port=50052",
                  absl::StrCat("--admin_port=",
                               plan->services[1].replicas[0].admin_port),
                  "--db=/tmp/state/orders.db",
                  "--mesh_config=/tmp/state/mesh.json",
                  "--tls_cert_file=/tmp/certs/order_svc.crt",
                  "--tls_key_file=/tmp/certs/order_svc.key"));
  EXPECT_THAT(plan->gateway->argv,
              testing::Contains("--tls_cert_file=/tmp/certs/gateway.crt"));
  // The template's authorization is kept.
  EXPECT_EQ(
      plan->mesh_config.services().at(kUsers).authorization().allow(1).methods(
          0),
      "GetUser");

  // Without the certificate files nothing starts; the error says how to
  // make them.
  for (ServicePlan& service : plan->services) {
    for (ProcessPlan& replica : service.replicas) replica.argv[0] = "/bin/true";
  }
  plan->gateway->argv[0] = "/bin/true";
  absl::Status s = CheckPlanFiles(*plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("/tmp/certs/ca.crt cannot be read"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("tools/dev-ca.sh"));
}

TEST(LaunchPlanTest, WithoutTlsThereAreNoTlsFlags) {
  FakePicker ports;
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(Default(), LaunchOptions(), ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->mesh_config.has_tls());
  EXPECT_TRUE(plan->probe_cert_file.empty());
}

TEST(LaunchPlanTest, CheckPlanFilesNamesWhatIsMissing) {
  FakePicker ports;
  LaunchOptions options;
  options.bin_dir = "/nonexistent/bazel-bin";
  absl::StatusOr<LaunchPlan> plan =
      BuildLaunchPlan(Default(), options, ports.picker());
  ASSERT_TRUE(plan.ok()) << plan.status();
  absl::Status s = CheckPlanFiles(*plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("/nonexistent/bazel-bin/user_svc/user_svc"));

  // Binaries that exist, a descriptor set that does not.
  for (ServicePlan& service : plan->services) {
    for (ProcessPlan& replica : service.replicas) replica.argv[0] = "/bin/true";
  }
  plan->gateway->argv[0] = "/bin/true";
  s = CheckPlanFiles(*plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr("descriptor_set.pb cannot be read"));
}

}  // namespace
}  // namespace stubmesh::launcher
