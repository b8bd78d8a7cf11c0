#ifndef STUBMESH_GATEWAY_HTTP_HEADER_VALUE_H_
#define STUBMESH_GATEWAY_HTTP_HEADER_VALUE_H_

// What the gateway passes unchanged between HTTP header fields and gRPC
// text metadata: a value of printable ASCII (space and 0x21-0x7E), which
// both an HTTP/1.1 field value and a gRPC ASCII-Value accept as it is. Tabs,
// control characters, DEL and bytes over 0x7F are refused (they would be
// dropped, rejected or could split a header line further along).
//
// Thread-safety: pure functions.
//
// Example:
//   if (!IsPrintableAscii(value)) return BadRequest("header ... value");
//   context->AddMetadata(key, std::string(value));

#include "absl/strings/string_view.h"

namespace stubmesh::gateway {

// True if every character of `value` is in 0x20-0x7E (true for "").
bool IsPrintableAscii(absl::string_view value);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_HTTP_HEADER_VALUE_H_
