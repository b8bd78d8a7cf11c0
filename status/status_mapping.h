#ifndef STUBMESH_STATUS_STATUS_MAPPING_H_
#define STUBMESH_STATUS_STATUS_MAPPING_H_

// The one place that maps status codes between absl, gRPC, HTTP and the
// JSON error body (google.rpc.Status). Nobody else converts codes.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::Status s = store->Get(id).status();
//   reactor->Finish(stubmesh::ToGrpcStatus(s));

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/type_resolver.h"
#include "grpcpp/support/status.h"

namespace stubmesh {

// absl and gRPC share the canonical code numbers (0..16); codes outside that
// range become UNKNOWN. The message is kept. Error details travel too: each
// payload of an absl::Status (keyed by its type URL, e.g.
// "type.googleapis.com/google.rpc.BadRequest", holding the serialized
// message) becomes a detail of the google.rpc.Status that gRPC sends as its
// binary error details ("grpc-status-details-bin"), and back. absl keeps one
// payload per type URL: of several details of one type, the last is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status ToAbslStatus(const grpc::Status& status);

// The canonical name of a code, "OK" ... "UNAUTHENTICATED"; "UNKNOWN" for a
// code outside the range.
const char* StatusCodeName(absl::StatusCode code);

// The code of a canonical name; NOT_FOUND for any other text.
absl::StatusOr<absl::StatusCode> StatusCodeFromName(absl::string_view name);

// The HTTP status for a code, as grpc-gateway and Envoy map it: OK 200,
// CANCELLED 499, INVALID_ARGUMENT/FAILED_PRECONDITION/OUT_OF_RANGE 400,
// UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// ALREADY_EXISTS/ABORTED 409, RESOURCE_EXHAUSTED 429, UNIMPLEMENTED 501,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, the rest 500.
int HttpStatusFromCode(absl::StatusCode code);

// The error body every HTTP error carries, the proto3 JSON of
// google.rpc.Status: {"code":5,"message":"...","details":[...]}. `details`
// come from the gRPC status's binary details when they hold a
// google.rpc.Status; else [].
//
// Each detail is printed on its own, its type looked up first in
// `detail_types` (when not null: e.g. a resolver over the descriptors a
// gateway serves), then among the types compiled into this process, which
// include every google.rpc error detail (BadRequest, ErrorInfo, RetryInfo,
// ResourceInfo, ...; protos/google/rpc/error_details.proto). A detail whose
// type neither knows, or whose bytes do not parse as that type, is kept as
//   {"@type": "<its type URL>", "value": "<its bytes, base64>"}
// (proto3 JSON has no form for an Any of an unknown type: printing one is an
// error; this keeps what a client needs to decode it itself), and the other
// details are printed as usual. A detail whose type URL is not UTF-8 is
// left out.
//
// `detail_types` is not owned and is only used during the call; it must be
// thread-safe when the call may run on several threads.
std::string JsonErrorBody(const grpc::Status& status);
std::string JsonErrorBody(const grpc::Status& status,
                          google::protobuf::util::TypeResolver* detail_types);
std::string JsonErrorBody(const absl::Status& status);

}  // namespace stubmesh

#endif  // STUBMESH_STATUS_STATUS_MAPPING_H_
