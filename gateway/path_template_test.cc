#include "gateway/path_template.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = PathSegment::Kind;

PathSegment Lit(const std::string& s) {
  PathSegment seg;
  seg.literal = s;
  return seg;
}

PathSegment Star() {
  PathSegment seg;
  seg.kind = Kind::kSingleWildcard;
  return seg;
}

PathSegment StarStar() {
  PathSegment seg;
  seg.kind = Kind::kMultiWildcard;
  return seg;
}

PathTemplate MustParse(const std::string& text) {
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(text);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status();
  return t.ok() ? *t : PathTemplate();
}

TEST(PathTemplateTest, Literals) {
  PathTemplate t = MustParse("/v1/users");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("users")));
  EXPECT_TRUE(t.variables.empty());
  EXPECT_EQ(t.verb, "");
}

TEST(PathTemplateTest, Wildcards) {
  PathTemplate t = MustParse("/v1/*/x/**");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Star(), Lit("x"), StarStar()));
  EXPECT_TRUE(t.variables.empty());
}

TEST(PathTemplateTest, SimpleVariableIsSingleWildcard) {
  PathTemplate t = MustParse("/v1/users/{id}");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("users"), Star()));
  ASSERT_EQ(t.variables.size(), 1u);
  EXPECT_THAT(t.variables[0].field_path, ElementsAre("id"));
  EXPECT_EQ(t.variables[0].start_segment, 2);
  EXPECT_EQ(t.variables[0].end_segment, 3);
  EXPECT_FALSE(t.variables[0].multi_segment);
}

TEST(PathTemplateTest, HeaderExample) {
  PathTemplate t = MustParse("/v1/{name=shelves/*/books/*}:publish");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("shelves"), Star(),
                                      Lit("books"), Star()));
  EXPECT_EQ(t.verb, "publish");
  ASSERT_EQ(t.variables.size(), 1u);
  EXPECT_THAT(t.variables[0].field_path, ElementsAre("name"));
  EXPECT_EQ(t.variables[0].start_segment, 1);
  EXPECT_EQ(t.variables[0].end_segment, 5);
  EXPECT_FALSE(t.variables[0].multi_segment);
}

TEST(PathTemplateTest, MultiSegmentVariable) {
  PathTemplate t = MustParse("/files/{path=**}");
  EXPECT_THAT(t.segments, ElementsAre(Lit("files"), StarStar()));
  ASSERT_EQ(t.variables.size(), 1u);
  EXPECT_EQ(t.variables[0].start_segment, 1);
  EXPECT_EQ(t.variables[0].end_segment, 2);
  EXPECT_TRUE(t.variables[0].multi_segment);

  PathTemplate u = MustParse("/v1/{name=shelves/**}:list");
  EXPECT_TRUE(u.variables[0].multi_segment);
  EXPECT_EQ(u.variables[0].start_segment, 1);
  EXPECT_EQ(u.verb, "list");
}

TEST(PathTemplateTest, NestedFieldPathAndSeveralVariables) {
  PathTemplate t = MustParse("/v1/{user.profile.id}/orders/{order_id=*}");
  ASSERT_EQ(t.variables.size(), 2u);
  EXPECT_THAT(t.variables[0].field_path, ElementsAre("user", "profile", "id"));
  EXPECT_THAT(t.variables[1].field_path, ElementsAre("order_id"));
  EXPECT_EQ(t.variables[1].start_segment, 3);
}

TEST(PathTemplateTest, Verbs) {
  EXPECT_EQ(MustParse("/v1/users/{id}:cancel").verb, "cancel");
  EXPECT_EQ(MustParse("/v1/users:batchGet").verb, "batchGet");
  EXPECT_EQ(MustParse("/v1/**:undelete").verb, "undelete");
  PathTemplate t = MustParse("/v1/users:batchGet");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("users")));
}

TEST(PathTemplateTest, ColonBeforeLastSegmentIsLiteral) {
  PathTemplate t = MustParse("/v1/a:b/c");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("a:b"), Lit("c")));
  EXPECT_EQ(t.verb, "");
}

TEST(PathTemplateTest, LiteralsArePercentDecoded) {
  PathTemplate t = MustParse("/v1/a%20b/%7euser:do%2Dit");
  EXPECT_THAT(t.segments, ElementsAre(Lit("v1"), Lit("a b"), Lit("~user")));
  EXPECT_EQ(t.verb, "do-it");
}

TEST(PathTemplateTest, SubDelimsAndAtAreLiteral) {
  EXPECT_THAT(MustParse("/a-b.c_d~e!$&'()+,;@").segments,
              ElementsAre(Lit("a-b.c_d~e!$&'()+,;@")));
}

