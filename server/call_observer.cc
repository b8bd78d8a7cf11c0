#include "server/call_observer.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/descriptor.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/status.h"
#include "mesh/trace_context.h"
#include "status/status_mapping.h"

namespace stubmesh::server {
namespace {

using ::grpc::experimental::InterceptionHookPoints;

constexpr absl::string_view kHealthWatch = "/grpc.health.v1.Health/Watch";
constexpr size_t kMaxRequestIdLength = 128;

// Services every server has besides its own.
constexpr const char* kInfrastructureServices[] = {
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
};

absl::string_view ServiceOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == 0) return "";
  return path.substr(1, slash - 1);
}

// ServerRpcInfo::Type as an index of MethodEntry::series.
size_t TypeIndex(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::CLIENT_STREAMING:
      return 1;
    case Type::SERVER_STREAMING:
      return 2;
    case Type::BIDI_STREAMING:
      return 3;
    default:
      return 0;
  }
}

absl::string_view MethodOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? "" : path.substr(slash + 1);
}

// The first value of `key`, or "" when there is none.
absl::string_view FirstValue(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view key) {
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return "";
  return absl::string_view(it->second.data(), it->second.size());
}

}  // namespace

std::string LogTimestamp() {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                          absl::UTCTimeZone());
}

std::string RequestIdForLog(absl::string_view value) {
  // Anything else could forge or split log lines.
  if (value.empty() || value.size() > kMaxRequestIdLength) return "-";
  for (char c : value) {
    if (c <= ' ' || c > '~') return "-";
  }
  return std::string(value);
}

std::string TraceIdForLog(absl::string_view traceparent) {
  std::optional<mesh::TraceContext> context =
      mesh::ParseTraceparent(traceparent);
  return context.has_value() ? context->trace_id : "-";
}

std::string SpanIdForLog(absl::string_view traceparent) {
  std::optional<mesh::TraceContext> context =
      mesh::ParseTraceparent(traceparent);
  return context.has_value() ? context->span_id : "-";
}

// One call. gRPC runs a call's batches through Intercept one after the
// other in the order that matters here: the first (initial metadata) before
// the handler, the status after it; so the fields set in the first batch
// need no lock.
class CallObserver final : public grpc::experimental::Interceptor {
 public:
  CallObserver(CallObservers* observers,
               grpc::experimental::ServerRpcInfo* info)
      : observers_(observers),
        info_(info),
        path_(info->method() != nullptr ? info->method() : ""),
        series_(observers->SeriesFor(path_, info->type())),
        start_(absl::Now()),
        drains_(path_ != kHealthWatch),
        faultable_(observers->options_.faults != nullptr &&
                   !observers->options_.faults->empty()) {
    if (drains_) observers_->AddInFlight();
    if (series_ != nullptr) series_->Started();
  }

