// grpc_load: a closed-loop gRPC load generator for the benchmarks (bench/).
//
// `--concurrency` calls are kept in flight on the callback API: each call's
// completion starts the next one, until `--duration` has passed (or
// `--requests` calls were made). Calls go through the mesh's channel (the
// same client machinery a stubmesh service uses: service config, request id
// and trace context interceptors) or, with --mesh_less, a plain channel.
// Latencies go to a log-bucketed histogram (HDR-style: 64 sub-buckets per
// power of two, under 1.6% error), and one JSON object is printed on stdout:
//
//   {"method":"GetUser","target":"127.0.0.1:50051","mesh":true,
//    "concurrency":32,"duration_s":5.0,"requests":81234,"errors":0,
//    "error_codes":{},"rps":16246.8,
//    "latency_us":{"p50":1890.0,"p90":2410.0,"p99":3550.0,"max":9120.4,
//                  "mean":1950.2}}
//
// Exit status: 0 when calls were made; 2 when the target never became ready
// (a setup error; the JSON then has "setup_error"). Errors of single calls
// are counted, not fatal.
//
// Examples:
//   grpc_load --target=127.0.0.1:50051 --method=GetUser --user_id=1
//       --concurrency=32 --duration=5s
//   grpc_load --target=127.0.0.1:50052 --method=CreateOrder --user_id=1
//       --concurrency=1 --duration=5s --mesh-less
//   grpc_load --target=127.0.0.1:50051 --method=CreateUser --requests=1

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/credentials.h"
#include "bench/latency_histogram.h"
#include "mesh/mesh.h"
#include "stubmesh/order/v1/order_service.grpc.pb.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "gRPC target to load.");
ABSL_FLAG(std::string, method, "GetUser",
          "GetUser or CreateUser (UserService), CreateOrder (OrderService).");
ABSL_FLAG(int32_t, concurrency, 1, "Calls in flight at once.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5),
          "How long to measure (after --warmup).");
ABSL_FLAG(absl::Duration, warmup, absl::Milliseconds(200),
          "Calls made before measuring starts; not counted.");
ABSL_FLAG(int64_t, requests, 0,
          "Stop after this many measured calls (0: only --duration bounds).");
ABSL_FLAG(int64_t, user_id, 1, "The user GetUser reads and orders name.");
ABSL_FLAG(bool, mesh_less, false,
          "A plain channel (grpc::CreateChannel) instead of the mesh's. "
          "--mesh-less is accepted too.");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(10),
          "Deadline of each call.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "How long to wait for the channel to become ready.");
ABSL_FLAG(std::string, label, "", "Copied into the JSON, for the report.");

namespace {

using Clock = std::chrono::steady_clock;
using stubmesh::order::v1::OrderService;
using stubmesh::user::v1::UserService;
using stubmesh::bench::Histogram;

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN_CODE";
  }
}

enum class Method { kGetUser, kCreateUser, kCreateOrder };

// What the slots share: the stubs, the clock bounds and the stop signal.
struct Run {
  Method method;
  std::unique_ptr<UserService::Stub> users;
  std::unique_ptr<OrderService::Stub> orders;
  const stubmesh::mesh::Mesh* mesh = nullptr;  // null: plain contexts
  std::string service;
  std::string method_name;
  absl::Duration call_timeout;
  int64_t user_id = 1;
  int64_t max_requests = 0;          // 0: unbounded
  std::string unique_prefix;         // for CreateUser emails

  Clock::time_point measure_start;
  Clock::time_point measure_end;
  std::atomic<int64_t> started_measured{0};
  std::atomic<int64_t> sequence{0};

  absl::Mutex mu;
  int active_slots ABSL_GUARDED_BY(mu) = 0;
};

// One closed loop: a call in flight at a time; its completion starts the
// next. The request and response objects are reused.
class Slot {
 public:
  explicit Slot(Run* run) : run_(run) {}

  void Start() { Next(); }

  const Histogram& histogram() const { return histogram_; }
  int64_t errors() const { return errors_; }
  const std::map<std::string, int64_t>& error_codes() const {
    return error_codes_;
  }
  const std::string& first_error() const { return first_error_; }
  const std::string& last_response() const { return last_response_; }

