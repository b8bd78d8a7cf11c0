#ifndef STUBMESH_GATEWAY_CACHING_TYPE_RESOLVER_H_
#define STUBMESH_GATEWAY_CACHING_TYPE_RESOLVER_H_

// A protobuf TypeResolver over one DescriptorPool that converts each message
// and enum type to its google.protobuf.Type / Enum form once, then answers
// from that cache.
//
// Why: util::MessageToJsonString and JsonStringToMessage build a fresh
// resolver for every call on a non-generated pool (the gateway's pool comes
// from descriptor sets), so every request rebuilt the Type of its message
// and of every nested type. With this resolver, BinaryToJsonString and
// JsonToBinaryString give the same JSON and the same errors without that
// work.
//
// Thread-safety: thread-safe; lookups of cached types take a reader lock.
// The pool is not owned and must outlive the resolver.
//
// Example:
//   CachingTypeResolver types(&pool);
//   std::string json;
//   google::protobuf::util::BinaryToJsonString(
//       &types, CachingTypeResolver::TypeUrl(*message->GetDescriptor()),
//       message->SerializeAsString(), &json, options);

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/type.pb.h"
#include "google/protobuf/util/type_resolver.h"

namespace stubmesh::gateway {

class CachingTypeResolver final : public google::protobuf::util::TypeResolver {
 public:
  explicit CachingTypeResolver(const google::protobuf::DescriptorPool* pool);

  // "type.googleapis.com/<full name>", the URL protobuf's JSON util uses.
  static std::string TypeUrl(const google::protobuf::Descriptor& type);

  google::protobuf::util::Status ResolveMessageType(
      const std::string& type_url, google::protobuf::Type* type) override;
  google::protobuf::util::Status ResolveEnumType(
      const std::string& type_url, google::protobuf::Enum* enum_type) override;

 private:
  const std::unique_ptr<google::protobuf::util::TypeResolver> resolver_;
  absl::Mutex mu_;
  // Only successful resolutions are kept: types never change in a pool.
  absl::flat_hash_map<std::string,
                      std::unique_ptr<const google::protobuf::Type>>
      types_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string,
                      std::unique_ptr<const google::protobuf::Enum>>
      enums_ ABSL_GUARDED_BY(mu_);
};

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_CACHING_TYPE_RESOLVER_H_
