#include "order_svc/order_store.h"

#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "sqlite3.h"
#include "storage/backend_test_databases.h"
#include "storage/database_url.h"
#include "storage/postgres_database.h"

namespace stubmesh::order {
namespace {

Order NewOrder(int64_t user_id, int32_t total, int items = 2) {
  Order order;
  order.set_user_id(user_id);
  order.set_total(total);
  for (int i = 0; i < items; ++i) {
    v1::LineItem* item = order.add_items();
    item->set_sku("SKU-" + std::to_string(i));
    item->set_quantity(i + 1);
    item->set_unit_price_cents(100 * (i + 1));
  }
  return order;
}

class OrderStoreTest : public ::testing::TestWithParam<storage::SqlDialect> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> url =
        storage::FreshDatabaseUrlForThisTest(GetParam());
    ASSERT_TRUE(url.ok()) << url.status();
    path_ = *url;
    auto store = OrderStore::Create(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string path_;  // the database's URL
  std::unique_ptr<OrderStore> store_;
};

TEST_P(OrderStoreTest, CreateThenGetWithItemsInOrder) {
  absl::StatusOr<Order> created = store_->Create(NewOrder(7, 500, 3), "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_EQ(created->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_GT(created->create_time().seconds(), 0);

  absl::StatusOr<Order> got = store_->Get(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->SerializeAsString(), created->SerializeAsString());
  ASSERT_EQ(got->items_size(), 3);
  EXPECT_EQ(got->items(2).sku(), "SKU-2");
  EXPECT_EQ(got->total(), 500);
}

TEST_P(OrderStoreTest, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get(99).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(OrderStoreTest, SameRequestIdReturnsTheFirstOrder) {
  Order first = *store_->Create(NewOrder(7, 500), "req-a");
  absl::StatusOr<Order> retry = store_->Create(NewOrder(8, 900), "req-a");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(store_->List(0, {})->orders.size(), 1u);

  absl::StatusOr<std::optional<Order>> seen = store_->FindByRequestId("req-a");
  ASSERT_TRUE(seen.ok());
  ASSERT_TRUE(seen->has_value());
  EXPECT_EQ((*seen)->id(), first.id());
  EXPECT_FALSE(store_->FindByRequestId("req-b")->has_value());
}

TEST_P(OrderStoreTest, ConcurrentRetriesCreateOneRow) {
  std::vector<int64_t> ids(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      absl::StatusOr<Order> order = store_->Create(NewOrder(7, 500), "same");
      ids[i] = order.ok() ? order->id() : -1;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_GT(ids[0], 0);
}

TEST_P(OrderStoreTest, ListByUserPages) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Create(NewOrder(1, 100), "").ok());
    ASSERT_TRUE(store_->Create(NewOrder(2, 100), "").ok());
  }
  storage::PageRequest page;
  page.limit = 2;
  std::vector<int64_t> seen;
  int pages = 0;
  while (true) {
    absl::StatusOr<OrderPage> result = store_->List(2, page);
    ASSERT_TRUE(result.ok()) << result.status();
    ++pages;
    for (const Order& o : result->orders) {
      EXPECT_EQ(o.user_id(), 2);
      EXPECT_EQ(o.items_size(), 2);
      seen.push_back(o.id());
    }
    if (!result->has_more) break;
    page.after_id = result->orders.back().id();
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(store_->List(0, {})->orders.size(), 10u);
  EXPECT_TRUE(store_->List(3, {})->orders.empty());
}

TEST_P(OrderStoreTest, RowsSurviveReopening) {
  Order first = *store_->Create(NewOrder(7, 500), "r1");
  store_.reset();
  auto reopened = OrderStore::Create(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get(first.id())->SerializeAsString(),
            first.SerializeAsString());
}

constexpr absl::string_view kUsers = "stubmesh.user.v1.UserService";

UserEvent UserDeletedEvent(int64_t sequence, int64_t user_id) {
  UserEvent event;
  event.set_sequence(sequence);
  event.mutable_user_deleted()->set_user_id(user_id);
  return event;
}

TEST_P(OrderStoreTest, CreatedOrderHasItsEvent) {
  Order order = *store_->Create(NewOrder(7, 500), "r1");
  ASSERT_TRUE(store_->Create(NewOrder(7, 500), "r1").ok());  // a retry
  std::vector<OrderEvent> events = *store_->ReadEvents(0, 10);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].sequence(), 1);
  EXPECT_EQ(events[0].order_created().order().SerializeAsString(),
            order.SerializeAsString());
}

TEST_P(OrderStoreTest, UserDeletedCancelsOnlyThatUsersOpenOrders) {
  Order a1 = *store_->Create(NewOrder(7, 100), "");
  Order b1 = *store_->Create(NewOrder(8, 200), "");
  Order a2 = *store_->Create(NewOrder(7, 300), "");

  absl::StatusOr<bool> applied =
      store_->ApplyUserEvent(kUsers, UserDeletedEvent(41, 7));
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(*applied);
  EXPECT_EQ(store_->Get(a1.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(a2.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(b1.id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 41);

  std::vector<OrderEvent> events = *store_->ReadEvents(3, 10);
  ASSERT_EQ(events.size(), 2u);
  std::set<int64_t> cancelled;
  for (const OrderEvent& event : events) {
    ASSERT_TRUE(event.has_order_cancelled());
    EXPECT_EQ(event.order_cancelled().user_id(), 7);
    EXPECT_EQ(event.order_cancelled().reason(), "user 7 was deleted");
    cancelled.insert(event.order_cancelled().order_id());
  }
  EXPECT_EQ(cancelled, (std::set<int64_t>{a1.id(), a2.id()}));
}

TEST_P(OrderStoreTest, AnEventDeliveredAgainIsNotAppliedAgain) {
  ASSERT_TRUE(store_->Create(NewOrder(7, 100), "").ok());
  ASSERT_TRUE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(5, 7)));
  ASSERT_TRUE(store_->Create(NewOrder(8, 100), "").ok());
  // The same event, and an older one, as after a reconnect.
  EXPECT_FALSE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(5, 7)));
  EXPECT_FALSE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(3, 8)));
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 5);
  // Only the first delivery left events: created, created, cancelled... and
  // user 8's order stays open.
  int cancelled = 0;
  std::vector<OrderEvent> events = *store_->ReadEvents(0, 10);
  for (const OrderEvent& event : events) {
    cancelled += event.has_order_cancelled();
  }
  EXPECT_EQ(cancelled, 1);
}

