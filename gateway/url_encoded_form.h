#ifndef STUBMESH_GATEWAY_URL_ENCODED_FORM_H_
#define STUBMESH_GATEWAY_URL_ENCODED_FORM_H_

// application/x-www-form-urlencoded: URL query strings and form bodies.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<std::vector<FormField>> q = ParseUrlEncoded("id=1&a=x+y");
//   // {{"id", "1"}, {"a", "x y"}}

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stubmesh::gateway {

struct FormField {
  std::string name;
  std::string value;
};

inline constexpr int kMaxFormFields = 256;

// Splits on '&', then on the first '='; '+' is a space; %XX escapes are
// decoded. Empty pairs ("a=1&&b=2") are skipped; "a" alone is ("a", "").
// INVALID_ARGUMENT for a bad escape, a name or value that is not UTF-8, an
// empty name, or more than `max_fields` fields.
absl::StatusOr<std::vector<FormField>> ParseUrlEncoded(
    absl::string_view text, int max_fields = kMaxFormFields);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_URL_ENCODED_FORM_H_
