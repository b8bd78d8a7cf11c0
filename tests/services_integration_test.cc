// user_svc and order_svc as real processes on real sockets and SQLite files,
// driven through the generated synchronous stubs. Each test gets its own
// directory for the databases, so tests do not see each other's rows.

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"
#include "stubmesh/order/v1/order_service.grpc.pb.h"
#include "stubmesh/user/v1/user_service.grpc.pb.h"
#include "tests/service_process.h"

// gtest 1.12 would print a StatusOr as raw bytes; print its status or value.
// ADL finds PrintTo only in the type's own namespace.
namespace absl {
template <typename T>
void PrintTo(const StatusOr<T>& status_or, std::ostream* os) {
  if (!status_or.ok()) {
    *os << status_or.status();
  } else {
    *os << ::testing::PrintToString(*status_or);
  }
}
}  // namespace absl

namespace stubmesh::test {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::stubmesh::order::v1::CreateOrderRequest;
using ::stubmesh::order::v1::GetOrderRequest;
using ::stubmesh::order::v1::LineItem;
using ::stubmesh::order::v1::ListOrdersRequest;
using ::stubmesh::order::v1::ListOrdersResponse;
using ::stubmesh::order::v1::Order;
using ::stubmesh::order::v1::OrderService;
using ::stubmesh::order::v1::OrderStatus;
using ::stubmesh::user::v1::CreateUserRequest;
using ::stubmesh::user::v1::DeleteUserRequest;
using ::stubmesh::user::v1::GetUserRequest;
using ::stubmesh::user::v1::ListUsersRequest;
using ::stubmesh::user::v1::ListUsersResponse;
using ::stubmesh::user::v1::UpdateUserRequest;
using ::stubmesh::user::v1::User;
using ::stubmesh::user::v1::UserService;
using ::testing::AnyOf;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pointwise;
using ::testing::SizeIs;

constexpr absl::Duration kRpcTimeout = absl::Seconds(10);
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kServingTimeout = absl::Seconds(10);
constexpr int64_t kUnknownId = 987654321;

#define STUBMESH_CONCAT_INNER(a, b) a##b
#define STUBMESH_CONCAT(a, b) STUBMESH_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(STUBMESH_CONCAT(status_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(var, lhs, expr) \
  auto var = (expr);                              \
  ASSERT_TRUE(var.ok()) << var.status();          \
  lhs = std::move(*var)
#define ASSERT_OK(expr)                   \
  do {                                    \
    const absl::Status status_ = (expr);  \
    ASSERT_TRUE(status_.ok()) << status_; \
  } while (false)

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Matches an absl::Status or absl::StatusOr whose code is `code` and whose
// message contains `text`.
MATCHER_P2(StatusIs, code, text,
           absl::StrCat(negation ? "isn't " : "is ",
                        absl::StatusCodeToString(code),
                        " with a message containing \"", text, "\"")) {
  const absl::Status& status = StatusOf(arg);
  return status.code() == code &&
         status.message().find(text) != absl::string_view::npos;
}

// Matches an absl::StatusOr that is OK and whose value matches `matcher`.
MATCHER_P(IsOkAndHolds, matcher,
          negation ? "isn't OK with a matching value"
                   : "is OK with a matching value") {
  if (!arg.ok()) return false;
  using Value = typename std::decay_t<arg_type>::value_type;
  ::testing::StringMatchResultListener inner;
  if (::testing::ExplainMatchResult(matcher, *arg, &inner)) return true;
  *result_listener << "whose value does not match ("
                   << ::testing::DescribeMatcher<const Value&>(matcher) << ") "
                   << inner.str();
  return false;
}

// Compares two messages; differences go to `diff` ("modified: total: 3 ->
// 4", actual first).
bool SameMessage(const google::protobuf::Message& actual,
                 const google::protobuf::Message& expected, std::string* diff) {
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(diff);
  return differencer.Compare(actual, expected);
}

MATCHER_P(EqualsProto, expected,
          absl::StrCat(negation ? "doesn't equal " : "equals ",
                       expected.ShortDebugString())) {
  std::string diff;
  if (SameMessage(arg, expected, &diff)) return true;
  *result_listener << "with differences:\n" << diff;
  return false;
}

// For Pointwise() over two lists of messages.
MATCHER(ProtoEq, negation ? "are different messages" : "are equal messages") {
  std::string diff;
  if (SameMessage(std::get<0>(arg), std::get<1>(arg), &diff)) return true;
  *result_listener << "with differences:\n" << diff;
  return false;
}

// Bazel runs tests in the runfiles root; TEST_SRCDIR covers a test run from
// elsewhere.
std::string Runfile(const std::string& path) {
  if (access(path.c_str(), X_OK) == 0) return path;
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return path;
  return absl::StrCat(srcdir, "/", workspace, "/", path);
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

// Calls a unary method of a generated stub with a deadline, so that a hung
// server fails the test instead of hanging it.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(Stub* stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*,
                                                           const Request&,
                                                           Response*),
                              const Request& request,
                              absl::Duration timeout = kRpcTimeout) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  Response response;
  const grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

