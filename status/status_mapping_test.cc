#include "status/status_mapping.h"

#include <memory>
#include <string>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace stubmesh {
namespace {

TEST(StatusMappingTest, EveryCanonicalCodeRoundTrips) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status in(static_cast<absl::StatusCode>(code), "why");
    grpc::Status grpc_status = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(grpc_status.error_code()), code);
    absl::Status back = ToAbslStatus(grpc_status);
    EXPECT_EQ(back.code(), in.code());
    if (code != 0) {
      EXPECT_EQ(grpc_status.error_message(), "why");
      EXPECT_EQ(back.message(), "why");
    }
  }
}

TEST(StatusMappingTest, PayloadsTravelAsErrorDetails) {
  google::rpc::BadRequest bad_request;
  auto* violation = bad_request.add_field_violations();
  violation->set_field("user.email");
  violation->set_description("is required");
  absl::Status in = absl::InvalidArgumentError("user.email: is required");
  in.SetPayload("type.googleapis.com/google.rpc.BadRequest",
                absl::Cord(bad_request.SerializeAsString()));

  grpc::Status grpc_status = ToGrpcStatus(in);
  google::rpc::Status sent;
  ASSERT_TRUE(sent.ParseFromString(grpc_status.error_details()));
  EXPECT_EQ(sent.code(), 3);
  EXPECT_EQ(sent.message(), "user.email: is required");
  ASSERT_EQ(sent.details_size(), 1);
  google::rpc::BadRequest unpacked;
  ASSERT_TRUE(sent.details(0).UnpackTo(&unpacked));
  EXPECT_EQ(unpacked.field_violations(0).field(), "user.email");

  absl::Status back = ToAbslStatus(grpc_status);
  EXPECT_EQ(back, in);  // code, message and payloads
  EXPECT_EQ(JsonErrorBody(in),
            R"({"code":3,"message":"user.email: is required","details":[)"
            R"({"@type":"type.googleapis.com/google.rpc.BadRequest",)"
            R"("fieldViolations":[{"field":"user.email",)"
            R"("description":"is required","reason":""}]}]})");
}

TEST(StatusMappingTest, NoPayloadsNoErrorDetails) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_details(), "");
  // Details that are not a google.rpc.Status are not turned into payloads.
  absl::Status back =
      ToAbslStatus(grpc::Status(grpc::StatusCode::INTERNAL, "x", "\xff"));
  EXPECT_EQ(back, absl::InternalError("x"));
}

TEST(StatusMappingTest, NamedCodesMatch) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      ToAbslStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")).code(),
      absl::StatusCode::kUnavailable);
}

TEST(StatusMappingTest, UnknownCodeBecomesUnknown) {
  absl::Status odd(static_cast<absl::StatusCode>(99), "odd");
  EXPECT_EQ(ToGrpcStatus(odd).error_code(), grpc::StatusCode::UNKNOWN);
  EXPECT_EQ(ToGrpcStatus(odd).error_message(), "odd");
}

