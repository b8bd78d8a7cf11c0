#ifndef STUBMESH_GATEWAY_AUTH_POLICY_H_
#define STUBMESH_GATEWAY_AUTH_POLICY_H_

// Which requests need a bearer token, and which scopes it must carry.
//
// A rule is written "[METHODS ]PATH=REQUIREMENT":
//   METHODS      GET, or GET|HEAD; omitted or "*" for any method
//   PATH         a google.api.http path template: /v1/users/*,
//                /v1/users/{id}, /v1/admin/**
//   REQUIREMENT  "public" (no token), "token" (any valid token), or
//                scopes separated by spaces, all of which the token needs
// e.g. "GET /v1/users/*=users.read", "/v1/echo/**=public",
// "POST|DELETE /v1/users/**=users.write admin".
//
// A request takes the rule of its method if one matches its path, else the
// rule for any method; among those, the most specific path wins, matched
// exactly as the gateway matches its routes (gateway/route_table.h: the
// same percent-decoding, so an encoded path cannot slip past a rule).
// Requests no rule matches take the default requirement. /healthz and
// /readyz are always public (probes carry no token).
//
// Thread-safety: immutable after Create; share as
// std::shared_ptr<const AuthPolicy>.
//
// Example:
//   auto policy = AuthPolicy::Create(AuthRequirement::Token(),
//                                    {"GET /v1/users/*=users.read"});
//   const AuthRequirement& r = (*policy)->RequirementFor("GET", "/v1/users/7");
//   // r.token_required, r.scopes == {"users.read"}

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/route_table.h"

namespace stubmesh::gateway {

struct AuthRequirement {
  bool token_required = true;
  std::vector<std::string> scopes;  // all needed

  static AuthRequirement Public() { return {false, {}}; }
  static AuthRequirement Token() { return {true, {}}; }
  // "public", "token" or space-separated scopes; INVALID_ARGUMENT if empty.
  static absl::StatusOr<AuthRequirement> Parse(absl::string_view text);
};

class AuthPolicy {
 public:
  // INVALID_ARGUMENT naming the rule that does not parse; ALREADY_EXISTS
  // for two rules of the same methods and path shape.
  static absl::StatusOr<std::unique_ptr<AuthPolicy>> Create(
      AuthRequirement default_requirement,
      const std::vector<std::string>& rules);

  // `path` raw, without the query.
  const AuthRequirement& RequirementFor(absl::string_view http_method,
                                        absl::string_view path) const;

 private:
  AuthPolicy() = default;

  AuthRequirement default_;
  std::vector<AuthRequirement> requirements_;  // by route index
  std::shared_ptr<const RouteTable> table_;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_AUTH_POLICY_H_
