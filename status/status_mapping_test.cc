#include "status/status_mapping.h"

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

TEST(StatusMappingTest, NamedCodesMatch) {
  EXPECT_EQ(ToGrpcStatus(absl::NotFoundError("x")).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("x")).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ToAbslStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "")).code(),
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
  unknown.add_details()->set_type_url("type.googleapis.com/no.such.Type");
  grpc::Status with_unknown(grpc::StatusCode::INTERNAL, "x",
                            unknown.SerializeAsString());
  // A detail of a type this process does not know keeps its type name.
  EXPECT_EQ(JsonErrorBody(with_unknown),
            R"({"code":13,"message":"x","details":[{"@type":)"
            R"("type.googleapis.com/no.such.Type"}]})");
  grpc::Status garbage(grpc::StatusCode::INTERNAL, "y", "\xff\xff not a proto");
  EXPECT_EQ(JsonErrorBody(garbage), R"({"code":13,"message":"y","details":[]})");
}

}  // namespace
}  // namespace stubmesh
