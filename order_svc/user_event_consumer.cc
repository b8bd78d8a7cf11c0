#include "order_svc/user_event_consumer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::order {

UserEventConsumer::UserEventConsumer(OrderStore* store, const mesh::Mesh* mesh,
                                     UserEventConsumerOptions options)
    : store_(store), mesh_(mesh), options_(options) {
  if (options_.metrics == nullptr) return;
  const std::map<std::string, std::string> labels = {{"source", kSource}};
  position_ = &prometheus::BuildGauge()
                   .Name("stubmesh_event_consumer_position")
                   .Help("Sequence of the last event applied from the source.")
                   .Register(*options_.metrics)
                   .Add(labels);
  applied_ = &prometheus::BuildCounter()
                  .Name("stubmesh_event_consumer_applied_total")
                  .Help("Events applied (duplicates skipped are not counted).")
                  .Register(*options_.metrics)
                  .Add(labels);
  restarts_ = &prometheus::BuildCounter()
                   .Name("stubmesh_event_consumer_stream_restarts_total")
                   .Help("Event streams that ended or failed and were opened "
                         "again.")
                   .Register(*options_.metrics)
                   .Add(labels);
}

UserEventConsumer::~UserEventConsumer() { Stop(); }

void UserEventConsumer::Start() {
  thread_ = std::thread([this] { Run(); });
}

void UserEventConsumer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (active_ != nullptr) active_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

bool UserEventConsumer::SleepUnlessStopped(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
  return !stopping_;
}

void UserEventConsumer::Run() {
  absl::BitGen random;
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (FollowOnce()) backoff = options_.initial_backoff;
    // Full jitter keeps replicas that lost the same server from coming back
    // in step.
    absl::Duration pause = backoff * absl::Uniform(random, 0.0, 1.0);
    if (!SleepUnlessStopped(pause)) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

bool UserEventConsumer::FollowOnce() {
  absl::StatusOr<int64_t> position = store_->ConsumerPosition(kSource);
  if (!position.ok()) {
    absl::FPrintF(stderr, "user events: cannot read the position: %s\n",
                  position.status().ToString());
    return false;
  }
  auto stub = mesh_->NewStub<user::v1::UserService>();
  if (!stub.ok()) {
    absl::FPrintF(stderr, "user events: %s\n", stub.status().ToString());
    return false;
  }
  // No deadline: the stream is meant to stay open; Stop() cancels it.
  grpc::ClientContext context;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    active_ = &context;
  }
  if (position_ != nullptr) position_->Set(static_cast<double>(*position));
  user::v1::WatchEventsRequest request;
  request.set_after_sequence(*position);
  std::unique_ptr<grpc::ClientReader<user::v1::UserEvent>> reader =
      (*stub)->WatchEvents(&context, request);
  bool applied_any = false;
  user::v1::UserEvent event;
  absl::Status failed = absl::OkStatus();
  while (reader->Read(&event)) {
    absl::StatusOr<bool> applied = store_->ApplyUserEvent(kSource, event);
    if (!applied.ok()) {
      // Start over from the stored position: nothing of this event stuck.
      failed = applied.status();
      context.TryCancel();
      break;
    }
    applied_any = applied_any || *applied;
    if (*applied && applied_ != nullptr) {
      applied_->Increment();
      position_->Set(static_cast<double>(event.sequence()));
    }
  }
  grpc::Status status = reader->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_ = nullptr;
    if (stopping_) return applied_any;
  }
  if (restarts_ != nullptr) restarts_->Increment();
  if (!failed.ok()) {
    absl::FPrintF(stderr, "user events: applying sequence %d failed: %s\n",
                  event.sequence(), failed.ToString());
  } else {
    absl::FPrintF(stderr, "user events: stream ended (%d: %s); resuming\n",
                  status.error_code(), status.error_message());
  }
  return applied_any;
}

}  // namespace stubmesh::order
