#ifndef STUBMESH_MESH_RPC_LABELS_H_
#define STUBMESH_MESH_RPC_LABELS_H_

// The labels of the go-grpc-prometheus metrics, shared by the client
// (mesh/client_call_interceptor.h) and server (server/server_metrics.h)
// sides so that both name a call the same way.
//
// Thread-safety: pure functions.
//
// Example:
//   MethodLabels labels = MethodLabelsOf(info->method(),
//                                        GrpcTypeLabel(info->type()));

#include <string>

#include "absl/strings/string_view.h"

namespace stubmesh::mesh {

struct MethodLabels {
  std::string type;     // grpc_type
  std::string service;  // grpc_service, e.g. "stubmesh.user.v1.UserService"
  std::string method;   // grpc_method, e.g. "GetUser"
};

// "unary", "client_stream", "server_stream" or "bidi_stream", for gRPC's
// ClientRpcInfo::Type and ServerRpcInfo::Type alike.
template <typename RpcType>
const char* GrpcTypeLabel(RpcType type) {
  switch (type) {
    case RpcType::CLIENT_STREAMING:
      return "client_stream";
    case RpcType::SERVER_STREAMING:
      return "server_stream";
    case RpcType::BIDI_STREAMING:
      return "bidi_stream";
    default:
      return "unary";
  }
}

// Splits "/pkg.Service/Method"; a path of another shape gives service
// "unknown" and method "unknown".
MethodLabels MethodLabelsOf(absl::string_view path, absl::string_view type);

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_RPC_LABELS_H_