 private:
  void Next() {
    Clock::time_point now = Clock::now();
    bool measured = now >= run_->measure_start;
    if (now >= run_->measure_end ||
        (measured && run_->max_requests > 0 &&
         run_->started_measured.fetch_add(1, std::memory_order_relaxed) >=
             run_->max_requests)) {
      absl::MutexLock lock(&run_->mu);
      --run_->active_slots;
      return;
    }
    // The context of the call that just ended is kept until the next one
    // ends: it is not destroyed inside its own completion callback.
    old_context_ = std::move(context_);
    if (run_->mesh != nullptr) {
      context_ = run_->mesh->NewClientContext(run_->service, run_->method_name);
    } else {
      context_ = std::make_unique<grpc::ClientContext>();
    }
    context_->set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(run_->call_timeout));
    start_ = now;
    measured_ = measured;
    auto done = [this](grpc::Status status) { Done(status); };
    switch (run_->method) {
      case Method::kGetUser:
        get_user_.set_id(run_->user_id);
        run_->users->async()->GetUser(context_.get(), &get_user_, &user_,
                                      std::move(done));
        break;
      case Method::kCreateUser: {
        int64_t n = run_->sequence.fetch_add(1, std::memory_order_relaxed);
        create_user_.mutable_user()->set_name("Bench User");
        create_user_.mutable_user()->set_email(
            absl::StrCat("bench-", run_->unique_prefix, "-", n,
                         "@example.com"));
        run_->users->async()->CreateUser(context_.get(), &create_user_,
                                         &user_, std::move(done));
        break;
      }
      case Method::kCreateOrder: {
        stubmesh::order::v1::Order* order = create_order_.mutable_order();
        if (order->items_size() == 0) {
          order->set_user_id(run_->user_id);
          stubmesh::order::v1::LineItem* item = order->add_items();
          item->set_sku("BOOK-1");
          item->set_quantity(2);
          item->set_unit_price_cents(1250);
        }
        run_->orders->async()->CreateOrder(context_.get(), &create_order_,
                                           &order_, std::move(done));
        break;
      }
    }
  }

  void Done(const grpc::Status& status) {
    int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     Clock::now() - start_)
                     .count();
    if (measured_) {
      if (status.ok()) {
        histogram_.Record(ns);
      } else {
        ++errors_;
        ++error_codes_[CodeName(status.error_code())];
        if (first_error_.empty()) {
          first_error_ = absl::StrCat(CodeName(status.error_code()), ": ",
                                      status.error_message());
        }
      }
    }
    if (status.ok() && run_->max_requests > 0) {
      last_response_ = run_->method == Method::kCreateOrder
                           ? order_.ShortDebugString()
                           : user_.ShortDebugString();
    }
    Next();
  }

  Run* run_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientContext> old_context_;
  Clock::time_point start_;
  bool measured_ = false;

  stubmesh::user::v1::GetUserRequest get_user_;
  stubmesh::user::v1::CreateUserRequest create_user_;
  stubmesh::user::v1::User user_;
  stubmesh::order::v1::CreateOrderRequest create_order_;
  stubmesh::order::v1::Order order_;

  Histogram histogram_;
  int64_t errors_ = 0;
  std::map<std::string, int64_t> error_codes_;
  std::string first_error_;
  std::string last_response_;
};

