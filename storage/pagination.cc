#include "storage/pagination.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "validation/field_checks.h"

namespace stubmesh::storage {
namespace {

constexpr absl::string_view kTokenVersion = "p1";

}  // namespace

std::string EncodePageToken(absl::string_view scope, int64_t last_id) {
  return absl::WebSafeBase64Escape(
      absl::StrCat(kTokenVersion, "|", scope, "|", last_id));
}

absl::StatusOr<PageRequest> ParsePageRequest(int32_t page_size,
                                             absl::string_view page_token,
                                             absl::string_view scope) {
  PageRequest page;
  if (page_size < 0) {
    return validation::InvalidFieldError(
        "page_size", absl::StrCat("must not be negative, got ", page_size));
  }
  if (page_size > 0) page.limit = std::min(page_size, kMaxPageSize);
  if (page_token.empty()) return page;

  absl::Status bad = validation::InvalidFieldError(
      "page_token",
      "not a token returned by this list (use next_page_token of the "
      "previous page, with the same filter)");
  std::string decoded;
  if (page_token.size() > 512 ||
      !absl::WebSafeBase64Unescape(page_token, &decoded)) {
    return bad;
  }
  std::vector<absl::string_view> parts = absl::StrSplit(decoded, '|');
  if (parts.size() != 3 || parts[0] != kTokenVersion || parts[1] != scope ||
      !absl::SimpleAtoi(parts[2], &page.after_id) || page.after_id <= 0) {
    return bad;
  }
  return page;
}

}  // namespace stubmesh::storage
