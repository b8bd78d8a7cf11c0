#include "tests/service_process.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::test {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

constexpr char kFake[] = "tests/testdata/fake_service.sh";

TEST(ServiceProcessTest, ReadsAddressAndStopsGracefully) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(kFake, {"serve", "--flag=a b"});
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ((*process)->name(), "fake_svc");
  // The wildcard host is replaced by loopback.
  EXPECT_EQ((*process)->address(), "127.0.0.1:4242");
  EXPECT_TRUE((*process)->running());

  absl::StatusOr<int> exit_code = (*process)->Terminate();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_FALSE((*process)->running());
  // A second call reports the same exit.
  exit_code = (*process)->Terminate();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);

  // Arguments arrive intact; stderr and all of stdout land in the log.
  const std::string log = (*process)->LogTail();
  EXPECT_THAT(log, HasSubstr("args: serve --flag=a b"));
  EXPECT_THAT(log, HasSubstr("starting up"));
  EXPECT_THAT(log, HasSubstr("after listening"));
  EXPECT_THAT(log, HasSubstr("got SIGTERM"));
}

TEST(ServiceProcessTest, KillReportsSignal) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(kFake, {"serve"});
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE((*process)->Kill().ok());
  EXPECT_FALSE((*process)->running());
  absl::StatusOr<int> exit_code = (*process)->Terminate();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 128 + 9);
}

TEST(ServiceProcessTest, TerminateKillsAChildThatIgnoresSigterm) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(kFake, {"ignore_term"});
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<int> exit_code =
      (*process)->Terminate(absl::Milliseconds(300));
  EXPECT_EQ(exit_code.status().code(), absl::StatusCode::kDeadlineExceeded)
      << exit_code.status();
  EXPECT_FALSE((*process)->running());
}

TEST(ServiceProcessTest, ChildThatExitsEarlyFailsWithItsLog) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(kFake, {"exit_early"});
  EXPECT_EQ(process.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(process.status().message(), HasSubstr("exited with code 3"));
  EXPECT_THAT(process.status().message(),
              HasSubstr("cannot open its database"));
}

TEST(ServiceProcessTest, SilentChildTimesOut) {
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(kFake, {"silent"}, absl::Milliseconds(300));
  EXPECT_EQ(process.status().code(), absl::StatusCode::kDeadlineExceeded)
      << process.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(ServiceProcessTest, MissingBinaryIsNotFound) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start("tests/testdata/no_such_binary", {});
  EXPECT_EQ(process.status().code(), absl::StatusCode::kNotFound);
}

TEST(HealthTest, WaitForServingFollowsTheHealthService) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // gRPC adds the default health service only next to a synchronous one.
  stubmesh::user::v1::UserService::Service unimplemented;
  builder.RegisterService(&unimplemented);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  server->GetHealthCheckService()->SetServingStatus("up", true);
  server->GetHealthCheckService()->SetServingStatus("down", false);

  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  EXPECT_TRUE(WaitForServing(address, "", deadline).ok());
  EXPECT_TRUE(WaitForServing(address, "up", deadline).ok());

  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  absl::StatusOr<HealthCheckResponse::ServingStatus> down =
      CheckHealth(channel, "down", deadline);
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(*down, HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(CheckHealth(channel, "unknown", deadline).status().code(),
            absl::StatusCode::kNotFound);

  absl::Status waited =
      WaitForServing(address, "down", absl::Now() + absl::Milliseconds(300));
  EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(waited.message(), HasSubstr("NOT_SERVING"));

  server->Shutdown();
}

}  // namespace
}  // namespace stubmesh::test
