#include "storage/postgres_database.h"

#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "postgresql/libpq-fe.h"

namespace stubmesh::storage {
namespace {

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

// A stable 64-bit key for pg_advisory_xact_lock (FNV-1a): the same name
// gives the same lock in every process and binary version.
int64_t AdvisoryLockKey(absl::string_view name) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : absl::StrCat("stubmesh:", name)) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return static_cast<int64_t>(hash);
}

// Taken by every migration, whatever the schema: the bookkeeping table is
// shared.
const int64_t kMigrationLockKey = AdvisoryLockKey("schema_migrations");

// Long SQL (migrations) would drown the server's message.
absl::string_view Abbreviated(absl::string_view sql) {
  sql = absl::StripAsciiWhitespace(sql);
  return sql.size() <= 200 ? sql : sql.substr(0, 200);
}

absl::StatusCode CodeForSqlState(absl::string_view state) {
  if (absl::StartsWith(state, "23")) return absl::StatusCode::kAlreadyExists;
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (absl::StartsWith(state, "08") || absl::StartsWith(state, "53") ||
      state == "57P01" || state == "57P02" || state == "57P03" ||
      state == "55P03" || state == "57014") {
    return absl::StatusCode::kUnavailable;
  }
  if (state == "XX001" || state == "XX002") return absl::StatusCode::kDataLoss;
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::Status PostgresError(const pg_conn* conn, const pg_result* result,
                           absl::string_view what) {
  const char* state = result == nullptr
                          ? nullptr
                          : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* server =
      result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn);
  if (server == nullptr || *server == '\0') server = PQerrorMessage(conn);
  std::string message =
      absl::StrCat(Abbreviated(what), ": ", absl::StripAsciiWhitespace(server));
  if (state != nullptr) {
    absl::StrAppend(&message, " (SQLSTATE ", state, ")");
    return absl::Status(CodeForSqlState(state), message);
  }
  // No SQLSTATE: the error was on the client side, usually a lost server.
  if (conn == nullptr || PQstatus(conn) == CONNECTION_BAD) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

PostgresStatement::PostgresStatement(PostgresDatabase* db, std::string sql,
                                     std::string name)
    : db_(db), sql_(std::move(sql)), name_(std::move(name)) {}

PostgresStatement::~PostgresStatement() {
  ClearResult();
  if (prepared_generation_ == db_->generation_) {
    db_->orphaned_statements_.push_back(name_);
  }
}

void PostgresStatement::ClearResult() {
  PQclear(result_);
  result_ = nullptr;
  row_ = -1;
}

void PostgresStatement::Reset() {
  ClearResult();
  executed_ = false;
  params_.assign(param_count_, std::nullopt);
  bind_error_ = absl::OkStatus();
}

void PostgresStatement::Bind(int index, std::optional<std::string> value) {
  if (index < 1 || index > param_count_) {
    bind_error_ = absl::InvalidArgumentError(
        absl::StrCat(Abbreviated(sql_), ": parameter index ", index,
                     " is outside 1..", param_count_));
    return;
  }
  params_[index - 1] = std::move(value);
}

void PostgresStatement::BindInt64(int index, int64_t value) {
  Bind(index, absl::StrCat(value));
}

void PostgresStatement::BindText(int index, absl::string_view value) {
  Bind(index, std::string(value));
}

void PostgresStatement::BindNull(int index) { Bind(index, std::nullopt); }

absl::StatusOr<bool> PostgresStatement::Step() {
  if (!executed_) {
    if (!bind_error_.ok()) return bind_error_;
    absl::Status s = db_->EnsureConnected();
    if (!s.ok()) return s;
    s = db_->PrepareOnServer(*this);
    if (!s.ok()) return s;
    std::vector<const char*> values;
    values.reserve(params_.size());
    for (const std::optional<std::string>& param : params_) {
      values.push_back(param.has_value() ? param->c_str() : nullptr);
    }
    Result result(PQexecPrepared(db_->conn_, name_.c_str(),
                                 static_cast<int>(values.size()), values.data(),
                                 nullptr, nullptr,
                                 /*resultFormat=*/0));
    s = db_->Check(result.get(), sql_);
    if (!s.ok()) return s;
    result_ = result.release();
    executed_ = true;
    row_ = -1;
  }
  if (result_ == nullptr) return false;
  ++row_;
  return row_ < PQntuples(result_);
}

absl::Status PostgresStatement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

int64_t PostgresStatement::ColumnInt64(int column) const {
  if (ColumnIsNull(column)) return 0;
  int64_t value = 0;
  if (!absl::SimpleAtoi(PQgetvalue(result_, row_, column), &value)) return 0;
  return value;
}

std::string PostgresStatement::ColumnText(int column) const {
  if (ColumnIsNull(column)) return "";
  return std::string(PQgetvalue(result_, row_, column),
                     PQgetlength(result_, row_, column));
}

bool PostgresStatement::ColumnIsNull(int column) const {
  if (result_ == nullptr || row_ < 0 || row_ >= PQntuples(result_) ||
      column < 0 || column >= PQnfields(result_)) {
    return true;
  }
  return PQgetisnull(result_, row_, column) != 0;
}

PostgresDatabase::PostgresDatabase(pg_conn* conn, std::string schema_name)
    : conn_(conn),
      schema_name_(std::move(schema_name)),
      write_lock_key_(AdvisoryLockKey(schema_name_)) {}

PostgresDatabase::~PostgresDatabase() { PQfinish(conn_); }

absl::StatusOr<std::unique_ptr<PostgresDatabase>> PostgresDatabase::Create(
    const std::string& conninfo, const std::string& schema_name,
    const std::vector<std::string>& migrations) {
  char* parse_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (options == nullptr) {
    std::string message =
        parse_error != nullptr
            ? std::string(absl::StripAsciiWhitespace(parse_error))
            : "out of memory";
    PQfreemem(parse_error);
    return absl::InvalidArgumentError(
        absl::StrCat("PostgreSQL connection string: ", message));
  }
  PQconninfoFree(options);
  if (schema_name.empty()) {
    return absl::InvalidArgumentError("the schema name must not be empty");
  }
  std::unique_ptr<PostgresDatabase> db(
      new PostgresDatabase(PQconnectdb(conninfo.c_str()), schema_name));
  if (db->conn_ == nullptr || PQstatus(db->conn_) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat(
        "connecting to PostgreSQL: ",
        db->conn_ == nullptr
            ? "out of memory"
            : absl::StripAsciiWhitespace(PQerrorMessage(db->conn_))));
  }
  absl::Status s = db->ConfigureSession();
  if (!s.ok()) return s;
  s = db->Migrate(migrations);
  if (!s.ok()) return s;
  return db;
}

