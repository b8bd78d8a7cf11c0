#include "gateway/openapi_document.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gateway/path_template.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FieldDescriptor;
using ::google::protobuf::ListValue;
using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;

constexpr char kStatusSchema[] = "google.rpc.Status";
constexpr char kSchemaPrefix[] = "#/components/schemas/";

// --- A document is a google.protobuf.Struct: its printer does the escaping.

Value Str(absl::string_view s) {
  Value v;
  v.set_string_value(std::string(s));
  return v;
}

Value Num(double d) {
  Value v;
  v.set_number_value(d);
  return v;
}

Value Bool(bool b) {
  Value v;
  v.set_bool_value(b);
  return v;
}

Value Obj(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}

Value List(ListValue list) {
  Value v;
  *v.mutable_list_value() = std::move(list);
  return v;
}

void Set(Struct* s, const std::string& key, Value v) {
  (*s->mutable_fields())[key] = std::move(v);
}

Struct* Child(Struct* s, const std::string& key) {
  return (*s->mutable_fields())[key].mutable_struct_value();
}

bool Has(const Struct& s, const std::string& key) {
  return s.fields().count(key) > 0;
}

Struct Typed(absl::string_view type, absl::string_view format = "") {
  Struct s;
  Set(&s, "type", Str(type));
  if (!format.empty()) Set(&s, "format", Str(format));
  return s;
}

Struct Ref(const std::string& name) {
  Struct s;
  Set(&s, "$ref", Str(absl::StrCat(kSchemaPrefix, name)));
  return s;
}

// Siblings of a $ref are ignored in OpenAPI 3.0, so a described reference
// goes through allOf.
Struct Describe(Struct schema, const std::string& description,
                bool deprecated) {
  if (description.empty() && !deprecated) return schema;
  if (Has(schema, "$ref")) {
    Struct wrapper;
    ListValue all_of;
    *all_of.add_values() = Obj(std::move(schema));
    Set(&wrapper, "allOf", List(std::move(all_of)));
    schema = std::move(wrapper);
  }
  if (!description.empty()) Set(&schema, "description", Str(description));
  if (deprecated) Set(&schema, "deprecated", Bool(true));
  return schema;
}

// --- Comments from source info.

// protoc keeps the space after "//" and the final newline; drop both.
std::string CleanComment(absl::string_view raw) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(raw, '\n')) {
    absl::ConsumePrefix(&line, " ");
    lines.emplace_back(absl::StripTrailingAsciiWhitespace(line));
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  auto first = std::find_if(lines.begin(), lines.end(),
                            [](const std::string& l) { return !l.empty(); });
  lines.erase(lines.begin(), first);
  return absl::StrJoin(lines, "\n");
}

template <typename D>
std::string CommentOf(const D* d) {
  google::protobuf::SourceLocation location;
  if (d == nullptr || !d->GetSourceLocation(&location)) return "";
  return CleanComment(location.leading_comments.empty()
                          ? location.trailing_comments
                          : location.leading_comments);
}

std::string FirstSentence(absl::string_view text) {
  std::string flat = absl::StrReplaceAll(text, {{"\n", " "}});
  size_t end = flat.find(". ");
  return end == std::string::npos ? flat : flat.substr(0, end + 1);
}

std::string JoinParagraphs(const std::vector<std::string>& parts) {
  std::vector<std::string> present;
  for (const std::string& p : parts) {
    if (!p.empty()) present.push_back(p);
  }
  return absl::StrJoin(present, "\n\n");
}

// --- Types.

bool IsWellKnown(const Descriptor* d) {
  return d->file()->name().rfind("google/protobuf/", 0) == 0;
}

bool IsWrapper(const Descriptor* d) {
  return d->file()->name() == "google/protobuf/wrappers.proto";
}

// The well-known types TranscodeRequest sets from one string.
bool ParsedFromString(const Descriptor* d) {
  const std::string& name = d->full_name();
  return name == "google.protobuf.Timestamp" ||
         name == "google.protobuf.Duration" ||
         name == "google.protobuf.FieldMask" || IsWrapper(d);
}

