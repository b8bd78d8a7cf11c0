#ifndef STUBMESH_VALIDATION_FIELD_CHECKS_H_
#define STUBMESH_VALIDATION_FIELD_CHECKS_H_

// Checks shared by every service's request validation. Each returns
// INVALID_ARGUMENT whose message starts with the field path ("user.email:
// ..."), and with the field in a google.rpc.BadRequest detail, so clients,
// the gateway and logs can tell which field was wrong.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::Status s = CheckPositiveId("id", request.id());
//   if (s.ok()) s = CheckRequestId("request_id", request.request_id());

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace stubmesh::validation {

// INVALID_ARGUMENT "<field>: <description>" carrying, as a payload under
// "type.googleapis.com/google.rpc.BadRequest", a google.rpc.BadRequest with
// that one field violation. ToGrpcStatus (status/status_mapping.h) sends it
// as the gRPC status's error details, and the gateway prints it in the JSON
// error body, so a client can tell the field without parsing the message.
// Every check below fails with one of these.
absl::Status InvalidFieldError(absl::string_view field,
                               absl::string_view description);

// Well-formed UTF-8: no overlong forms, surrogates or values past U+10FFFF.
bool IsValidUtf8(absl::string_view value);

// `value` > 0.
absl::Status CheckPositiveId(absl::string_view field, int64_t value);

// `value` == 0 (output-only fields on create).
absl::Status CheckUnsetId(absl::string_view field, int64_t value);

// Valid UTF-8, no control characters, `min_chars`..`max_chars` code points.
absl::Status CheckText(absl::string_view field, absl::string_view value,
                       int min_chars, int max_chars);

// Empty (no idempotency) or 1..128 printable ASCII characters without space.
absl::Status CheckRequestId(absl::string_view field, absl::string_view value);

// At most 254 characters, exactly one '@' with text on both sides, a domain
// with no empty label, and no white space or control characters.
absl::Status CheckEmail(absl::string_view field, absl::string_view value);

}  // namespace stubmesh::validation

#endif  // STUBMESH_VALIDATION_FIELD_CHECKS_H_
