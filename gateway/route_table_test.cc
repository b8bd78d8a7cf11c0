#include "gateway/route_table.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// "field.path=value" for each binding, in template order.
std::vector<std::string> Bindings(const RouteMatch& m) {
  std::vector<std::string> out;
  for (const VariableBinding& b : m.bindings) {
    out.push_back(
        absl::StrCat(absl::StrJoin(b.variable->field_path, "."), "=", b.value));
  }
  return out;
}

class TableBuilder {
 public:
  // Adds `path` under `method`; the route index is the order of addition.
  TableBuilder& Add(const std::string& method, const std::string& path) {
    int index = next_index_++;
    absl::Status s =
        builder_.Add(method, path, index, absl::StrCat("r", index));
    EXPECT_TRUE(s.ok()) << method << " " << path << ": " << s;
    return *this;
  }
  std::shared_ptr<const RouteTable> Build() { return builder_.Build(); }

 private:
  RouteTableBuilder builder_;
  int next_index_ = 0;
};

// The route index matched, or -1.
int MatchIndex(const RouteTable& table, const std::string& method,
               const std::string& path) {
  std::optional<RouteMatch> m = table.Match(method, path);
  return m.has_value() ? m->route_index : -1;
}

TEST(RouteTableTest, HeaderExample) {
  RouteTableBuilder builder;
  ASSERT_TRUE(builder
                  .Add("GET", "/v1/users/{id}", 7,
                       "stubmesh.user.v1.UserService.GetUser")
                  .ok());
  std::shared_ptr<const RouteTable> table = builder.Build();
  EXPECT_EQ(table->size(), 1u);
  std::optional<RouteMatch> m = table->Match("GET", "/v1/users/42");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 7);
  ASSERT_NE(m->path_template, nullptr);
  EXPECT_EQ(m->path_template->ToString(), "/v1/users/{id=*}");
  ASSERT_EQ(m->bindings.size(), 1u);
  EXPECT_EQ(m->bindings[0].variable, &m->path_template->variables[0]);
  EXPECT_EQ(m->bindings[0].value, "42");
}

TEST(RouteTableTest, NoMatch) {
  auto table = TableBuilder().Add("GET", "/v1/users/{id}").Build();
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/42/x"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v2/users/42"), -1);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users/42"), -1);
  EXPECT_EQ(MatchIndex(*table, "get", "/v1/users/42"), -1);
}

TEST(RouteTableTest, MalformedPathsDoNotMatch) {
  auto table = TableBuilder().Add("GET", "/v1/users/{id}").Build();
  EXPECT_EQ(MatchIndex(*table, "GET", ""), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "v1/users/42"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1//users/42"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/42/"), -1);
}

TEST(RouteTableTest, LiteralBeatsStarBeatsDoubleStar) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")  // 0
                   .Add("GET", "/v1/users/me")    // 1
                   .Add("GET", "/v1/**")          // 2
                   .Build();
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/me"), 1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/42"), 0);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/42/x"), 2);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users"), 2);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/groups/7"), 2);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1"), 2);  // "**" of no segment
  EXPECT_EQ(MatchIndex(*table, "GET", "/v2/users/me"), -1);
}