CreateUserRequest NewUser(const std::string& name, const std::string& email,
                          const std::string& request_id = "") {
  CreateUserRequest request;
  request.mutable_user()->set_name(name);
  request.mutable_user()->set_email(email);
  request.set_request_id(request_id);
  return request;
}

LineItem Item(const std::string& sku, int32_t quantity,
              int32_t unit_price_cents) {
  LineItem item;
  item.set_sku(sku);
  item.set_quantity(quantity);
  item.set_unit_price_cents(unit_price_cents);
  return item;
}

CreateOrderRequest NewOrder(int64_t user_id, const std::vector<LineItem>& items,
                            const std::string& request_id = "") {
  CreateOrderRequest request;
  request.mutable_order()->set_user_id(user_id);
  for (const LineItem& item : items) {
    *request.mutable_order()->add_items() = item;
  }
  request.set_request_id(request_id);
  return request;
}

template <typename Message>
std::vector<int64_t> Ids(const std::vector<Message>& messages) {
  std::vector<int64_t> ids;
  for (const Message& message : messages) ids.push_back(message.id());
  return ids;
}

class ServicesIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> dir = MakeTestDir();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *dir;
  }

  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& process : processes_) {
      std::cerr << "---- " << process->name() << " at " << process->address()
                << ", log " << process->log_path() << ":\n"
                << process->LogTail(8192) << "\n";
    }
  }

  // Starts user_svc on this test's users.db and points users_ at it. The
  // services here stop at once (--drain_delay=0): no balancer drains them.
  void StartUserService() {
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<ServiceProcess> process,
        ServiceProcess::Start(
            Runfile("user_svc/user_svc"),
            {"--port=0", "--db=" + dir_ + "/users.db", "--drain_delay=0"},
            kStartTimeout));
    ASSERT_OK(
        WaitForServing(process->address(), "", absl::Now() + kServingTimeout));
    user_process_ = process.get();
    processes_.push_back(std::move(process));
    users_ = UserService::NewStub(grpc::CreateChannel(
        user_process_->address(), grpc::InsecureChannelCredentials()));
  }

  // Starts order_svc on this test's orders.db, talking to the user_svc that
  // ran last, and points orders_ at it.
  void StartOrderService() {
    ASSERT_NE(user_process_, nullptr);
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<ServiceProcess> process,
        ServiceProcess::Start(
            Runfile("order_svc/order_svc"),
            {"--port=0", "--db=" + dir_ + "/orders.db",
             "--user_service=" + user_process_->address(), "--drain_delay=0"},
            kStartTimeout));
    ASSERT_OK(
        WaitForServing(process->address(), "", absl::Now() + kServingTimeout));
    order_process_ = process.get();
    processes_.push_back(std::move(process));
    orders_ = OrderService::NewStub(grpc::CreateChannel(
        order_process_->address(), grpc::InsecureChannelCredentials()));
  }

  void StartBoth() {
    ASSERT_NO_FATAL_FAILURE(StartUserService());
    ASSERT_NO_FATAL_FAILURE(StartOrderService());
  }

  absl::StatusOr<User> CreateUser(const CreateUserRequest& request) {
    return Call(users_.get(), &UserService::Stub::CreateUser, request);
  }

  absl::StatusOr<User> GetUser(int64_t id) {
    GetUserRequest request;
    request.set_id(id);
    return Call(users_.get(), &UserService::Stub::GetUser, request);
  }

  absl::StatusOr<User> UpdateUser(const User& user,
                                  const std::vector<std::string>& paths) {
    UpdateUserRequest request;
    *request.mutable_user() = user;
    for (const std::string& path : paths) {
      request.mutable_update_mask()->add_paths(path);
    }
    return Call(users_.get(), &UserService::Stub::UpdateUser, request);
  }

  absl::Status DeleteUser(int64_t id) {
    DeleteUserRequest request;
    request.set_id(id);
    return Call(users_.get(), &UserService::Stub::DeleteUser, request).status();
  }

  absl::StatusOr<ListUsersResponse> ListUsers(int32_t page_size,
                                              const std::string& page_token) {
    ListUsersRequest request;
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return Call(users_.get(), &UserService::Stub::ListUsers, request);
  }

  // Every page of ListUsers; a bounded number of pages, so that a token that
  // never ends fails instead of looping.
  absl::StatusOr<std::vector<User>> ListAllUsers(int32_t page_size = 0) {
    std::vector<User> users;
    std::string token;
    for (int page = 0; page < 100; ++page) {
      absl::StatusOr<ListUsersResponse> response = ListUsers(page_size, token);
      if (!response.ok()) return response.status();
      users.insert(users.end(), response->users().begin(),
                   response->users().end());
      if (response->next_page_token().empty()) return users;
      token = response->next_page_token();
    }
    return absl::InternalError("ListUsers did not end after 100 pages");
  }

  absl::StatusOr<Order> CreateOrder(const CreateOrderRequest& request,
                                    absl::Duration timeout = kRpcTimeout) {
    return Call(orders_.get(), &OrderService::Stub::CreateOrder, request,
                timeout);
  }

  absl::StatusOr<Order> GetOrder(int64_t id) {
    GetOrderRequest request;
    request.set_id(id);
    return Call(orders_.get(), &OrderService::Stub::GetOrder, request);
  }

  absl::StatusOr<ListOrdersResponse> ListOrders(int64_t user_id,
                                                int32_t page_size,
                                                const std::string& page_token) {
    ListOrdersRequest request;
    request.set_user_id(user_id);
    request.set_page_size(page_size);
    request.set_page_token(page_token);
    return Call(orders_.get(), &OrderService::Stub::ListOrders, request);
  }

  absl::StatusOr<std::vector<Order>> ListAllOrders(int64_t user_id,
                                                   int32_t page_size = 0) {
    std::vector<Order> orders;
    std::string token;
    for (int page = 0; page < 100; ++page) {
      absl::StatusOr<ListOrdersResponse> response =
          ListOrders(user_id, page_size, token);
      if (!response.ok()) return response.status();
      orders.insert(orders.end(), response->orders().begin(),
                    response->orders().end());
      if (response->next_page_token().empty()) return orders;
      token = response->next_page_token();
    }
    return absl::InternalError("ListOrders did not end after 100 pages");
  }

  std::string dir_;
  // Every process this test started, for their logs on failure.
  std::vector<std::unique_ptr<ServiceProcess>> processes_;
  ServiceProcess* user_process_ = nullptr;   // The latest user_svc.
  ServiceProcess* order_process_ = nullptr;  // The latest order_svc.
  std::unique_ptr<UserService::Stub> users_;
  std::unique_ptr<OrderService::Stub> orders_;
};