  ~CallObserver() override {
    // A call that ended without sending a status (cancelled before its
    // handler finished) still counts as handled, so that started and handled
    // add up.
    if (!finished_) Finish(absl::StatusCode::kCancelled);
    if (drains_) observers_->RemoveInFlight();
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr && series_ != nullptr) {
      series_->MessageReceived();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        series_ != nullptr) {
      series_->MessageSent();
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      OnInitialMetadata(methods);
      if (fault_.delay > absl::ZeroDuration()) {
        // Proceed() later, from the alarm: the handler runs after the delay.
        observers_->Hold(fault_.delay, [methods] { methods->Proceed(); });
        return;
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      if (fault_.abort.has_value()) {
        // A handler that did not ask InjectedAbort has run; its answer is
        // replaced, as if lost on the way back (creates are idempotent by
        // request_id, so this is safe).
        status =
            ToGrpcStatus(absl::Status(*fault_.abort, kInjectedFaultMessage));
        methods->ModifySendStatus(status);
      } else if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
                 status.error_message().empty() &&
                 observers_->IsKnownMethod(path_)) {
        // gRPC 1.51's callback API answers a request that does not parse
        // with a bare UNIMPLEMENTED, even for a method that is served.
        status = ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
            "request: does not parse as the request message of ", path_,
            " (malformed bytes, or a string field that is not UTF-8)")));
        methods->ModifySendStatus(status);
      }
      peer_ = info_->server_context()->peer();
      absl::StatusCode code = ToAbslStatus(status).code();
      if (info_->server_context()->IsCancelled()) {
        // The caller is gone (as far as gRPC has learnt yet): what it saw was
        // its cancellation or deadline, not this status, which is dropped.
        code =
            absl::FromChrono(info_->server_context()->deadline()) <= absl::Now()
                ? absl::StatusCode::kDeadlineExceeded
                : absl::StatusCode::kCancelled;
      }
      Finish(code);
    }
    methods->Proceed();
  }

 private:
  void OnInitialMetadata(grpc::experimental::InterceptorBatchMethods* methods) {
    std::multimap<grpc::string_ref, grpc::string_ref>* metadata =
        methods->GetRecvInitialMetadata();
    // The log's fields cost a few microseconds a call (bench/RESULTS.md):
    // only gathered for a log that is written.
    if (observers_->options_.access_log) GatherLogFields(metadata);
    if (faultable_) {
      fault_ = observers_->options_.faults->Decide(ServiceOf(path_),
                                                   MethodOf(path_));
      if (fault_.abort.has_value() && metadata != nullptr) {
        // Handlers that ask (InjectedAbort) answer before sending anything.
        metadata->emplace(grpc::string_ref(kInjectedAbortKey),
                          grpc::string_ref(StatusCodeName(*fault_.abort)));
      }
    }
  }

  void GatherLogFields(
      const std::multimap<grpc::string_ref, grpc::string_ref>* metadata) {
    if (metadata != nullptr) {
      request_id_ = RequestIdForLog(FirstValue(*metadata, mesh::kRequestIdKey));
      absl::string_view traceparent =
          FirstValue(*metadata, mesh::kTraceparentKey);
      trace_id_ = TraceIdForLog(traceparent);
      span_id_ = SpanIdForLog(traceparent);
    }
    peer_ = info_->server_context()->peer();
    // What is left of the caller's deadline when the call arrives shows in
    // the log whether a deadline was passed on from hop to hop.
    const std::chrono::system_clock::time_point deadline =
        info_->server_context()->deadline();
    if (deadline != std::chrono::system_clock::time_point::max()) {
      deadline_left_ = absl::StrCat(
          absl::ToInt64Milliseconds(absl::FromChrono(deadline) - start_), "ms");
    }
  }

  void Finish(absl::StatusCode code) {
    finished_ = true;
    const absl::Duration latency = absl::Now() - start_;
    if (series_ != nullptr) series_->Handled(code, latency);
    if (!observers_->options_.access_log) return;
    const std::string fault = fault_.Label();
    absl::FPrintF(stderr,
                  "%s %s access %s %s %dus peer=%s rid=%s trace=%s span=%s "
                  "deadline=%s%s\n",
                  LogTimestamp(), observers_->options_.server_name, path_,
                  StatusCodeName(code), absl::ToInt64Microseconds(latency),
                  peer_.empty() ? std::string("-") : peer_, request_id_,
                  trace_id_, span_id_, deadline_left_,
                  fault.empty() ? "" : absl::StrCat(" fault=", fault));
  }

  CallObservers* const observers_;
  grpc::experimental::ServerRpcInfo* const info_;
  // Copied: the interceptor outlives the ServerRpcInfo's use.
  const std::string path_;
  ServerMetrics::MethodSeries* const series_;  // null: no metrics
  const absl::Time start_;
  const bool drains_;
  const bool faultable_;
  std::string deadline_left_ = "-";
  std::string peer_;
  std::string request_id_ = "-";
  std::string trace_id_ = "-";
  std::string span_id_ = "-";
  FaultDecision fault_;
  bool finished_ = false;
};

