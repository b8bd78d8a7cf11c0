#include "storage/sqlite_database.h"

#include <cstdlib>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/fresh_db_path.h"

namespace stubmesh::storage {
namespace {

const std::vector<std::string> kMigrations = {
    "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)",
    "ALTER TABLE t ADD COLUMN n INTEGER NOT NULL DEFAULT 0",
};

absl::StatusOr<int64_t> CountRows(SqliteDatabase& db) {
  absl::StatusOr<SqliteStatement> count = db.Prepare("SELECT COUNT(*) FROM t");
  if (!count.ok()) return count.status();
  absl::StatusOr<bool> row = count->Step();
  if (!row.ok()) return row.status();
  return count->ColumnInt64(0);
}

TEST(SqliteDatabaseTest, MigratesOnceAndKeepsRowsAcrossReopen) {
  std::string path = FreshDbPath("migrate.db");
  {
    auto db = SqliteDatabase::Create(path, kMigrations);
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->Execute("INSERT INTO t (v, n) VALUES ('a', 1)").ok());
  }
  // Reopening must not rerun migration 0 (it would fail: table exists).
  auto db = SqliteDatabase::Create(path, kMigrations);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(*CountRows(**db), 1);
}

TEST(SqliteDatabaseTest, UsesWalAndFullSync) {
  auto db = SqliteDatabase::Create(FreshDbPath("pragmas.db"), kMigrations);
  ASSERT_TRUE(db.ok()) << db.status();
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  auto sync = (*db)->Prepare("PRAGMA synchronous");
  ASSERT_TRUE(*sync->Step());
  EXPECT_EQ(sync->ColumnInt64(0), 2);  // FULL
}

TEST(SqliteDatabaseTest, FailedTransactionRollsBack) {
  auto db = SqliteDatabase::Create(FreshDbPath("rollback.db"), kMigrations);
  ASSERT_TRUE(db.ok()) << db.status();
  absl::Status s = (*db)->Transaction([&]() -> absl::Status {
    absl::Status inner = (*db)->Execute("INSERT INTO t (v) VALUES ('x')");
    if (!inner.ok()) return inner;
    return absl::AbortedError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*CountRows(**db), 0);
  // The connection is usable after the rollback.
  EXPECT_TRUE((*db)->Transaction([&] {
    return (*db)->Execute("INSERT INTO t (v) VALUES ('y')");
  }).ok());
  EXPECT_EQ(*CountRows(**db), 1);
}

TEST(SqliteDatabaseTest, ConstraintViolationIsAlreadyExists) {
  auto db = SqliteDatabase::Create(FreshDbPath("unique.db"), kMigrations);
  ASSERT_TRUE(db.ok()) << db.status();
  auto insert = (*db)->Prepare("INSERT INTO t (v) VALUES (?)");
  ASSERT_TRUE(insert.ok());
  insert->BindText(1, "same");
  ASSERT_TRUE(insert->Run().ok());
  insert->Reset();
  insert->BindText(1, "same");
  EXPECT_EQ(insert->Run().code(), absl::StatusCode::kAlreadyExists);
}

TEST(SqliteDatabaseTest, NewerSchemaThanTheBinaryIsRefused) {
  std::string path = FreshDbPath("newer.db");
  ASSERT_TRUE(SqliteDatabase::Create(path, kMigrations).ok());
  auto old_binary = SqliteDatabase::Create(path, {kMigrations[0]});
  EXPECT_EQ(old_binary.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SqliteDatabaseTest, ReplicasOpeningOneNewFileTogetherAllSucceed) {
  // Processes, as replicas are: SQLite's file locks are per process.
  for (int round = 0; round < 5; ++round) {
    std::string path = FreshDbPath("together.db");
    std::vector<pid_t> children;
    for (int i = 0; i < 6; ++i) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        auto db = SqliteDatabase::Create(path, kMigrations);
        if (!db.ok()) fprintf(stderr, "%s\n", db.status().ToString().c_str());
        _exit(db.ok() ? 0 : 1);
      }
      children.push_back(pid);
    }
    for (pid_t pid : children) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "round " << round;
    }
  }
}

TEST(SqliteDatabaseTest, DollarParametersBindByTheirNumber) {
  auto db = SqliteDatabase::Create(FreshDbPath("dollar.db"), kMigrations);
  ASSERT_TRUE(db.ok()) << db.status();
  // SQLite numbers $N by first appearance: in ascending order (and reused
  // later) the numbers are the bind indexes.
  auto select = (*db)->Prepare("SELECT $1, $2, $1 || $2");
  ASSERT_TRUE(select.ok()) << select.status();
  select->BindText(1, "a");
  select->BindText(2, "b");
  ASSERT_TRUE(*select->Step());
  EXPECT_EQ(select->ColumnText(0), "a");
  EXPECT_EQ(select->ColumnText(1), "b");
  EXPECT_EQ(select->ColumnText(2), "ab");
  // Otherwise the indexes would not match the numbers: refused.
  EXPECT_EQ((*db)->Prepare("SELECT $2, $1").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*db)->Prepare("SELECT $1, $3").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SqliteDatabaseTest, UnopenablePathIsAnError) {
  auto db = SqliteDatabase::Create("/nonexistent-dir/x.db", kMigrations);
  EXPECT_FALSE(db.ok());
}

}  // namespace
}  // namespace stubmesh::storage