absl::Status PostgresDatabase::ConfigureSession() {
  // Bounded waits for locks, as SQLite's busy timeout; no NOTICE chatter
  // (CREATE ... IF NOT EXISTS) on stderr.
  Result result(PQexec(conn_,
                       "SET lock_timeout = '5s'; "
                       "SET client_min_messages = warning"));
  return Check(result.get(), "configuring the session");
}

absl::Status PostgresDatabase::EnsureConnected() {
  if (PQstatus(conn_) != CONNECTION_OK) {
    if (in_transaction_) {
      return absl::UnavailableError(
          "the PostgreSQL connection was lost inside a transaction");
    }
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("reconnecting to PostgreSQL: ",
                       absl::StripAsciiWhitespace(PQerrorMessage(conn_))));
    }
    // The server forgot the prepared statements with the old session.
    ++generation_;
    orphaned_statements_.clear();
    return ConfigureSession();
  }
  // Statements destroyed inside a transaction are deallocated once idle,
  // so a failing DEALLOCATE can never abort a caller's transaction.
  if (!orphaned_statements_.empty() &&
      PQtransactionStatus(conn_) == PQTRANS_IDLE) {
    std::string sql;
    for (const std::string& name : orphaned_statements_) {
      absl::StrAppend(&sql, "DEALLOCATE ", name, ";");
    }
    orphaned_statements_.clear();
    Result ignored(PQexec(conn_, sql.c_str()));
  }
  return absl::OkStatus();
}

absl::Status PostgresDatabase::PrepareOnServer(PostgresStatement& statement) {
  if (statement.prepared_generation_ == generation_) return absl::OkStatus();
  Result prepared(PQprepare(conn_, statement.name_.c_str(),
                            statement.sql_.c_str(), 0, nullptr));
  absl::Status s = Check(prepared.get(), statement.sql_);
  if (!s.ok()) return s;
  Result described(PQdescribePrepared(conn_, statement.name_.c_str()));
  s = Check(described.get(), statement.sql_);
  if (!s.ok()) return s;
  statement.prepared_generation_ = generation_;
  if (statement.param_count_ != PQnparams(described.get())) {
    statement.param_count_ = PQnparams(described.get());
    statement.params_.resize(statement.param_count_);
  }
  return absl::OkStatus();
}

absl::Status PostgresDatabase::Check(pg_result* result,
                                     absl::string_view what) {
  ExecStatusType status =
      result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    // SQLite's changes() counts only INSERT/UPDATE/DELETE; so does this.
    const char* tag = PQcmdStatus(result);
    if (absl::StartsWith(tag, "INSERT") || absl::StartsWith(tag, "UPDATE") ||
        absl::StartsWith(tag, "DELETE") || absl::StartsWith(tag, "MERGE")) {
      int rows = 0;
      if (absl::SimpleAtoi(PQcmdTuples(result), &rows)) changed_rows_ = rows;
    }
    return absl::OkStatus();
  }
  if (in_transaction_) statement_failed_ = true;
  return PostgresError(conn_, result, what);
}

