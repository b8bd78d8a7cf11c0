#include "launcher/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "launcher/scoped_fd.h"

namespace stubmesh::launcher {
namespace {

// A socket bound to host:port (port 0: any), or an error naming the address.
absl::StatusOr<ScopedFd> Bind(const std::string& host, int port) {
  sockaddr_storage address = {};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("'", host, "' is not an IP address"));
  }
  ScopedFd fd(socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  }
  // As servers bind: a port whose old connections linger in TIME_WAIT
  // counts as free.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot bind ", HostPort(host, port), ": ", strerror(errno)));
  }
  return fd;
}

}  // namespace

std::string HostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::vector<int>> PickFreePorts(const std::string& host,
                                               int count) {
  std::vector<ScopedFd>
      held;  // Holding them keeps the kernel from repeating one.
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<ScopedFd> fd = Bind(host, 0);
    if (!fd.ok()) return fd.status();
    sockaddr_storage address = {};
    socklen_t length = sizeof(address);
    if (getsockname(fd->get(), reinterpret_cast<sockaddr*>(&address),
                    &length) != 0) {
      return absl::InternalError(
          absl::StrCat("getsockname: ", strerror(errno)));
    }
    ports.push_back(
        ntohs(address.ss_family == AF_INET
                  ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                  : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port));
    held.push_back(*std::move(fd));
  }
  return ports;
}

absl::Status CheckPortFree(const std::string& host, int port) {
  absl::StatusOr<ScopedFd> fd = Bind(host, port);
  if (!fd.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(fd.status().message(),
                     " (is another copy running? --free_ports picks free "
                     "ports)"));
  }
  return absl::OkStatus();
}

}  // namespace stubmesh::launcher
