// order_svc: stubmesh.order.v1.OrderService over gRPC, on its own SQLite
// file; asks the user service whether a user exists before placing an order.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "order_svc/order_service_impl.h"
#include "order_svc/order_store.h"
#include "server/grpc_service_runner.h"

ABSL_FLAG(int32_t, port, 50052, "gRPC port; 0 picks a free one.");
ABSL_FLAG(std::string, db, "order_svc.db",
          "SQLite database file (created if missing). Replicas of the "
          "service may share it.");
ABSL_FLAG(std::string, user_service, "127.0.0.1:50051",
          "gRPC target of stubmesh.user.v1.UserService (host:port, "
          "ipv4:a:p,b:p, dns:///host:port, unix:path).");
ABSL_FLAG(absl::Duration, user_lookup_timeout, absl::Seconds(2),
          "Upper bound of a user lookup when the caller's deadline is later "
          "or unset.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves stubmesh.order.v1.OrderService. Example:\n"
      "  order_svc --port=50052 --db=orders.db "
      "--user_service=127.0.0.1:50051");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<std::unique_ptr<stubmesh::order::OrderStore>> store =
      stubmesh::order::OrderStore::Create(absl::GetFlag(FLAGS_db));
  if (!store.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", store.status().ToString());
    return 1;
  }
  std::shared_ptr<grpc::Channel> user_channel = grpc::CreateChannel(
      absl::GetFlag(FLAGS_user_service), grpc::InsecureChannelCredentials());
  stubmesh::order::OrderServiceImpl service(
      store->get(), stubmesh::user::v1::UserService::NewStub(user_channel),
      absl::GetFlag(FLAGS_user_lookup_timeout));

  stubmesh::server::GrpcServiceRunnerOptions options =
      stubmesh::server::GrpcServiceRunnerOptionsFromFlags("order_svc");
  options.port = absl::GetFlag(FLAGS_port);
  absl::Status s = stubmesh::server::ServeUntilSignalled(
      options,
      {{stubmesh::order::v1::OrderService::service_full_name(), &service}});
  if (!s.ok()) {
    absl::FPrintF(stderr, "order_svc: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
