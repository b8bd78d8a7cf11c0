#include "mesh/rpc_labels.h"

namespace stubmesh::mesh {

MethodLabels MethodLabelsOf(absl::string_view path, absl::string_view type) {
  MethodLabels labels;
  labels.type = std::string(type);
  const size_t slash = path.rfind('/');
  if (path.size() < 4 || path[0] != '/' || slash == 0 ||
      slash + 1 == path.size()) {
    labels.service = "unknown";
    labels.method = "unknown";
    return labels;
  }
  labels.service = std::string(path.substr(1, slash - 1));
  labels.method = std::string(path.substr(slash + 1));
  return labels;
}

}  // namespace stubmesh::mesh
