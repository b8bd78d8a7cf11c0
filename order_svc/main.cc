// order_svc: stubmesh.order.v1.OrderService over gRPC, on its own SQLite
// file; asks the user service whether a user exists before placing an order.

#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "mesh/mesh.h"
#include "mesh/mesh_config_flag.h"
#include "order_svc/order_service_impl.h"
#include "order_svc/order_store.h"
#include "order_svc/user_event_consumer.h"
#include "server/grpc_service_runner.h"

ABSL_FLAG(int32_t, port, 50052, "gRPC port; 0 picks a free one.");
ABSL_FLAG(std::string, db, "order_svc.db",
          "The service's database: a SQLite file (created if missing; also "
          "sqlite:///abs/path) or a PostgreSQL URL "
          "(postgresql://user@host:port/db). Replicas of the service may "
          "share it.");
ABSL_FLAG(std::string, user_service, "127.0.0.1:50051",
          "gRPC target of stubmesh.user.v1.UserService (host:port, "
          "ipv4:a:p,b:p, dns:///host:port, unix:path), with the mesh's "
          "defaults and a 2s timeout. --mesh_config, when it names the "
          "service, wins.");

ABSL_FLAG(bool, consume_user_events, true,
          "Tail UserService.WatchEvents and cancel the open orders of "
          "deleted users (the user-deletion saga). Off only for tests and "
          "tools that must not apply events.");

ABSL_FLAG(int32_t, user_events_max_batch, 512,
          "At most this many user events are applied in one transaction "
          "(one commit, one fsync on SQLite); the consumer never waits to "
          "fill a batch. At least 1.");
ABSL_FLAG(int32_t, user_events_max_buffered, 1024,
          "User events read ahead of the store, at most; the stream is read "
          "no further while this many wait. At least 1.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves stubmesh.order.v1.OrderService. Example:\n"
      "  order_svc --port=50052 --db=orders.db "
      "--user_service=127.0.0.1:50051");
  absl::ParseCommandLine(argc, argv);
  for (const auto& [name, value] :
       {std::pair{"--user_events_max_batch",
                  absl::GetFlag(FLAGS_user_events_max_batch)},
        std::pair{"--user_events_max_buffered",
                  absl::GetFlag(FLAGS_user_events_max_buffered)}}) {
    if (value < 1) {
      absl::FPrintF(stderr, "order_svc: %s must be at least 1, not %d\n", name,
                    value);
      return 1;
    }
  }

  absl::StatusOr<std::unique_ptr<stubmesh::order::OrderStore>> store =
      stubmesh::order::OrderStore::Create(absl::GetFlag(FLAGS_db));
  if (!store.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", store.status().ToString());
    return 1;
  }
  const std::string users = stubmesh::user::v1::UserService::service_full_name();
  absl::StatusOr<std::optional<stubmesh::mesh::MeshConfig>> from_flag =
      stubmesh::mesh::MeshConfigFromFlag();
  if (!from_flag.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", from_flag.status().ToString());
    return 1;
  }
  stubmesh::mesh::MeshConfig config =
      from_flag->value_or(stubmesh::mesh::MeshConfig());
  if (!config.services().contains(users)) {
    stubmesh::mesh::v1::ServiceMesh& user_service =
        (*config.mutable_services())[users];
    user_service.set_target(absl::GetFlag(FLAGS_user_service));
    user_service.mutable_timeout()->set_seconds(2);
  }
  // One registry: the admin /metrics shows server and client metrics.
  auto metrics = std::make_shared<prometheus::Registry>();
  stubmesh::mesh::MeshOptions mesh_options;
  mesh_options.metrics = metrics;
  absl::StatusOr<std::optional<stubmesh::mesh::MeshTlsFiles>> tls =
      stubmesh::mesh::MeshTlsFromFlags(config);
  if (!tls.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", tls.status().ToString());
    return 1;
  }
  mesh_options.tls = *tls;
  absl::StatusOr<std::unique_ptr<stubmesh::mesh::Mesh>> mesh =
      stubmesh::mesh::Mesh::Create(std::move(config), mesh_options);
  if (!mesh.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", mesh.status().ToString());
    return 1;
  }
  if (!absl::GetFlag(FLAGS_mesh_config).empty()) {
    (*mesh)->WatchFile(absl::GetFlag(FLAGS_mesh_config), absl::Seconds(2));
  }
  stubmesh::order::OrderServiceImpl service(store->get(), mesh->get());
  // The saga: user deletions cancel the user's open orders.
  stubmesh::order::UserEventConsumerOptions consumer_options;
  consumer_options.metrics = metrics;
  consumer_options.max_batch = absl::GetFlag(FLAGS_user_events_max_batch);
  consumer_options.max_buffered_events =
      absl::GetFlag(FLAGS_user_events_max_buffered);
  stubmesh::order::UserEventConsumer consumer(store->get(), mesh->get(),
                                              consumer_options);
  if (absl::GetFlag(FLAGS_consume_user_events)) consumer.Start();

  stubmesh::server::GrpcServiceRunnerOptions options =
      stubmesh::server::GrpcServiceRunnerOptionsFromFlags("order_svc");
  options.port = absl::GetFlag(FLAGS_port);
  options.metrics = metrics;
  options.before_shutdown = [&] {
    consumer.Stop();
    (*store)->commit_signal()->Close();
  };
  absl::Status s = stubmesh::server::ServeUntilSignalled(
      options,
      {{stubmesh::order::v1::OrderService::service_full_name(), &service}});
  if (!s.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
