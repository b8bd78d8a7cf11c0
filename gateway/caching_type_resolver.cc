#include "gateway/caching_type_resolver.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace stubmesh::gateway {
namespace {

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// Looks `url` up in `cache`; on a miss resolves it with `resolve` (outside
// the lock: resolving may be slow) and keeps the result.
template <typename T, typename Resolve>
google::protobuf::util::Status Lookup(
    absl::Mutex& mu,
    absl::flat_hash_map<std::string, std::unique_ptr<const T>>& cache,
    const std::string& url, T* out, Resolve resolve) {
  {
    absl::ReaderMutexLock lock(&mu);
    auto it = cache.find(url);
    if (it != cache.end()) {
      *out = *it->second;
      return google::protobuf::util::Status();
    }
  }
  auto resolved = std::make_unique<T>();
  google::protobuf::util::Status status = resolve(url, resolved.get());
  if (!status.ok()) return status;
  *out = *resolved;
  absl::MutexLock lock(&mu);
  cache.try_emplace(url, std::move(resolved));
  return status;
}

}  // namespace

CachingTypeResolver::CachingTypeResolver(
    const google::protobuf::DescriptorPool* pool)
    : resolver_(google::protobuf::util::NewTypeResolverForDescriptorPool(
          kTypeUrlPrefix, pool)) {}

std::string CachingTypeResolver::TypeUrl(
    const google::protobuf::Descriptor& type) {
  return absl::StrCat(kTypeUrlPrefix, "/", type.full_name());
}

google::protobuf::util::Status CachingTypeResolver::ResolveMessageType(
    const std::string& type_url, google::protobuf::Type* type) {
  return Lookup(mu_, types_, type_url, type,
                [this](const std::string& url, google::protobuf::Type* t) {
                  return resolver_->ResolveMessageType(url, t);
                });
}

google::protobuf::util::Status CachingTypeResolver::ResolveEnumType(
    const std::string& type_url, google::protobuf::Enum* enum_type) {
  return Lookup(mu_, enums_, type_url, enum_type,
                [this](const std::string& url, google::protobuf::Enum* e) {
                  return resolver_->ResolveEnumType(url, e);
                });
}

}  // namespace stubmesh::gateway
