#include "validation/field_checks.h"

#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/rpc/error_details.pb.h"

namespace stubmesh::validation {

absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view description) {
  absl::Status status =
      absl::InvalidArgumentError(absl::StrCat(field, ": ", description));
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation =
      bad_request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(description));
  status.SetPayload(
      absl::StrCat("type.googleapis.com/", bad_request.GetTypeName()),
      absl::Cord(bad_request.SerializeAsString()));
  return status;
}

namespace {

// Counts code points; -1 when `s` is not valid UTF-8 (overlongs, surrogates
// and values above U+10FFFF are invalid too) or, with `printable_only`, holds
// a control character.
int CountCodePoints(absl::string_view s, bool printable_only) {
  int count = 0;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    uint32_t cp;
    int len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return -1;
    }
    if (i + len > s.size()) return -1;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return -1;
    }
    if (printable_only &&
        (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))) {
      return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

int CountPrintableCodePoints(absl::string_view s) {
  return CountCodePoints(s, /*printable_only=*/true);
}

}  // namespace

bool IsValidUtf8(absl::string_view value) {
  return CountCodePoints(value, /*printable_only=*/false) >= 0;
}

absl::Status CheckPositiveId(absl::string_view field, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return InvalidFieldError(field,
                           absl::StrCat("must be a positive id, got ", value));
}

absl::Status CheckUnsetId(absl::string_view field, int64_t value) {
  if (value == 0) return absl::OkStatus();
  return InvalidFieldError(field,
                           "is assigned by the server and must not be set");
}

absl::Status CheckText(absl::string_view field, absl::string_view value,
                       int min_chars, int max_chars) {
  int chars = CountPrintableCodePoints(value);
  if (chars < 0) {
    return InvalidFieldError(field,
                             "must be UTF-8 text without control characters");
  }
  if (chars < min_chars) {
    return InvalidFieldError(
        field, min_chars == 1
                   ? std::string("is required")
                   : absl::StrCat("needs at least ", min_chars, " characters"));
  }
  if (chars > max_chars) {
    return InvalidFieldError(field, absl::StrCat("must be at most ", max_chars,
                                                 " characters, got ", chars));
  }
  return absl::OkStatus();
}

absl::Status CheckRequestId(absl::string_view field, absl::string_view value) {
  if (value.size() > 128) {
    return InvalidFieldError(field, "must be at most 128 characters");
  }
  for (char c : value) {
    if (c <= 0x20 || c >= 0x7F) {
      return InvalidFieldError(
          field, "must be printable ASCII without spaces (a UUID works)");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckEmail(absl::string_view field, absl::string_view value) {
  if (value.empty()) return InvalidFieldError(field, "is required");
  if (value.size() > 254) {
    return InvalidFieldError(field, "must be at most 254 characters");
  }
  if (CountPrintableCodePoints(value) < 0) {
    return InvalidFieldError(field,
                             "must be UTF-8 text without control characters");
  }
  std::vector<absl::string_view> parts = absl::StrSplit(value, '@');
  absl::Status bad = InvalidFieldError(
      field, absl::StrCat("'", value, "' is not an email address"));
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) return bad;
  for (char c : value) {
    if (c == ' ' || c == '\t') return bad;
  }
  for (absl::string_view label : absl::StrSplit(parts[1], '.')) {
    if (label.empty()) return bad;
  }
  return absl::OkStatus();
}

}  // namespace stubmesh::validation
