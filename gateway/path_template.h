#ifndef STUBMESH_GATEWAY_PATH_TEMPLATE_H_
#define STUBMESH_GATEWAY_PATH_TEMPLATE_H_

// The path template grammar of google.api.http (see protos/google/api/
// http.proto):
//
//   Template = "/" Segments [ Verb ] ;
//   Segments = Segment { "/" Segment } ;
//   Segment  = "*" | "**" | LITERAL | Variable ;
//   Variable = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb     = ":" LITERAL ;
//
// `{x}` is `{x=*}`. `**` may only be the last segment of the template (a
// variable may hold it only when it is the last segment). Variables do not
// nest. Literals are unreserved URL characters (RFC 3986 pchar without ':'
// in the last segment's verb position).
//
// Clarifications: literals and the verb may hold percent escapes and are
// stored decoded ("a%20b" -> "a b"); a ':' is the verb separator only when
// no '/' or '}' follows it ("/a:b/c" has the literal "a:b"); literals that
// decode to "." or ".." are refused (such paths never match); overlapping
// field paths ("{a}" and "{a.b}") are refused like a field bound twice.
//
// Thread-safety: immutable after Parse(); safe to share.
//
// Example:
//   absl::StatusOr<PathTemplate> t =
//       PathTemplate::Parse("/v1/{name=shelves/*/books/*}:publish");
//   // t->segments: v1, shelves, *, books, *; t->verb: "publish";
//   // t->variables[0]: field_path {"name"}, segments [1, 5).

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace stubmesh::gateway {

struct PathSegment {
  enum class Kind { kLiteral, kSingleWildcard, kMultiWildcard };
  Kind kind = Kind::kLiteral;
  std::string literal;  // kLiteral only; percent-decoded

  bool operator==(const PathSegment& o) const {
    return kind == o.kind && literal == o.literal;
  }
};

struct PathVariable {
  std::vector<std::string> field_path;  // {"user", "id"} for {user.id}
  int start_segment = 0;  // first segment bound, index into segments
  int end_segment = 0;    // one past the last segment bound
  // True when the variable holds a "**" (it then runs to the end of the path
  // and its value keeps "/" between segments).
  bool multi_segment = false;
};

struct PathTemplate {
  std::vector<PathSegment> segments;
  std::vector<PathVariable> variables;
  std::string verb;  // empty when none; percent-decoded

  // INVALID_ARGUMENT with a message that quotes the template and says what
  // is wrong: "", "//", "/a/", "/{}", "/a{x}", "/a/**/*", nested variables,
  // a field bound twice, bad characters, ...
  static absl::StatusOr<PathTemplate> Parse(absl::string_view text);

  // The template in canonical form ("/v1/users/{id=*}"), for messages.
  std::string ToString() const;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_PATH_TEMPLATE_H_
