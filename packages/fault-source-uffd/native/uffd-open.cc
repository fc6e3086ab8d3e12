#include "uffd-open.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <vector>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

namespace bgsnap {

namespace {
std::mutex g_inject_mu;
std::map<std::string, int64_t>& injections() {
  static auto* m = new std::map<std::string, int64_t>();
  return *m;
}

struct Attempt {
  std::string method;
  int err;
};

int try_dev(std::vector<Attempt>* log) {
  int e = uffd_injected("open:/dev/userfaultfd");
  if (e) {
    log->push_back({"open(/dev/userfaultfd)", e});
    return -1;
  }
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev < 0) {
    log->push_back({"open(/dev/userfaultfd)", errno});
    return -1;
  }
  int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
  int saved = errno;
  close(dev);
  if (fd < 0) log->push_back({"ioctl(/dev/userfaultfd, USERFAULTFD_IOC_NEW)", saved});
  return fd;
}

int try_syscall(bool user_mode, std::vector<Attempt>* log) {
  const char* name = user_mode ? "userfaultfd(2, UFFD_USER_MODE_ONLY)" : "userfaultfd(2)";
  int e = uffd_injected(user_mode ? "userfaultfd:user-mode" : "userfaultfd");
  if (e) {
    log->push_back({name, e});
    return -1;
  }
  int flags = O_CLOEXEC | O_NONBLOCK | (user_mode ? UFFD_USER_MODE_ONLY : 0);
  int fd = static_cast<int>(syscall(SYS_userfaultfd, flags));
  if (fd < 0) log->push_back({name, errno});
  return fd;
}

// One fresh fd, by the first method that works. The fd has not had UFFDIO_API yet.
int open_fd(UffdHandle* out, NativeError* err) {
  std::vector<Attempt> log;
  int fd = try_dev(&log);
  if (fd >= 0) {
    out->method = "/dev/userfaultfd";
    out->user_mode_only = false;
    return fd;
  }
  fd = try_syscall(false, &log);
  if (fd >= 0) {
    out->method = "userfaultfd(2)";
    out->user_mode_only = false;
    return fd;
  }
  // Only worth trying when the plain syscall was refused for lack of privilege.
  if (!log.empty() && log.back().err == EPERM) {
    fd = try_syscall(true, &log);
    if (fd >= 0) {
      out->method = "userfaultfd(2, UFFD_USER_MODE_ONLY)";
      out->user_mode_only = true;
      return fd;
    }
  }
  bool perm = false, nosys = true;
  int last = log.empty() ? EINVAL : log.back().err;
  std::string detail;
  for (const auto& a : log) {
    if (a.err == EPERM || a.err == EACCES) perm = true;
    if (a.err != ENOSYS && a.err != ENOENT) nosys = false;
    if (!detail.empty()) detail += "; ";
    detail += a.method + ": " + errno_name(a.err);
  }
  int code = perm ? EPERM : nosys ? ENOSYS : last;
  *err = errno_error("userfaultfd", code, detail);
  return -1;
}

bool api_handshake(int fd, uint64_t features, uint64_t* granted, NativeError* err) {
  int e = uffd_injected("UFFDIO_API");
  struct uffdio_api api = {};
  api.api = UFFD_API;
  api.features = features;
  if (e || ioctl(fd, UFFDIO_API, &api) != 0) {
    *err = errno_error("ioctl(UFFDIO_API)", e ? e : errno, "features 0x" + std::to_string(features));
    return false;
  }
  *granted = api.features;
  return true;
}
}  // namespace

void uffd_inject(const std::string& point, int64_t value) {
  std::lock_guard<std::mutex> lock(g_inject_mu);
  if (value == 0)
    injections().erase(point);
  else
    injections()[point] = value;
}

int uffd_injected(const std::string& point) {
  std::lock_guard<std::mutex> lock(g_inject_mu);
  auto it = injections().find(point);
  return it == injections().end() ? 0 : static_cast<int>(it->second);
}

bool uffd_probe(UffdHandle* out, NativeError* err) {
  int fd = open_fd(out, err);
  if (fd < 0) return false;
  uint64_t offered = 0;
  bool ok = api_handshake(fd, 0, &offered, err);
  close(fd);
  if (!ok) return false;
  int64_t hidden = 0;
  {
    std::lock_guard<std::mutex> lock(g_inject_mu);
    auto it = injections().find("features");
    if (it != injections().end()) hidden = it->second;
  }
  out->available = offered & ~static_cast<uint64_t>(hidden);
  return true;
}

bool uffd_open(bool want_unpopulated, bool sigbus, UffdHandle* out, NativeError* err) {
  // UFFDIO_API succeeds once per fd, so the probe uses its own fd (as QEMU does).
  if (!uffd_probe(out, err)) return false;
  if (!(out->available & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
    err->code = "EBGSNAP_FEATURE";
    err->syscall = "ioctl(UFFDIO_API)";
    err->message = "the kernel's userfaultfd lacks UFFD_FEATURE_PAGEFAULT_FLAG_WP (write-protect faults)";
    return false;
  }
  uint64_t want = UFFD_FEATURE_PAGEFAULT_FLAG_WP;
  if (sigbus) {
    if (!(out->available & UFFD_FEATURE_SIGBUS)) {
      err->code = "EBGSNAP_FEATURE_SIGBUS";
      err->syscall = "ioctl(UFFDIO_API)";
      err->message = "the kernel's userfaultfd lacks UFFD_FEATURE_SIGBUS, which in-thread mode needs";
      return false;
    }
    want |= UFFD_FEATURE_SIGBUS;
  }
  if (out->available & UFFD_FEATURE_THREAD_ID) want |= UFFD_FEATURE_THREAD_ID;
  if (want_unpopulated && (out->available & UFFD_FEATURE_WP_UNPOPULATED)) want |= UFFD_FEATURE_WP_UNPOPULATED;
  int fd = open_fd(out, err);
  if (fd < 0) return false;
  uint64_t granted = 0;
  if (!api_handshake(fd, want, &granted, err)) {
    close(fd);
    return false;
  }
  out->fd = fd;
  out->features = want;
  return true;
}

}  // namespace bgsnap
