#include "gateway/openapi_document.h"

#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/api_catalog.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "google/protobuf/any.pb.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::FileDescriptorProto;
using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

std::vector<FileDescriptorProto> Load(const std::string& path) {
  absl::StatusOr<std::vector<FileDescriptorProto>> files =
      ReadFileDescriptorSet(path);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<FileDescriptorProto>{};
}

std::vector<FileDescriptorProto> AllFiles() {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  for (FileDescriptorProto& f :
       Load("gateway/testdata/transcoding_descriptor_set.pb")) {
    files.push_back(std::move(f));
  }
  return files;
}

Value Document(const std::vector<FileDescriptorProto>& files,
               const OpenApiOptions& options = {}) {
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  if (!catalog.ok()) return Value();
  std::string json = BuildOpenApiDocument(**catalog, options);
  Value doc;
  google::protobuf::util::Status s =
      google::protobuf::util::JsonStringToMessage(json, &doc);
  EXPECT_TRUE(s.ok()) << s << "\n" << json;
  return doc;
}

// doc["a"]["b"]...; a null Value (and a failure) when a key is missing.
const Value& At(const Value& v, const std::vector<std::string>& keys) {
  static const Value* const kNull = new Value();
  const Value* at = &v;
  std::string walked;
  for (const std::string& key : keys) {
    absl::StrAppend(&walked, "/", key);
    auto it = at->struct_value().fields().find(key);
    if (it == at->struct_value().fields().end()) {
      ADD_FAILURE() << "no " << walked;
      return *kNull;
    }
    at = &it->second;
  }
  return *at;
}

bool HasKey(const Value& v, const std::string& key) {
  return v.struct_value().fields().count(key) > 0;
}

std::vector<std::string> Keys(const Value& v) {
  std::vector<std::string> keys;
  for (const auto& [key, unused] : v.struct_value().fields()) {
    keys.push_back(key);
  }
  return keys;
}

std::string Str(const Value& v, const std::vector<std::string>& keys) {
  return At(v, keys).string_value();
}

// The operation's parameter `name` (in `in`); a null Value when none.
const Value& Param(const Value& operation, const std::string& name,
                   const std::string& in) {
  static const Value* const kNull = new Value();
  if (!HasKey(operation, "parameters")) return *kNull;
  for (const Value& p : At(operation, {"parameters"}).list_value().values()) {
    if (Str(p, {"name"}) == name && Str(p, {"in"}) == in) return p;
  }
  return *kNull;
}

std::vector<std::string> ParamNames(const Value& operation,
                                    const std::string& in) {
  std::vector<std::string> names;
  if (!HasKey(operation, "parameters")) return names;
  for (const Value& p : At(operation, {"parameters"}).list_value().values()) {
    if (Str(p, {"in"}) == in) names.push_back(Str(p, {"name"}));
  }
  return names;
}

std::vector<std::string> Strings(const Value& list) {
  std::vector<std::string> out;
  for (const Value& v : list.list_value().values()) {
    out.push_back(v.kind_case() == Value::kStringValue
                      ? v.string_value()
                      : absl::StrCat(v.number_value()));
  }
  return out;
}

void ForEachRef(const Value& v,
                const std::function<void(const std::string&)>& f) {
  if (v.has_struct_value()) {
    for (const auto& [key, child] : v.struct_value().fields()) {
      if (key == "$ref") f(child.string_value());
      ForEachRef(child, f);
    }
  } else if (v.has_list_value()) {
    for (const Value& child : v.list_value().values()) ForEachRef(child, f);
  }
}

std::string Ref(const std::string& name) {
  return absl::StrCat("#/components/schemas/", name);
}

class OpenApiDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override { doc_ = Document(AllFiles()); }
  const Value& Op(const std::string& path, const std::string& method) {
    return At(doc_, {"paths", path, method});
  }
  const Value& Schema(const std::string& name) {
    return At(doc_, {"components", "schemas", name});
  }
  Value doc_;
};

