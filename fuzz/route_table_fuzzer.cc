// Fuzzes the gateway's route table (gateway/route_table.h). The input is
// text, one "<METHOD> <text>" per line: lines before the first empty line
// add routes (text = path template), lines after it are requests (text = raw
// URL path). Beyond "no crash":
// - a match is a route of the request's method, its bindings point into the
//   matched template, and AllowedMethods(path) lists the method;
// - a concrete path made from each added template (wildcards filled in,
//   literals percent-encoded) matches some route of that method.

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gateway/path_template.h"
#include "gateway/route_table.h"

namespace {

using ::stubmesh::gateway::PathSegment;
using ::stubmesh::gateway::PathTemplate;
using ::stubmesh::gateway::RouteMatch;
using ::stubmesh::gateway::RouteTable;
using ::stubmesh::gateway::RouteTableBuilder;

struct Added {
  std::string method;
  PathTemplate path_template;
};

// Every byte outside RFC 3986's unreserved set as %XX.
std::string Encode(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppend(
          &out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

// A path the template matches: "*" -> "x", "**" -> "x/y".
std::string ConcretePath(const PathTemplate& t) {
  std::string path;
  for (const PathSegment& segment : t.segments) {
    switch (segment.kind) {
      case PathSegment::Kind::kLiteral:
        absl::StrAppend(&path, "/", Encode(segment.literal));
        break;
      case PathSegment::Kind::kSingleWildcard:
        path.append("/x");
        break;
      case PathSegment::Kind::kMultiWildcard:
        path.append("/x/y");
        break;
    }
  }
  if (!t.verb.empty()) absl::StrAppend(&path, ":", Encode(t.verb));
  return path;
}

void CheckMatch(const RouteTable& table, absl::string_view method,
                absl::string_view path, const std::vector<Added>& added) {
  std::optional<RouteMatch> match = table.Match(method, path);
  if (!match) return;
  if (match->route_index < 0 ||
      match->route_index >= static_cast<int>(added.size()) ||
      added[match->route_index].method != method ||
      match->path_template == nullptr) {
    abort();
  }
  for (const auto& binding : match->bindings) {
    const auto& variables = match->path_template->variables;
    if (binding.variable < variables.data() ||
        binding.variable >= variables.data() + variables.size()) {
      abort();
    }
  }
  bool listed = false;
  for (const std::string& allowed : table.AllowedMethods(path)) {
    listed = listed || allowed == method;
  }
  if (!listed) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // many short lines say more than a long one
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  RouteTableBuilder builder;
  std::vector<Added> added;
  std::vector<std::pair<std::string, std::string>> requests;
  bool in_requests = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty()) {
      in_requests = true;
      continue;
    }
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (in_requests) {
      requests.emplace_back(parts.first, parts.second);
      continue;
    }
    int index = static_cast<int>(added.size());
    absl::Status s =
        builder.Add(parts.first, parts.second, index, absl::StrCat("r", index));
    if (!s.ok()) {
      if (s.code() != absl::StatusCode::kInvalidArgument &&
          s.code() != absl::StatusCode::kAlreadyExists) {
        abort();
      }
      // Refused routes take no index: keep indices dense.
      continue;
    }
    absl::StatusOr<PathTemplate> t = PathTemplate::Parse(parts.second);
    if (!t.ok()) abort();  // Add() accepted it
    added.push_back({std::string(parts.first), *std::move(t)});
  }
  std::shared_ptr<const RouteTable> table = builder.Build();
  if (table->size() != added.size()) abort();
  for (const auto& [method, path] : requests) {
    CheckMatch(*table, method, path, added);
  }
  for (const Added& route : added) {
    std::string path = ConcretePath(route.path_template);
    if (!table->Match(route.method, path)) abort();
    CheckMatch(*table, route.method, path, added);
  }
  return 0;
}
