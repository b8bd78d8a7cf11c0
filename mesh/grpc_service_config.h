#ifndef STUBMESH_MESH_GRPC_SERVICE_CONFIG_H_
#define STUBMESH_MESH_GRPC_SERVICE_CONFIG_H_

// Turns one service's mesh config into what gRPC's client machinery reads:
// a service config (JSON) and channel arguments. This is the one place
// where the mesh's defaults live:
//
//   load balancing   round_robin, under outlier_detection_experimental
//                    (30% or more of >= 5 calls failed in a second: a
//                    replica that fails half its calls is ejected, which at
//                    50%, gRPC's example, happened only every other time;
//                    ejection 5 s to 30 s, at most 50% of backends)
//   health checking  grpc.health.v1 Watch under the service's full name
//   retries          3 attempts on UNAVAILABLE, backoff 0.05 s x2 up to 1 s
//   throttling       100 tokens, ratio 1: retries stop while more calls
//                    fail than succeed (gRPC's example ratio 0.1 stopped
//                    them when one replica of two failed half its calls)
//
// Deadlines are not in the service config: gRPC 1.51 (Debian's build)
// starts a method config's `timeout` from a stale clock reading, so a 3 s
// timeout fired after 1.57 s and a 1 s one at once (measured with
// python3-grpcio 1.51 and C++ alike). Mesh::NewClientContext and
// ClientContextFor set the deadline from the mesh config instead.
//
// Keepalive: a client pings a quiet connection with calls open (e.g. an
// event stream) every keepalive.time, for as long as it stays quiet (gRPC's
// default stops after two pings without data, so a dead peer on a quiet
// stream went unnoticed). A gRPC server answers pings that come faster than
// its minimum interval (5 min by default) with GOAWAY "too_many_pings",
// failing the calls: the loader refuses keepalive.time under
// kMinKeepaliveTime, and every stubmesh server (server/grpc_service_runner)
// takes ServerKeepaliveArguments(), which accept half that interval. Clients
// never ping without calls, so servers keep gRPC's refusal of those pings.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<std::string> json =
//       BuildServiceConfigJson("stubmesh.user.v1.UserService", service_mesh);
//   grpc::ChannelArguments args = BuildChannelArguments(service_mesh, *json);
//   auto channel = grpc::CreateCustomChannel(service_mesh.target(), creds, args);

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/support/channel_arguments.h"
#include "stubmesh/mesh/v1/mesh_config.pb.h"

namespace stubmesh::mesh {

// The deadline of a call to `method` whose caller set none: its entry in
// method_timeouts, else the service's timeout, else 10 s.
absl::Duration CallTimeout(const v1::ServiceMesh& service,
                           absl::string_view method);

// The shortest keepalive.time the mesh config allows (gRPC's own advice is
// not to go under 10 s).
inline constexpr absl::Duration kMinKeepaliveTime = absl::Seconds(10);

// INVALID_ARGUMENT for RING_HASH: see mesh_config.proto's LoadBalancing.
absl::StatusOr<std::string> BuildServiceConfigJson(
    const std::string& service_name, const v1::ServiceMesh& service);

// The service config plus keepalive; DNS-provided service configs are
// ignored (the mesh config is the only source). Each channel gets its own
// subchannels (connections), not shared with other services' channels.
grpc::ChannelArguments BuildChannelArguments(
    const v1::ServiceMesh& service, const std::string& service_config_json);

// The channel arguments of a server whose clients send keepalive pings as
// often as every `shortest_client_keepalive`: pings are accepted at twice
// that pace, for timers' slack. Servers of the mesh pass nothing (the
// loader's floor); tests pass less, to see pings within seconds.
std::vector<std::pair<std::string, int>> ServerKeepaliveArguments(
    absl::Duration shortest_client_keepalive = kMinKeepaliveTime);

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_GRPC_SERVICE_CONFIG_H_
