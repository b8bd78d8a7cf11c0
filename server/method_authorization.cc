#include "server/method_authorization.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "mesh/mesh_tls.h"
#include "mesh/rpc_labels.h"
#include "mesh/trace_context.h"
#include "server/call_observer.h"

namespace stubmesh::server {
namespace {

constexpr char kPeerUriProperty[] = "peer_uri";  // GRPC_PEER_URI_PROPERTY_NAME

std::string FirstValue(const grpc::AuthMetadataProcessor::InputMetadata& md,
                       absl::string_view key) {
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<std::shared_ptr<const MethodAuthorizationPolicy>>
MethodAuthorizationPolicy::Create(const stubmesh::mesh::v1::MeshConfig& config,
                                  const std::vector<std::string>& served) {
  std::shared_ptr<MethodAuthorizationPolicy> policy(
      new MethodAuthorizationPolicy());
  for (const std::string& service : served) {
    auto it = config.services().find(service);
    if (it == config.services().end() || !it->second.has_authorization()) {
      continue;
    }
    if (!config.has_tls()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "services[\"", service,
          "\"].authorization: needs mTLS (the mesh config's tls)"));
    }
    const auto& allow = it->second.authorization().allow();
    policy->rules_[service].assign(allow.begin(), allow.end());
  }
  return std::shared_ptr<const MethodAuthorizationPolicy>(std::move(policy));
}

bool MethodAuthorizationPolicy::Allows(
    absl::string_view service, absl::string_view method,
    const std::vector<std::string>& identities) const {
  auto it = rules_.find(service);
  if (it == rules_.end()) return true;
  for (const stubmesh::mesh::v1::AuthorizationRule& rule : it->second) {
    bool method_matches = false;
    for (const std::string& m : rule.methods()) {
      if (m == "*" || m == method) method_matches = true;
    }
    if (!method_matches) continue;
    for (const std::string& principal : rule.principals()) {
      for (const std::string& identity : identities) {
        if (mesh::IdentityMatches(principal, identity)) return true;
      }
    }
  }
  return false;
}

MethodAuthorizer::MethodAuthorizer(
    std::shared_ptr<const MethodAuthorizationPolicy> policy,
    std::shared_ptr<prometheus::Registry> registry, std::string server_name)
    : policy_(std::move(policy)),
      registry_(std::move(registry)),
      denied_(prometheus::BuildCounter()
                  .Name("stubmesh_server_authz_denied_total")
                  .Help("Calls refused with PERMISSION_DENIED by the "
                        "authorization of the mesh config, by method and "
                        "caller identity.")
                  .Register(*registry_)),
      server_name_(std::move(server_name)) {}

grpc::Status MethodAuthorizer::Process(const InputMetadata& auth_metadata,
                                       grpc::AuthContext* context,
                                       OutputMetadata* /*consumed*/,
                                       OutputMetadata* /*response*/) {
  const mesh::MethodLabels labels =
      mesh::MethodLabelsOf(FirstValue(auth_metadata, ":path"), "unary");
  std::vector<std::string> identities;
  for (const grpc::string_ref& uri :
       context->FindPropertyValues(kPeerUriProperty)) {
    identities.emplace_back(uri.data(), uri.size());
  }
  if (policy_->Allows(labels.service, labels.method, identities)) {
    return grpc::Status::OK;
  }
  const std::string peer =
      identities.empty() ? "-" : absl::StrJoin(identities, ",");
  denied_
      .Add({{"grpc_service", labels.service},
            {"grpc_method", labels.method},
            {"peer", peer}})
      .Increment();
  absl::FPrintF(
      stderr, "%s %s denied %s/%s peer=%s rid=%s\n", LogTimestamp(),
      server_name_, labels.service, labels.method, peer,
      RequestIdForLog(FirstValue(auth_metadata, mesh::kRequestIdKey)));
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat(identities.empty() ? "a peer without a URI SAN" : peer,
                   " may not call ", labels.service, "/", labels.method,
                   " (authorization of ", labels.service,
                   " in the mesh config)"));
}

}  // namespace stubmesh::server