TEST(StatusMappingTest, CodeNamesRoundTrip) {
  for (int code = 0; code <= 16; ++code) {
    absl::StatusCode c = static_cast<absl::StatusCode>(code);
    EXPECT_EQ(*StatusCodeFromName(StatusCodeName(c)), c);
  }
  EXPECT_STREQ(StatusCodeName(absl::StatusCode::kUnavailable), "UNAVAILABLE");
  EXPECT_STREQ(StatusCodeName(static_cast<absl::StatusCode>(42)), "UNKNOWN");
  EXPECT_EQ(StatusCodeFromName("unavailable").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(StatusMappingTest, HttpStatusOfEveryCode) {
  const std::pair<absl::StatusCode, int> kTable[] = {
      {absl::StatusCode::kOk, 200},
      {absl::StatusCode::kCancelled, 499},
      {absl::StatusCode::kUnknown, 500},
      {absl::StatusCode::kInvalidArgument, 400},
      {absl::StatusCode::kDeadlineExceeded, 504},
      {absl::StatusCode::kNotFound, 404},
      {absl::StatusCode::kAlreadyExists, 409},
      {absl::StatusCode::kPermissionDenied, 403},
      {absl::StatusCode::kResourceExhausted, 429},
      {absl::StatusCode::kFailedPrecondition, 400},
      {absl::StatusCode::kAborted, 409},
      {absl::StatusCode::kOutOfRange, 400},
      {absl::StatusCode::kUnimplemented, 501},
      {absl::StatusCode::kInternal, 500},
      {absl::StatusCode::kUnavailable, 503},
      {absl::StatusCode::kDataLoss, 500},
      {absl::StatusCode::kUnauthenticated, 401},
  };
  for (const auto& [code, http] : kTable) {
    EXPECT_EQ(HttpStatusFromCode(code), http) << absl::StatusCodeToString(code);
  }
}

TEST(StatusMappingTest, JsonErrorBodyIsGoogleRpcStatus) {
  EXPECT_EQ(JsonErrorBody(absl::NotFoundError("user 7 not found")),
            R"({"code":5,"message":"user 7 not found","details":[]})");
  EXPECT_EQ(JsonErrorBody(absl::InvalidArgumentError("say \"hi\"\n")),
            R"({"code":3,"message":"say \"hi\"\n","details":[]})");
}

TEST(StatusMappingTest, JsonErrorBodyKeepsDetails) {
  google::rpc::Status nested;
  nested.set_code(3);
  google::rpc::Status details;
  details.add_details()->PackFrom(nested);
  grpc::Status with_known(grpc::StatusCode::INVALID_ARGUMENT, "bad",
                          details.SerializeAsString());
  EXPECT_EQ(JsonErrorBody(with_known),
            R"({"code":3,"message":"bad","details":[{"@type":)"
            R"("type.googleapis.com/google.rpc.Status","code":3,)"
            R"("message":"","details":[]}]})");

  google::rpc::Status unknown;
  google::protobuf::Any* odd = unknown.add_details();
  odd->set_type_url("type.googleapis.com/no.such.Type");
  odd->set_value("\x08\x01");
  grpc::Status with_unknown(grpc::StatusCode::INTERNAL, "x",
                            unknown.SerializeAsString());
  // A detail of a type this process does not know keeps its type URL and
  // its bytes (base64).
  EXPECT_EQ(JsonErrorBody(with_unknown),
            R"({"code":13,"message":"x","details":[{"@type":)"
            R"("type.googleapis.com/no.such.Type","value":"CAE="}]})");
  grpc::Status garbage(grpc::StatusCode::INTERNAL, "y", "\xff\xff not a proto");
  EXPECT_EQ(JsonErrorBody(garbage),
            R"({"code":13,"message":"y","details":[]})");
}

TEST(StatusMappingTest, JsonErrorBodyOfAMessageThatIsNotUtf8) {
  std::string body = JsonErrorBody(absl::InternalError("bad \xff byte"));
  // Whatever the printer makes of it, the body is still a google.rpc.Status
  // in JSON with its code.
  google::rpc::Status parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(body, &parsed).ok())
      << body;
  EXPECT_EQ(parsed.code(), 13) << body;
  EXPECT_EQ(body.find('\xff'), std::string::npos) << body;
}

// The status a backend sends: `details` packed into a google.rpc.Status.
grpc::Status WithDetails(grpc::StatusCode code, const std::string& message,
                         const google::rpc::Status& details) {
  return grpc::Status(code, message, details.SerializeAsString());
}

TEST(StatusMappingTest, JsonErrorBodyPrintsGoogleRpcErrorDetails) {
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation =
      bad_request.add_field_violations();
  violation->set_field("email");
  violation->set_description("not an email address");
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(2);
  google::rpc::Status details;
  details.add_details()->PackFrom(bad_request);
  details.add_details()->PackFrom(retry);
  EXPECT_EQ(JsonErrorBody(WithDetails(grpc::StatusCode::INVALID_ARGUMENT, "bad",
                                      details)),
            R"({"code":3,"message":"bad","details":[)"
            R"({"@type":"type.googleapis.com/google.rpc.BadRequest",)"
            R"("fieldViolations":[{"field":"email",)"
            R"("description":"not an email address","reason":""}]},)"
            R"({"@type":"type.googleapis.com/google.rpc.RetryInfo",)"
            R"("retryDelay":"2s"}]})");
}

