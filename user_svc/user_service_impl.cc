#include "user_svc/user_service_impl.h"

#include <utility>

#include "server/fault_injection.h"
#include "status/status_mapping.h"
#include "storage/pagination.h"
#include "user_svc/user_request_validation.h"
#include "validation/field_checks.h"

namespace stubmesh::user {
namespace {

constexpr absl::string_view kListScope = "users";

// The store is local SQLite: a handler finishes inline, on the thread that
// received the call.
grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

template <typename T>
grpc::ServerUnaryReactor* FinishWith(grpc::CallbackServerContext* context,
                                     absl::StatusOr<T> result, T* response) {
  if (result.ok()) *response = *std::move(result);
  return FinishWith(context, result.status());
}

}  // namespace

grpc::ServerUnaryReactor* UserServiceImpl::GetUser(
    grpc::CallbackServerContext* context, const v1::GetUserRequest* request,
    v1::User* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::Status s = validation::CheckPositiveId("id", request->id());
  if (!s.ok()) return FinishWith(context, s);
  return FinishWith(context, store_->Get(request->id()), response);
}

grpc::ServerUnaryReactor* UserServiceImpl::CreateUser(
    grpc::CallbackServerContext* context, const v1::CreateUserRequest* request,
    v1::User* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::Status s = ValidateCreateUser(*request);
  if (!s.ok()) return FinishWith(context, s);
  return FinishWith(context,
                    store_->Create(request->user(), request->request_id()),
                    response);
}

grpc::ServerUnaryReactor* UserServiceImpl::ListUsers(
    grpc::CallbackServerContext* context, const v1::ListUsersRequest* request,
    v1::ListUsersResponse* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::StatusOr<storage::PageRequest> page = storage::ParsePageRequest(
      request->page_size(), request->page_token(), kListScope);
  if (!page.ok()) return FinishWith(context, page.status());
  absl::StatusOr<UserPage> result = store_->List(*page);
  if (!result.ok()) return FinishWith(context, result.status());
  for (v1::User& user : result->users) {
    *response->add_users() = std::move(user);
  }
  if (result->has_more) {
    response->set_next_page_token(storage::EncodePageToken(
        kListScope, response->users(response->users_size() - 1).id()));
  }
  return FinishWith(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* UserServiceImpl::UpdateUser(
    grpc::CallbackServerContext* context, const v1::UpdateUserRequest* request,
    v1::User* response) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::StatusOr<UserChanges> changes = ResolveUserChanges(*request);
  if (!changes.ok()) return FinishWith(context, changes.status());
  return FinishWith(context, store_->Update(request->user().id(), *changes),
                    response);
}

grpc::ServerUnaryReactor* UserServiceImpl::DeleteUser(
    grpc::CallbackServerContext* context, const v1::DeleteUserRequest* request,
    google::protobuf::Empty* /*response*/) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return FinishWith(context, *abort);
  }
  absl::Status s = validation::CheckPositiveId("id", request->id());
  if (!s.ok()) return FinishWith(context, s);
  return FinishWith(context, store_->Delete(request->id()));
}

grpc::ServerWriteReactor<v1::UserEvent>* UserServiceImpl::WatchEvents(
    grpc::CallbackServerContext* context,
    const v1::WatchEventsRequest* request) {
  if (std::optional<absl::Status> abort = server::InjectedAbort(*context)) {
    return new events::FinishedStreamReactor<v1::UserEvent>(*abort);
  }
  return events::StartEventStream<v1::UserEvent>(
      request->after_sequence(),
      [store = store_](int64_t after, int limit) {
        return store->ReadEvents(after, limit);
      },
      store_->commit_signal(), stream_options_);
}

}  // namespace stubmesh::user
