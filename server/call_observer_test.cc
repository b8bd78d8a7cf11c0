#include "server/call_observer.h"

#include <string>

#include "gtest/gtest.h"

namespace stubmesh::server {
namespace {

TEST(RequestIdForLogTest, KeepsPrintableIdsAndDashesTheRest) {
  EXPECT_EQ(RequestIdForLog("r-1"), "r-1");
  EXPECT_EQ(RequestIdForLog("4bf92f3577b34da6a3ce929d0e0e4736"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(RequestIdForLog(std::string(128, 'a')), std::string(128, 'a'));
  EXPECT_EQ(RequestIdForLog(""), "-");
  EXPECT_EQ(RequestIdForLog(std::string(129, 'a')), "-");
  EXPECT_EQ(RequestIdForLog("two words"), "-");
  EXPECT_EQ(RequestIdForLog("line\nbreak"), "-");
  EXPECT_EQ(RequestIdForLog("tab\t"), "-");
  EXPECT_EQ(RequestIdForLog("caf\xc3\xa9"), "-");
  EXPECT_EQ(RequestIdForLog(std::string("nul\0", 4)), "-");
}

TEST(TraceIdForLogTest, TakesTheTraceIdOfAWellFormedTraceparent) {
  EXPECT_EQ(
      TraceIdForLog("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
      "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(
      TraceIdForLog("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
      "4bf92f3577b34da6a3ce929d0e0e4736");
  // A later version may add fields; the first four still count.
  EXPECT_EQ(TraceIdForLog(
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"),
            "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(SpanIdForLogTest, TakesTheSpanIdOrADash) {
  EXPECT_EQ(
      SpanIdForLog("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
      "00f067aa0ba902b7");
  EXPECT_EQ(SpanIdForLog(""), "-");
  EXPECT_EQ(SpanIdForLog("00-4bf92f3577b34da6a3ce929d0e0e4736-zz-01"), "-");
}

TEST(TraceIdForLogTest, DashesWhatIsAbsentOrMalformed) {
  for (const char* bad : {
           "",
           "garbage",
           // Too short, too long, upper case, all zero.
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
           // Missing flags; version 00 with extra fields; version ff.
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9 2b7-01",
       }) {
    EXPECT_EQ(TraceIdForLog(bad), "-") << bad;
  }
}

}  // namespace
}  // namespace stubmesh::server
