#include "mesh/mesh_config_loader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::mesh {
namespace {

using ::testing::HasSubstr;

constexpr char kGood[] = R"json({
  "services": {
    "stubmesh.user.v1.UserService": {
      "target": "ipv4:127.0.0.1:50051,127.0.0.1:50061",
      "loadBalancing": "ROUND_ROBIN",
      "timeout": "2s",
      "methodTimeouts": {"ListUsers": "5s"},
      "retry": {"maxAttempts": 4, "initialBackoff": "0.02s",
                "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]},
      "retryThrottling": {"maxTokens": 50, "tokenRatio": 0.2},
      "outlierDetection": {"interval": "0.5s", "failurePercentageThreshold": 40},
      "keepalive": {"time": "30s", "timeout": "5s"},
      "faults": [{"method": "GetUser", "abortPercent": 50,
                  "abortCode": "UNAVAILABLE"}]
    },
    "stubmesh.order.v1.OrderService": {"target": "127.0.0.1:50052"}
  }
})json";

TEST(MeshConfigLoaderTest, ParsesAGoodConfig) {
  absl::StatusOr<MeshConfig> config = ParseMeshConfig(kGood);
  ASSERT_TRUE(config.ok()) << config.status();
  const ServiceMesh& users =
      config->services().at("stubmesh.user.v1.UserService");
  EXPECT_EQ(users.retry().max_attempts(), 4);
  EXPECT_EQ(users.method_timeouts().at("ListUsers").seconds(), 5);
  EXPECT_EQ(users.faults(0).abort_code(), "UNAVAILABLE");
}

// Each refusal names the field by its path.
TEST(MeshConfigLoaderTest, RefusalsNameTheField) {
  const std::pair<const char*, const char*> kCases[] = {
      {R"({"services": {"x.Y": {}}})", R"(services["x.Y"].target)"},
      {R"({"services": {"NoPackage": {"target": "a:1"}}})",
       R"(services["NoPackage"])"},
      {R"({"services": {"a.B": {"target": "a:1", "retry": {"maxAttempts": 9}}}})",
       R"(services["a.B"].retry.max_attempts)"},
      {R"({"services": {"a.B": {"target": "a:1", "retry":
          {"retryableStatusCodes": ["SOMETIMES"]}}}})",
       R"(services["a.B"].retry.retryable_status_codes[0])"},
      {R"({"services": {"a.B": {"target": "a:1", "timeout": "-1s"}}})",
       R"(services["a.B"].timeout)"},
      {R"({"services": {"a.B": {"target": "a:1",
          "methodTimeouts": {"Get-User": "1s"}}}})",
       R"(services["a.B"].method_timeouts["Get-User"])"},
      {R"({"services": {"a.B": {"target": "a:1", "faults":
          [{"method": "Get", "abortPercent": 120, "abortCode": "UNAVAILABLE"}]}}})",
       R"(services["a.B"].faults[0].abort_percent)"},
      {R"({"services": {"a.B": {"target": "a:1", "faults":
          [{"method": "Get", "abortPercent": 10, "abortCode": "OK"}]}}})",
       R"(services["a.B"].faults[0].abort_code)"},
      {R"({"services": {"a.B": {"target": "a:1", "loadBalancing": "PICK_FIRST"}}})",
       R"(services["a.B"].health_check)"},
      // gRPC 1.51 cannot hash calls without xDS (grpc_service_config_test).
      {R"({"services": {"a.B": {"target": "a:1", "loadBalancing": "RING_HASH",
          "healthCheck": {"disabled": true}}}})",
       R"(services["a.B"].load_balancing: RING_HASH cannot work)"},
      {R"({"services": {"a.B": {"target": "xds:///b",
          "loadBalancing": "RING_HASH"}}})",
       R"(services["a.B"].load_balancing: RING_HASH cannot work)"},
      // The control plane's config replaces the mesh's on xds:/// targets.
      {R"({"services": {"a.B": {"target": "xds:///b",
          "loadBalancing": "PICK_FIRST"}}})",
       R"(services["a.B"].load_balancing: has no effect with an xds:/// target)"},
      {R"({"services": {"a.B": {"target": "xds:///b",
          "healthCheck": {"disabled": true}}}})",
       R"(services["a.B"].health_check: has no effect)"},
      {R"({"services": {"a.B": {"target": "xds:///b",
          "retry": {"maxAttempts": 2}}}})",
       R"(services["a.B"].retry: has no effect)"},
      {R"({"services": {"a.B": {"target": "xds:///b",
          "retryThrottling": {"maxTokens": 10}}}})",
       R"(services["a.B"].retry_throttling: has no effect)"},
      {R"({"services": {"a.B": {"target": "xds:///b",
          "outlierDetection": {}}}})",
       R"(services["a.B"].outlier_detection: has no effect)"},
      {R"({"services": {"a.B": {"target": "a:1",
          "outlierDetection": {"maxEjectionPercent": 101}}}})",
       R"(services["a.B"].outlier_detection.max_ejection_percent)"},
      {R"({"tls": {}})", "tls.ca_file"},
      {R"({"tls": {"caFile": "ca.crt", "refreshInterval": "0.5s"}})",
       "tls.refresh_interval"},
      // Without mTLS there is no caller identity to authorize.
      {R"({"services": {"a.B": {"target": "a:1", "authorization":
          {"allow": [{"principals": ["*"], "methods": ["*"]}]}}}})",
       R"(services["a.B"].authorization)"},
      {R"({"tls": {"caFile": "ca.crt"}, "services": {"a.B": {"target": "a:1",
          "authorization": {"allow": [{"methods": ["Get"]}]}}}})",
       R"(services["a.B"].authorization.allow[0].principals)"},
      {R"({"tls": {"caFile": "ca.crt"}, "services": {"a.B": {"target": "a:1",
          "authorization": {"allow": [{"principals": ["*"],
                                       "methods": ["Get", "a/B"]}]}}}})",
       R"(services["a.B"].authorization.allow[0].methods[1])"},
      {R"({"tls": {"caFile": "ca.crt"}, "services": {"a.B": {"target": "a:1",
          "serverIdentities": [""]}}})",
       R"(services["a.B"].server_identities[0])"},
      // Found by fuzz/mesh_config_fuzzer.cc: gRPC reads backoffs in whole
      // milliseconds and refused the service config these made, so every
      // call to the service failed.
      {R"({"services": {"a.B": {"target": "a:1",
          "retry": {"initialBackoff": "0.0001s"}}}})",
       R"(services["a.B"].retry.initial_backoff: must be 0s (the default) or at least 0.001s)"},
      {R"({"services": {"a.B": {"target": "a:1",
          "retry": {"maxBackoff": "0.000000001s"}}}})",
       R"(services["a.B"].retry.max_backoff)"},
      // An int channel argument in milliseconds: 2^31 ms would wrap.
      {R"({"services": {"a.B": {"target": "a:1",
          "keepalive": {"time": "2147484s"}}}})",
       R"(services["a.B"].keepalive.time: must be 0s (no keepalive pings) or 10s to 2147483s)"},
      // The mesh's servers would answer faster pings with GOAWAY.
      {R"({"services": {"a.B": {"target": "a:1",
          "keepalive": {"time": "9.999s"}}}})",
       R"(services["a.B"].keepalive.time: must be 0s (no keepalive pings) or 10s to 2147483s, got 9.999s)"},
      {R"({"services": {"a.B": {"target": "a:1",
          "keepalive": {"time": "-10s"}}}})",
       R"(services["a.B"].keepalive.time: must not be negative)"},
      {R"({"services": {"a.B": {"target": "a:1",
          "keepalive": {"time": "10s", "timeout": "0.0005s"}}}})",
       R"(services["a.B"].keepalive.timeout)"},
  };
  for (const auto& [json, path] : kCases) {
    absl::StatusOr<MeshConfig> config = ParseMeshConfig(json);
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << json;
    EXPECT_THAT(config.status().message(), HasSubstr(path)) << json;
  }
}

