#ifndef STUBMESH_GATEWAY_ROUTE_TABLE_H_
#define STUBMESH_GATEWAY_ROUTE_TABLE_H_

// Maps (HTTP method, URL path) to a route, for the gateway's hot path.
//
// Built once by RouteTableBuilder and shared read-only as
// std::shared_ptr<const RouteTable>; a new descriptor set builds a new table
// and swaps the pointer. Matching walks a per-HTTP-method trie of segments,
// so its cost depends on the path's length, not on the number of routes.
//
// Most specific wins: comparing segment by segment from the left, a literal
// beats "*", which beats "**"; a template with a verb beats one without.
// Two routes with the same HTTP method and the same shape (the same
// segments and verb, whatever the variable names) conflict: Add() refuses
// the second, naming both.
//
// Paths given to Match are raw (still percent-encoded, without the query).
// Literal segments compare after percent-decoding. A single-segment
// variable's value is fully percent-decoded; a multi-segment variable's
// value keeps "%2F" (and "%2f") encoded so that an encoded slash stays
// distinguishable from a separator. Multi-segment means spanning more than
// one template segment or holding "**" ("{name=shelves/*}", "{path=**}").
//
// A path matches nothing when it has an invalid percent escape ("%zz",
// "%4"), an empty segment ("//", a trailing "/"), or a segment that decodes
// to "." or ".." (no path traversal). "**" matches zero or more segments.
// If the last segment holds a raw ':', it is first read as "segment:verb"
// (split at the last ':'), then as one segment; the split reading wins
// among routes equally specific up to that segment.
//
// Thread-safety: RouteTable is immutable and thread-safe; RouteTableBuilder
// is not thread-safe.
//
// Example:
//   RouteTableBuilder builder;
//   absl::Status s = builder.Add("GET", "/v1/users/{id}", route_index,
//                                "stubmesh.user.v1.UserService.GetUser");
//   std::shared_ptr<const RouteTable> table = builder.Build();
//   std::optional<RouteMatch> m = table->Match("GET", "/v1/users/42");
//   // m->route_index == route_index, m->bindings[0].value == "42"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gateway/path_template.h"

namespace stubmesh::gateway {

struct VariableBinding {
  const PathVariable* variable;  // points into the matched template
  std::string value;             // decoded as described above
};

struct RouteMatch {
  int route_index = -1;  // the value given to Add()
  const PathTemplate* path_template = nullptr;
  std::vector<VariableBinding> bindings;
};

class RouteTable {
 public:
  // nullopt when no route of `http_method` matches `path`.
  std::optional<RouteMatch> Match(absl::string_view http_method,
                                  absl::string_view path) const;

  // The HTTP methods that have a route matching `path` (for 405 + Allow).
  std::vector<std::string> AllowedMethods(absl::string_view path) const;

  size_t size() const;

  ~RouteTable();

 private:
  friend class RouteTableBuilder;
  struct Impl;
  explicit RouteTable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class RouteTableBuilder {
 public:
  RouteTableBuilder();
  ~RouteTableBuilder();

  // Adds a route. `http_method` is upper case ("GET", "POST", ..., or a
  // custom kind such as "HEAD"). `owner` names what the route leads to
  // (e.g. the full method name) for conflict messages. Errors:
  // INVALID_ARGUMENT for a bad template (message names `owner`),
  // ALREADY_EXISTS for a conflict (message names both owners).
  absl::Status Add(absl::string_view http_method,
                   absl::string_view path_template, int route_index,
                   absl::string_view owner);

  // Hands over the routes added so far; the builder starts empty again.
  std::shared_ptr<const RouteTable> Build();

 private:
  std::unique_ptr<RouteTable::Impl> impl_;
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_ROUTE_TABLE_H_