TEST(PathTemplateTest, ToStringIsCanonicalAndRoundTrips) {
  EXPECT_EQ(MustParse("/v1/users/{id}").ToString(), "/v1/users/{id=*}");
  EXPECT_EQ(MustParse("/v1/{name=shelves/*/books/*}:publish").ToString(),
            "/v1/{name=shelves/*/books/*}:publish");
  EXPECT_EQ(MustParse("/files/{a.b=**}").ToString(), "/files/{a.b=**}");
  EXPECT_EQ(MustParse("/v1/a%20b").ToString(), "/v1/a%20b");
  EXPECT_EQ(MustParse("/x/%3A").ToString(), "/x/%3A");  // not a verb
  for (const char* text :
       {"/v1/users/{id}", "/v1/{name=shelves/*/books/*}:publish", "/a/*/b/**:v",
        "/v1/a:b/c", "/x/%3A", "/x/a%2Fb", "/{a.b}/{c=d/**}", "/x/%2A/%7B"}) {
    PathTemplate t = MustParse(text);
    PathTemplate again = MustParse(t.ToString());
    EXPECT_EQ(again.segments, t.segments) << text;
    EXPECT_EQ(again.verb, t.verb) << text;
    EXPECT_EQ(again.ToString(), t.ToString()) << text;
    EXPECT_EQ(again.variables.size(), t.variables.size()) << text;
  }
}

struct Refusal {
  std::string text;
  std::string why;  // expected in the message
};

class RefusalTest : public ::testing::TestWithParam<Refusal> {};

TEST_P(RefusalTest, RefusedWithMessageQuotingTemplate) {
  const Refusal& r = GetParam();
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(r.text);
  ASSERT_FALSE(t.ok()) << "accepted \"" << r.text << "\"";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(t.status().message(),
              HasSubstr("path template \"" + absl::CHexEscape(r.text) + "\""));
  EXPECT_THAT(t.status().message(), HasSubstr(r.why));
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, RefusalTest,
    ::testing::Values(
        Refusal{"", "is empty"}, Refusal{"/", "has no segment"},
        Refusal{"v1/users", "does not start with '/'"},
        Refusal{"//", "empty segment at offset 1"},
        Refusal{"/a//b", "empty segment at offset 3"},
        Refusal{"/a/", "empty segment at offset 3"},
        Refusal{"/:verb", "empty segment"},
        Refusal{"/{}", "variable without a field path"},
        Refusal{"/{=*}", "variable without a field path"},
        Refusal{"/a{x}", "'{' inside a literal segment"},
        Refusal{"/{x}a", "variable that is not a whole segment"},
        Refusal{"/a*", "'*' inside a literal segment"},
        Refusal{"/*a", "not a whole segment"},
        Refusal{"/***", "not a whole segment"},
        Refusal{"/a/**/*", "'**' before the last segment"},
        Refusal{"/**/**", "'**' before the last segment"},
        Refusal{"/{x=**}/a", "'**' before the last segment"},
        Refusal{"/{a={b}}", "nests a variable"},
        Refusal{"/{a{b}}", "nests a variable"},
        Refusal{"/{a}/{a}", "binds field 'a' twice"},
        Refusal{"/{a.b}/x/{a.b=*}", "binds field 'a.b' twice"},
        Refusal{"/{a}/{a.b}", "overlapping fields 'a' and 'a.b'"},
        Refusal{"/{a..b}", "empty field path segment"},
        Refusal{"/{.a}", "empty field path segment"},
        Refusal{"/{a.}", "empty field path segment"},
        Refusal{"/{1a}", "does not start with a letter"},
        Refusal{"/{a-b}", "'-' in a field path"},
        Refusal{"/{a", "unterminated '{' at offset 1"},
        Refusal{"/{a=b", "unterminated '{' at offset 1"},
        Refusal{"/{a=b/", "unterminated '{' at offset 1"},
        Refusal{"/x/{a=b:c", "unterminated '{' at offset 3"},
        Refusal{"/{a=}", "empty segment"}, Refusal{"/{a=/b}", "empty segment"},
        Refusal{"/a}", "unexpected '}'"}, Refusal{"/a:", "empty verb"},
        Refusal{"/a:b:c", "unexpected ':'"}, Refusal{"/a:b*", "unexpected '*'"},
        Refusal{"/a b", "unexpected ' '"}, Refusal{"/a?b", "unexpected '?'"},
        Refusal{"/a#b", "unexpected '#'"}, Refusal{"/a=b", "unexpected '='"},
        Refusal{"/caf\xc3\xa9", "unexpected '\\xc3'"},
        Refusal{"/a%zz", "invalid percent escape at offset 2"},
        Refusal{"/a%4", "invalid percent escape"},
        Refusal{"/a:%g0", "invalid percent escape"},
        Refusal{"/a/..", "'.' or '..' segment"},
        Refusal{"/a/%2e", "'.' or '..' segment"}),
    [](const ::testing::TestParamInfo<Refusal>& info) {
      return "Case" + std::to_string(info.index);
    });

TEST(PathTemplateTest, RefusalQuotesControlCharactersEscaped) {
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse("/a\nb");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("\"/a\\nb\""));
}

}  // namespace
}  // namespace stubmesh::gateway
