#ifndef STUBMESH_GATEWAY_OPENAPI_DOCUMENT_H_
#define STUBMESH_GATEWAY_OPENAPI_DOCUMENT_H_

// An OpenAPI 3.0 document of what the gateway serves, generated from the
// catalog's descriptors and google.api.http annotations alone (the same ones
// the routes are built from), for `GET /openapi.json`.
//
// Paths. Each HTTP route is one operation. `{id}` and `{user.id}` stay as
// they are; `{name=shelves/*/books/*}` and `{name=**}` become a `{name}`
// parameter whose description quotes the pattern (its value keeps its "/":
// OpenAPI 3.0 cannot say so). A custom verb stays in the path literally
// (`/v1/echo/{inner.text}:shout`). A `*` or `**` outside any variable becomes
// a required parameter `_segmentN` that sets no field. Two routes whose paths
// differ only in variable names share one OpenAPI path (the spec forbids
// "identical" templated paths): the later one's parameters take the earlier
// names and their descriptions say which field each one sets.
//
// Operations. operationId is `Service_Method` (the full name with "_" for
// "." when two services share a simple name), `_1`, `_2`, ... added for
// additional bindings in annotation order. summary and description come from
// the method's leading comment; tags hold the service's full name;
// `x-stubmesh-grpc-method` holds the gRPC path.
//
// Parameters, as TranscodeRequest reads them: path variables (required,
// named by their proto field path); then, unless the body is "*", every
// field the query string can set that the path and body do not: scalars,
// enums, repeated scalars (arrays, `style: form`, `explode: true`), the
// well-known types parsed from strings (Timestamp, Duration, FieldMask,
// wrappers), and the fields of singular messages with dot names
// (`inner.text`). Maps, repeated messages, Struct/Value/Any/Empty and a
// message type already being walked (recursion) are left out. Query
// parameter names follow the schemas' naming (the gateway accepts both).
//
// Request bodies: "*" is the request message; a field body is that field.
// A message body is offered as application/json and as
// application/x-www-form-urlencoded (dot names for nested fields).
//
// Responses: "200" is the response message or its response_body field
// (server streaming: application/x-ndjson, one message per line); HEAD has
// no body. "default" is the gateway's error body, a google.rpc.Status in
// JSON ({code, message, details: [{"@type": ...}]}).
//
// Schemas (components/schemas, keyed by full message or enum name; every
// other message is a $ref there, so recursion is finite) follow the proto3
// JSON mapping: 64-bit integers are strings (format int64), int32 integers,
// uint32 integers in [0, 2^32), float/double numbers, bytes base64 strings
// (format byte), enums names (or integers), Timestamp a date-time string,
// Duration a "1.5s" string, FieldMask a string, wrappers the wrapped type
// (nullable), Struct an object, ListValue an array, Value anything, Any an
// object with "@type", Empty an empty object, maps objects with
// additionalProperties. Leading comments (else trailing ones) of messages,
// fields, enums and their values become descriptions; those of services
// describe their tags.
//
// A route OpenAPI 3.0 cannot hold (an HTTP method it does not know, or the
// same path and method as an earlier route) is left out and listed in the
// document's `x-stubmesh-routes-not-listed`.
//
// Output is deterministic: the same catalog and options give the same bytes
// (object keys sorted).
//
// Thread-safety: a pure function; it only reads the catalog, which may be
// shared.
//
// Example:
//   OpenApiOptions options;
//   options.title = "shop";
//   options.preserve_proto_field_names = json.preserve_proto_field_names;
//   options.always_print_enums_as_ints = json.always_print_enums_as_ints;
//   std::string document = BuildOpenApiDocument(*catalog, options);
//   // Serve `document` as application/json at GET /openapi.json.

#include <string>

#include "gateway/api_catalog.h"

namespace stubmesh::gateway {

struct OpenApiOptions {
  // info.title and info.version of the document.
  std::string title = "stubmesh";
  std::string version = "1.0.0";
  // As google::protobuf::util::JsonPrintOptions: proto field names
  // (`page_size`) instead of JSON names (`pageSize`, or json_name) in
  // schemas and query parameters. Set both from the gateway's print options.
  bool preserve_proto_field_names = false;
  // Enums as their numbers instead of their value names.
  bool always_print_enums_as_ints = false;
};

// The document as JSON text.
std::string BuildOpenApiDocument(const ApiCatalog& catalog,
                                 const OpenApiOptions& options);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_OPENAPI_DOCUMENT_H_
