#include "order_svc/order_request_validation.h"

#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "validation/field_checks.h"

namespace stubmesh::order {
namespace {

using ::stubmesh::validation::InvalidFieldError;

absl::Status CheckSku(const std::string& field, absl::string_view sku) {
  if (sku.empty()) return InvalidFieldError(field, "is required");
  if (sku.size() > kMaxSkuChars) {
    return InvalidFieldError(
        field, absl::StrCat("must be at most ", kMaxSkuChars, " characters"));
  }
  for (char c : sku) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') {
      return InvalidFieldError(
          field, "may hold only letters, digits, '.', '_' and '-'");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int32_t> ValidateCreateOrder(
    const v1::CreateOrderRequest& request) {
  absl::Status s =
      validation::CheckRequestId("request_id", request.request_id());
  if (!s.ok()) return s;
  if (!request.has_order()) return InvalidFieldError("order", "is required");
  const v1::Order& order = request.order();
  s = validation::CheckUnsetId("order.id", order.id());
  if (!s.ok()) return s;
  if (order.total() != 0) {
    return InvalidFieldError(
        "order.total",
        "is computed by the server from the items; leave it unset");
  }
  if (order.status() != v1::ORDER_STATUS_UNSPECIFIED) {
    return InvalidFieldError("order.status",
                             "is set by the server; leave it unset");
  }
  if (order.has_create_time()) {
    return InvalidFieldError("order.create_time",
                             "is set by the server; leave it unset");
  }
  s = validation::CheckPositiveId("order.user_id", order.user_id());
  if (!s.ok()) return s;
  if (order.items().empty()) {
    return InvalidFieldError("order.items",
                             "at least one line item is required");
  }
  if (order.items_size() > kMaxItems) {
    return InvalidFieldError(
        "order.items", absl::StrCat("at most ", kMaxItems, " line items, got ",
                                    order.items_size()));
  }
  int64_t total = 0;
  for (int i = 0; i < order.items_size(); ++i) {
    const v1::LineItem& item = order.items(i);
    std::string prefix = absl::StrCat("order.items[", i, "].");
    s = CheckSku(prefix + "sku", item.sku());
    if (!s.ok()) return s;
    if (item.quantity() < 1 || item.quantity() > kMaxQuantity) {
      return InvalidFieldError(prefix + "quantity",
                               absl::StrCat("must be 1 to ", kMaxQuantity,
                                            ", got ", item.quantity()));
    }
    if (item.unit_price_cents() < 0 ||
        item.unit_price_cents() > kMaxUnitPriceCents) {
      return InvalidFieldError(prefix + "unit_price_cents",
                               absl::StrCat("must be 0 to ", kMaxUnitPriceCents,
                                            ", got ", item.unit_price_cents()));
    }
    // At most 100 × 10^4 × 10^8 = 10^14: no int64 overflow.
    total += static_cast<int64_t>(item.quantity()) * item.unit_price_cents();
  }
  if (total > std::numeric_limits<int32_t>::max()) {
    return InvalidFieldError("order.items",
                             absl::StrCat("the order total of ", total,
                                          " cents exceeds the maximum of ",
                                          std::numeric_limits<int32_t>::max()));
  }
  return static_cast<int32_t>(total);
}

absl::Status ValidateListOrders(const v1::ListOrdersRequest& request) {
  if (request.user_id() < 0) {
    return InvalidFieldError("user_id",
                             absl::StrCat("must be 0 (every user) or a "
                                          "positive id, got ",
                                          request.user_id()));
  }
  return absl::OkStatus();
}

}  // namespace stubmesh::order
