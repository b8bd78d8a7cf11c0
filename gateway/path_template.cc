#include "gateway/path_template.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/percent_encoding.h"

namespace stubmesh::gateway {
namespace {

// RFC 3986 unreserved and sub-delims, plus '@'. '*' and '=' are left out
// because they are template syntax; ':' is handled by the caller because it
// may start the verb.
bool IsLiteralChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '+':
    case ',':
    case ';':
    case '@':
      return true;
    default:
      return false;
  }
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

std::string DescribeChar(char c) {
  return absl::StrCat("'", absl::CHexEscape(absl::string_view(&c, 1)), "'");
}

// Re-encodes a decoded literal so that Parse() reads it back unchanged.
void AppendEncoded(absl::string_view decoded, bool allow_colon,
                   std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char c : decoded) {
    if (IsLiteralChar(c) || (allow_colon && c == ':')) {
      out->push_back(c);
    } else {
      unsigned char u = static_cast<unsigned char>(c);
      out->push_back('%');
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xF]);
    }
  }
}

// Recursive descent over the grammar in the header. Offsets in messages are
// byte offsets into the template.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<PathTemplate> Parse() {
    if (text_.empty()) return Error("is empty; a template starts with '/'");
    if (text_[0] != '/') return Error("does not start with '/'");
    if (text_ == "/") {
      return Error("has no segment; \"/\" alone is not a template");
    }
    pos_ = 1;
    absl::Status s = ParseSegments(/*in_variable=*/false);
    if (s.ok() && pos_ < text_.size() && IsVerbColon(pos_)) s = ParseVerb();
    if (s.ok() && pos_ < text_.size()) s = Unexpected();
    if (s.ok()) s = CheckMultiWildcardIsLast();
    if (s.ok()) s = CheckFieldPaths();
    if (!s.ok()) return s;
    return std::move(result_);
  }

 private:
  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("path template \"", absl::CHexEscape(text_), "\" ", what));
  }

  absl::Status ErrorAt(size_t pos, absl::string_view what) const {
    return Error(absl::StrCat(what, " at offset ", pos));
  }

  absl::Status Unexpected() const {
    return ErrorAt(
        pos_, absl::StrCat("has an unexpected ", DescribeChar(text_[pos_])));
  }

  // ':' starts the verb only when nothing but the verb follows; elsewhere
  // (e.g. "/a:b/c") it is an ordinary literal character.
  bool IsVerbColon(size_t pos) const {
    return text_[pos] == ':' &&
           text_.find_first_of("/}", pos) == absl::string_view::npos;
  }

  bool AtSegmentEnd(bool in_variable) const {
    if (pos_ >= text_.size()) return true;
    char c = text_[pos_];
    return c == '/' || (in_variable && c == '}') || IsVerbColon(pos_);
  }

  absl::Status ParseSegments(bool in_variable) {
    while (true) {
      absl::Status s = ParseSegment(in_variable);
      if (!s.ok()) return s;
      if (pos_ < text_.size() && text_[pos_] == '/') {
        ++pos_;
        continue;
      }
      return absl::OkStatus();
    }
  }

  absl::Status ParseSegment(bool in_variable) {
    if (in_variable && pos_ >= text_.size()) return Unterminated();
    if (AtSegmentEnd(in_variable)) return ErrorAt(pos_, "has an empty segment");
    char c = text_[pos_];
    if (c == '{') {
      if (in_variable) return ErrorAt(pos_, "nests a variable in a variable");
      return ParseVariable();
    }
    if (c == '*') {
      bool multi = pos_ + 1 < text_.size() && text_[pos_ + 1] == '*';
      pos_ += multi ? 2 : 1;
      if (!AtSegmentEnd(in_variable)) {
        return ErrorAt(pos_, "has '*' or '**' that is not a whole segment");
      }
      PathSegment segment;
      segment.kind = multi ? PathSegment::Kind::kMultiWildcard
                           : PathSegment::Kind::kSingleWildcard;
      result_.segments.push_back(std::move(segment));
      return absl::OkStatus();
    }
    return ParseLiteralSegment(in_variable);
  }

  absl::Status ParseLiteralSegment(bool in_variable) {
    size_t start = pos_;
    PathSegment segment;
    absl::Status s = ParseLiteral(/*colon_allowed=*/true, &segment.literal);
    if (!s.ok()) return s;
    if (!AtSegmentEnd(in_variable)) {
      char c = text_[pos_];
      if (c == '{' || c == '*') {
        return ErrorAt(pos_, absl::StrCat("has ", DescribeChar(c),
                                          " inside a literal segment; a "
                                          "variable or wildcard must be a "
                                          "whole segment"));
      }
      return Unexpected();
    }
    // A decoded "." or ".." segment never matches a path (the matcher
    // refuses traversal), so such a template is a mistake.
    if (segment.literal == "." || segment.literal == "..") {
      return ErrorAt(start, "has a '.' or '..' segment");
    }
    result_.segments.push_back(std::move(segment));
    return absl::OkStatus();
  }

  // Reads literal characters and percent escapes into `decoded`; stops at
  // the first other character. Empty is not an error here.
  absl::Status ParseLiteral(bool colon_allowed, std::string* decoded) {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '%') {
        int hi = pos_ + 1 < text_.size() ? HexDigitValue(text_[pos_ + 1]) : -1;
        int lo = pos_ + 2 < text_.size() ? HexDigitValue(text_[pos_ + 2]) : -1;
        if (hi < 0 || lo < 0) {
          return ErrorAt(pos_, "has an invalid percent escape");
        }
        decoded->push_back(static_cast<char>(hi * 16 + lo));
        pos_ += 3;
      } else if (IsLiteralChar(c) ||
                 (c == ':' && colon_allowed && !IsVerbColon(pos_))) {
        decoded->push_back(c);
        ++pos_;
      } else {
        break;
      }
    }
    return absl::OkStatus();
  }

  absl::Status Unterminated() const {
    return ErrorAt(variable_start_, "has an unterminated '{'");
  }

  absl::Status ParseVariable() {
    variable_start_ = pos_;
    ++pos_;  // '{'
    PathVariable variable;
    while (true) {
      size_t ident_start = pos_;
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      if (pos_ == ident_start) {
        if (pos_ >= text_.size()) return Unterminated();
        char c = text_[pos_];
        if ((c == '}' || c == '=') && variable.field_path.empty()) {
          return ErrorAt(variable_start_,
                         "has a variable without a field path");
        }
        if (c == '.' || c == '}' || c == '=') {
          return ErrorAt(pos_, "has an empty field path segment");
        }
        return ErrorAt(
            pos_, absl::StrCat("has ", DescribeChar(c), " in a field path"));
      }
      if (!IsIdentStart(text_[ident_start])) {
        return ErrorAt(ident_start,
                       "has a field name that does not start with a letter "
                       "or '_'");
      }
      variable.field_path.emplace_back(
          text_.substr(ident_start, pos_ - ident_start));
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        continue;
      }
      break;
    }
    if (pos_ >= text_.size()) return Unterminated();
    variable.start_segment = static_cast<int>(result_.segments.size());
    char c = text_[pos_];
    if (c == '=') {
      ++pos_;
      absl::Status s = ParseSegments(/*in_variable=*/true);
      if (!s.ok()) return s;
    } else if (c == '}') {
      PathSegment segment;
      segment.kind = PathSegment::Kind::kSingleWildcard;
      result_.segments.push_back(std::move(segment));
    } else if (c == '{') {
      return ErrorAt(pos_, "nests a variable in a variable");
    } else {
      return ErrorAt(pos_,
                     absl::StrCat("has ", DescribeChar(c), " in a field path"));
    }
    if (text_.find('}', pos_) == absl::string_view::npos) {
      return Unterminated();
    }
    if (text_[pos_] != '}') return Unexpected();
    ++pos_;
    variable.end_segment = static_cast<int>(result_.segments.size());
    for (int i = variable.start_segment; i < variable.end_segment; ++i) {
      if (result_.segments[i].kind == PathSegment::Kind::kMultiWildcard) {
        variable.multi_segment = true;
      }
    }
    result_.variables.push_back(std::move(variable));
    if (!AtSegmentEnd(/*in_variable=*/false)) {
      if (text_[pos_] == '}') return ErrorAt(pos_, "has an unmatched '}'");
      return ErrorAt(pos_, "has a variable that is not a whole segment");
    }
    return absl::OkStatus();
  }

  absl::Status ParseVerb() {
    size_t start = pos_;
    ++pos_;  // ':'
    absl::Status s = ParseLiteral(/*colon_allowed=*/false, &result_.verb);
    if (!s.ok()) return s;
    if (pos_ == start + 1) {
      if (pos_ < text_.size()) return Unexpected();
      return ErrorAt(start, "has an empty verb after ':'");
    }
    return absl::OkStatus();
  }

  absl::Status CheckMultiWildcardIsLast() const {
    for (size_t i = 0; i + 1 < result_.segments.size(); ++i) {
      if (result_.segments[i].kind == PathSegment::Kind::kMultiWildcard) {
        return Error("has '**' before the last segment");
      }
    }
    return absl::OkStatus();
  }

  // "a" and "a.b" cannot both be bound: "a" would be set from the path and
  // then overwritten (or typed as a message), so prefixes count as overlaps.
  absl::Status CheckFieldPaths() const {
    const std::vector<PathVariable>& vars = result_.variables;
    for (size_t i = 0; i < vars.size(); ++i) {
      for (size_t j = i + 1; j < vars.size(); ++j) {
        const std::vector<std::string>& a = vars[i].field_path;
        const std::vector<std::string>& b = vars[j].field_path;
        size_t common = std::min(a.size(), b.size());
        if (!std::equal(a.begin(), a.begin() + common, b.begin())) continue;
        if (a.size() == b.size()) {
          return Error(
              absl::StrCat("binds field '", absl::StrJoin(a, "."), "' twice"));
        }
        return Error(absl::StrCat("binds overlapping fields '",
                                  absl::StrJoin(a, "."), "' and '",
                                  absl::StrJoin(b, "."), "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
  size_t variable_start_ = 0;
  PathTemplate result_;
};

}  // namespace

absl::StatusOr<PathTemplate> PathTemplate::Parse(absl::string_view text) {
  return Parser(text).Parse();
}

std::string PathTemplate::ToString() const {
  std::string out;
  for (size_t i = 0; i < segments.size(); ++i) {
    out.push_back('/');
    for (const PathVariable& v : variables) {
      if (v.start_segment == static_cast<int>(i)) {
        absl::StrAppend(&out, "{", absl::StrJoin(v.field_path, "."), "=");
      }
    }
    const PathSegment& segment = segments[i];
    switch (segment.kind) {
      case PathSegment::Kind::kLiteral:
        // In the last segment a ':' would read back as the verb.
        AppendEncoded(segment.literal, i + 1 < segments.size(), &out);
        break;
      case PathSegment::Kind::kSingleWildcard:
        out.push_back('*');
        break;
      case PathSegment::Kind::kMultiWildcard:
        out.append("**");
        break;
    }
    for (const PathVariable& v : variables) {
      if (v.end_segment == static_cast<int>(i) + 1) out.push_back('}');
    }
  }
  if (!verb.empty()) {
    out.push_back(':');
    AppendEncoded(verb, /*allow_colon=*/false, &out);
  }
  return out;
}

}  // namespace stubmesh::gateway
