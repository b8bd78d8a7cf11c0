#ifndef STUBMESH_LAUNCHER_LAUNCH_PLAN_H_
#define STUBMESH_LAUNCHER_LAUNCH_PLAN_H_

// What the launcher will run, worked out from a topology before anything
// starts: each process's port and command line, the paths under the state
// dir, and the mesh config that lists every replica.
//
// Thread-safety: pure functions; a LaunchPlan is a value.
//
// Example:
//   LaunchOptions options;
//   options.bin_dir = "bazel-bin";
//   absl::StatusOr<LaunchPlan> plan =
//       BuildLaunchPlan(*topology, options, [&](int n) {
//         return PickFreePorts(HostOf(*topology), n);
//       });
//   if (plan.ok()) absl::Status files = CheckPlanFiles(*plan);

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "launcher/topology.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::launcher {

struct LaunchOptions {
  // Where relative binary and descriptor set paths are found.
  std::string bin_dir = "bazel-bin";
  // Replaces the topology's state_dir when not empty.
  std::string state_dir;
  // Every process on a free port, whatever ports the topology names.
  bool free_ports = false;
  // Turns mTLS on with this certificate directory (as Topology.tls.cert_dir,
  // which it replaces).
  std::string tls_dir;
};

// One process: a replica of a service, or the gateway.
struct ProcessPlan {
  std::string name;  // "user_svc-0", "gateway-0"
  int port = 0;
  // A service replica's admin HTTP port (/metrics, /healthz): a free port
  // picked with the plan and kept across restarts, so that a restarted
  // replica is the same scrape target. 0 for the gateway, which serves
  // /metrics on `port`.
  int admin_port = 0;
  // argv[0] is the binary's absolute path.
  std::vector<std::string> argv;
  std::string log_path;
  // With mTLS: its certificate and key (also in argv); empty without.
  std::string tls_cert_file;
  std::string tls_key_file;
};

struct ServicePlan {
  std::string name;
  std::vector<std::string> serves;
  std::string target;  // in the mesh config: every replica
  std::string db_path;
  std::vector<ProcessPlan> replicas;
};

struct LaunchPlan {
  std::string host;
  // Absolute paths.
  std::string state_dir;
  std::string log_dir;
  std::string mesh_config_path;
  std::string status_path;
  std::string prometheus_targets_path;
  stubmesh::mesh::v1::MeshConfig mesh_config;
  // In start order.
  std::vector<ServicePlan> services;
  std::optional<ProcessPlan> gateway;
  SupervisionTimes supervision;
  // With mTLS (mesh_config.tls set): the launcher's own certificate and key,
  // for its health checks. Absolute paths; empty without mTLS.
  std::string probe_cert_file;
  std::string probe_key_file;
};

// Returns `count` free ports.
using PortPicker = std::function<absl::StatusOr<std::vector<int>>(int count)>;

// The plan for a valid `topology` (see ValidateTopology); ports the topology
// leaves at 0 (all of them with free_ports) and every replica's admin port
// come from `pick_free_ports`, in one call.
// INVALID_ARGUMENT if the mesh config it makes is refused.
absl::StatusOr<LaunchPlan> BuildLaunchPlan(const Topology& topology,
                                           const LaunchOptions& options,
                                           const PortPicker& pick_free_ports);

// NOT_FOUND naming the first binary that is not executable, descriptor
// set or mTLS file that cannot be read, with the hint to build or make it.
absl::Status CheckPlanFiles(const LaunchPlan& plan);

// Every process of `plan`, replicas in start order, then the gateway.
std::vector<const ProcessPlan*> ProcessesOf(const LaunchPlan& plan);

// The topology's host, or the default one.
std::string HostOf(const Topology& topology);

// A gRPC target that lists `ports` on `host`:
// "ipv4:127.0.0.1:50051,127.0.0.1:50061" or "ipv6:[::1]:50051,[::1]:50061".
std::string MeshTarget(const std::string& host, const std::vector<int>& ports);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_LAUNCH_PLAN_H_
