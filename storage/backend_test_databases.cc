#include "storage/backend_test_databases.h"

#include <cctype>
#include <memory>

#include "absl/strings/str_cat.h"
#include "storage/fresh_db_path.h"
#include "storage/postgres_test_server.h"

namespace stubmesh::storage {
namespace {

// Stops the server when the test binary's tests are done.
class PostgresEnvironment : public ::testing::Environment {
 public:
  void TearDown() override { server.reset(); }
  static std::unique_ptr<PostgresTestServer> server;
  static absl::Status failed;
};
std::unique_ptr<PostgresTestServer> PostgresEnvironment::server;
absl::Status PostgresEnvironment::failed;
[[maybe_unused]] ::testing::Environment* const kEnvironment =
    ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

std::string DatabaseName(const std::string& hint) {
  static int next = 0;
  std::string name = "t";
  for (char c : hint) {
    if (name.size() >= 40) break;
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '_';
  }
  return absl::StrCat(name, "_", next++);
}

}  // namespace

absl::StatusOr<std::string> FreshDatabaseUrl(SqlDialect dialect,
                                             const std::string& hint) {
  std::string name = DatabaseName(hint);
  if (dialect == SqlDialect::kSqlite) {
    return "sqlite://" + FreshDbPath(name + ".db");
  }
  if (PostgresEnvironment::server == nullptr) {
    if (!PostgresEnvironment::failed.ok()) return PostgresEnvironment::failed;
    absl::StatusOr<std::unique_ptr<PostgresTestServer>> started =
        PostgresTestServer::Start();
    if (!started.ok()) {
      PostgresEnvironment::failed = started.status();
      return started.status();
    }
    PostgresEnvironment::server = *std::move(started);
  }
  return PostgresEnvironment::server->CreateDatabase(name);
}

absl::StatusOr<std::string> FreshDatabaseUrlForThisTest(SqlDialect dialect) {
  return FreshDatabaseUrl(
      dialect, ::testing::UnitTest::GetInstance()->current_test_info()->name());
}

}  // namespace stubmesh::storage
