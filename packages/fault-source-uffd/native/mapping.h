// Process-wide registry of tracked memory mappings. The addon is loaded once per process but
// initialised once per JS thread (main thread and every worker), so the registry is plain static
// state shared by all of them. A mapping lives while anything holds a reference: an owner token (a
// TrackedMemory object in some thread), an ArrayBuffer view, or a fault-tracking session. The last
// reference unmaps it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common.h"

namespace bgsnap {

struct Mapping {
  uint64_t id = 0;
  uint8_t* addr = nullptr;
  size_t length = 0;
  bool huge_pages = false;   // madvise(MADV_HUGEPAGE) succeeded
  std::atomic<int64_t> refs{0};
  std::atomic<bool> tracked{false};  // registered with a userfaultfd session
};

// mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE), optionally 2 MiB aligned + MADV_HUGEPAGE.
// Returns a mapping holding one reference, or nullptr with `err` filled in.
Mapping* mapping_allocate(size_t length, bool huge_pages, NativeError* err);
// Adds a reference to a live mapping by id; nullptr when it is gone (every reference dropped).
Mapping* mapping_acquire(uint64_t id);
void mapping_ref(Mapping* m);
// Drops a reference; the last one unmaps and frees the mapping.
void mapping_unref(Mapping* m);
// Number of mappings still mapped (for tests and leak checks).
size_t mapping_live_count();

}  // namespace bgsnap
