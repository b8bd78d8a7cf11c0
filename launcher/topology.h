#ifndef STUBMESH_LAUNCHER_TOPOLOGY_H_
#define STUBMESH_LAUNCHER_TOPOLOGY_H_

// Reads and checks a topology (protos/stubmesh/mesh/v1/topology.proto)
// written as JSON (proto3 mapping). A refused topology says which field, by
// path: `services[1].replicas: must be at most 64, got 100`.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<Topology> topology =
//       ReadTopology("deploy/local/topology.json");
//   if (!topology.ok()) { print topology.status(); exit(1); }
//   SupervisionTimes times = SupervisionTimesOf(topology->supervision());

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "stubmesh/mesh/v1/topology.pb.h"

namespace stubmesh::launcher {

using ::stubmesh::mesh::v1::GatewayTopology;
using ::stubmesh::mesh::v1::ServiceTopology;
using ::stubmesh::mesh::v1::Supervision;
using ::stubmesh::mesh::v1::Topology;

inline constexpr char kDefaultHost[] = "127.0.0.1";
inline constexpr char kDefaultStateDir[] = "var";
inline constexpr int kMaxReplicas = 64;

absl::StatusOr<Topology> ReadTopology(const std::string& path);
absl::StatusOr<Topology> ParseTopology(absl::string_view json);

// The checks ParseTopology makes after parsing; for topologies built in code.
absl::Status ValidateTopology(const Topology& topology);

// Supervision with its defaults filled in.
struct SupervisionTimes {
  absl::Duration startup_timeout = absl::Seconds(30);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  absl::Duration reset_after = absl::Seconds(30);
  absl::Duration stop_timeout = absl::Seconds(20);
};
SupervisionTimes SupervisionTimesOf(const Supervision& supervision);

// replicas, 0 read as 1.
int ReplicaCount(const ServiceTopology& service);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_TOPOLOGY_H_
