#include "user_svc/user_store.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "storage/database_url.h"

namespace stubmesh::user {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::stubmesh::storage::SchemaMigrations;
using ::stubmesh::storage::SqlDatabase;
using ::stubmesh::storage::SqlDialect;
using ::stubmesh::storage::SqlStatement;

// Append-only lists: each entry runs once per database (see SqlDatabase).
const SchemaMigrations& Schema() {
  static const auto* schema = new SchemaMigrations{
      "stubmesh_users",
      /*sqlite=*/
      {
          R"sql(
            CREATE TABLE users (
              id INTEGER PRIMARY KEY AUTOINCREMENT,
              name TEXT NOT NULL,
              email TEXT NOT NULL,
              request_id TEXT UNIQUE,
              create_time_us INTEGER NOT NULL,
              update_time_us INTEGER NOT NULL,
              delete_time_us INTEGER
            );
            CREATE UNIQUE INDEX users_live_email
              ON users (email COLLATE NOCASE) WHERE delete_time_us IS NULL;
          )sql",
          events::Outbox::CreateTableSql(SqlDialect::kSqlite),
      },
      /*postgresql=*/
      {
          R"sql(
            CREATE TABLE users (
              id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              name TEXT NOT NULL,
              email TEXT NOT NULL,
              request_id TEXT UNIQUE,
              create_time_us BIGINT NOT NULL,
              update_time_us BIGINT NOT NULL,
              delete_time_us BIGINT
            );
            CREATE UNIQUE INDEX users_live_email
              ON users (lower(email)) WHERE delete_time_us IS NULL;
          )sql",
          events::Outbox::CreateTableSql(SqlDialect::kPostgresql),
      },
  };
  return *schema;
}

constexpr absl::string_view kColumns =
    "id, name, email, create_time_us, update_time_us";

User ReadUser(const SqlStatement& row) {
  User user;
  user.set_id(row.ColumnInt64(0));
  user.set_name(row.ColumnText(1));
  user.set_email(row.ColumnText(2));
  *user.mutable_create_time() =
      TimeUtil::MicrosecondsToTimestamp(row.ColumnInt64(3));
  *user.mutable_update_time() =
      TimeUtil::MicrosecondsToTimestamp(row.ColumnInt64(4));
  return user;
}

absl::Status EmailTaken(absl::string_view email) {
  return absl::AlreadyExistsError(
      absl::StrCat("user.email: a user with email '", email,
                   "' already exists"));
}

absl::Status UserNotFound(int64_t id) {
  return absl::NotFoundError(absl::StrCat("user ", id, " not found"));
}

}  // namespace

struct UserStore::Statements {
  std::unique_ptr<SqlStatement> get;
  std::unique_ptr<SqlStatement> get_by_request_id;
  std::unique_ptr<SqlStatement> insert;
  std::unique_ptr<SqlStatement> list;
  std::unique_ptr<SqlStatement> update;
  std::unique_ptr<SqlStatement> soft_delete;
};

absl::StatusOr<std::unique_ptr<UserStore>> UserStore::Create(
    const std::string& url) {
  absl::StatusOr<std::unique_ptr<SqlDatabase>> db =
      storage::OpenDatabase(url, Schema());
  if (!db.ok()) return db.status();
  std::vector<std::string> sql = {
      absl::StrCat("SELECT ", kColumns,
                   " FROM users WHERE id = $1 AND delete_time_us IS NULL"),
      absl::StrCat("SELECT ", kColumns, " FROM users WHERE request_id = $1"),
      "INSERT INTO users (name, email, request_id, create_time_us, "
      "update_time_us) VALUES ($1, $2, $3, $4, $5) RETURNING id",
      absl::StrCat("SELECT ", kColumns,
                   " FROM users WHERE id > $1 AND delete_time_us IS NULL "
                   "ORDER BY id LIMIT $2"),
      "UPDATE users SET name = $1, email = $2, update_time_us = $3 "
      "WHERE id = $4",
      "UPDATE users SET delete_time_us = $1 "
      "WHERE id = $2 AND delete_time_us IS NULL",
  };
  absl::StatusOr<std::vector<std::unique_ptr<SqlStatement>>> prepared =
      (*db)->PrepareStatements(sql);
  if (!prepared.ok()) return prepared.status();
  std::vector<std::unique_ptr<SqlStatement>>& p = *prepared;
  absl::StatusOr<std::unique_ptr<events::Outbox>> outbox =
      events::Outbox::Create(db->get());
  if (!outbox.ok()) return outbox.status();
  auto statements = std::unique_ptr<Statements>(new Statements{
      std::move(p[0]), std::move(p[1]), std::move(p[2]), std::move(p[3]),
      std::move(p[4]), std::move(p[5])});
  return std::unique_ptr<UserStore>(
      new UserStore(*std::move(db), std::move(statements), *std::move(outbox)));
}

UserStore::UserStore(std::unique_ptr<SqlDatabase> db,
                     std::unique_ptr<Statements> statements,
                     std::unique_ptr<events::Outbox> outbox)
    : db_(std::move(db)),
      statements_(std::move(statements)),
      outbox_(std::move(outbox)) {}

UserStore::~UserStore() {
  absl::MutexLock lock(&mu_);
  // Statements are finalized before the connection.
  statements_.reset();
  outbox_.reset();
  db_.reset();
}

