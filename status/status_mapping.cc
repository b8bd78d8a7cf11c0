#include "status/status_mapping.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "google/rpc/error_details.pb.h"
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

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// Where JsonErrorBody finds the types of details: first the caller's
// resolver, then the types compiled into this process. Type URLs of any
// prefix ("type.example.com/a.B") are looked up by the name after the last
// '/', as proto3 JSON does.
class DetailTypes final : public google::protobuf::util::TypeResolver {
 public:
  explicit DetailTypes(google::protobuf::util::TypeResolver* first)
      : first_(first) {}

  google::protobuf::util::Status ResolveMessageType(
      const std::string& type_url, google::protobuf::Type* type) override {
    std::string url = Canonical(type_url);
    if (first_ != nullptr && first_->ResolveMessageType(url, type).ok()) {
      return google::protobuf::util::Status();
    }
    return Generated().ResolveMessageType(url, type);
  }

  google::protobuf::util::Status ResolveEnumType(
      const std::string& type_url, google::protobuf::Enum* enum_type) override {
    std::string url = Canonical(type_url);
    if (first_ != nullptr && first_->ResolveEnumType(url, enum_type).ok()) {
      return google::protobuf::util::Status();
    }
    return Generated().ResolveEnumType(url, enum_type);
  }

 private:
  static std::string Canonical(absl::string_view type_url) {
    size_t slash = type_url.rfind('/');
    absl::string_view name = slash == absl::string_view::npos
                                 ? type_url
                                 : type_url.substr(slash + 1);
    return absl::StrCat(kTypeUrlPrefix, "/", name);
  }

  // Over the generated pool; its resolver keeps no state, so one instance
  // serves every thread.
  static google::protobuf::util::TypeResolver& Generated() {
    static google::protobuf::util::TypeResolver* const resolver = [] {
      // Names a type of error_details.proto so that the linker keeps the
      // file, and with it every google.rpc detail, in the generated pool.
      google::rpc::BadRequest::descriptor();
      return google::protobuf::util::NewTypeResolverForDescriptorPool(
          kTypeUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
    }();
    return *resolver;
  }

  google::protobuf::util::TypeResolver* const first_;
};

// One detail as proto3 JSON (the Any's own form: "@type" and the fields, or
// "@type" and "value" for well-known types); for a type `types` does not
// know, or bytes that do not parse as it, {"@type": url, "value": base64}.
// nullopt when even the type URL cannot be written (not UTF-8).
std::optional<std::string> DetailJson(
    const google::protobuf::Any& detail, DetailTypes& types,
    const google::protobuf::util::JsonPrintOptions& options) {
  // The JSON printer takes bytes that are not protobuf at all for an empty
  // message; such a detail is kept as bytes instead.
  google::protobuf::UnknownFieldSet wire_format;
  std::string json;
  if (wire_format.ParseFromString(detail.value()) &&
      google::protobuf::util::BinaryToJsonString(
          &types, absl::StrCat(kTypeUrlPrefix, "/google.protobuf.Any"),
          detail.SerializeAsString(), &json, options)
          .ok()) {
    return json;
  }
  google::protobuf::Value type_url;
  type_url.set_string_value(detail.type_url());
  std::string quoted_type_url;
  if (!google::protobuf::util::MessageToJsonString(type_url, &quoted_type_url)
           .ok()) {
    return std::nullopt;
  }
  return absl::StrCat("{\"@type\":", quoted_type_url, ",\"value\":\"",
                      absl::Base64Escape(detail.value()), "\"}");
}

}  // namespace

const char* StatusCodeName(absl::StatusCode code) {
  int i = static_cast<int>(code);
  return i >= 0 && i <= kMaxCanonicalCode ? kCodeNames[i] : "UNKNOWN";
}

absl::StatusOr<absl::StatusCode> StatusCodeFromName(absl::string_view name) {
  for (int i = 0; i <= kMaxCanonicalCode; ++i) {
    if (name == kCodeNames[i]) return static_cast<absl::StatusCode>(i);
  }
  return absl::NotFoundError(
      absl::StrCat("'", name, "' is not a status code name"));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  int code = static_cast<int>(status.code());
  if (code < 0 || code > kMaxCanonicalCode) code = grpc::StatusCode::UNKNOWN;
  std::string message(status.message());
  google::rpc::Status with_details;
  status.ForEachPayload(
      [&with_details](absl::string_view type_url, const absl::Cord& payload) {
        google::protobuf::Any* detail = with_details.add_details();
        detail->set_type_url(std::string(type_url));
        detail->set_value(std::string(payload));
      });
  if (with_details.details().empty()) {
    return grpc::Status(static_cast<grpc::StatusCode>(code),
                        std::move(message));
  }
  with_details.set_code(code);
  with_details.set_message(message);
  return grpc::Status(static_cast<grpc::StatusCode>(code), std::move(message),
                      with_details.SerializeAsString());
}

absl::Status ToAbslStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  int code = static_cast<int>(status.error_code());
  if (code < 0 || code > kMaxCanonicalCode) {
    code = static_cast<int>(absl::StatusCode::kUnknown);
  }
  absl::Status result(static_cast<absl::StatusCode>(code),
                      status.error_message());
  google::rpc::Status with_details;
  if (!status.error_details().empty() &&
      with_details.ParseFromString(status.error_details())) {
    for (const google::protobuf::Any& detail : with_details.details()) {
      result.SetPayload(detail.type_url(), absl::Cord(detail.value()));
    }
  }
  return result;
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
  return JsonErrorBody(status, nullptr);
}

std::string JsonErrorBody(const grpc::Status& status,
                          google::protobuf::util::TypeResolver* detail_types) {
  google::rpc::Status parsed;
  if (status.error_details().empty() ||
      !parsed.ParseFromString(status.error_details())) {
    parsed.Clear();
  }
  google::rpc::Status body;
  body.set_code(status.error_code());
  body.set_message(status.error_message());
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // "details": [] too
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(body, &json, options).ok()) {
    // A message that is not UTF-8: say so rather than answer nothing.
    body.set_message("(the error message is not valid UTF-8)");
    json.clear();
    google::protobuf::util::MessageToJsonString(body, &json, options);
  }
  if (parsed.details().empty()) return json;

  DetailTypes types(detail_types);
  std::vector<std::string> details;
  details.reserve(parsed.details_size());
  for (const google::protobuf::Any& detail : parsed.details()) {
    std::optional<std::string> printed = DetailJson(detail, types, options);
    if (printed.has_value()) details.push_back(*std::move(printed));
  }
  // The body printed with no details ends in `"details":[]}`: put them in.
  constexpr absl::string_view kEmptyDetails = "[]}";
  if (details.empty() || !absl::EndsWith(json, kEmptyDetails)) return json;
  json.resize(json.size() - kEmptyDetails.size());
  absl::StrAppend(&json, "[", absl::StrJoin(details, ","), "]}");
  return json;
}

std::string JsonErrorBody(const absl::Status& status) {
  return JsonErrorBody(ToGrpcStatus(status));
}

}  // namespace stubmesh
