#ifndef STUBMESH_GATEWAY_REQUEST_TRANSCODER_H_
#define STUBMESH_GATEWAY_REQUEST_TRANSCODER_H_

// HTTP/JSON ↔ protobuf for one matched route, per google.api.http:
// the request message is filled from the body, then the query string, then
// the path variables (so the path wins); the response becomes proto3 JSON
// (or the JSON of its `response_body` field).
//
// Query parameters and form fields name fields by proto name or JSON name,
// with dots for nested fields (`user.name`), repeated by repetition
// (`?a=1&a=2`); enums by name or number; Timestamp and Duration in their
// JSON form; FieldMask as comma-separated paths; wrappers by their value;
// bytes in base64. JSON bodies are parsed by protobuf's own JSON util.
//
// Every error is INVALID_ARGUMENT and names what was wrong: "query
// parameter 'page_size': 'ten' is not an int32", "body: ...".
//
// Thread-safety: pure functions; the route and messages belong to the
// caller.
//
// Example:
//   std::unique_ptr<Message> request(route.request_prototype->New());
//   absl::Status s = TranscodeRequest(route, *match, query, BodyFormat::kJson,
//                                     body, {}, request.get());
//   ...
//   absl::StatusOr<std::string> json = TranscodeResponse(route, *response, {});

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/api_catalog.h"
#include "gateway/route_table.h"
#include "google/protobuf/io/zero_copy_stream.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"

namespace stubmesh::gateway {

struct TranscodeOptions {
  // Unknown JSON body fields and query parameters are ignored instead of
  // refused.
  bool ignore_unknown_fields = false;
};

enum class BodyFormat {
  kNone,  // no body, or an empty one
  kJson,  // application/json
  kForm,  // application/x-www-form-urlencoded
};

absl::Status TranscodeRequest(const HttpRoute& route, const RouteMatch& match,
                              absl::string_view query, BodyFormat format,
                              absl::string_view body,
                              const TranscodeOptions& options,
                              google::protobuf::Message* request);

absl::StatusOr<std::string> TranscodeResponse(
    const HttpRoute& route, const google::protobuf::Message& response,
    const google::protobuf::util::JsonPrintOptions& options);

// The same JSON, from the response's wire bytes. They are parsed (which
// checks them, UTF-8 of strings included); when the whole response is the
// body, the JSON is then printed from the bytes rather than from the
// message serialized again (the two agree for the canonical encoding every
// protobuf library writes: each field once, in field-number order). Bytes
// that are not a valid response: INTERNAL, naming the response type.
absl::StatusOr<std::string> TranscodeResponse(
    const HttpRoute& route, absl::string_view wire_bytes,
    const google::protobuf::util::JsonPrintOptions& options);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REQUEST_TRANSCODER_H_
