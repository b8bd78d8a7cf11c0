#include "gateway/request_accounting.h"

#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace stubmesh::gateway {
namespace {

namespace http = boost::beast::http;

HttpRequest RequestWithId(const std::string& id) {
  HttpRequest request(http::verb::get, "/x", 11);
  request.set(kRequestIdHeader, id);
  return request;
}

TEST(RequestAccountingTest, KeepsAUsableClientId) {
  HttpRequest request = RequestWithId("rid-42");
  EXPECT_EQ(RequestAccounting::AssignRequestId(&request), "rid-42");
  EXPECT_EQ(request[kRequestIdHeader], "rid-42");
}

TEST(RequestAccountingTest, ReplacesMissingOrUnusableIdsAndSetsTheHeader) {
  for (const std::string& bad :
       {std::string(), std::string(129, 'a'), std::string("a\x01z"),
        std::string("caf\xc3\xa9")}) {
    HttpRequest request = RequestWithId(bad);
    std::string id = RequestAccounting::AssignRequestId(&request);
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(std::string(request[kRequestIdHeader]), id);
    // Later layers read the same id back.
    EXPECT_EQ(RequestAccounting::AssignRequestId(&request), id);
  }
  HttpRequest two = RequestWithId("one");
  two.insert(kRequestIdHeader, "two");
  std::string id = RequestAccounting::AssignRequestId(&two);
  EXPECT_NE(id, "one");
  EXPECT_NE(id, "two");
  EXPECT_EQ(two.count(kRequestIdHeader), 1u);
}

TEST(RequestAccountingTest, MethodLabelIsBounded) {
  EXPECT_EQ(RequestAccounting::MethodLabel("GET"), "GET");
  EXPECT_EQ(RequestAccounting::MethodLabel("PATCH"), "PATCH");
  EXPECT_EQ(RequestAccounting::MethodLabel("get"), "other");
  EXPECT_EQ(RequestAccounting::MethodLabel("FROBNICATE"), "other");
}

TEST(RequestAccountingTest, AnsweredStampsCountsAndTimes) {
  prometheus::Registry registry;
  RequestAccounting accounting(&registry);
  HttpResponse response(http::status::too_many_requests, 11);
  accounting.Answered(kRejectedRoute, "GET", absl::Now(), "rid-7", &response);
  EXPECT_EQ(response[kRequestIdHeader], "rid-7");
  std::string text = prometheus::TextSerializer().Serialize(registry.Collect());
  EXPECT_NE(text.find("http_requests_total{code=\"429\",method=\"GET\","
                      "route=\"rejected\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("http_request_duration_seconds_count{method=\"GET\","
                      "route=\"rejected\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace stubmesh::gateway
