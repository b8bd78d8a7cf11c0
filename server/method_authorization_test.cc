#include "server/method_authorization.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mesh/mesh_config_loader.h"

namespace stubmesh::server {
namespace {

using ::testing::HasSubstr;

constexpr char kUsers[] = "stubmesh.user.v1.UserService";
constexpr char kOrders[] = "stubmesh.order.v1.OrderService";
constexpr char kOrder[] = "spiffe://stubmesh.local/svc/order_svc";
constexpr char kGateway[] = "spiffe://stubmesh.local/svc/gateway";

mesh::MeshConfig Config() {
  absl::StatusOr<mesh::MeshConfig> config = mesh::ParseMeshConfig(R"({
    "tls": {"caFile": "ca.crt"},
    "services": {
      "stubmesh.user.v1.UserService": {"target": "a:1", "authorization": {
        "allow": [
          {"principals": ["spiffe://stubmesh.local/svc/gateway"],
           "methods": ["*"]},
          {"principals": ["spiffe://stubmesh.local/svc/order_svc"],
           "methods": ["GetUser"]}]}},
      "stubmesh.order.v1.OrderService": {"target": "a:2"}
    }})");
  EXPECT_TRUE(config.ok()) << config.status();
  return *config;
}

TEST(MethodAuthorizationPolicyTest, AllowsOnlyWhatARuleNames) {
  absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>> policy =
      MethodAuthorizationPolicy::Create(Config(), {kUsers, kOrders});
  ASSERT_TRUE(policy.ok()) << policy.status();
  const MethodAuthorizationPolicy& p = **policy;
  EXPECT_TRUE(p.Allows(kUsers, "GetUser", {kOrder}));
  EXPECT_FALSE(p.Allows(kUsers, "CreateUser", {kOrder}));
  EXPECT_TRUE(p.Allows(kUsers, "CreateUser", {kGateway}));
  EXPECT_TRUE(p.Allows(kUsers, "DeleteUser", {"spiffe://x/other", kGateway}));
  EXPECT_FALSE(p.Allows(kUsers, "GetUser", {}));
  EXPECT_FALSE(p.Allows(kUsers, "GetUser", {"spiffe://stubmesh.local/svc/x"}));
  // Services without an authorization, health among them, stay open.
  EXPECT_TRUE(p.Allows(kOrders, "CreateOrder", {}));
  EXPECT_TRUE(p.Allows("grpc.health.v1.Health", "Check", {"spiffe://x/y"}));
}

TEST(MethodAuthorizationPolicyTest, OnlyServedServicesCount) {
  absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>> policy =
      MethodAuthorizationPolicy::Create(Config(), {kOrders});
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE((*policy)->empty());
}

TEST(MethodAuthorizationPolicyTest, AuthorizationWithoutTlsIsRefused) {
  mesh::MeshConfig config = Config();
  config.clear_tls();
  absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>> policy =
      MethodAuthorizationPolicy::Create(config, {kUsers});
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      policy.status().message(),
      HasSubstr(R"(services["stubmesh.user.v1.UserService"].authorization)"));
}

}  // namespace
}  // namespace stubmesh::server