// Enums and messages are the caller's.
Struct ScalarSchema(FieldDescriptor::Type type) {
  switch (type) {
    case FieldDescriptor::TYPE_DOUBLE:
      return Typed("number", "double");
    case FieldDescriptor::TYPE_FLOAT:
      return Typed("number", "float");
    case FieldDescriptor::TYPE_INT64:
    case FieldDescriptor::TYPE_SINT64:
    case FieldDescriptor::TYPE_SFIXED64:
    case FieldDescriptor::TYPE_UINT64:
    case FieldDescriptor::TYPE_FIXED64:
      // proto3 JSON writes 64-bit integers as strings: a JavaScript number
      // would lose precision.
      return Typed("string", "int64");
    case FieldDescriptor::TYPE_INT32:
    case FieldDescriptor::TYPE_SINT32:
    case FieldDescriptor::TYPE_SFIXED32:
      return Typed("integer", "int32");
    case FieldDescriptor::TYPE_UINT32:
    case FieldDescriptor::TYPE_FIXED32: {
      // No standard uint32 format: int64 with bounds says the same.
      Struct s = Typed("integer", "int64");
      Set(&s, "minimum", Num(0));
      Set(&s, "maximum", Num(4294967295.0));
      return s;
    }
    case FieldDescriptor::TYPE_BOOL:
      return Typed("boolean");
    case FieldDescriptor::TYPE_STRING:
      return Typed("string");
    case FieldDescriptor::TYPE_BYTES:
      return Typed("string", "byte");
    default:
      return Struct();
  }
}

Struct AnySchema() {
  Struct s = Typed("object");
  Set(&s, "description",
      Str("A message of any type: \"@type\" names it "
          "(type.googleapis.com/<full name>); its fields are beside it."));
  Struct type = Typed("string");
  Struct properties;
  Set(&properties, "@type", Obj(std::move(type)));
  Set(&s, "properties", Obj(std::move(properties)));
  ListValue required;
  *required.add_values() = Str("@type");
  Set(&s, "required", List(std::move(required)));
  Set(&s, "additionalProperties", Bool(true));
  return s;
}

std::optional<Struct> WellKnownSchema(const Descriptor* d) {
  if (!IsWellKnown(d)) return std::nullopt;
  const std::string& name = d->full_name();
  if (name == "google.protobuf.Timestamp") {
    return Typed("string", "date-time");
  }
  if (name == "google.protobuf.Duration") {
    Struct s = Typed("string");
    Set(&s, "pattern", Str("^-?[0-9]+(\\.[0-9]{1,9})?s$"));
    Set(&s, "example", Str("1.5s"));
    return s;
  }
  if (name == "google.protobuf.FieldMask") {
    return Typed("string");  // comma-separated field paths
  }
  if (IsWrapper(d) && d->field_count() == 1) {
    Struct s = ScalarSchema(d->field(0)->type());
    Set(&s, "nullable", Bool(true));
    return s;
  }
  if (name == "google.protobuf.Struct") {
    Struct s = Typed("object");
    Set(&s, "additionalProperties", Bool(true));
    return s;
  }
  if (name == "google.protobuf.Value") return Struct();  // any JSON value
  if (name == "google.protobuf.ListValue") {
    Struct s = Typed("array");
    Set(&s, "items", Obj(Struct()));
    return s;
  }
  if (name == "google.protobuf.Any") return AnySchema();
  if (name == "google.protobuf.Empty") return Typed("object");
  return std::nullopt;  // other google/protobuf messages are plain messages
}

// The path variable's pattern as written ("shelves/*/books/*").
std::string PatternOf(const PathTemplate& t, const PathVariable& v) {
  std::vector<std::string> parts;
  for (int i = v.start_segment; i < v.end_segment; ++i) {
    const PathSegment& s = t.segments[i];
    switch (s.kind) {
      case PathSegment::Kind::kLiteral:
        parts.push_back(s.literal);
        break;
      case PathSegment::Kind::kSingleWildcard:
        parts.push_back("*");
        break;
      case PathSegment::Kind::kMultiWildcard:
        parts.push_back("**");
        break;
    }
  }
  return absl::StrJoin(parts, "/");
}

const FieldDescriptor* ResolveField(const Descriptor* message,
                                    const std::vector<std::string>& path) {
  const FieldDescriptor* field = nullptr;
  for (const std::string& part : path) {
    if (message == nullptr) return nullptr;
    field = message->FindFieldByName(part);
    if (field == nullptr) return nullptr;
    message = field->message_type();
  }
  return field;
}

