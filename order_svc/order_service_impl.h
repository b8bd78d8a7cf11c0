#ifndef STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_
#define STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_

// stubmesh.order.v1.OrderService on gRPC's callback API, over an OrderStore.
// CreateOrder asks the user service (UserService.GetUser) whether the user
// exists, without blocking a thread, inside the caller's deadline and
// cancellation; the order is written only after that answer.
//
// Errors of the user lookup: NOT_FOUND → FAILED_PRECONDITION naming
// `order.user_id`; UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
// RESOURCE_EXHAUSTED keep their code; anything else → INTERNAL.
//
// Thread-safety: thread-safe. Ownership: does not own the store, which must
// outlive it; shares the user service stub.
//
// Example:
//   OrderServiceImpl service(store.get(),
//                            UserService::NewStub(channel), absl::Seconds(2));
//   builder.RegisterService(&service);

#include <memory>

#include "absl/time/time.h"
#include "order_svc/order_store.h"
#include "stubmesh/order/v1/order_service.grpc.pb.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::order {

class OrderServiceImpl final : public v1::OrderService::CallbackService {
 public:
  // `user_lookup_timeout` bounds the user lookup when the caller set no
  // (or a later) deadline.
  OrderServiceImpl(OrderStore* store,
                   std::unique_ptr<user::v1::UserService::StubInterface> users,
                   absl::Duration user_lookup_timeout)
      : store_(store),
        users_(std::move(users)),
        user_lookup_timeout_(user_lookup_timeout) {}

  grpc::ServerUnaryReactor* GetOrder(grpc::CallbackServerContext* context,
                                     const v1::GetOrderRequest* request,
                                     v1::Order* response) override;
  grpc::ServerUnaryReactor* CreateOrder(grpc::CallbackServerContext* context,
                                        const v1::CreateOrderRequest* request,
                                        v1::Order* response) override;
  grpc::ServerUnaryReactor* ListOrders(
      grpc::CallbackServerContext* context,
      const v1::ListOrdersRequest* request,
      v1::ListOrdersResponse* response) override;

 private:
  OrderStore* const store_;
  const std::unique_ptr<user::v1::UserService::StubInterface> users_;
  const absl::Duration user_lookup_timeout_;
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_
