#include "user_svc/user_request_validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::user {
namespace {

MATCHER_P(IsInvalidNaming, field, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         arg.message().rfind(std::string(field) + ":", 0) == 0;
}

v1::CreateUserRequest ValidCreate() {
  v1::CreateUserRequest request;
  request.mutable_user()->set_name("Ada");
  request.mutable_user()->set_email("ada@example.com");
  request.set_request_id("r-1");
  return request;
}

TEST(ValidateCreateUserTest, AcceptsAValidRequest) {
  EXPECT_TRUE(ValidateCreateUser(ValidCreate()).ok());
}

TEST(ValidateCreateUserTest, NamesTheBadField) {
  v1::CreateUserRequest request = ValidCreate();
  request.clear_user();
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user"));

  request = ValidCreate();
  request.mutable_user()->set_id(5);
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.id"));

  request = ValidCreate();
  request.mutable_user()->clear_name();
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.name"));

  request = ValidCreate();
  request.mutable_user()->set_name(std::string(kMaxNameChars + 1, 'x'));
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.name"));

  request = ValidCreate();
  request.mutable_user()->set_email("not-an-email");
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.email"));

  request = ValidCreate();
  request.mutable_user()->mutable_create_time()->set_seconds(1);
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.create_time"));

  request = ValidCreate();
  request.mutable_user()->mutable_update_time()->set_seconds(1);
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("user.update_time"));

  request = ValidCreate();
  request.set_request_id("has spaces");
  EXPECT_THAT(ValidateCreateUser(request), IsInvalidNaming("request_id"));
}

TEST(ResolveUserChangesTest, EmptyMaskTakesTheSetFields) {
  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(3);
  request.mutable_user()->set_name("New");
  absl::StatusOr<UserChanges> changes = ResolveUserChanges(request);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_EQ(changes->name, "New");
  EXPECT_FALSE(changes->email.has_value());
}

TEST(ResolveUserChangesTest, MaskNamesTheFields) {
  v1::UpdateUserRequest request;
  request.mutable_user()->set_id(3);
  request.mutable_user()->set_name("ignored: not in the mask");
  request.mutable_user()->set_email("new@example.com");
  request.mutable_update_mask()->add_paths("email");
  absl::StatusOr<UserChanges> changes = ResolveUserChanges(request);
  ASSERT_TRUE(changes.ok()) << changes.status();
  EXPECT_FALSE(changes->name.has_value());
  EXPECT_EQ(changes->email, "new@example.com");
}

TEST(ResolveUserChangesTest, Refusals) {
  v1::UpdateUserRequest request;
  request.mutable_user()->set_name("x");
  EXPECT_THAT(ResolveUserChanges(request).status(), IsInvalidNaming("user.id"));

  request.mutable_user()->set_id(3);
  request.mutable_update_mask()->add_paths("create_time");
  EXPECT_THAT(ResolveUserChanges(request).status(),
              IsInvalidNaming("update_mask"));

  request.mutable_update_mask()->Clear();
  request.mutable_update_mask()->add_paths("name");
  request.mutable_user()->clear_name();  // Masked field cleared: invalid name.
  EXPECT_THAT(ResolveUserChanges(request).status(),
              IsInvalidNaming("user.name"));

  v1::UpdateUserRequest nothing;
  nothing.mutable_user()->set_id(3);
  EXPECT_THAT(ResolveUserChanges(nothing).status(),
              IsInvalidNaming("update_mask"));
}

}  // namespace
}  // namespace stubmesh::user
