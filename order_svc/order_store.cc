#include "order_svc/order_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "storage/database_url.h"

namespace stubmesh::order {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::stubmesh::storage::SchemaMigrations;
using ::stubmesh::storage::SqlDatabase;
using ::stubmesh::storage::SqlDialect;
using ::stubmesh::storage::SqlStatement;

// The saga's state, written by ApplyUserEvents in one transaction with its
// effect: the users known deleted, how far each event source has been
// applied, and an audit line per applied event. The audit has no unique key
// on purpose: an event applied twice would show as two lines rather than be
// hidden by a constraint. Same tables on both backends, except for types.
std::string SagaTablesSql(absl::string_view integer) {
  return absl::StrCat(R"sql(
    CREATE TABLE deleted_users (
      user_id )sql", integer, R"sql( PRIMARY KEY,
      deleted_at_sequence )sql", integer, R"sql( NOT NULL
    );
    CREATE TABLE consumer_positions (
      source TEXT PRIMARY KEY,
      sequence )sql", integer, R"sql( NOT NULL
    );
    CREATE TABLE applied_events (
      source TEXT NOT NULL,
      sequence )sql", integer, R"sql( NOT NULL,
      kind TEXT NOT NULL,
      applied_time_us )sql", integer, R"sql( NOT NULL
    );
    CREATE INDEX orders_open_by_user ON orders (user_id) WHERE status = 1;
  )sql");
}

// Append-only lists: each entry runs once per database (see SqlDatabase).
const SchemaMigrations& Schema() {
  static const auto* schema = new SchemaMigrations{
      "stubmesh_orders",
      /*sqlite=*/
      {
          R"sql(
            CREATE TABLE orders (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              user_id INTEGER NOT NULL,
              total_cents INTEGER NOT NULL,
              status INTEGER NOT NULL,
              request_id TEXT UNIQUE,
              create_time_us INTEGER NOT NULL
            );
            CREATE INDEX orders_by_user ON orders (user_id, id);
            CREATE TABLE order_items (
              order_id INTEGER NOT NULL REFERENCES orders (id),
              position INTEGER NOT NULL,
              sku TEXT NOT NULL,
              quantity INTEGER NOT NULL,
              unit_price_cents INTEGER NOT NULL,
              PRIMARY KEY (order_id, position)
            ) WITHOUT ROWID;
          )sql",
          events::Outbox::CreateTableSql(SqlDialect::kSqlite),
          SagaTablesSql("INTEGER"),
      },
      /*postgresql=*/
      {
          R"sql(
            CREATE TABLE orders (
              id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              user_id BIGINT NOT NULL,
              total_cents BIGINT NOT NULL,
              status BIGINT NOT NULL,
              request_id TEXT UNIQUE,
              create_time_us BIGINT NOT NULL
            );
            CREATE INDEX orders_by_user ON orders (user_id, id);
            CREATE TABLE order_items (
              order_id BIGINT NOT NULL REFERENCES orders (id),
              position BIGINT NOT NULL,
              sku TEXT NOT NULL,
              quantity BIGINT NOT NULL,
              unit_price_cents BIGINT NOT NULL,
              PRIMARY KEY (order_id, position)
            );
          )sql",
          events::Outbox::CreateTableSql(SqlDialect::kPostgresql),
          SagaTablesSql("BIGINT"),
      },
  };
  return *schema;
}

constexpr absl::string_view kColumns =
    "id, user_id, total_cents, status, create_time_us";

}  // namespace

struct OrderStore::Statements {
  std::unique_ptr<SqlStatement> get;
  std::unique_ptr<SqlStatement> get_by_request_id;
  std::unique_ptr<SqlStatement> items;
  std::unique_ptr<SqlStatement> insert;
  std::unique_ptr<SqlStatement> insert_item;
  std::unique_ptr<SqlStatement> list_all;
  std::unique_ptr<SqlStatement> list_by_user;
  std::unique_ptr<SqlStatement> is_user_deleted;
  std::unique_ptr<SqlStatement> position;
  std::unique_ptr<SqlStatement> set_position;
  std::unique_ptr<SqlStatement> record_applied;
  std::unique_ptr<SqlStatement> mark_user_deleted;
  std::unique_ptr<SqlStatement> open_orders_of_user;
  std::unique_ptr<SqlStatement> cancel_order;
};

