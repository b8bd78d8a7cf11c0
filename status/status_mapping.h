#ifndef STUBMESH_STATUS_STATUS_MAPPING_H_
#define STUBMESH_STATUS_STATUS_MAPPING_H_

// The one place that maps status codes between absl, gRPC (and, as the
// gateway grows, HTTP and the JSON error body). Nobody else converts codes.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::Status s = store->Get(id).status();
//   reactor->Finish(stubmesh::ToGrpcStatus(s));

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace stubmesh {

// absl and gRPC share the canonical code numbers (0..16); codes outside that
// range become UNKNOWN. The message is kept.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status ToAbslStatus(const grpc::Status& status);

}  // namespace stubmesh

#endif  // STUBMESH_STATUS_STATUS_MAPPING_H_