absl::StatusOr<std::unique_ptr<PostgresStatement>> PostgresDatabase::Prepare(
    absl::string_view sql) {
  absl::Status s = EnsureConnected();
  if (!s.ok()) return s;
  std::unique_ptr<PostgresStatement> statement(new PostgresStatement(
      this, std::string(sql), absl::StrCat("stubmesh_", ++next_statement_id_)));
  s = PrepareOnServer(*statement);
  if (!s.ok()) return s;
  statement->Reset();
  return statement;
}

absl::StatusOr<std::unique_ptr<SqlStatement>>
PostgresDatabase::PrepareStatement(absl::string_view sql) {
  absl::StatusOr<std::unique_ptr<PostgresStatement>> statement = Prepare(sql);
  if (!statement.ok()) return statement.status();
  return std::unique_ptr<SqlStatement>(*std::move(statement));
}

absl::Status PostgresDatabase::Execute(const std::string& sql) {
  absl::Status s = EnsureConnected();
  if (!s.ok()) return s;
  Result result(PQexec(conn_, sql.c_str()));
  return Check(result.get(), sql);
}

absl::Status PostgresDatabase::Transaction(
    const std::function<absl::Status()>& body) {
  if (in_transaction_) {
    return absl::FailedPreconditionError("Transaction() is not reentrant");
  }
  absl::Status s = EnsureConnected();
  if (!s.ok()) return s;
  Result begun(
      PQexec(conn_, absl::StrCat("BEGIN ISOLATION LEVEL READ COMMITTED; "
                                 "SELECT pg_advisory_xact_lock(",
                                 write_lock_key_, ")")
                        .c_str()));
  s = Check(begun.get(),
            absl::StrCat("starting a transaction on schema ", schema_name_));
  if (s.ok()) {
    in_transaction_ = true;
    statement_failed_ = false;
    s = body();
    if (s.ok() && statement_failed_) {
      s = absl::InternalError(
          "a statement failed inside Transaction() but the body returned OK; "
          "PostgreSQL aborted the transaction, nothing was committed");
    }
    if (s.ok()) {
      Result committed(PQexec(conn_, "COMMIT"));
      s = Check(committed.get(), "COMMIT");
      // COMMIT of an aborted transaction "succeeds" as a ROLLBACK.
      if (s.ok() && std::strcmp(PQcmdStatus(committed.get()), "COMMIT") != 0) {
        s = absl::InternalError("COMMIT: the transaction was rolled back");
      }
    }
    in_transaction_ = false;
    statement_failed_ = false;
  }
  PGTransactionStatusType state = PQtransactionStatus(conn_);
  if (state == PQTRANS_INTRANS || state == PQTRANS_INERROR) {
    // Keeps the connection usable; the body's error is the one to report.
    Result ignored(PQexec(conn_, "ROLLBACK"));
  }
  return s;
}

absl::Status PostgresDatabase::Migrate(
    const std::vector<std::string>& migrations) {
  return Transaction([&]() -> absl::Status {
    absl::Status s = Execute(absl::StrCat(
        "SELECT pg_advisory_xact_lock(", kMigrationLockKey,
        "); CREATE TABLE IF NOT EXISTS stubmesh_schema_migrations ("
        "schema_name TEXT NOT NULL, version INTEGER NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
        "PRIMARY KEY (schema_name, version))"));
    if (!s.ok()) return s;
    const char* name = schema_name_.c_str();
    Result current(PQexecParams(
        conn_,
        "SELECT COALESCE(MAX(version), 0) FROM stubmesh_schema_migrations "
        "WHERE schema_name = $1",
        1, nullptr, &name, nullptr, nullptr, 0));
    s = Check(current.get(), "reading the schema version");
    if (!s.ok()) return s;
    int64_t version = 0;
    if (!absl::SimpleAtoi(PQgetvalue(current.get(), 0, 0), &version)) {
      return absl::InternalError("unreadable schema version");
    }
    if (version > static_cast<int64_t>(migrations.size())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database schema ", schema_name_, " is version ", version,
          ", newer than this binary knows (", migrations.size(), ")"));
    }
    for (size_t i = version; i < migrations.size(); ++i) {
      s = Execute(migrations[i]);
      if (!s.ok()) return s;
      std::string next = absl::StrCat(i + 1);
      const char* values[] = {name, next.c_str()};
      Result recorded(PQexecParams(
          conn_,
          "INSERT INTO stubmesh_schema_migrations (schema_name, version) "
          "VALUES ($1, $2)",
          2, nullptr, values, nullptr, nullptr, 0));
      s = Check(recorded.get(), "recording a migration");
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
}

}  // namespace stubmesh::storage
