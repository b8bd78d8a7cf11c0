#ifndef STUBMESH_ORDER_SVC_ORDER_STORE_H_
#define STUBMESH_ORDER_SVC_ORDER_STORE_H_

// The order service's durable store: orders and their line items in one
// database owned by this service alone (replicas may share it): a SQLite
// file or a PostgreSQL database, chosen by URL (storage/database_url.h).
//
// Every write returns only after it is committed (WAL, synchronous=FULL);
// an order, its items and its OrderCreated event (events/outbox.h) are
// written in one transaction.
//
// The store is also the order side of the user-deletion saga:
// ApplyUserEvents() applies a batch of the user service's events exactly
// once (the source's position is kept in the same transaction as the
// effects), and for UserDeleted cancels the user's open orders
// (OrderCancelled events) and remembers the user as deleted, after which
// Create() refuses the user.
//
// Thread-safety: all methods are thread-safe (one connection behind a mutex).
//
// Example:
//   absl::StatusOr<std::unique_ptr<OrderStore>> store =
//       OrderStore::Create("/var/lib/stubmesh/orders.db");
//   absl::StatusOr<Order> created = (*store)->Create(order, "req-1");

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "events/commit_signal.h"
#include "events/outbox.h"
#include "storage/pagination.h"
#include "storage/sql_database.h"
#include "stubmesh/order/v1/order_service.pb.h"
#include "stubmesh/user/v1/user_service.pb.h"

namespace stubmesh::order {

using ::stubmesh::order::v1::Order;
using ::stubmesh::order::v1::OrderEvent;
using ::stubmesh::user::v1::UserEvent;

struct OrderPage {
  std::vector<Order> orders;
  bool has_more = false;
};

class OrderStore {
 public:
  // `url`: a database URL or a SQLite file path (see database_url.h).
  static absl::StatusOr<std::unique_ptr<OrderStore>> Create(
      const std::string& url);
  ~OrderStore();

  // NOT_FOUND for an unknown id.
  absl::StatusOr<Order> Get(int64_t id);

  // The order a request with `request_id` created, or nullopt.
  absl::StatusOr<std::optional<Order>> FindByRequestId(
      absl::string_view request_id);

  // Stores `order` (user_id, total, items; the rest is assigned) as
  // ORDER_STATUS_OPEN with a new id. With a non-empty `request_id` seen
  // before, returns the order that request created and writes nothing.
  // A user this store knows deleted: FAILED_PRECONDITION naming
  // `order.user_id`.
  absl::StatusOr<Order> Create(const Order& order,
                               absl::string_view request_id);

  // Orders with id > page.after_id in id order, at most page.limit: those
  // of `user_id`, or of every user when it is 0.
  absl::StatusOr<OrderPage> List(int64_t user_id,
                                 const storage::PageRequest& page);

  // At most `limit` order events with sequence > `after`, in order.
  absl::StatusOr<std::vector<OrderEvent>> ReadEvents(int64_t after, int limit);

  // Applies `events` of the user service's log named `source` in one
  // transaction, skipping those at or below the source's stored position
  // (duplicates, as after a reconnect or when another replica sharing the
  // database got there first). Returns how many were applied (skipped ones
  // are not counted). Per applied event, its effect and an audit line are
  // written; the position becomes the last applied sequence; all of it
  // commits together, or, on any error, none of it (position and effects
  // stay as they were). UserDeleted cancels the user's open orders; other
  // kinds only move the position. An empty batch writes nothing and is 0.
  // `events` must be in strictly ascending sequence order, as the log
  // delivers them: otherwise INVALID_ARGUMENT naming `sequence`, and
  // nothing is written. One transaction costs one commit (one fsync on
  // SQLite), however many events it holds: batches make catching up cheap.
  absl::StatusOr<int> ApplyUserEvents(absl::string_view source,
                                      absl::Span<const UserEvent> events);

  // ApplyUserEvents with one event: true when applied, false when skipped
  // as a duplicate.
  absl::StatusOr<bool> ApplyUserEvent(absl::string_view source,
                                      const UserEvent& event);

  // The sequence of the last event applied from `source`; 0 for none.
  absl::StatusOr<int64_t> ConsumerPosition(absl::string_view source);

  // Signalled after each commit that appended order events. Owned.
  events::CommitSignal* commit_signal() { return &commit_signal_; }

 private:
  struct Statements;
  OrderStore(std::unique_ptr<storage::SqlDatabase> db,
             std::unique_ptr<Statements> statements,
             std::unique_ptr<events::Outbox> outbox);

  absl::StatusOr<int64_t> PositionLocked(absl::string_view source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies `event` (above the position) inside the caller's transaction:
  // its effect and its audit line; not the position.
  absl::Status ApplyUserEventLocked(absl::string_view source,
                                    const UserEvent& event, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CancelOrdersOfDeletedUserLocked(int64_t user_id,
                                               int64_t sequence, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Reads the order at the current row of `statement`, with its items.
  absl::StatusOr<Order> ReadOrderLocked(const storage::SqlStatement& row)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<Order>> FindByRequestIdLocked(
      absl::string_view request_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<storage::SqlDatabase> db_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<events::Outbox> outbox_ ABSL_GUARDED_BY(mu_);
  events::CommitSignal commit_signal_;
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_ORDER_STORE_H_
