#include "gateway/http_header_value.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace stubmesh::gateway {

bool IsPrintableAscii(absl::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    return absl::ascii_isprint(static_cast<unsigned char>(c));
  });
}

}  // namespace stubmesh::gateway
