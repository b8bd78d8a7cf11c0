#ifndef STUBMESH_FUZZ_FUZZ_CATALOG_H_
#define STUBMESH_FUZZ_FUZZ_CATALOG_H_

// The gateway's API catalog built from the real descriptor sets the fuzz
// targets carry as data: protos/descriptor_set.pb (the services of protos/)
// and gateway/testdata/transcoding_descriptor_set.pb (every field kind the
// transcoder handles). Found relative to the working directory (bazel test)
// or in the binary's runfiles (tools/fuzz.sh runs the binary directly).
// Aborts when they cannot be read: a fuzzer without them is broken.
//
// Thread-safety: call once, from LLVMFuzzerInitialize.
//
// Example:
//   static std::shared_ptr<const ApiCatalog> catalog;
//   extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
//     catalog = stubmesh::fuzz::LoadFuzzCatalog((*argv)[0]);
//     return 0;
//   }

#include <memory>

#include "gateway/api_catalog.h"

namespace stubmesh::fuzz {

std::shared_ptr<const gateway::ApiCatalog> LoadFuzzCatalog(const char* argv0);

}  // namespace stubmesh::fuzz

#endif  // STUBMESH_FUZZ_FUZZ_CATALOG_H_
