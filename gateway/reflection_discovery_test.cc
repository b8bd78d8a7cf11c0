#include "gateway/reflection_discovery.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gateway/api_catalog.h"
#include "gmock/gmock.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "stubmesh/testing/v1/transcoding.grpc.pb.h"
#include "tests/service_process.h"

namespace stubmesh::gateway {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// EchoService on 127.0.0.1:0 in this process, without server reflection:
// grpc++_reflection cannot be linked here, since its generated
// grpc.reflection.v1alpha messages clash with the client's copy
// (@grpc_proto//:reflection) in the generated pool. Every method answers
// UNIMPLEMENTED.
class EchoServerWithoutReflection {
 public:
  EchoServerWithoutReflection() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~EchoServerWithoutReflection() { server_->Shutdown(); }

  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  testing::v1::EchoService::CallbackService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The echo backend, a real server process with reflection on, as every
// stubmesh server has (server/grpc_service_runner).
TEST(ReflectionDiscoveryTest, FindsTheServicesWithTheirAnnotations) {
  absl::StatusOr<std::unique_ptr<test::ServiceProcess>> echo =
      test::ServiceProcess::Start("gateway/testdata/echo_backend",
                                  {"--port=0"});
  ASSERT_TRUE(echo.ok()) << echo.status();
  absl::StatusOr<DiscoveredApi> api = DiscoverViaReflection(
      (*echo)->address(), grpc::InsecureChannelCredentials(), kTimeout);
  ASSERT_TRUE(api.ok()) << api.status();
  // Reflection and health are gRPC's own and left out.
  EXPECT_THAT(api->services, ElementsAre("stubmesh.testing.v1.EchoService"));
  std::vector<std::string> names;
  for (const auto& file : api->files) names.push_back(file.name());
  // The service's file and every import, transitively.
  EXPECT_THAT(names, Contains("stubmesh/testing/v1/transcoding.proto"));
  EXPECT_THAT(names, Contains("google/api/annotations.proto"));
  EXPECT_THAT(names, Contains("google/api/http.proto"));
  EXPECT_THAT(names, Contains("google/protobuf/descriptor.proto"));
  EXPECT_THAT(names, Contains("google/protobuf/duration.proto"));
  EXPECT_EQ(std::count(names.begin(), names.end(),
                       "google/protobuf/descriptor.proto"),
            1);

  // The annotations came along: the files alone make the routes.
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(api->files);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  std::optional<RouteMatch> match =
      (*catalog)->routes().Match("GET", "/v1/echo/5");
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ((*catalog)->route(match->route_index).grpc_path,
            "/stubmesh.testing.v1.EchoService/Echo");
  EXPECT_TRUE((*catalog)->routes().Match("GET", "/v1/tags").has_value());
}

TEST(ReflectionDiscoveryTest, ServerWithoutReflectionIsUnimplemented) {
  EchoServerWithoutReflection server;
  ASSERT_TRUE(server.started());
  absl::StatusOr<DiscoveredApi> api = DiscoverViaReflection(
      server.target(), grpc::InsecureChannelCredentials(), kTimeout);
  EXPECT_EQ(api.status().code(), absl::StatusCode::kUnimplemented)
      << api.status();
  EXPECT_THAT(
      std::string(api.status().message()),
      StartsWith(absl::StrCat("reflection at ", server.target(), ": ")));
  EXPECT_THAT(std::string(api.status().message()),
              HasSubstr("the server has no reflection service "
                        "(grpc.reflection.v1alpha.ServerReflection)"));
}

TEST(ReflectionDiscoveryTest, UnreachableServerIsUnavailable) {
  std::string target;
  {
    // A port that was just free: nothing listens there once it is closed.
    EchoServerWithoutReflection gone;
    ASSERT_TRUE(gone.started());
    target = gone.target();
  }
  absl::StatusOr<DiscoveredApi> api = DiscoverViaReflection(
      target, grpc::InsecureChannelCredentials(), kTimeout);
  EXPECT_EQ(api.status().code(), absl::StatusCode::kUnavailable)
      << api.status();
  EXPECT_THAT(std::string(api.status().message()),
              StartsWith(absl::StrCat("reflection at ", target, ": ")));
}

}  // namespace
}  // namespace stubmesh::gateway
