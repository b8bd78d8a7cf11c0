#ifndef STUBMESH_MESH_MESH_TLS_H_
#define STUBMESH_MESH_MESH_TLS_H_

// mTLS between the processes of the mesh (MeshConfig.tls in
// protos/stubmesh/mesh/v1/mesh_config.proto), on gRPC's own TLS machinery:
// a FileWatcherCertificateProvider rereads the CA, certificate and key
// files (rotation without a restart), servers require and verify client
// certificates, clients verify servers.
//
// The mesh config names the CA; each process names its own certificate and
// key (--tls_cert_file, --tls_key_file, see mesh_config_flag.h). The files
// are checked once at start (CheckMeshTls), so that a missing file, bad PEM,
// a key that does not match its certificate or a certificate the CA did not
// issue refuses the start with the field and path; gRPC's watcher would only
// log the error and fail every handshake.
//
// A process's identity is the URI SAN of its certificate
// ("spiffe://stubmesh.local/svc/order"). A client accepts a server whose
// certificate carries one of the service's `server_identities`, or, when
// that list is empty, whose certificate is valid for every host of the
// target (IP or DNS SAN).
//
// Thread-safety: CheckMeshTls is a pure function (it reads files); the
// credentials are gRPC's, thread-safe.
//
// Example:
//   absl::StatusOr<std::optional<MeshTlsFiles>> tls =
//       CheckMeshTls(config, cert_file, key_file);
//   if (!tls.ok()) { print tls.status(); exit(1); }
//   if (tls->has_value()) {
//     auto provider = NewCertificateProvider(**tls);
//     builder.AddListeningPort(address, MeshServerCredentials(provider));
//     auto channel_credentials = MeshChannelCredentials(provider, service);
//   }

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::mesh {

// The files of one process's mTLS, checked.
struct MeshTlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  absl::Duration refresh_interval = absl::Seconds(60);
  // The URI SANs of the certificate: the process's identity.
  std::vector<std::string> identities;
};

// nullopt when `config` has no tls and no certificate or key is given.
// INVALID_ARGUMENT, naming the field or flag and the path, when tls is set
// but a certificate or key is not given (or the other way round), a file
// cannot be read, holds no PEM certificate or key, the key does not match
// the certificate, or the CA did not issue the certificate.
absl::StatusOr<std::optional<MeshTlsFiles>> CheckMeshTls(
    const v1::MeshConfig& config, const std::string& cert_file,
    const std::string& key_file);

// The URI SANs of the first certificate of a PEM file.
absl::StatusOr<std::vector<std::string>> UriSansOfCertificateFile(
    const std::string& path);

// gRPC's watcher of the three files, rereading them every refresh_interval.
std::shared_ptr<grpc::experimental::CertificateProviderInterface>
NewCertificateProvider(const MeshTlsFiles& files);

// Server side: presents the process's certificate, requires a client
// certificate issued by the CA.
std::shared_ptr<grpc::ServerCredentials> MeshServerCredentials(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider);

// Client side, for channels to `service`: presents the process's
// certificate, accepts a server as the header says.
std::shared_ptr<grpc::ChannelCredentials> MeshChannelCredentials(
    std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider,
    const v1::ServiceMesh& service);

// For a target that lists addresses ("ipv4:127.0.0.1:50051,127.0.0.1:50061"
// or "ipv6:..."), the TLS server name for gRPC to use in place of the whole
// list (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG): its first host, an IP literal,
// for which no SNI is sent (the list as SNI only gets an error logged by
// every server). Empty for other targets. Server certificates are still
// checked against every host of the list.
std::string TlsServerNameOverride(absl::string_view target);

// Whether `identity` matches `pattern`: equal, a "prefix*" pattern, or "*".
bool IdentityMatches(absl::string_view pattern, absl::string_view identity);

// Whether a server certificate with these SANs is valid for every host of
// `authority` ("127.0.0.1:50051,127.0.0.1:50061", "users.internal:443",
// "[::1]:50051"): each host is one of `ip_names`, or one of `dns_names`
// (case-insensitive; "*.example.com" matches one label).
bool CertificateCoversAuthority(absl::string_view authority,
                                const std::vector<std::string>& dns_names,
                                const std::vector<std::string>& ip_names);

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_MESH_TLS_H_
