// Fuzzes mesh config parsing (mesh/mesh_config_loader.h, over
// mesh/json_config.h) with the input as the JSON file. Beyond "no crash",
// for a config that is accepted:
// - it passes ValidateMeshConfig on its own and survives a round trip
//   through proto3 JSON unchanged;
// - every service's gRPC service config (mesh/grpc_service_config.h) builds
//   and is accepted by gRPC's own service config parser, i.e. no config
//   the loader lets through can break channel creation later; its
//   keepalive channel arguments are positive.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/grpc.h"
#include "grpcpp/support/validate_service_config.h"
#include "mesh/grpc_service_config.h"
#include "mesh/mesh_config_loader.h"

using ::stubmesh::mesh::MeshConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  absl::string_view json(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<MeshConfig> config = stubmesh::mesh::ParseMeshConfig(json);
  if (!config.ok()) {
    if (config.status().code() != absl::StatusCode::kInvalidArgument) abort();
    return 0;
  }
  if (!stubmesh::mesh::ValidateMeshConfig(*config).ok()) abort();
  std::string printed;
  if (!google::protobuf::util::MessageToJsonString(*config, &printed).ok()) {
    abort();
  }
  absl::StatusOr<MeshConfig> again = stubmesh::mesh::ParseMeshConfig(printed);
  if (!again.ok() ||
      !google::protobuf::util::MessageDifferencer::Equals(*again, *config)) {
    abort();
  }
  for (const auto& [name, service] : config->services()) {
    absl::StatusOr<std::string> service_config =
        stubmesh::mesh::BuildServiceConfigJson(name, service);
    if (!service_config.ok()) {
      std::fprintf(stderr, "accepted config, no service config: %s\n",
                   service_config.status().ToString().c_str());
      abort();
    }
    std::string error =
        grpc::experimental::ValidateServiceConfigJSON(*service_config);
    if (!error.empty()) {
      std::fprintf(stderr, "gRPC refuses the service config of %s: %s\n%s\n",
                   name.c_str(), error.c_str(), service_config->c_str());
      abort();
    }
    // Keepalive goes in as int milliseconds; it must say what was asked.
    grpc::ChannelArguments arguments =
        stubmesh::mesh::BuildChannelArguments(service, *service_config);
    grpc_channel_args c_args;
    arguments.SetChannelArgs(&c_args);
    for (size_t i = 0; i < c_args.num_args; ++i) {
      const grpc_arg& arg = c_args.args[i];
      if (arg.type != GRPC_ARG_INTEGER) continue;
      absl::string_view key(arg.key);
      if ((key == GRPC_ARG_KEEPALIVE_TIME_MS ||
           key == GRPC_ARG_KEEPALIVE_TIMEOUT_MS) &&
          arg.value.integer < 1) {
        std::fprintf(stderr, "%s is %d\n", arg.key, arg.value.integer);
        abort();
      }
    }
    stubmesh::mesh::CallTimeout(service, "Method");
  }
  return 0;
}
