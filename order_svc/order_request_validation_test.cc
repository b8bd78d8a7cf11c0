#include "order_svc/order_request_validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::order {
namespace {

MATCHER_P(IsInvalidNaming, field, "") {
  return arg.code() == absl::StatusCode::kInvalidArgument &&
         arg.message().rfind(std::string(field) + ":", 0) == 0;
}

v1::CreateOrderRequest ValidCreate() {
  v1::CreateOrderRequest request;
  request.set_request_id("r-1");
  v1::Order* order = request.mutable_order();
  order->set_user_id(3);
  v1::LineItem* a = order->add_items();
  a->set_sku("BOOK-1");
  a->set_quantity(2);
  a->set_unit_price_cents(1250);
  v1::LineItem* b = order->add_items();
  b->set_sku("pen_blue.2");
  b->set_quantity(1);
  b->set_unit_price_cents(99);
  return request;
}

TEST(ValidateCreateOrderTest, ComputesTheTotal) {
  absl::StatusOr<int32_t> total = ValidateCreateOrder(ValidCreate());
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 2 * 1250 + 99);
}

TEST(ValidateCreateOrderTest, NamesTheBadField) {
  v1::CreateOrderRequest r = ValidCreate();
  r.clear_order();
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order"));

  r = ValidCreate();
  r.mutable_order()->set_id(1);
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order.id"));

  r = ValidCreate();
  r.mutable_order()->set_total(100);
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order.total"));

  r = ValidCreate();
  r.mutable_order()->set_status(v1::ORDER_STATUS_CANCELLED);
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order.status"));

  r = ValidCreate();
  r.mutable_order()->set_user_id(0);
  EXPECT_THAT(ValidateCreateOrder(r).status(),
              IsInvalidNaming("order.user_id"));

  r = ValidCreate();
  r.mutable_order()->clear_items();
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order.items"));

  r = ValidCreate();
  r.mutable_order()->mutable_items(1)->set_sku("has space");
  EXPECT_THAT(ValidateCreateOrder(r).status(),
              IsInvalidNaming("order.items[1].sku"));

  r = ValidCreate();
  r.mutable_order()->mutable_items(0)->set_quantity(0);
  EXPECT_THAT(ValidateCreateOrder(r).status(),
              IsInvalidNaming("order.items[0].quantity"));

  r = ValidCreate();
  r.mutable_order()->mutable_items(0)->set_unit_price_cents(-1);
  EXPECT_THAT(ValidateCreateOrder(r).status(),
              IsInvalidNaming("order.items[0].unit_price_cents"));

  r = ValidCreate();
  r.set_request_id(std::string(200, 'x'));
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("request_id"));
}

TEST(ValidateCreateOrderTest, TooManyItems) {
  v1::CreateOrderRequest r = ValidCreate();
  for (int i = 0; i < kMaxItems; ++i) *r.mutable_order()->add_items() = r.order().items(0);
  EXPECT_THAT(ValidateCreateOrder(r).status(), IsInvalidNaming("order.items"));
}

TEST(ValidateCreateOrderTest, TotalBeyondInt32IsRefused) {
  v1::CreateOrderRequest r = ValidCreate();
  r.mutable_order()->mutable_items(0)->set_quantity(kMaxQuantity);
  r.mutable_order()->mutable_items(0)->set_unit_price_cents(kMaxUnitPriceCents);
  absl::StatusOr<int32_t> total = ValidateCreateOrder(r);
  EXPECT_THAT(total.status(), IsInvalidNaming("order.items"));
  EXPECT_NE(total.status().message().find("exceeds"), std::string::npos);
}

TEST(ValidateListOrdersTest, NegativeUserIdIsRefused) {
  v1::ListOrdersRequest r;
  EXPECT_TRUE(ValidateListOrders(r).ok());
  r.set_user_id(-2);
  EXPECT_THAT(ValidateListOrders(r), IsInvalidNaming("user_id"));
}

}  // namespace
}  // namespace stubmesh::order
