// Prints the gateway's OpenAPI document for the given descriptor sets, the
// same document GET /openapi.json serves, for validators and people:
//
//   openapi_dump [--proto_names] [--enums_as_ints] a.pb [b.pb ...] > doc.json

#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "gateway/api_catalog.h"
#include "gateway/openapi_document.h"

ABSL_FLAG(std::string, title, "stubmesh", "info.title of the document");
ABSL_FLAG(std::string, version, "1.0.0", "info.version of the document");
ABSL_FLAG(bool, proto_names, false,
          "proto field names in schemas (JsonPrintOptions::"
          "preserve_proto_field_names)");
ABSL_FLAG(bool, enums_as_ints, false, "enums as numbers instead of names");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Prints the OpenAPI document of FileDescriptorSet files: "
      "openapi_dump [flags] a.pb [b.pb ...]");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::cerr << "usage: openapi_dump [flags] descriptor_set.pb ...\n";
    return 2;
  }
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (size_t i = 1; i < args.size(); ++i) {
    absl::StatusOr<std::vector<google::protobuf::FileDescriptorProto>> set =
        stubmesh::gateway::ReadFileDescriptorSet(args[i]);
    if (!set.ok()) {
      std::cerr << set.status() << "\n";
      return 1;
    }
    files.insert(files.end(), set->begin(), set->end());
  }
  absl::StatusOr<std::shared_ptr<const stubmesh::gateway::ApiCatalog>> catalog =
      stubmesh::gateway::ApiCatalog::Create(files);
  if (!catalog.ok()) {
    std::cerr << catalog.status() << "\n";
    return 1;
  }
  stubmesh::gateway::OpenApiOptions options;
  options.title = absl::GetFlag(FLAGS_title);
  options.version = absl::GetFlag(FLAGS_version);
  options.preserve_proto_field_names = absl::GetFlag(FLAGS_proto_names);
  options.always_print_enums_as_ints = absl::GetFlag(FLAGS_enums_as_ints);
  std::cout << stubmesh::gateway::BuildOpenApiDocument(**catalog, options);
  return 0;
}
