#include "launcher/status_file.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "mesh/mesh_config_loader.h"

namespace stubmesh::launcher {
namespace {

using ::stubmesh::mesh::v1::ProcessStatus;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir ? dir : "/tmp", "/", name);
}

LauncherStatus Example() {
  LauncherStatus status;
  status.set_state(LauncherStatus::RUNNING);
  status.set_pid(42);
  auto* users = status.add_services();
  users->set_name("user_svc");
  ProcessStatus* replica = users->add_replicas();
  replica->set_name("user_svc-0");
  replica->set_state(ProcessStatus::RUNNING);
  replica->set_pid(100);
  replica->set_admin_address("127.0.0.1:9100");
  ProcessStatus* down = users->add_replicas();
  down->set_name("user_svc-1");
  down->set_state(ProcessStatus::BACKOFF);
  down->set_restarts(3);
  status.mutable_gateway()->set_name("gateway-0");
  status.mutable_gateway()->set_admin_address("127.0.0.1:8080");
  return status;
}

TEST(StatusFileTest, WritesAndReplacesWhole) {
  const std::string path = TempPath("status.json");
  ASSERT_TRUE(WriteFileAtomically(path, "first, and longer").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "second").ok());
  EXPECT_EQ(Read(path), "second");
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());
}

TEST(StatusFileTest, UnwritableDirectoryIsAnError) {
  EXPECT_FALSE(WriteFileAtomically("/nonexistent/dir/launcher.json", "x").ok());
}

TEST(StatusFileTest, StatusJsonShowsZeroesAndReadsBack) {
  const std::string json = LauncherStatusJson(Example());
  EXPECT_THAT(json, HasSubstr("\"restarts\": 0"));
  EXPECT_THAT(json, HasSubstr("\"restarts\": 3"));
  EXPECT_THAT(json, HasSubstr("\"state\": \"BACKOFF\""));
  LauncherStatus back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_EQ(back.services(0).replicas(1).restarts(), 3u);
  EXPECT_EQ(back.pid(), 42);
}

TEST(StatusFileTest, PrometheusTargetsListEveryMetricsAddress) {
  EXPECT_EQ(PrometheusTargetsJson(Example()),
            "[\n"
            "  {\"targets\": [\"127.0.0.1:9100\"], \"labels\": {\"service\": "
            "\"user_svc\", \"replica\": \"user_svc-0\"}},\n"
            "  {\"targets\": [\"127.0.0.1:8080\"], \"labels\": {\"service\": "
            "\"gateway\", \"replica\": \"gateway-0\"}}\n"
            "]\n");
  EXPECT_EQ(PrometheusTargetsJson(LauncherStatus()), "[]\n");
}

TEST(StatusFileTest, MeshConfigJsonIsReadByTheMeshLoader) {
  stubmesh::mesh::v1::MeshConfig config;
  auto& users = (*config.mutable_services())["stubmesh.user.v1.UserService"];
  users.set_target("ipv4:127.0.0.1:1,127.0.0.1:2");
  users.mutable_timeout()->set_seconds(2);
  absl::StatusOr<stubmesh::mesh::v1::MeshConfig> back =
      stubmesh::mesh::ParseMeshConfig(MeshConfigJson(config));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->services().at("stubmesh.user.v1.UserService").target(),
            "ipv4:127.0.0.1:1,127.0.0.1:2");
}

}  // namespace
}  // namespace stubmesh::launcher
