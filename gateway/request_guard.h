#ifndef STUBMESH_GATEWAY_REQUEST_GUARD_H_
#define STUBMESH_GATEWAY_REQUEST_GUARD_H_

// What stands in front of the gateway's handler: per-client rate limit,
// CORS, and bearer JWT authentication, each optional. In order:
//
// 1. CORS: a request from an allowed Origin gets the CORS response headers
//    on whatever answers it (including the refusals below).
// 2. Rate limit by client IP: over it, 429 with Retry-After (seconds).
// 3. CORS preflight: answered here, never reaching a backend: 204 with the
//    policy's headers, or 403 when the origin, method or a header is not
//    allowed (then without CORS headers).
// 4. Authentication (AuthPolicy decides per route): no bearer token, 401
//    with `WWW-Authenticate: Bearer realm="..."`; a bad or expired one, 401
//    with error="invalid_token" and error_description; a missing scope, 403
//    with error="insufficient_scope" and scope="..." (RFC 6750 3). Two
//    Authorization headers are a 400 invalid_request.
//    A verified token's claims go to the backend as gRPC metadata:
//    x-user-id (sub) and x-user-scopes (space-separated). Those keys sent
//    by the client (as Grpc-Metadata-x-user-id, ...) are always dropped, so
//    a backend can trust them whenever authentication is on.
//
// Error bodies are the gateway's google.rpc.Status JSON (status/
// status_mapping): UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// RESOURCE_EXHAUSTED 429, INVALID_ARGUMENT 400.
//
// The request's id is settled here first (RequestAccounting::
// AssignRequestId: the client's X-Request-Id, or a new one set on the
// request for the handler after), and every answer the guard makes carries
// it and is counted and timed in `accounting`: refusals under route
// "rejected", preflights under "preflight".
//
// Thread-safety: Handle is thread-safe.
//
// Example:
//   RequestGuardOptions options;
//   options.jwt = verifier;  options.auth = policy;
//   auto guard = RequestGuard::Create(options, next_handler);
//   HttpServer::Create(http, [g = guard->get()](HttpRequest r, HttpResponder d)
//   {
//     g->Handle(std::move(r), std::move(d));
//   }, ...);

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/auth_policy.h"
#include "gateway/cors_policy.h"
#include "gateway/http_server.h"
#include "gateway/jwt_verifier.h"
#include "gateway/rate_limiter.h"
#include "gateway/request_accounting.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"

namespace stubmesh::gateway {

struct RequestGuardOptions {
  std::shared_ptr<const CorsPolicy> cors;     // null: no CORS headers
  std::shared_ptr<RateLimiter> rate_limiter;  // null: no limit
  std::shared_ptr<const JwtVerifier> jwt;     // null: no authentication
  std::shared_ptr<const AuthPolicy> auth;     // needed with `jwt`
  std::string realm = "stubmesh";
  // Where gateway_guard_rejections_total{reason} is counted; null: nowhere.
  std::shared_ptr<prometheus::Registry> metrics;
  // Where the guard's answers are counted (the gateway's, so that
  // http_requests_total holds every answer); null: not counted.
  std::shared_ptr<RequestAccounting> accounting;
};

class RequestGuard {
 public:
  // INVALID_ARGUMENT when `jwt` is set without `auth` (or the reverse), or
  // nothing is configured at all (then serve `next` directly).
  static absl::StatusOr<std::unique_ptr<RequestGuard>> Create(
      RequestGuardOptions options, HttpHandler next);

  void Handle(HttpRequest request, HttpResponder respond) const;

 private:
  RequestGuard(RequestGuardOptions options, HttpHandler next);
  // What one request's answers need to know.
  struct Answering {
    HttpResponder respond;
    std::string request_id;
    std::string method;  // a MethodLabel
    absl::Time start;
  };
  void Answer(const Answering& answering, const std::string& route,
              HttpResponse response) const;
  void Reject(const Answering& answering, const std::string& reason,
              HttpResponse response) const;

  const RequestGuardOptions options_;
  const HttpHandler next_;
  prometheus::Family<prometheus::Counter>* rejections_ = nullptr;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REQUEST_GUARD_H_
