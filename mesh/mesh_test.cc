#include "mesh/mesh.h"

#include <stdlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "mesh/trace_context.h"
#include "prometheus/text_serializer.h"
#include "stubmesh/testing/v1/transcoding.grpc.pb.h"

namespace stubmesh::mesh {
namespace {

using ::stubmesh::testing::v1::EchoRequest;
using ::stubmesh::testing::v1::EchoService;
using ::testing::HasSubstr;

constexpr char kEcho[] = "stubmesh.testing.v1.EchoService";

// A real server: fails the first `fail_first` calls with UNAVAILABLE, holds
// each call while `hold` (until release() or the call's end), and remembers
// the metadata and the time left to the deadline of the last one.
class EchoServer final : public EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* request,
                    EchoRequest* response) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    deadline_left_ = absl::FromChrono(context->deadline()) - absl::Now();
    for (const char* key : {"x-request-id", "traceparent"}) {
      auto it = context->client_metadata().find(key);
      last_metadata_[key] = it == context->client_metadata().end()
                                ? ""
                                : std::string(it->second.data(),
                                              it->second.size());
    }
    if (calls_ <= fail_first_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    }
    if (hold_) {
      mu_.Unlock();
      while (!released_.WaitForNotificationWithTimeout(absl::Milliseconds(10)) &&
             !context->IsCancelled()) {
      }
      mu_.Lock();
    }
    *response = *request;
    return grpc::Status::OK;
  }

  // Listens on `address` ("host:0" picks a free port).
  void Start(const std::string& address = "127.0.0.1:0") {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr) << address;
    server_->GetHealthCheckService()->SetServingStatus(kEcho, true);
    port_ = port;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  void release() {
    if (!released_.HasBeenNotified()) released_.Notify();
  }
  // Waits (boundedly) until `n` calls have arrived.
  bool AwaitCalls(int n) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return calls_ >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), absl::Seconds(10));
  }
  ~EchoServer() override {
    release();
    if (server_) server_->Shutdown(absl::ToChronoTime(absl::Now()));
  }

  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_first_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration deadline_left_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> last_metadata_ ABSL_GUARDED_BY(mu_);

 private:
  absl::Notification released_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

MeshConfig ConfigFor(const std::string& target) {
  MeshConfig config;
  (*config.mutable_services())[kEcho].set_target(target);
  return config;
}

grpc::Status Call(Mesh& mesh, absl::Duration deadline = absl::Seconds(5)) {
  auto stub = mesh.NewStub<EchoService>();
  EXPECT_TRUE(stub.ok()) << stub.status();
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  EchoRequest request, response;
  request.set_name("hi");
  return (*stub)->Echo(&context, request, &response);
}

TEST(MeshTest, CallsCarryIdsAndAreCounted) {
  EchoServer server;
  server.Start();
  MeshOptions options;
  options.metrics = std::make_shared<prometheus::Registry>();
  auto mesh = Mesh::Create(ConfigFor(server.address()), options);
  ASSERT_TRUE(mesh.ok()) << mesh.status();
  ASSERT_TRUE(Call(**mesh).ok());
  {
    absl::MutexLock lock(&server.mu_);
    EXPECT_EQ(server.last_metadata_["x-request-id"].size(), 32u);
    EXPECT_TRUE(ParseTraceparent(server.last_metadata_["traceparent"]).has_value());
  }
  std::string text =
      prometheus::TextSerializer().Serialize(options.metrics->Collect());
  EXPECT_THAT(text, HasSubstr(
      R"(grpc_client_handled_total{grpc_code="OK",grpc_method="Echo",)"
      R"(grpc_service="stubmesh.testing.v1.EchoService",grpc_type="unary"} 1)"));
  EXPECT_THAT(text, HasSubstr("grpc_client_started_total"));
  EXPECT_THAT(text, HasSubstr("grpc_client_handling_seconds_bucket"));
}

TEST(MeshTest, UnavailableIsRetried) {
  EchoServer server;
  server.Start();
  {
    absl::MutexLock lock(&server.mu_);
    server.fail_first_ = 2;  // Default policy: 3 attempts.
  }
  auto mesh = Mesh::Create(ConfigFor(server.address()), {});
  ASSERT_TRUE(mesh.ok());
  EXPECT_TRUE(Call(**mesh).ok());
  absl::MutexLock lock(&server.mu_);
  EXPECT_EQ(server.calls_, 3);
}

