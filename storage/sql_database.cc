#include "storage/sql_database.h"

#include <utility>

namespace stubmesh::storage {

absl::string_view SqlDialectName(SqlDialect dialect) {
  switch (dialect) {
    case SqlDialect::kSqlite:
      return "sqlite";
    case SqlDialect::kPostgresql:
      return "postgresql";
  }
  return "unknown";
}

absl::StatusOr<std::vector<std::unique_ptr<SqlStatement>>>
SqlDatabase::PrepareStatements(const std::vector<std::string>& sql) {
  std::vector<std::unique_ptr<SqlStatement>> prepared;
  prepared.reserve(sql.size());
  for (const std::string& text : sql) {
    absl::StatusOr<std::unique_ptr<SqlStatement>> statement =
        PrepareStatement(text);
    if (!statement.ok()) return statement.status();
    prepared.push_back(*std::move(statement));
  }
  return prepared;
}

}  // namespace stubmesh::storage
