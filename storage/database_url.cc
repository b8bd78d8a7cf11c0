#include "storage/database_url.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "postgresql/libpq-fe.h"
#include "storage/postgres_database.h"
#include "storage/sqlite_database.h"

namespace stubmesh::storage {
namespace {

// RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
bool IsScheme(absl::string_view s) {
  if (s.empty() || !absl::ascii_isalpha(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

absl::StatusOr<DatabaseUrl> ParseSqlite(absl::string_view url,
                                        absl::string_view rest) {
  absl::string_view path = rest;
  if (absl::ConsumePrefix(&path, "//")) {
    size_t slash = path.find('/');
    absl::string_view host = path.substr(0, slash);
    if (!host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "database URL '", url, "': a sqlite URL has no host ('", host,
          "'); use sqlite:///absolute/path or sqlite:relative/path"));
    }
    if (slash == absl::string_view::npos) path = "";
  }
  if (path.find_first_of("?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "database URL '", url,
        "': a sqlite URL takes no query or fragment (\"?\" or \"#\")"));
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("database URL '", url, "': the sqlite path is empty"));
  }
  DatabaseUrl parsed;
  parsed.dialect = SqlDialect::kSqlite;
  parsed.sqlite_path = std::string(path);
  return parsed;
}

absl::StatusOr<DatabaseUrl> ParsePostgresql(absl::string_view url) {
  std::string conninfo(url);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    std::string message = error != nullptr
                              ? std::string(absl::StripAsciiWhitespace(error))
                              : "out of memory";
    PQfreemem(error);
    return absl::InvalidArgumentError(absl::StrCat("database URL: ", message));
  }
  PQconninfoFree(options);
  DatabaseUrl parsed;
  parsed.dialect = SqlDialect::kPostgresql;
  parsed.postgresql_conninfo = std::move(conninfo);
  return parsed;
}

}  // namespace

absl::StatusOr<DatabaseUrl> ParseDatabaseUrl(absl::string_view url) {
  if (absl::StripAsciiWhitespace(url).empty()) {
    return absl::InvalidArgumentError("database URL is empty");
  }
  size_t colon = url.find(':');
  if (colon != absl::string_view::npos && IsScheme(url.substr(0, colon))) {
    std::string scheme = absl::AsciiStrToLower(url.substr(0, colon));
    absl::string_view rest = url.substr(colon + 1);
    if (scheme == "sqlite") return ParseSqlite(url, rest);
    if (scheme == "postgresql" || scheme == "postgres") {
      if (!absl::StartsWith(rest, "//")) {
        return absl::InvalidArgumentError(
            absl::StrCat("database URL '", url, "': want ", scheme, "://..."));
      }
      return ParsePostgresql(url);
    }
    if (absl::StartsWith(rest, "//")) {
      return absl::InvalidArgumentError(
          absl::StrCat("database URL '", url, "': unsupported scheme '", scheme,
                       "' (want sqlite: or postgresql:)"));
    }
  }
  DatabaseUrl parsed;
  parsed.dialect = SqlDialect::kSqlite;
  parsed.sqlite_path = std::string(url);
  return parsed;
}

absl::StatusOr<std::unique_ptr<SqlDatabase>> OpenDatabase(
    absl::string_view url, const SchemaMigrations& schema) {
  absl::StatusOr<DatabaseUrl> parsed = ParseDatabaseUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->dialect == SqlDialect::kSqlite) {
    absl::StatusOr<std::unique_ptr<SqliteDatabase>> db =
        SqliteDatabase::Create(parsed->sqlite_path, schema.sqlite);
    if (!db.ok()) return db.status();
    return std::unique_ptr<SqlDatabase>(*std::move(db));
  }
  absl::StatusOr<std::unique_ptr<PostgresDatabase>> db =
      PostgresDatabase::Create(parsed->postgresql_conninfo, schema.name,
                               schema.postgresql);
  if (!db.ok()) return db.status();
  return std::unique_ptr<SqlDatabase>(*std::move(db));
}

}  // namespace stubmesh::storage
