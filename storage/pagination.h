#ifndef STUBMESH_STORAGE_PAGINATION_H_
#define STUBMESH_STORAGE_PAGINATION_H_

// Keyset pagination for List methods: a page is "the next `limit` rows with
// an id above `after_id`". Page tokens are opaque to clients (web-safe
// base64) and bound to a scope (the list's filter), so a token from one
// listing is refused by another.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<PageRequest> page = ParsePageRequest(
//       request.page_size(), request.page_token(), "users");
//   ... SELECT ... WHERE id > page->after_id ORDER BY id LIMIT page->limit + 1
//   if (more) response.set_next_page_token(EncodePageToken("users", last_id));

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stubmesh::storage {

inline constexpr int32_t kDefaultPageSize = 50;
inline constexpr int32_t kMaxPageSize = 1000;

struct PageRequest {
  int32_t limit = kDefaultPageSize;  // 1..kMaxPageSize
  int64_t after_id = 0;              // 0 for the first page
};

// page_size: 0 means kDefaultPageSize, above kMaxPageSize means
// kMaxPageSize, negative is INVALID_ARGUMENT naming `page_size`. A token that
// is malformed or of another scope is INVALID_ARGUMENT naming `page_token`.
absl::StatusOr<PageRequest> ParsePageRequest(int32_t page_size,
                                             absl::string_view page_token,
                                             absl::string_view scope);

std::string EncodePageToken(absl::string_view scope, int64_t last_id);

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_PAGINATION_H_
