// Fuzzes query-string and form parsing: ParseUrlEncoded
// (gateway/url_encoded_form.h) and the percent decoders it and the route
// table use (gateway/percent_encoding.h). Beyond "no crash":
// - parsed fields have non-empty names, stay within the field limit, and
//   re-encoded they parse back to the same fields;
// - PercentDecode agrees with AppendPercentDecoded (which trusts its input)
//   wherever PercentDecode accepts the input.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gateway/percent_encoding.h"
#include "gateway/url_encoded_form.h"

namespace {

using ::stubmesh::gateway::AppendPercentDecoded;
using ::stubmesh::gateway::FormField;
using ::stubmesh::gateway::kMaxFormFields;
using ::stubmesh::gateway::ParseUrlEncoded;
using ::stubmesh::gateway::PercentDecode;

std::string FormEncode(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '*') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      absl::StrAppend(
          &out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

void CheckForm(absl::string_view text) {
  absl::StatusOr<std::vector<FormField>> fields = ParseUrlEncoded(text);
  if (!fields.ok()) {
    if (fields.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return;
  }
  if (fields->size() > kMaxFormFields) abort();
  std::string encoded;
  for (const FormField& field : *fields) {
    if (field.name.empty()) abort();
    absl::StrAppend(&encoded, encoded.empty() ? "" : "&",
                    FormEncode(field.name), "=", FormEncode(field.value));
  }
  absl::StatusOr<std::vector<FormField>> again = ParseUrlEncoded(encoded);
  if (!again.ok() || again->size() != fields->size()) abort();
  for (size_t i = 0; i < fields->size(); ++i) {
    if ((*again)[i].name != (*fields)[i].name ||
        (*again)[i].value != (*fields)[i].value) {
      abort();
    }
  }
}

void CheckPercentDecoding(absl::string_view text) {
  std::string strict;
  if (!PercentDecode(text, /*plus_is_space=*/false, &strict)) return;
  std::string trusting;
  AppendPercentDecoded(text, /*keep_encoded_slash=*/false, &trusting);
  if (trusting != strict) abort();
  std::string kept;
  AppendPercentDecoded(text, /*keep_encoded_slash=*/true, &kept);
  std::string kept_decoded;
  // Decoding what was kept encoded must give the same bytes again.
  if (!PercentDecode(kept, false, &kept_decoded) || kept_decoded != strict) {
    // Only when the input decodes to a '%' that then looks like an escape
    // can the two differ; that needs a decoded "%2F"-like run.
    if (strict.find('%') == std::string::npos) abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckForm(text);
  CheckPercentDecoding(text);
  return 0;
}
