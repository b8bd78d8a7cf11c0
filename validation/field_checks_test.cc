#include "validation/field_checks.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "gtest/gtest.h"

namespace stubmesh::validation {
namespace {

// The field leads the message and is the one violation of the BadRequest
// detail, whose description is the rest of the message.
MATCHER_P(IsInvalidNaming, field, "") {
  if (arg.code() != absl::StatusCode::kInvalidArgument ||
      arg.message().rfind(std::string(field) + ": ", 0) != 0) {
    return false;
  }
  absl::optional<absl::Cord> payload =
      arg.GetPayload("type.googleapis.com/google.rpc.BadRequest");
  google::rpc::BadRequest bad_request;
  if (!payload.has_value() ||
      !bad_request.ParseFromString(std::string(*payload))) {
    *result_listener << "no BadRequest detail";
    return false;
  }
  return bad_request.field_violations_size() == 1 &&
         bad_request.field_violations(0).field() == field &&
         bad_request.field_violations(0).description() ==
             arg.message().substr(std::string(field).size() + 2);
}

TEST(FieldChecksTest, PositiveId) {
  EXPECT_TRUE(CheckPositiveId("id", 1).ok());
  EXPECT_THAT(CheckPositiveId("id", 0), IsInvalidNaming("id"));
  EXPECT_THAT(CheckPositiveId("order.user_id", -5),
              IsInvalidNaming("order.user_id"));
}

TEST(FieldChecksTest, UnsetId) {
  EXPECT_TRUE(CheckUnsetId("user.id", 0).ok());
  EXPECT_THAT(CheckUnsetId("user.id", 3), IsInvalidNaming("user.id"));
}

TEST(FieldChecksTest, TextCountsCodePointsNotBytes) {
  EXPECT_TRUE(CheckText("user.name", "Zoë", 1, 3).ok());
  EXPECT_TRUE(CheckText("user.name", "张三", 1, 2).ok());
  EXPECT_THAT(CheckText("user.name", "张三丰", 1, 2),
              IsInvalidNaming("user.name"));
  EXPECT_THAT(CheckText("user.name", "", 1, 200), IsInvalidNaming("user.name"));
}

TEST(FieldChecksTest, TextRefusesBadUtf8AndControls) {
  for (std::string bad : {std::string("\xff"), std::string("a\xc3"),
                          std::string("\xc0\xaf"),          // overlong '/'
                          std::string("\xed\xa0\x80"),      // surrogate
                          std::string("\xf4\x90\x80\x80"),  // > U+10FFFF
                          std::string("a\nb"), std::string("a\0b", 3)}) {
    EXPECT_THAT(CheckText("user.name", bad, 1, 200),
                IsInvalidNaming("user.name"))
        << bad;
  }
}

TEST(FieldChecksTest, IsValidUtf8AllowsControlsButNotBadBytes) {
  EXPECT_TRUE(IsValidUtf8("line\nbreak \xe5\xbc\xa0"));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));
}

TEST(FieldChecksTest, RequestId) {
  EXPECT_TRUE(CheckRequestId("request_id", "").ok());
  EXPECT_TRUE(
      CheckRequestId("request_id", "0b7c6f7e-5a47-4c6e-9d9b-3f3c2a1e0f00")
          .ok());
  EXPECT_THAT(CheckRequestId("request_id", "has space"),
              IsInvalidNaming("request_id"));
  EXPECT_THAT(CheckRequestId("request_id", std::string(129, 'a')),
              IsInvalidNaming("request_id"));
}

TEST(FieldChecksTest, Email) {
  EXPECT_TRUE(CheckEmail("user.email", "ada@example.com").ok());
  EXPECT_TRUE(CheckEmail("user.email", "a.b+c@sub.example.org").ok());
  for (const char* bad :
       {"", "ada", "@example.com", "ada@", "a@b@c", "ada @example.com",
        "ada@example..com", "ada@.example.com"}) {
    EXPECT_THAT(CheckEmail("user.email", bad), IsInvalidNaming("user.email"))
        << bad;
  }
  EXPECT_THAT(CheckEmail("user.email", std::string(250, 'a') + "@b.co"),
              IsInvalidNaming("user.email"));
}

}  // namespace
}  // namespace stubmesh::validation
