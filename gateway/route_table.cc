#include "gateway/route_table.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "gateway/percent_encoding.h"

namespace stubmesh::gateway {
namespace {

struct Route {
  std::string http_method;
  std::string text;  // the template as given to Add(), for messages
  PathTemplate path_template;
  int route_index = -1;
  std::string owner;
};

// Keyed by verb; "" stands for "no verb" (the grammar has no empty verb).
// std::string keys take string_view lookups without a copy.
using VerbMap = absl::flat_hash_map<std::string, const Route*>;

// One trie node per template prefix. The depth of a node is the number of
// path segments consumed to reach it.
struct Node {
  absl::flat_hash_map<std::string, std::unique_ptr<Node>> literals;
  std::unique_ptr<Node> star;
  VerbMap ends;        // templates that end here
  VerbMap multi_ends;  // templates whose last segment "**" starts here
};

const Route* Lookup(const VerbMap& routes, absl::string_view verb) {
  if (routes.empty()) return nullptr;
  auto it = routes.find(verb);
  return it == routes.end() ? nullptr : it->second;
}

const Node* LiteralChild(const Node& node, absl::string_view decoded) {
  if (node.literals.empty()) return nullptr;
  auto it = node.literals.find(decoded);
  return it == node.literals.end() ? nullptr : it->second.get();
}


bool IsDotSegment(absl::string_view decoded) {
  return decoded == "." || decoded == "..";
}

// RFC 9110 token characters, minus lower case (methods are given upper case
// and compared exactly, so "get" would silently never match).
bool IsValidMethod(absl::string_view method) {
  if (method.empty()) return false;
  for (char c : method) {
    bool ok =
        (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

struct Segment {
  absl::string_view raw;
  absl::string_view decoded;
};

// A request path split and decoded once, shared by every trie it is tried
// against. Decoded text that differs from the raw text lives in `buffer`,
// reserved up front so the views into it stay valid; paths without '%'
// allocate nothing here unless they have more than 16 segments.
struct PreparedPath {
  absl::InlinedVector<Segment, 16> segments;
  std::string buffer;
  // The last segment split at its last ':' ("42:cancel" -> "42", "cancel"),
  // when both sides are usable.
  bool has_verb_split = false;
  Segment verb_prefix;
  absl::string_view verb;  // decoded
};

// `raw` holds valid escapes; `has_escape` says whether it holds any.
absl::string_view Decode(absl::string_view raw, bool has_escape,
                         std::string* buffer) {
  if (!has_escape) return raw;
  size_t start = buffer->size();
  AppendPercentDecoded(raw, /*keep_encoded_slash=*/false, buffer);
  return absl::string_view(buffer->data() + start, buffer->size() - start);
}

// False when no route can match: no leading '/', an empty segment ("//",
// a trailing '/'), an invalid percent escape ("%zz", "%4"), or a segment
// (or the last segment's part before a verb) that decodes to "." or ".."
// (refused so that a path cannot climb out of what its template allows once
// a backend joins it back into a path). "/" has zero segments and can only
// match "/**".
bool Prepare(absl::string_view path, PreparedPath* out) {
  const size_t size = path.size();
  if (size == 0 || path[0] != '/') return false;
  if (size == 1) return true;
  // One pass: split, validate escapes and note the last ':' of each segment.
  size_t start = 1;
  size_t colon = absl::string_view::npos;  // last raw ':' in the segment
  bool has_escape = false;
  for (size_t i = 1;; ++i) {
    if (i < size && path[i] != '/') {
      if (path[i] == '%') {
        if (i + 2 >= size || HexDigitValue(path[i + 1]) < 0 ||
            HexDigitValue(path[i + 2]) < 0) {
          return false;
        }
        // Decoding never grows text and the verb split decodes the last
        // segment a second time, so twice the path keeps views valid.
        if (out->buffer.capacity() < 2 * size) out->buffer.reserve(2 * size);
        has_escape = true;
        i += 2;
      } else if (path[i] == ':') {
        colon = i;
      }
      continue;
    }
    Segment segment;
    segment.raw = path.substr(start, i - start);
    if (segment.raw.empty()) return false;
    segment.decoded = Decode(segment.raw, has_escape, &out->buffer);
    if (IsDotSegment(segment.decoded)) return false;
    out->segments.push_back(segment);
    if (i == size) break;
    start = i + 1;
    colon = absl::string_view::npos;
    has_escape = false;
  }
  // A raw ':' only; an encoded "%3A" stays part of the segment. Both sides
  // must be non-empty.
  if (colon != absl::string_view::npos && colon > start && colon + 1 < size) {
    out->verb_prefix.raw = path.substr(start, colon - start);
    out->verb_prefix.decoded =
        Decode(out->verb_prefix.raw, has_escape, &out->buffer);
    // "..:x" is refused whole rather than read as the segment "..:x".
    if (IsDotSegment(out->verb_prefix.decoded)) return false;
    out->verb = Decode(path.substr(colon + 1), has_escape, &out->buffer);
    out->has_verb_split = true;
  }
  return true;
}

struct Found {
  const Route* route = nullptr;
  bool verb_split = false;  // the last segment was read as prefix + verb
};

// Depth-first in priority order: at each segment a literal child, then "*",
// then "**" here; the first route reached is the most specific. On the last
// segment the verb split is tried before the plain reading.
bool Find(const Node& node, size_t i, const PreparedPath& p, bool verb_split,
          Found* found) {
  const size_t n = p.segments.size();
  if (i == n) {
    absl::string_view verb = verb_split ? p.verb : absl::string_view();
    found->verb_split = verb_split;
    found->route = Lookup(node.ends, verb);
    if (found->route == nullptr) {
      found->route = Lookup(node.multi_ends, verb);  // "**" of no segment
    }
    return found->route != nullptr;
  }
  if (i + 1 == n && p.has_verb_split) {
    const Node* child = LiteralChild(node, p.verb_prefix.decoded);
    if (child != nullptr && Find(*child, n, p, true, found)) return true;
    if (node.star != nullptr && Find(*node.star, n, p, true, found)) {
      return true;
    }
  }
  const Node* child = LiteralChild(node, p.segments[i].decoded);
  if (child != nullptr && Find(*child, i + 1, p, false, found)) return true;
  if (node.star != nullptr && Find(*node.star, i + 1, p, false, found)) {
    return true;
  }
  if (node.multi_ends.empty()) return false;
  if (p.has_verb_split) {
    found->route = Lookup(node.multi_ends, p.verb);
    if (found->route != nullptr) {
      found->verb_split = true;
      return true;
    }
  }
  found->route = Lookup(node.multi_ends, absl::string_view());
  found->verb_split = false;
  return found->route != nullptr;
}

const Segment& PathSegmentAt(const PreparedPath& p, size_t i, bool verb_split) {
  return verb_split && i + 1 == p.segments.size() ? p.verb_prefix
                                                  : p.segments[i];
}

RouteMatch MakeMatch(const Found& found, const PreparedPath& p) {
  const PathTemplate& t = found.route->path_template;
  RouteMatch match;
  match.route_index = found.route->route_index;
  match.path_template = &t;
  match.bindings.reserve(t.variables.size());
  for (const PathVariable& v : t.variables) {
    VariableBinding binding;
    binding.variable = &v;
    // Segments before a "**" map one to one; "**" takes the rest.
    size_t end = v.multi_segment ? p.segments.size() : v.end_segment;
    if (!v.multi_segment && v.end_segment - v.start_segment == 1) {
      binding.value = std::string(
          PathSegmentAt(p, v.start_segment, found.verb_split).decoded);
    } else {
      for (size_t i = v.start_segment; i < end; ++i) {
        if (i > static_cast<size_t>(v.start_segment)) {
          binding.value.push_back('/');
        }
        AppendPercentDecoded(PathSegmentAt(p, i, found.verb_split).raw,
                      /*keep_encoded_slash=*/true, &binding.value);
      }
    }
    match.bindings.push_back(std::move(binding));
  }
  return match;
}

std::string Describe(const Route& route) {
  return absl::StrCat(route.http_method, " ", route.text, " (", route.owner,
                      ")");
}

}  // namespace

struct RouteTable::Impl {
  absl::flat_hash_map<std::string, std::unique_ptr<Node>> tries;  // by method
  std::vector<std::unique_ptr<Route>> routes;
};

RouteTable::RouteTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RouteTable::~RouteTable() = default;

std::optional<RouteMatch> RouteTable::Match(absl::string_view http_method,
                                            absl::string_view path) const {
  auto trie = impl_->tries.find(http_method);
  if (trie == impl_->tries.end()) return std::nullopt;
  PreparedPath prepared;
  if (!Prepare(path, &prepared)) return std::nullopt;
  Found found;
  if (!Find(*trie->second, 0, prepared, false, &found)) return std::nullopt;
  return MakeMatch(found, prepared);
}

std::vector<std::string> RouteTable::AllowedMethods(
    absl::string_view path) const {
  std::vector<std::string> methods;
  PreparedPath prepared;
  if (!Prepare(path, &prepared)) return methods;
  for (const auto& [method, root] : impl_->tries) {
    Found found;
    if (Find(*root, 0, prepared, false, &found)) methods.push_back(method);
  }
  std::sort(methods.begin(), methods.end());
  return methods;
}

size_t RouteTable::size() const { return impl_->routes.size(); }

RouteTableBuilder::RouteTableBuilder()
    : impl_(std::make_unique<RouteTable::Impl>()) {}

RouteTableBuilder::~RouteTableBuilder() = default;

absl::Status RouteTableBuilder::Add(absl::string_view http_method,
                                    absl::string_view path_template,
                                    int route_index, absl::string_view owner) {
  if (!IsValidMethod(http_method)) {
    return absl::InvalidArgumentError(
        absl::StrCat("route for ", owner, ": HTTP method \"", http_method,
                     "\" is not an upper-case token such as \"GET\""));
  }
  absl::StatusOr<PathTemplate> parsed = PathTemplate::Parse(path_template);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("route for ", owner, ": ", parsed.status().message()));
  }
  auto route = std::make_unique<Route>();
  route->http_method = std::string(http_method);
  route->text = std::string(path_template);
  route->path_template = *std::move(parsed);
  route->route_index = route_index;
  route->owner = std::string(owner);

  // Look for a conflict before creating any node, so a refused route leaves
  // the trie as it was.
  const std::vector<PathSegment>& segments = route->path_template.segments;
  const bool ends_multi =
      segments.back().kind == PathSegment::Kind::kMultiWildcard;
  const size_t walk = ends_multi ? segments.size() - 1 : segments.size();
  std::unique_ptr<Node>& root = impl_->tries[std::string(http_method)];
  if (root == nullptr) root = std::make_unique<Node>();
  const Node* existing_node = root.get();
  for (size_t i = 0; i < walk && existing_node != nullptr; ++i) {
    existing_node = segments[i].kind == PathSegment::Kind::kLiteral
                        ? LiteralChild(*existing_node, segments[i].literal)
                        : existing_node->star.get();
  }
  if (existing_node != nullptr) {
    const Route* existing =
        Lookup(ends_multi ? existing_node->multi_ends : existing_node->ends,
               route->path_template.verb);
    if (existing != nullptr) {
      return absl::AlreadyExistsError(
          absl::StrCat("route ", Describe(*route), " conflicts with ",
                       Describe(*existing), ": same method and path shape"));
    }
  }

  Node* node = root.get();
  for (size_t i = 0; i < walk; ++i) {
    std::unique_ptr<Node>& next =
        segments[i].kind == PathSegment::Kind::kLiteral
            ? node->literals[segments[i].literal]
            : node->star;
    if (next == nullptr) next = std::make_unique<Node>();
    node = next.get();
  }
  (ends_multi ? node->multi_ends : node->ends)[route->path_template.verb] =
      route.get();
  impl_->routes.push_back(std::move(route));
  return absl::OkStatus();
}

std::shared_ptr<const RouteTable> RouteTableBuilder::Build() {
  std::shared_ptr<const RouteTable> table(new RouteTable(std::move(impl_)));
  impl_ = std::make_unique<RouteTable::Impl>();
  return table;
}

}  // namespace stubmesh::gateway
