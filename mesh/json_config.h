#ifndef STUBMESH_MESH_JSON_CONFIG_H_
#define STUBMESH_MESH_JSON_CONFIG_H_

// Config files of the mesh (mesh config, launcher topology) are protos
// written as JSON (proto3 mapping). One way to read them: parse with
// protobuf's JSON util, then check, every error prefixed with what was read.
//
// Thread-safety: pure functions.
//
// Example:
//   absl::StatusOr<MeshConfig> config = ReadJsonConfig<MeshConfig>(
//       "deploy/mesh.json", "mesh config", ValidateMeshConfig);

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/util/json_util.h"

namespace stubmesh::mesh {

// The whole file; NOT_FOUND naming `what` and `path` when it cannot be read.
absl::StatusOr<std::string> ReadConfigFile(const std::string& path,
                                           absl::string_view what);

// `json` parsed into a Message, then `validate`d; INVALID_ARGUMENT as
// "<what>: <why>".
template <typename Message, typename Validate>
absl::StatusOr<Message> ParseJsonConfig(absl::string_view json,
                                        absl::string_view what,
                                        Validate validate) {
  Message message;
  google::protobuf::util::Status parsed =
      google::protobuf::util::JsonStringToMessage(std::string(json), &message);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", parsed.message().as_string()));
  }
  absl::Status s = validate(message);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
  }
  return message;
}

// ReadConfigFile then ParseJsonConfig; errors also name the path.
template <typename Message, typename Validate>
absl::StatusOr<Message> ReadJsonConfig(const std::string& path,
                                       absl::string_view what,
                                       Validate validate) {
  absl::StatusOr<std::string> text = ReadConfigFile(path, what);
  if (!text.ok()) return text.status();
  absl::StatusOr<Message> message =
      ParseJsonConfig<Message>(*text, what, validate);
  if (!message.ok()) {
    return absl::Status(message.status().code(),
                        absl::StrCat(path, ": ", message.status().message()));
  }
  return message;
}

}  // namespace stubmesh::mesh

#endif  // STUBMESH_MESH_JSON_CONFIG_H_
