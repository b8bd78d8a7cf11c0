#ifndef STUBMESH_ORDER_SVC_ORDER_REQUEST_VALIDATION_H_
#define STUBMESH_ORDER_SVC_ORDER_REQUEST_VALIDATION_H_

// Validation of OrderService requests, before the user service or the store
// is asked anything. Every error is INVALID_ARGUMENT and starts with the
// field path ("order.items[2].quantity: ...").
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<int32_t> total = ValidateCreateOrder(request);
//   if (!total.ok()) return Finish(total.status());

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "stubmesh/order/v1/order_service.pb.h"

namespace stubmesh::order {

inline constexpr int kMaxItems = 100;
inline constexpr int kMaxSkuChars = 64;
inline constexpr int32_t kMaxQuantity = 10'000;
inline constexpr int32_t kMaxUnitPriceCents = 100'000'000;

// Returns the order total in cents: the sum of quantity × unit price, which
// must fit in an int32 (see order_service.proto).
absl::StatusOr<int32_t> ValidateCreateOrder(
    const v1::CreateOrderRequest& request);

absl::Status ValidateListOrders(const v1::ListOrdersRequest& request);

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_ORDER_REQUEST_VALIDATION_H_
