#ifndef STUBMESH_SERVER_ADMIN_HTTP_SERVER_H_
#define STUBMESH_SERVER_ADMIN_HTTP_SERVER_H_

// A small plain-HTTP/1.1 server for a service's admin endpoints (/metrics,
// /healthz): what probes and scrapers reach without gRPC or client
// certificates. It answers GET and HEAD of fixed paths, one request per
// connection (Connection: close), on one thread of its own. Anything else
// gets 404 or 405; a request that is too large or too slow gets no answer.
//
// Thread-safety: handlers run on the server's thread, one at a time, and
// must not block for long. Start() and the destructor from one thread.
//
// Ownership: the server owns its thread and sockets; the destructor stops
// them. Handlers must stay valid until then.
//
// Example:
//   absl::StatusOr<std::unique_ptr<AdminHttpServer>> admin =
//       AdminHttpServer::Start("127.0.0.1", 0,
//           {{"/healthz", [] { return AdminHttpResponse{200, "text/plain",
//                                                       "ok"}; }}});
//   if (!admin.ok()) return admin.status();
//   int port = (*admin)->port();

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace stubmesh::server {

struct AdminHttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// By path, without the query string ("/metrics?x=1" is "/metrics").
using AdminHttpHandlers =
    std::map<std::string, std::function<AdminHttpResponse()>>;

class AdminHttpServer {
 public:
  // Listens on host:port (port 0 picks a free port). Errors: UNAVAILABLE if
  // the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<AdminHttpServer>> Start(
      const std::string& host, int port, AdminHttpHandlers handlers);

  AdminHttpServer(const AdminHttpServer&) = delete;
  AdminHttpServer& operator=(const AdminHttpServer&) = delete;

  // Closes the listening socket and every connection, and joins the thread.
  ~AdminHttpServer();

  int port() const { return port_; }

 private:
  struct Impl;
  explicit AdminHttpServer(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  const int port_;
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_ADMIN_HTTP_SERVER_H_