absl::StatusOr<User> UserStore::GetLocked(int64_t id) {
  SqlStatement& get = *statements_->get;
  get.Reset();
  get.BindInt64(1, id);
  absl::StatusOr<bool> row = get.Step();
  if (!row.ok()) return row.status();
  if (!*row) return UserNotFound(id);
  User user = ReadUser(get);
  get.Reset();
  return user;
}

absl::StatusOr<User> UserStore::Get(int64_t id) {
  absl::MutexLock lock(&mu_);
  return GetLocked(id);
}

absl::StatusOr<User> UserStore::Create(const User& user,
                                       absl::string_view request_id) {
  absl::MutexLock lock(&mu_);
  User result;
  absl::Status s = db_->Transaction([&]() -> absl::Status {
    if (!request_id.empty()) {
      SqlStatement& seen = *statements_->get_by_request_id;
      seen.Reset();
      seen.BindText(1, request_id);
      absl::StatusOr<bool> row = seen.Step();
      if (!row.ok()) return row.status();
      if (*row) {
        result = ReadUser(seen);
        seen.Reset();
        return absl::OkStatus();
      }
    }
    int64_t now = absl::ToUnixMicros(absl::Now());
    SqlStatement& insert = *statements_->insert;
    insert.Reset();
    insert.BindText(1, user.name());
    insert.BindText(2, user.email());
    if (request_id.empty()) {
      insert.BindNull(3);
    } else {
      insert.BindText(3, request_id);
    }
    insert.BindInt64(4, now);
    insert.BindInt64(5, now);
    absl::StatusOr<bool> row = insert.Step();
    // The request id was checked under the write lock, so the only unique
    // key left to collide is the live email.
    if (absl::IsAlreadyExists(row.status())) return EmailTaken(user.email());
    if (!row.ok()) return row.status();
    result.set_id(insert.ColumnInt64(0));
    absl::Status inserted = insert.Run();
    insert.Reset();
    if (!inserted.ok()) return inserted;
    result.set_name(user.name());
    result.set_email(user.email());
    *result.mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(now);
    *result.mutable_update_time() = result.create_time();
    UserEvent event;
    *event.mutable_user_created()->mutable_user() = result;
    return outbox_->Append(event, absl::FromUnixMicros(now)).status();
  });
  if (!s.ok()) return s;
  commit_signal_.Committed(outbox_->last_appended());
  return result;
}

absl::StatusOr<UserPage> UserStore::List(const storage::PageRequest& page) {
  absl::MutexLock lock(&mu_);
  SqlStatement& list = *statements_->list;
  list.Reset();
  list.BindInt64(1, page.after_id);
  list.BindInt64(2, static_cast<int64_t>(page.limit) + 1);
  UserPage result;
  while (true) {
    absl::StatusOr<bool> row = list.Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(result.users.size()) == page.limit) {
      result.has_more = true;
      break;
    }
    result.users.push_back(ReadUser(list));
  }
  list.Reset();
  return result;
}

absl::StatusOr<User> UserStore::Update(int64_t id, const UserChanges& changes) {
  absl::MutexLock lock(&mu_);
  User result;
  absl::Status s = db_->Transaction([&]() -> absl::Status {
    absl::StatusOr<User> current = GetLocked(id);
    if (!current.ok()) return current.status();
    result = *std::move(current);
    if (changes.name) result.set_name(*changes.name);
    if (changes.email) result.set_email(*changes.email);
    int64_t now = absl::ToUnixMicros(absl::Now());
    *result.mutable_update_time() = TimeUtil::MicrosecondsToTimestamp(now);
    SqlStatement& update = *statements_->update;
    update.Reset();
    update.BindText(1, result.name());
    update.BindText(2, result.email());
    update.BindInt64(3, now);
    update.BindInt64(4, id);
    absl::Status updated = update.Run();
    update.Reset();
    if (absl::IsAlreadyExists(updated)) return EmailTaken(result.email());
    if (!updated.ok()) return updated;
    UserEvent event;
    *event.mutable_user_updated()->mutable_user() = result;
    return outbox_->Append(event, absl::FromUnixMicros(now)).status();
  });
  if (!s.ok()) return s;
  commit_signal_.Committed(outbox_->last_appended());
  return result;
}

absl::Status UserStore::Delete(int64_t id) {
  absl::MutexLock lock(&mu_);
  absl::Status deleted = db_->Transaction([&]() -> absl::Status {
    int64_t now = absl::ToUnixMicros(absl::Now());
    SqlStatement& soft_delete = *statements_->soft_delete;
    soft_delete.Reset();
    soft_delete.BindInt64(1, now);
    soft_delete.BindInt64(2, id);
    absl::Status s = soft_delete.Run();
    soft_delete.Reset();
    if (!s.ok()) return s;
    if (db_->ChangedRows() == 0) return UserNotFound(id);
    UserEvent event;
    event.mutable_user_deleted()->set_user_id(id);
    return outbox_->Append(event, absl::FromUnixMicros(now)).status();
  });
  if (deleted.ok()) commit_signal_.Committed(outbox_->last_appended());
  return deleted;
}

absl::StatusOr<std::vector<UserEvent>> UserStore::ReadEvents(int64_t after,
                                                             int limit) {
  absl::MutexLock lock(&mu_);
  return outbox_->ReadAfter<UserEvent>(after, limit);
}

}  // namespace stubmesh::user
