#ifndef STUBMESH_STORAGE_BACKEND_TEST_DATABASES_H_
#define STUBMESH_STORAGE_BACKEND_TEST_DATABASES_H_

// For store tests that run the same cases against both backends: a fresh,
// empty database URL per test, on a SQLite file or on one real PostgreSQL
// server (PostgresTestServer) that the test binary starts the first time it
// is asked for one and stops at exit.
//
// Thread-safety: call from the test's main thread (the server is tied to
// the thread that starts it).
//
// Example:
//   class UserStoreTest : public ::testing::TestWithParam<SqlDialect> {...};
//   absl::StatusOr<std::string> url = FreshDatabaseUrlForThisTest(GetParam());
//   INSTANTIATE_TEST_SUITE_P(Backends, UserStoreTest, AllBackends(),
//                            BackendName);

#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "storage/sql_database.h"

namespace stubmesh::storage {

// A URL of a database no other test uses; `hint` becomes part of its name.
absl::StatusOr<std::string> FreshDatabaseUrl(SqlDialect dialect,
                                             const std::string& hint);

// FreshDatabaseUrl named after the running test.
absl::StatusOr<std::string> FreshDatabaseUrlForThisTest(SqlDialect dialect);

inline auto AllBackends() {
  return ::testing::Values(SqlDialect::kSqlite, SqlDialect::kPostgresql);
}

inline std::string BackendName(
    const ::testing::TestParamInfo<SqlDialect>& info) {
  return std::string(SqlDialectName(info.param));
}

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_BACKEND_TEST_DATABASES_H_
