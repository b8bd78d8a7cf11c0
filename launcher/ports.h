#ifndef STUBMESH_LAUNCHER_PORTS_H_
#define STUBMESH_LAUNCHER_PORTS_H_

// TCP ports for the processes the launcher starts.
//
// Thread-safety: thread-safe (no shared state).
//
// Example:
//   absl::StatusOr<std::vector<int>> ports = PickFreePorts("127.0.0.1", 3);
//   absl::Status free = CheckPortFree("127.0.0.1", 8080);

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace stubmesh::launcher {

// `count` distinct free ports on `host` (an IP literal). Each is bound with
// port 0 and held until all are picked, then released for the process that
// will listen on it; another program may take one in the moment between (the
// process then fails to bind and is restarted with backoff).
absl::StatusOr<std::vector<int>> PickFreePorts(const std::string& host,
                                               int count);

// OK if `port` can be bound on `host` now the way servers bind
// (SO_REUSEADDR); FAILED_PRECONDITION naming the port if something listens
// on it.
absl::Status CheckPortFree(const std::string& host, int port);

// "127.0.0.1:8080", "[::1]:8080".
std::string HostPort(const std::string& host, int port);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_PORTS_H_
