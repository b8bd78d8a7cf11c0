#include "gateway/request_guard.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "gateway/http_header_value.h"
#include "status/status_mapping.h"

namespace stubmesh::gateway {
namespace {

namespace http = boost::beast::http;

// Metadata keys the guard sets from verified claims (as the gateway's
// Grpc-Metadata-<key> request headers, which it turns into metadata).
constexpr absl::string_view kUserIdHeader = "Grpc-Metadata-x-user-id";
constexpr absl::string_view kScopesHeader = "Grpc-Metadata-x-user-scopes";

absl::string_view View(boost::beast::string_view s) {
  return {s.data(), s.size()};
}
boost::beast::string_view Beast(absl::string_view s) {
  return {s.data(), s.size()};
}

HttpResponse ErrorResponse(const absl::Status& status) {
  HttpResponse response(
      static_cast<http::status>(HttpStatusFromCode(status.code())), 11);
  response.set(http::field::content_type, "application/json");
  response.body() = JsonErrorBody(status);
  return response;
}

// A quoted-string parameter value of WWW-Authenticate.
std::string Quoted(absl::string_view text) {
  std::string out = absl::StrReplaceAll(text, {{"\"", "'"}, {"\\", "/"}});
  return absl::StrCat("\"", out, "\"");
}

// Adds the CORS headers of an allowed origin to whatever answers.
class CorsSink final : public HttpResponder::Sink {
 public:
  CorsSink(HttpResponder inner, std::shared_ptr<const CorsPolicy> cors,
           std::string origin)
      : inner_(std::move(inner)),
        cors_(std::move(cors)),
        origin_(std::move(origin)) {}

  void Respond(HttpResponse response) override {
    cors_->AddResponseHeaders(origin_, &response);
    inner_.Respond(std::move(response));
  }
  std::shared_ptr<HttpStream> StartStream(HttpResponse head) override {
    cors_->AddResponseHeaders(origin_, &head);
    return inner_.StartStream(std::move(head));
  }
  const boost::asio::ip::address& client_address() const override {
    return inner_.client_address();
  }