TEST_F(OpenApiDocumentTest, HeaderAndEveryBinding) {
  EXPECT_EQ(Str(doc_, {"openapi"}), "3.0.3");
  EXPECT_EQ(Str(doc_, {"info", "title"}), "stubmesh");
  EXPECT_EQ(Str(doc_, {"info", "version"}), "1.0.0");
  EXPECT_THAT(Keys(At(doc_, {"paths"})),
              UnorderedElementsAre(
                  "/user", "/order", "/v1/users", "/v1/users/{id}",
                  "/v1/users/{user_id}/orders", "/v1/orders", "/v1/orders/{id}",
                  "/v1/echo", "/v1/echo/{id}", "/v1/echo/{inner.text}:shout",
                  "/v1/echo/tags", "/v1/files/{name}", "/v1/{name}", "/v1/tags",
                  "/v1/inner", "/v1/stream", "/v1/user-events",
                  "/v1/order-events"));
  EXPECT_THAT(Keys(At(doc_, {"paths", "/v1/users/{id}"})),
              UnorderedElementsAre("get", "patch", "delete"));
  EXPECT_THAT(Keys(At(doc_, {"paths", "/v1/echo/{id}"})),
              UnorderedElementsAre("get", "head"));
  EXPECT_FALSE(HasKey(doc_, "x-stubmesh-routes-not-listed"));
  std::vector<std::string> tags;
  for (const Value& t : At(doc_, {"tags"}).list_value().values()) {
    tags.push_back(Str(t, {"name"}));
  }
  EXPECT_THAT(tags, UnorderedElementsAre("stubmesh.user.v1.UserService",
                                         "stubmesh.order.v1.OrderService",
                                         "stubmesh.testing.v1.EchoService"));
}

TEST_F(OpenApiDocumentTest, OperationIdsAreUniquePerBinding) {
  EXPECT_EQ(Str(Op("/v1/users/{id}", "get"), {"operationId"}),
            "UserService_GetUser");
  EXPECT_EQ(Str(Op("/user", "get"), {"operationId"}), "UserService_GetUser_1");
  EXPECT_EQ(Str(Op("/v1/echo/{id}", "head"), {"operationId"}),
            "EchoService_Echo_6");
  EXPECT_EQ(Str(Op("/user", "get"), {"x-stubmesh-grpc-method"}),
            "/stubmesh.user.v1.UserService/GetUser");
  std::set<std::string> ids;
  int operations = 0;
  for (const auto& [path, item] : At(doc_, {"paths"}).struct_value().fields()) {
    for (const auto& [method, op] : item.struct_value().fields()) {
      ids.insert(Str(op, {"operationId"}));
      ++operations;
    }
  }
  EXPECT_EQ(ids.size(), operations);
  EXPECT_EQ(operations, 25);
}

TEST_F(OpenApiDocumentTest, CommentsBecomeSummariesAndDescriptions) {
  const Value& get = Op("/v1/users/{id}", "get");
  EXPECT_EQ(Str(get, {"summary"}), "Returns one user.");
  EXPECT_EQ(Str(get, {"description"}),
            "Returns one user. Unknown or deleted id: NOT_FOUND.");
  EXPECT_EQ(Str(Param(get, "id", "path"), {"description"}),
            "Required, positive.");
  EXPECT_THAT(Str(Schema("stubmesh.user.v1.User"),
                  {"properties", "email", "description"}),
              HasSubstr("Required on create; at most 254 characters"));
  EXPECT_THAT(Str(Schema("stubmesh.order.v1.OrderStatus"), {"description"}),
              HasSubstr("ORDER_STATUS_OPEN: Placed and not yet finished"));
  // A described $ref goes through allOf: siblings of $ref are ignored.
  const Value& status =
      At(Schema("stubmesh.order.v1.Order"), {"properties", "status"});
  EXPECT_EQ(Str(status, {"description"}),
            "Output only; ORDER_STATUS_OPEN when created.");
  EXPECT_EQ(Str(At(status, {"allOf"}).list_value().values(0), {"$ref"}),
            Ref("stubmesh.order.v1.OrderStatus"));
}

