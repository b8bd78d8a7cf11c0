#include "launcher/health_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "launcher/scoped_fd.h"

namespace stubmesh::launcher {
namespace {

using ::testing::HasSubstr;

// A gRPC server with the default health service (and a generic one that
// answers nothing, without which the server refuses to start).
class HealthServer {
 public:
  HealthServer() {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterCallbackGenericService(&generic_);
    server_ = builder.BuildAndStart();
  }
  ~HealthServer() { server_->Shutdown(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  void Set(const std::string& service, bool serving) {
    server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }

 private:
  int port_ = 0;
  grpc::CallbackGenericService generic_;
  std::unique_ptr<grpc::Server> server_;
};

// Answers one HTTP connection with `status_line`, on a port of its own.
class OneShotHttpServer {
 public:
  explicit OneShotHttpServer(std::string status_line)
      : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
    listen(fd_.get(), 1);
    socklen_t length = sizeof(address);
    getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, status_line = std::move(status_line)] {
      ScopedFd connection(accept(fd_.get(), nullptr, nullptr));
      char buffer[1024];
      (void)!read(connection.get(), buffer, sizeof(buffer));
      const std::string answer =
          absl::StrCat(status_line, "\r\nContent-Length: 0\r\n\r\n");
      (void)!write(connection.get(), answer.data(), answer.size());
    });
  }
  ~OneShotHttpServer() { thread_.join(); }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  ScopedFd fd_;
  int port_ = 0;
  std::thread thread_;
};

TEST(HealthProbeTest, ServingServerIsReady) {
  HealthServer server;
  server.Set("p.Users", true);
  EXPECT_TRUE(AwaitGrpcServing(server.address(), {},
                               absl::Now() + absl::Seconds(10), SleepingPause())
                  .ok());
  EXPECT_TRUE(AwaitGrpcServing(server.address(), {"p.Users"},
                               absl::Now() + absl::Seconds(10), SleepingPause())
                  .ok());
}

TEST(HealthProbeTest, NotServingTimesOutWithTheLastAnswer) {
  HealthServer server;
  server.Set("p.Users", true);
  server.Set("p.Orders", false);
  absl::Status s =
      AwaitGrpcServing(server.address(), {"p.Users", "p.Orders"},
                       absl::Now() + absl::Milliseconds(300), SleepingPause());
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(s.message()), HasSubstr("'p.Orders' is NOT_SERVING"));
}

TEST(HealthProbeTest, PauseErrorEndsTheWait) {
  HealthServer server;
  server.Set("p.Users", false);
  int pauses = 0;
  absl::Status s = AwaitGrpcServing(
      server.address(), {"p.Users"}, absl::Now() + absl::Seconds(30),
      [&pauses](absl::Duration) {
        return ++pauses < 3 ? absl::OkStatus()
                            : absl::CancelledError("stopping");
      });
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(pauses, 3);
}

TEST(HealthProbeTest, HttpStatusCode) {
  OneShotHttpServer ok("HTTP/1.1 200 OK");
  EXPECT_EQ(
      *HttpGetStatus(ok.address(), "/readyz", absl::Now() + absl::Seconds(10)),
      200);
  OneShotHttpServer unavailable("HTTP/1.1 503 Service Unavailable");
  absl::Status s =
      AwaitHttpOk(unavailable.address(), "/readyz",
                  absl::Now() + absl::Milliseconds(300), SleepingPause());
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(HealthProbeTest, NothingListeningIsUnavailable) {
  int port;
  {
    // A port that was free a moment ago, and most likely still is.
    ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  absl::StatusOr<int> code =
      HttpGetStatus(absl::StrCat("127.0.0.1:", port), "/readyz",
                    absl::Now() + absl::Seconds(5));
  EXPECT_EQ(code.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(HttpGetStatus("nonsense", "/", absl::Now()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stubmesh::launcher
