#include "status/status_mapping.h"

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

}  // namespace
}  // namespace stubmesh
