// user_svc: stubmesh.user.v1.UserService over gRPC, on its own SQLite file.

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "server/grpc_service_runner.h"
#include "user_svc/user_service_impl.h"
#include "user_svc/user_store.h"

ABSL_FLAG(int32_t, port, 50051, "gRPC port; 0 picks a free one.");
ABSL_FLAG(std::string, db, "user_svc.db",
          "The service's database: a SQLite file (created if missing; also "
          "sqlite:///abs/path) or a PostgreSQL URL "
          "(postgresql://user@host:port/db). Replicas of the service may "
          "share it.");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves stubmesh.user.v1.UserService. Example:\n"
      "  user_svc --port=50051 --db=/var/lib/stubmesh/users.db");
  absl::ParseCommandLine(argc, argv);

  absl::StatusOr<std::unique_ptr<stubmesh::user::UserStore>> store =
      stubmesh::user::UserStore::Create(absl::GetFlag(FLAGS_db));
  if (!store.ok()) {
    absl::FPrintF(stderr, "user_svc: %s\n", store.status().ToString());
    return 1;
  }
  stubmesh::user::UserServiceImpl service(store->get());

  stubmesh::server::GrpcServiceRunnerOptions options =
      stubmesh::server::GrpcServiceRunnerOptionsFromFlags("user_svc");
  options.port = absl::GetFlag(FLAGS_port);
  // Event streams never end by themselves; they end (UNAVAILABLE) as the
  // drain begins, and their callers resume on another replica.
  options.before_shutdown = [&store] { (*store)->commit_signal()->Close(); };
  absl::Status s = stubmesh::server::ServeUntilSignalled(
      options,
      {{stubmesh::user::v1::UserService::service_full_name(), &service}});
  if (!s.ok()) {
    absl::FPrintF(stderr, "user_svc: %s\n", s.ToString());
    return 1;
  }
  return 0;
}
