#include "gateway/url_encoded_form.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "validation/field_checks.h"

namespace stubmesh::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

absl::StatusOr<std::vector<FormField>> ParseUrlEncoded(absl::string_view text,
                                                       int max_fields) {
  std::vector<FormField> fields;
  for (absl::string_view pair : absl::StrSplit(text, '&')) {
    if (pair.empty()) continue;
    if (static_cast<int>(fields.size()) == max_fields) {
      return absl::InvalidArgumentError(
          absl::StrCat("more than ", max_fields, " parameters"));
    }
    size_t eq = pair.find('=');
    absl::string_view raw_name = pair.substr(0, eq);
    absl::string_view raw_value =
        eq == absl::string_view::npos ? "" : pair.substr(eq + 1);
    FormField field;
    if (!PercentDecode(raw_name, true, &field.name) ||
        !PercentDecode(raw_value, true, &field.value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", raw_name.substr(0, 64), "': malformed %-escape"));
    }
    if (field.name.empty()) {
      return absl::InvalidArgumentError("a parameter has an empty name");
    }
    // Only the encoding is checked here; each field's own rules come later.
    if (!validation::IsValidUtf8(field.name) ||
        !validation::IsValidUtf8(field.value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "parameter '", raw_name.substr(0, 64), "': not valid UTF-8"));
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

}  // namespace stubmesh::gateway