TEST(RouteTableTest, LeftmostSegmentDecides) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/{name=shelves/*}")  // 0
                   .Add("GET", "/v1/{parent}/books")    // 1
                   .Add("GET", "/v1/*/*/*")             // 2
                   .Add("GET", "/v1/shelves/**")        // 3
                   .Build();
  std::optional<RouteMatch> m = table->Match("GET", "/v1/shelves/books");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 0);  // literal "shelves" beats {parent}
  EXPECT_THAT(Bindings(*m), ElementsAre("name=shelves/books"));
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/tables/books"), 1);
  // "shelves" then "*" dead-ends on the third segment; "shelves/**" is the
  // next most specific.
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/shelves/a/b"), 3);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/tables/a/b"), 2);
}

TEST(RouteTableTest, BacktracksWhenSpecificBranchDeadEnds) {
  auto table = TableBuilder()
                   .Add("GET", "/a/b/c")      // 0
                   .Add("GET", "/a/{x}/d")    // 1
                   .Add("GET", "/a/b/{y}/e")  // 2
                   .Add("GET", "/{z=**}")     // 3
                   .Build();
  EXPECT_EQ(MatchIndex(*table, "GET", "/a/b/c"), 0);
  std::optional<RouteMatch> m = table->Match("GET", "/a/b/d");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 1);
  EXPECT_THAT(Bindings(*m), ElementsAre("x=b"));
  EXPECT_EQ(MatchIndex(*table, "GET", "/a/b/c/e"), 2);
  m = table->Match("GET", "/a/b/c/f");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 3);
  EXPECT_THAT(Bindings(*m), ElementsAre("z=a/b/c/f"));
}

TEST(RouteTableTest, ExactEndBeatsDoubleStarOfNoSegment) {
  auto table = TableBuilder()
                   .Add("GET", "/files/**")  // 0
                   .Add("GET", "/files")     // 1
                   .Build();
  EXPECT_EQ(MatchIndex(*table, "GET", "/files"), 1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/files/x"), 0);
}

TEST(RouteTableTest, RootDoubleStar) {
  auto table = TableBuilder().Add("GET", "/{path=**}").Build();
  std::optional<RouteMatch> m = table->Match("GET", "/");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("path="));
  m = table->Match("GET", "/a/b");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("path=a/b"));
}

TEST(RouteTableTest, SeveralVariablesAndNestedFieldPaths) {
  auto table =
      TableBuilder()
          .Add("GET", "/v1/{user.id}/orders/{order.id}/{rest=items/**}")
          .Build();
  std::optional<RouteMatch> m =
      table->Match("GET", "/v1/u1/orders/o2/items/a/b");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m),
              ElementsAre("user.id=u1", "order.id=o2", "rest=items/a/b"));
  m = table->Match("GET", "/v1/u1/orders/o2/items");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m),
              ElementsAre("user.id=u1", "order.id=o2", "rest=items"));
}

TEST(RouteTableTest, VerbBeatsNoVerb) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")          // 0
                   .Add("POST", "/v1/users/{id}:cancel")  // 1
                   .Add("GET", "/v1/users/{id}:cancel")   // 2
                   .Add("GET", "/v1/users/me")            // 3
                   .Build();
  std::optional<RouteMatch> m = table->Match("GET", "/v1/users/42:cancel");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 2);
  EXPECT_THAT(Bindings(*m), ElementsAre("id=42"));
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users/42:cancel"), 1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/42"), 0);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users/42"), -1);
  // "me" then verb: the literal has no ":cancel", the variable has.
  m = table->Match("GET", "/v1/users/me:cancel");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 2);
  EXPECT_THAT(Bindings(*m), ElementsAre("id=me"));
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/me"), 3);
}

TEST(RouteTableTest, UnknownVerbIsPartOfTheSegment) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")         // 0
                   .Add("GET", "/v1/users/{id}:cancel")  // 1
                   .Build();
  std::optional<RouteMatch> m = table->Match("GET", "/v1/users/42:undo");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 0);
  EXPECT_THAT(Bindings(*m), ElementsAre("id=42:undo"));
  // Split at the last ':'; an empty verb or prefix is no split.
  m = table->Match("GET", "/v1/users/a:b:cancel");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 1);
  EXPECT_THAT(Bindings(*m), ElementsAre("id=a:b"));
  m = table->Match("GET", "/v1/users/42:");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("id=42:"));
  m = table->Match("GET", "/v1/users/:cancel");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("id=:cancel"));
  // An encoded ':' never separates a verb.
  m = table->Match("GET", "/v1/users/42%3Acancel");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 0);
  EXPECT_THAT(Bindings(*m), ElementsAre("id=42:cancel"));
}

TEST(RouteTableTest, VerbOnlyRouteNeedsTheVerb) {
  auto table = TableBuilder()
                   .Add("POST", "/v1/users:batchGet")      // 0
                   .Add("POST", "/v1/{path=**}:download")  // 1
                   .Add("POST", "/v1/files/**:zip")        // 2
                   .Build();
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users:batchGet"), 0);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users"), -1);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users:other"), -1);
  std::optional<RouteMatch> m = table->Match("POST", "/v1/a/b:download");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 1);
  EXPECT_THAT(Bindings(*m), ElementsAre("path=a/b"));
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/files/x/y:zip"), 2);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/files:zip"), 2);
}

TEST(RouteTableTest, LiteralsCompareDecoded) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/me")   // 0
                   .Add("GET", "/v1/a%20b")      // 1
                   .Add("GET", "/v1/x:do%2Dit")  // 2
                   .Build();
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/m%65"), 0);
  EXPECT_EQ(MatchIndex(*table, "GET", "/%76%31/users/me"), 0);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/a%20b"), 1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/a b"), 1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/x:do-it"), 2);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/x:do%2dit"), 2);
}

TEST(RouteTableTest, SingleSegmentVariableFullyDecoded) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")
                   .Add("GET", "/v1/things/{id}:get")
                   .Build();
  std::optional<RouteMatch> m =
      table->Match("GET", "/v1/users/a%2Fb%20c%2fd%3A");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("id=a/b c/d:"));
  m = table->Match("GET", "/v1/things/%41%42:get");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("id=AB"));
}

TEST(RouteTableTest, MultiSegmentVariableKeepsEncodedSlash) {
  auto table = TableBuilder()
                   .Add("GET", "/files/{path=**}")          // 0
                   .Add("GET", "/v1/{name=shelves/*}")      // 1
                   .Add("GET", "/v2/{name=shelves/*}:get")  // 2
                   .Build();
  std::optional<RouteMatch> m =
      table->Match("GET", "/files/a%2Fb/c%20d/e%2ff%41");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("path=a%2Fb/c d/e%2ffA"));
  // A variable over several segments counts as multi-segment without "**".
  m = table->Match("GET", "/v1/shelves/x%2Fy%20z");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 1);
  EXPECT_THAT(Bindings(*m), ElementsAre("name=shelves/x%2Fy z"));
  m = table->Match("GET", "/v2/shelve%73/x%2Fy:get");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route_index, 2);
  EXPECT_THAT(Bindings(*m), ElementsAre("name=shelves/x%2Fy"));
}

TEST(RouteTableTest, InvalidPercentEscapesDoNotMatch) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")
                   .Add("GET", "/files/**")
                   .Build();
  for (const char* path : {"/v1/users/%zz", "/v1/users/%4", "/v1/users/ab%",
                           "/v1/users/%g1", "/files/ok/%%41", "/fi%le/x"}) {
    EXPECT_EQ(MatchIndex(*table, "GET", path), -1) << path;
    EXPECT_THAT(table->AllowedMethods(path), IsEmpty()) << path;
  }
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/%25zz"), 0);
}

TEST(RouteTableTest, DotSegmentsDoNotMatch) {
  auto table = TableBuilder()
                   .Add("GET", "/v1/users/{id}")
                   .Add("GET", "/files/{path=**}")
                   .Add("GET", "/v1/users/{id}:x")
                   .Build();
  for (const char* path :
       {"/v1/users/..", "/v1/users/.", "/v1/users/%2e%2E", "/v1/users/%2E",
        "/files/a/../b", "/files/../../etc/passwd", "/files/a/%2e%2e/b",
        "/files/./a", "/v1/../v1/users/1", "/v1/users/..:x"}) {
    EXPECT_EQ(MatchIndex(*table, "GET", path), -1) << path;
  }
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/..."), 0);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/users/.a"), 0);
  // An encoded slash keeps ".." inside one segment: no traversal.
  std::optional<RouteMatch> m = table->Match("GET", "/files/a%2F..%2Fb");
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("path=a%2F..%2Fb"));
}

TEST(RouteTableTest, AllowedMethods) {
  auto table = TableBuilder()
                   .Add("PUT", "/v1/users/{id}")
                   .Add("GET", "/v1/users/{id}")
                   .Add("DELETE", "/v1/users/{id}")
                   .Add("POST", "/v1/users")
                   .Add("POST", "/v1/users/{id}:cancel")
                   .Add("PATCH", "/v1/**")
                   .Build();
  EXPECT_THAT(table->AllowedMethods("/v1/users/42"),
              ElementsAre("DELETE", "GET", "PATCH", "PUT"));
  EXPECT_THAT(table->AllowedMethods("/v1/users"), ElementsAre("PATCH", "POST"));
  EXPECT_THAT(table->AllowedMethods("/v1/users/42:cancel"),
              ElementsAre("DELETE", "GET", "PATCH", "POST", "PUT"));
  EXPECT_THAT(table->AllowedMethods("/v2/users"), IsEmpty());
  EXPECT_THAT(table->AllowedMethods("/v1/users/"), IsEmpty());
}

TEST(RouteTableTest, SameShapeConflictNamesBothOwners) {
  RouteTableBuilder builder;
  ASSERT_TRUE(
      builder.Add("GET", "/v1/{name=shelves/*}", 0, "Lib.GetShelf").ok());
  absl::Status s = builder.Add("GET", "/v1/shelves/{id}", 1, "Lib.FindShelf");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("Lib.GetShelf"));
  EXPECT_THAT(s.message(), HasSubstr("Lib.FindShelf"));
  EXPECT_THAT(s.message(), HasSubstr("/v1/{name=shelves/*}"));
  EXPECT_THAT(s.message(), HasSubstr("/v1/shelves/{id}"));

  s = builder.Add("GET", "/v1/{x=**}", 2, "A");
  ASSERT_TRUE(s.ok()) << s;
  s = builder.Add("GET", "/v1/**", 3, "B");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("(A)"));
  EXPECT_THAT(s.message(), HasSubstr("(B)"));

  ASSERT_TRUE(builder.Add("POST", "/v1/users/{id}:cancel", 4, "C").ok());
  s = builder.Add("POST", "/v1/users/{user_id}:cancel", 5, "D");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);

  // Different method, different verb, or no verb: not the same shape.
  EXPECT_TRUE(builder.Add("POST", "/v1/shelves/{id}", 6, "E").ok());
  EXPECT_TRUE(builder.Add("POST", "/v1/users/{id}:undo", 7, "F").ok());
  EXPECT_TRUE(builder.Add("POST", "/v1/users/{id}", 8, "G").ok());
  EXPECT_TRUE(builder.Add("POST", "/v1/users/*/x", 9, "H").ok());

  std::shared_ptr<const RouteTable> table = builder.Build();
  EXPECT_EQ(table->size(), 7u);
  // The refused routes changed nothing.
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/shelves/1"), 0);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/a/b"), 2);
  EXPECT_EQ(MatchIndex(*table, "POST", "/v1/users/1:cancel"), 4);
}

