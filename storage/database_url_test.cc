#include "storage/database_url.h"

#include <string>

#include "gtest/gtest.h"
#include "storage/fresh_db_path.h"

namespace stubmesh::storage {
namespace {

TEST(ParseDatabaseUrlTest, SqliteForms) {
  struct Case {
    const char* url;
    const char* path;
  };
  for (const Case& c : {
           Case{"sqlite:///var/lib/users.db", "/var/lib/users.db"},
           Case{"sqlite:users.db", "users.db"},
           Case{"sqlite:/abs.db", "/abs.db"},
           Case{"SQLite:data/x.db", "data/x.db"},
           Case{"users.db", "users.db"},
           Case{"/tmp/orders.db", "/tmp/orders.db"},
           Case{"./odd:name.db", "./odd:name.db"},
           Case{"c:notascheme.db", "c:notascheme.db"},
       }) {
    absl::StatusOr<DatabaseUrl> parsed = ParseDatabaseUrl(c.url);
    ASSERT_TRUE(parsed.ok()) << c.url << ": " << parsed.status();
    EXPECT_EQ(parsed->dialect, SqlDialect::kSqlite) << c.url;
    EXPECT_EQ(parsed->sqlite_path, c.path) << c.url;
  }
}

TEST(ParseDatabaseUrlTest, PostgresqlUrlsGoToLibpqAsTheyAre) {
  for (const char* url : {
           "postgresql://app@127.0.0.1:5432/app",
           "postgres://app:secret@db.example:6543/orders?sslmode=disable",
           "postgresql://app@/app?host=/run/postgresql",
           "postgresql:///app",
       }) {
    absl::StatusOr<DatabaseUrl> parsed = ParseDatabaseUrl(url);
    ASSERT_TRUE(parsed.ok()) << url << ": " << parsed.status();
    EXPECT_EQ(parsed->dialect, SqlDialect::kPostgresql) << url;
    EXPECT_EQ(parsed->postgresql_conninfo, url);
  }
}

TEST(ParseDatabaseUrlTest, BadUrlsAreInvalidArgumentNamingTheProblem) {
  struct Case {
    const char* url;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"", "empty"},
           Case{"   ", "empty"},
           Case{"sqlite:", "path is empty"},
           Case{"sqlite://", "path is empty"},
           Case{"sqlite://host/x.db", "no host ('host')"},
           Case{"sqlite:///x.db?mode=ro", "no query"},
           Case{"mysql://u@h/db", "unsupported scheme 'mysql'"},
           Case{"postgresql:app", "want postgresql://"},
           Case{"postgresql://u@h/db?no_such_option=1", "no_such_option"},
           Case{"postgresql://[::1/db", "postgresql://[::1/db"},
       }) {
    absl::StatusOr<DatabaseUrl> parsed = ParseDatabaseUrl(c.url);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.url;
    EXPECT_NE(parsed.status().message().find(c.mentions), std::string::npos)
        << c.url << ": " << parsed.status();
  }
}

TEST(OpenDatabaseTest, OpensSqliteFromAUrlOrABarePath) {
  SchemaMigrations schema{"t", {"CREATE TABLE t (x INTEGER)"}, {}};
  std::string path = FreshDbPath("url.db");
  {
    absl::StatusOr<std::unique_ptr<SqlDatabase>> db =
        OpenDatabase("sqlite://" + path, schema);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_EQ((*db)->dialect(), SqlDialect::kSqlite);
    ASSERT_TRUE((*db)->Execute("INSERT INTO t VALUES (1)").ok());
  }
  absl::StatusOr<std::unique_ptr<SqlDatabase>> db = OpenDatabase(path, schema);
  ASSERT_TRUE(db.ok()) << db.status();
  auto count = (*db)->PrepareStatement("SELECT COUNT(*) FROM t");
  ASSERT_TRUE(count.ok());
  ASSERT_TRUE(*(*count)->Step());
  EXPECT_EQ((*count)->ColumnInt64(0), 1);
}

TEST(OpenDatabaseTest, BadUrlIsInvalidArgumentAndNoServerIsUnavailable) {
  SchemaMigrations schema{"t", {}, {}};
  EXPECT_EQ(OpenDatabase("redis://x", schema).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A socket dir where no server listens.
  std::string dir = FreshDbPath("no-server");
  EXPECT_EQ(
      OpenDatabase("postgresql://u@/db?host=" + dir, schema).status().code(),
      absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace stubmesh::storage
