#include "storage/pagination.h"

#include "gtest/gtest.h"

namespace stubmesh::storage {
namespace {

TEST(PaginationTest, PageSizeDefaultsAndCaps) {
  EXPECT_EQ(ParsePageRequest(0, "", "users")->limit, kDefaultPageSize);
  EXPECT_EQ(ParsePageRequest(7, "", "users")->limit, 7);
  EXPECT_EQ(ParsePageRequest(5000, "", "users")->limit, kMaxPageSize);
  EXPECT_EQ(ParsePageRequest(0, "", "users")->after_id, 0);
}

TEST(PaginationTest, NegativePageSizeNamesTheField) {
  absl::StatusOr<PageRequest> page = ParsePageRequest(-1, "", "users");
  ASSERT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(page.status().message().find("page_size"), std::string::npos);
}

TEST(PaginationTest, TokenRoundTrips) {
  std::string token = EncodePageToken("orders/user=3", 41);
  absl::StatusOr<PageRequest> page = ParsePageRequest(2, token, "orders/user=3");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->after_id, 41);
  EXPECT_EQ(page->limit, 2);
}

TEST(PaginationTest, TokenOfAnotherScopeIsRefused) {
  std::string token = EncodePageToken("orders/user=3", 41);
  absl::StatusOr<PageRequest> page = ParsePageRequest(2, token, "orders/user=4");
  ASSERT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(page.status().message().find("page_token"), std::string::npos);
}

TEST(PaginationTest, GarbageTokensAreRefused) {
  for (const char* token : {"x", "!!!!", "cDF8dXNlcnN8LTE",  // p1|users|-1
                            "cDF8dXNlcnN8YWJj"}) {             // p1|users|abc
    EXPECT_EQ(ParsePageRequest(0, token, "users").status().code(),
              absl::StatusCode::kInvalidArgument)
        << token;
  }
  EXPECT_EQ(ParsePageRequest(0, std::string(600, 'A'), "users").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stubmesh::storage
