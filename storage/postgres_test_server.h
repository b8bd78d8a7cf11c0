#ifndef STUBMESH_STORAGE_POSTGRES_TEST_SERVER_H_
#define STUBMESH_STORAGE_POSTGRES_TEST_SERVER_H_

// For tests: a real, private PostgreSQL server (Debian's postgresql
// package) in a fresh temp dir, listening on a unix socket in that dir and
// on 127.0.0.1 at a free port, with a trust-authenticated superuser
// "stubmesh". Stopped, and its dir removed, on destruction.
//
// How it runs:
//   - Binaries: $STUBMESH_POSTGRES_BINDIR, else the newest
//     /usr/lib/postgresql/<version>/bin (initdb, postgres).
//   - The dir is /tmp/stubmesh-pg-XXXXXX ($STUBMESH_POSTGRES_TMPDIR instead
//     of /tmp): not $TEST_TMPDIR, because a unix socket path is limited to
//     107 bytes and, when running as root, Bazel's dirs under /root are not
//     reachable by the server's user.
//   - PostgreSQL refuses to run as root. As root, initdb and postgres run as
//     $STUBMESH_POSTGRES_USER, else "postgres" (the system user Debian's
//     postgresql-common creates), else "nobody": the child process drops its
//     groups, gid and uid before exec, and the dir is chowned to that user.
//     As any other user they run as that user.
//   - The server gets SIGQUIT (immediate shutdown) if the thread that
//     started it dies (PR_SET_PDEATHSIG), so a crashed test leaves no
//     server behind; start it from the test's main thread.
//   - fsync is off: the tests check behaviour, not durability.
//   - Start() waits until the server accepts connections (PQping in a
//     bounded retry loop, 30 s) and fails with the server log's tail if it
//     exits first.
//
// Thread-safety: not thread-safe; URLs it returns may be used anywhere.
//
// Example:
//   absl::StatusOr<std::unique_ptr<PostgresTestServer>> server =
//       PostgresTestServer::Start();
//   absl::StatusOr<std::string> url = (*server)->CreateDatabase("orders");
//   // *url == "postgresql://stubmesh@127.0.0.1:<port>/orders"

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stubmesh::storage {

class PostgresTestServer {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresTestServer>> Start();

  PostgresTestServer(const PostgresTestServer&) = delete;
  PostgresTestServer& operator=(const PostgresTestServer&) = delete;
  // Stops the server (if running) and removes its dir.
  ~PostgresTestServer();

  // Fast shutdown (SIGINT), waiting for the postmaster to exit.
  absl::Status Stop();
  // Starts the stopped server again on the same dir, socket and port.
  absl::Status Restart();

  // A URL for `database` over TCP (127.0.0.1:port) or the unix socket.
  std::string TcpUrl(absl::string_view database) const;
  std::string SocketUrl(absl::string_view database) const;

  // CREATE DATABASE `name`; returns its TcpUrl.
  absl::StatusOr<std::string> CreateDatabase(absl::string_view name);

  const std::string& socket_dir() const { return dir_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

 private:
  PostgresTestServer() = default;
  absl::Status Initialize();
  absl::Status Launch();
  absl::Status WaitUntilReady();
  std::string LogTail() const;

  std::string bindir_;
  std::string dir_;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  // Whom the server runs as when we are root (-1: ourselves).
  uid_t uid_ = static_cast<uid_t>(-1);
  gid_t gid_ = static_cast<gid_t>(-1);
  pid_t pid_ = -1;
};

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_POSTGRES_TEST_SERVER_H_
