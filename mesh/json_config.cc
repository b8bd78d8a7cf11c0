#include "mesh/json_config.h"

#include <fstream>
#include <sstream>

namespace stubmesh::mesh {

absl::StatusOr<std::string> ReadConfigFile(const std::string& path,
                                           absl::string_view what) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace stubmesh::mesh