TEST_P(OrderStoreTest, OrdersForADeletedUserAreRefusedNamingTheField) {
  ASSERT_TRUE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(1, 7)));
  absl::StatusOr<Order> refused = store_->Create(NewOrder(7, 100), "r1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("order.user_id"),
            std::string::npos);
  // Nothing was written: the request id is still free.
  EXPECT_FALSE(store_->FindByRequestId("r1")->has_value());
  EXPECT_TRUE(store_->Create(NewOrder(8, 100), "r1").ok());
}

TEST_P(OrderStoreTest, OtherEventKindsOnlyMoveThePosition) {
  UserEvent created;
  created.set_sequence(1);
  created.mutable_user_created()->mutable_user()->set_id(7);
  ASSERT_TRUE(*store_->ApplyUserEvent(kUsers, created));
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 1);
  EXPECT_TRUE(store_->Create(NewOrder(7, 100), "").ok());
}

TEST_P(OrderStoreTest, PositionAndCancellationsSurviveReopening) {
  Order order = *store_->Create(NewOrder(7, 100), "");
  ASSERT_TRUE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(9, 7)));
  store_.reset();
  auto reopened = OrderStore::Create(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(*(*reopened)->ConsumerPosition(kUsers), 9);
  EXPECT_EQ((*reopened)->Get(order.id())->status(),
            v1::ORDER_STATUS_CANCELLED);
  EXPECT_FALSE(*(*reopened)->ApplyUserEvent(kUsers, UserDeletedEvent(9, 7)));
}

