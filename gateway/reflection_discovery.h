#ifndef STUBMESH_GATEWAY_REFLECTION_DISCOVERY_H_
#define STUBMESH_GATEWAY_REFLECTION_DISCOVERY_H_

// Asks a gRPC server what it serves, through server reflection
// (grpc.reflection.v1alpha): the full names of its services and every
// FileDescriptorProto they need, imports included. The gateway builds its
// routes from them, so a server that adds a service is served without a new
// descriptor set.
//
// Thread-safety: thread-safe; blocks the calling thread (call it at start
// and from a reload thread, never on a request path).
//
// Example:
//   absl::StatusOr<DiscoveredApi> api = DiscoverViaReflection(
//       grpc::CreateChannel("127.0.0.1:50051", creds), absl::Seconds(5));
//   // api->services: {"stubmesh.user.v1.UserService"}; api->files: ...

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"

namespace stubmesh::gateway {

struct DiscoveredApi {
  // Services other than gRPC's own (reflection, health).
  std::vector<std::string> services;
  std::vector<google::protobuf::FileDescriptorProto> files;
};

// UNAVAILABLE / DEADLINE_EXCEEDED when the server cannot be asked;
// UNIMPLEMENTED when it has no reflection service (the message says so).
absl::StatusOr<DiscoveredApi> DiscoverViaReflection(
    std::shared_ptr<grpc::Channel> channel, absl::Duration timeout);

// The same, for a target ("127.0.0.1:50051", "dns:///svc:443") reached with
// `credentials`; every error's message starts with the target:
// "reflection at 127.0.0.1:1: ...".
absl::StatusOr<DiscoveredApi> DiscoverViaReflection(
    absl::string_view target,
    std::shared_ptr<grpc::ChannelCredentials> credentials,
    absl::Duration timeout);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REFLECTION_DISCOVERY_H_
