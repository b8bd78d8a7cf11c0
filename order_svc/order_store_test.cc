#include "order_svc/order_store.h"

#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "storage/fresh_db_path.h"

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

class OrderStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = storage::FreshDbPath(
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto store = OrderStore::Create(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string path_;
  std::unique_ptr<OrderStore> store_;
};

TEST_F(OrderStoreTest, CreateThenGetWithItemsInOrder) {
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

TEST_F(OrderStoreTest, UnknownIdIsNotFound) {
  EXPECT_EQ(store_->Get(99).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(OrderStoreTest, SameRequestIdReturnsTheFirstOrder) {
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

TEST_F(OrderStoreTest, ConcurrentRetriesCreateOneRow) {
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

TEST_F(OrderStoreTest, ListByUserPages) {
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

TEST_F(OrderStoreTest, RowsSurviveReopening) {
  Order first = *store_->Create(NewOrder(7, 500), "r1");
  store_.reset();
  auto reopened = OrderStore::Create(path_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ((*reopened)->Get(first.id())->SerializeAsString(),
            first.SerializeAsString());
}

}  // namespace
}  // namespace stubmesh::order
