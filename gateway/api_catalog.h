#ifndef STUBMESH_GATEWAY_API_CATALOG_H_
#define STUBMESH_GATEWAY_API_CATALOG_H_

// What the gateway serves, built from descriptors alone: the services'
// FileDescriptorProtos (from --descriptor_set files or server reflection),
// their google.api.http annotations, and the route table they make. No
// service is known by name in code: a new .proto is a new API.
//
// Built once and shared read-only as std::shared_ptr<const ApiCatalog>; a
// reload builds a new catalog and swaps the pointer, so requests in flight
// keep the one they started with.
//
// Refused at build time, with the method named: a body or response_body
// that names no top-level field, a path variable that names no field or a
// repeated or message field, an invalid template, two routes of one shape,
// nested additional_bindings.
//
// Thread-safety: immutable after Create(); thread-safe.
//
// Example:
//   absl::StatusOr<std::vector<FileDescriptorProto>> files =
//       ReadFileDescriptorSet("descriptors.pb");
//   absl::StatusOr<std::shared_ptr<const ApiCatalog>> catalog =
//       ApiCatalog::Create(*files);
//   std::optional<RouteMatch> m = (*catalog)->routes().Match("GET", "/v1/users/7");
//   const HttpRoute& route = (*catalog)->route(m->route_index);

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/caching_type_resolver.h"
#include "gateway/route_table.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"

namespace stubmesh::gateway {

// One HTTP binding of one gRPC method.
struct HttpRoute {
  std::string http_method;    // "GET", "POST", ... or a custom kind
  std::string path_template;  // as annotated
  const google::protobuf::MethodDescriptor* method = nullptr;
  std::string grpc_path;      // "/stubmesh.user.v1.UserService/GetUser"
  // The body binding: none, every field ("*"), or one top-level field.
  enum class Body { kNone, kWhole, kField };
  Body body = Body::kNone;
  const google::protobuf::FieldDescriptor* body_field = nullptr;
  // The response field sent as the body; null for the whole response.
  const google::protobuf::FieldDescriptor* response_body_field = nullptr;
  const google::protobuf::Message* request_prototype = nullptr;
  const google::protobuf::Message* response_prototype = nullptr;
  // JSON conversions of this route's messages resolve types here (owned by
  // the catalog; null: protobuf's per-call resolver).
  google::protobuf::util::TypeResolver* json_types = nullptr;
};

class ApiCatalog {
 public:
  // Files may come in any order and from several sources; a file name seen
  // twice keeps its first copy.
  static absl::StatusOr<std::shared_ptr<const ApiCatalog>> Create(
      const std::vector<google::protobuf::FileDescriptorProto>& files);

  const RouteTable& routes() const { return *routes_; }
  const HttpRoute& route(int index) const { return http_routes_[index]; }
  const std::vector<HttpRoute>& http_routes() const { return http_routes_; }
  const google::protobuf::DescriptorPool& pool() const { return *pool_; }
  // Full names of the services that have at least one HTTP route.
  const std::vector<std::string>& service_names() const {
    return service_names_;
  }
  // The files the catalog was built from (for merging with more later).
  const std::vector<google::protobuf::FileDescriptorProto>& files() const {
    return files_;
  }

 private:
  ApiCatalog() = default;

  std::vector<google::protobuf::FileDescriptorProto> files_;
  // The pool reads from the database; it must outlive the pool.
  std::unique_ptr<google::protobuf::SimpleDescriptorDatabase> database_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
  std::unique_ptr<google::protobuf::DynamicMessageFactory> factory_;
  std::unique_ptr<CachingTypeResolver> json_types_;  // over pool_
  std::vector<HttpRoute> http_routes_;
  std::vector<std::string> service_names_;
  std::shared_ptr<const RouteTable> routes_;
};

// Reads a FileDescriptorSet file (protoc --descriptor_set_out
// --include_imports).
absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>>
ReadFileDescriptorSet(const std::string& path);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_API_CATALOG_H_
