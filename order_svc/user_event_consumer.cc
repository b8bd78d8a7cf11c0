#include "order_svc/user_event_consumer.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::order {

UserEventConsumer::UserEventConsumer(OrderStore* store, const mesh::Mesh* mesh,
                                     UserEventConsumerOptions options)
    : store_(store),
      mesh_(mesh),
      options_(options),
      max_buffered_(
          static_cast<size_t>(std::max(1, options.max_buffered_events))),
      max_batch_(static_cast<size_t>(std::max(1, options.max_batch))) {
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
  batches_ = &prometheus::BuildCounter()
                  .Name("stubmesh_event_consumer_batches_total")
                  .Help("Batches of events applied, one transaction each.")
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

void UserEventConsumer::ReadStream(
    grpc::ClientReaderInterface<user::v1::UserEvent>* reader) {
  user::v1::UserEvent event;
  while (reader->Read(&event)) {
    absl::MutexLock lock(&mu_);
    // Backpressure: a full queue stops the reading, and flow control the
    // server.
    mu_.Await(absl::Condition(this, &UserEventConsumer::RoomOrGiveUp));
    if (abandoned_ || stopping_) break;
    queue_.push_back(std::move(event));
    event.Clear();
  }
  absl::MutexLock lock(&mu_);
  stream_ended_ = true;
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
    queue_.clear();
    stream_ended_ = false;
    abandoned_ = false;
  }
  if (position_ != nullptr) position_->Set(static_cast<double>(*position));
  user::v1::WatchEventsRequest request;
  request.set_after_sequence(*position);
  std::unique_ptr<grpc::ClientReader<user::v1::UserEvent>> reader =
      (*stub)->WatchEvents(&context, request);
  std::thread reader_thread([this, &reader] { ReadStream(reader.get()); });

  bool applied_any = false;
  absl::Status failed = absl::OkStatus();
  std::vector<user::v1::UserEvent> batch;
  while (true) {
    batch.clear();
    {
      absl::MutexLock lock(&mu_);
      // Whatever is queued, at once: a batch is never waited for.
      mu_.Await(absl::Condition(this, &UserEventConsumer::BatchOrEnd));
      // Empty here means the stream ended and all of it was applied.
      if (stopping_ || queue_.empty()) break;
      size_t take = std::min(queue_.size(), max_batch_);
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    absl::StatusOr<int> applied = store_->ApplyUserEvents(kSource, batch);
    if (!applied.ok()) {
      // Start over from the stored position: nothing of this batch stuck.
      failed = applied.status();
      break;
    }
    if (batches_ != nullptr) batches_->Increment();
    if (*applied > 0) {
      applied_any = true;
      if (applied_ != nullptr) {
        applied_->Increment(static_cast<double>(*applied));
        // The store applies batches in order: the last event was applied.
        position_->Set(static_cast<double>(batch.back().sequence()));
      }
    }
  }
  {
    absl::MutexLock lock(&mu_);
    abandoned_ = true;
    queue_.clear();
    // A reader still in Read() is woken by the cancellation.
    if (!stream_ended_) context.TryCancel();
  }
  reader_thread.join();
  grpc::Status status = reader->Finish();
  {
    absl::MutexLock lock(&mu_);
    active_ = nullptr;
    if (stopping_) return applied_any;
  }
  if (restarts_ != nullptr) restarts_->Increment();
  if (!failed.ok()) {
    absl::FPrintF(stderr, "user events: applying sequences %d..%d failed: %s\n",
                  batch.front().sequence(), batch.back().sequence(),
                  failed.ToString());
  } else {
    absl::FPrintF(stderr, "user events: stream ended (%d: %s); resuming\n",
                  status.error_code(), status.error_message());
  }
  return applied_any;
}

}  // namespace stubmesh::order