// Literals are stored decoded ("a b"); an OpenAPI path needs them encoded.
// Everything but unreserved characters and most sub-delims is escaped: the
// route table compares literals after decoding, so this changes no match,
// and it keeps '/', ':', '{' and '}' of a literal from reading as syntax.
std::string EncodeLiteral(absl::string_view literal) {
  static constexpr absl::string_view kKeep = "-._~!$&'()+,;=@";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : literal) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(byte) || kKeep.find(c) != absl::string_view::npos) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
  }
  return out;
}

// "{}" placeholders of `canonical` replaced by `{name}`, in order. Encoded
// literals hold no braces, so every "{}" is a placeholder.
std::string FillPlaceholders(const std::string& canonical,
                             const std::vector<std::string>& names) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (canonical.compare(i, 2, "{}") == 0 && next < names.size()) {
      absl::StrAppend(&out, "{", names[next++], "}");
      ++i;
    } else {
      out.push_back(canonical[i]);
    }
  }
  return out;
}

class DocumentBuilder {
 public:
  DocumentBuilder(const ApiCatalog& catalog, const OpenApiOptions& options)
      : catalog_(catalog), options_(options) {}

  Struct Build();

 private:
  // One `{...}` of an OpenAPI path.
  struct Placeholder {
    const PathVariable* variable = nullptr;  // null: a wildcard of no field
    const PathSegment* wildcard = nullptr;
    std::string name;
  };

  std::string NameOf(const FieldDescriptor* f) const {
    return options_.preserve_proto_field_names ? f->name() : f->json_name();
  }

  Struct MessageSchema(const Descriptor* d);
  Struct EnumSchema(const EnumDescriptor* e);
  Struct ElementSchema(const FieldDescriptor* f);
  Struct ValueSchema(const FieldDescriptor* f);  // repeated and maps too
  Struct FieldSchema(const FieldDescriptor* f);  // described
  Struct MessageComponent(const Descriptor* d);
  Struct EnumComponent(const EnumDescriptor* e);
  Struct StatusComponent();

  std::string OperationId(const HttpRoute& route);
  void AddRoute(const HttpRoute& route, Struct* paths);
  void AddQueryParameters(const Descriptor* message,
                          const std::string& proto_prefix,
                          const std::string& name_prefix,
                          const std::set<std::string>& bound,
                          const FieldDescriptor* body_field,
                          std::vector<const Descriptor*>* walking,
                          ListValue* parameters);
  Struct RequestBody(const HttpRoute& route);
  Struct Responses(const HttpRoute& route, const std::string& http_method);
  void NotListed(const HttpRoute& route, absl::string_view why);

  const ApiCatalog& catalog_;
  const OpenApiOptions& options_;
  Struct schemas_;
  // Messages named by a $ref whose component is still to be written.
  std::deque<const Descriptor*> pending_;
  std::set<std::string> referenced_;
  std::map<const MethodDescriptor*, int> bindings_seen_;
  std::set<std::string> operation_ids_;
  std::set<std::string> tagged_services_;
  // First path-variable names of each path shape ("/v1/users/{}").
  std::map<std::string, std::vector<std::string>> names_by_shape_;
  std::map<std::string, std::string> operation_at_;  // "get /v1/x" -> id
  ListValue not_listed_;
};

Struct DocumentBuilder::MessageSchema(const Descriptor* d) {
  if (d->full_name() == kStatusSchema) return Ref(kStatusSchema);
  std::optional<Struct> well_known = WellKnownSchema(d);
  if (well_known.has_value()) return *std::move(well_known);
  if (referenced_.insert(d->full_name()).second) pending_.push_back(d);
  return Ref(d->full_name());
}

Struct DocumentBuilder::EnumSchema(const EnumDescriptor* e) {
  if (e->full_name() == "google.protobuf.NullValue") {
    Struct s;
    Set(&s, "nullable", Bool(true));
    Set(&s, "description", Str("Always null."));
    return s;
  }
  if (!Has(schemas_, e->full_name())) {
    Set(&schemas_, e->full_name(), Obj(EnumComponent(e)));
  }
  return Ref(e->full_name());
}

Struct DocumentBuilder::ElementSchema(const FieldDescriptor* f) {
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageSchema(f->message_type());
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumSchema(f->enum_type());
    default:
      return ScalarSchema(f->type());
  }
}