absl::StatusOr<std::unique_ptr<OrderStore>> OrderStore::Create(
    const std::string& url) {
  absl::StatusOr<std::unique_ptr<SqlDatabase>> db =
      storage::OpenDatabase(url, Schema());
  if (!db.ok()) return db.status();
  std::vector<std::string> sql = {
      absl::StrCat("SELECT ", kColumns, " FROM orders WHERE id = $1"),
      absl::StrCat("SELECT ", kColumns, " FROM orders WHERE request_id = $1"),
      "SELECT sku, quantity, unit_price_cents FROM order_items "
      "WHERE order_id = $1 ORDER BY position",
      "INSERT INTO orders (user_id, total_cents, status, request_id, "
      "create_time_us) VALUES ($1, $2, $3, $4, $5) RETURNING id",
      "INSERT INTO order_items (order_id, position, sku, quantity, "
      "unit_price_cents) VALUES ($1, $2, $3, $4, $5)",
      absl::StrCat("SELECT ", kColumns,
                   " FROM orders WHERE id > $1 ORDER BY id LIMIT $2"),
      absl::StrCat("SELECT ", kColumns,
                   " FROM orders WHERE user_id = $1 AND id > $2 "
                   "ORDER BY id LIMIT $3"),
      "SELECT 1 FROM deleted_users WHERE user_id = $1",
      "SELECT sequence FROM consumer_positions WHERE source = $1",
      "INSERT INTO consumer_positions (source, sequence) VALUES ($1, $2) "
      "ON CONFLICT (source) DO UPDATE SET sequence = excluded.sequence",
      "INSERT INTO applied_events (source, sequence, kind, applied_time_us) "
      "VALUES ($1, $2, $3, $4)",
      "INSERT INTO deleted_users (user_id, deleted_at_sequence) "
      "VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
      "SELECT id FROM orders WHERE user_id = $1 AND status = 1 ORDER BY id",
      "UPDATE orders SET status = 2 WHERE id = $1 AND status = 1",
  };

  absl::StatusOr<std::vector<std::unique_ptr<SqlStatement>>> prepared =
      (*db)->PrepareStatements(sql);
  if (!prepared.ok()) return prepared.status();
  std::vector<std::unique_ptr<SqlStatement>>& p = *prepared;
  auto statements = std::unique_ptr<Statements>(new Statements{
      std::move(p[0]), std::move(p[1]), std::move(p[2]), std::move(p[3]),
      std::move(p[4]), std::move(p[5]), std::move(p[6]), std::move(p[7]),
      std::move(p[8]), std::move(p[9]), std::move(p[10]), std::move(p[11]),
      std::move(p[12]), std::move(p[13])});
  absl::StatusOr<std::unique_ptr<events::Outbox>> outbox =
      events::Outbox::Create(db->get());
  if (!outbox.ok()) return outbox.status();
  return std::unique_ptr<OrderStore>(new OrderStore(
      *std::move(db), std::move(statements), *std::move(outbox)));
}

OrderStore::OrderStore(std::unique_ptr<SqlDatabase> db,
                       std::unique_ptr<Statements> statements,
                       std::unique_ptr<events::Outbox> outbox)
    : db_(std::move(db)),
      statements_(std::move(statements)),
      outbox_(std::move(outbox)) {}

OrderStore::~OrderStore() {
  absl::MutexLock lock(&mu_);
  // Statements are finalized before the connection.
  statements_.reset();
  outbox_.reset();
  db_.reset();
}

absl::StatusOr<Order> OrderStore::ReadOrderLocked(const SqlStatement& row) {
  Order order;
  order.set_id(row.ColumnInt64(0));
  order.set_user_id(row.ColumnInt64(1));
  order.set_total(static_cast<int32_t>(row.ColumnInt64(2)));
  order.set_status(static_cast<v1::OrderStatus>(row.ColumnInt64(3)));
  *order.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(row.ColumnInt64(4));
  SqlStatement& items = *statements_->items;
  items.Reset();
  items.BindInt64(1, order.id());
  while (true) {
    absl::StatusOr<bool> item_row = items.Step();
    if (!item_row.ok()) return item_row.status();
    if (!*item_row) break;
    v1::LineItem* item = order.add_items();
    item->set_sku(items.ColumnText(0));
    item->set_quantity(static_cast<int32_t>(items.ColumnInt64(1)));
    item->set_unit_price_cents(static_cast<int32_t>(items.ColumnInt64(2)));
  }
  items.Reset();
  return order;
}

absl::StatusOr<Order> OrderStore::Get(int64_t id) {
  absl::MutexLock lock(&mu_);
  SqlStatement& get = *statements_->get;
  get.Reset();
  get.BindInt64(1, id);
  absl::StatusOr<bool> row = get.Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("order ", id, " not found"));
  absl::StatusOr<Order> order = ReadOrderLocked(get);
  get.Reset();
  return order;
}

