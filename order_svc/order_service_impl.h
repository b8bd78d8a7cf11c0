#ifndef STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_
#define STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_

// stubmesh.order.v1.OrderService on gRPC's callback API, over an OrderStore.
// CreateOrder asks the user service (UserService.GetUser, through the mesh)
// whether the user exists, without blocking a thread, inside the caller's
// deadline and cancellation and the mesh's timeout for GetUser, passing on
// the request id and trace; the order is written only after that answer.
//
// A user the order service has learnt is deleted (the saga, see
// user_event_consumer.h) is refused by the store in the order's transaction,
// so an order racing a deletion is either refused or cancelled.
//
// Errors of the user lookup: NOT_FOUND → FAILED_PRECONDITION naming
// `order.user_id`; UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
// RESOURCE_EXHAUSTED keep their code; anything else → INTERNAL.
//
// Thread-safety: thread-safe. Ownership: owns neither the store nor the
// mesh; both must outlive it.
//
// Example:
//   OrderServiceImpl service(store.get(), mesh.get());
//   builder.RegisterService(&service);

#include <memory>

#include "events/event_stream_reactor.h"
#include "mesh/mesh.h"
#include "order_svc/order_store.h"
#include "stubmesh/order/v1/order_service.grpc.pb.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"

namespace stubmesh::order {

class OrderServiceImpl final : public v1::OrderService::CallbackService {
 public:
  // `mesh` must have a channel for stubmesh.user.v1.UserService.
  OrderServiceImpl(
      OrderStore* store, const mesh::Mesh* mesh,
      events::EventStreamOptions stream_options = events::EventStreamOptions())
      : store_(store), mesh_(mesh), stream_options_(stream_options) {}

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
  grpc::ServerWriteReactor<v1::OrderEvent>* WatchEvents(
      grpc::CallbackServerContext* context,
      const v1::WatchEventsRequest* request) override;

 private:
  OrderStore* const store_;
  const mesh::Mesh* const mesh_;
  const events::EventStreamOptions stream_options_;
};

}  // namespace stubmesh::order

#endif  // STUBMESH_ORDER_SVC_ORDER_SERVICE_IMPL_H_