TEST_P(OrderStoreTest, TwoStoresOnOneFileApplyEachEventOnce) {
  // Two replicas sharing the database, both fed the whole stream.
  auto other = OrderStore::Create(path_);
  ASSERT_TRUE(other.ok()) << other.status();
  for (int64_t user = 1; user <= 50; ++user) {
    ASSERT_TRUE(store_->Create(NewOrder(user, 100), "").ok());
  }
  std::vector<int> applied(2, 0);
  auto feed = [&](OrderStore* store, int* count) {
    for (int64_t sequence = 1; sequence <= 50; ++sequence) {
      absl::StatusOr<bool> done =
          store->ApplyUserEvent(kUsers, UserDeletedEvent(sequence, sequence));
      ASSERT_TRUE(done.ok()) << done.status();
      *count += *done;
    }
  };
  std::thread a(feed, store_.get(), &applied[0]);
  std::thread b(feed, other->get(), &applied[1]);
  a.join();
  b.join();
  EXPECT_EQ(applied[0] + applied[1], 50);
  int cancelled = 0;
  std::vector<OrderEvent> events = *store_->ReadEvents(0, 1000);
  for (const OrderEvent& event : events) {
    cancelled += event.has_order_cancelled();
  }
  EXPECT_EQ(cancelled, 50);
}

UserEvent UserCreatedEvent(int64_t sequence, int64_t user_id) {
  UserEvent event;
  event.set_sequence(sequence);
  event.mutable_user_created()->mutable_user()->set_id(user_id);
  return event;
}

int CancelledEvents(OrderStore* store) {
  int cancelled = 0;
  std::vector<OrderEvent> events = *store->ReadEvents(0, 1000);
  for (const OrderEvent& event : events) {
    cancelled += event.has_order_cancelled();
  }
  return cancelled;
}

// Runs `sql` on the database at `url` through a connection of its own, as an
// operator's SQL shell would (the store's schema is left alone).
absl::Status RunSqlOn(const std::string& url, const std::string& sql) {
  absl::StatusOr<storage::DatabaseUrl> parsed = storage::ParseDatabaseUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->dialect == storage::SqlDialect::kPostgresql) {
    auto db = storage::PostgresDatabase::Create(parsed->postgresql_conninfo,
                                                "order_store_test_sql", {});
    if (!db.ok()) return db.status();
    return (*db)->Execute(sql);
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(parsed->sqlite_path.c_str(), &db,
                           SQLITE_OPEN_READWRITE, nullptr);
  if (rc == SQLITE_OK) sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  if (rc == SQLITE_OK)
    rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  absl::Status status = absl::OkStatus();
  if (rc != SQLITE_OK) {
    status = absl::InternalError(error != nullptr ? error : sqlite3_errmsg(db));
  }
  sqlite3_free(error);
  sqlite3_close(db);
  return status;
}

