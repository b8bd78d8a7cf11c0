#ifndef STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_
#define STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_

// The order service's consumer of the user service's events: it tails
// UserService.WatchEvents through the mesh from the position the order
// store keeps, and hands each event to OrderStore::ApplyUserEvent, which
// applies it exactly once (position and effect commit together). Delivery
// is at least once: after a broken stream, an error of the store or a
// restart of the process, it resumes after the last applied sequence.
//
// Reconnects back off exponentially (from `initial_backoff` to
// `max_backoff`, with jitter) and start over at `initial_backoff` once an
// event has been applied. Several replicas may each run one against a
// shared database: the store skips what another already applied.
//
// Metrics (when a registry is given), labelled with the source:
// stubmesh_event_consumer_position (the last sequence applied),
// stubmesh_event_consumer_applied_total, and
// stubmesh_event_consumer_stream_restarts_total.
//
// Thread-safety: Start/Stop from one thread; the work runs on a thread of
// its own. Ownership: owns neither the store nor the mesh; both must
// outlive Stop().
//
// Example:
//   UserEventConsumer consumer(store.get(), mesh.get(), {});
//   consumer.Start();
//   ...
//   consumer.Stop();  // also done by the destructor

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

namespace stubmesh::order {

struct UserEventConsumerOptions {
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
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
  // Cancels the stream and waits for the thread; an event being applied is
  // applied (or not) as a whole.
  void Stop();

 private:
  void Run();
  // One stream, from the stored position until it breaks. True when at
  // least one event was applied.
  bool FollowOnce();
  // Sleeps `duration` unless stopped first; false when stopped.
  bool SleepUnlessStopped(absl::Duration duration);

  OrderStore* const store_;
  const mesh::Mesh* const mesh_;
  const UserEventConsumerOptions options_;
  // Null without a registry.
  prometheus::Gauge* position_ = nullptr;
  prometheus::Counter* applied_ = nullptr;
  prometheus::Counter* restarts_ = nullptr;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_USER_EVENT_CONSUMER_H_
