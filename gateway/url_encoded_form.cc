#include "gateway/url_encoded_form.h"

#include "gateway/percent_encoding.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "validation/field_checks.h"

namespace stubmesh::gateway {
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
