#include "gateway/api_catalog.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "gtest/gtest.h"

namespace stubmesh::gateway {
namespace {

using ::google::protobuf::FileDescriptorProto;
using ::testing::HasSubstr;
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

FileDescriptorProto* FindFile(std::vector<FileDescriptorProto>& files,
                              const std::string& name) {
  for (FileDescriptorProto& f : files) {
    if (f.name() == name) return &f;
  }
  ADD_FAILURE() << "no file " << name;
  return nullptr;
}

google::api::HttpRule* RuleOf(FileDescriptorProto* file, int method) {
  return file->mutable_service(0)
      ->mutable_method(method)
      ->mutable_options()
      ->MutableExtension(google::api::http);
}

constexpr char kUserProto[] = "stubmesh/user/v1/user_service.proto";

TEST(ApiCatalogTest, BuildsRoutesForEveryAnnotatedService) {
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(AllFiles());
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  EXPECT_THAT((*catalog)->service_names(),
              UnorderedElementsAre("stubmesh.user.v1.UserService",
                                   "stubmesh.order.v1.OrderService",
                                   "stubmesh.testing.v1.EchoService"));
  std::optional<RouteMatch> m = (*catalog)->routes().Match("GET", "/user");
  ASSERT_TRUE(m.has_value());
  const HttpRoute& get_user = (*catalog)->route(m->route_index);
  EXPECT_EQ(get_user.grpc_path, "/stubmesh.user.v1.UserService/GetUser");
  EXPECT_EQ(get_user.body, HttpRoute::Body::kNone);
  EXPECT_EQ(get_user.request_prototype->GetDescriptor()->full_name(),
            "stubmesh.user.v1.GetUserRequest");

  m = (*catalog)->routes().Match("POST", "/user");
  ASSERT_TRUE(m.has_value());
  const HttpRoute& create = (*catalog)->route(m->route_index);
  EXPECT_EQ(create.grpc_path, "/stubmesh.user.v1.UserService/CreateUser");
  EXPECT_EQ(create.body, HttpRoute::Body::kField);
  EXPECT_EQ(create.body_field->name(), "user");

  m = (*catalog)->routes().Match("GET", "/v1/tags");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*catalog)->route(m->route_index).response_body_field->name(),
            "tags");
  EXPECT_TRUE((*catalog)->routes().Match("HEAD", "/v1/echo/3").has_value());
}

TEST(ApiCatalogTest, FileOrderDoesNotMatterAndDuplicatesAreDropped) {
  std::vector<FileDescriptorProto> files = AllFiles();
  std::reverse(files.begin(), files.end());
  std::vector<FileDescriptorProto> twice = files;
  twice.insert(twice.end(), files.begin(), files.end());
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(twice);
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  std::set<std::string> names;
  for (const FileDescriptorProto& f : files) names.insert(f.name());
  EXPECT_EQ((*catalog)->files().size(), names.size());
}

TEST(ApiCatalogTest, MissingImportIsRefused) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](const FileDescriptorProto& f) {
                               return f.name() == "google/api/http.proto";
                             }),
              files.end());
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ApiCatalogTest, BodyThatIsNoFieldIsRefusedNamingTheMethod) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  RuleOf(FindFile(files, kUserProto), 1)->set_body("nosuch");
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(catalog.status().message(),
              HasSubstr("stubmesh.user.v1.UserService.CreateUser"));
  EXPECT_THAT(catalog.status().message(), HasSubstr("nosuch"));
}

TEST(ApiCatalogTest, PathVariableThatIsNoFieldIsRefused) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  RuleOf(FindFile(files, kUserProto), 0)->set_get("/v1/users/{nope}");
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_THAT(catalog.status().message(), HasSubstr("nope"));
  EXPECT_THAT(catalog.status().message(),
              HasSubstr("stubmesh.user.v1.UserService.GetUser"));
}

TEST(ApiCatalogTest, InvalidTemplateIsRefused) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  RuleOf(FindFile(files, kUserProto), 0)->set_get("/v1//users");
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(catalog.status().message(), HasSubstr("GetUser"));
}

TEST(ApiCatalogTest, ConflictNamesBothMethods) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  // ListUsers now claims GetUser's shape.
  RuleOf(FindFile(files, kUserProto), 2)->set_get("/v1/users/{page_size}");
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_EQ(catalog.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(catalog.status().message(), HasSubstr("GetUser"));
  EXPECT_THAT(catalog.status().message(), HasSubstr("ListUsers"));
}

TEST(ApiCatalogTest, NestedAdditionalBindingsAreRefused) {
  std::vector<FileDescriptorProto> files = Load("protos/descriptor_set.pb");
  google::api::HttpRule* rule = RuleOf(FindFile(files, kUserProto), 0);
  rule->mutable_additional_bindings(0)->add_additional_bindings()->set_get(
      "/x");
  absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
      ApiCatalog::Create(files);
  EXPECT_THAT(catalog.status().message(), HasSubstr("must not nest"));
}

TEST(ApiCatalogTest, UnreadableDescriptorSet) {
  EXPECT_EQ(ReadFileDescriptorSet("/nonexistent.pb").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace stubmesh::gateway