 private:
  HttpResponder inner_;
  std::shared_ptr<const CorsPolicy> cors_;
  std::string origin_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RequestGuard>> RequestGuard::Create(
    RequestGuardOptions options, HttpHandler next) {
  if ((options.jwt == nullptr) != (options.auth == nullptr)) {
    return absl::InvalidArgumentError(
        "request guard: a JWT verifier and an auth policy go together");
  }
  if (options.jwt == nullptr && options.cors == nullptr &&
      options.rate_limiter == nullptr) {
    return absl::InvalidArgumentError(
        "request guard: nothing to guard (no CORS, rate limit or JWT)");
  }
  return std::unique_ptr<RequestGuard>(
      new RequestGuard(std::move(options), std::move(next)));
}

RequestGuard::RequestGuard(RequestGuardOptions options, HttpHandler next)
    : options_(std::move(options)), next_(std::move(next)) {
  if (options_.metrics != nullptr) {
    rejections_ = &prometheus::BuildCounter()
                       .Name("gateway_guard_rejections_total")
                       .Help(
                           "Requests the gateway refused before routing, by "
                           "reason.")
                       .Register(*options_.metrics);
  }
}

void RequestGuard::Answer(const Answering& answering, const std::string& route,
                          HttpResponse response) const {
  if (options_.accounting != nullptr) {
    options_.accounting->Answered(route, answering.method, answering.start,
                                  answering.request_id, &response);
  } else {
    response.set(kRequestIdHeader, Beast(answering.request_id));
  }
  answering.respond(std::move(response));
}

void RequestGuard::Reject(const Answering& answering, const std::string& reason,
                          HttpResponse response) const {
  if (rejections_ != nullptr)
    rejections_->Add({{"reason", reason}}).Increment();
  Answer(answering, kRejectedRoute, std::move(response));
}

void RequestGuard::Handle(HttpRequest request, HttpResponder respond) const {
  const absl::Time start = absl::Now();
  std::string request_id = RequestAccounting::AssignRequestId(&request);
  if (options_.cors != nullptr) {
    absl::string_view origin = View(request[http::field::origin]);
    if (options_.cors->OriginAllowed(origin)) {
      respond = HttpResponder(std::make_shared<CorsSink>(
          std::move(respond), options_.cors, std::string(origin)));
    }
  }

  const Answering answering{
      respond, std::move(request_id),
      RequestAccounting::MethodLabel(View(request.method_string())), start};

  if (options_.rate_limiter != nullptr) {
    RateDecision decision =
        options_.rate_limiter->Admit(respond.client_address(), absl::Now());
    if (!decision.allowed) {
      int64_t seconds = std::max<int64_t>(
          1, static_cast<int64_t>(
                 std::ceil(absl::ToDoubleSeconds(decision.retry_after))));
      HttpResponse response =
          ErrorResponse(absl::ResourceExhaustedError(absl::StrCat(
              "rate limit exceeded for ", respond.client_address().to_string(),
              "; retry after ", seconds, " s")));
      response.set(http::field::retry_after, std::to_string(seconds));
      Reject(answering, "rate_limited", std::move(response));
      return;
    }
  }

  if (options_.cors != nullptr && CorsPolicy::IsPreflight(request)) {
    CorsPreflight preflight = options_.cors->Preflight(request);
    if (!preflight.allowed) {
      Reject(answering, "cors_preflight",
             ErrorResponse(absl::PermissionDeniedError(
                 absl::StrCat("CORS preflight refused: ", preflight.why))));
      return;
    }
    HttpResponse response(http::status::no_content, 11);
    for (const auto& [name, value] : preflight.headers) {
      response.set(Beast(name), Beast(value));
    }
    Answer(answering, kPreflightRoute, std::move(response));
    return;
  }

  if (options_.jwt == nullptr) {
    next_(std::move(request), std::move(respond));
    return;
  }
  // Claims reach the backend only from a verified token.
  request.erase(Beast(kUserIdHeader));
  request.erase(Beast(kScopesHeader));

  absl::string_view target = View(request.target());
  absl::string_view path = target.substr(0, target.find('?'));
  const AuthRequirement& requirement =
      options_.auth->RequirementFor(View(request.method_string()), path);
  if (!requirement.token_required) {
    next_(std::move(request), std::move(respond));
    return;
  }

  const std::string realm =
      absl::StrCat("Bearer realm=", Quoted(options_.realm));
  auto unauthenticated = [&](absl::string_view error, std::string message) {
    HttpResponse response = ErrorResponse(absl::UnauthenticatedError(message));
    response.set(http::field::www_authenticate,
                 error.empty()
                     ? realm
                     : absl::StrCat(realm, ", error=\"", error,
                                    "\", error_description=", Quoted(message)));
    Reject(answering, "unauthenticated", std::move(response));
  };
  auto [first, last] = request.equal_range(http::field::authorization);
  if (first == last) {
    unauthenticated("", "missing bearer token (Authorization: Bearer <JWT>)");
    return;
  }
  if (std::next(first) != last) {
    HttpResponse response = ErrorResponse(absl::InvalidArgumentError(
        "header 'Authorization': sent more than once"));
    response.set(http::field::www_authenticate,
                 absl::StrCat(realm, ", error=\"invalid_request\""));
    Reject(answering, "invalid_request", std::move(response));
    return;
  }
  absl::string_view credentials =
      absl::StripAsciiWhitespace(View(first->value()));
  if (credentials.size() < 7 ||
      !absl::StartsWithIgnoreCase(credentials, "Bearer ")) {
    // Another scheme (Basic, ...): no bearer token was offered.
    unauthenticated("", "header 'Authorization': not a Bearer token");
    return;
  }
  absl::string_view token = absl::StripAsciiWhitespace(credentials.substr(7));
  absl::StatusOr<JwtClaims> claims = options_.jwt->Verify(token, absl::Now());
  if (!claims.ok()) {
    unauthenticated("invalid_token", std::string(claims.status().message()));
    return;
  }
  if (!IsPrintableAscii(claims->subject)) {
    unauthenticated("invalid_token",
                    "token claim 'sub' is not printable ASCII");
    return;
  }
  std::vector<std::string> missing;
  for (const std::string& scope : requirement.scopes) {
    if (std::find(claims->scopes.begin(), claims->scopes.end(), scope) ==
        claims->scopes.end()) {
      missing.push_back(scope);
    }
  }
  if (!missing.empty()) {
    std::string needed = absl::StrJoin(requirement.scopes, " ");
    HttpResponse response = ErrorResponse(absl::PermissionDeniedError(
        absl::StrCat("token lacks scope: ", absl::StrJoin(missing, " "))));
    response.set(http::field::www_authenticate,
                 absl::StrCat(realm, ", error=\"insufficient_scope\", scope=",
                              Quoted(needed)));
    Reject(answering, "insufficient_scope", std::move(response));
    return;
  }
  if (!claims->subject.empty()) {
    request.set(Beast(kUserIdHeader), Beast(claims->subject));
  }
  std::string scopes = absl::StrJoin(claims->scopes, " ");
  if (!scopes.empty() && IsPrintableAscii(scopes)) {
    request.set(Beast(kScopesHeader), scopes);
  }
  next_(std::move(request), std::move(respond));
}

}  // namespace stubmesh::gateway
