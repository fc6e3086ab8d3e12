// Shared helpers of the bgsnap userfaultfd addon: time, thread ids, and a small error record that
// native code fills in and the binding layer turns into a JS error (code, errno, syscall, message).
#pragma once
#include <cerrno>
#include <cstdint>
#include <string>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

namespace bgsnap {

// CLOCK_MONOTONIC in ns: the same base as libuv's uv_hrtime(), so JS and the fault thread agree.
inline double now_ns() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) * 1e9 + static_cast<double>(t.tv_nsec);
}

// The calling thread's id, cached per thread: the save loop asks between every scan step, and a
// syscall there cost ~1 µs on these VMs. A forked child's one thread must not keep its parent's
// thread's id: the cache is cleared in the child (common.cc registers that at load).
pid_t current_tid();

// Why a native call failed. `code` is an errno name ("EPERM") or a bgsnap code ("EBGSNAP_FEATURE").
struct NativeError {
  std::string code;
  std::string syscall;
  std::string message;
  int err = 0;
  bool set() const { return !code.empty(); }
};

const char* errno_name(int err);
std::string errno_text(int err);

inline NativeError errno_error(const std::string& syscall_name, int err, const std::string& detail) {
  NativeError e;
  e.code = errno_name(err);
  e.syscall = syscall_name;
  e.err = err;
  e.message = syscall_name + " failed: " + e.code + " (" + errno_text(err) + ")" +
              (detail.empty() ? "" : ": " + detail);
  return e;
}

}  // namespace bgsnap