TEST_F(OpenApiDocumentTest, PathParameters) {
  const Value& id = Param(Op("/v1/users/{id}", "get"), "id", "path");
  EXPECT_TRUE(At(id, {"required"}).bool_value());
  EXPECT_EQ(Str(id, {"schema", "type"}), "string");
  EXPECT_EQ(Str(id, {"schema", "format"}), "int64");

  // {user.id} takes the name of the equivalent /v1/users/{id}.
  const Value& patch = Op("/v1/users/{id}", "patch");
  EXPECT_THAT(ParamNames(patch, "path"), ElementsAre("id"));
  EXPECT_THAT(Str(Param(patch, "id", "path"), {"description"}),
              HasSubstr("Sets `user.id`."));

  const Value& shout = Op("/v1/echo/{inner.text}:shout", "post");
  EXPECT_THAT(ParamNames(shout, "path"), ElementsAre("inner.text"));

  const Value& files = Param(Op("/v1/files/{name}", "get"), "name", "path");
  EXPECT_TRUE(At(files, {"required"}).bool_value());
  EXPECT_THAT(Str(files, {"description"}), HasSubstr("Matches `**`"));
  const Value& books = Param(Op("/v1/{name}", "get"), "name", "path");
  EXPECT_THAT(Str(books, {"description"}),
              HasSubstr("Matches `shelves/*/books/*`"));
  EXPECT_EQ(Str(books, {"schema", "type"}), "string");
}

TEST_F(OpenApiDocumentTest, QueryParametersAreTheFieldsLeft) {
  const Value& get = Op("/v1/echo/{id}", "get");
  EXPECT_THAT(
      ParamNames(get, "query"),
      UnorderedElementsAre("name", "count", "flag", "ratio", "kind", "tags",
                           "numbers", "blob", "at", "wait", "mask", "maybe",
                           "inner.text", "inner.level", "big", "shownAs"));
  const Value& tags = Param(get, "tags", "query");
  EXPECT_EQ(Str(tags, {"schema", "type"}), "array");
  EXPECT_EQ(Str(tags, {"schema", "items", "type"}), "string");
  EXPECT_EQ(Str(tags, {"style"}), "form");
  EXPECT_TRUE(At(tags, {"explode"}).bool_value());
  EXPECT_FALSE(Param(get, "id", "query").has_struct_value());
  EXPECT_EQ(Str(Param(get, "at", "query"), {"schema", "format"}), "date-time");
  EXPECT_EQ(Str(Param(get, "kind", "query"), {"schema", "$ref"}),
            Ref("stubmesh.testing.v1.Kind"));
  EXPECT_EQ(Str(Param(get, "big", "query"), {"schema", "type"}), "string");

  // The body field and what the path binds are not query parameters.
  const Value& shout = Op("/v1/echo/{inner.text}:shout", "post");
  EXPECT_THAT(ParamNames(shout, "query"), Not(Contains("inner.text")));
  EXPECT_THAT(ParamNames(shout, "query"), Not(Contains("inner.level")));
  EXPECT_THAT(ParamNames(shout, "query"), IsSupersetOf({"id", "tags"}));
  EXPECT_THAT(ParamNames(Op("/v1/users", "post"), "query"),
              ElementsAre("requestId"));
  EXPECT_THAT(ParamNames(Op("/user", "get"), "query"), ElementsAre("id"));

  // body "*": everything comes from the body.
  EXPECT_FALSE(HasKey(Op("/v1/echo", "post"), "parameters"));
}