TEST(RouteTableTest, BadTemplateNamesOwner) {
  RouteTableBuilder builder;
  absl::Status s = builder.Add("GET", "/v1/{a}/{a}", 0, "Svc.Method");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("Svc.Method"));
  EXPECT_THAT(s.message(), HasSubstr("\"/v1/{a}/{a}\""));
  EXPECT_THAT(s.message(), HasSubstr("twice"));
  EXPECT_EQ(builder.Build()->size(), 0u);
}

TEST(RouteTableTest, BadMethodRefused) {
  RouteTableBuilder builder;
  for (const char* method : {"", "get", "G ET", "GET\n"}) {
    absl::Status s = builder.Add(method, "/v1/x", 0, "Svc.Method");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << method;
    EXPECT_THAT(s.message(), HasSubstr("Svc.Method"));
  }
  EXPECT_TRUE(builder.Add("M-SEARCH", "/v1/x", 0, "Svc.Method").ok());
  EXPECT_TRUE(builder.Add("HEAD", "/v1/x", 1, "Svc.Method").ok());
}

TEST(RouteTableTest, BuildHandsOverRoutesAndStartsAgain) {
  RouteTableBuilder builder;
  ASSERT_TRUE(builder.Add("GET", "/a", 1, "A").ok());
  std::shared_ptr<const RouteTable> first = builder.Build();
  ASSERT_TRUE(builder.Add("GET", "/a", 2, "B").ok());  // no conflict
  std::shared_ptr<const RouteTable> second = builder.Build();
  EXPECT_EQ(MatchIndex(*first, "GET", "/a"), 1);
  EXPECT_EQ(MatchIndex(*second, "GET", "/a"), 2);
  EXPECT_EQ(first->size(), 1u);
  EXPECT_EQ(builder.Build()->size(), 0u);
}

