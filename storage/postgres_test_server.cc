#include "storage/postgres_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "postgresql/libpq-fe.h"

namespace stubmesh::storage {
namespace {

constexpr char kSuperuser[] = "stubmesh";
constexpr absl::Duration kStartupTimeout = absl::Seconds(30);
constexpr absl::Duration kShutdownTimeout = absl::Seconds(30);

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// The newest /usr/lib/postgresql/<major>/bin holding a server.
std::string FindBindir() {
  std::string configured = EnvOr("STUBMESH_POSTGRES_BINDIR", "");
  if (!configured.empty()) return configured;
  std::string best;
  int best_major = -1;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator("/usr/lib/postgresql", error)) {
    int major = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &major)) continue;
    std::string bin = (entry.path() / "bin").string();
    if (major > best_major && access((bin + "/postgres").c_str(), X_OK) == 0) {
      best = bin;
      best_major = major;
    }
  }
  return best;
}

absl::StatusOr<int> FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port < 0) return absl::InternalError("no free loopback port");
  return port;
}

// Forks and execs `argv` with stdout/stderr appended to `log_path`, in
// `cwd`, as uid/gid when they are not -1. The child only makes
// async-signal-safe calls (the test process has threads).
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const std::string& log_path, const std::string& cwd,
                            uid_t uid, gid_t gid) {
  int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(absl::StrCat("cannot open ", log_path));
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 ||
        dup2(log_fd, 2) < 0) {
      _exit(126);
    }
    if (uid != static_cast<uid_t>(-1)) {
      if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        _exit(126);
      }
    }
    // After setuid, which clears the death signal.
    prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (getppid() != parent) _exit(1);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  if (pid < 0) return absl::InternalError("fork() failed");
  return pid;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PostgresTestServer>>
PostgresTestServer::Start() {
  std::unique_ptr<PostgresTestServer> server(new PostgresTestServer());
  absl::Status s = server->Initialize();
  if (!s.ok()) return s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    server->port_ = *port;
    s = server->Launch();
    // Another process may take the port between our probe and the bind.
    if (s.ok() || !absl::StrContains(server->LogTail(), "could not bind")) {
      break;
    }
  }
  if (!s.ok()) return s;
  return server;
}

absl::Status PostgresTestServer::Initialize() {
  bindir_ = FindBindir();
  if (bindir_.empty() || access((bindir_ + "/postgres").c_str(), X_OK) != 0 ||
      access((bindir_ + "/initdb").c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
        "(tools/install-deps.sh installs Debian's postgresql; or set "
        "STUBMESH_POSTGRES_BINDIR)");
  }
  if (geteuid() == 0) {
    std::vector<std::string> candidates = {"postgres", "nobody"};
    std::string configured = EnvOr("STUBMESH_POSTGRES_USER", "");
    if (!configured.empty()) candidates = {configured};
    for (const std::string& name : candidates) {
      if (const passwd* user = getpwnam(name.c_str()); user != nullptr) {
        uid_ = user->pw_uid;
        gid_ = user->pw_gid;
        break;
      }
    }
    if (uid_ == static_cast<uid_t>(-1) || uid_ == 0) {
      return absl::FailedPreconditionError(
          "running as root, and no unprivileged user (postgres, nobody, or "
          "$STUBMESH_POSTGRES_USER) to run PostgreSQL as");
    }
  }
  std::string pattern =
      EnvOr("STUBMESH_POSTGRES_TMPDIR", "/tmp") + "/stubmesh-pg-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, " failed"));
  }
  dir_ = pattern;
  if (uid_ != static_cast<uid_t>(-1) && chown(dir_.c_str(), uid_, gid_) != 0) {
    return absl::InternalError(absl::StrCat("chown ", dir_, " failed"));
  }
  data_dir_ = dir_ + "/data";
  log_path_ = dir_ + "/server.log";
  absl::StatusOr<pid_t> initdb = Spawn(
      {bindir_ + "/initdb", "-D", data_dir_, "-U", kSuperuser, "-A", "trust",
       "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"},
      log_path_, dir_, uid_, gid_);
  if (!initdb.ok()) return initdb.status();
  int status = 0;
  if (waitpid(*initdb, &status, 0) != *initdb || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat("initdb failed (status ", status, "):\n", LogTail()));
  }
  return absl::OkStatus();
}

absl::Status PostgresTestServer::Launch() {
  absl::StatusOr<pid_t> pid =
      Spawn({bindir_ + "/postgres", "-D", data_dir_, "-k", dir_, "-p",
             absl::StrCat(port_), "-c", "listen_addresses=127.0.0.1", "-c",
             "fsync=off", "-c", "synchronous_commit=off", "-c",
             "full_page_writes=off", "-c", "shared_buffers=16MB", "-c",
             "max_connections=50"},
            log_path_, dir_, uid_, gid_);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return WaitUntilReady();
}

absl::Status PostgresTestServer::WaitUntilReady() {
  std::string conninfo =
      absl::StrCat("host=", dir_, " port=", port_, " user=", kSuperuser,
                   " dbname=postgres connect_timeout=5");
  absl::Time deadline = absl::Now() + kStartupTimeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(
          absl::StrCat("postgres exited during startup (status ", status,
                       "):\n", LogTail()));
    }
    if (PQping(conninfo.c_str()) == PQPING_OK) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("postgres did not accept connections within ",
                   absl::FormatDuration(kStartupTimeout), ":\n", LogTail()));
}

absl::Status PostgresTestServer::Stop() {
  if (pid_ < 0) return absl::OkStatus();
  pid_t pid = std::exchange(pid_, -1);
  kill(pid, SIGINT);
  absl::Time deadline = absl::Now() + kShutdownTimeout;
  while (absl::Now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return absl::DeadlineExceededError(
      "postgres did not stop on SIGINT; killed it");
}

absl::Status PostgresTestServer::Restart() {
  if (pid_ >= 0) {
    return absl::FailedPreconditionError("the server is running");
  }
  return Launch();
}

PostgresTestServer::~PostgresTestServer() {
  Stop().IgnoreError();
  if (!dir_.empty() && std::getenv("STUBMESH_KEEP_TMP") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string PostgresTestServer::TcpUrl(absl::string_view database) const {
  return absl::StrCat("postgresql://", kSuperuser, "@127.0.0.1:", port_, "/",
                      database);
}

std::string PostgresTestServer::SocketUrl(absl::string_view database) const {
  return absl::StrCat("postgresql://", kSuperuser, "@/", database,
                      "?host=", dir_, "&port=", port_);
}

absl::StatusOr<std::string> PostgresTestServer::CreateDatabase(
    absl::string_view name) {
  std::string conninfo = SocketUrl("postgres");
  PGconn* conn = PQconnectdb(conninfo.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    char* quoted = PQescapeIdentifier(conn, name.data(), name.size());
    PGresult* result =
        PQexec(conn, absl::StrCat("CREATE DATABASE ", quoted).c_str());
    if (PQresultStatus(result) != PGRES_COMMAND_OK) {
      error = PQresultErrorMessage(result);
    }
    PQclear(result);
    PQfreemem(quoted);
  }
  PQfinish(conn);
  if (!error.empty()) {
    return absl::InternalError(
        absl::StrCat("CREATE DATABASE ", name, ": ", error));
  }
  return TcpUrl(name);
}

std::string PostgresTestServer::LogTail() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  return log.size() <= 3000 ? log : log.substr(log.size() - 3000);
}

}  // namespace stubmesh::storage