Struct DocumentBuilder::ValueSchema(const FieldDescriptor* f) {
  if (f->is_map()) {
    Struct s = Typed("object");
    Set(&s, "additionalProperties",
        Obj(ElementSchema(f->message_type()->map_value())));
    return s;
  }
  if (f->is_repeated()) {
    Struct s = Typed("array");
    Set(&s, "items", Obj(ElementSchema(f)));
    return s;
  }
  return ElementSchema(f);
}

Struct DocumentBuilder::FieldSchema(const FieldDescriptor* f) {
  return Describe(ValueSchema(f), CommentOf(f), f->options().deprecated());
}

Struct DocumentBuilder::MessageComponent(const Descriptor* d) {
  Struct s = Typed("object");
  Struct properties;
  for (int i = 0; i < d->field_count(); ++i) {
    Set(&properties, NameOf(d->field(i)), Obj(FieldSchema(d->field(i))));
  }
  if (d->field_count() > 0) Set(&s, "properties", Obj(std::move(properties)));
  return Describe(std::move(s), CommentOf(d), d->options().deprecated());
}

Struct DocumentBuilder::EnumComponent(const EnumDescriptor* e) {
  const bool ints = options_.always_print_enums_as_ints;
  Struct s = ints ? Typed("integer", "int32") : Typed("string");
  ListValue values;
  std::set<int> numbers;  // aliases share a number
  std::vector<std::string> lines;
  for (int i = 0; i < e->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = e->value(i);
    if (!ints) {
      *values.add_values() = Str(v->name());
    } else if (numbers.insert(v->number()).second) {
      *values.add_values() = Num(v->number());
    }
    std::string comment = absl::StrReplaceAll(CommentOf(v), {{"\n", " "}});
    lines.push_back(absl::StrCat(
        "- ",
        ints ? absl::StrCat(v->number(), " (", v->name(), ")") : v->name(),
        comment.empty() ? "" : ": ", comment));
  }
  Set(&s, "enum", List(std::move(values)));
  Set(&s, "description",
      Str(JoinParagraphs({CommentOf(e), absl::StrJoin(lines, "\n")})));
  return s;
}

Struct DocumentBuilder::StatusComponent() {
  Struct s = Typed("object");
  Set(&s, "description",
      Str("The gateway's error body: the gRPC status of the call as "
          "google.rpc.Status in proto3 JSON. The HTTP status follows the "
          "code (3 INVALID_ARGUMENT: 400, 5 NOT_FOUND: 404, ...)."));
  Struct properties;
  Struct code = Typed("integer", "int32");
  Set(&code, "description", Str("The gRPC status code (google.rpc.Code)."));
  Set(&properties, "code", Obj(std::move(code)));
  Struct message = Typed("string");
  Set(&message, "description", Str("What went wrong, in English."));
  Set(&properties, "message", Obj(std::move(message)));
  Struct details = Typed("array");
  Set(&details, "items", Obj(AnySchema()));
  Set(&details, "description",
      Str("Machine-readable details (google.rpc.BadRequest, ...)."));
  Set(&properties, "details", Obj(std::move(details)));
  Set(&s, "properties", Obj(std::move(properties)));
  ListValue required;
  for (const char* name : {"code", "message", "details"}) {
    *required.add_values() = Str(name);
  }
  Set(&s, "required", List(std::move(required)));
  return s;
}

// `Service_Method`, unless another service of the same simple name needs the
// package to tell them apart.
std::string DocumentBuilder::OperationId(const HttpRoute& route) {
  const google::protobuf::ServiceDescriptor* service = route.method->service();
  bool shared_name = false;
  for (const std::string& other : catalog_.service_names()) {
    const google::protobuf::ServiceDescriptor* o =
        catalog_.pool().FindServiceByName(other);
    if (o != nullptr && o != service && o->name() == service->name()) {
      shared_name = true;
    }
  }
  std::string base =
      shared_name ? absl::StrReplaceAll(route.method->full_name(), {{".", "_"}})
                  : absl::StrCat(service->name(), "_", route.method->name());
  int binding = bindings_seen_[route.method]++;
  std::string id = binding == 0 ? base : absl::StrCat(base, "_", binding);
  // A method named like another's binding ("Get_1") must not collide.
  while (!operation_ids_.insert(id).second) absl::StrAppend(&id, "_");
  return id;
}

void DocumentBuilder::NotListed(const HttpRoute& route, absl::string_view why) {
  *not_listed_.add_values() =
      Str(absl::StrCat(route.http_method, " ", route.path_template, " (",
                       route.method->full_name(), "): ", why));
}

