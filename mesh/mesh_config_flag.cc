#include "mesh/mesh_config_flag.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, mesh_config, "",
          "Mesh config file (JSON, stubmesh.mesh.v1.MeshConfig): how this "
          "process reaches other services, and the faults it injects.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "This process's certificate chain (PEM) for mTLS between services; "
          "its URI SAN is the process's identity. Required when the mesh "
          "config has tls.");
ABSL_FLAG(std::string, tls_key_file, "",
          "The private key (PEM) of --tls_cert_file.");

namespace stubmesh::mesh {

absl::StatusOr<std::optional<MeshConfig>> MeshConfigFromFlag() {
  std::string path = absl::GetFlag(FLAGS_mesh_config);
  if (path.empty()) return std::optional<MeshConfig>();
  absl::StatusOr<MeshConfig> config = ReadMeshConfig(path);
  if (!config.ok()) return config.status();
  return std::optional<MeshConfig>(*std::move(config));
}

absl::StatusOr<std::optional<MeshTlsFiles>> MeshTlsFromFlags(
    const MeshConfig& config) {
  return CheckMeshTls(config, absl::GetFlag(FLAGS_tls_cert_file),
                      absl::GetFlag(FLAGS_tls_key_file));
}

}  // namespace stubmesh::mesh