TEST(StatusMappingTest, AnUnknownDetailIsKeptBesideTheKnownOnes) {
  google::rpc::ErrorInfo info;
  info.set_reason("STOCKOUT");
  info.set_domain("order.stubmesh");
  google::rpc::ResourceInfo resource;
  resource.set_resource_type("stubmesh.user.v1.User");
  resource.set_resource_name("7");
  google::rpc::Status details;
  details.add_details()->PackFrom(info);
  google::protobuf::Any* unknown = details.add_details();
  unknown->set_type_url("type.googleapis.com/acme.v1.Secret");
  unknown->set_value(
      "\x0a\x03"
      "abc");
  // A known type whose bytes do not parse as it: kept as bytes too.
  google::protobuf::Any* broken = details.add_details();
  broken->set_type_url("type.googleapis.com/google.rpc.ErrorInfo");
  broken->set_value("\xff\xff\xff");
  details.add_details()->PackFrom(resource);
  EXPECT_EQ(
      JsonErrorBody(WithDetails(grpc::StatusCode::ABORTED, "no", details)),
      R"({"code":10,"message":"no","details":[)"
      R"({"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
      R"("reason":"STOCKOUT","domain":"order.stubmesh","metadata":{}},)"
      R"({"@type":"type.googleapis.com/acme.v1.Secret","value":"CgNhYmM="},)"
      R"({"@type":"type.googleapis.com/google.rpc.ErrorInfo","value":"////"},)"
      R"({"@type":"type.googleapis.com/google.rpc.ResourceInfo",)"
      R"("resourceType":"stubmesh.user.v1.User","resourceName":"7",)"
      R"("owner":"","description":""}]})");
}

TEST(StatusMappingTest, DetailTypeUrlsOfAnyPrefixAreFound) {
  google::rpc::ErrorInfo info;
  info.set_reason("QUOTA");
  google::rpc::Status details;
  details.add_details()->PackFrom(info, "type.example.com");
  EXPECT_EQ(JsonErrorBody(WithDetails(grpc::StatusCode::RESOURCE_EXHAUSTED, "q",
                                      details)),
            R"({"code":8,"message":"q","details":[)"
            R"({"@type":"type.example.com/google.rpc.ErrorInfo",)"
            R"("reason":"QUOTA","domain":"","metadata":{}}]})");
}

// A detail type only the caller knows (as the gateway knows the types of
// its descriptor sets, not compiled in): found through `detail_types`.
TEST(StatusMappingTest, DetailTypesOfTheCallerAreFound) {
  google::protobuf::FileDescriptorProto file;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"pb(
        name: "acme/v1/quota.proto"
        package: "acme.v1"
        syntax: "proto3"
        message_type {
          name: "QuotaLeft"
          field {
            name: "calls_left"
            number: 1
            type: TYPE_INT32
            label: LABEL_OPTIONAL
            json_name: "callsLeft"
          }
        }
      )pb",
      &file));
  google::protobuf::DescriptorPool pool;
  const google::protobuf::FileDescriptor* built = pool.BuildFile(file);
  ASSERT_NE(built, nullptr);
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> quota(
      factory.GetPrototype(built->message_type(0))->New());
  quota->GetReflection()->SetInt32(
      quota.get(), built->message_type(0)->FindFieldByName("calls_left"), 3);
  google::rpc::Status details;
  details.add_details()->PackFrom(*quota);
  grpc::Status status =
      WithDetails(grpc::StatusCode::RESOURCE_EXHAUSTED, "slow down", details);

  std::unique_ptr<google::protobuf::util::TypeResolver> caller_types(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", &pool));
  EXPECT_EQ(JsonErrorBody(status, caller_types.get()),
            R"({"code":8,"message":"slow down","details":[)"
            R"({"@type":"type.googleapis.com/acme.v1.QuotaLeft",)"
            R"("callsLeft":3}]})");
  // Without them the detail is kept as bytes.
  EXPECT_EQ(JsonErrorBody(status),
            R"({"code":8,"message":"slow down","details":[)"
            R"({"@type":"type.googleapis.com/acme.v1.QuotaLeft",)"
            R"("value":"CAM="}]})");
}

}  // namespace
}  // namespace stubmesh
