#include "gateway/request_transcoder.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::Message;
using ::testing::HasSubstr;

class RequestTranscoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<google::protobuf::FileDescriptorProto> files =
        *ReadFileDescriptorSet("protos/descriptor_set.pb");
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> more =
        ReadFileDescriptorSet("gateway/testdata/transcoding_descriptor_set.pb");
    files.insert(files.end(), more->begin(), more->end());
    catalog_ =
        new std::shared_ptr<const ApiCatalog>(*ApiCatalog::Create(files));
  }

  static void TearDownTestSuite() {
    delete catalog_;  // LeakSanitizer (--config=asan) reports what is left
    catalog_ = nullptr;
  }

  // Transcodes a request and returns it as compact JSON, or the error.
  absl::StatusOr<std::string> Request(absl::string_view method,
                                      absl::string_view path,
                                      absl::string_view query = "",
                                      BodyFormat format = BodyFormat::kNone,
                                      absl::string_view body = "",
                                      TranscodeOptions options = {}) {
    std::optional<RouteMatch> match = (*catalog_)->routes().Match(method, path);
    if (!match) return absl::NotFoundError("no route");
    const HttpRoute& route = (*catalog_)->route(match->route_index);
    std::unique_ptr<Message> request(route.request_prototype->New());
    absl::Status s = TranscodeRequest(route, *match, query, format, body,
                                      options, request.get());
    if (!s.ok()) return s;
    std::string json;
    google::protobuf::util::MessageToJsonString(*request, &json);
    return json;
  }

  static std::shared_ptr<const ApiCatalog>* catalog_;
};

std::shared_ptr<const ApiCatalog>* RequestTranscoderTest::catalog_ = nullptr;

TEST_F(RequestTranscoderTest, PathVariableSetsTypedField) {
  EXPECT_EQ(*Request("GET", "/v1/echo/42"), R"({"id":"42"})");
  EXPECT_EQ(*Request("GET", "/v1/users/7"), R"({"id":"7"})");
}

TEST_F(RequestTranscoderTest, OriginalApiQueryId) {
  EXPECT_EQ(*Request("GET", "/user", "id=1"), R"({"id":"1"})");
  absl::StatusOr<std::string> bad = Request("GET", "/user", "id=abc");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("query parameter 'id'"));
  EXPECT_THAT(bad.status().message(), HasSubstr("'abc' is not an int64"));
}

TEST_F(RequestTranscoderTest, OriginalApiFormBody) {
  EXPECT_EQ(*Request("POST", "/user", "request_id=r1", BodyFormat::kForm,
                     "name=Ada+L&email=ada%40example.com"),
            R"({"user":{"name":"Ada L","email":"ada@example.com"},)"
            R"("requestId":"r1"})");
}

// POST /order's form body can set user_id, but a form has no way to say
// which line item a field belongs to: the refusal says to send JSON.
TEST_F(RequestTranscoderTest, FormBodyCannotCarryRepeatedMessages) {
  EXPECT_EQ(*Request("POST", "/order", "request_id=r1", BodyFormat::kForm,
                     "user_id=7"),
            R"({"order":{"userId":"7"},"requestId":"r1"})");
  for (absl::string_view form :
       {"user_id=7&items.sku=CUP&items.quantity=1", "user_id=7&items=CUP"}) {
    absl::StatusOr<std::string> refused =
        Request("POST", "/order", "", BodyFormat::kForm, form);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << form;
    EXPECT_THAT(refused.status().message(), HasSubstr("form field 'items"))
        << form;
    EXPECT_THAT(refused.status().message(),
                HasSubstr("'items' is a list of messages, which a query "
                          "string or form body cannot carry"))
        << form;
    EXPECT_THAT(refused.status().message(), HasSubstr("application/json"))
        << form;
  }
}

TEST_F(RequestTranscoderTest, QueryScalarsByProtoOrJsonName) {
  EXPECT_EQ(
      *Request("GET", "/v1/echo/1",
               "name=n&count=-3&flag=true&ratio=2.5&kind=KIND_LARGE&big="
               "18446744073709551615&shownAs=s&display_name=t"),
      R"({"id":"1","name":"n","count":-3,"flag":true,"ratio":2.5,)"
      R"("kind":"KIND_LARGE","big":"18446744073709551615","shownAs":"t"})");
  EXPECT_EQ(*Request("GET", "/v1/echo/1", "kind=1"),
            R"({"id":"1","kind":"KIND_SMALL"})");
}

TEST_F(RequestTranscoderTest, RepeatedAndNestedQuery) {
  EXPECT_EQ(*Request("GET", "/v1/echo/1",
                     "tags=a&tags=b&numbers=1&numbers=2&inner.text=x&"
                     "inner.level=3"),
            R"({"id":"1","tags":["a","b"],"numbers":[1,2],)"
            R"("inner":{"text":"x","level":3}})");
}