TEST_P(OrderStoreTest, ABatchIsAppliedAsAWhole) {
  Order a = *store_->Create(NewOrder(7, 100), "");
  Order b = *store_->Create(NewOrder(8, 100), "");
  Order c = *store_->Create(NewOrder(9, 100), "");
  std::vector<UserEvent> batch = {UserCreatedEvent(1, 10),
                                  UserDeletedEvent(2, 7), UserEvent(),
                                  UserDeletedEvent(6, 8)};
  batch[2].set_sequence(4);
  batch[2].mutable_user_updated()->mutable_user()->set_id(9);
  absl::StatusOr<int> applied = store_->ApplyUserEvents(kUsers, batch);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 4);
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 6);
  EXPECT_EQ(store_->Get(a.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(b.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(c.id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(CancelledEvents(store_.get()), 2);
  EXPECT_EQ(store_->Create(NewOrder(8, 100), "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Delivered again, as after a reconnect: nothing is applied twice.
  EXPECT_EQ(*store_->ApplyUserEvents(kUsers, batch), 0);
  EXPECT_EQ(CancelledEvents(store_.get()), 2);
}

TEST_P(OrderStoreTest, ABatchOverlappingThePositionAppliesOnlyTheNewTail) {
  std::vector<Order> orders;
  for (int64_t user = 1; user <= 6; ++user) {
    orders.push_back(*store_->Create(NewOrder(user, 100), ""));
  }
  ASSERT_EQ(*store_->ApplyUserEvents(
                kUsers, {UserDeletedEvent(1, 1), UserDeletedEvent(2, 2),
                         UserDeletedEvent(3, 3)}),
            3);
  // Another replica applied up to 3; this one got 2..5 from its stream.
  absl::StatusOr<int> applied = store_->ApplyUserEvents(
      kUsers, {UserDeletedEvent(2, 2), UserDeletedEvent(3, 3),
               UserDeletedEvent(4, 4), UserDeletedEvent(5, 5)});
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(store_->Get(orders[i].id())->status(), v1::ORDER_STATUS_CANCELLED)
        << "user " << i + 1;
  }
  EXPECT_EQ(store_->Get(orders[5].id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(CancelledEvents(store_.get()), 5);
}

TEST_P(OrderStoreTest, AFailingBatchLeavesPositionAndEffectsUntouched) {
  Order first = *store_->Create(NewOrder(1, 100), "");
  Order second = *store_->Create(NewOrder(2, 100), "");
  Order third = *store_->Create(NewOrder(3, 100), "");
  ASSERT_TRUE(*store_->ApplyUserEvent(kUsers, UserDeletedEvent(1, 1)));
  // The database refuses the audit line of sequence 4, the batch's last
  // event, after the batch's first events took effect inside it.
  const bool sqlite = GetParam() == storage::SqlDialect::kSqlite;
  ASSERT_TRUE(
      RunSqlOn(path_,
               sqlite
                   ? "CREATE TRIGGER refuse_4 BEFORE INSERT ON applied_events "
                     "WHEN NEW.sequence = 4 BEGIN "
                     "SELECT RAISE(ABORT, 'sequence 4 refused'); END"
                   : "CREATE FUNCTION refuse() RETURNS trigger "
                     "LANGUAGE plpgsql AS $$ BEGIN "
                     "RAISE EXCEPTION 'sequence 4 refused'; END $$; "
                     "CREATE TRIGGER refuse_4 BEFORE INSERT ON "
                     "applied_events FOR EACH ROW WHEN (NEW.sequence = 4) "
                     "EXECUTE FUNCTION refuse()")
          .ok());
  const std::vector<UserEvent> batch = {
      UserDeletedEvent(2, 2), UserCreatedEvent(3, 9), UserDeletedEvent(4, 3)};
  absl::StatusOr<int> failed = store_->ApplyUserEvents(kUsers, batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(
      absl::StrContains(failed.status().message(), "sequence 4 refused"))
      << failed.status();
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 1);
  EXPECT_EQ(store_->Get(second.id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(store_->Get(third.id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(CancelledEvents(store_.get()), 1);
  // User 2 was not remembered as deleted.
  EXPECT_TRUE(store_->Create(NewOrder(2, 100), "").ok());

  // Once the database accepts it, the same batch applies in full.
  ASSERT_TRUE(RunSqlOn(path_, sqlite
                                  ? "DROP TRIGGER refuse_4"
                                  : "DROP TRIGGER refuse_4 ON applied_events")
                  .ok());
  absl::StatusOr<int> applied = store_->ApplyUserEvents(kUsers, batch);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 3);
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 4);
  EXPECT_EQ(store_->Get(first.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(second.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(store_->Get(third.id())->status(), v1::ORDER_STATUS_CANCELLED);
  EXPECT_EQ(CancelledEvents(store_.get()), 4);
}

TEST_P(OrderStoreTest, ABatchOutOfOrderIsRefusedNamingTheField) {
  Order order = *store_->Create(NewOrder(1, 100), "");
  absl::StatusOr<int> refused = store_->ApplyUserEvents(
      kUsers,
      {UserDeletedEvent(1, 1), UserCreatedEvent(3, 2), UserCreatedEvent(3, 3)});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(refused.status().message(), "events[2].sequence"))
      << refused.status();
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 0);
  EXPECT_EQ(store_->Get(order.id())->status(), v1::ORDER_STATUS_OPEN);
  EXPECT_EQ(*store_->ApplyUserEvents(kUsers, {}), 0);
  EXPECT_EQ(*store_->ConsumerPosition(kUsers), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, OrderStoreTest, storage::AllBackends(),
                         storage::BackendName);

}  // namespace
}  // namespace stubmesh::order