TEST_F(OpenApiDocumentTest, RequestBodies) {
  const Value& whole = At(Op("/v1/echo", "post"), {"requestBody", "content"});
  EXPECT_EQ(Str(whole, {"application/json", "schema", "$ref"}),
            Ref("stubmesh.testing.v1.EchoRequest"));
  EXPECT_EQ(Str(whole, {"application/x-www-form-urlencoded", "schema", "$ref"}),
            Ref("stubmesh.testing.v1.EchoRequest"));

  const Value& user = At(Op("/v1/users", "post"), {"requestBody", "content"});
  EXPECT_EQ(Str(user, {"application/json", "schema", "$ref"}),
            Ref("stubmesh.user.v1.User"));
  EXPECT_TRUE(HasKey(user, "application/x-www-form-urlencoded"));

  // A repeated body field is JSON only.
  const Value& tags =
      At(Op("/v1/echo/tags", "put"), {"requestBody", "content"});
  EXPECT_THAT(Keys(tags), ElementsAre("application/json"));
  EXPECT_EQ(Str(tags, {"application/json", "schema", "type"}), "array");

  EXPECT_FALSE(HasKey(Op("/v1/users/{id}", "get"), "requestBody"));
}

TEST_F(OpenApiDocumentTest, Responses) {
  EXPECT_EQ(
      Str(Op("/v1/users/{id}", "get"), {"responses", "200", "content",
                                        "application/json", "schema", "$ref"}),
      Ref("stubmesh.user.v1.User"));
  // response_body: the field, not the message.
  const Value& tags = At(Op("/v1/tags", "get"), {"responses", "200", "content",
                                                 "application/json", "schema"});
  EXPECT_EQ(Str(tags, {"type"}), "array");
  EXPECT_EQ(Str(tags, {"items", "type"}), "string");
  EXPECT_EQ(Str(Op("/v1/inner", "get"), {"responses", "200", "content",
                                         "application/json", "schema", "$ref"}),
            Ref("stubmesh.testing.v1.Inner"));
  // google.protobuf.Empty is an empty object.
  EXPECT_EQ(Str(Op("/v1/users/{id}", "delete"),
                {"responses", "200", "content", "application/json", "schema",
                 "type"}),
            "object");
  EXPECT_TRUE(
      HasKey(At(Op("/v1/stream", "get"), {"responses", "200", "content"}),
             "application/x-ndjson"));
  EXPECT_FALSE(
      HasKey(At(Op("/v1/echo/{id}", "head"), {"responses", "200"}), "content"));

  for (const auto& [path, item] : At(doc_, {"paths"}).struct_value().fields()) {
    for (const auto& [method, op] : item.struct_value().fields()) {
      EXPECT_EQ(Str(op, {"responses", "default", "content", "application/json",
                         "schema", "$ref"}),
                Ref("google.rpc.Status"))
          << method << " " << path;
    }
  }
}

TEST_F(OpenApiDocumentTest, ErrorSchemaIsGoogleRpcStatus) {
  const Value& status = Schema("google.rpc.Status");
  EXPECT_EQ(Str(status, {"properties", "code", "type"}), "integer");
  EXPECT_EQ(Str(status, {"properties", "code", "format"}), "int32");
  EXPECT_EQ(Str(status, {"properties", "message", "type"}), "string");
  const Value& details = At(status, {"properties", "details"});
  EXPECT_EQ(Str(details, {"type"}), "array");
  EXPECT_EQ(Str(details, {"items", "type"}), "object");
  EXPECT_EQ(Str(details, {"items", "properties", "@type", "type"}), "string");
  EXPECT_THAT(Strings(At(status, {"required"})),
              UnorderedElementsAre("code", "message", "details"));
}

