#include "storage/sqlite_database.h"

#include <sqlite3.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace stubmesh::storage {

absl::Status SqliteError(sqlite3* db, int code, absl::string_view what) {
  std::string message = absl::StrCat(what, ": ", sqlite3_errstr(code));
  if (db != nullptr && sqlite3_errcode(db) == code) {
    absl::StrAppend(&message, " (", sqlite3_errmsg(db), ")");
  }
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
      return absl::AlreadyExistsError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

void SqliteStatement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void SqliteStatement::BindInt64(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

void SqliteStatement::BindText(int index, absl::string_view value) {
  sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                      SQLITE_TRANSIENT, SQLITE_UTF8);
}

void SqliteStatement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

absl::StatusOr<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, rc, sqlite3_sql(stmt_));
}

absl::Status SqliteStatement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     sqlite3_column_bytes(stmt_, column));
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

absl::StatusOr<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Create(
    const std::string& path, const std::vector<std::string>& migrations) {
  sqlite3* raw = nullptr;
  // NOMUTEX: callers serialize access themselves (see the header).
  int rc = sqlite3_open_v2(
      path.c_str(), &raw,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
      nullptr);
  std::unique_ptr<SqliteDatabase> db(new SqliteDatabase(raw));
  if (rc != SQLITE_OK) {
    return SqliteError(raw, rc, absl::StrCat("opening ", path));
  }
  sqlite3_extended_result_codes(raw, 1);
  // Other processes sharing the file (replicas) hold the write lock briefly.
  sqlite3_busy_timeout(raw, 5000);
  // Switching a new file to WAL takes an exclusive lock, and SQLite does not
  // call the busy handler for it: replicas starting together on one new file
  // would fail with "database is locked". A bounded retry waits its turn.
  absl::StatusOr<bool> row;
  std::string mode;
  for (int attempt = 0; attempt < 100; ++attempt) {
    absl::StatusOr<SqliteStatement> wal =
        db->Prepare("PRAGMA journal_mode=WAL");
    if (!wal.ok() && !absl::IsUnavailable(wal.status())) return wal.status();
    if (wal.ok()) {
      row = wal->Step();
      if (row.ok() && *row) mode = wal->ColumnText(0);
      if (row.ok() || !absl::IsUnavailable(row.status())) break;
    } else {
      row = wal.status();
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  if (!row.ok()) return row.status();
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": the database cannot use WAL mode"));
  }
  absl::Status s = db->Execute(
      "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
  if (!s.ok()) return s;
  s = db->Migrate(migrations);
  if (!s.ok()) return s;
  return db;
}

SqliteDatabase::~SqliteDatabase() { sqlite3_close_v2(db_); }

absl::StatusOr<SqliteStatement> SqliteDatabase::Prepare(absl::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  SqliteStatement statement(db_, stmt);
  // SQLite treats `$N` as a named parameter and gives it the next free index,
  // so `$2 ... $1` would silently bind swapped values.
  for (int i = 1; i <= sqlite3_bind_parameter_count(stmt); ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (name == nullptr || name[0] != '$') continue;
    int number = 0;
    if (!absl::SimpleAtoi(name + 1, &number)) continue;
    if (number != i) {
      return absl::InvalidArgumentError(absl::StrCat(
          sql, ": parameter ", name, " would bind at index ", i,
          "; SQLite numbers $N by first appearance, so $1, $2, ... must "
          "first appear in ascending order without gaps"));
    }
  }
  return statement;
}

absl::StatusOr<std::unique_ptr<SqlStatement>> SqliteDatabase::PrepareStatement(
    absl::string_view sql) {
  absl::StatusOr<SqliteStatement> statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  return std::make_unique<SqliteStatement>(*std::move(statement));
}

absl::StatusOr<std::vector<SqliteStatement>> SqliteDatabase::PrepareAll(
    const std::vector<std::string>& sql) {
  std::vector<SqliteStatement> prepared;
  prepared.reserve(sql.size());
  for (const std::string& text : sql) {
    absl::StatusOr<SqliteStatement> statement = Prepare(text);
    if (!statement.ok()) return statement.status();
    prepared.push_back(*std::move(statement));
  }
  return prepared;
}

absl::Status SqliteDatabase::Execute(const std::string& sql) {
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, sql);
  return absl::OkStatus();
}

absl::Status SqliteDatabase::Transaction(
    const std::function<absl::Status()>& body) {
  absl::Status s = Execute("BEGIN IMMEDIATE");
  if (!s.ok()) return s;
  s = body();
  if (s.ok()) s = Execute("COMMIT");
  if (!s.ok()) {
    // Keeps the connection usable; the body's error is the one to report.
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return s;
}

int64_t SqliteDatabase::LastInsertRowId() const {
  return sqlite3_last_insert_rowid(db_);
}

int SqliteDatabase::ChangedRows() const { return sqlite3_changes(db_); }

absl::Status SqliteDatabase::Migrate(
    const std::vector<std::string>& migrations) {
  // Another replica may migrate at the same moment: read the version inside
  // the write transaction.
  return Transaction([&]() -> absl::Status {
    absl::StatusOr<SqliteStatement> version = Prepare("PRAGMA user_version");
    if (!version.ok()) return version.status();
    absl::StatusOr<bool> row = version->Step();
    if (!row.ok()) return row.status();
    int64_t current = version->ColumnInt64(0);
    version->Reset();
    if (current > static_cast<int64_t>(migrations.size())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database schema is version ", current,
          ", newer than this binary knows (", migrations.size(), ")"));
    }
    for (size_t i = current; i < migrations.size(); ++i) {
      absl::Status s = Execute(migrations[i]);
      if (!s.ok()) return s;
    }
    return Execute(absl::StrCat("PRAGMA user_version=", migrations.size()));
  });
}

}  // namespace stubmesh::storage
