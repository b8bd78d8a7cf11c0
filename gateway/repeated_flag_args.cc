#include "gateway/repeated_flag_args.h"

#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace stubmesh::gateway {

std::vector<std::string> JoinRepeatedFlags(
    int argc, char** argv, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  std::map<std::string, std::vector<std::string>> values;
  std::map<std::string, size_t> first_position;
  bool flags_ended = false;
  for (int i = 0; i < argc; ++i) {
    absl::string_view arg(argv[i]);
    if (i == 0 || flags_ended) {
      out.emplace_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      out.emplace_back(arg);
      continue;
    }
    absl::string_view body = arg;
    if (!absl::ConsumePrefix(&body, "--")) absl::ConsumePrefix(&body, "-");
    bool joined = false;
    for (const std::string& name : names) {
      absl::string_view value = body;
      if (body.size() != arg.size() && absl::ConsumePrefix(&value, name) &&
          absl::ConsumePrefix(&value, "=")) {
        if (!first_position.count(name)) {
          first_position[name] = out.size();
          out.emplace_back();  // filled in below
        }
        values[name].emplace_back(value);
        joined = true;
        break;
      }
    }
    if (!joined) out.emplace_back(arg);
  }
  for (const auto& [name, position] : first_position) {
    out[position] =
        absl::StrCat("--", name, "=", absl::StrJoin(values[name], ","));
  }
  return out;
}

std::vector<char*> ArgvOf(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return argv;
}

}  // namespace stubmesh::gateway
