#include "mesh/mesh_config_flag.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, mesh_config, "",
          "Mesh config file (JSON, stubmesh.mesh.v1.MeshConfig): how this "
          "process reaches other services, and the faults it injects.");

namespace stubmesh::mesh {

absl::StatusOr<std::optional<MeshConfig>> MeshConfigFromFlag() {
  std::string path = absl::GetFlag(FLAGS_mesh_config);
  if (path.empty()) return std::optional<MeshConfig>();
  absl::StatusOr<MeshConfig> config = ReadMeshConfig(path);
  if (!config.ok()) return config.status();
  return std::optional<MeshConfig>(*std::move(config));
}

}  // namespace stubmesh::mesh