std::string CommonJson(const Run& run, const std::string& target,
                       int concurrency) {
  return absl::StrFormat(
      R"("label":"%s","method":"%s","target":"%s","mesh":%s,"concurrency":%d)",
      JsonEscape(absl::GetFlag(FLAGS_label)), run.method_name,
      JsonEscape(target), run.mesh != nullptr ? "true" : "false", concurrency);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Closed-loop gRPC load: --concurrency calls in flight for --duration; "
      "prints one JSON object.\n"
      "  grpc_load --target=127.0.0.1:50051 --method=GetUser --concurrency=32 "
      "--duration=5s [--mesh_less]");
  // The flag is documented as --mesh-less too.
  std::vector<std::string> args(argv, argv + argc);
  for (std::string& a : args) {
    if (a.rfind("--mesh-less", 0) == 0) a = "--mesh_less" + a.substr(11);
  }
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  absl::ParseCommandLine(static_cast<int>(cargs.size()), cargs.data());

  const std::string target = absl::GetFlag(FLAGS_target);
  const int concurrency = std::max(1, absl::GetFlag(FLAGS_concurrency));

  Run run;
  run.method_name = absl::GetFlag(FLAGS_method);
  if (run.method_name == "GetUser") {
    run.method = Method::kGetUser;
  } else if (run.method_name == "CreateUser") {
    run.method = Method::kCreateUser;
  } else if (run.method_name == "CreateOrder") {
    run.method = Method::kCreateOrder;
  } else {
    absl::FPrintF(stderr, "grpc_load: unknown --method=%s\n", run.method_name);
    return 1;
  }
  run.service = run.method == Method::kCreateOrder
                    ? OrderService::service_full_name()
                    : UserService::service_full_name();
  run.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  run.user_id = absl::GetFlag(FLAGS_user_id);
  run.max_requests = absl::GetFlag(FLAGS_requests);
  run.unique_prefix = absl::StrCat(getpid(), "-", absl::ToUnixMicros(absl::Now()));

  std::unique_ptr<stubmesh::mesh::Mesh> mesh;
  std::shared_ptr<grpc::Channel> channel;
  if (absl::GetFlag(FLAGS_mesh_less)) {
    channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  } else {
    stubmesh::mesh::MeshConfig config;
    (*config.mutable_services())[run.service].set_target(target);
    absl::StatusOr<std::unique_ptr<stubmesh::mesh::Mesh>> created =
        stubmesh::mesh::Mesh::Create(std::move(config), {});
    if (!created.ok()) {
      absl::PrintF("{%s,\"setup_error\":\"%s\"}\n",
                   CommonJson(run, target, concurrency),
                   JsonEscape(created.status().ToString()));
      return 2;
    }
    mesh = *std::move(created);
    run.mesh = mesh.get();
    absl::StatusOr<std::shared_ptr<grpc::Channel>> ch =
        mesh->Channel(run.service);
    if (!ch.ok()) {
      absl::PrintF("{%s,\"setup_error\":\"%s\"}\n",
                   CommonJson(run, target, concurrency),
                   JsonEscape(ch.status().ToString()));
      return 2;
    }
    channel = *ch;
  }
  if (!channel->WaitForConnected(
          absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_connect_timeout)))) {
    absl::PrintF("{%s,\"setup_error\":\"channel to %s not ready after %s\"}\n",
                 CommonJson(run, target, concurrency), JsonEscape(target),
                 absl::FormatDuration(absl::GetFlag(FLAGS_connect_timeout)));
    return 2;
  }
  if (run.method == Method::kCreateOrder) {
    run.orders = OrderService::NewStub(channel);
  } else {
    run.users = UserService::NewStub(channel);
  }

  Clock::time_point now = Clock::now();
  run.measure_start =
      now + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_warmup));
  run.measure_end =
      run.measure_start + absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_duration));

  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < concurrency; ++i) {
    slots.push_back(std::make_unique<Slot>(&run));
  }
  {
    absl::MutexLock lock(&run.mu);
    run.active_slots = concurrency;
  }
  for (auto& slot : slots) slot->Start();
  {
    absl::MutexLock lock(&run.mu);
    run.mu.Await(absl::Condition(
        +[](int* active) { return *active == 0; }, &run.active_slots));
  }
  Clock::time_point finished = Clock::now();
  // The measured window: from measure_start until the loop stopped (the
  // duration, or earlier when --requests was reached), but never before the
  // last measured call ended.
  Clock::time_point window_end =
      run.max_requests > 0 ? std::min(finished, run.measure_end)
                           : run.measure_end;
  double seconds = std::chrono::duration<double>(window_end - run.measure_start)
                       .count();
  if (seconds <= 0) seconds = 1e-9;

  Histogram all;
  int64_t errors = 0;
  std::map<std::string, int64_t> codes;
  std::string first_error, last_response;
  for (const auto& slot : slots) {
    all.Merge(slot->histogram());
    errors += slot->errors();
    for (const auto& [code, n] : slot->error_codes()) codes[code] += n;
    if (first_error.empty()) first_error = slot->first_error();
    if (!slot->last_response().empty()) last_response = slot->last_response();
  }
  std::string code_json;
  for (const auto& [code, n] : codes) {
    if (!code_json.empty()) code_json += ",";
    code_json += absl::StrFormat("\"%s\":%d", code, n);
  }
  auto us = [](double ns) { return ns / 1000.0; };
  absl::PrintF(
      "{%s,\"duration_s\":%.3f,\"requests\":%d,\"errors\":%d,"
      "\"error_codes\":{%s},\"first_error\":\"%s\",\"rps\":%.1f,"
      "\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,"
      "\"mean\":%.1f},\"last_response\":\"%s\"}\n",
      CommonJson(run, target, concurrency), seconds, all.count(), errors,
      code_json, JsonEscape(first_error), all.count() / seconds,
      us(all.Quantile(0.50)), us(all.Quantile(0.90)), us(all.Quantile(0.99)),
      us(static_cast<double>(all.max())), us(all.mean()),
      JsonEscape(last_response));
  return 0;
}
