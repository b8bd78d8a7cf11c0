#ifndef STUBMESH_LAUNCHER_SCOPED_FD_H_
#define STUBMESH_LAUNCHER_SCOPED_FD_H_

// A file descriptor that is closed when its owner goes away.
//
// Thread-safety: thread-compatible.
//
// Example:
//   ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
//   if (fd.get() < 0) return error;
//   connect(fd.get(), ...);  // closed on every return path

#include <unistd.h>

namespace stubmesh::launcher {

class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Reset(); }

  int get() const { return fd_; }

  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

}  // namespace stubmesh::launcher

#endif  // STUBMESH_LAUNCHER_SCOPED_FD_H_
