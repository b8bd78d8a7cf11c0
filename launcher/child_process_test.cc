#include "launcher/child_process.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::launcher {
namespace {

using ::testing::HasSubstr;

std::string TempLog(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(dir ? dir : "/tmp", "/", name, ".log");
  unlink(path.c_str());
  return path;
}

std::unique_ptr<ChildProcess> Shell(const std::string& script,
                                    const std::string& log) {
  absl::StatusOr<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Spawn({"/bin/sh", "-c", script}, log);
  EXPECT_TRUE(child.ok()) << child.status();
  return child.ok() ? *std::move(child) : nullptr;
}

// Reaps `child` once it exits, polling for at most 10s.
bool AwaitExit(ChildProcess& child) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!child.TryReap()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(ChildProcessTest, ReadsTheListeningAndAdminLines) {
  const std::string log = TempLog("listening");
  std::unique_ptr<ChildProcess> child = Shell(
      "echo starting; echo oops >&2; echo 'svc admin on 127.0.0.1:9001'; "
      "echo 'svc listening on 127.0.0.1:9000'; exec sleep 30",
      log);
  ASSERT_NE(child, nullptr);
  absl::StatusOr<ChildProcess::Endpoints> up =
      child->AwaitListening(absl::Now() + absl::Seconds(10), -1);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->address, "127.0.0.1:9000");
  EXPECT_EQ(up->admin_address, "127.0.0.1:9001");
  // A group of its own: Ctrl-C at a terminal reaches only the launcher.
  EXPECT_EQ(getpgid(child->pid()), child->pid());

  child->Signal(SIGTERM);
  ASSERT_TRUE(AwaitExit(*child));
  EXPECT_TRUE(child->KilledBy(SIGTERM));
  EXPECT_FALSE(child->ExitedCleanly());
  EXPECT_THAT(child->DescribeExit(), HasSubstr("killed by signal 15"));

  const std::string text = ReadTail(log, 10000);
  EXPECT_THAT(text, HasSubstr("starting\n"));
  EXPECT_THAT(text, HasSubstr("oops\n"));
  EXPECT_THAT(text, HasSubstr("svc listening on 127.0.0.1:9000\n"));
}

TEST(ChildProcessTest, KeepsCopyingStdoutAfterTheListeningLine) {
  const std::string log = TempLog("pump");
  std::unique_ptr<ChildProcess> child = Shell(
      "echo 'svc listening on [::1]:9000'; read line; echo later; exit 0", log);
  ASSERT_NE(child, nullptr);
  absl::StatusOr<ChildProcess::Endpoints> up =
      child->AwaitListening(absl::Now() + absl::Seconds(10), -1);
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->address, "[::1]:9000");
  EXPECT_EQ(up->admin_address, "");
  // stdin is /dev/null: `read` returns at once, and the shell goes on.
  ASSERT_TRUE(AwaitExit(*child));
  child->PumpStdout();
  EXPECT_EQ(child->stdout_fd(), -1);
  EXPECT_TRUE(child->ExitedCleanly());
  EXPECT_EQ(child->DescribeExit(), "exited with code 0");
  EXPECT_THAT(ReadTail(log, 10000), HasSubstr("later\n"));
}

TEST(ChildProcessTest, ExitBeforeListeningIsFailedPrecondition) {
  std::unique_ptr<ChildProcess> child =
      Shell("echo 'bad flag' >&2; exit 3", TempLog("early_exit"));
  ASSERT_NE(child, nullptr);
  absl::StatusOr<ChildProcess::Endpoints> up =
      child->AwaitListening(absl::Now() + absl::Seconds(10), -1);
  EXPECT_EQ(up.status().code(), absl::StatusCode::kFailedPrecondition);
  child->KillAndReap();
  EXPECT_EQ(child->DescribeExit(), "exited with code 3");
}

TEST(ChildProcessTest, SilentChildTimesOut) {
  std::unique_ptr<ChildProcess> child =
      Shell("exec sleep 30", TempLog("silent"));
  ASSERT_NE(child, nullptr);
  const absl::Time start = absl::Now();
  absl::StatusOr<ChildProcess::Endpoints> up =
      child->AwaitListening(start + absl::Milliseconds(200), -1);
  EXPECT_EQ(up.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  child->KillAndReap();
  EXPECT_TRUE(child->KilledBy(SIGKILL));
}

TEST(ChildProcessTest, InterruptFdCancelsTheWait) {
  std::unique_ptr<ChildProcess> child =
      Shell("exec sleep 30", TempLog("interrupted"));
  ASSERT_NE(child, nullptr);
  int interrupt[2];
  ASSERT_EQ(pipe(interrupt), 0);
  ASSERT_EQ(write(interrupt[1], "x", 1), 1);
  absl::StatusOr<ChildProcess::Endpoints> up =
      child->AwaitListening(absl::Now() + absl::Seconds(10), interrupt[0]);
  EXPECT_EQ(up.status().code(), absl::StatusCode::kCancelled);
  close(interrupt[0]);
  close(interrupt[1]);
}

TEST(ChildProcessTest, DestructorKillsTheChild) {
  pid_t pid;
  {
    std::unique_ptr<ChildProcess> child =
        Shell("exec sleep 30", TempLog("destructor"));
    ASSERT_NE(child, nullptr);
    pid = child->pid();
  }
  EXPECT_EQ(kill(pid, 0), -1);  // Reaped: the pid is gone.
}

TEST(ChildProcessTest, MissingBinaryIsNotFound) {
  EXPECT_EQ(ChildProcess::Spawn({"/nonexistent/binary"}, TempLog("missing"))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace stubmesh::launcher
