#include "server/call_observer.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "protos/stubmesh/user/v1/user_service.pb.h"
#include "server/server_metrics.h"

namespace stubmesh::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Type = grpc::experimental::ServerRpcInfo::Type;

std::string Scrape(prometheus::Registry& registry) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, registry.Collect());
  return text.str();
}

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

TEST(CallObserversTest, CountsKnownMethodsByNameAndTheRestAsUnknown) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  CallObserverOptions options;
  options.metrics = &metrics;
  // Named through the generated code, so that its descriptor is linked in.
  options.services = {
      user::v1::GetUserRequest::descriptor()->file()->service(0)->full_name(),
      "undescribed.v1.Service"};
  ASSERT_EQ(options.services[0], "stubmesh.user.v1.UserService");
  CallObservers observers(std::move(options));

  ServerMetrics::MethodSeries* get =
      observers.SeriesFor("/stubmesh.user.v1.UserService/GetUser", Type::UNARY);
  ASSERT_NE(get, nullptr);
  get->Started();
  // Found once: the same series again.
  EXPECT_EQ(
      observers.SeriesFor("/stubmesh.user.v1.UserService/GetUser", Type::UNARY),
      get);
  // A method of a served service without a descriptor counts by its name.
  observers.SeriesFor("/undescribed.v1.Service/Anything", Type::UNARY)
      ->Started();
  // Methods nobody serves, and paths of no method, share one series per
  // type.
  ServerMetrics::MethodSeries* unknown = observers.SeriesFor(
      "/stubmesh.user.v1.UserService/Bogus", Type::BIDI_STREAMING);
  ASSERT_NE(unknown, nullptr);
  for (const char* path : {"/stubmesh.user.v1.UserService/Bogus",
                           "/other.v1.Service/GetUser", "garbage", ""}) {
    EXPECT_EQ(observers.SeriesFor(path, Type::BIDI_STREAMING), unknown) << path;
  }
  unknown->Started();
  unknown->Started();
  observers.SeriesFor("/nope.v1.Service/Get", Type::UNARY)->Started();

  const std::string text = Scrape(registry);
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_started_total{)"
                              R"(grpc_method="GetUser",)"
                              R"(grpc_service="stubmesh.user.v1.UserService",)"
                              R"(grpc_type="unary"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_started_total{)"
                              R"(grpc_method="Anything",)"
                              R"(grpc_service="undescribed.v1.Service",)"
                              R"(grpc_type="unary"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_started_total{)"
                              R"(grpc_method="unknown",grpc_service="unknown",)"
                              R"(grpc_type="bidi_stream"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_started_total{)"
                              R"(grpc_method="unknown",grpc_service="unknown",)"
                              R"(grpc_type="unary"} 1)"));
  EXPECT_THAT(text, Not(HasSubstr("Bogus")));
  EXPECT_THAT(text, Not(HasSubstr("other.v1.Service")));
  // Series appear on a method's first call only.
  EXPECT_THAT(text, Not(HasSubstr("CreateUser")));
}

TEST(CallObserversTest, NoMetricsNoSeries) {
  CallObserverOptions options;
  options.services = {"stubmesh.user.v1.UserService"};
  CallObservers observers(std::move(options));
  EXPECT_EQ(
      observers.SeriesFor("/stubmesh.user.v1.UserService/GetUser", Type::UNARY),
      nullptr);
}

}  // namespace
}  // namespace stubmesh::server