TEST(MeshTest, MethodTimeoutAppliesWhenTheCallerSetsNone) {
  EchoServer server;
  server.Start();
  {
    absl::MutexLock lock(&server.mu_);
    server.hold_ = true;  // until the call ends
  }
  MeshConfig config = ConfigFor(server.address());
  (*(*config.mutable_services())[kEcho].mutable_method_timeouts())["Echo"]
      .set_nanos(300000000);
  auto mesh = Mesh::Create(config, {});
  ASSERT_TRUE(mesh.ok());
  auto stub = (*mesh)->NewStub<EchoService>();
  std::unique_ptr<grpc::ClientContext> context =
      (*mesh)->NewClientContext(kEcho, "Echo");
  EchoRequest request, response;
  grpc::Status status = (*stub)->Echo(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  // The server was given the method's 0.3 s, not the service's 10 s.
  absl::MutexLock lock(&server.mu_);
  EXPECT_EQ(server.calls_, 1);
  EXPECT_GT(server.deadline_left_, absl::ZeroDuration());
  EXPECT_LT(server.deadline_left_, absl::Seconds(1));
}

// Without NewClientContext, the mesh adds no deadline (mesh.h).
TEST(MeshTest, APlainContextGetsNoDeadline) {
  EchoServer server;
  server.Start();
  auto mesh = Mesh::Create(ConfigFor(server.address()), {});
  ASSERT_TRUE(mesh.ok());
  auto stub = (*mesh)->NewStub<EchoService>();
  grpc::ClientContext context;
  EchoRequest request, response;
  ASSERT_TRUE((*stub)->Echo(&context, request, &response).ok());
  absl::MutexLock lock(&server.mu_);
  // gRPC's "no deadline" is a time 200-odd years away.
  EXPECT_GT(server.deadline_left_, absl::Hours(24 * 365 * 100));
}

TEST(MeshTest, OneAttemptMeansNoRetry) {
  EchoServer server;
  server.Start();
  {
    absl::MutexLock lock(&server.mu_);
    server.fail_first_ = 1;
  }
  MeshConfig config = ConfigFor(server.address());
  (*config.mutable_services())[kEcho].mutable_retry()->set_max_attempts(1);
  auto mesh = Mesh::Create(config, {});
  ASSERT_TRUE(mesh.ok());
  EXPECT_EQ(Call(**mesh).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Call(**mesh).ok());
}

TEST(MeshTest, UpdateSwapsTheChannelOfAChangedService) {
  EchoServer first, second;
  first.Start();
  second.Start();
  auto mesh = Mesh::Create(ConfigFor(first.address()), {});
  ASSERT_TRUE(mesh.ok());
  auto before = (*mesh)->Channel(kEcho);
  ASSERT_TRUE(Call(**mesh).ok());
  ASSERT_TRUE((*mesh)->Update(ConfigFor(first.address())).ok());
  EXPECT_EQ(*(*mesh)->Channel(kEcho), *before);  // unchanged: kept
  ASSERT_TRUE((*mesh)->Update(ConfigFor(second.address())).ok());
  EXPECT_NE(*(*mesh)->Channel(kEcho), *before);
  ASSERT_TRUE(Call(**mesh).ok());
  absl::MutexLock lock(&second.mu_);
  EXPECT_EQ(second.calls_, 1);
}

// A call made on the old channel finishes there, and well, after Update()
// swapped in a new channel; new calls go to the new one meanwhile.
TEST(MeshTest, CallInFlightOnTheOldChannelFinishesAfterUpdate) {
  EchoServer first, second;
  first.Start();
  second.Start();
  {
    absl::MutexLock lock(&first.mu_);
    first.hold_ = true;
  }
  auto mesh = Mesh::Create(ConfigFor(first.address()), {});
  ASSERT_TRUE(mesh.ok());
  grpc::Status in_flight;
  std::thread caller([&] { in_flight = Call(**mesh, absl::Seconds(30)); });
  bool arrived = first.AwaitCalls(1);
  EXPECT_TRUE(arrived) << "the call never reached the first server";
  if (arrived) {
    EXPECT_TRUE((*mesh)->Update(ConfigFor(second.address())).ok());
    EXPECT_TRUE(Call(**mesh).ok());
    absl::MutexLock lock(&second.mu_);
    EXPECT_EQ(second.calls_, 1);
  }
  first.release();
  caller.join();
  EXPECT_TRUE(in_flight.ok()) << in_flight.error_message();
  absl::MutexLock lock(&first.mu_);
  EXPECT_EQ(first.calls_, 1);
}

// config() is a snapshot: updates do not change (or free) it under the
// reader, however many there are meanwhile.
TEST(MeshTest, ConfigIsASnapshot) {
  auto mesh = Mesh::Create(ConfigFor("127.0.0.1:1"), {});
  ASSERT_TRUE(mesh.ok());
  std::shared_ptr<const MeshConfig> before = (*mesh)->config();
  std::thread updater([&] {
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(
          (*mesh)->Update(ConfigFor(i % 2 ? "127.0.0.1:1" : "127.0.0.1:2"))
              .ok());
    }
  });
  for (int i = 0; i < 200; ++i) {
    std::string target = (*mesh)->config()->services().at(kEcho).target();
    EXPECT_TRUE(target == "127.0.0.1:1" || target == "127.0.0.1:2") << target;
  }
  updater.join();
  EXPECT_EQ(before->services().at(kEcho).target(), "127.0.0.1:1");
  EXPECT_EQ((*mesh)->config()->services().at(kEcho).target(), "127.0.0.1:1");
}

