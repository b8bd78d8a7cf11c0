// Fuzzes PathTemplate::Parse (gateway/path_template.h) with the input as a
// template. Beyond "no crash": a template that parses prints (ToString) to a
// canonical form that parses back to the same template, and printing that
// again gives the same text.

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "gateway/path_template.h"

namespace {

using ::stubmesh::gateway::PathTemplate;
using ::stubmesh::gateway::PathVariable;

bool SameVariables(const PathTemplate& a, const PathTemplate& b) {
  if (a.variables.size() != b.variables.size()) return false;
  for (size_t i = 0; i < a.variables.size(); ++i) {
    const PathVariable& x = a.variables[i];
    const PathVariable& y = b.variables[i];
    if (x.field_path != y.field_path || x.start_segment != y.start_segment ||
        x.end_segment != y.end_segment || x.multi_segment != y.multi_segment) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(text);
  if (!parsed.ok()) {
    if (parsed.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  const std::string canonical = parsed->ToString();
  absl::StatusOr<PathTemplate> again = PathTemplate::Parse(canonical);
  if (!again.ok()) abort();  // the canonical form must parse
  if (again->segments != parsed->segments || again->verb != parsed->verb ||
      !SameVariables(*again, *parsed) || again->ToString() != canonical) {
    abort();
  }
  return 0;
}
