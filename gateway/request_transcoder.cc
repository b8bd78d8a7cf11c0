#include "gateway/request_transcoder.h"

#include <limits>
#include <memory>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gateway/caching_type_resolver.h"
#include "gateway/url_encoded_form.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/util/field_mask_util.h"
#include "google/protobuf/util/time_util.h"
#include "validation/field_checks.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::Message;
using ::google::protobuf::Reflection;

using FieldPath = std::vector<const FieldDescriptor*>;

absl::Status Invalid(absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
}

const FieldDescriptor* FindField(const Descriptor* message,
                                 absl::string_view name) {
  const FieldDescriptor* field = message->FindFieldByName(std::string(name));
  if (field != nullptr) return field;
  for (int i = 0; i < message->field_count(); ++i) {
    if (message->field(i)->json_name() == name) return message->field(i);
  }
  return nullptr;
}

bool IsWellKnownType(const Descriptor* message) {
  return message->file()->name().rfind("google/protobuf/", 0) == 0;
}

// Name=value pairs have no way to say which element of a repeated message
// a field belongs to, so such fields come only in JSON.
std::string RepeatedMessageRefusal(const FieldDescriptor& field) {
  return absl::StrCat("'", field.name(),
                      "' is a list of messages, which a query string or form "
                      "body cannot carry; send the request body as JSON "
                      "(Content-Type: application/json) instead");
}

// Resolves "a.b.c" (proto or JSON names); nullopt-like empty path when a
// part names no field or goes through a non-message or repeated field.
absl::StatusOr<FieldPath> ResolvePath(const Descriptor* root,
                                      absl::string_view dotted,
                                      absl::string_view what) {
  FieldPath path;
  const Descriptor* message = root;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    if (message == nullptr) {
      return Invalid(what,
                     absl::StrCat("'", path.back()->name(), "' has no fields"));
    }
    if (!path.empty() && path.back()->is_repeated()) {
      return Invalid(what, RepeatedMessageRefusal(*path.back()));
    }
    const FieldDescriptor* field = FindField(message, part);
    if (field == nullptr) {
      return absl::NotFoundError(absl::StrCat(what, ": no field '", part,
                                              "' in ", message->full_name()));
    }
    path.push_back(field);
    message = field->message_type();
    if (message != nullptr && IsWellKnownType(message)) message = nullptr;
  }
  return path;
}

template <typename Generated>
absl::Status CopyInto(const Generated& value, Message* target) {
  // `target` may be a dynamic message of the same type: copy by bytes.
  if (!target->ParseFromString(value.SerializeAsString())) {
    return absl::InternalError("well-known type copy failed");
  }
  return absl::OkStatus();
}

absl::Status SetScalar(Message* message, const FieldDescriptor* field,
                       absl::string_view value, absl::string_view what);

// Sets a well-known message type from its string form.
absl::Status SetWellKnown(Message* message, absl::string_view value,
                          absl::string_view what) {
  const Descriptor* type = message->GetDescriptor();
  const std::string& name = type->full_name();
  if (name == "google.protobuf.Timestamp") {
    google::protobuf::Timestamp ts;
    if (!google::protobuf::util::TimeUtil::FromString(std::string(value),
                                                      &ts)) {
      return Invalid(
          what, absl::StrCat("'", value, "' is not an RFC 3339 timestamp"));
    }
    return CopyInto(ts, message);
  }
  if (name == "google.protobuf.Duration") {
    google::protobuf::Duration d;
    if (!google::protobuf::util::TimeUtil::FromString(std::string(value), &d)) {
      return Invalid(
          what, absl::StrCat("'", value, "' is not a duration such as 1.5s"));
    }
    return CopyInto(d, message);
  }
  if (name == "google.protobuf.FieldMask") {
    google::protobuf::FieldMask mask;
    if (!google::protobuf::util::FieldMaskUtil::FromJsonString(
            std::string(value), &mask)) {
      return Invalid(what, absl::StrCat("'", value, "' is not a field mask"));
    }
    return CopyInto(mask, message);
  }
  const FieldDescriptor* wrapped = type->FindFieldByName("value");
  if (absl::EndsWith(name, "Value") && wrapped != nullptr &&
      type->field_count() == 1 && !wrapped->is_repeated() &&
      wrapped->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
    return SetScalar(message, wrapped, value, what);
  }
  return Invalid(what, absl::StrCat(name, " cannot be set from a string"));
}

