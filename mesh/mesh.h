#ifndef STUBMESH_MESH_MESH_H_
#define STUBMESH_MESH_MESH_H_

// The sidecar-free mesh, as a process sees it: one gRPC channel per service,
// built from the mesh config (grpc_service_config.h: balancing, health
// checks, outlier ejection, deadlines, retries), with request ids, trace
// context and client metrics on every call (client_call_interceptor.h).
//
// With mTLS (MeshConfig.tls; MeshOptions.tls names this process's files,
// see mesh_tls.h) every channel presents the process's certificate and
// verifies its servers; the tls section itself cannot change while the
// process runs (the files it names are reread, though).
//
// The config can change while the process runs: Update() (or a watched
// file) builds channels for the services whose config changed and swaps
// them in; calls already made on an old channel finish on it.
//
// Thread-safety: thread-safe.
//
// Example:
//   absl::StatusOr<std::unique_ptr<Mesh>> mesh = Mesh::Create(config, {});
//   auto users = (*mesh)->NewStub<stubmesh::user::v1::UserService>();
//   // In a callback handler that calls out:
//   std::unique_ptr<grpc::ClientContext> context = ClientContextFor(
//       *server_context, mesh->CallTimeout(UserService::service_full_name(),
//                                          "GetUser"));
//   (*users)->async()->GetUser(context.get(), &request, &response, done);

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server_context.h"
#include "mesh/client_call_interceptor.h"
#include "mesh/mesh_config_loader.h"
#include "mesh/mesh_tls.h"
#include "prometheus/registry.h"

namespace stubmesh::mesh {

struct MeshOptions {
  // Where client metrics go; none when null.
  std::shared_ptr<prometheus::Registry> metrics;
  // Credentials of every channel; insecure when null. Not with `tls`.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // This process's mTLS files (CheckMeshTls or MeshTlsFromFlags of the same
  // config): set exactly when the config has tls.
  std::optional<MeshTlsFiles> tls;
};

class Mesh {
 public:
  static absl::StatusOr<std::unique_ptr<Mesh>> Create(MeshConfig config,
                                                      MeshOptions options);
  ~Mesh();

  // The channel to `service` (a full name). Its config comes from the mesh
  // config; a service the config does not name gets the mesh's defaults on
  // `fallback_target`, or NOT_FOUND when that is empty.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> Channel(
      absl::string_view service, absl::string_view fallback_target = "") const;

  // A stub of a generated service, e.g. NewStub<UserService>().
  template <typename Service>
  absl::StatusOr<std::unique_ptr<typename Service::Stub>> NewStub(
      absl::string_view fallback_target = "") const {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        Channel(Service::service_full_name(), fallback_target);
    if (!channel.ok()) return channel.status();
    return Service::NewStub(*channel);
  }

  // A context for a call to `service`/`method` that the caller does not
  // bound itself: its deadline is the mesh config's timeout for the method.
  //
  // Deadlines come only from contexts: the per-method timeouts are not in
  // the channels' service config (grpc_service_config.h says why), so a
  // call made with a plain grpc::ClientContext has no deadline unless its
  // caller sets one. Use this, ClientContextFor(..., CallTimeout(...)), or
  // set_deadline yourself.
  std::unique_ptr<grpc::ClientContext> NewClientContext(
      absl::string_view service, absl::string_view method) const;

  // The mesh config's timeout for `method` of `service` (10 s by default).
  absl::Duration CallTimeout(absl::string_view service,
                             absl::string_view method) const;

  // The credentials of a channel to a target outside the config (e.g. a
  // server reflection client): mTLS with a host check when tls is on.
  std::shared_ptr<grpc::ChannelCredentials> CredentialsFor(
      const v1::ServiceMesh& service) const;

  // Validates `config` and swaps it in: channels of services whose config
  // changed are rebuilt, the others kept. On error nothing changes;
  // FAILED_PRECONDITION if its tls differs from the one at Create().
  absl::Status Update(MeshConfig config);

  // Rereads `path` every `interval` (when its contents change) and calls
  // Update(); a bad file is logged and ignored. Stops with the Mesh.
  void WatchFile(std::string path, absl::Duration interval);

  // The config in use now, as a snapshot: a later Update() or file change
  // does not change it (it swaps in a new one).
  std::shared_ptr<const MeshConfig> config() const;

 private:
  explicit Mesh(MeshOptions options);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> BuildChannel(
      const std::string& service, const v1::ServiceMesh& config) const;

  const MeshOptions options_;
  std::shared_ptr<ClientMetrics> client_metrics_;
  // Watches the mTLS files; null without tls.
  std::shared_ptr<grpc::experimental::CertificateProviderInterface>
      certificates_;
  // The tls of the config at Create(), unset without.
  std::optional<v1::MeshTls> tls_at_start_;

  mutable absl::Mutex mu_;
  // Never null; replaced whole, never changed, so snapshots may be shared.
  std::shared_ptr<const MeshConfig> config_ ABSL_GUARDED_BY(mu_);
  // Channels of the services in the config, by service; looked up without
  // allocating (the gateway asks once per request).
  std::map<std::string, std::shared_ptr<grpc::Channel>, std::less<>> channels_
      ABSL_GUARDED_BY(mu_);
  // Channels of services outside the config, by service, then target.
  mutable std::map<std::string,
                   std::map<std::string, std::shared_ptr<grpc::Channel>,
                            std::less<>>,
                   std::less<>>
      fallback_channels_ ABSL_GUARDED_BY(mu_);

  absl::Notification stop_watching_;
  std::thread watcher_;
};

// A client context for a call made while serving `server_context`: it ends
// when the incoming call's deadline passes, after `timeout`, or when the
// incoming call is cancelled, whichever comes first; and it carries the
// incoming x-request-id and a child span of its trace. The mesh config's
// timeout applies only when passed as `timeout` (Mesh::CallTimeout): by
// default the incoming call's deadline is the only one.
std::unique_ptr<grpc::ClientContext> ClientContextFor(
    const grpc::CallbackServerContext& server_context,
    absl::Duration timeout = absl::InfiniteDuration());

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_MESH_H_