TEST_F(OpenApiDocumentTest, EveryRefResolves) {
  std::set<std::string> refs;
  ForEachRef(doc_, [&](const std::string& ref) { refs.insert(ref); });
  EXPECT_THAT(refs, Not(IsEmpty()));
  const Value& schemas = At(doc_, {"components", "schemas"});
  for (const std::string& ref : refs) {
    ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
    EXPECT_TRUE(HasKey(schemas, ref.substr(strlen("#/components/schemas/"))))
        << ref;
  }
  // Only what some operation reaches, plus the error schema.
  EXPECT_THAT(
      Keys(schemas),
      UnorderedElementsAre(
          "google.rpc.Status", "stubmesh.user.v1.User",
          "stubmesh.user.v1.ListUsersResponse", "stubmesh.order.v1.Order",
          "stubmesh.order.v1.LineItem", "stubmesh.order.v1.OrderStatus",
          "stubmesh.order.v1.ListOrdersResponse",
          "stubmesh.user.v1.UserEvent", "stubmesh.user.v1.UserCreated",
          "stubmesh.user.v1.UserUpdated", "stubmesh.user.v1.UserDeleted",
          "stubmesh.order.v1.OrderEvent", "stubmesh.order.v1.OrderCreated",
          "stubmesh.order.v1.OrderCancelled", "stubmesh.testing.v1.EchoRequest",
          "stubmesh.testing.v1.Inner", "stubmesh.testing.v1.Kind"));
}

TEST_F(OpenApiDocumentTest, Proto3JsonMapping) {
  const Value& user = At(Schema("stubmesh.user.v1.User"), {"properties"});
  EXPECT_EQ(Str(user, {"id", "type"}), "string");
  EXPECT_EQ(Str(user, {"id", "format"}), "int64");
  EXPECT_EQ(Str(user, {"createTime", "type"}), "string");
  EXPECT_EQ(Str(user, {"createTime", "format"}), "date-time");
  EXPECT_EQ(
      Str(Schema("stubmesh.order.v1.Order"), {"properties", "total", "type"}),
      "integer");

  const Value& echo =
      At(Schema("stubmesh.testing.v1.EchoRequest"), {"properties"});
  EXPECT_EQ(Str(echo, {"big", "type"}), "string");
  EXPECT_EQ(Str(echo, {"count", "format"}), "int32");
  EXPECT_EQ(Str(echo, {"ratio", "type"}), "number");
  EXPECT_EQ(Str(echo, {"flag", "type"}), "boolean");
  EXPECT_EQ(Str(echo, {"blob", "format"}), "byte");
  EXPECT_EQ(Str(echo, {"wait", "type"}), "string");
  EXPECT_EQ(Str(echo, {"mask", "type"}), "string");
  EXPECT_EQ(Str(echo, {"maybe", "type"}), "string");
  EXPECT_TRUE(At(echo, {"maybe", "nullable"}).bool_value());
  EXPECT_EQ(Str(echo, {"numbers", "items", "type"}), "integer");
  EXPECT_EQ(Str(echo, {"inner", "$ref"}), Ref("stubmesh.testing.v1.Inner"));
  EXPECT_EQ(Str(echo, {"kind", "$ref"}), Ref("stubmesh.testing.v1.Kind"));
  EXPECT_TRUE(HasKey(echo, "shownAs"));  // json_name
  EXPECT_FALSE(HasKey(echo, "display_name"));

  const Value& kind = Schema("stubmesh.testing.v1.Kind");
  EXPECT_EQ(Str(kind, {"type"}), "string");
  EXPECT_THAT(Strings(At(kind, {"enum"})),
              ElementsAre("KIND_UNSPECIFIED", "KIND_SMALL", "KIND_LARGE"));
}

