#include "gateway/caching_type_resolver.h"

#include <string>

#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver_util.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::DescriptorPool;
using ::google::protobuf::FileDescriptorProto;

// A pool of its own (like the gateway's, built from a descriptor set):
// one enum and a message that nests another.
class CachingTypeResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FileDescriptorProto file;
    file.set_name("t.proto");
    file.set_package("t");
    file.set_syntax("proto3");
    auto* color = file.add_enum_type();
    color->set_name("Color");
    color->add_value()->set_name("COLOR_UNSPECIFIED");
    auto* red = color->add_value();
    red->set_name("RED");
    red->set_number(1);
    auto* inner = file.add_message_type();
    inner->set_name("Inner");
    auto* n = inner->add_field();
    n->set_name("big_number");
    n->set_number(1);
    n->set_type(google::protobuf::FieldDescriptorProto::TYPE_INT64);
    n->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* outer = file.add_message_type();
    outer->set_name("Outer");
    auto* f = outer->add_field();
    f->set_name("inner");
    f->set_number(1);
    f->set_type(google::protobuf::FieldDescriptorProto::TYPE_MESSAGE);
    f->set_type_name(".t.Inner");
    f->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    auto* c = outer->add_field();
    c->set_name("color");
    c->set_number(2);
    c->set_type(google::protobuf::FieldDescriptorProto::TYPE_ENUM);
    c->set_type_name(".t.Color");
    c->set_label(google::protobuf::FieldDescriptorProto::LABEL_OPTIONAL);
    ASSERT_NE(pool_.BuildFile(file), nullptr);
  }

  DescriptorPool pool_;
};

TEST_F(CachingTypeResolverTest, TypeUrlIsTheJsonUtilOne) {
  EXPECT_EQ(
      CachingTypeResolver::TypeUrl(*pool_.FindMessageTypeByName("t.Outer")),
      "type.googleapis.com/t.Outer");
}

TEST_F(CachingTypeResolverTest, AnswersLikeTheUncachedResolverEveryTime) {
  CachingTypeResolver cached(&pool_);
  std::unique_ptr<google::protobuf::util::TypeResolver> plain(
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          "type.googleapis.com", &pool_));
  google::protobuf::Type want;
  ASSERT_TRUE(
      plain->ResolveMessageType("type.googleapis.com/t.Outer", &want).ok());
  for (int i = 0; i < 2; ++i) {  // a miss, then a hit
    google::protobuf::Type got;
    ASSERT_TRUE(
        cached.ResolveMessageType("type.googleapis.com/t.Outer", &got).ok());
    EXPECT_EQ(got.SerializeAsString(), want.SerializeAsString());
    EXPECT_EQ(got.name(), "t.Outer");
    google::protobuf::Enum color;
    ASSERT_TRUE(
        cached.ResolveEnumType("type.googleapis.com/t.Color", &color).ok());
    EXPECT_EQ(color.enumvalue_size(), 2);
  }
}

TEST_F(CachingTypeResolverTest, UnknownTypeIsAnErrorEveryTime) {
  CachingTypeResolver cached(&pool_);
  google::protobuf::Type type;
  for (int i = 0; i < 2; ++i) {
    google::protobuf::util::Status s =
        cached.ResolveMessageType("type.googleapis.com/t.Nope", &type);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().as_string().find("t.Nope"), std::string::npos);
  }
}

TEST_F(CachingTypeResolverTest, JsonRoundTripThroughTheCache) {
  CachingTypeResolver cached(&pool_);
  const std::string url = "type.googleapis.com/t.Outer";
  std::string binary;
  ASSERT_TRUE(google::protobuf::util::JsonToBinaryString(
                  &cached, url, R"({"inner":{"bigNumber":"42"},"color":"RED"})",
                  &binary)
                  .ok());
  std::string json;
  ASSERT_TRUE(
      google::protobuf::util::BinaryToJsonString(&cached, url, binary, &json)
          .ok());
  EXPECT_EQ(json, R"({"inner":{"bigNumber":"42"},"color":"RED"})");
  google::protobuf::util::Status bad =
      google::protobuf::util::JsonToBinaryString(
          &cached, url, R"({"color":"BLUE"})", &binary);
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace stubmesh::gateway