absl::StatusOr<std::optional<Order>> OrderStore::FindByRequestIdLocked(
    absl::string_view request_id) {
  SqlStatement& seen = *statements_->get_by_request_id;
  seen.Reset();
  seen.BindText(1, request_id);
  absl::StatusOr<bool> row = seen.Step();
  if (!row.ok()) return row.status();
  if (!*row) return std::optional<Order>();
  absl::StatusOr<Order> order = ReadOrderLocked(seen);
  seen.Reset();
  if (!order.ok()) return order.status();
  return std::optional<Order>(*std::move(order));
}

absl::StatusOr<std::optional<Order>> OrderStore::FindByRequestId(
    absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  return FindByRequestIdLocked(request_id);
}

absl::StatusOr<Order> OrderStore::Create(const Order& order,
                                         absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  Order result;
  absl::Status s = db_->Transaction([&]() -> absl::Status {
    if (!request_id.empty()) {
      absl::StatusOr<std::optional<Order>> seen =
          FindByRequestIdLocked(request_id);
      if (!seen.ok()) return seen.status();
      if (seen->has_value()) {
        result = **std::move(seen);
        return absl::OkStatus();
      }
    }
    SqlStatement& deleted = *statements_->is_user_deleted;
    deleted.Reset();
    deleted.BindInt64(1, order.user_id());
    absl::StatusOr<bool> is_deleted = deleted.Step();
    deleted.Reset();
    if (!is_deleted.ok()) return is_deleted.status();
    if (*is_deleted) {
      return absl::FailedPreconditionError(absl::StrCat(
          "order.user_id: user ", order.user_id(), " was deleted"));
    }
    int64_t now = absl::ToUnixMicros(absl::Now());
    SqlStatement& insert = *statements_->insert;
    insert.Reset();
    insert.BindInt64(1, order.user_id());
    insert.BindInt64(2, order.total());
    insert.BindInt64(3, v1::ORDER_STATUS_OPEN);
    if (request_id.empty()) {
      insert.BindNull(4);
    } else {
      insert.BindText(4, request_id);
    }
    insert.BindInt64(5, now);
    absl::StatusOr<bool> row = insert.Step();
    if (!row.ok()) return row.status();
    result = order;
    result.set_id(insert.ColumnInt64(0));
    absl::Status inserted = insert.Run();
    insert.Reset();
    if (!inserted.ok()) return inserted;
    result.set_status(v1::ORDER_STATUS_OPEN);
    *result.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
    SqlStatement& insert_item = *statements_->insert_item;
    for (int i = 0; i < order.items_size(); ++i) {
      const v1::LineItem& item = order.items(i);
      insert_item.Reset();
      insert_item.BindInt64(1, result.id());
      insert_item.BindInt64(2, i);
      insert_item.BindText(3, item.sku());
      insert_item.BindInt64(4, item.quantity());
      insert_item.BindInt64(5, item.unit_price_cents());
      absl::Status item_inserted = insert_item.Run();
      insert_item.Reset();
      if (!item_inserted.ok()) return item_inserted;
    }
    OrderEvent event;
    *event.mutable_order_created()->mutable_order() = result;
    return outbox_->Append(event, absl::FromUnixMicros(now)).status();
  });
  if (!s.ok()) return s;
  commit_signal_.Committed(outbox_->last_appended());
  return result;
}

absl::StatusOr<std::vector<OrderEvent>> OrderStore::ReadEvents(int64_t after,
                                                               int limit) {
  absl::MutexLock lock(&mu_);
  return outbox_->ReadAfter<OrderEvent>(after, limit);
}

absl::StatusOr<int64_t> OrderStore::PositionLocked(absl::string_view source) {
  SqlStatement& position = *statements_->position;
  position.Reset();
  position.BindText(1, source);
  absl::StatusOr<bool> row = position.Step();
  if (!row.ok()) return row.status();
  int64_t sequence = *row ? position.ColumnInt64(0) : 0;
  position.Reset();
  return sequence;
}

absl::StatusOr<int64_t> OrderStore::ConsumerPosition(absl::string_view source) {
  absl::MutexLock lock(&mu_);
  return PositionLocked(source);
}

