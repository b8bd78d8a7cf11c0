#include "launcher/status_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/util/json_util.h"
#include "launcher/scoped_fd.h"

namespace stubmesh::launcher {
namespace {

using ::stubmesh::mesh::v1::ProcessStatus;

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  std::string json;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

// Names and addresses are the launcher's own (no quotes or backslashes),
// but a JSON string is escaped all the same.
std::string Quoted(absl::string_view s) {
  return absl::StrCat(
      "\"", absl::StrReplaceAll(s, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"");
}

std::string TargetGroup(const ProcessStatus& process,
                        absl::string_view service) {
  return absl::StrCat("  {\"targets\": [", Quoted(process.admin_address()),
                      "], \"labels\": {\"service\": ", Quoted(service),
                      ", \"replica\": ", Quoted(process.name()), "}}");
}

}  // namespace

absl::Status WriteFileAtomically(const std::string& path,
                                 absl::string_view contents) {
  const std::string temporary = path + ".tmp";
  ScopedFd fd(
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot write ", temporary, ": ", strerror(errno)));
  }
  while (!contents.empty()) {
    const ssize_t n = write(fd.get(), contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot write ", temporary, ": ", strerror(errno)));
    }
    contents.remove_prefix(n);
  }
  fd.Reset();
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot rename ", temporary, " to ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

std::string LauncherStatusJson(const LauncherStatus& status) {
  return ToJson(status);
}

std::string PrometheusTargetsJson(const LauncherStatus& status) {
  std::vector<std::string> groups;
  for (const auto& service : status.services()) {
    for (const ProcessStatus& replica : service.replicas()) {
      if (!replica.admin_address().empty()) {
        groups.push_back(TargetGroup(replica, service.name()));
      }
    }
  }
  if (status.has_gateway() && !status.gateway().admin_address().empty()) {
    groups.push_back(TargetGroup(status.gateway(), "gateway"));
  }
  if (groups.empty()) return "[]\n";
  return absl::StrCat("[\n", absl::StrJoin(groups, ",\n"), "\n]\n");
}

std::string MeshConfigJson(const stubmesh::mesh::v1::MeshConfig& config) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(config, &json, options);
  return json;
}

}  // namespace stubmesh::launcher
