#include "gateway/cors_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace stubmesh::gateway {
namespace {

absl::string_view View(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

bool IsOrigin(absl::string_view origin) {
  absl::string_view rest = origin;
  if (!absl::ConsumePrefix(&rest, "https://") &&
      !absl::ConsumePrefix(&rest, "http://")) {
    return false;
  }
  if (rest.empty()) return false;
  for (char c : rest) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']') {
      return false;  // no path, query, user info or spaces
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CorsPolicy>> CorsPolicy::Create(
    const CorsOptions& options) {
  if (options.allowed_origins.empty()) {
    return absl::InvalidArgumentError(
        "CORS: allowed origins: give at least one (or *)");
  }
  for (const std::string& origin : options.allowed_origins) {
    if (origin != "*" && !IsOrigin(origin)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CORS: allowed origin '", origin,
          "' is not scheme://host[:port] (e.g. https://app.example) or *"));
    }
  }
  if (options.max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("CORS: max age must not be negative");
  }
  return std::unique_ptr<CorsPolicy>(new CorsPolicy(options));
}

CorsPolicy::CorsPolicy(const CorsOptions& options) : options_(options) {
  for (const std::string& origin : options.allowed_origins) {
    if (origin == "*") any_origin_ = true;
    origins_.insert(absl::AsciiStrToLower(origin));
  }
  for (const std::string& method : options.allowed_methods) {
    methods_.insert(method);
  }
  for (const std::string& header : options.allowed_headers) {
    headers_.insert(absl::AsciiStrToLower(header));
  }
  methods_joined_ = absl::StrJoin(options.allowed_methods, ", ");
  headers_joined_ = absl::StrJoin(options.allowed_headers, ", ");
  exposed_joined_ = absl::StrJoin(options.exposed_headers, ", ");
}

bool CorsPolicy::IsPreflight(const HttpRequest& request) {
  return request.method() == boost::beast::http::verb::options &&
         request.find(boost::beast::http::field::origin) != request.end() &&
         request.find(
             boost::beast::http::field::access_control_request_method) !=
             request.end();
}

bool CorsPolicy::OriginAllowed(absl::string_view origin) const {
  if (origin.empty()) return false;
  return any_origin_ || origins_.contains(absl::AsciiStrToLower(origin));
}

CorsPreflight CorsPolicy::Preflight(const HttpRequest& request) const {
  namespace http = boost::beast::http;
  CorsPreflight out;
  absl::string_view origin = View(request[http::field::origin]);
  if (!OriginAllowed(origin)) {
    out.why =
        absl::StrCat("origin '", origin.substr(0, 128), "' is not allowed");
    return out;
  }
  absl::string_view method =
      View(request[http::field::access_control_request_method]);
  if (!methods_.contains(method)) {
    out.why = absl::StrCat("method '", method.substr(0, 32),
                           "' is not allowed; allowed: ", methods_joined_);
    return out;
  }
  for (absl::string_view header : absl::StrSplit(
           View(request[http::field::access_control_request_headers]), ',',
           absl::SkipWhitespace())) {
    header = absl::StripAsciiWhitespace(header);
    if (!headers_.contains(absl::AsciiStrToLower(header))) {
      out.why = absl::StrCat("request header '", header.substr(0, 64),
                             "' is not allowed; allowed: ", headers_joined_);
      return out;
    }
  }
  out.allowed = true;
  const bool echo_origin = !any_origin_ || options_.allow_credentials;
  out.headers.emplace_back("Access-Control-Allow-Origin",
                           echo_origin ? std::string(origin) : "*");
  if (options_.allow_credentials) {
    out.headers.emplace_back("Access-Control-Allow-Credentials", "true");
  }
  out.headers.emplace_back("Access-Control-Allow-Methods", methods_joined_);
  if (!headers_joined_.empty()) {
    out.headers.emplace_back("Access-Control-Allow-Headers", headers_joined_);
  }
  out.headers.emplace_back(
      "Access-Control-Max-Age",
      absl::StrCat(absl::ToInt64Seconds(options_.max_age)));
  out.headers.emplace_back("Vary", "Origin");
  return out;
}

void CorsPolicy::AddResponseHeaders(absl::string_view origin,
                                    HttpResponse* response) const {
  // Caches must not serve one origin's answer to another.
  response->insert(boost::beast::http::field::vary, "Origin");
  if (!OriginAllowed(origin)) return;
  const bool echo_origin = !any_origin_ || options_.allow_credentials;
  response->set(boost::beast::http::field::access_control_allow_origin,
                echo_origin
                    ? boost::beast::string_view(origin.data(), origin.size())
                    : boost::beast::string_view("*"));
  if (options_.allow_credentials) {
    response->set(boost::beast::http::field::access_control_allow_credentials,
                  "true");
  }
  if (!exposed_joined_.empty()) {
    response->set(boost::beast::http::field::access_control_expose_headers,
                  exposed_joined_);
  }
}

}  // namespace stubmesh::gateway