TEST(OpenApiDocumentOptionsTest, ProtoNamesAndEnumsAsInts) {
  OpenApiOptions options;
  options.title = "shop";
  options.version = "7";
  options.preserve_proto_field_names = true;
  options.always_print_enums_as_ints = true;
  Value doc = Document(AllFiles(), options);
  EXPECT_EQ(Str(doc, {"info", "title"}), "shop");
  EXPECT_EQ(Str(doc, {"info", "version"}), "7");
  const Value& echo =
      At(doc, {"components", "schemas", "stubmesh.testing.v1.EchoRequest",
               "properties"});
  EXPECT_TRUE(HasKey(echo, "display_name"));
  EXPECT_FALSE(HasKey(echo, "shownAs"));
  EXPECT_TRUE(HasKey(
      At(doc, {"components", "schemas", "stubmesh.user.v1.User", "properties"}),
      "create_time"));
  EXPECT_THAT(ParamNames(At(doc, {"paths", "/v1/users", "get"}), "query"),
              UnorderedElementsAre("page_size", "page_token"));
  const Value& kind =
      At(doc, {"components", "schemas", "stubmesh.testing.v1.Kind"});
  EXPECT_EQ(Str(kind, {"type"}), "integer");
  EXPECT_THAT(Strings(At(kind, {"enum"})), ElementsAre("0", "1", "2"));
  EXPECT_THAT(Str(kind, {"description"}), HasSubstr("1 (KIND_SMALL)"));
}

TEST(OpenApiDocumentOptionsTest, SameCatalogSameBytes) {
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> a =
      ApiCatalog::Create(AllFiles());
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> b =
      ApiCatalog::Create(AllFiles());
  ASSERT_TRUE(a.ok() && b.ok());
  std::string first = BuildOpenApiDocument(**a, {});
  EXPECT_EQ(first, BuildOpenApiDocument(**a, {}));
  EXPECT_EQ(first, BuildOpenApiDocument(**b, {}));
}

// A contract with what the shipped ones lack: recursion, maps, Struct, Any,
// deprecation, unsigned ints, routes OpenAPI cannot hold, a wildcard of no
// field, and two services of one simple name.
constexpr char kNodeProto[] = R"pb(
  name: "t/v1/node.proto"
  package: "t.v1"
  dependency: "google/api/annotations.proto"
  dependency: "google/protobuf/struct.proto"
  dependency: "google/protobuf/any.proto"
  syntax: "proto3"
  message_type {
    name: "Node"
    field { name: "name" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field {
      name: "child"
      number: 2
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".t.v1.Node"
    }
    field {
      name: "children"
      number: 3
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".t.v1.Node"
    }
    field {
      name: "by_name"
      number: 4
      label: LABEL_REPEATED
      type: TYPE_MESSAGE
      type_name: ".t.v1.Node.ByNameEntry"
    }
    field {
      name: "attrs"
      number: 5
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Struct"
    }
    field {
      name: "extra"
      number: 6
      label: LABEL_OPTIONAL
      type: TYPE_MESSAGE
      type_name: ".google.protobuf.Any"
    }
    field {
      name: "old"
      number: 7
      label: LABEL_OPTIONAL
      type: TYPE_UINT32
      options { deprecated: true }
    }
    nested_type {
      name: "ByNameEntry"
      field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
      field {
        name: "value"
        number: 2
        label: LABEL_OPTIONAL
        type: TYPE_MESSAGE
        type_name: ".t.v1.Node"
      }
      options { map_entry: true }
    }
  }
  service {
    name: "NodeService"
    method {
      name: "GetNode"
      input_type: ".t.v1.Node"
      output_type: ".t.v1.Node"
      options {
        [google.api.http] {
          get: "/v1/{name=shelves/*}"
          additional_bindings { get: "/v1/{name=authors/*}" }
          additional_bindings { custom { kind: "PURGE" path: "/v1/nodes" } }
          additional_bindings { get: "/v2/*/nodes/{name}" }
          additional_bindings { get: "/v4/a%20b%7Bc/{name}:do%2Fit" }
        }
      }
    }
  }
)pb";

constexpr char kOtherNodeProto[] = R"pb(
  name: "u/v1/node.proto"
  package: "u.v1"
  dependency: "google/api/annotations.proto"
  dependency: "google/protobuf/empty.proto"
  syntax: "proto3"
  service {
    name: "NodeService"
    method {
      name: "GetNode"
      input_type: ".google.protobuf.Empty"
      output_type: ".google.protobuf.Empty"
      options {
        [google.api.http] { post: "/v3/nodes" body: "*" }
      }
    }
  }
)pb";

