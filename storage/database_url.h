#ifndef STUBMESH_STORAGE_DATABASE_URL_H_
#define STUBMESH_STORAGE_DATABASE_URL_H_

// Chooses the storage backend from a URL (a service's --db flag):
//
//   sqlite:///var/lib/users.db      SQLite, absolute path
//   sqlite:users.db                 SQLite, path relative to the cwd
//   users.db, /var/lib/users.db     SQLite: a bare path (what --db=FILE
//                                   always meant)
//   postgresql://user@host:5432/db  PostgreSQL (also postgres://): any URI
//   postgresql:///db?host=/run/postgresql   libpq accepts, passed to it as is
//
// SQLite paths are taken literally (no percent-decoding); a host, query or
// fragment in a sqlite: URL is refused. A value with another `scheme://` is
// refused; anything else without "://" is a file path.
//
// Thread-safety: the functions are thread-safe; the database returned is not
// (see sql_database.h).
//
// Example:
//   absl::StatusOr<std::unique_ptr<SqlDatabase>> db =
//       OpenDatabase(absl::GetFlag(FLAGS_db), kUserSchema);
//   if (!db.ok()) return db.status();  // INVALID_ARGUMENT names the problem

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "storage/sql_database.h"

namespace stubmesh::storage {

struct DatabaseUrl {
  SqlDialect dialect = SqlDialect::kSqlite;
  // kSqlite: the file.
  std::string sqlite_path;
  // kPostgresql: the URL, checked by libpq's parser, for PQconnectdb.
  std::string postgresql_conninfo;
};

// INVALID_ARGUMENT, naming the problem, for a URL that is not one of the
// forms above.
absl::StatusOr<DatabaseUrl> ParseDatabaseUrl(absl::string_view url);

// Parses `url`, connects (or opens the file) and applies the migrations of
// `schema` for that backend.
absl::StatusOr<std::unique_ptr<SqlDatabase>> OpenDatabase(
    absl::string_view url, const SchemaMigrations& schema);

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_DATABASE_URL_H_
