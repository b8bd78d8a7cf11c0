#include "order_svc/order_service_impl.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "order_svc/order_request_validation.h"
#include "server/fault_injection.h"
#include "status/status_mapping.h"
#include "storage/pagination.h"
#include "validation/field_checks.h"

namespace stubmesh::order {
namespace {

grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

std::string ListScope(int64_t user_id) {
  return absl::StrCat("orders/user=", user_id);
}

absl::Status UserLookupError(const grpc::Status& status, int64_t user_id) {
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      return absl::FailedPreconditionError(
          absl::StrCat("order.user_id: user ", user_id, " does not exist"));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: {
      absl::Status s = ToAbslStatus(status);
      return absl::Status(
          s.code(), absl::StrCat("user service: ", status.error_message()));
    }
    default:
      return absl::InternalError(
          absl::StrCat("user service answered code ", status.error_code(),
                       ": ", status.error_message()));
  }
}

// The state of one user lookup; lives until its callback has run.
struct UserLookup {
  std::unique_ptr<user::v1::UserService::Stub> stub;
  std::unique_ptr<grpc::ClientContext> context;
  user::v1::GetUserRequest request;
  user::v1::User response;
};

}  // namespace

grpc::ServerUnaryReactor* OrderServiceImpl::GetOrder(
    grpc::CallbackServerContext* context, const v1::GetOrderRequest* request,
    v1::Order* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::Status s = validation::CheckPositiveId("id", request->id());
  if (!s.ok()) return FinishWith(context, s);
  absl::StatusOr<Order> order = store_->Get(request->id());
  if (order.ok()) *response = *std::move(order);
  return FinishWith(context, order.status());
}

grpc::ServerUnaryReactor* OrderServiceImpl::CreateOrder(
    grpc::CallbackServerContext* context, const v1::CreateOrderRequest* request,
    v1::Order* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::StatusOr<int32_t> total = ValidateCreateOrder(*request);
  if (!total.ok()) return FinishWith(context, total.status());

  // A retry of a request that already succeeded needs no user lookup: its
  // answer is the order it created, even if the user was deleted since.
  if (!request->request_id().empty()) {
    absl::StatusOr<std::optional<Order>> seen =
        store_->FindByRequestId(request->request_id());
    if (!seen.ok()) return FinishWith(context, seen.status());
    if (seen->has_value()) {
      *response = **std::move(seen);
      return FinishWith(context, absl::OkStatus());
    }
  }

  // The stub is taken per call: the mesh may have swapped the channel.
  absl::StatusOr<std::unique_ptr<user::v1::UserService::Stub>> stub =
      mesh_->NewStub<user::v1::UserService>();
  if (!stub.ok()) return FinishWith(context, stub.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto lookup = std::make_shared<UserLookup>();
  lookup->stub = *std::move(stub);
  lookup->context = mesh::ClientContextFor(
      *context, mesh_->CallTimeout(user::v1::UserService::service_full_name(),
                                   "GetUser"));
  lookup->request.set_id(request->order().user_id());
  int32_t order_total = *total;
  lookup->stub->async()->GetUser(
      lookup->context.get(), &lookup->request, &lookup->response,
      [this, lookup, reactor, request, response,
       order_total](grpc::Status status) {
        if (!status.ok()) {
          reactor->Finish(ToGrpcStatus(
              UserLookupError(status, request->order().user_id())));
          return;
        }
        Order order = request->order();
        order.set_total(order_total);
        absl::StatusOr<Order> created =
            store_->Create(order, request->request_id());
        if (created.ok()) *response = *std::move(created);
        reactor->Finish(ToGrpcStatus(created.status()));
      });
  return reactor;
}

grpc::ServerUnaryReactor* OrderServiceImpl::ListOrders(
    grpc::CallbackServerContext* context, const v1::ListOrdersRequest* request,
    v1::ListOrdersResponse* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::Status s = ValidateListOrders(*request);
  if (!s.ok()) return FinishWith(context, s);
  std::string scope = ListScope(request->user_id());
  absl::StatusOr<storage::PageRequest> page = storage::ParsePageRequest(
      request->page_size(), request->page_token(), scope);
  if (!page.ok()) return FinishWith(context, page.status());
  absl::StatusOr<OrderPage> result = store_->List(request->user_id(), *page);
  if (!result.ok()) return FinishWith(context, result.status());
  for (Order& order : result->orders) {
    *response->add_orders() = std::move(order);
  }
  if (result->has_more) {
    response->set_next_page_token(storage::EncodePageToken(
        scope, response->orders(response->orders_size() - 1).id()));
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::OrderEvent>* OrderServiceImpl::WatchEvents(
    grpc::CallbackServerContext* context,
    const v1::WatchEventsRequest* request) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return new events::FinishedStreamReactor<v1::OrderEvent>(*abort);
  }
  return events::StartEventStream<v1::OrderEvent>(
      request->after_sequence(),
      [store = store_](int64_t after, int limit) {
        return store->ReadEvents(after, limit);
      },
      store_->commit_signal(), stream_options_);
}

}  // namespace stubmesh::order
