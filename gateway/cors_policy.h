#ifndef STUBMESH_GATEWAY_CORS_POLICY_H_
#define STUBMESH_GATEWAY_CORS_POLICY_H_

// Cross-origin resource sharing (the Fetch standard's CORS protocol) for
// the gateway: which web origins may call it, with which methods and
// request headers, and which response headers their scripts may read.
//
// A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
// answered from the policy alone. An ordinary request from an allowed
// origin gets Access-Control-Allow-Origin (and -Credentials, -Expose-
// Headers) on its response; from any other origin, no CORS header at all,
// so the browser keeps the answer from the page.
//
// Origins compare exactly (scheme://host[:port], ASCII case-insensitive);
// "*" allows every origin (answered as "*" without credentials, as the
// request's origin with them). Methods compare case-sensitively, header
// names case-insensitively.
//
// Thread-safety: immutable after Create; share as
// std::shared_ptr<const CorsPolicy>.
//
// Example:
//   auto cors = CorsPolicy::Create({.allowed_origins =
//   {"https://app.example"}}); if (IsPreflight(request))
//   respond((*cors)->Preflight(request)); else
//   (*cors)->AddResponseHeaders(origin, &response);

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/http_server.h"

namespace stubmesh::gateway {

struct CorsOptions {
  std::vector<std::string> allowed_origins;  // "*" for any
  std::vector<std::string> allowed_methods = {"GET", "HEAD",  "POST",
                                              "PUT", "PATCH", "DELETE"};
  std::vector<std::string> allowed_headers = {"Authorization", "Content-Type",
                                              "X-Request-Id", "Grpc-Timeout"};
  std::vector<std::string> exposed_headers = {"X-Request-Id", "Retry-After",
                                              "WWW-Authenticate"};
  bool allow_credentials = false;
  absl::Duration max_age = absl::Minutes(10);
};

// What a preflight gets.
struct CorsPreflight {
  bool allowed = false;
  std::string why;  // when not allowed: which part was refused
  // When allowed: the headers of the 204 answer.
  std::vector<std::pair<std::string, std::string>> headers;
};

class CorsPolicy {
 public:
  // INVALID_ARGUMENT when no origin is given or an origin is not
  // scheme://host[:port] (or "*").
  static absl::StatusOr<std::unique_ptr<CorsPolicy>> Create(
      const CorsOptions& options);

  // True for OPTIONS with both Origin and Access-Control-Request-Method.
  static bool IsPreflight(const HttpRequest& request);

  bool OriginAllowed(absl::string_view origin) const;

  // The answer to a preflight `request`.
  CorsPreflight Preflight(const HttpRequest& request) const;

  // Adds the CORS headers of an actual response to a request from
  // `origin`, when that origin is allowed; always adds Vary: Origin.
  void AddResponseHeaders(absl::string_view origin,
                          HttpResponse* response) const;

 private:
  explicit CorsPolicy(const CorsOptions& options);

  const CorsOptions options_;
  bool any_origin_ = false;
  absl::flat_hash_set<std::string> origins_;  // lower case
  absl::flat_hash_set<std::string> methods_;
  absl::flat_hash_set<std::string> headers_;  // lower case
  std::string methods_joined_;
  std::string headers_joined_;
  std::string exposed_joined_;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_CORS_POLICY_H_
