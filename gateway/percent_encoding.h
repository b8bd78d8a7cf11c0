#ifndef STUBMESH_GATEWAY_PERCENT_ENCODING_H_
#define STUBMESH_GATEWAY_PERCENT_ENCODING_H_

// Percent-encoding (RFC 3986 "%XX") for URL paths, queries and form bodies.
//
// Thread-safety: pure functions.
//
// Example:
//   std::string out;
//   if (!PercentDecode("a%20b+c", /*plus_is_space=*/true, &out)) { ... }
//   // out == "a b c"

#include <string>

#include "absl/strings/string_view.h"

namespace stubmesh::gateway {

// 0..15 for a hex digit, else -1.
int HexDigitValue(char c);

// Decodes %XX escapes (and '+' as space when `plus_is_space`) into `out`.
// False on a malformed escape.
bool PercentDecode(absl::string_view in, bool plus_is_space, std::string* out);

// Appends the decoding of `raw`, whose escapes the caller has checked,
// leaving "%2F"/"%2f" as written when `keep_encoded_slash`.
void AppendPercentDecoded(absl::string_view raw, bool keep_encoded_slash,
                          std::string* out);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_PERCENT_ENCODING_H_