void DocumentBuilder::AddQueryParameters(
    const Descriptor* message, const std::string& proto_prefix,
    const std::string& name_prefix, const std::set<std::string>& bound,
    const FieldDescriptor* body_field, std::vector<const Descriptor*>* walking,
    ListValue* parameters) {
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* f = message->field(i);
    if (f == body_field || f->is_map()) continue;
    std::string proto_path = absl::StrCat(proto_prefix, f->name());
    if (bound.count(proto_path) > 0) continue;
    std::string name = absl::StrCat(name_prefix, NameOf(f));
    const Descriptor* type = f->message_type();
    if (type != nullptr && !ParsedFromString(type)) {
      // The query string reaches only singular messages, field by field.
      if (f->is_repeated() || IsWellKnown(type) ||
          std::find(walking->begin(), walking->end(), type) != walking->end()) {
        continue;
      }
      walking->push_back(type);
      AddQueryParameters(type, proto_path + ".", name + ".", bound, nullptr,
                         walking, parameters);
      walking->pop_back();
      continue;
    }
    Struct p;
    Set(&p, "name", Str(name));
    Set(&p, "in", Str("query"));
    std::string comment = CommentOf(f);
    if (!comment.empty()) Set(&p, "description", Str(comment));
    Set(&p, "schema", Obj(ValueSchema(f)));
    if (f->is_repeated()) {
      Set(&p, "style", Str("form"));
      Set(&p, "explode", Bool(true));
    }
    if (f->options().deprecated()) Set(&p, "deprecated", Bool(true));
    *parameters->add_values() = Obj(std::move(p));
  }
}

Struct DocumentBuilder::RequestBody(const HttpRoute& route) {
  const Descriptor* input = route.method->input_type();
  Struct schema;
  std::string description;
  bool form = false;
  if (route.body == HttpRoute::Body::kWhole) {
    schema = MessageSchema(input);
    description = absl::StrCat("A ", input->full_name(),
                               "; path parameters override its fields.");
    form = WellKnownSchema(input) == std::nullopt;
  } else {
    const FieldDescriptor* f = route.body_field;
    schema = ValueSchema(f);
    description =
        JoinParagraphs({absl::StrCat("The `", f->name(), "` field of ",
                                     input->full_name(), "."),
                        CommentOf(f)});
    form = f->message_type() != nullptr && !f->is_repeated() &&
           !IsWellKnown(f->message_type());
  }
  Struct body;
  if (form) {
    absl::StrAppend(&description,
                    "\n\nAs a form, fields are named as in query strings, "
                    "with dots for nested fields.");
  }
  Set(&body, "description", Str(description));
  Struct* content = Child(&body, "content");
  Set(Child(content, "application/json"), "schema", Obj(schema));
  if (form) {
    Set(Child(content, "application/x-www-form-urlencoded"), "schema",
        Obj(std::move(schema)));
  }
  return body;
}

Struct DocumentBuilder::Responses(const HttpRoute& route,
                                  const std::string& http_method) {
  const Descriptor* output = route.method->output_type();
  Struct responses;
  Struct* ok = Child(&responses, "200");
  if (http_method == "head") {
    Set(ok, "description", Str("Success; a HEAD response has no body."));
  } else {
    Struct schema;
    std::string what;  // "a stubmesh.user.v1.User"
    if (route.response_body_field != nullptr) {
      schema = ValueSchema(route.response_body_field);
      what = absl::StrCat("the `", route.response_body_field->name(),
                          "` field of a ", output->full_name());
    } else {
      schema = MessageSchema(output);
      what = absl::StrCat("a ", output->full_name());
    }
    std::string media = "application/json";
    std::string description;
    if (route.method->server_streaming()) {
      media = "application/x-ndjson";
      description = absl::StrCat(
          "A stream of JSON values, one per line, each ", what,
          ". A failure after the first line ends the stream with a line "
          "{\"error\": <google.rpc.Status>}.");
    } else {
      description = absl::StrCat(what, ".");
      description[0] = absl::ascii_toupper(description[0]);
    }
    Set(ok, "description", Str(description));
    Set(Child(Child(ok, "content"), media), "schema", Obj(std::move(schema)));
  }
  Struct* error = Child(&responses, "default");
  Set(error, "description", Str("An error: the call's gRPC status."));
  Set(Child(Child(error, "content"), "application/json"), "schema",
      Obj(Ref(kStatusSchema)));
  return responses;
}

