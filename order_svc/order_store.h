#ifndef STUBMESH_ORDER_SVC_ORDER_STORE_H_
#define STUBMESH_ORDER_SVC_ORDER_STORE_H_

// The order service's durable store: one SQLite file with orders and their
// line items, owned by this service alone (replicas may share it).
//
// Every write returns only after it is committed (WAL, synchronous=FULL);
// an order and its items are written in one transaction.
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
#include "storage/pagination.h"
#include "storage/sqlite_database.h"
#include "stubmesh/order/v1/order_service.pb.h"

namespace stubmesh::order {

using ::stubmesh::order::v1::Order;

struct OrderPage {
  std::vector<Order> orders;
  bool has_more = false;
};

class OrderStore {
 public:
  static absl::StatusOr<std::unique_ptr<OrderStore>> Create(
      const std::string& path);
  ~OrderStore();

  // NOT_FOUND for an unknown id.
  absl::StatusOr<Order> Get(int64_t id);

  // The order a request with `request_id` created, or nullopt.
  absl::StatusOr<std::optional<Order>> FindByRequestId(
      absl::string_view request_id);

  // Stores `order` (user_id, total, items; the rest is assigned) as
  // ORDER_STATUS_OPEN with a new id. With a non-empty `request_id` seen
  // before, returns the order that request created and writes nothing.
  absl::StatusOr<Order> Create(const Order& order,
                               absl::string_view request_id);

  // Orders with id > page.after_id in id order, at most page.limit: those
  // of `user_id`, or of every user when it is 0.
  absl::StatusOr<OrderPage> List(int64_t user_id,
                                 const storage::PageRequest& page);

 private:
  struct Statements;
  OrderStore(std::unique_ptr<storage::SqliteDatabase> db,
             std::unique_ptr<Statements> statements);

  // Reads the order at the current row of `statement`, with its items.
  absl::StatusOr<Order> ReadOrderLocked(const storage::SqliteStatement& row)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<Order>> FindByRequestIdLocked(
      absl::string_view request_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<storage::SqliteDatabase> db_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_ORDER_STORE_H_
