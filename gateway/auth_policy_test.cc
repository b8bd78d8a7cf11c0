#include "gateway/auth_policy.h"

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

std::unique_ptr<AuthPolicy> Policy(
    std::vector<std::string> rules,
    AuthRequirement def = AuthRequirement::Token()) {
  auto policy = AuthPolicy::Create(def, rules);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

TEST(AuthPolicyTest, MethodRulesBeatAnyMethodRulesAndDefaultsApply) {
  auto policy = Policy(
      {"GET /v1/users/*=users.read", "/v1/users/**=users.admin",
       "POST|DELETE /v1/users/{id}=users.write extra", "/v1/public/**=public"});
  EXPECT_EQ(policy->RequirementFor("GET", "/v1/users/7").scopes,
            std::vector<std::string>{"users.read"});
  EXPECT_EQ(policy->RequirementFor("DELETE", "/v1/users/7").scopes,
            (std::vector<std::string>{"users.write", "extra"}));
  EXPECT_EQ(policy->RequirementFor("PATCH", "/v1/users/7").scopes,
            std::vector<std::string>{"users.admin"});
  EXPECT_EQ(policy->RequirementFor("GET", "/v1/users/7/orders").scopes,
            std::vector<std::string>{"users.admin"});
  EXPECT_FALSE(policy->RequirementFor("PUT", "/v1/public/a/b").token_required);
  const AuthRequirement& other = policy->RequirementFor("GET", "/v1/orders");
  EXPECT_TRUE(other.token_required);
  EXPECT_TRUE(other.scopes.empty());
}

TEST(AuthPolicyTest, ProbesArePublicEvenWhenTheDefaultIsNot) {
  auto policy = Policy({});
  EXPECT_FALSE(policy->RequirementFor("GET", "/healthz").token_required);
  EXPECT_FALSE(policy->RequirementFor("GET", "/readyz").token_required);
  EXPECT_TRUE(policy->RequirementFor("GET", "/metrics").token_required);
}

TEST(AuthPolicyTest, PublicDefaultWithOneProtectedRoute) {
  auto policy = Policy({"/v1/admin/**=admin"}, AuthRequirement::Public());
  EXPECT_FALSE(policy->RequirementFor("GET", "/v1/users").token_required);
  EXPECT_EQ(policy->RequirementFor("GET", "/v1/admin/x").scopes,
            std::vector<std::string>{"admin"});
}

TEST(AuthPolicyTest, EncodedPathsMatchAsTheGatewayDecodesThem) {
  auto policy = Policy({"/v1/admin/**=admin"}, AuthRequirement::Public());
  // %61 is 'a': the route table decodes literal segments, and so must the
  // policy, or this would slip to the public default.
  EXPECT_EQ(policy->RequirementFor("GET", "/v1/%61dmin/x").scopes,
            std::vector<std::string>{"admin"});
}

TEST(AuthPolicyTest, BadRulesAreNamed) {
  for (const char* bad : {"/v1/users", "/v1/users=", "get /v1/users=public",
                          "GET v1/users=public", "GET /v1/{id=**}/x=public"}) {
    absl::Status s =
        AuthPolicy::Create(AuthRequirement::Token(), {bad}).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find(bad), absl::string_view::npos) << s;
  }
  EXPECT_EQ(AuthPolicy::Create(AuthRequirement::Token(),
                               {"GET /v1/a/*=x", "GET /v1/a/{id}=y"})
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(AuthPolicyTest, VariableTemplatesWithEqualsParse) {
  auto policy = Policy({"GET /v1/{name=shelves/*}=books.read"});
  EXPECT_EQ(policy->RequirementFor("GET", "/v1/shelves/3").scopes,
            std::vector<std::string>{"books.read"});
}

}  // namespace
}  // namespace stubmesh::gateway
