#ifndef STUBMESH_USER_SVC_USER_REQUEST_VALIDATION_H_
#define STUBMESH_USER_SVC_USER_REQUEST_VALIDATION_H_

// Validation of UserService requests, before anything touches the store.
// Every error is INVALID_ARGUMENT and starts with the field path.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::Status s = ValidateCreateUser(request);
//   if (!s.ok()) return reactor->Finish(ToGrpcStatus(s)), reactor;

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stubmesh/user/v1/user_service.pb.h"
#include "user_svc/user_store.h"

namespace stubmesh::user {

inline constexpr int kMaxNameChars = 200;

absl::Status ValidateCreateUser(const v1::CreateUserRequest& request);

// Resolves the update mask into the changes to make: the named paths, or
// with an empty mask every field set (non-empty) in `request.user()`.
absl::StatusOr<UserChanges> ResolveUserChanges(
    const v1::UpdateUserRequest& request);

}  // namespace stubmesh::user

#endif  // STUBMESH_USER_SVC_USER_REQUEST_VALIDATION_H_