TEST_F(RequestTranscoderTest, WellKnownTypesFromStrings) {
  EXPECT_EQ(*Request("GET", "/v1/echo/1",
                     "at=2024-05-06T07:08:09Z&wait=1.5s&mask=name,inner.text&"
                     "maybe=-9&blob=aGk%3D"),
            R"({"id":"1","blob":"aGk=","at":"2024-05-06T07:08:09Z",)"
            R"("wait":"1.500s","mask":"name,inner.text","maybe":"-9"})");
  EXPECT_THAT(Request("GET", "/v1/echo/1", "at=yesterday").status().message(),
              HasSubstr("RFC 3339"));
  EXPECT_THAT(Request("GET", "/v1/echo/1", "wait=soon").status().message(),
              HasSubstr("duration"));
}

TEST_F(RequestTranscoderTest, BadQueryValuesNameTheParameter) {
  for (const char* query :
       {"count=1.5", "count=99999999999", "flag=yes", "kind=KIND_HUGE",
        "ratio=x", "blob=%%%", "inner=3", "big=-1"}) {
    absl::StatusOr<std::string> r = Request("GET", "/v1/echo/1", query);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << query;
    EXPECT_THAT(r.status().message(), HasSubstr("query")) << query;
  }
}

TEST_F(RequestTranscoderTest, UnknownQueryParameterIsRefusedUnlessIgnored) {
  absl::StatusOr<std::string> r = Request("GET", "/v1/echo/1", "colour=red");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'colour'"));
  TranscodeOptions lenient;
  lenient.ignore_unknown_fields = true;
  EXPECT_EQ(*Request("GET", "/v1/echo/1", "colour=red", BodyFormat::kNone, "",
                     lenient),
            R"({"id":"1"})");
}

TEST_F(RequestTranscoderTest, PathWinsOverQueryAndBody) {
  EXPECT_EQ(*Request("GET", "/v1/echo/5", "id=6"), R"({"id":"5"})");
  EXPECT_EQ(*Request("POST", "/v1/echo/hey:shout", "", BodyFormat::kJson,
                     R"({"text":"body","level":2})"),
            R"({"inner":{"text":"hey","level":2}})");
}

TEST_F(RequestTranscoderTest, WholeBody) {
  EXPECT_EQ(*Request("POST", "/v1/echo", "", BodyFormat::kJson,
                     R"({"id":"3","tags":["x"],"inner":{"level":1}})"),
            R"({"id":"3","tags":["x"],"inner":{"level":1}})");
  absl::StatusOr<std::string> r =
      Request("POST", "/v1/echo", "name=q", BodyFormat::kJson, "{}");
  EXPECT_THAT(r.status().message(),
              HasSubstr("every field from the request body"));
}

TEST_F(RequestTranscoderTest, FieldBodyCannotBeSetFromQuery) {
  absl::StatusOr<std::string> r =
      Request("POST", "/v1/users", "user.name=x", BodyFormat::kJson, "{}");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("request body"));
}

TEST_F(RequestTranscoderTest, RepeatedScalarBodyCannotReachOtherFields) {
  EXPECT_EQ(
      *Request("PUT", "/v1/echo/tags", "", BodyFormat::kJson, R"(["a","b"])"),
      R"({"tags":["a","b"]})");
  absl::StatusOr<std::string> r = Request(
      "PUT", "/v1/echo/tags", "", BodyFormat::kJson, R"(["a"], "name": "x")");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RequestTranscoderTest, BadJsonBodies) {
  for (const char* body : {"{", "[]", R"({"id": {}})", R"({"count": "many"})",
                           R"({"unknownField": 1})", "\"\xff\""}) {
    absl::StatusOr<std::string> r =
        Request("POST", "/v1/echo", "", BodyFormat::kJson, body);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << body;
    EXPECT_THAT(r.status().message(), HasSubstr("body")) << body;
  }
  absl::StatusOr<std::string> unknown = Request(
      "POST", "/v1/echo", "", BodyFormat::kJson, R"({"unknownField": 1})");
  EXPECT_THAT(unknown.status().message(), HasSubstr("unknownField"));
}

TEST_F(RequestTranscoderTest, BodyOnARouteWithoutOne) {
  absl::StatusOr<std::string> r =
      Request("GET", "/v1/echo/1", "", BodyFormat::kJson, R"({"name":"x"})");
  EXPECT_THAT(r.status().message(), HasSubstr("takes no request body"));
  EXPECT_EQ(*Request("GET", "/v1/echo/1", "", BodyFormat::kJson, "  \n"),
            R"({"id":"1"})");
}

TEST_F(RequestTranscoderTest, MultiSegmentPathVariable) {
  EXPECT_EQ(*Request("GET", "/v1/files/a/b%2Fc/d"), R"({"name":"a/b%2Fc/d"})");
  EXPECT_EQ(*Request("GET", "/v1/shelves/s1/books/b%20two"),
            R"({"name":"shelves/s1/books/b two"})");
}

