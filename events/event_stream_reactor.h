#ifndef STUBMESH_EVENTS_EVENT_STREAM_REACTOR_H_
#define STUBMESH_EVENTS_EVENT_STREAM_REACTOR_H_

// The server side of a WatchEvents call: sends the events after the
// caller's position in sequence order, then each new one as it commits,
// until the caller cancels (or its deadline passes), the read fails, or the
// process stops (CommitSignal::Close(): UNAVAILABLE, so the caller resumes
// elsewhere from its last sequence).
//
// Each stream has a thread of its own that reads a batch, writes it one
// event at a time (one write in flight, as gRPC requires) and then waits on
// the CommitSignal or the poll interval. The number of streams a process
// serves is bounded (`max_streams`; beyond it RESOURCE_EXHAUSTED), which
// bounds the threads.
//
// Thread-safety: gRPC drives the reactor; `read` is called from the
// stream's thread and must be thread-safe. Ownership: the reactor deletes
// itself when gRPC is done with it; `signal` must outlive every stream
// (stop the server before destroying it).
//
// Example (in a CallbackService):
//   grpc::ServerWriteReactor<UserEvent>* WatchEvents(
//       grpc::CallbackServerContext*, const WatchEventsRequest* request) {
//     return StartEventStream<UserEvent>(
//         request->after_sequence(),
//         [this](int64_t after, int limit) {
//           return store_->ReadEvents(after, limit);
//         },
//         store_->commit_signal(), EventStreamOptions());
//   }

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "events/commit_signal.h"
#include "grpcpp/support/server_callback.h"
#include "status/status_mapping.h"
#include "validation/field_checks.h"

namespace stubmesh::events {

struct EventStreamOptions {
  int batch_size = 256;
  // How long a caught-up stream waits before it looks at the log again,
  // for events committed by other processes sharing the database.
  absl::Duration poll_interval = absl::Milliseconds(200);
  int max_streams = 64;
};

// A reactor that finishes at once with `status`.
template <typename Event>
class FinishedStreamReactor final : public grpc::ServerWriteReactor<Event> {
 public:
  explicit FinishedStreamReactor(const absl::Status& status) {
    this->Finish(ToGrpcStatus(status));
  }
  void OnDone() override { delete this; }
};

template <typename Event>
class EventStreamReactor final : public grpc::ServerWriteReactor<Event> {
 public:
  using ReadFn =
      std::function<absl::StatusOr<std::vector<Event>>(int64_t, int)>;

  // Use StartEventStream().
  EventStreamReactor(int64_t after, ReadFn read, CommitSignal* signal,
                     EventStreamOptions options)
      : state_(std::make_shared<State>()) {
    state_->signal = signal;
    // Detached: after Finish() the thread touches only `state`, and gRPC
    // may delete the reactor at any time from then on.
    std::thread([this, state = state_, after, read = std::move(read), options] {
      Run(state, after, read, options);
    }).detach();
  }

  // Writes the batch's events back to back from here, on gRPC's thread;
  // the stream's own thread waits only for the whole batch.
  void OnWriteDone(bool ok) override {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (ok && ++state_->next < state_->batch.size()) {
      const size_t next = state_->next;
      lock.unlock();
      WriteBatchEvent(next);
      return;
    }
    state_->batch_done = true;
    state_->write_ok = ok;
    lock.unlock();
    state_->cv.notify_all();
  }

  void OnCancel() override {
    state_->cancelled = true;
    state_->signal->WakeAll();
  }

  void OnDone() override { delete this; }

 private:
  struct State {
    CommitSignal* signal = nullptr;
    std::atomic<bool> cancelled{false};
    std::mutex mu;
    std::condition_variable cv;
    // The batch being written; not resized until batch_done.
    std::vector<Event> batch;
    size_t next = 0;
    bool batch_done = false;
    bool write_ok = false;
  };

  // No buffer hint: gRPC 1.51 completes a hinted write only when a later
  // write flushes it, and a stream allows one write at a time, so the
  // stream would stall (tried).
  void WriteBatchEvent(size_t i) { this->StartWrite(&state_->batch[i]); }

  void Run(std::shared_ptr<State> state, int64_t after, const ReadFn& read,
           const EventStreamOptions& options) {
    CommitSignal* signal = state->signal;
    absl::Status result = absl::OkStatus();
    while (result.ok()) {
      if (state->cancelled) {
        result = absl::CancelledError("the caller cancelled the stream");
        break;
      }
      if (signal->closed()) {
        result = absl::UnavailableError(absl::StrCat(
            "the server is stopping; watch again after sequence ", after));
        break;
      }
      absl::StatusOr<std::vector<Event>> batch =
          read(after, options.batch_size);
      if (!batch.ok()) {
        result = batch.status();
        break;
      }
      if (batch->empty()) {
        signal->WaitBeyond(after, options.poll_interval, &state->cancelled);
        continue;
      }
      const int64_t last = batch->back().sequence();
      {
        std::lock_guard<std::mutex> lock(state->mu);
        state->batch = *std::move(batch);
        state->next = 0;
        state->batch_done = false;
      }
      WriteBatchEvent(0);
      std::unique_lock<std::mutex> lock(state->mu);
      state->cv.wait(lock, [&] { return state->batch_done; });
      if (!state->write_ok) {
        result = absl::CancelledError("the stream was closed");
        break;
      }
      after = last;
    }
    signal->CloseStream();
    this->Finish(ToGrpcStatus(result));
    // `this` may be gone now.
  }

  std::shared_ptr<State> state_;
};

// Starts a stream of the events after `after`, or a finished call when the
// position is negative (INVALID_ARGUMENT) or `max_streams` are open
// (RESOURCE_EXHAUSTED).
template <typename Event>
grpc::ServerWriteReactor<Event>* StartEventStream(
    int64_t after, typename EventStreamReactor<Event>::ReadFn read,
    CommitSignal* signal, EventStreamOptions options) {
  if (after < 0) {
    return new FinishedStreamReactor<Event>(validation::InvalidFieldError(
        "after_sequence", absl::StrCat("must be 0 or more, got ", after)));
  }
  if (signal->closed()) {
    return new FinishedStreamReactor<Event>(
        absl::UnavailableError("the server is stopping"));
  }
  if (!signal->OpenStream(options.max_streams)) {
    return new FinishedStreamReactor<Event>(absl::ResourceExhaustedError(
        absl::StrCat("this replica already serves ", options.max_streams,
                     " event streams; try another or later")));
  }
  return new EventStreamReactor<Event>(after, std::move(read), signal, options);
}

}  // namespace stubmesh::events

#endif  // STUBMESH_EVENTS_EVENT_STREAM_REACTOR_H_
