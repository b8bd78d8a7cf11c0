#ifndef STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_
#define STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_

// The order service's consumer of the user service's events: it tails
// UserService.WatchEvents through the mesh from the position the order
// store keeps, and hands the events in batches to
// OrderStore::ApplyUserEvents, which applies a batch exactly once in one
// transaction (positions and effects commit together). Delivery is at least
// once: after a broken stream, an error of the store or a restart of the
// process, it resumes after the last applied sequence.
//
// Batching: while a stream is open, a reader thread reads it into a queue of
// at most `max_buffered_events` (then it stops reading, and gRPC's flow
// control holds the server back), and the applier takes whatever is queued,
// at most `max_batch` events, and applies it in one transaction. It never
// waits to fill a batch: a lone event is applied as soon as it arrives, and
// batches grow only while the store is slower than the stream (catching up
// after a restart costs one commit per batch instead of one per event).
// When a batch fails, the stream is cancelled, the queue dropped, and the
// consumer starts over from the stored position; nothing of that batch
// stuck.
//
// Reconnects back off exponentially (from `initial_backoff` to
// `max_backoff`, with jitter) and start over at `initial_backoff` once an
// event has been applied. Several replicas may each run one against a
// shared database: the store skips what another already applied.
//
// Metrics (when a registry is given), labelled with the source:
// stubmesh_event_consumer_position (the last sequence applied),
// stubmesh_event_consumer_applied_total,
// stubmesh_event_consumer_batches_total (transactions committed; applied
// over batches is the mean batch size), and
// stubmesh_event_consumer_stream_restarts_total.
//
// Thread-safety: Start/Stop from one thread; the work runs on a thread of
// its own (the applier), plus a reader thread while a stream is open; they
// share the queue under one mutex. Stop() cancels the stream, lets a batch
// being applied commit or roll back as a whole, and joins both threads.
// Ownership: owns neither the store nor the mesh; both must outlive Stop().
//
// Example:
//   UserEventConsumerOptions options;
//   options.metrics = registry;  // optional
//   UserEventConsumer consumer(store.get(), mesh.get(), options);
//   consumer.Start();
//   ...
//   consumer.Stop();  // also done by the destructor

#include <deque>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"
#include "mesh/mesh.h"
#include "order_svc/order_store.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::order {

struct UserEventConsumerOptions {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Events read ahead of the store; the reader waits while this many are
  // queued. At least 1.
  int max_buffered_events = 1024;
  // Events applied in one transaction, at most. At least 1.
  int max_batch = 512;
  // Where the consumer's metrics go; none when null.
  std::shared_ptr<prometheus::Registry> metrics;
};

class UserEventConsumer {
 public:
  // The position's name in the order store.
  static constexpr const char* kSource = "stubmesh.user.v1.UserService";

  UserEventConsumer(OrderStore* store, const mesh::Mesh* mesh,
                    UserEventConsumerOptions options);
  ~UserEventConsumer();

  void Start();
  // Cancels the stream and waits for the threads; a batch being applied is
  // applied (or not) as a whole, and what is queued is dropped (it is read
  // again from the stored position next time).
  void Stop();

 private:
  void Run();
  // One stream, from the stored position until it breaks. True when at
  // least one event was applied.
  bool FollowOnce();
  // The reader thread of one stream: queues what `reader` reads until the
  // stream ends or is abandoned.
  void ReadStream(grpc::ClientReaderInterface<user::v1::UserEvent>* reader);
  // Sleeps `duration` unless stopped first; false when stopped.
  bool SleepUnlessStopped(absl::Duration duration);

  bool RoomOrGiveUp() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() < max_buffered_ || abandoned_ || stopping_;
  }
  bool BatchOrEnd() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stream_ended_ || stopping_;
  }

  OrderStore* const store_;
  const mesh::Mesh* const mesh_;
  const UserEventConsumerOptions options_;
  const size_t max_buffered_;
  const size_t max_batch_;
  // Null without a registry.
  prometheus::Gauge* position_ = nullptr;
  prometheus::Counter* applied_ = nullptr;
  prometheus::Counter* batches_ = nullptr;
  prometheus::Counter* restarts_ = nullptr;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The open stream's events, read and not yet taken by the applier, in
  // sequence order.
  std::deque<user::v1::UserEvent> queue_ ABSL_GUARDED_BY(mu_);
  // The reader has finished with the open stream: it ended, or was
  // abandoned.
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  // The applier has given up on the open stream (a failed batch, or Stop):
  // the reader stops queueing.
  bool abandoned_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_
