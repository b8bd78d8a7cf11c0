// How long the order service takes to catch up on N UserCreated events, one
// transaction per event against batches, on SQLite files (WAL,
// synchronous=FULL) in --dir, which should be on a real disk (not tmpfs):
// commits, not CPU, are what batching saves.
//
//   store/per_event    OrderStore::ApplyUserEvent, N times (as the
//                      consumer did before batching)
//   store/batched      OrderStore::ApplyUserEvents, batches of --max_batch
//   consumer/batch_1   UserEventConsumer with max_batch=1, tailing a real
//                      UserService (in this process, on 127.0.0.1) whose
//                      store holds the N events
//   consumer/batched   the same with max_batch=--max_batch
//
// Each line: wall time, the process's CPU time over it (for the consumer
// runs that includes the user service's stream), and events per second;
// for the consumer, also the transactions it took (the batches_total
// metric).
// Not a test: run it by hand.
//
//   bazel run -c opt //bench:user_event_catch_up -- --dir=/work/tmp
//       --events=5000

#include <sys/resource.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "mesh/mesh.h"
#include "order_svc/order_store.h"
#include "order_svc/user_event_consumer.h"
#include "prometheus/registry.h"
#include "user_svc/user_service_impl.h"
#include "user_svc/user_store.h"

ABSL_FLAG(std::string, dir, "/tmp",
          "Where the SQLite files go (a fresh subdirectory is made); use a "
          "real disk, not tmpfs.");
ABSL_FLAG(int, events, 5000, "UserCreated events to catch up on.");
ABSL_FLAG(int, max_batch, 512, "Events per transaction when batched.");
ABSL_FLAG(bool, consumer, true,
          "Also time the consumer end to end (needs N users created first, "
          "one commit each, which takes about as long as store/per_event).");

namespace stubmesh {
namespace {

using order::OrderStore;
using user::v1::UserEvent;

absl::Duration CpuTime() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) +
         absl::DurationFromTimeval(usage.ru_stime);
}

struct Stopwatch {
  absl::Time wall = absl::Now();
  absl::Duration cpu = CpuTime();

  void Report(absl::string_view name, int events) const {
    absl::Duration elapsed = absl::Now() - wall;
    absl::PrintF(
        "%-18s %6d events  %9.3f s wall  %7.3f s CPU  %9.0f events/s\n", name,
        events, absl::ToDoubleSeconds(elapsed),
        absl::ToDoubleSeconds(CpuTime() - cpu),
        events / absl::ToDoubleSeconds(elapsed));
    std::fflush(stdout);
  }
};

double CounterValue(prometheus::Registry& registry, absl::string_view name) {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name == name && !family.metric.empty()) {
      return family.metric[0].counter.value;
    }
  }
  return 0;
}

UserEvent UserCreated(int64_t sequence) {
  UserEvent event;
  event.set_sequence(sequence);
  event.mutable_user_created()->mutable_user()->set_id(sequence);
  return event;
}

absl::Status TimeStore(const std::string& dir, int events, int max_batch) {
  const char* source = order::UserEventConsumer::kSource;
  {
    absl::StatusOr<std::unique_ptr<OrderStore>> store =
        OrderStore::Create(dir + "/orders-per-event.db");
    if (!store.ok()) return store.status();
    Stopwatch watch;
    for (int64_t sequence = 1; sequence <= events; ++sequence) {
      absl::StatusOr<bool> applied =
          (*store)->ApplyUserEvent(source, UserCreated(sequence));
      if (!applied.ok()) return applied.status();
    }
    watch.Report("store/per_event", events);
  }
  absl::StatusOr<std::unique_ptr<OrderStore>> store =
      OrderStore::Create(dir + "/orders-batched.db");
  if (!store.ok()) return store.status();
  std::vector<UserEvent> batch;
  Stopwatch watch;
  for (int64_t sequence = 1; sequence <= events; ++sequence) {
    batch.push_back(UserCreated(sequence));
    if (static_cast<int>(batch.size()) == max_batch || sequence == events) {
      absl::StatusOr<int> applied = (*store)->ApplyUserEvents(source, batch);
      if (!applied.ok()) return applied.status();
      batch.clear();
    }
  }
  watch.Report("store/batched", events);
  return absl::OkStatus();
}

absl::Status TimeConsumer(const std::string& dir, int events, int max_batch) {
  absl::StatusOr<std::unique_ptr<user::UserStore>> users =
      user::UserStore::Create(dir + "/users.db");
  if (!users.ok()) return users.status();
  Stopwatch created;
  for (int n = 1; n <= events; ++n) {
    user::v1::User user;
    user.set_name(absl::StrCat("user ", n));
    user.set_email(absl::StrCat("u", n, "@example.com"));
    absl::StatusOr<user::v1::User> done = (*users)->Create(user, "");
    if (!done.ok()) return done.status();
  }
  created.Report("(users created)", events);

  user::UserServiceImpl service(users->get());
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("cannot start the user service");
  }
  mesh::MeshConfig config;
  (*config.mutable_services())[user::v1::UserService::service_full_name()]
      .set_target(absl::StrCat("127.0.0.1:", port));
  absl::StatusOr<std::unique_ptr<mesh::Mesh>> mesh =
      mesh::Mesh::Create(config, {});
  if (!mesh.ok()) return mesh.status();

  for (int batch : {1, max_batch}) {
    absl::StatusOr<std::unique_ptr<OrderStore>> store = OrderStore::Create(
        absl::StrCat(dir, "/orders-consumer-", batch, ".db"));
    if (!store.ok()) return store.status();
    order::UserEventConsumerOptions options;
    options.max_batch = batch;
    options.metrics = std::make_shared<prometheus::Registry>();
    order::UserEventConsumer consumer(store->get(), mesh->get(), options);
    Stopwatch watch;
    consumer.Start();
    // Polls the store (cheap next to a commit) until the last event is in.
    while (true) {
      absl::StatusOr<int64_t> position =
          (*store)->ConsumerPosition(order::UserEventConsumer::kSource);
      if (!position.ok()) return position.status();
      if (*position >= events) break;
      absl::SleepFor(absl::Milliseconds(1));
    }
    watch.Report(batch == 1 ? "consumer/batch_1" : "consumer/batched", events);
    consumer.Stop();
    double batches =
        CounterValue(*options.metrics, "stubmesh_event_consumer_batches_total");
    absl::PrintF("%-18s %6.0f transactions, %.1f events each on average\n", "",
                 batches, events / batches);
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return absl::OkStatus();
}

int Main() {
  const int events = absl::GetFlag(FLAGS_events);
  const int max_batch = absl::GetFlag(FLAGS_max_batch);
  if (events < 1 || max_batch < 1) {
    absl::FPrintF(stderr, "--events and --max_batch must be at least 1\n");
    return 2;
  }
  std::string dir =
      absl::StrCat(absl::GetFlag(FLAGS_dir), "/user_event_catch_up.", getpid());
  std::error_code error;
  if (!std::filesystem::create_directories(dir, error)) {
    absl::FPrintF(stderr, "cannot create %s: %s\n", dir, error.message());
    return 1;
  }
  absl::PrintF("SQLite files in %s (WAL, synchronous=FULL); batches of %d\n",
               dir, max_batch);
  absl::Status s = TimeStore(dir, events, max_batch);
  if (s.ok() && absl::GetFlag(FLAGS_consumer)) {
    s = TimeConsumer(dir, events, max_batch);
  }
  std::filesystem::remove_all(dir, error);
  if (!s.ok()) {
    absl::FPrintF(stderr, "user_event_catch_up: %s\n", s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace stubmesh

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return stubmesh::Main();
}
