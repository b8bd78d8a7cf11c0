#include "launcher/ports.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

using ::testing::HasSubstr;

TEST(PortsTest, PicksDistinctFreePorts) {
  absl::StatusOr<std::vector<int>> ports = PickFreePorts("127.0.0.1", 5);
  ASSERT_TRUE(ports.ok()) << ports.status();
  ASSERT_EQ(ports->size(), 5u);
  EXPECT_EQ(std::set<int>(ports->begin(), ports->end()).size(), 5u);
  for (int port : *ports) {
    EXPECT_GT(port, 0);
    EXPECT_TRUE(CheckPortFree("127.0.0.1", port).ok()) << port;
  }
}

TEST(PortsTest, ListeningPortIsNotFree) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  int one = 1;
  // As gRPC servers listen.
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);

  absl::Status s = CheckPortFree("127.0.0.1", port);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()),
              HasSubstr(absl::StrCat("127.0.0.1:", port)));
  close(fd);
}

TEST(PortsTest, RefusesHostNames) {
  EXPECT_EQ(PickFreePorts("localhost", 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PortsTest, HostPortBracketsIpv6) {
  EXPECT_EQ(HostPort("127.0.0.1", 80), "127.0.0.1:80");
  EXPECT_EQ(HostPort("::1", 80), "[::1]:80");
}

}  // namespace
}  // namespace stubmesh::launcher
