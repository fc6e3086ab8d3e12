// Opening a userfaultfd the way QEMU does (/dev/userfaultfd first, then the syscall), plus the
// unprivileged fallback (UFFD_USER_MODE_ONLY), and the UFFDIO_API feature handshake.
#pragma once
#include <cstdint>
#include <string>

#include "common.h"

// Debian 12's kernel headers predate these (Linux 6.4+); the values are ABI.
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif

namespace bgsnap {

struct UffdHandle {
  int fd = -1;
  uint64_t features = 0;     // features enabled on this fd
  uint64_t available = 0;    // features the kernel offers
  std::string method;        // "/dev/userfaultfd", "userfaultfd(2)" or "userfaultfd(2, UFFD_USER_MODE_ONLY)"
  bool user_mode_only = false;
};

// Opens a userfaultfd with UFFD_FEATURE_PAGEFAULT_FLAG_WP and, when `want_unpopulated` and offered,
// WP_UNPOPULATED, plus THREAD_ID when offered. Fails with EBGSNAP_FEATURE when WP is missing. With
// `sigbus`, also UFFD_FEATURE_SIGBUS (Linux 4.14), or fails with EBGSNAP_FEATURE_SIGBUS.
bool uffd_open(bool want_unpopulated, bool sigbus, UffdHandle* out, NativeError* err);

// Only the features the kernel offers (opens and closes a probe fd).
bool uffd_probe(UffdHandle* out, NativeError* err);

// Test hook: make `point` fail with errno `value` ("open:/dev/userfaultfd", "userfaultfd",
// "userfaultfd:user-mode", "UFFDIO_API", "UFFDIO_REGISTER"), or hide features ("features": mask).
// value 0 removes the injection.
void uffd_inject(const std::string& point, int64_t value);
// The injected errno for `point`, or 0.
int uffd_injected(const std::string& point);

}  // namespace bgsnap
