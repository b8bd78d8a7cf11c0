#include "gateway/rest_gateway.h"

#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

TEST(BackendTargetForTest, CommandLineWinsOverDiscoveryWhichWinsOverFallback) {
  const BackendTargets flags = {{"a.A", "flag-a:1"}, {"*", "fallback:9"}};
  const BackendTargets discovered = {{"a.A", "found-a:2"},
                                     {"b.B", "found-b:3"}};
  EXPECT_EQ(BackendTargetFor("a.A", flags, discovered), "flag-a:1");
  EXPECT_EQ(BackendTargetFor("b.B", flags, discovered), "found-b:3");
  EXPECT_EQ(BackendTargetFor("c.C", flags, discovered), "fallback:9");
}

TEST(BackendTargetForTest, NoneWithoutAnEntryOrFallback) {
  const BackendTargets flags = {{"a.A", "flag-a:1"}};
  EXPECT_EQ(BackendTargetFor("c.C", flags, {}), std::nullopt);
  EXPECT_EQ(BackendTargetFor("c.C", {}, {{"b.B", "found-b:3"}}), std::nullopt);
  EXPECT_EQ(BackendTargetFor("b.B", {}, {{"b.B", "found-b:3"}}), "found-b:3");
  EXPECT_EQ(BackendTargetFor("a.A", flags, {}), "flag-a:1");
}

}  // namespace
}  // namespace stubmesh::gateway