absl::StatusOr<int> OrderStore::ApplyUserEvents(
    absl::string_view source, absl::Span<const UserEvent> events) {
  for (size_t i = 1; i < events.size(); ++i) {
    if (events[i].sequence() <= events[i - 1].sequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat("events[", i, "].sequence: ", events[i].sequence(),
                       " does not follow ", events[i - 1].sequence(),
                       " (a batch must be in ascending sequence order)"));
    }
  }
  if (events.empty()) return 0;
  absl::MutexLock lock(&mu_);
  int applied = 0;
  absl::Status s = db_->Transaction([&]() -> absl::Status {
    // Under the write lock: another replica applying the same stream
    // cannot interleave, so the position check and the effects are atomic.
    absl::StatusOr<int64_t> position = PositionLocked(source);
    if (!position.ok()) return position.status();
    int64_t now = absl::ToUnixMicros(absl::Now());
    for (const UserEvent& event : events) {
      if (event.sequence() <= *position) continue;
      absl::Status done = ApplyUserEventLocked(source, event, now);
      if (!done.ok()) return done;
      ++applied;
    }
    if (applied == 0) return absl::OkStatus();
    // Ascending, so the last event is the last one applied.
    SqlStatement& set_position = *statements_->set_position;
    set_position.Reset();
    set_position.BindText(1, source);
    set_position.BindInt64(2, events.back().sequence());
    absl::Status moved = set_position.Run();
    set_position.Reset();
    return moved;
  });
  if (!s.ok()) return s;
  if (applied > 0) commit_signal_.Committed(outbox_->last_appended());
  return applied;
}

absl::StatusOr<bool> OrderStore::ApplyUserEvent(absl::string_view source,
                                                const UserEvent& event) {
  absl::StatusOr<int> applied =
      ApplyUserEvents(source, absl::MakeConstSpan(&event, 1));
  if (!applied.ok()) return applied.status();
  return *applied == 1;
}

absl::Status OrderStore::ApplyUserEventLocked(absl::string_view source,
                                              const UserEvent& event,
                                              int64_t now) {
  std::string kind = "other";
  if (event.has_user_deleted()) {
    kind = "user_deleted";
    absl::Status cancelled = CancelOrdersOfDeletedUserLocked(
        event.user_deleted().user_id(), event.sequence(), now);
    if (!cancelled.ok()) return cancelled;
  } else if (event.has_user_created()) {
    kind = "user_created";
  } else if (event.has_user_updated()) {
    kind = "user_updated";
  }
  SqlStatement& record = *statements_->record_applied;
  record.Reset();
  record.BindText(1, source);
  record.BindInt64(2, event.sequence());
  record.BindText(3, kind);
  record.BindInt64(4, now);
  absl::Status recorded = record.Run();
  record.Reset();
  return recorded;
}

absl::Status OrderStore::CancelOrdersOfDeletedUserLocked(int64_t user_id,
                                                         int64_t sequence,
                                                         int64_t now) {
  SqlStatement& mark = *statements_->mark_user_deleted;
  mark.Reset();
  mark.BindInt64(1, user_id);
  mark.BindInt64(2, sequence);
  absl::Status marked = mark.Run();
  mark.Reset();
  if (!marked.ok()) return marked;

  std::vector<int64_t> open;
  SqlStatement& find = *statements_->open_orders_of_user;
  find.Reset();
  find.BindInt64(1, user_id);
  while (true) {
    absl::StatusOr<bool> row = find.Step();
    if (!row.ok()) {
      find.Reset();
      return row.status();
    }
    if (!*row) break;
    open.push_back(find.ColumnInt64(0));
  }
  find.Reset();
  const std::string reason = absl::StrCat("user ", user_id, " was deleted");
  for (int64_t order_id : open) {
    SqlStatement& cancel = *statements_->cancel_order;
    cancel.Reset();
    cancel.BindInt64(1, order_id);
    absl::Status done = cancel.Run();
    cancel.Reset();
    if (!done.ok()) return done;
    OrderEvent event;
    v1::OrderCancelled* cancelled = event.mutable_order_cancelled();
    cancelled->set_order_id(order_id);
    cancelled->set_user_id(user_id);
    cancelled->set_reason(reason);
    absl::Status appended =
        outbox_->Append(event, absl::FromUnixMicros(now)).status();
    if (!appended.ok()) return appended;
  }
  return absl::OkStatus();
}

absl::StatusOr<OrderPage> OrderStore::List(int64_t user_id,
                                           const storage::PageRequest& page) {
  absl::MutexLock lock(&mu_);
  SqlStatement& list =
      user_id == 0 ? *statements_->list_all : *statements_->list_by_user;
  list.Reset();
  int next = 1;
  if (user_id != 0) list.BindInt64(next++, user_id);
  list.BindInt64(next++, page.after_id);
  list.BindInt64(next++, static_cast<int64_t>(page.limit) + 1);
  OrderPage result;
  while (true) {
    absl::StatusOr<bool> row = list.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(result.orders.size()) == page.limit) {
      result.has_more = true;
      break;
    }
    absl::StatusOr<Order> order = ReadOrderLocked(list);
    if (!order.ok()) return order.status();
    result.orders.push_back(*std::move(order));
  }
  list.Reset();
  return result;
}

}  // namespace stubmesh::order
