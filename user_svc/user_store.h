#ifndef STUBMESH_USER_SVC_USER_STORE_H_
#define STUBMESH_USER_SVC_USER_STORE_H_

// The user service's durable store: one database, owned by this service
// alone (replicas of the service may share it): a SQLite file or a
// PostgreSQL database, chosen by URL (storage/database_url.h).
//
// Every method that writes returns only after the change is committed
// (WAL, synchronous=FULL), and writes its event (UserCreated, UserUpdated,
// UserDeleted) to the outbox in the same transaction (events/outbox.h):
// a change is never without its event nor an event without its change.
// Deletion is soft: the row stays with a delete
// time, reads treat it as absent, and its email is free again.
//
// Emails are unique among live users case-insensitively: ASCII case on
// SQLite (COLLATE NOCASE), lower() of the server's locale on PostgreSQL.
//
// Thread-safety: all methods are thread-safe (one connection behind a mutex).
//
// Example:
//   absl::StatusOr<std::unique_ptr<UserStore>> store =
//       UserStore::Create("sqlite:///var/lib/stubmesh/users.db");
//   User ada;
//   ada.set_name("Ada");
//   ada.set_email("ada@example.com");
//   absl::StatusOr<User> created = (*store)->Create(ada, "req-1");

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "events/commit_signal.h"
#include "events/outbox.h"
#include "storage/pagination.h"
#include "storage/sql_database.h"
#include "stubmesh/user/v1/user_service.pb.h"

namespace stubmesh::user {

using ::stubmesh::user::v1::User;
using ::stubmesh::user::v1::UserEvent;

// The new values of an update; unset members are left as they are.
struct UserChanges {
  std::optional<std::string> name;
  std::optional<std::string> email;
};

struct UserPage {
  std::vector<User> users;
  bool has_more = false;
};

class UserStore {
 public:
  // `url`: a database URL or a SQLite file path (see database_url.h).
  static absl::StatusOr<std::unique_ptr<UserStore>> Create(
      const std::string& url);
  ~UserStore();

  // NOT_FOUND for an unknown or deleted id.
  absl::StatusOr<User> Get(int64_t id);

  // Stores `user` (name, email; other fields ignored) with a new id. With a
  // non-empty `request_id` seen before, returns the user that request
  // created and writes nothing. A live user with the same email (compared
  // case-insensitively): ALREADY_EXISTS.
  absl::StatusOr<User> Create(const User& user, absl::string_view request_id);

  // Live users with id > page.after_id, in id order, at most page.limit.
  absl::StatusOr<UserPage> List(const storage::PageRequest& page);

  // NOT_FOUND for an unknown or deleted id; ALREADY_EXISTS when the new
  // email belongs to another live user.
  absl::StatusOr<User> Update(int64_t id, const UserChanges& changes);

  // NOT_FOUND for an unknown or already deleted id.
  absl::Status Delete(int64_t id);

  // At most `limit` events with sequence > `after`, in sequence order.
  absl::StatusOr<std::vector<UserEvent>> ReadEvents(int64_t after, int limit);

  // Signalled after each commit that appended events; event streams wait
  // on it. Owned by the store.
  events::CommitSignal* commit_signal() { return &commit_signal_; }

 private:
  struct Statements;
  UserStore(std::unique_ptr<storage::SqlDatabase> db,
            std::unique_ptr<Statements> statements,
            std::unique_ptr<events::Outbox> outbox);

  absl::StatusOr<User> GetLocked(int64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<storage::SqlDatabase> db_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Statements> statements_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<events::Outbox> outbox_ ABSL_GUARDED_BY(mu_);
  events::CommitSignal commit_signal_;
};

}  // namespace stubmesh::user

#endif  // STUBMESH_USER_SVC_USER_STORE_H_
