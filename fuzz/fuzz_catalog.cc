#include "fuzz/fuzz_catalog.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace stubmesh::fuzz {
namespace {

constexpr const char* kDescriptorSets[] = {
    "protos/descriptor_set.pb",
    "gateway/testdata/transcoding_descriptor_set.pb",
};

bool Readable(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  std::fclose(f);
  return true;
}

}  // namespace

std::shared_ptr<const gateway::ApiCatalog> LoadFuzzCatalog(const char* argv0) {
  std::string root;
  if (!Readable(kDescriptorSets[0])) {
    root = absl::StrCat(argv0, ".runfiles/stubmesh/");
  }
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const char* name : kDescriptorSets) {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> set =
        gateway::ReadFileDescriptorSet(root + name);
    if (!set.ok()) {
      std::fprintf(stderr, "fuzz catalog: %s\n",
                   set.status().ToString().c_str());
      std::abort();
    }
    files.insert(files.end(), set->begin(), set->end());
  }
  absl::StatusOr<std::shared_ptr<const gateway::ApiCatalog>> catalog =
      gateway::ApiCatalog::Create(files);
  if (!catalog.ok()) {
    std::fprintf(stderr, "fuzz catalog: %s\n",
                 catalog.status().ToString().c_str());
    std::abort();
  }
  return *std::move(catalog);
}

}  // namespace stubmesh::fuzz
