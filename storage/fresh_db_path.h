#ifndef STUBMESH_STORAGE_FRESH_DB_PATH_H_
#define STUBMESH_STORAGE_FRESH_DB_PATH_H_

// For tests: a path under $TEST_TMPDIR (or /tmp) for a SQLite file, with any
// file of that name and its -wal/-shm companions removed first.
//
// Example:
//   auto store = UserStore::Create(FreshDbPath("users.db"));

#include <cstdio>
#include <cstdlib>
#include <string>

namespace stubmesh::storage {

inline std::string FreshDbPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::remove((path + suffix).c_str());
  }
  return path;
}

}  // namespace stubmesh::storage

#endif  // STUBMESH_STORAGE_FRESH_DB_PATH_H_
