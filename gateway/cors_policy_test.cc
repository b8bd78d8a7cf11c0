#include "gateway/cors_policy.h"

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

namespace http = boost::beast::http;

HttpRequest PreflightRequest(const std::string& origin,
                             const std::string& method,
                             const std::string& headers = "") {
  HttpRequest request(http::verb::options, "/v1/users", 11);
  request.set(http::field::origin, origin);
  request.set(http::field::access_control_request_method, method);
  if (!headers.empty()) {
    request.set(http::field::access_control_request_headers, headers);
  }
  return request;
}

std::string HeaderOf(const CorsPreflight& p, const std::string& name) {
  for (const auto& [key, value] : p.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

std::unique_ptr<CorsPolicy> Policy(CorsOptions options) {
  auto policy = CorsPolicy::Create(options);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

TEST(CorsPolicyTest, PreflightFromAnAllowedOriginGetsTheLists) {
  CorsOptions options;
  options.allowed_origins = {"https://app.example"};
  auto policy = Policy(options);
  CorsPreflight p = policy->Preflight(PreflightRequest(
      "https://APP.example", "DELETE", "authorization, Content-Type"));
  ASSERT_TRUE(p.allowed) << p.why;
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Origin"), "https://APP.example");
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Methods"),
            "GET, HEAD, POST, PUT, PATCH, DELETE");
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Headers"),
            "Authorization, Content-Type, X-Request-Id, Grpc-Timeout");
  EXPECT_EQ(HeaderOf(p, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Credentials"), "<absent>");
  EXPECT_EQ(HeaderOf(p, "Vary"), "Origin");
}

TEST(CorsPolicyTest, PreflightRefusalsSayWhy) {
  CorsOptions options;
  options.allowed_origins = {"https://app.example"};
  options.allowed_methods = {"GET"};
  auto policy = Policy(options);
  CorsPreflight p =
      policy->Preflight(PreflightRequest("https://evil.example", "GET"));
  EXPECT_FALSE(p.allowed);
  EXPECT_NE(p.why.find("origin"), std::string::npos);
  EXPECT_TRUE(p.headers.empty());
  p = policy->Preflight(PreflightRequest("https://app.example", "POST"));
  EXPECT_FALSE(p.allowed);
  EXPECT_NE(p.why.find("method 'POST'"), std::string::npos);
  p = policy->Preflight(
      PreflightRequest("https://app.example", "GET", "X-Secret"));
  EXPECT_FALSE(p.allowed);
  EXPECT_NE(p.why.find("'X-Secret'"), std::string::npos);
  // Methods are case-sensitive.
  EXPECT_FALSE(policy->Preflight(PreflightRequest("https://app.example", "get"))
                   .allowed);
}

TEST(CorsPolicyTest, AnyOriginIsStarWithoutCredentialsAndEchoedWithThem) {
  CorsOptions options;
  options.allowed_origins = {"*"};
  auto any = Policy(options);
  EXPECT_EQ(HeaderOf(any->Preflight(PreflightRequest("http://x.test", "GET")),
                     "Access-Control-Allow-Origin"),
            "*");
  options.allow_credentials = true;
  auto with_credentials = Policy(options);
  CorsPreflight p =
      with_credentials->Preflight(PreflightRequest("http://x.test", "GET"));
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Origin"), "http://x.test");
  EXPECT_EQ(HeaderOf(p, "Access-Control-Allow-Credentials"), "true");
}

TEST(CorsPolicyTest, ResponsesGetHeadersOnlyForAllowedOrigins) {
  CorsOptions options;
  options.allowed_origins = {"https://app.example", "http://localhost:3000"};
  auto policy = Policy(options);
  HttpResponse allowed(http::status::ok, 11);
  policy->AddResponseHeaders("http://localhost:3000", &allowed);
  EXPECT_EQ(allowed[http::field::access_control_allow_origin],
            "http://localhost:3000");
  EXPECT_EQ(allowed[http::field::access_control_expose_headers],
            "X-Request-Id, Retry-After, WWW-Authenticate");
  EXPECT_EQ(allowed[http::field::vary], "Origin");
  HttpResponse refused(http::status::ok, 11);
  policy->AddResponseHeaders("http://localhost:3001", &refused);
  EXPECT_EQ(refused.find(http::field::access_control_allow_origin),
            refused.end());
  EXPECT_EQ(refused.find(http::field::access_control_expose_headers),
            refused.end());
  EXPECT_EQ(refused[http::field::vary], "Origin");
}

TEST(CorsPolicyTest, IsPreflightNeedsOptionsOriginAndRequestMethod) {
  EXPECT_TRUE(
      CorsPolicy::IsPreflight(PreflightRequest("http://a.test", "GET")));
  HttpRequest plain_options(http::verb::options, "/", 11);
  plain_options.set(http::field::origin, "http://a.test");
  EXPECT_FALSE(CorsPolicy::IsPreflight(plain_options));
  HttpRequest get = PreflightRequest("http://a.test", "GET");
  get.method(http::verb::get);
  EXPECT_FALSE(CorsPolicy::IsPreflight(get));
}

TEST(CorsPolicyTest, CreateRefusesBadOrigins) {
  CorsOptions options;
  EXPECT_EQ(CorsPolicy::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* bad : {"app.example", "https://app.example/path",
                          "ftp://app.example", "https://"}) {
    options.allowed_origins = {bad};
    absl::Status s = CorsPolicy::Create(options).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), absl::string_view::npos) << s;
  }
}

}  // namespace
}  // namespace stubmesh::gateway
