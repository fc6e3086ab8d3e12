// Test-only helpers for the in-thread SIGBUS handler's chaining: a real SIGBUS outside tracked memory
// (a store to a shared file mapping past the end of its file), and a program's "own" SIGBUS handler
// installed before ours. Exposed as the addon's testSigbus(op); never used by the library itself.
#pragma once
#include <cstdint>
#include <string>

#include "common.h"

namespace bgsnap {

// op "install": installs the test handler (SA_SIGINFO; counts hits, and jumps back out of "provoke").
// op "uninstall": puts back the action that "install" replaced.
// op "is-installed": 1 when the test handler is the current action.
// op "provoke": stores to page 2 of a 1-page memfd mapped as 2 pages: the kernel raises SIGBUS
//   (BUS_ADRERR). Returns the test handler's hit count afterwards; without a handler that jumps
//   back out, the process ends by SIGBUS.
// op "hits": the test handler's hit count.
// Returns -1 with `err` set on a failed call or an unknown op.
int64_t test_sigbus(const std::string& op, NativeError* err);

}  // namespace bgsnap
