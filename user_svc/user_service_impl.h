#ifndef STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_
#define STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_

// stubmesh.user.v1.UserService on gRPC's callback API, over a UserStore.
// WatchEvents streams the store's outbox (events/event_stream_reactor.h).
//
// Thread-safety: thread-safe; handlers run on gRPC's threads and share only
// the store. Ownership: does not own the store, which must outlive it.
//
// Example:
//   UserServiceImpl service(store.get());
//   builder.RegisterService(&service);

#include "events/event_stream_reactor.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"
#include "user_svc/user_store.h"

namespace stubmesh::user {

class UserServiceImpl final : public v1::UserService::CallbackService {
 public:
  explicit UserServiceImpl(
      UserStore* store,
      events::EventStreamOptions stream_options = events::EventStreamOptions())
      : store_(store), stream_options_(stream_options) {}

  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const v1::GetUserRequest* request,
                                    v1::User* response) override;
  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const v1::CreateUserRequest* request,
                                       v1::User* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const v1::ListUsersRequest* request,
                                      v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const v1::UpdateUserRequest* request,
                                       v1::User* response) override;
  grpc::ServerUnaryReactor* DeleteUser(
      grpc::CallbackServerContext* context,
      const v1::DeleteUserRequest* request,
      google::protobuf::Empty* response) override;
  grpc::ServerWriteReactor<v1::UserEvent>* WatchEvents(
      grpc::CallbackServerContext* context,
      const v1::WatchEventsRequest* request) override;

 private:
  UserStore* const store_;
  const events::EventStreamOptions stream_options_;
};

}  // namespace stubmesh::user

#endif  // STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_
