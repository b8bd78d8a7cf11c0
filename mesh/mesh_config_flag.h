#ifndef STUBMESH_MESH_MESH_CONFIG_FLAG_H_
#define STUBMESH_MESH_MESH_CONFIG_FLAG_H_

// --mesh_config=FILE, shared by every binary of the mesh (services, gateway,
// launcher): the one place the flag is defined.
//
// Example:
//   absl::StatusOr<std::optional<MeshConfig>> config = MeshConfigFromFlag();

#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "mesh/mesh_config_loader.h"

ABSL_DECLARE_FLAG(std::string, mesh_config);

namespace stubmesh::mesh {

// The config named by --mesh_config, nullopt when the flag is empty, or the
// error reading it.
absl::StatusOr<std::optional<MeshConfig>> MeshConfigFromFlag();

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_MESH_CONFIG_FLAG_H_
