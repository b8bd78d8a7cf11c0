#include "gateway/url_encoded_form.h"

#include <string>

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

TEST(UrlEncodedFormTest, SplitsAndDecodes) {
  absl::StatusOr<std::vector<FormField>> fields =
      ParseUrlEncoded("id=1&name=Ada+L%C3%B6we&&flag&x=a%3Db%26c");
  ASSERT_TRUE(fields.ok()) << fields.status();
  ASSERT_EQ(fields->size(), 4u);
  EXPECT_EQ((*fields)[0].name, "id");
  EXPECT_EQ((*fields)[0].value, "1");
  EXPECT_EQ((*fields)[1].value, "Ada L\xc3\xb6we");
  EXPECT_EQ((*fields)[2].name, "flag");
  EXPECT_EQ((*fields)[2].value, "");
  EXPECT_EQ((*fields)[3].value, "a=b&c");
}

TEST(UrlEncodedFormTest, RepeatedNamesKeepTheirOrder) {
  absl::StatusOr<std::vector<FormField>> fields = ParseUrlEncoded("a=1&a=2");
  ASSERT_TRUE(fields.ok());
  ASSERT_EQ(fields->size(), 2u);
  EXPECT_EQ((*fields)[1].value, "2");
}

TEST(UrlEncodedFormTest, Refusals) {
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "=1", "a=%ff", "%c3=1"}) {
    absl::StatusOr<std::vector<FormField>> fields = ParseUrlEncoded(bad);
    EXPECT_EQ(fields.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(UrlEncodedFormTest, TooManyFields) {
  std::string many;
  for (int i = 0; i < 300; ++i) many += "a=1&";
  EXPECT_EQ(ParseUrlEncoded(many).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseUrlEncoded(many, 1000).ok());
}

}  // namespace
}  // namespace stubmesh::gateway
