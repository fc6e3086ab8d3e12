#include "mapping.h"

#include "sigbus.h"

#include <sys/mman.h>

#include <mutex>
#include <unordered_map>

namespace bgsnap {

namespace {
std::mutex g_mu;
std::unordered_map<uint64_t, Mapping*>& registry() {
  // Leaked on purpose: finalizers of other threads may run during static destruction at exit.
  static auto* r = new std::unordered_map<uint64_t, Mapping*>();
  return *r;
}
uint64_t g_next_id = 1;
constexpr size_t kHuge = 2u << 20;
}  // namespace

Mapping* mapping_allocate(size_t length, bool huge_pages, NativeError* err) {
  const bool align = huge_pages && length >= kHuge;
  const size_t reserve = align ? length + kHuge : length;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    *err = errno_error("mmap", errno, std::to_string(length) + " bytes");
    return nullptr;
  }
  uint8_t* base = static_cast<uint8_t*>(p);
  if (align) {
    // Trim to a 2 MiB boundary so that every whole 2 MiB of the region can be one huge PMD: the
    // write-protect pass then marks PMDs instead of 512 PTEs each.
    uintptr_t u = reinterpret_cast<uintptr_t>(base);
    uintptr_t aligned = (u + kHuge - 1) & ~(uintptr_t)(kHuge - 1);
    size_t head = aligned - u;
    size_t tail = reserve - head - length;
    if (head) munmap(base, head);
    if (tail) munmap(reinterpret_cast<uint8_t*>(aligned) + length, tail);
    base = reinterpret_cast<uint8_t*>(aligned);
  }
  bool huge = false;
  if (huge_pages) huge = madvise(base, length, MADV_HUGEPAGE) == 0;  // EINVAL: THP compiled out; fine
  auto* m = new Mapping();
  m->addr = base;
  m->length = length;
  m->huge_pages = huge;
  m->refs.store(1);
  std::lock_guard<std::mutex> lock(g_mu);
  m->id = g_next_id++;
  registry()[m->id] = m;
  return m;
}

Mapping* mapping_acquire(uint64_t id) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = registry().find(id);
  if (it == registry().end()) return nullptr;
  it->second->refs.fetch_add(1);
  return it->second;
}

void mapping_ref(Mapping* m) {
  std::lock_guard<std::mutex> lock(g_mu);
  m->refs.fetch_add(1);
}

void mapping_unref(Mapping* m) {
  {
    std::lock_guard<std::mutex> lock(g_mu);
    if (m->refs.fetch_sub(1) != 1) return;
    registry().erase(m->id);
  }
  // Before the address can be reused: a retired in-thread range must not claim someone else's SIGBUS.
  sigbus_forget_range(m->addr, m->length);
  munmap(m->addr, m->length);
  delete m;
}

size_t mapping_live_count() {
  std::lock_guard<std::mutex> lock(g_mu);
  return registry().size();
}

}  // namespace bgsnap
