#include "gateway/http_header_value.h"

#include <string>

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

TEST(IsPrintableAsciiTest, TakesSpaceAndVisibleAscii) {
  EXPECT_TRUE(IsPrintableAscii(""));
  EXPECT_TRUE(IsPrintableAscii("Bearer abc.def-ghi_~"));
  EXPECT_TRUE(IsPrintableAscii(" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"));
}

TEST(IsPrintableAsciiTest, RefusesControlsDelAndNonAscii) {
  for (const std::string& bad :
       {std::string("tab\there"), std::string("line\r\nbreak"),
        std::string("nul\0", 4), std::string("del\x7f"),
        std::string("caf\xc3\xa9"), std::string("\x80"), std::string("\xff")}) {
    EXPECT_FALSE(IsPrintableAscii(bad)) << bad;
  }
}

}  // namespace
}  // namespace stubmesh::gateway