void DocumentBuilder::AddRoute(const HttpRoute& route, Struct* paths) {
  static const std::set<std::string>* const kMethods =
      new std::set<std::string>{"get",     "put",  "post",  "delete",
                                "options", "head", "patch", "trace"};
  // Numbered before any check: a binding left out keeps the others' ids.
  const std::string id = OperationId(route);
  const std::string http_method = absl::AsciiStrToLower(route.http_method);
  if (kMethods->count(http_method) == 0) {
    NotListed(route, absl::StrCat("OpenAPI 3.0 has no HTTP method ",
                                  route.http_method));
    return;
  }
  absl::StatusOr<PathTemplate> parsed =
      PathTemplate::Parse(route.path_template);
  if (!parsed.ok()) {  // The catalog parsed it already.
    NotListed(route, parsed.status().message());
    return;
  }

  // The shape ("/v1/users/{}") and the placeholders, in path order.
  std::string shape;
  std::vector<Placeholder> placeholders;
  size_t next_variable = 0;
  int unbound = 0;
  for (size_t i = 0; i < parsed->segments.size();) {
    shape += "/";
    if (next_variable < parsed->variables.size() &&
        parsed->variables[next_variable].start_segment == static_cast<int>(i)) {
      const PathVariable& v = parsed->variables[next_variable++];
      placeholders.push_back({&v, nullptr, absl::StrJoin(v.field_path, ".")});
      shape += "{}";
      i = std::max<size_t>(v.end_segment, i + 1);
      continue;
    }
    const PathSegment& segment = parsed->segments[i++];
    if (segment.kind == PathSegment::Kind::kLiteral) {
      shape += EncodeLiteral(segment.literal);
    } else {
      placeholders.push_back(
          {nullptr, &segment, absl::StrCat("_segment", unbound++)});
      shape += "{}";
    }
  }
  if (!parsed->verb.empty()) {
    absl::StrAppend(&shape, ":", EncodeLiteral(parsed->verb));
  }

  // OpenAPI forbids two paths that differ only in their names: a later
  // route takes the first route's names.
  std::vector<std::string> own_names;
  for (const Placeholder& p : placeholders) own_names.push_back(p.name);
  const std::vector<std::string>& names =
      names_by_shape_.emplace(shape, own_names).first->second;
  const std::string key = FillPlaceholders(shape, names);
  const std::string where = absl::StrCat(http_method, " ", key);
  auto earlier = operation_at_.find(where);
  if (earlier != operation_at_.end()) {
    NotListed(route, absl::StrCat("OpenAPI path ", key, " already holds ",
                                  earlier->second));
    return;
  }
  operation_at_[where] = id;

  const Descriptor* input = route.method->input_type();
  ListValue parameters;
  std::set<std::string> bound;
  for (size_t k = 0; k < placeholders.size(); ++k) {
    const Placeholder& p = placeholders[k];
    Struct param;
    Set(&param, "name", Str(names[k]));
    Set(&param, "in", Str("path"));
    Set(&param, "required", Bool(true));
    std::vector<std::string> notes;
    Struct schema = Typed("string");
    if (p.variable != nullptr) {
      bound.insert(p.name);
      const FieldDescriptor* field =
          ResolveField(input, p.variable->field_path);
      const bool one_segment =
          !p.variable->multi_segment &&
          p.variable->end_segment - p.variable->start_segment == 1 &&
          parsed->segments[p.variable->start_segment].kind ==
              PathSegment::Kind::kSingleWildcard;
      if (names[k] != p.name) {
        notes.push_back(absl::StrCat("Sets `", p.name, "`."));
      }
      if (field != nullptr) {
        notes.push_back(CommentOf(field));
        if (one_segment) schema = ElementSchema(field);
        if (field->options().deprecated()) {
          Set(&param, "deprecated", Bool(true));
        }
      }
      if (p.variable->multi_segment) {
        notes.push_back(absl::StrCat(
            "Matches `", PatternOf(*parsed, *p.variable),
            "`: the rest of the path, any number of segments; send its `/` "
            "unescaped (an escaped `%2F` stays escaped in the value)."));
      } else if (!one_segment) {
        notes.push_back(absl::StrCat("Matches `",
                                     PatternOf(*parsed, *p.variable),
                                     "`; send its `/` unescaped."));
      }
    } else {
      notes.push_back(p.wildcard->kind == PathSegment::Kind::kMultiWildcard
                          ? "Any number of path segments (`**`); sets no field."
                          : "Any one path segment (`*`); sets no field.");
    }
    std::string description = JoinParagraphs(notes);
    if (!description.empty()) Set(&param, "description", Str(description));
    Set(&param, "schema", Obj(std::move(schema)));
    *parameters.add_values() = Obj(std::move(param));
  }
  if (route.body != HttpRoute::Body::kWhole) {
    std::vector<const Descriptor*> walking = {input};
    AddQueryParameters(input, "", "", bound, route.body_field, &walking,
                       &parameters);
  }

  Struct operation;
  Set(&operation, "operationId", Str(id));
  ListValue tags;
  const std::string& service = route.method->service()->full_name();
  *tags.add_values() = Str(service);
  tagged_services_.insert(service);
  Set(&operation, "tags", List(std::move(tags)));
  std::string comment = CommentOf(route.method);
  if (!comment.empty()) {
    std::string summary = FirstSentence(comment);
    Set(&operation, "summary", Str(summary));
    if (summary != comment) Set(&operation, "description", Str(comment));
  }
  Set(&operation, "x-stubmesh-grpc-method", Str(route.grpc_path));
  if (parameters.values_size() > 0) {
    Set(&operation, "parameters", List(std::move(parameters)));
  }
  if (route.body != HttpRoute::Body::kNone) {
    Set(&operation, "requestBody", Obj(RequestBody(route)));
  }
  Set(&operation, "responses", Obj(Responses(route, http_method)));
  if (route.method->options().deprecated()) {
    Set(&operation, "deprecated", Bool(true));
  }
  Set(Child(paths, key), http_method, Obj(std::move(operation)));
}

