#ifndef STUBMESH_MESH_MESH_CONFIG_LOADER_H_
#define STUBMESH_MESH_MESH_CONFIG_LOADER_H_

// Reads and checks a mesh config (protos/stubmesh/mesh/v1/mesh_config.proto)
// written as JSON (the proto3 JSON mapping: lowerCamelCase or proto names,
// durations as "1.5s", enums by name). A config that is refused says which
// field, by path: `services["stubmesh.user.v1.UserService"].retry.max_attempts:
// must be 1 to 5, got 9`.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<MeshConfig> config = ReadMeshConfig("deploy/mesh.json");
//   if (!config.ok()) { print config.status(); exit(1); }

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::mesh {

using ::stubmesh::mesh::v1::MeshConfig;
using ::stubmesh::mesh::v1::ServiceMesh;

absl::StatusOr<MeshConfig> ReadMeshConfig(const std::string& path);
absl::StatusOr<MeshConfig> ParseMeshConfig(absl::string_view json);

// The checks ParseMeshConfig makes after parsing; for configs built in code.
absl::Status ValidateMeshConfig(const MeshConfig& config);

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_MESH_CONFIG_LOADER_H_