TEST_F(ServicesIntegrationTest, CreateGetUpdateDeleteUser) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());

  ASSERT_OK_AND_ASSIGN(User alice,
                       CreateUser(NewUser("Alice", "Alice@Example.com")));
  EXPECT_GT(alice.id(), 0);
  EXPECT_EQ(alice.name(), "Alice");
  EXPECT_EQ(alice.email(), "Alice@Example.com");  // Stored as given.
  EXPECT_GT(alice.create_time().seconds(), 0);
  EXPECT_THAT(alice.update_time(), EqualsProto(alice.create_time()));
  EXPECT_THAT(GetUser(alice.id()), IsOkAndHolds(EqualsProto(alice)));

  ASSERT_OK_AND_ASSIGN(User bob, CreateUser(NewUser("Bob", "bob@example.com")));
  EXPECT_NE(bob.id(), alice.id());

  // Both fields through the mask.
  User change;
  change.set_id(alice.id());
  change.set_name("Alice Liddell");
  change.set_email("alice@wonderland.example");
  ASSERT_OK_AND_ASSIGN(User updated, UpdateUser(change, {"name", "email"}));
  EXPECT_EQ(updated.id(), alice.id());
  EXPECT_EQ(updated.name(), "Alice Liddell");
  EXPECT_EQ(updated.email(), "alice@wonderland.example");
  EXPECT_THAT(updated.create_time(), EqualsProto(alice.create_time()));
  EXPECT_GE(updated.update_time().seconds(), alice.create_time().seconds());
  EXPECT_THAT(GetUser(alice.id()), IsOkAndHolds(EqualsProto(updated)));

  // Only the masked field changes, even if others are set.
  change.set_name("Alice L.");
  change.set_email("ignored@example.com");
  ASSERT_OK_AND_ASSIGN(updated, UpdateUser(change, {"name"}));
  EXPECT_EQ(updated.name(), "Alice L.");
  EXPECT_EQ(updated.email(), "alice@wonderland.example");

  // An empty mask means the fields that are set.
  User name_only;
  name_only.set_id(alice.id());
  name_only.set_name("Alice");
  ASSERT_OK_AND_ASSIGN(updated, UpdateUser(name_only, {}));
  EXPECT_EQ(updated.name(), "Alice");
  EXPECT_EQ(updated.email(), "alice@wonderland.example");

  EXPECT_THAT(UpdateUser(change, {"nickname"}),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(UpdateUser(change, {"name", "nickname"}),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  // The failed updates changed nothing.
  EXPECT_THAT(GetUser(alice.id()), IsOkAndHolds(EqualsProto(updated)));

  // Taking another user's email, in another case, is a conflict.
  User steal;
  steal.set_id(alice.id());
  steal.set_email("BOB@example.com");
  EXPECT_THAT(UpdateUser(steal, {"email"}),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));

  User unknown = change;
  unknown.set_id(kUnknownId);
  EXPECT_THAT(UpdateUser(unknown, {"name"}),
              StatusIs(absl::StatusCode::kNotFound, ""));

  // Soft delete: gone for every read, email free again.
  ASSERT_OK(DeleteUser(bob.id()));
  EXPECT_THAT(GetUser(bob.id()), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(DeleteUser(bob.id()), StatusIs(absl::StatusCode::kNotFound, ""));
  User rename_bob;
  rename_bob.set_id(bob.id());
  rename_bob.set_name("Robert");
  EXPECT_THAT(UpdateUser(rename_bob, {"name"}),
              StatusIs(absl::StatusCode::kNotFound, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<User> listed, ListAllUsers());
  EXPECT_THAT(Ids(listed), ElementsAreArray({alice.id()}));

  ASSERT_OK_AND_ASSIGN(User bob2,
                       CreateUser(NewUser("Bob Again", "Bob@Example.com")));
  EXPECT_NE(bob2.id(), bob.id());
  EXPECT_NE(bob2.id(), alice.id());
  ASSERT_OK_AND_ASSIGN(listed, ListAllUsers());
  EXPECT_THAT(Ids(listed), ElementsAreArray({alice.id(), bob2.id()}));
}

TEST_F(ServicesIntegrationTest, ListUsersPaginates) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());
  std::vector<User> created;
  for (int i = 0; i < 7; ++i) {
    ASSERT_OK_AND_ASSIGN(
        User user,
        CreateUser(NewUser(absl::StrCat("User ", i),
                           absl::StrCat("user", i, "@example.com"))));
    created.push_back(user);
  }

  std::vector<User> listed;
  std::vector<int> page_sizes;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(ListUsersResponse response, ListUsers(3, token));
    page_sizes.push_back(response.users_size());
    listed.insert(listed.end(), response.users().begin(),
                  response.users().end());
    token = response.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_THAT(page_sizes, ElementsAreArray({3, 3, 1}));
  EXPECT_THAT(token, IsEmpty());
  // Every user once, in id order, exactly as created.
  EXPECT_THAT(listed, Pointwise(ProtoEq(), created));

  // 0 means the default (50) and a huge size is capped: one page either way.
  for (int32_t page_size : {0, 5000}) {
    ASSERT_OK_AND_ASSIGN(ListUsersResponse all, ListUsers(page_size, ""));
    EXPECT_THAT(all.users(), SizeIs(7)) << "page_size " << page_size;
    EXPECT_THAT(all.next_page_token(), IsEmpty()) << "page_size " << page_size;
  }

  EXPECT_THAT(ListUsers(-1, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(ListUsers(3, "not a page token"),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

TEST_F(ServicesIntegrationTest, ListUsersDefaultPageSizeIs50) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());
  for (int i = 0; i < 51; ++i) {
    ASSERT_OK(CreateUser(NewUser(absl::StrCat("User ", i),
                                 absl::StrCat("u", i, "@example.com")))
                  .status());
  }
  ASSERT_OK_AND_ASSIGN(ListUsersResponse first, ListUsers(0, ""));
  EXPECT_THAT(first.users(), SizeIs(50));
  ASSERT_THAT(first.next_page_token(), Not(IsEmpty()));
  ASSERT_OK_AND_ASSIGN(ListUsersResponse second,
                       ListUsers(0, first.next_page_token()));
  EXPECT_THAT(second.users(), SizeIs(1));
  EXPECT_THAT(second.next_page_token(), IsEmpty());
}

TEST_F(ServicesIntegrationTest, CreateUserValidation) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());

  struct Case {
    std::string what;
    CreateUserRequest request;
    std::string field;
  };
  CreateUserRequest with_id = NewUser("Ann", "ann@example.com");
  with_id.mutable_user()->set_id(5);
  const std::vector<Case> cases = {
      {"missing name", NewUser("", "ann@example.com"), "user.name"},
      {"missing email", NewUser("Ann", ""), "user.email"},
      {"no @", NewUser("Ann", "ann.example.com"), "user.email"},
      {"two @", NewUser("Ann", "ann@x@example.com"), "user.email"},
      {"nothing before @", NewUser("Ann", "@example.com"), "user.email"},
      {"nothing after @", NewUser("Ann", "ann@"), "user.email"},
      {"white space", NewUser("Ann", "ann smith@example.com"), "user.email"},
      {"long email",
       NewUser("Ann", std::string(243, 'a') + "@example.com"),  // 255.
       "user.email"},
      {"long name", NewUser(std::string(201, 'n'), "ann@example.com"),
       "user.name"},
      {"id set", with_id, "user.id"},
      {"long request_id",
       NewUser("Ann", "ann@example.com", std::string(129, 'r')), "request_id"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(CreateUser(c.request),
                StatusIs(absl::StatusCode::kInvalidArgument, c.field))
        << c.what;
  }
  EXPECT_THAT(CreateUser(CreateUserRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<User> listed, ListAllUsers());
  EXPECT_THAT(listed, IsEmpty());

  // The limits themselves are fine; the name counts characters, not bytes.
  ASSERT_OK(CreateUser(NewUser(std::string(200, 'n'),
                               std::string(242, 'a') + "@example.com"))
                .status());
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xC3\xA9";  // é
  ASSERT_OK(CreateUser(NewUser(accents, "zoe@example.com")).status());

  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  EXPECT_THAT(CreateUser(NewUser("Other Ann", "ann@example.com")),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  EXPECT_THAT(CreateUser(NewUser("Other Ann", "ANN@Example.COM")),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
  ASSERT_OK_AND_ASSIGN(listed, ListAllUsers());
  EXPECT_THAT(listed, SizeIs(3));

  EXPECT_THAT(GetUser(0), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(GetUser(-1), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(GetUser(kUnknownId), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(DeleteUser(0), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(DeleteUser(kUnknownId),
              StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(GetUser(ann.id()), IsOkAndHolds(EqualsProto(ann)));
}

TEST_F(ServicesIntegrationTest, CreateGetListOrders) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  ASSERT_OK_AND_ASSIGN(User ben, CreateUser(NewUser("Ben", "ben@example.com")));

  ASSERT_OK_AND_ASSIGN(
      Order order, CreateOrder(NewOrder(ann.id(), {Item("SKU-1", 2, 150),
                                                   Item("sku.2_b", 1, 1000)})));
  EXPECT_GT(order.id(), 0);
  EXPECT_EQ(order.user_id(), ann.id());
  EXPECT_EQ(order.total(), 2 * 150 + 1000);
  EXPECT_EQ(order.status(), OrderStatus::ORDER_STATUS_OPEN);
  EXPECT_GT(order.create_time().seconds(), 0);
  ASSERT_THAT(order.items(), SizeIs(2));
  EXPECT_THAT(order.items(0), EqualsProto(Item("SKU-1", 2, 150)));
  EXPECT_THAT(order.items(1), EqualsProto(Item("sku.2_b", 1, 1000)));
  EXPECT_THAT(GetOrder(order.id()), IsOkAndHolds(EqualsProto(order)));

  std::vector<Order> anns = {order};
  std::vector<Order> all = {order};
  for (int i = 0; i < 6; ++i) {
    const User& user = i % 3 == 2 ? ben : ann;  // Ann 4 more, Ben 2.
    ASSERT_OK_AND_ASSIGN(
        Order placed,
        CreateOrder(NewOrder(
            user.id(), {Item(absl::StrCat("sku-", i), i + 1, 100 * (i + 1))})));
    EXPECT_EQ(placed.total(), (i + 1) * 100 * (i + 1));
    if (user.id() == ann.id()) anns.push_back(placed);
    all.push_back(placed);
  }

  std::vector<Order> listed;
  std::vector<int> page_sizes;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    ASSERT_OK_AND_ASSIGN(ListOrdersResponse response,
                         ListOrders(ann.id(), 2, token));
    page_sizes.push_back(response.orders_size());
    listed.insert(listed.end(), response.orders().begin(),
                  response.orders().end());
    token = response.next_page_token();
    if (token.empty()) break;
  }
  EXPECT_THAT(page_sizes, ElementsAreArray({2, 2, 1}));
  EXPECT_THAT(listed, Pointwise(ProtoEq(), anns));

  ASSERT_OK_AND_ASSIGN(std::vector<Order> bens, ListAllOrders(ben.id()));
  EXPECT_THAT(bens, SizeIs(2));
  ASSERT_OK_AND_ASSIGN(std::vector<Order> everything, ListAllOrders(0, 3));
  EXPECT_THAT(everything, Pointwise(ProtoEq(), all));

  ASSERT_OK_AND_ASSIGN(User carl,
                       CreateUser(NewUser("Carl", "carl@example.com")));
  ASSERT_OK_AND_ASSIGN(std::vector<Order> none, ListAllOrders(carl.id()));
  EXPECT_THAT(none, IsEmpty());

  EXPECT_THAT(GetOrder(kUnknownId), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_THAT(GetOrder(0), StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(ListOrders(-1, 0, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(ListOrders(ann.id(), -1, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_THAT(ListOrders(ann.id(), 2, "not a page token"),
              StatusIs(absl::StatusCode::kInvalidArgument, ""));
}

TEST_F(ServicesIntegrationTest, CreateOrderValidation) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  ASSERT_OK_AND_ASSIGN(User gone,
                       CreateUser(NewUser("Gone", "gone@example.com")));
  ASSERT_OK(DeleteUser(gone.id()));
  const std::vector<LineItem> items = {Item("sku-1", 1, 100)};

  EXPECT_THAT(CreateOrder(NewOrder(kUnknownId, items)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "order.user_id"));
  EXPECT_THAT(CreateOrder(NewOrder(gone.id(), items)),
              StatusIs(absl::StatusCode::kFailedPrecondition, "order.user_id"));

  struct Case {
    std::string what;
    CreateOrderRequest request;
    std::string field;
  };
  CreateOrderRequest with_id = NewOrder(ann.id(), items);
  with_id.mutable_order()->set_id(3);
  CreateOrderRequest with_total = NewOrder(ann.id(), items);
  with_total.mutable_order()->set_total(100);
  CreateOrderRequest with_status = NewOrder(ann.id(), items);
  with_status.mutable_order()->set_status(OrderStatus::ORDER_STATUS_OPEN);
  const std::vector<Case> cases = {
      {"no items", NewOrder(ann.id(), {}), "order.items"},
      {"no user", NewOrder(0, items), "order.user_id"},
      {"id set", with_id, "order.id"},
      {"total set", with_total, "order.total"},
      {"status set", with_status, "order.status"},
      {"quantity 0", NewOrder(ann.id(), {Item("sku-1", 0, 100)}),
       "order.items"},
      {"quantity too big", NewOrder(ann.id(), {Item("sku-1", 10001, 100)}),
       "order.items"},
      {"negative price", NewOrder(ann.id(), {Item("sku-1", 1, -1)}),
       "order.items"},
      {"empty sku", NewOrder(ann.id(), {Item("", 1, 100)}), "order.items"},
      {"bad sku", NewOrder(ann.id(), {Item("sku 1", 1, 100)}), "order.items"},
      {"long request_id", NewOrder(ann.id(), items, std::string(129, 'r')),
       "request_id"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(CreateOrder(c.request),
                StatusIs(absl::StatusCode::kInvalidArgument, c.field))
        << c.what;
  }
  // Every item within its limits, but the total does not fit in an int32.
  EXPECT_THAT(
      CreateOrder(NewOrder(ann.id(), {Item("sku-1", 10000, 100000000)})),
      AnyOf(StatusIs(absl::StatusCode::kInvalidArgument, ""),
            StatusIs(absl::StatusCode::kOutOfRange, "")));

  ASSERT_OK_AND_ASSIGN(std::vector<Order> listed, ListAllOrders(0));
  EXPECT_THAT(listed, IsEmpty());
}

TEST_F(ServicesIntegrationTest, CreateUserIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());
  ASSERT_OK_AND_ASSIGN(
      User first, CreateUser(NewUser("Ann", "ann@example.com", "req-ann-1")));
  ASSERT_OK_AND_ASSIGN(
      User again, CreateUser(NewUser("Ann", "ann@example.com", "req-ann-1")));
  EXPECT_THAT(again, EqualsProto(first));
  // "Whatever else this one says": the first result wins.
  ASSERT_OK_AND_ASSIGN(
      User other, CreateUser(NewUser("Bob", "bob@example.com", "req-ann-1")));
  EXPECT_THAT(other, EqualsProto(first));

  ASSERT_OK_AND_ASSIGN(std::vector<User> listed, ListAllUsers());
  EXPECT_THAT(listed, Pointwise(ProtoEq(), std::vector<User>{first}));
  // A new request id is a new request.
  EXPECT_THAT(CreateUser(NewUser("Ann", "ann@example.com", "req-ann-2")),
              StatusIs(absl::StatusCode::kAlreadyExists, ""));
}

TEST_F(ServicesIntegrationTest, ConcurrentCreateUserWithOneRequestId) {
  ASSERT_NO_FATAL_FAILURE(StartUserService());
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<User>> results(kThreads);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &results, &go] {
      go.WaitForNotification();
      results[i] = CreateUser(NewUser("Ann", "ann@example.com", "req-race"));
    });
  }
  go.Notify();
  for (std::thread& thread : threads) thread.join();

  ASSERT_TRUE(results[0].ok()) << results[0].status();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << "call " << i << ": " << results[i].status();
    EXPECT_THAT(*results[i], EqualsProto(*results[0])) << "call " << i;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<User> listed, ListAllUsers());
  EXPECT_THAT(Ids(listed), ElementsAreArray({results[0]->id()}));
}

TEST_F(ServicesIntegrationTest, CreateOrderIsIdempotent) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  const CreateOrderRequest request =
      NewOrder(ann.id(), {Item("sku-1", 3, 250)}, "req-order-1");
  ASSERT_OK_AND_ASSIGN(Order first, CreateOrder(request));
  ASSERT_OK_AND_ASSIGN(Order again, CreateOrder(request));
  EXPECT_THAT(again, EqualsProto(first));
  ASSERT_OK_AND_ASSIGN(std::vector<Order> listed, ListAllOrders(0));
  EXPECT_THAT(listed, Pointwise(ProtoEq(), std::vector<Order>{first}));

  // The same, racing.
  constexpr int kThreads = 8;
  const CreateOrderRequest raced =
      NewOrder(ann.id(), {Item("sku-2", 1, 99)}, "req-order-race");
  std::vector<absl::StatusOr<Order>> results(kThreads);
  absl::Notification go;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([this, i, &raced, &results, &go] {
      go.WaitForNotification();
      results[i] = CreateOrder(raced);
    });
  }
  go.Notify();
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  for (int i = 0; i < kThreads; ++i) {
    ASSERT_TRUE(results[i].ok()) << "call " << i << ": " << results[i].status();
    EXPECT_THAT(*results[i], EqualsProto(*results[0])) << "call " << i;
  }
  ASSERT_OK_AND_ASSIGN(listed, ListAllOrders(0));
  EXPECT_THAT(Ids(listed), ElementsAreArray({first.id(), results[0]->id()}));
}

TEST_F(ServicesIntegrationTest, CreateOrderFailsWhileUserServiceIsDown) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  ASSERT_OK_AND_ASSIGN(Order before,
                       CreateOrder(NewOrder(ann.id(), {Item("sku-1", 1, 5)})));

  ASSERT_OK_AND_ASSIGN(int exit_code, user_process_->Terminate());
  EXPECT_EQ(exit_code, 0);
  EXPECT_THAT(
      CreateOrder(NewOrder(ann.id(), {Item("sku-1", 1, 5)}), absl::Seconds(5)),
      StatusIs(absl::StatusCode::kUnavailable, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<Order> listed, ListAllOrders(0));
  EXPECT_THAT(listed, Pointwise(ProtoEq(), std::vector<Order>{before}));

  // Back on the same database, behind a new order_svc that knows its port.
  ASSERT_NO_FATAL_FAILURE(StartUserService());
  EXPECT_THAT(GetUser(ann.id()), IsOkAndHolds(EqualsProto(ann)));
  ASSERT_OK_AND_ASSIGN(exit_code, order_process_->Terminate());
  EXPECT_EQ(exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(StartOrderService());
  ASSERT_OK_AND_ASSIGN(Order after,
                       CreateOrder(NewOrder(ann.id(), {Item("sku-2", 2, 7)})));
  EXPECT_EQ(after.total(), 14);
  ASSERT_OK_AND_ASSIGN(listed, ListAllOrders(0));
  EXPECT_THAT(listed, Pointwise(ProtoEq(), std::vector<Order>{before, after}));
}

TEST_F(ServicesIntegrationTest, AcknowledgedWritesSurviveSigkill) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  std::vector<User> users;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(
        User user,
        CreateUser(NewUser(absl::StrCat("User ", i),
                           absl::StrCat("user", i, "@example.com"))));
    users.push_back(user);
  }
  User change;
  change.set_id(users[1].id());
  change.set_name("Renamed");
  ASSERT_OK_AND_ASSIGN(users[1], UpdateUser(change, {"name"}));
  const User deleted = users[2];
  ASSERT_OK(DeleteUser(deleted.id()));
  users.pop_back();

  std::vector<Order> orders;
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK_AND_ASSIGN(
        Order order,
        CreateOrder(NewOrder(users[i % 2].id(),
                             {Item("sku-a", i + 1, 10), Item("sku-b", 1, i)},
                             absl::StrCat("req-", i))));
    orders.push_back(order);
  }

  ASSERT_OK(order_process_->Kill());
  ASSERT_OK(user_process_->Kill());
  ASSERT_NO_FATAL_FAILURE(StartBoth());

  for (const User& user : users) {
    EXPECT_THAT(GetUser(user.id()), IsOkAndHolds(EqualsProto(user)));
  }
  EXPECT_THAT(GetUser(deleted.id()), StatusIs(absl::StatusCode::kNotFound, ""));
  ASSERT_OK_AND_ASSIGN(std::vector<User> listed_users, ListAllUsers());
  EXPECT_THAT(listed_users, Pointwise(ProtoEq(), users));

  for (const Order& order : orders) {
    EXPECT_THAT(GetOrder(order.id()), IsOkAndHolds(EqualsProto(order)));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Order> listed_orders, ListAllOrders(0));
  EXPECT_THAT(listed_orders, Pointwise(ProtoEq(), orders));

  // New rows do not reuse the ids of old ones.
  ASSERT_OK_AND_ASSIGN(User fresh,
                       CreateUser(NewUser("Fresh", "fresh@example.com")));
  for (const User& user : users) EXPECT_NE(fresh.id(), user.id());
  EXPECT_NE(fresh.id(), deleted.id());
  ASSERT_OK_AND_ASSIGN(Order next,
                       CreateOrder(NewOrder(fresh.id(), {Item("sku", 1, 1)})));
  for (const Order& order : orders) EXPECT_NE(next.id(), order.id());
}

TEST_F(ServicesIntegrationTest, SigtermStopsGracefully) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  ASSERT_OK_AND_ASSIGN(User ann, CreateUser(NewUser("Ann", "ann@example.com")));
  ASSERT_OK(CreateOrder(NewOrder(ann.id(), {Item("sku-1", 1, 5)})).status());

  // With clients still connected, as in production: gRPC's shutdown waits
  // for their connections, within the servers' --shutdown_timeout.
  ASSERT_OK_AND_ASSIGN(int order_exit, order_process_->Terminate());
  EXPECT_EQ(order_exit, 0);
  ASSERT_OK_AND_ASSIGN(int user_exit, user_process_->Terminate());
  EXPECT_EQ(user_exit, 0);
}

TEST_F(ServicesIntegrationTest, HealthReportsServing) {
  ASSERT_NO_FATAL_FAILURE(StartBoth());
  const absl::Time deadline = absl::Now() + kRpcTimeout;
  auto user_channel = grpc::CreateChannel(user_process_->address(),
                                          grpc::InsecureChannelCredentials());
  auto order_channel = grpc::CreateChannel(order_process_->address(),
                                           grpc::InsecureChannelCredentials());
  EXPECT_THAT(CheckHealth(user_channel, "", deadline),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(
      CheckHealth(user_channel, "stubmesh.user.v1.UserService", deadline),
      IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(CheckHealth(order_channel, "", deadline),
              IsOkAndHolds(HealthCheckResponse::SERVING));
  EXPECT_THAT(
      CheckHealth(order_channel, "stubmesh.order.v1.OrderService", deadline),
      IsOkAndHolds(HealthCheckResponse::SERVING));
}

}  // namespace
}  // namespace stubmesh::test
