#include "server/server_metrics.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace stubmesh::server {
namespace {

using ::testing::HasSubstr;
using Type = grpc::experimental::ServerRpcInfo::Type;

std::string Scrape(prometheus::Registry& registry) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, registry.Collect());
  return text.str();
}

TEST(ServerMetricsTest, TypeLabelsAreGoGrpcPrometheusNames) {
  EXPECT_STREQ(GrpcTypeLabel(Type::UNARY), "unary");
  EXPECT_STREQ(GrpcTypeLabel(Type::CLIENT_STREAMING), "client_stream");
  EXPECT_STREQ(GrpcTypeLabel(Type::SERVER_STREAMING), "server_stream");
  EXPECT_STREQ(GrpcTypeLabel(Type::BIDI_STREAMING), "bidi_stream");
}

TEST(ServerMetricsTest, SplitsTheMethodPath) {
  MethodLabels labels =
      MethodLabelsOf("/stubmesh.user.v1.UserService/GetUser", "unary");
  EXPECT_EQ(labels.type, "unary");
  EXPECT_EQ(labels.service, "stubmesh.user.v1.UserService");
  EXPECT_EQ(labels.method, "GetUser");
  for (const char* odd : {"", "/", "//", "nopath", "/svc/", "/Method"}) {
    labels = MethodLabelsOf(odd, "unary");
    EXPECT_EQ(labels.service, "unknown") << odd;
    EXPECT_EQ(labels.method, "unknown") << odd;
  }
}

TEST(ServerMetricsTest, CountsWithTheLabelsOfGoGrpcPrometheus) {
  prometheus::Registry registry;
  ServerMetrics metrics(registry);
  const MethodLabels get = MethodLabelsOf("/a.v1.Users/Get", "unary");
  const MethodLabels watch = MethodLabelsOf("/a.v1.Users/Watch", "bidi_stream");
  for (int i = 0; i < 3; ++i) {
    metrics.Started(get);
    metrics.MessageReceived(get);
    metrics.MessageSent(get);
    metrics.Handled(
        get, i == 0 ? absl::StatusCode::kNotFound : absl::StatusCode::kOk,
        absl::Milliseconds(2));
  }
  metrics.Started(watch);

  const std::string text = Scrape(registry);
  const std::string get_labels =
      R"(grpc_method="Get",grpc_service="a.v1.Users",grpc_type="unary")";
  EXPECT_THAT(text,
              HasSubstr("grpc_server_started_total{" + get_labels + "} 3"));
  EXPECT_THAT(text, HasSubstr(R"(grpc_server_handled_total{grpc_code="OK",)" +
                              get_labels + "} 2"));
  EXPECT_THAT(text,
              HasSubstr(R"(grpc_server_handled_total{grpc_code="NOT_FOUND",)" +
                        get_labels + "} 1"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{" +
                              get_labels + "} 3"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_bucket{" +
                              get_labels + R"(,le="0.0025"} 3)"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_bucket{" +
                              get_labels + R"(,le="0.001"} 0)"));
  EXPECT_THAT(
      text, HasSubstr("grpc_server_msg_received_total{" + get_labels + "} 3"));
  EXPECT_THAT(text,
              HasSubstr("grpc_server_msg_sent_total{" + get_labels + "} 3"));
  EXPECT_THAT(text,
              HasSubstr(R"(grpc_server_started_total{grpc_method="Watch",)"
                        R"(grpc_service="a.v1.Users",)"
                        R"(grpc_type="bidi_stream"} 1)"));
  EXPECT_THAT(text, HasSubstr("# TYPE grpc_server_handling_seconds histogram"));
}

}  // namespace
}  // namespace stubmesh::server
