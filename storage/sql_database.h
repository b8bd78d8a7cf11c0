#ifndef STUBMESH_STORAGE_SQL_DATABASE_H_
#define STUBMESH_STORAGE_SQL_DATABASE_H_

// The storage contract that both backends (SqliteDatabase, PostgresDatabase)
// implement, so that a store is written once against it and the backend is
// chosen by a URL (see storage/database_url.h).
//
// SQL written for both dialects:
//   - Parameters are `$1, $2, ...`. SQLite numbers `$N` by first appearance,
//     so each `$N` must first appear in ascending order (`$1` before `$2`);
//     SqliteDatabase refuses SQL that breaks this (INVALID_ARGUMENT). A
//     parameter may appear again later (`... $1 ... $2 ... $1`).
//   - New ids come from `INSERT ... RETURNING id` (SQLite 3.35+), read with
//     Step() + ColumnInt64(0); there is no LastInsertRowId in the contract.
//   - Where a parameter's type cannot be inferred, write `CAST($1 AS BIGINT)`
//     (`::` is PostgreSQL only).
//   - Values are 64-bit integers, text and NULL. ColumnInt64 of a column that
//     is not an integer is 0 on both backends.
//   - DDL differs (INTEGER PRIMARY KEY vs GENERATED ... AS IDENTITY, COLLATE
//     NOCASE vs lower()), hence one migration list per dialect.
//
// Error codes, the same on both backends:
//   ALREADY_EXISTS    a constraint was violated (UNIQUE, and, as SQLite
//                     reports them alike, NOT NULL / CHECK / FOREIGN KEY)
//   UNAVAILABLE       the database is busy (the write lock was not granted
//                     within the lock timeout, 5 s) or unreachable; retry
//   ABORTED           PostgreSQL only: serialization failure or deadlock
//   FAILED_PRECONDITION  the schema is newer than the binary's migrations
//   INVALID_ARGUMENT  bad SQL parameters (see above), bad URL
//   DATA_LOSS         the database is corrupt
//   INTERNAL          anything else (e.g. a syntax error in the SQL)
//
// Transaction(body) serialises writers: one Transaction per schema runs at a
// time, across threads and processes, for its whole body, so a read followed
// by a write inside it is atomic (SQLite: BEGIN IMMEDIATE takes the file's
// write lock; PostgreSQL: a transaction-scoped advisory lock per schema name,
// READ COMMITTED; see postgres_database.h). The body runs exactly once. If a
// statement inside it fails, the body must return an error (PostgreSQL aborts
// the whole transaction on the first failed statement; SQLite only the
// statement): PostgresDatabase turns a body that ignores one into INTERNAL.
// All writes go through Transaction(); single statements outside one are
// autocommitted but, on PostgreSQL, not serialised against Transactions.
//
// Thread-safety: neither class is thread-safe; a database is one connection.
// An owner that is called from many threads guards the database and its
// statements with one mutex (the write lock serialises writers anyway).
//
// Example:
//   absl::StatusOr<std::unique_ptr<SqlDatabase>> db = OpenDatabase(
//       "postgresql://app@127.0.0.1:5432/app", kUserSchema);
//   absl::StatusOr<std::unique_ptr<SqlStatement>> insert =
//       (*db)->PrepareStatement(
//           "INSERT INTO users (name) VALUES ($1) RETURNING id");
//   int64_t id = 0;
//   absl::Status s = (*db)->Transaction([&]() -> absl::Status {
//     (*insert)->Reset();
//     (*insert)->BindText(1, "ada");
//     absl::StatusOr<bool> row = (*insert)->Step();
//     if (!row.ok()) return row.status();
//     id = (*insert)->ColumnInt64(0);
//     return (*insert)->Run();  // finishes the statement
//   });

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stubmesh::storage {

enum class SqlDialect { kSqlite, kPostgresql };

// "sqlite" or "postgresql".
absl::string_view SqlDialectName(SqlDialect dialect);

// A prepared statement. Must not outlive the database that prepared it.
// Bind indexes start at 1, column indexes at 0. Column accessors read the
// row of the last Step() that returned true.
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;

  // Clears the previous execution and all bindings (unbound is NULL).
  virtual void Reset() = 0;

  virtual void BindInt64(int index, int64_t value) = 0;
  virtual void BindText(int index, absl::string_view value) = 0;
  virtual void BindNull(int index) = 0;

  // Advances to the next row: true if there is one, false when done. The
  // first Step() after Reset() executes the statement.
  virtual absl::StatusOr<bool> Step() = 0;
  // Steps until done (for statements whose rows are not needed).
  virtual absl::Status Run() = 0;

  virtual int64_t ColumnInt64(int column) const = 0;
  virtual std::string ColumnText(int column) const = 0;
  virtual bool ColumnIsNull(int column) const = 0;

 protected:
  SqlStatement() = default;
  SqlStatement(const SqlStatement&) = default;
  SqlStatement& operator=(const SqlStatement&) = default;
};

// A store's schema: its name and its migrations, one append-only list per
// dialect. Entry i runs once per database, in a transaction, after entries
// 0..i-1; a database whose schema is newer than the list is refused
// (FAILED_PRECONDITION). On PostgreSQL several schemas (names) may share one
// database: each name has its own versions (table stubmesh_schema_migrations)
// and its own write lock. On SQLite the version is the file's user_version:
// one schema per file.
struct SchemaMigrations {
  std::string name;
  std::vector<std::string> sqlite;
  std::vector<std::string> postgresql;

  const std::vector<std::string>& For(SqlDialect dialect) const {
    return dialect == SqlDialect::kSqlite ? sqlite : postgresql;
  }
};

// One connection to a database whose schema is up to date.
class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;

  virtual SqlDialect dialect() const = 0;

  virtual absl::StatusOr<std::unique_ptr<SqlStatement>> PrepareStatement(
      absl::string_view sql) = 0;

  // Prepares each of `sql`, in order; the first failure is returned.
  absl::StatusOr<std::vector<std::unique_ptr<SqlStatement>>> PrepareStatements(
      const std::vector<std::string>& sql);

  // Runs `sql`: one or more statements without parameters or results.
  virtual absl::Status Execute(const std::string& sql) = 0;

  // Runs `body` in a transaction that holds the schema's write lock from
  // its start: commits if `body` returns OK, else rolls back and returns
  // the body's error. Not reentrant.
  virtual absl::Status Transaction(
      const std::function<absl::Status()>& body) = 0;

  // Rows changed by the last INSERT/UPDATE/DELETE.
  virtual int ChangedRows() const = 0;

 protected:
  SqlDatabase() = default;
};

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_SQL_DATABASE_H_