Struct DocumentBuilder::Build() {
  Struct doc;
  Set(&doc, "openapi", Str("3.0.3"));
  Struct* info = Child(&doc, "info");
  Set(info, "title", Str(options_.title));
  Set(info, "version", Str(options_.version));
  Set(info, "description",
      Str("Generated from the services' descriptors and their "
          "google.api.http annotations. Bodies are proto3 JSON. Query "
          "parameters and form fields name fields by proto or JSON name, "
          "with dots for nested fields, repeated by repetition. Every error "
          "is a google.rpc.Status."));

  Struct* paths = Child(&doc, "paths");
  for (const HttpRoute& route : catalog_.http_routes()) AddRoute(route, paths);

  Set(&schemas_, kStatusSchema, Obj(StatusComponent()));
  while (!pending_.empty()) {
    const Descriptor* d = pending_.front();
    pending_.pop_front();
    Set(&schemas_, d->full_name(), Obj(MessageComponent(d)));
  }
  Set(Child(&doc, "components"), "schemas", Obj(std::move(schemas_)));

  ListValue tags;
  for (const std::string& name : catalog_.service_names()) {
    if (tagged_services_.count(name) == 0) continue;
    Struct tag;
    Set(&tag, "name", Str(name));
    std::string comment = CommentOf(catalog_.pool().FindServiceByName(name));
    if (!comment.empty()) Set(&tag, "description", Str(comment));
    *tags.add_values() = Obj(std::move(tag));
  }
  if (tags.values_size() > 0) Set(&doc, "tags", List(std::move(tags)));
  if (not_listed_.values_size() > 0) {
    Set(&doc, "x-stubmesh-routes-not-listed", List(std::move(not_listed_)));
  }
  return doc;
}

}  // namespace

std::string BuildOpenApiDocument(const ApiCatalog& catalog,
                                 const OpenApiOptions& options) {
  Struct doc = DocumentBuilder(catalog, options).Build();
  // Struct is a map: deterministic serialization sorts its keys, and the
  // JSON printer keeps the wire order.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    doc.SerializeToCodedStream(&coded);
  }
  std::unique_ptr<google::protobuf::util::TypeResolver> resolver(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com",
          google::protobuf::DescriptorPool::generated_pool()));
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  std::string json;
  google::protobuf::util::Status s = google::protobuf::util::BinaryToJsonString(
      resolver.get(), "type.googleapis.com/google.protobuf.Struct", binary,
      &json, print);
  if (!s.ok()) {
    // Not expected: every value is a Struct value. Still valid JSON.
    json.clear();
    google::protobuf::util::MessageToJsonString(doc, &json, print);
  }
  return json;
}

}  // namespace stubmesh::gateway