TEST(MeshConfigLoaderTest, KeepaliveFloorIsAllowed) {
  absl::StatusOr<MeshConfig> config = ParseMeshConfig(
      R"({"services": {"a.B": {"target": "a:1", "keepalive": {"time": "10s"}}}})");
  EXPECT_TRUE(config.ok()) << config.status();
}

// What still applies with an xds:/// target is accepted there.
TEST(MeshConfigLoaderTest, XdsTargetKeepsDeadlinesKeepaliveAndFaults) {
  absl::StatusOr<MeshConfig> config = ParseMeshConfig(R"({"services": {"a.B": {
      "target": "xds:///b", "timeout": "2s", "methodTimeouts": {"Get": "1s"},
      "keepalive": {"time": "30s"},
      "faults": [{"method": "Get", "delayPercent": 10, "delay": "1s"}]}}})");
  EXPECT_TRUE(config.ok()) << config.status();
}

TEST(MeshConfigLoaderTest, ParsesTlsAndAuthorization) {
  absl::StatusOr<MeshConfig> config = ParseMeshConfig(R"({
    "tls": {"caFile": "/etc/stubmesh/ca.crt", "refreshInterval": "30s"},
    "services": {"a.B": {"target": "a:1",
      "serverIdentities": ["spiffe://stubmesh.local/svc/b"],
      "authorization": {"allow": [
        {"principals": ["spiffe://stubmesh.local/svc/c"], "methods": ["Get"]}]}}}
  })");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls().ca_file(), "/etc/stubmesh/ca.crt");
  EXPECT_EQ(config->services().at("a.B").authorization().allow(0).methods(0),
            "Get");
}

TEST(MeshConfigLoaderTest, JsonErrorsNameTheField) {
  absl::StatusOr<MeshConfig> config = ParseMeshConfig(
      R"({"services": {"a.B": {"target": "a:1", "retrys": {}}}})");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("retrys"));
  EXPECT_FALSE(ParseMeshConfig("{").ok());
}

TEST(MeshConfigLoaderTest, MissingFile) {
  EXPECT_EQ(ReadMeshConfig("/nonexistent/mesh.json").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace stubmesh::mesh
