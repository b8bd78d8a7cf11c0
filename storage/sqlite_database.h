#ifndef STUBMESH_STORAGE_SQLITE_DATABASE_H_
#define STUBMESH_STORAGE_SQLITE_DATABASE_H_

// A small RAII layer over one SQLite connection: durable settings, schema
// migrations, prepared statements and IMMEDIATE transactions, with errors as
// absl::Status. Implements the SqlDatabase contract (storage/sql_database.h);
// new code should use that through storage/database_url.h. Prepare(),
// PrepareAll() and LastInsertRowId() stay for the SQLite-only callers.
//
// Durability: every connection runs in WAL mode with synchronous=FULL, so a
// committed transaction survives a process kill or power loss; callers
// acknowledge a write only after Transaction() returned OK. Several processes
// may share one file (busy_timeout waits for the write lock).
//
// Thread-safety: neither class is thread-safe. An owner that is called from
// many threads guards its SqliteDatabase and statements with one mutex.
//
// Example:
//   absl::StatusOr<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Create(
//       "users.db", {"CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)"});
//   absl::StatusOr<SqliteStatement> insert =
//       (*db)->Prepare("INSERT INTO users (name) VALUES (?)");
//   absl::Status s = (*db)->Transaction([&]() -> absl::Status {
//     insert->Reset();
//     insert->BindText(1, "ada");
//     return insert->Run();
//   });

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/sql_database.h"

struct sqlite3;
struct sqlite3_stmt;

namespace stubmesh::storage {

// A prepared statement. Move-only; must not outlive its SqliteDatabase.
// Bind indexes start at 1, column indexes at 0.
class SqliteStatement final : public SqlStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  ~SqliteStatement() override;

  // Clears the previous execution and bindings.
  void Reset() override;

  void BindInt64(int index, int64_t value) override;
  void BindText(int index, absl::string_view value) override;
  void BindNull(int index) override;

  // Advances to the next row: true if there is one, false when done.
  absl::StatusOr<bool> Step() override;
  // Steps until done (for statements that return no rows).
  absl::Status Run() override;

  int64_t ColumnInt64(int column) const override;
  std::string ColumnText(int column) const override;
  bool ColumnIsNull(int column) const override;

 private:
  friend class SqliteDatabase;
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

class SqliteDatabase final : public SqlDatabase {
 public:
  // Opens (creating if needed) the database at `path` and brings its schema
  // up to date: `migrations[i]` runs once, in a transaction, when the file's
  // user_version is i, and sets it to i + 1. Migrations are append-only.
  static absl::StatusOr<std::unique_ptr<SqliteDatabase>> Create(
      const std::string& path, const std::vector<std::string>& migrations);

  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase() override;

  SqlDialect dialect() const override { return SqlDialect::kSqlite; }

  // `$N` parameters must first appear in ascending order (see
  // sql_database.h); SQL that breaks this is INVALID_ARGUMENT.
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  absl::StatusOr<std::unique_ptr<SqlStatement>> PrepareStatement(
      absl::string_view sql) override;

  // Prepares each of `sql`, in order; the first failure is returned.
  absl::StatusOr<std::vector<SqliteStatement>> PrepareAll(
      const std::vector<std::string>& sql);

  // Runs `sql` (one or more statements without results).
  absl::Status Execute(const std::string& sql) override;

  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when `body`
  // fails. The write lock is held for the whole body, so a read-then-write
  // inside it is atomic across threads and processes.
  absl::Status Transaction(const std::function<absl::Status()>& body) override;

  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int ChangedRows() const override;

 private:
  explicit SqliteDatabase(sqlite3* db) : db_(db) {}
  absl::Status Migrate(const std::vector<std::string>& migrations);

  sqlite3* db_;
};

// Maps a SQLite result code to a status: BUSY/LOCKED are UNAVAILABLE (the
// caller may retry), CONSTRAINT is ALREADY_EXISTS, CORRUPT/NOTADB are
// DATA_LOSS, the rest INTERNAL.
absl::Status SqliteError(sqlite3* db, int code, absl::string_view what);

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_SQLITE_DATABASE_H_
