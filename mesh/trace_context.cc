#include "mesh/trace_context.h"

#include <cstdint>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace stubmesh::mesh {
namespace {

bool IsLowerHex(absl::string_view s, size_t size) {
  if (s.size() != size) return false;
  bool nonzero = false;
  for (char c : s) {
    if (!absl::ascii_isdigit(c) && !(c >= 'a' && c <= 'f')) return false;
    if (c != '0') nonzero = true;
  }
  return nonzero;
}

std::string RandomHex(int words) {
  thread_local absl::BitGen bits;
  std::string out;
  for (int i = 0; i < words; ++i) {
    uint64_t word;
    do {
      word = absl::Uniform<uint64_t>(bits);
    } while (word == 0);  // All-zero ids are invalid.
    absl::StrAppend(&out, absl::Hex(word, absl::kZeroPad16));
  }
  return out;
}

}  // namespace

std::optional<TraceContext> ParseTraceparent(absl::string_view value) {
  std::vector<absl::string_view> parts = absl::StrSplit(value, '-');
  if (parts.size() < 4) return std::nullopt;
  absl::string_view version = parts[0];
  if (version.size() != 2 || version == "ff" ||
      !absl::ascii_isxdigit(version[0]) || !absl::ascii_isxdigit(version[1])) {
    return std::nullopt;
  }
  if (version == "00" && parts.size() != 4) return std::nullopt;
  if (!IsLowerHex(parts[1], 32) || !IsLowerHex(parts[2], 16) ||
      parts[3].size() != 2 || !absl::ascii_isxdigit(parts[3][0]) ||
      !absl::ascii_isxdigit(parts[3][1])) {
    return std::nullopt;
  }
  TraceContext context;
  context.trace_id = std::string(parts[1]);
  context.span_id = std::string(parts[2]);
  int flags = (absl::ascii_isdigit(parts[3][1])
                   ? parts[3][1] - '0'
                   : absl::ascii_tolower(parts[3][1]) - 'a' + 10);
  context.sampled = (flags & 1) != 0;
  return context;
}

std::string FormatTraceparent(const TraceContext& context) {
  return absl::StrCat("00-", context.trace_id, "-", context.span_id,
                      context.sampled ? "-01" : "-00");
}

TraceContext NewTrace() {
  TraceContext context;
  context.trace_id = RandomHex(2);
  context.span_id = RandomHex(1);
  context.sampled = true;
  return context;
}

TraceContext ChildSpan(const TraceContext& parent) {
  TraceContext child = parent;
  child.span_id = RandomHex(1);
  return child;
}

std::string NewRequestId() { return RandomHex(2); }

}  // namespace stubmesh::mesh
