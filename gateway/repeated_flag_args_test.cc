#include "gateway/repeated_flag_args.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Join(std::vector<std::string> args) {
  std::vector<char*> argv = ArgvOf(args);
  return JoinRepeatedFlags(static_cast<int>(argv.size()), argv.data(),
                           {"backend", "descriptor_set"});
}

TEST(JoinRepeatedFlagsTest, JoinsEveryOccurrenceInOrder) {
  EXPECT_THAT(Join({"gateway", "--backend=a.A=h:1", "--port=0",
                    "-backend=*=h:2", "--descriptor_set=x.pb"}),
              ElementsAre("gateway", "--backend=a.A=h:1,*=h:2", "--port=0",
                          "--descriptor_set=x.pb"));
}

TEST(JoinRepeatedFlagsTest, LeavesOtherFlagsAndPositionalsAlone) {
  EXPECT_THAT(
      Join({"gateway", "--backendx=1", "backend=2", "--", "--backend=3"}),
      ElementsAre("gateway", "--backendx=1", "backend=2", "--", "--backend=3"));
}

}  // namespace
}  // namespace stubmesh::gateway
