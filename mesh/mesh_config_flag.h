#ifndef STUBMESH_MESH_MESH_CONFIG_FLAG_H_
#define STUBMESH_MESH_MESH_CONFIG_FLAG_H_

// --mesh_config=FILE, shared by every binary of the mesh (services, gateway,
// launcher), and the process's own mTLS certificate and key
// (--tls_cert_file, --tls_key_file; used when the mesh config has tls, see
// mesh_tls.h): the one place these flags are defined.
//
// Example:
//   absl::StatusOr<std::optional<MeshConfig>> config = MeshConfigFromFlag();
//   absl::StatusOr<std::optional<MeshTlsFiles>> tls =
//       MeshTlsFromFlags(config->value_or(MeshConfig()));

#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/status/statusor.h"
#include "mesh/mesh_config_loader.h"
#include "mesh/mesh_tls.h"

ABSL_DECLARE_FLAG(std::string, mesh_config);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);

namespace stubmesh::mesh {

// The config named by --mesh_config, nullopt when the flag is empty, or the
// error reading it.
absl::StatusOr<std::optional<MeshConfig>> MeshConfigFromFlag();

// CheckMeshTls (mesh_tls.h) of `config` with --tls_cert_file and
// --tls_key_file.
absl::StatusOr<std::optional<MeshTlsFiles>> MeshTlsFromFlags(
    const MeshConfig& config);

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_MESH_CONFIG_FLAG_H_
