#include "storage/postgres_test_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "postgresql/libpq-fe.h"

namespace stubmesh::storage {
namespace {

// The value of a one-row, one-column query, or the connection's error.
std::string QueryOne(const std::string& url, const char* sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string value;
  if (PQstatus(conn) != CONNECTION_OK) {
    value = absl::StrCat("connection failed: ", PQerrorMessage(conn));
  } else {
    PGresult* result = PQexec(conn, sql);
    value = PQresultStatus(result) == PGRES_TUPLES_OK
                ? PQgetvalue(result, 0, 0)
                : PQresultErrorMessage(result);
    PQclear(result);
  }
  PQfinish(conn);
  return value;
}

TEST(PostgresTestServerTest, ServesTcpAndSocketThenStopsAndCleansUp) {
  absl::StatusOr<std::unique_ptr<PostgresTestServer>> server =
      PostgresTestServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  std::string dir = (*server)->socket_dir();
  absl::StatusOr<std::string> url = (*server)->CreateDatabase("orders");
  ASSERT_TRUE(url.ok()) << url.status();
  EXPECT_EQ(*url, (*server)->TcpUrl("orders"));
  EXPECT_EQ(QueryOne(*url, "SELECT current_database()"), "orders");
  EXPECT_EQ(QueryOne((*server)->SocketUrl("orders"), "SELECT current_user"),
            "stubmesh");
  // PostgreSQL refuses root, so as root the server runs as someone else.
  struct stat proc;
  ASSERT_EQ(stat(absl::StrCat("/proc/", (*server)->pid()).c_str(), &proc), 0);
  EXPECT_NE(proc.st_uid, 0u);
  if (geteuid() != 0) {
    EXPECT_EQ(proc.st_uid, geteuid());
  }

  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_EQ(PQping(url->c_str()), PQPING_NO_RESPONSE);
  ASSERT_TRUE((*server)->Restart().ok());
  EXPECT_EQ(QueryOne(*url, "SELECT current_database()"), "orders");
  server->reset();
  EXPECT_NE(access(dir.c_str(), F_OK), 0) << dir << " was not removed";
}

}  // namespace
}  // namespace stubmesh::storage
