#ifndef STUBMESH_GATEWAY_REPEATED_FLAG_ARGS_H_
#define STUBMESH_GATEWAY_REPEATED_FLAG_ARGS_H_

// Abseil flags keep only the last occurrence of a flag, but the gateway's
// command line repeats some (`--backend=A=x --backend=B=y`). This joins
// every occurrence of the named list flags into one comma-separated
// occurrence, in order, before absl::ParseCommandLine sees them.
//
// Thread-safety: pure function.
//
// Example:
//   std::vector<std::string> args =
//       JoinRepeatedFlags(argc, argv, {"backend", "descriptor_set"});
//   std::vector<char*> joined = ArgvOf(args);
//   absl::ParseCommandLine(joined.size(), joined.data());

#include <string>
#include <vector>

namespace stubmesh::gateway {

// Handles "--name=value" and "-name=value"; "--name value" is left as is.
// Arguments after "--" are not flags and are kept unchanged.
std::vector<std::string> JoinRepeatedFlags(
    int argc, char** argv, const std::vector<std::string>& names);

// argv-style pointers into `args` (which must outlive them).
std::vector<char*> ArgvOf(std::vector<std::string>& args);

}  // namespace stubmesh::gateway

#endif  // STUBMESH_GATEWAY_REPEATED_FLAG_ARGS_H_