absl::Status SetScalar(Message* message, const FieldDescriptor* field,
                       absl::string_view value, absl::string_view what) {
  const Reflection* r = message->GetReflection();
  const bool add = field->is_repeated();
  auto bad = [&](absl::string_view type) {
    return Invalid(what,
                   absl::StrCat("'", value.substr(0, 64), "' is not ", type));
  };
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32: {
      int32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("an int32");
      add ? r->AddInt32(message, field, v) : r->SetInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      int64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("an int64");
      add ? r->AddInt64(message, field, v) : r->SetInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      uint32_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a uint32");
      add ? r->AddUInt32(message, field, v) : r->SetUInt32(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      uint64_t v;
      if (!absl::SimpleAtoi(value, &v)) return bad("a uint64");
      add ? r->AddUInt64(message, field, v) : r->SetUInt64(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v;
      if (!absl::SimpleAtod(value, &v)) return bad("a number");
      add ? r->AddDouble(message, field, v) : r->SetDouble(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_FLOAT: {
      float v;
      if (!absl::SimpleAtof(value, &v)) return bad("a number");
      add ? r->AddFloat(message, field, v) : r->SetFloat(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v;
      if (value == "true" || value == "1") {
        v = true;
      } else if (value == "false" || value == "0") {
        v = false;
      } else {
        return bad("true or false");
      }
      add ? r->AddBool(message, field, v) : r->SetBool(message, field, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      int number;
      const google::protobuf::EnumValueDescriptor* named =
          field->enum_type()->FindValueByName(std::string(value));
      if (named != nullptr) {
        number = named->number();
      } else if (!absl::SimpleAtoi(value, &number) ||
                 (field->enum_type()->file()->syntax() !=
                      google::protobuf::FileDescriptor::SYNTAX_PROTO3 &&
                  field->enum_type()->FindValueByNumber(number) == nullptr)) {
        return bad(
            absl::StrCat("a value of ", field->enum_type()->full_name()));
      }
      add ? r->AddEnumValue(message, field, number)
          : r->SetEnumValue(message, field, number);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string v;
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        if (!absl::Base64Unescape(value, &v) &&
            !absl::WebSafeBase64Unescape(value, &v)) {
          return bad("base64");
        }
      } else {
        // Query and form values are checked when parsed; path variables
        // are not, and a proto3 string that is not UTF-8 does not parse.
        if (!validation::IsValidUtf8(value)) {
          return Invalid(what, "not valid UTF-8");
        }
        v = std::string(value);
      }
      add ? r->AddString(message, field, std::move(v))
          : r->SetString(message, field, std::move(v));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      if (field->is_repeated() && !IsWellKnownType(field->message_type())) {
        return Invalid(what, RepeatedMessageRefusal(*field));
      }
      if (!IsWellKnownType(field->message_type())) {
        return Invalid(what, absl::StrCat("'", field->name(),
                                          "' is a message; set its fields "
                                          "one by one (",
                                          field->name(), ".<field>)"));
      }
      Message* sub = add ? r->AddMessage(message, field)
                         : r->MutableMessage(message, field);
      return SetWellKnown(sub, value, what);
    }
  }
  return Invalid(what, "unsupported field type");
}

absl::Status SetPath(Message* root, const FieldPath& path,
                     absl::string_view value, absl::string_view what) {
  Message* message = root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    message = message->GetReflection()->MutableMessage(message, path[i]);
  }
  return SetScalar(message, path.back(), value, what);
}

absl::Status FromUtilStatus(const google::protobuf::util::Status& status,
                            absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return Invalid(what, status.message().as_string());
}

// Applies name=value pairs (a query string or a form body) under `root`.
absl::Status ApplyFields(const std::vector<FormField>& fields, Message* root,
                         const HttpRoute& route, absl::string_view kind,
                         const TranscodeOptions& options, bool check_body) {
  for (const FormField& f : fields) {
    std::string what = absl::StrCat(kind, " '", f.name, "'");
    absl::StatusOr<FieldPath> path =
        ResolvePath(root->GetDescriptor(), f.name, what);
    if (absl::IsNotFound(path.status())) {
      if (options.ignore_unknown_fields) continue;
      return Invalid(what, path.status().message().substr(what.size() + 2));
    }
    if (!path.ok()) return path.status();
    if (check_body) {
      if (route.body == HttpRoute::Body::kWhole) {
        return Invalid(what,
                       "this route takes every field from the request body");
      }
      if (route.body == HttpRoute::Body::kField &&
          path->front() == route.body_field) {
        return Invalid(what, absl::StrCat("'", route.body_field->name(),
                                          "' comes from the request body"));
      }
    }
    absl::Status s = SetPath(root, *path, f.value, what);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

// JSON -> `message`, as util::JsonStringToMessage does (same errors), but
// with the route's cached types when it has them.
google::protobuf::util::Status JsonToMessage(
    const HttpRoute& route, absl::string_view json, Message* message,
    const google::protobuf::util::JsonParseOptions& options) {
  if (route.json_types == nullptr) {
    return google::protobuf::util::JsonStringToMessage(
        google::protobuf::StringPiece(json.data(), json.size()), message,
        options);
  }
  std::string binary;
  google::protobuf::util::Status status =
      google::protobuf::util::JsonToBinaryString(
          route.json_types,
          CachingTypeResolver::TypeUrl(*message->GetDescriptor()),
          google::protobuf::StringPiece(json.data(), json.size()), &binary,
          options);
  if (status.ok() && !message->ParseFromString(binary)) {
    return google::protobuf::util::InvalidArgumentError(
        "JSON transcoder produced invalid protobuf output.");
  }
  return status;
}

// `message` -> JSON, as util::MessageToJsonString does, with the route's
// cached types when it has them.
google::protobuf::util::Status MessageToJson(
    const HttpRoute& route, const Message& message, std::string* json,
    const google::protobuf::util::JsonPrintOptions& options) {
  if (route.json_types == nullptr) {
    return google::protobuf::util::MessageToJsonString(message, json, options);
  }
  return google::protobuf::util::BinaryToJsonString(
      route.json_types, CachingTypeResolver::TypeUrl(*message.GetDescriptor()),
      message.SerializeAsString(), json, options);
}

absl::Status ApplyJsonBody(const HttpRoute& route, absl::string_view body,
                           const TranscodeOptions& options, Message* request) {
  google::protobuf::util::JsonParseOptions parse;
  parse.ignore_unknown_fields = options.ignore_unknown_fields;
  if (route.body == HttpRoute::Body::kWhole) {
    return FromUtilStatus(JsonToMessage(route, body, request, parse), "body");
  }
  const FieldDescriptor* field = route.body_field;
  const Reflection* r = request->GetReflection();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
      !field->is_repeated()) {
    return FromUtilStatus(
        JsonToMessage(route, body, r->MutableMessage(request, field), parse),
        "body");
  }
  // A scalar or repeated body field: parse `{"field": <body>}` into a copy,
  // then take that one field, so that the body cannot reach other fields.
  std::unique_ptr<Message> holder(request->New());
  std::string wrapped =
      absl::StrCat("{\"", field->json_name(), "\":", body, "}");
  absl::Status s = FromUtilStatus(
      JsonToMessage(route, wrapped, holder.get(), parse), "body");
  if (!s.ok()) return s;
  std::vector<const FieldDescriptor*> set;
  holder->GetReflection()->ListFields(*holder, &set);
  if (set.size() > 1 || (set.size() == 1 && set[0] != field)) {
    return Invalid("body", "must be one JSON value");
  }
  request->MergeFrom(*holder);
  return absl::OkStatus();
}

// The JSON of an unset scalar or repeated field.
std::string DefaultJsonValue(
    const FieldDescriptor* field,
    const google::protobuf::util::JsonPrintOptions& options) {
  if (field->is_map()) return "{}";
  if (field->is_repeated()) return "[]";
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return "false";
    case FieldDescriptor::CPPTYPE_STRING:
      return "\"\"";
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT64:
      return "\"0\"";  // proto3 JSON writes 64-bit integers as strings
    case FieldDescriptor::CPPTYPE_ENUM:
      return options.always_print_enums_as_ints
                 ? "0"
                 : absl::StrCat("\"", field->enum_type()->value(0)->name(),
                                "\"");
    default:
      return "0";
  }
}

}  // namespace

absl::Status TranscodeRequest(const HttpRoute& route, const RouteMatch& match,
                              absl::string_view query, BodyFormat format,
                              absl::string_view body,
                              const TranscodeOptions& options,
                              Message* request) {
  if (format != BodyFormat::kNone &&
      !absl::StripAsciiWhitespace(body).empty()) {
    if (route.body == HttpRoute::Body::kNone) {
      return Invalid("body",
                     absl::StrCat(route.http_method, " ", route.path_template,
                                  " takes no request body"));
    }
    if (format == BodyFormat::kJson) {
      absl::Status s = ApplyJsonBody(route, body, options, request);
      if (!s.ok()) return s;
    } else {
      absl::StatusOr<std::vector<FormField>> fields = ParseUrlEncoded(body);
      if (!fields.ok()) return Invalid("form body", fields.status().message());
      Message* root = request;
      if (route.body == HttpRoute::Body::kField) {
        if (route.body_field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
            route.body_field->is_repeated()) {
          return Invalid("form body", "this route's body is not a message");
        }
        root =
            request->GetReflection()->MutableMessage(request, route.body_field);
      }
      absl::Status s = ApplyFields(*fields, root, route, "form field", options,
                                   /*check_body=*/false);
      if (!s.ok()) return s;
    }
  }

  if (!query.empty()) {
    absl::StatusOr<std::vector<FormField>> fields = ParseUrlEncoded(query);
    if (!fields.ok()) return Invalid("query", fields.status().message());
    absl::Status s = ApplyFields(*fields, request, route, "query parameter",
                                 options, /*check_body=*/true);
    if (!s.ok()) return s;
  }

  for (const VariableBinding& binding : match.bindings) {
    std::string dotted = absl::StrJoin(binding.variable->field_path, ".");
    std::string what = absl::StrCat("path variable '", dotted, "'");
    absl::StatusOr<FieldPath> path =
        ResolvePath(request->GetDescriptor(), dotted, what);
    if (!path.ok()) return path.status();  // Checked when the route was built.
    absl::Status s = SetPath(request, *path, binding.value, what);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> TranscodeResponse(
    const HttpRoute& route, const Message& response,
    const google::protobuf::util::JsonPrintOptions& options) {
  std::string json;
  const FieldDescriptor* field = route.response_body_field;
  if (field == nullptr) {
    google::protobuf::util::Status s =
        MessageToJson(route, response, &json, options);
    if (!s.ok()) return absl::InternalError(s.message().as_string());
    return json;
  }
  const Reflection* r = response.GetReflection();
  if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
      !field->is_repeated()) {
    google::protobuf::util::Status s =
        MessageToJson(route, r->GetMessage(response, field), &json, options);
    if (!s.ok()) return absl::InternalError(s.message().as_string());
    return json;
  }
  // A scalar or repeated field: print a copy holding only that field, then
  // cut the one-key object down to its value.
  std::unique_ptr<Message> only(response.New());
  only->CopyFrom(response);
  std::vector<const FieldDescriptor*> set;
  only->GetReflection()->ListFields(*only, &set);
  for (const FieldDescriptor* other : set) {
    if (other != field) only->GetReflection()->ClearField(only.get(), other);
  }
  google::protobuf::util::JsonPrintOptions compact = options;
  compact.always_print_primitive_fields = false;
  compact.add_whitespace = false;
  google::protobuf::util::Status s =
      MessageToJson(route, *only, &json, compact);
  if (!s.ok()) return absl::InternalError(s.message().as_string());
  if (json == "{}") return DefaultJsonValue(field, options);
  std::string key =
      options.preserve_proto_field_names ? field->name() : field->json_name();
  std::string prefix = absl::StrCat("{\"", key, "\":");
  if (!absl::StartsWith(json, prefix) || !absl::EndsWith(json, "}")) {
    return absl::InternalError("unexpected JSON for a response_body field");
  }
  return json.substr(prefix.size(), json.size() - prefix.size() - 1);
}

absl::StatusOr<std::string> TranscodeResponse(
    const HttpRoute& route, absl::string_view wire_bytes,
    const google::protobuf::util::JsonPrintOptions& options) {
  // Parsing is the check: protobuf's JSON printer takes malformed bytes
  // quietly (a truncated field prints as "{}", invalid UTF-8 in a string is
  // dropped), so the 5% of the gateway's instructions this costs stays.
  std::unique_ptr<Message> response(route.response_prototype->New());
  if (!response->ParseFromArray(wire_bytes.data(),
                                static_cast<int>(wire_bytes.size()))) {
    return absl::InternalError(
        absl::StrCat("the backend's response does not parse as ",
                     response->GetDescriptor()->full_name()));
  }
  if (route.response_body_field != nullptr || route.json_types == nullptr) {
    return TranscodeResponse(route, *response, options);
  }
  // The whole response is the body: print from the bytes rather than
  // serialize the parsed message again.
  std::string json;
  google::protobuf::io::ArrayInputStream in(
      wire_bytes.data(), static_cast<int>(wire_bytes.size()));
  google::protobuf::io::StringOutputStream out(&json);
  google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonStream(
      route.json_types,
      CachingTypeResolver::TypeUrl(*response->GetDescriptor()), &in, &out,
      options);
  if (!s.ok()) return absl::InternalError(s.message().as_string());
  return json;
}

}  // namespace stubmesh::gateway