CallObservers::CallObservers(CallObserverOptions options)
    : options_(std::move(options)) {
  unknown_method_.service = "unknown";
  unknown_method_.method = "unknown";
  const google::protobuf::DescriptorPool* pool =
      google::protobuf::DescriptorPool::generated_pool();
  auto add_methods = [&](const std::string& name) {
    const google::protobuf::ServiceDescriptor* service =
        pool->FindServiceByName(name);
    if (service == nullptr) return false;
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string& method = service->method(i)->name();
      MethodEntry& entry = methods_[absl::StrCat("/", name, "/", method)];
      entry.service = name;
      entry.method = method;
    }
    return true;
  };
  for (const std::string& name : options_.services) {
    // A served service without a linked-in descriptor: its name was chosen
    // by the server, so its methods are let through whatever they are.
    if (!add_methods(name)) known_services_.insert(name);
  }
  // One that is not linked in is not served either.
  for (const char* name : kInfrastructureServices) add_methods(name);
}

ServerMetrics::MethodSeries* CallObservers::SeriesFor(
    absl::string_view path, grpc::experimental::ServerRpcInfo::Type type) {
  if (options_.metrics == nullptr) return nullptr;
  MethodEntry* entry = &unknown_method_;
  if (auto it = methods_.find(path); it != methods_.end()) {
    entry = &it->second;
  } else if (known_services_.count(ServiceOf(path)) > 0) {
    // Methods not known in advance: their labels are looked up per call.
    return &options_.metrics->SeriesOf(
        MethodLabelsOf(path, GrpcTypeLabel(type)));
  }
  std::atomic<ServerMetrics::MethodSeries*>& slot =
      entry->series[TypeIndex(type)];
  ServerMetrics::MethodSeries* series = slot.load(std::memory_order_acquire);
  if (series == nullptr) {
    // SeriesOf gives every caller the same series for the same labels, so
    // a race here stores the same pointer twice.
    series = &options_.metrics->SeriesOf(
        MethodLabels{GrpcTypeLabel(type), entry->service, entry->method});
    slot.store(series, std::memory_order_release);
  }
  return series;
}

void CallObservers::AddInFlight() {
  absl::MutexLock lock(&mu_);
  ++in_flight_;
}

void CallObservers::RemoveInFlight() {
  absl::MutexLock lock(&mu_);
  --in_flight_;
}

bool CallObservers::AwaitNoCallsInFlight(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto zero = [this]()
                  ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&zero), deadline);
}

void CallObservers::Hold(absl::Duration delay, std::function<void()> resume) {
  auto alarm = std::make_shared<grpc::Alarm>();
  uint64_t id = 0;
  bool run_now;
  {
    absl::MutexLock lock(&mu_);
    run_now = released_;
    if (!run_now) {
      id = next_alarm_++;
      alarms_[id] = alarm;
    }
  }
  if (run_now) {
    resume();
    return;
  }
  // The callback runs on a gRPC executor thread when the alarm fires or is
  // cancelled. Set() is called without the lock: it may run the callback
  // before returning, and the callback takes the lock.
  alarm->Set(absl::ToChronoTime(absl::Now() + delay),
             [this, id, resume = std::move(resume)](bool /*fired*/) {
               std::shared_ptr<grpc::Alarm> self;
               {
                 absl::MutexLock lock(&mu_);
                 auto it = alarms_.find(id);
                 if (it != alarms_.end()) {
                   self = std::move(it->second);
                   alarms_.erase(it);
                 }
               }
               resume();
               // `self` may be the last reference: gRPC keeps the alarm's
               // state alive until this callback returns.
             });
  bool released;
  {
    absl::MutexLock lock(&mu_);
    released = released_;
  }
  // ReleaseDelayedCalls() may have run between the insertion and Set(); its
  // Cancel() then found an alarm not yet set.
  if (released) alarm->Cancel();
}

void CallObservers::ReleaseDelayedCalls() {
  std::vector<std::shared_ptr<grpc::Alarm>> pending;
  {
    absl::MutexLock lock(&mu_);
    released_ = true;
    for (const auto& [id, alarm] : alarms_) pending.push_back(alarm);
  }
  for (const std::shared_ptr<grpc::Alarm>& alarm : pending) alarm->Cancel();
}

grpc::experimental::Interceptor* CallObserverFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new CallObserver(observers_, info);
}

}  // namespace stubmesh::server