std::vector<FileDescriptorProto> NodeFiles() {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  for (const google::protobuf::FileDescriptor* wkt :
       {google::protobuf::Struct::descriptor()->file(),
        google::protobuf::Any::descriptor()->file()}) {
    wkt->CopyTo(&files.emplace_back());
  }
  for (const char* text : {kNodeProto, kOtherNodeProto}) {
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
        text, &files.emplace_back()));
  }
  return files;
}

TEST(OpenApiDocumentEdgeTest, RecursionMapsAndWellKnownTypes) {
  Value doc = Document(NodeFiles());
  const Value& node =
      At(doc, {"components", "schemas", "t.v1.Node", "properties"});
  EXPECT_EQ(Str(node, {"child", "$ref"}), Ref("t.v1.Node"));
  EXPECT_EQ(Str(node, {"children", "items", "$ref"}), Ref("t.v1.Node"));
  EXPECT_EQ(Str(node, {"byName", "type"}), "object");
  EXPECT_EQ(Str(node, {"byName", "additionalProperties", "$ref"}),
            Ref("t.v1.Node"));
  EXPECT_EQ(Str(node, {"attrs", "type"}), "object");
  EXPECT_TRUE(At(node, {"attrs", "additionalProperties"}).bool_value());
  EXPECT_EQ(Str(node, {"extra", "properties", "@type", "type"}), "string");
  EXPECT_TRUE(At(node, {"old", "deprecated"}).bool_value());
  EXPECT_EQ(At(node, {"old", "maximum"}).number_value(), 4294967295.0);
  EXPECT_FALSE(
      HasKey(At(doc, {"components", "schemas"}), "t.v1.Node.ByNameEntry"));

  // The query string reaches neither a message already walked, nor maps,
  // repeated messages, Struct or Any.
  const Value& get = At(doc, {"paths", "/v1/{name}", "get"});
  EXPECT_THAT(ParamNames(get, "query"), ElementsAre("old"));
  EXPECT_TRUE(At(Param(get, "old", "query"), {"deprecated"}).bool_value());
}

TEST(OpenApiDocumentEdgeTest, RoutesOpenApiCannotHold) {
  Value doc = Document(NodeFiles());
  EXPECT_EQ(Str(doc, {"paths", "/v1/{name}", "get", "operationId"}),
            "t_v1_NodeService_GetNode");
  EXPECT_EQ(Str(doc, {"paths", "/v3/nodes", "post", "operationId"}),
            "u_v1_NodeService_GetNode");
  EXPECT_THAT(
      Strings(At(doc, {"x-stubmesh-routes-not-listed"})),
      ElementsAre(HasSubstr("GET /v1/{name=authors/*} (t.v1.NodeService."
                            "GetNode): OpenAPI path /v1/{name} already holds "
                            "t_v1_NodeService_GetNode"),
                  HasSubstr("PURGE /v1/nodes (t.v1.NodeService.GetNode): "
                            "OpenAPI 3.0 has no HTTP method PURGE")));
  // Not listed, the bindings keep their numbers.
  const Value& wildcard =
      At(doc, {"paths", "/v2/{_segment0}/nodes/{name}", "get"});
  EXPECT_EQ(Str(wildcard, {"operationId"}), "t_v1_NodeService_GetNode_3");
  EXPECT_THAT(ParamNames(wildcard, "path"), ElementsAre("_segment0", "name"));
  EXPECT_THAT(Str(Param(wildcard, "_segment0", "path"), {"description"}),
              HasSubstr("sets no field"));
  // Literals and verbs are stored decoded: the path escapes them again.
  EXPECT_EQ(
      Str(doc, {"paths", "/v4/a%20b%7Bc/{name}:do%2Fit", "get", "operationId"}),
      "t_v1_NodeService_GetNode_4");
}

}  // namespace
}  // namespace stubmesh::gateway
