#ifndef STUBMESH_SERVER_METHOD_AUTHORIZATION_H_
#define STUBMESH_SERVER_METHOD_AUTHORIZATION_H_

// Per-method authorization of a server's calls, from the `authorization`
// of each served service in the mesh config (mesh_config.proto): who may
// call which method, by the URI SAN of the caller's client certificate.
//
// MethodAuthorizer is a grpc::AuthMetadataProcessor: gRPC runs it for every
// call on an mTLS port before the call reaches any handler or interceptor,
// so every service of the runner gets it without code of its own, and a
// denied call never runs. A denied call
// - fails with PERMISSION_DENIED ("spiffe://.../svc/order_svc may not call
//   stubmesh.user.v1.UserService/CreateUser");
// - is counted in stubmesh_server_authz_denied_total{grpc_service,
//   grpc_method, peer} (peer: the caller's URI SAN, "-" without one);
// - is logged to stderr:
//     <time> <server> denied <service>/<method> peer=<identity>
//     rid=<x-request-id>
// Methods of services without an `authorization` (grpc.health.v1.Health,
// server reflection, a service the config does not restrict) are open to
// every peer that passed the mTLS handshake.
//
// Why not gRPC's authorization policy engine
// (ServerBuilder::experimental().SetAuthorizationPolicyProvider): in gRPC
// 1.51 it rejects denied calls inside the core, with no hook to count or log
// them (audit loggers came in 1.57), and the calls never reach the server
// interceptors.
//
// Thread-safety: MethodAuthorizationPolicy is immutable; MethodAuthorizer is
// thread-safe (gRPC calls Process from many threads).
//
// Example:
//   absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>> policy =
//       MethodAuthorizationPolicy::Create(config,
//       {"stubmesh.user.v1.UserService"});
//   auto credentials = mesh::MeshServerCredentials(provider);
//   credentials->SetAuthMetadataProcessor(std::make_shared<MethodAuthorizer>(
//       *policy, registry, "user_svc"));

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::server {

class MethodAuthorizationPolicy {
 public:
  // The rules of the `served` services that have an authorization. The
  // config is expected to be valid (ValidateMeshConfig); INVALID_ARGUMENT
  // otherwise.
  static absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>>
  Create(const stubmesh::mesh::v1::MeshConfig& config,
         const std::vector<std::string>& served);

  // Whether a peer with these URI SANs may call `method` of `service`.
  bool Allows(absl::string_view service, absl::string_view method,
              const std::vector<std::string>& identities) const;

  // Whether any served service is restricted.
  bool empty() const { return rules_.empty(); }

 private:
  MethodAuthorizationPolicy() = default;
  // By service: its allow rules.
  std::map<std::string, std::vector<stubmesh::mesh::v1::AuthorizationRule>,
           std::less<>>
      rules_;
};

class MethodAuthorizer final : public grpc::AuthMetadataProcessor {
 public:
  // `registry`: where the denial counter goes.
  MethodAuthorizer(std::shared_ptr<const MethodAuthorizationPolicy> policy,
                   std::shared_ptr<prometheus::Registry> registry,
                   std::string server_name);

  // It neither blocks nor waits: run on gRPC's own thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::shared_ptr<const MethodAuthorizationPolicy> policy_;
  const std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& denied_;
  const std::string server_name_;
};

}  // namespace stubmesh::server

#endif  // STUBMESH_SERVER_METHOD_AUTHORIZATION_H_
