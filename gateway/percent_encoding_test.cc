#include "gateway/percent_encoding.h"

#include <string>

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

TEST(PercentEncodingTest, HexDigits) {
  EXPECT_EQ(HexDigitValue('0'), 0);
  EXPECT_EQ(HexDigitValue('f'), 15);
  EXPECT_EQ(HexDigitValue('A'), 10);
  EXPECT_EQ(HexDigitValue('g'), -1);
}

TEST(PercentEncodingTest, DecodeWithAndWithoutPlus) {
  std::string out;
  ASSERT_TRUE(PercentDecode("a+b%20c%2F", false, &out));
  EXPECT_EQ(out, "a+b c/");
  ASSERT_TRUE(PercentDecode("a+b", true, &out));
  EXPECT_EQ(out, "a b");
}

TEST(PercentEncodingTest, MalformedEscapes) {
  std::string out;
  for (const char* bad : {"%", "%4", "a%zz", "%g0"}) {
    EXPECT_FALSE(PercentDecode(bad, false, &out)) << bad;
  }
}

TEST(PercentEncodingTest, AppendKeepsEncodedSlashWhenAsked) {
  std::string out;
  AppendPercentDecoded("a%2Fb%2fc%20d", /*keep_encoded_slash=*/true, &out);
  EXPECT_EQ(out, "a%2Fb%2fc d");
  out.clear();
  AppendPercentDecoded("a%2Fb", /*keep_encoded_slash=*/false, &out);
  EXPECT_EQ(out, "a/b");
}

}  // namespace
}  // namespace stubmesh::gateway
