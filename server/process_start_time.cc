#include "server/process_start_time.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "prometheus/gauge.h"

namespace stubmesh::server {
namespace {

absl::StatusOr<std::string> ReadProcFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return absl::UnavailableError(absl::StrCat("cannot read ", path));
  return text.str();
}

}  // namespace

absl::StatusOr<absl::Time> ProcessStartTime() {
  absl::StatusOr<std::string> stat = ReadProcFile("/proc/self/stat");
  if (!stat.ok()) return stat.status();
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
  // the fields are counted after the last ')'; starttime is field 22, the
  // 20th after it.
  const size_t comm_end = stat->rfind(')');
  std::vector<absl::string_view> fields =
      comm_end == std::string::npos
          ? std::vector<absl::string_view>()
          : absl::StrSplit(absl::string_view(*stat).substr(comm_end + 1), ' ',
                           absl::SkipEmpty());
  uint64_t start_ticks = 0;
  if (fields.size() < 20 || !absl::SimpleAtoi(fields[19], &start_ticks)) {
    return absl::UnavailableError("/proc/self/stat: no starttime field");
  }
  absl::StatusOr<std::string> system = ReadProcFile("/proc/stat");
  if (!system.ok()) return system.status();
  int64_t boot_seconds = -1;
  for (absl::string_view line : absl::StrSplit(*system, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ") &&
        absl::SimpleAtoi(line, &boot_seconds)) {
      break;
    }
  }
  const long ticks_per_second = sysconf(_SC_CLK_TCK);
  if (boot_seconds < 0 || ticks_per_second <= 0) {
    return absl::UnavailableError("/proc/stat: no btime line");
  }
  return absl::FromUnixSeconds(boot_seconds) +
         absl::Seconds(static_cast<double>(start_ticks) / ticks_per_second);
}

void ExportProcessStartTime(prometheus::Registry& registry) {
  absl::StatusOr<absl::Time> start = ProcessStartTime();
  prometheus::BuildGauge()
      .Name("process_start_time_seconds")
      .Help("Start time of the process since unix epoch in seconds.")
      .Register(registry)
      .Add({})
      .Set(absl::ToDoubleSeconds((start.ok() ? *start : absl::Now()) -
                                 absl::UnixEpoch()));
}

}  // namespace stubmesh::server
