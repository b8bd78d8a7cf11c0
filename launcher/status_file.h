#ifndef STUBMESH_LAUNCHER_STATUS_FILE_H_
#define STUBMESH_LAUNCHER_STATUS_FILE_H_

// The files through which the launcher tells others what runs where: the
// status (stubmesh.mesh.v1.LauncherStatus as JSON, for people, scripts and
// tests), the Prometheus scrape targets (file_sd_configs format: every
// /metrics address, relabelled by service and replica), and the mesh
// config. Each is replaced whole (written aside, then renamed), so a reader
// never sees half a file.
//
// Thread-safety: pure functions; writing one path from two threads at once
// is not supported.
//
// Example:
//   LauncherStatus status = ...;
//   absl::Status s = WriteFileAtomically(
//       "var/launcher.json", LauncherStatusJson(status));
//
// A Prometheus scrape config that reads the targets:
//   scrape_configs:
//     - job_name: stubmesh
//       file_sd_configs: [{files: [/path/to/var/prometheus_targets.json]}]

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"
#include "stubmesh/mesh/v1/topology.pb.h"

namespace stubmesh::launcher {

using ::stubmesh::mesh::v1::LauncherStatus;

// Writes `contents` to `path` + ".tmp", then renames it to `path`.
absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents);

// Proto3 JSON (lowerCamelCase names), every field shown, so that readers
// see `"restarts": 0` and `"pid": 0` rather than nothing.
std::string LauncherStatusJson(const LauncherStatus& status);

// A Prometheus file_sd list: one group per process that has a /metrics
// address, labelled {service, replica}.
std::string PrometheusTargetsJson(const LauncherStatus& status);

// Proto3 JSON of a mesh config, readable by mesh::ReadMeshConfig.
std::string MeshConfigJson(const stubmesh::mesh::v1::MeshConfig& config);

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_STATUS_FILE_H_
