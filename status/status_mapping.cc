#include "status/status_mapping.h"

#include <string>

#include "absl/strings/str_cat.h"

#include "google/protobuf/util/json_util.h"
#include "google/rpc/status.pb.h"

namespace stubmesh {
namespace {

constexpr int kMaxCanonicalCode = 16;  // UNAUTHENTICATED

constexpr const char* kCodeNames[kMaxCanonicalCode + 1] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED"};

}  // namespace

const char* StatusCodeName(absl::StatusCode code) {
  int i = static_cast<int>(code);
  return i >= 0 && i <= kMaxCanonicalCode ? kCodeNames[i] : "UNKNOWN";
}

absl::StatusOr<absl::StatusCode> StatusCodeFromName(absl::string_view name) {
  for (int i = 0; i <= kMaxCanonicalCode; ++i) {
    if (name == kCodeNames[i]) return static_cast<absl::StatusCode>(i);
  }
  return absl::NotFoundError(absl::StrCat("'", name,
                                          "' is not a status code name"));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  if (code < 0 || code > kMaxCanonicalCode) code = grpc::StatusCode::UNKNOWN;
  return grpc::Status(static_cast<grpc::StatusCode>(code),
                      std::string(status.message()));
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > kMaxCanonicalCode) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  return absl::Status(static_cast<absl::StatusCode>(code),
                      status.error_message());
}

int HttpStatusFromCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS and codes outside the range
      return 500;
  }
}

std::string JsonErrorBody(const grpc::Status& status) {
  google::rpc::Status body;
  if (!status.error_details().empty() &&
      body.ParseFromString(status.error_details())) {
    body.clear_code();
    body.clear_message();
  } else {
    body.Clear();
  }
  body.set_code(status.error_code());
  body.set_message(status.error_message());
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // "details": [] too
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(body, &json, options).ok()) {
    // A detail of a type this process does not know: keep code and message.
    body.clear_details();
    json.clear();
    google::protobuf::util::MessageToJsonString(body, &json, options);
  }
  return json;
}

std::string JsonErrorBody(const absl::Status& status) {
  return JsonErrorBody(ToGrpcStatus(status));
}

}  // namespace stubmesh
