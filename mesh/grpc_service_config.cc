#include "mesh/grpc_service_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "grpc/grpc.h"

namespace stubmesh::mesh {
namespace {

using ::google::protobuf::Duration;
using ::google::protobuf::ListValue;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::google::protobuf::util::TimeUtil;

bool IsSet(const Duration& d) { return d.seconds() != 0 || d.nanos() != 0; }

Duration Or(const Duration& d, const Duration& fallback) {
  return IsSet(d) ? d : fallback;
}

Duration Seconds(double s) {
  return TimeUtil::NanosecondsToDuration(static_cast<int64_t>(s * 1e9));
}

Value Text(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

Value Number(double n) {
  Value v;
  v.set_number_value(n);
  return v;
}

Value Time(const Duration& d) { return Text(TimeUtil::ToString(d)); }

Value Object(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}

Value List(std::vector<Value> items) {
  Value v;
  for (Value& item : items) *v.mutable_list_value()->add_values() = std::move(item);
  return v;
}

Struct Fields(std::vector<std::pair<std::string, Value>> fields) {
  Struct s;
  for (auto& [key, value] : fields) (*s.mutable_fields())[key] = std::move(value);
  return s;
}

Value RetryPolicy(const v1::RetryPolicy& r) {
  std::vector<Value> codes;
  for (const std::string& code : r.retryable_status_codes()) {
    codes.push_back(Text(code));
  }
  if (codes.empty()) codes.push_back(Text("UNAVAILABLE"));
  return Object(Fields({
      {"maxAttempts", Number(r.max_attempts() == 0 ? 3 : r.max_attempts())},
      {"initialBackoff", Time(Or(r.initial_backoff(), Seconds(0.05)))},
      {"maxBackoff", Time(Or(r.max_backoff(), Seconds(1)))},
      {"backoffMultiplier",
       Number(r.backoff_multiplier() == 0 ? 2 : r.backoff_multiplier())},
      {"retryableStatusCodes", List(std::move(codes))},
  }));
}

Value LoadBalancing(const v1::ServiceMesh& s) {
  std::string policy = "round_robin";
  if (s.load_balancing() == v1::PICK_FIRST) policy = "pick_first";
  Value child = List({Object(Fields({{policy, Object(Struct())}}))});
  const v1::OutlierDetection& o = s.outlier_detection();
  if (o.disabled()) return child;
  Struct failure = Fields({
      {"threshold", Number(o.failure_percentage_threshold() == 0
                               ? 30
                               : o.failure_percentage_threshold())},
      {"enforcementPercentage", Number(100)},
      // gRPC's default (5) would never act on a service of 2 replicas.
      {"minimumHosts", Number(2)},
      {"requestVolume",
       Number(o.minimum_requests() == 0 ? 5 : o.minimum_requests())},
  });
  Struct detection = Fields({
      {"interval", Time(Or(o.interval(), Seconds(1)))},
      {"baseEjectionTime", Time(Or(o.base_ejection_time(), Seconds(5)))},
      {"maxEjectionTime", Time(Or(o.max_ejection_time(), Seconds(30)))},
      {"maxEjectionPercent",
       Number(o.max_ejection_percent() == 0 ? 50 : o.max_ejection_percent())},
      {"failurePercentageEjection", Object(std::move(failure))},
      {"childPolicy", std::move(child)},
  });
  return List(
      {Object(Fields({{"outlier_detection_experimental",
                       Object(std::move(detection))}}))});
}

}  // namespace

absl::Duration CallTimeout(const v1::ServiceMesh& service,
                           absl::string_view method) {
  auto it = service.method_timeouts().find(std::string(method));
  const Duration& timeout = it != service.method_timeouts().end()
                                ? it->second
                                : service.timeout();
  if (!IsSet(timeout)) return absl::Seconds(10);
  return absl::Seconds(timeout.seconds()) + absl::Nanoseconds(timeout.nanos());
}

absl::StatusOr<std::string> BuildServiceConfigJson(
    const std::string& service_name, const v1::ServiceMesh& service) {
  if (service.load_balancing() == v1::RING_HASH) {
    // gRPC 1.51's ring_hash_experimental crashes the process on a call that
    // xDS did not hash (grpc_service_config_test.cc shows it).
    return absl::InvalidArgumentError(
        "load_balancing: RING_HASH cannot be configured by the mesh config");
  }
  std::vector<std::pair<std::string, Value>> method_config = {
      {"name", List({Object(Fields({{"service", Text(service_name)}}))})}};
  // gRPC refuses a retry policy of one attempt: "no retries" is no policy.
  if (service.retry().max_attempts() != 1) {
    method_config.push_back({"retryPolicy", RetryPolicy(service.retry())});
  }
  std::vector<Value> method_configs;
  method_configs.push_back(Object(Fields(std::move(method_config))));
  const v1::RetryThrottling& t = service.retry_throttling();
  std::vector<std::pair<std::string, Value>> top = {
      {"loadBalancingConfig", LoadBalancing(service)},
      {"methodConfig", List(std::move(method_configs))},
      {"retryThrottling",
       Object(Fields({
           {"maxTokens", Number(t.max_tokens() == 0 ? 100 : t.max_tokens())},
           // Each success earns back what a failure costs: retries stop
           // only while more calls fail than succeed.
           {"tokenRatio", Number(t.token_ratio() == 0 ? 1 : t.token_ratio())},
       }))},
  };
  if (!service.health_check().disabled()) {
    top.push_back({"healthCheckConfig",
                   Object(Fields({{"serviceName", Text(service_name)}}))});
  }
  std::string json;
  google::protobuf::util::Status s =
      google::protobuf::util::MessageToJsonString(Fields(std::move(top)), &json);
  if (!s.ok()) return absl::InternalError(s.message().as_string());
  return json;
}

grpc::ChannelArguments BuildChannelArguments(
    const v1::ServiceMesh& service, const std::string& service_config_json) {
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(service_config_json);
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
  // Each channel its own subchannels: gRPC 1.51 crashes (SIGSEGV in
  // ConnectedSubchannel::GetInitialCallSizeEstimate) when channels with
  // client-side health checks for different services share a subchannel to
  // a backend that is down, e.g. the gateway's /readyz with two services on
  // one target (found by fuzz/http_request_fuzzer.cc).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (IsSet(service.keepalive().time())) {
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                static_cast<int>(
                    TimeUtil::DurationToMilliseconds(service.keepalive().time())));
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                static_cast<int>(TimeUtil::DurationToMilliseconds(
                    Or(service.keepalive().timeout(), Seconds(20)))));
    // gRPC's default (2) stops keepalive after two pings on a quiet stream.
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
  return args;
}

std::vector<std::pair<std::string, int>> ServerKeepaliveArguments(
    absl::Duration shortest_client_keepalive) {
  return {{GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
           static_cast<int>(
               absl::ToInt64Milliseconds(shortest_client_keepalive / 2))}};
}

}  // namespace stubmesh::mesh
