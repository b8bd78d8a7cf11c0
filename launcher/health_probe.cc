#include "launcher/health_probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits of messages
#include "grpcpp/security/credentials.h"
#include "launcher/scoped_fd.h"
#include "status/status_mapping.h"

namespace stubmesh::launcher {
namespace {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

// One attempt may take this long; then the next one is made, so that a
// server that was not listening yet is found soon after it is.
constexpr absl::Duration kAttemptTimeout = absl::Seconds(1);
constexpr absl::Duration kFirstPause = absl::Milliseconds(20);
constexpr absl::Duration kMaxPause = absl::Milliseconds(500);

absl::StatusOr<HealthCheckResponse::ServingStatus> CheckHealth(
    grpc::TemplatedGenericStub<HealthCheckRequest, HealthCheckResponse>& stub,
    const std::string& service, absl::Time deadline) {
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(deadline));
  grpc::Status status;
  absl::Notification done;
  // @grpc_proto//:health has no generated stub: the method is called by
  // name.
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response, [&status, &done](grpc::Status result) {
                   status = std::move(result);
                   done.Notify();
                 });
  // The deadline makes sure that the callback runs.
  done.WaitForNotification();
  if (!status.ok()) return ToAbslStatus(status);
  return response.status();
}

// Calls `attempt` until it returns OK, pausing with backoff in between; its
// last error is reported when `deadline` passes.
absl::Status Retry(const std::function<absl::Status(absl::Time)>& attempt,
                   absl::Time deadline, const PauseFn& pause,
                   const std::string& what) {
  absl::Duration wait = kFirstPause;
  absl::Status last;  // OK: no answer yet
  while (true) {
    const absl::Time attempt_deadline =
        std::min(deadline, absl::Now() + kAttemptTimeout);
    const absl::Status s = attempt(attempt_deadline);
    if (s.ok()) return s;
    // An attempt cut short by the overall deadline says less than the
    // answer before it.
    if (last.ok() || !absl::IsDeadlineExceeded(s) ||
        attempt_deadline != deadline) {
      last = s;
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(
          what, " not ready in time; last answer: ", last.message()));
    }
    absl::Status paused = pause(std::min(wait, left));
    if (!paused.ok()) return paused;
    wait = std::min(wait * 2, kMaxPause);
  }
}

// "127.0.0.1:80" or "[::1]:80" as a socket address.
absl::StatusOr<std::pair<sockaddr_storage, socklen_t>> ParseAddress(
    const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not HOST:PORT"));
  }
  std::string host = address.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  sockaddr_storage storage = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return std::make_pair(storage, static_cast<socklen_t>(sizeof(*v4)));
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return std::make_pair(storage, static_cast<socklen_t>(sizeof(*v6)));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", host, "' is not an IP address"));
}

// Waits until `fd` is ready for `events`, or the deadline.
absl::Status AwaitFd(int fd, short events, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError("timed out");
    }
    pollfd p = {fd, events, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left) + 1));
    if (ready > 0) return absl::OkStatus();
    if (ready < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
    }
  }
}

}  // namespace

PauseFn SleepingPause() {
  return [](absl::Duration wait) {
    absl::SleepFor(wait);
    return absl::OkStatus();
  };
}

absl::Status AwaitGrpcServing(
    const std::string& address, const std::vector<std::string>& services,
    absl::Time deadline, const PauseFn& pause,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::TemplatedGenericStub<HealthCheckRequest, HealthCheckResponse> stub(
      grpc::CreateChannel(address, credentials != nullptr
                                       ? std::move(credentials)
                                       : grpc::InsecureChannelCredentials()));
  const std::vector<std::string> names =
      services.empty() ? std::vector<std::string>{""} : services;
  return Retry(
      [&](absl::Time attempt_deadline) -> absl::Status {
        for (const std::string& name : names) {
          absl::StatusOr<HealthCheckResponse::ServingStatus> serving =
              CheckHealth(stub, name, attempt_deadline);
          if (!serving.ok()) return serving.status();
          if (*serving != HealthCheckResponse::SERVING) {
            return absl::UnavailableError(absl::StrCat(
                "'", name, "' is ",
                HealthCheckResponse::ServingStatus_Name(*serving)));
          }
        }
        return absl::OkStatus();
      },
      deadline, pause,
      absl::StrCat("grpc.health.v1 at ", address, " (",
                   absl::StrJoin(names, ", "), ")"));
}

absl::Status AwaitHttpOk(const std::string& address, const std::string& path,
                         absl::Time deadline, const PauseFn& pause) {
  return Retry(
      [&](absl::Time attempt_deadline) -> absl::Status {
        absl::StatusOr<int> code =
            HttpGetStatus(address, path, attempt_deadline);
        if (!code.ok()) return code.status();
        if (*code != 200) {
          return absl::UnavailableError(absl::StrCat("HTTP ", *code));
        }
        return absl::OkStatus();
      },
      deadline, pause, absl::StrCat("GET http://", address, path));
}

absl::StatusOr<int> HttpGetStatus(const std::string& address,
                                  const std::string& path,
                                  absl::Time deadline) {
  absl::StatusOr<std::pair<sockaddr_storage, socklen_t>> to =
      ParseAddress(address);
  if (!to.ok()) return to.status();
  ScopedFd socket_fd(socket(to->first.ss_family,
                            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  const int fd = socket_fd.get();
  if (fd < 0) return absl::UnavailableError(strerror(errno));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to->first), to->second) !=
          0 &&
      errno != EINPROGRESS) {
    return absl::UnavailableError(
        absl::StrCat("connect ", address, ": ", strerror(errno)));
  }
  absl::Status s = AwaitFd(fd, POLLOUT, deadline);
  if (!s.ok()) return s;
  int error = 0;
  socklen_t length = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("connect ", address, ": ", strerror(error)));
  }
  const std::string request = absl::StrCat(
      "GET ", path, " HTTP/1.1\r\nHost: ", address,
      "\r\nConnection: close\r\nUser-Agent: stubmesh-launcher\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      s = AwaitFd(fd, POLLOUT, deadline);
      if (!s.ok()) return s;
    } else {
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
  }
  // Only the status line is needed: "HTTP/1.1 200 OK\r\n".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
    s = AwaitFd(fd, POLLIN, deadline);
    if (!s.ok()) return s;
    char buffer[512];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n > 0) {
      head.append(buffer, n);
    } else if (n == 0) {
      break;
    } else if (errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
  }
  int code = 0;
  if (!absl::StartsWith(head, "HTTP/1.") || head.size() < 12 ||
      !absl::SimpleAtoi(head.substr(9, 3), &code)) {
    return absl::UnavailableError(absl::StrCat(
        "not an HTTP answer: '", head.substr(0, head.find("\r\n")), "'"));
  }
  return code;
}

}  // namespace stubmesh::launcher