// Found by fuzz/request_transcoder_fuzzer.cc: the request was built, but
// its bytes did not parse (a proto3 string must be UTF-8), so the backend
// would have refused it with an internal error instead of a 400.
TEST_F(RequestTranscoderTest, PathVariableMustBeUtf8) {
  absl::StatusOr<std::string> bad = Request("GET", "/v1/files/%FF%FE");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(),
              HasSubstr("path variable 'name': not valid UTF-8"));
  EXPECT_EQ(*Request("GET", "/v1/files/%C3%A9"), "{\"name\":\"\xC3\xA9\"}");
}

class ResponseTranscoderTest : public RequestTranscoderTest {
 protected:
  std::string Response(absl::string_view path, absl::string_view json,
                       google::protobuf::util::JsonPrintOptions options = {}) {
    std::optional<RouteMatch> match = (*catalog_)->routes().Match("GET", path);
    const HttpRoute& route = (*catalog_)->route(match->route_index);
    std::unique_ptr<Message> response(route.response_prototype->New());
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(json),
                                                            response.get())
                    .ok());
    absl::StatusOr<std::string> out =
        TranscodeResponse(route, *response, options);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }
};

TEST_F(ResponseTranscoderTest, WholeMessageInTheConfiguredStyle) {
  EXPECT_EQ(Response("/v1/echo/1", R"({"id":"1","shownAs":"x"})"),
            R"({"id":"1","shownAs":"x"})");
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_enums_as_ints = true;
  EXPECT_EQ(
      Response("/v1/echo/1", R"({"shownAs":"x","kind":"KIND_SMALL"})", options),
      R"({"kind":1,"display_name":"x"})");
}

TEST_F(ResponseTranscoderTest, ResponseBodyField) {
  EXPECT_EQ(Response("/v1/tags", R"({"id":"1","tags":["a","b"]})"),
            R"(["a","b"])");
  EXPECT_EQ(Response("/v1/tags", R"({"id":"1"})"), "[]");
  EXPECT_EQ(Response("/v1/inner", R"({"id":"1","inner":{"text":"t"}})"),
            R"({"text":"t"})");
}

// The gateway's path: JSON from the backend's bytes. A whole-message body
// is printed from the bytes; a response_body field needs the parsed message.
TEST_F(ResponseTranscoderTest, FromWireBytesAgreesWithTheMessage) {
  for (auto [path, json] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/echo/1", R"({"id":"1","shownAs":"x","kind":"KIND_SMALL"})"},
           {"/v1/tags", R"({"id":"1","tags":["a","b"]})"},
           {"/v1/inner", R"({"id":"1","inner":{"text":"t"}})"}}) {
    std::optional<RouteMatch> match = (*catalog_)->routes().Match("GET", path);
    const HttpRoute& route = (*catalog_)->route(match->route_index);
    std::unique_ptr<Message> response(route.response_prototype->New());
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(json, response.get()).ok());
    absl::StatusOr<std::string> out =
        TranscodeResponse(route, response->SerializeAsString(), {});
    ASSERT_TRUE(out.ok()) << path << ": " << out.status();
    EXPECT_EQ(*out, Response(path, json)) << path;
  }
}

// protobuf's JSON printer drops the invalid bytes of a string quietly; the
// gateway must refuse such an answer rather than alter it.
TEST_F(ResponseTranscoderTest, WireBytesWithInvalidUtf8AreInternal) {
  std::optional<RouteMatch> match =
      (*catalog_)->routes().Match("GET", "/v1/echo/1");
  const HttpRoute& route = (*catalog_)->route(match->route_index);
  std::unique_ptr<Message> response(route.response_prototype->New());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"id":"1","shownAs":"xy"})", response.get())
                  .ok());
  std::string bytes = response->SerializeAsString();
  const size_t at = bytes.find("xy");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = '\xff';
  absl::StatusOr<std::string> out = TranscodeResponse(route, bytes, {});
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal) << *out;
  EXPECT_THAT(out.status().message(),
              HasSubstr("the backend's response does not parse as"));
}

TEST_F(ResponseTranscoderTest, WireBytesThatDoNotParseAreInternal) {
  // Field 1 as a length-delimited value longer than what follows.
  const std::string bytes =
      "\x0a\x10"
      "ab";
  for (absl::string_view path : {"/v1/echo/1", "/v1/tags"}) {
    std::optional<RouteMatch> match = (*catalog_)->routes().Match("GET", path);
    const HttpRoute& route = (*catalog_)->route(match->route_index);
    absl::StatusOr<std::string> out = TranscodeResponse(route, bytes, {});
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInternal) << path;
    EXPECT_THAT(
        out.status().message(),
        HasSubstr("the backend's response does not parse as " +
                  route.response_prototype->GetDescriptor()->full_name()))
        << path;
  }
}

}  // namespace
}  // namespace stubmesh::gateway
