#include "gateway/auth_policy.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stubmesh::gateway {
namespace {

// The pseudo-method of rules that name none.
constexpr absl::string_view kAnyMethod = "*";

bool IsMethod(absl::string_view m) {
  if (m.empty()) return false;
  for (char c : m) {
    if (!absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<AuthRequirement> AuthRequirement::Parse(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text == "public") return Public();
  if (text == "token") return Token();
  AuthRequirement requirement = Token();
  for (absl::string_view scope : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    requirement.scopes.emplace_back(scope);
  }
  if (requirement.scopes.empty()) {
    return absl::InvalidArgumentError(
        "requirement is empty; say public, token, or the scopes needed");
  }
  return requirement;
}

absl::StatusOr<std::unique_ptr<AuthPolicy>> AuthPolicy::Create(
    AuthRequirement default_requirement,
    const std::vector<std::string>& rules) {
  std::unique_ptr<AuthPolicy> policy(new AuthPolicy());
  policy->default_ = std::move(default_requirement);
  RouteTableBuilder builder;
  std::vector<std::string> always_public = {"/healthz=public",
                                            "/readyz=public"};
  std::vector<std::string> all = always_public;
  all.insert(all.end(), rules.begin(), rules.end());
  for (const std::string& rule : all) {
    auto bad = [&rule](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("auth rule '", rule, "': ", why,
                       " (write [METHODS ]PATH=public|token|SCOPES, e.g. "
                       "'GET /v1/users/*=users.read')"));
    };
    // The path may hold '=' only inside {var=...}: the requirement starts at
    // the first '=' after the last '}'.
    size_t brace = rule.rfind('}');
    size_t equals = rule.find('=', brace == std::string::npos ? 0 : brace);
    if (equals == std::string::npos) return bad("no '='");
    absl::string_view head =
        absl::StripAsciiWhitespace(absl::string_view(rule).substr(0, equals));
    absl::StatusOr<AuthRequirement> requirement =
        AuthRequirement::Parse(absl::string_view(rule).substr(equals + 1));
    if (!requirement.ok()) return bad(requirement.status().message());
    std::vector<std::string> methods;
    absl::string_view path = head;
    if (size_t space = head.find(' '); space != absl::string_view::npos) {
      path = absl::StripAsciiWhitespace(head.substr(space + 1));
      for (absl::string_view m : absl::StrSplit(head.substr(0, space), '|')) {
        if (m == kAnyMethod) {
          methods.emplace_back(kAnyMethod);
        } else if (IsMethod(m)) {
          methods.emplace_back(m);
        } else {
          return bad(
              absl::StrCat("'", m, "' is not an upper-case HTTP method"));
        }
      }
    } else {
      methods.emplace_back(kAnyMethod);
    }
    int index = static_cast<int>(policy->requirements_.size());
    policy->requirements_.push_back(*std::move(requirement));
    for (const std::string& method : methods) {
      absl::Status s = builder.Add(method, path, index, rule);
      if (s.code() == absl::StatusCode::kInvalidArgument) {
        return bad(s.message());
      }
      if (!s.ok()) return s;
    }
  }
  policy->table_ = builder.Build();
  return policy;
}

const AuthRequirement& AuthPolicy::RequirementFor(
    absl::string_view http_method, absl::string_view path) const {
  std::optional<RouteMatch> match = table_->Match(http_method, path);
  if (!match) match = table_->Match(kAnyMethod, path);
  return match ? requirements_[match->route_index] : default_;
}

}  // namespace stubmesh::gateway
