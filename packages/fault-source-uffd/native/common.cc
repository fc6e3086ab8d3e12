#include "common.h"

#include <pthread.h>

#include <cstring>

namespace bgsnap {

namespace {
thread_local pid_t cached_tid = 0;

void forget_tid_in_child() { cached_tid = 0; }

// Registered once when the addon loads. pthread_atfork only fails for lack of memory; the cache is
// then still right in every process that does not fork without exec (Node itself never does).
const int atfork_registered = pthread_atfork(nullptr, nullptr, forget_tid_in_child);
}  // namespace

pid_t current_tid() {
  if (cached_tid == 0) cached_tid = static_cast<pid_t>(syscall(SYS_gettid));
  return cached_tid;
}

const char* errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ENOSPC: return "ENOSPC";
    case ENOSYS: return "ENOSYS";
    case ESRCH: return "ESRCH";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EOVERFLOW: return "EOVERFLOW";
    default: return "EUNKNOWN";
  }
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* s = strerror_r(err, buf, sizeof buf);
  return std::string(s ? s : "unknown error");
}

}  // namespace bgsnap