TEST(RouteTableTest, LongPathBeyondInlineSegments) {
  std::string tmpl, path;
  for (int i = 0; i < 40; ++i) {
    absl::StrAppend(&tmpl, "/s", i);
    absl::StrAppend(&path, "/s", i);
  }
  absl::StrAppend(&tmpl, "/{last}");
  absl::StrAppend(&path, "/v%41");
  auto table = TableBuilder().Add("GET", tmpl).Build();
  std::optional<RouteMatch> m = table->Match("GET", path);
  ASSERT_TRUE(m.has_value());
  EXPECT_THAT(Bindings(*m), ElementsAre("last=vA"));
}

// 1,000 routes in the shapes a descriptor set produces: per service a
// collection, an item, a custom method, and nested resources.
TEST(RouteTableTest, ThousandGeneratedRoutes) {
  struct Expected {
    std::string method;
    std::string path;
    int index;
    std::vector<std::string> bindings;
  };
  RouteTableBuilder builder;
  std::vector<Expected> expected;
  int index = 0;
  for (int svc = 0; svc < 200; ++svc) {
    std::string base = absl::StrCat("/v1/svc", svc, "/things");
    auto add = [&](const std::string& method, const std::string& tmpl,
                   const std::string& path, std::vector<std::string> b) {
      absl::Status s =
          builder.Add(method, tmpl, index, absl::StrCat("owner", index));
      ASSERT_TRUE(s.ok()) << s;
      expected.push_back({method, path, index, std::move(b)});
      ++index;
    };
    add("GET", base, base, {});
    add("GET", base + "/{id}", base + "/x" + std::to_string(svc),
        {absl::StrCat("id=x", svc)});
    add("POST", base + "/{id}:archive", base + "/y:archive", {"id=y"});
    add("GET", base + "/{parent.id}/parts/{part=*}",
        base + "/p/parts/q%20" + std::to_string(svc),
        {"parent.id=p", absl::StrCat("part=q ", svc)});
    add("GET", absl::StrCat("/v1/svc", svc, "/{name=files/**}"),
        absl::StrCat("/v1/svc", svc, "/files/a/b"), {"name=files/a/b"});
  }
  ASSERT_EQ(index, 1000);
  std::shared_ptr<const RouteTable> table = builder.Build();
  EXPECT_EQ(table->size(), 1000u);
  for (const Expected& e : expected) {
    std::optional<RouteMatch> m = table->Match(e.method, e.path);
    ASSERT_TRUE(m.has_value()) << e.method << " " << e.path;
    EXPECT_EQ(m->route_index, e.index) << e.path;
    EXPECT_EQ(Bindings(*m), e.bindings) << e.path;
  }
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/svc200/things"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/svc7/things/a/b"), -1);
  EXPECT_EQ(MatchIndex(*table, "GET", "/v1/svc7/things/y:archive"), 7 * 5 + 1);
  EXPECT_THAT(table->AllowedMethods("/v1/svc7/things/y:archive"),
              ElementsAre("GET", "POST"));
}

}  // namespace
}  // namespace stubmesh::gateway