// Targets through gRPC's resolvers, to real servers.
TEST(MeshTest, DnsTarget) {
  EchoServer server;
  server.Start();
  auto mesh = Mesh::Create(
      ConfigFor("dns:///localhost:" + std::to_string(server.port())), {});
  ASSERT_TRUE(mesh.ok());
  grpc::Status status = Call(**mesh);
  EXPECT_TRUE(status.ok()) << status.error_message();
  absl::MutexLock lock(&server.mu_);
  EXPECT_EQ(server.calls_, 1);
}

TEST(MeshTest, UnixSocketTarget) {
  // sun_path holds 107 bytes: Bazel's TEST_TMPDIR can be longer.
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir_template =
      std::string(tmp != nullptr && std::strlen(tmp) < 64 ? tmp : "/tmp") +
      "/mesh_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
  std::string socket = dir_template + "/echo.sock";
  {
    EchoServer server;
    server.Start("unix:" + socket);
    auto mesh = Mesh::Create(ConfigFor("unix:" + socket), {});
    ASSERT_TRUE(mesh.ok());
    grpc::Status status = Call(**mesh);
    EXPECT_TRUE(status.ok()) << status.error_message();
    absl::MutexLock lock(&server.mu_);
    EXPECT_EQ(server.calls_, 1);
  }
  std::filesystem::remove_all(dir_template);
}

TEST(MeshTest, WatchedFileChangesTheChannelWhileRunning) {
  EchoServer first, second;
  first.Start();
  second.Start();
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string path = std::string(tmp ? tmp : "/tmp") + "/watched_mesh.json";
  auto write = [&](const std::string& target) {
    std::ofstream(path) << R"({"services": {")" << kEcho << R"(": {"target": ")"
                        << target << R"("}}})";
  };
  write(first.address());
  auto mesh = Mesh::Create(*ReadMeshConfig(path), {});
  ASSERT_TRUE(mesh.ok());
  (*mesh)->WatchFile(path, absl::Milliseconds(20));
  ASSERT_TRUE(Call(**mesh).ok());
  write(second.address());
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  bool moved = false;
  while (!moved && absl::Now() < deadline) {
    ASSERT_TRUE(Call(**mesh).ok());
    absl::MutexLock lock(&second.mu_);
    moved = second.calls_ > 0;
  }
  EXPECT_TRUE(moved) << "calls never reached the new target";
}

TEST(MeshTest, BadUpdateChangesNothing) {
  EchoServer server;
  server.Start();
  auto mesh = Mesh::Create(ConfigFor(server.address()), {});
  ASSERT_TRUE(mesh.ok());
  MeshConfig bad = ConfigFor("");
  EXPECT_EQ((*mesh)->Update(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Call(**mesh).ok());
}

TEST(MeshTest, UnknownServiceNeedsAFallbackTarget) {
  auto mesh = Mesh::Create(MeshConfig(), {});
  ASSERT_TRUE(mesh.ok());
  EXPECT_EQ((*mesh)->Channel("a.B").status().code(),
            absl::StatusCode::kNotFound);
  EchoServer server;
  server.Start();
  auto stub = (*mesh)->NewStub<EchoService>(server.address());
  ASSERT_TRUE(stub.ok());
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  EchoRequest request, response;
  EXPECT_TRUE((*stub)->Echo(&context, request, &response).ok());
}

}  // namespace
}  // namespace stubmesh::mesh
