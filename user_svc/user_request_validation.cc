#include "user_svc/user_request_validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "validation/field_checks.h"

namespace stubmesh::user {

using ::stubmesh::validation::CheckEmail;
using ::stubmesh::validation::CheckPositiveId;
using ::stubmesh::validation::CheckRequestId;
using ::stubmesh::validation::CheckText;
using ::stubmesh::validation::CheckUnsetId;
using ::stubmesh::validation::InvalidFieldError;

absl::Status ValidateCreateUser(const v1::CreateUserRequest& request) {
  absl::Status s = CheckRequestId("request_id", request.request_id());
  if (!s.ok()) return s;
  if (!request.has_user()) return InvalidFieldError("user", "is required");
  const v1::User& user = request.user();
  s = CheckUnsetId("user.id", user.id());
  if (!s.ok()) return s;
  // Silently dropping them would let a client believe it set them.
  if (user.has_create_time()) {
    return InvalidFieldError("user.create_time",
                             "is set by the server; leave it unset");
  }
  if (user.has_update_time()) {
    return InvalidFieldError("user.update_time",
                             "is set by the server; leave it unset");
  }
  s = CheckText("user.name", user.name(), 1, kMaxNameChars);
  if (s.ok()) s = CheckEmail("user.email", user.email());
  return s;
}

absl::StatusOr<UserChanges> ResolveUserChanges(
    const v1::UpdateUserRequest& request) {
  absl::Status s = CheckPositiveId("user.id", request.user().id());
  if (!s.ok()) return s;
  const v1::User& user = request.user();
  UserChanges changes;
  if (request.update_mask().paths().empty()) {
    if (!user.name().empty()) changes.name = user.name();
    if (!user.email().empty()) changes.email = user.email();
    if (!changes.name && !changes.email) {
      return InvalidFieldError(
          "update_mask",
          "nothing to update (set user.name or user.email, or name them in "
          "update_mask)");
    }
  } else {
    for (const std::string& path : request.update_mask().paths()) {
      if (path == "name") {
        changes.name = user.name();
      } else if (path == "email") {
        changes.email = user.email();
      } else {
        return InvalidFieldError(
            "update_mask",
            absl::StrCat("'", path,
                         "' is not a field that can be updated (name, email)"));
      }
    }
  }
  if (changes.name) {
    s = CheckText("user.name", *changes.name, 1, kMaxNameChars);
    if (!s.ok()) return s;
  }
  if (changes.email) {
    s = CheckEmail("user.email", *changes.email);
    if (!s.ok()) return s;
  }
  return changes;
}

}  // namespace stubmesh::user
