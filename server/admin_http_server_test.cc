#include "server/admin_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::server {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Sends `request` as is to 127.0.0.1:port and returns everything the server
// wrote until it closed the connection ("" if it could not connect). Reads
// time out after 10s so that a server that never answers fails the test.
std::string Exchange(int port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
          0 &&
      write(fd, request.data(), request.size()) ==
          static_cast<ssize_t>(request.size())) {
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) answer.append(chunk, n);
  }
  close(fd);
  return answer;
}

std::string Get(int port, const std::string& target,
                const std::string& method = "GET") {
  return Exchange(
      port, absl::StrCat(method, " ", target, " HTTP/1.1\r\nHost: x\r\n\r\n"));
}

class AdminHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminHttpHandlers handlers;
    handlers["/healthz"] = [this] {
      ++calls_;
      return AdminHttpResponse{healthy_ ? 200 : 503, "text/plain",
                               healthy_ ? "ok" : "draining"};
    };
    absl::StatusOr<std::unique_ptr<AdminHttpServer>> server =
        AdminHttpServer::Start("127.0.0.1", 0, std::move(handlers));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  std::atomic<bool> healthy_{true};
  std::atomic<int> calls_{0};
  std::unique_ptr<AdminHttpServer> server_;
};

TEST_F(AdminHttpServerTest, AnswersTheHandlerOfThePath) {
  std::string answer = Get(server_->port(), "/healthz");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answer, HasSubstr("Content-Type: text/plain\r\n"));
  EXPECT_THAT(answer, HasSubstr("Content-Length: 2\r\n"));
  EXPECT_THAT(answer, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(answer, EndsWith("\r\n\r\nok"));

  healthy_ = false;
  answer = Get(server_->port(), "/healthz?verbose=1");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 503 Service Unavailable\r\n"));
  EXPECT_THAT(answer, EndsWith("\r\n\r\ndraining"));
  EXPECT_EQ(calls_, 2);
}

TEST_F(AdminHttpServerTest, HeadHasTheLengthButNoBody) {
  std::string answer = Get(server_->port(), "/healthz", "HEAD");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(answer, HasSubstr("Content-Length: 2\r\n"));
  EXPECT_THAT(answer, EndsWith("\r\n\r\n"));
}

TEST_F(AdminHttpServerTest, RefusesOtherPathsAndMethods) {
  EXPECT_THAT(Get(server_->port(), "/"), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(Get(server_->port(), "/healthz/x"), StartsWith("HTTP/1.1 404 "));
  std::string answer = Exchange(
      server_->port(),
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(answer, HasSubstr("Allow: GET, HEAD\r\n"));
  EXPECT_EQ(calls_, 0);
}

TEST_F(AdminHttpServerTest, ClosesOnGarbageWithoutAnswering) {
  EXPECT_EQ(Exchange(server_->port(), "NOT HTTP AT ALL\r\n\r\n"), "");
  // And keeps serving.
  EXPECT_THAT(Get(server_->port(), "/healthz"), StartsWith("HTTP/1.1 200 OK"));
}

TEST(AdminHttpServerStartTest, RefusesAPortInUse) {
  absl::StatusOr<std::unique_ptr<AdminHttpServer>> first =
      AdminHttpServer::Start("127.0.0.1", 0, {});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::unique_ptr<AdminHttpServer>> second =
      AdminHttpServer::Start("127.0.0.1", (*first)->port(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("cannot listen on admin address 127.0.0.1 port"));
}

}  // namespace
}  // namespace stubmesh::server
