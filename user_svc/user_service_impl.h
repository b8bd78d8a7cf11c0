#ifndef STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_
#define STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_

// stubmesh.user.v1.UserService on gRPC's callback API, over a UserStore.
//
// Thread-safety: thread-safe; handlers run on gRPC's threads and share only
// the store. Ownership: does not own the store, which must outlive it.
//
// Example:
//   UserServiceImpl service(store.get());
//   builder.RegisterService(&service);

#include "stubmesh/user/v1/user_service.grpc.pb.h"
#include "user_svc/user_store.h"

namespace stubmesh::user {

class UserServiceImpl final : public v1::UserService::CallbackService {
 public:
  explicit UserServiceImpl(UserStore* store) : store_(store) {}

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

 private:
  UserStore* const store_;
};

}  // namespace stubmesh::user

#endif  // STUBMESH_USER_SVC_USER_SERVICE_IMPL_H_
