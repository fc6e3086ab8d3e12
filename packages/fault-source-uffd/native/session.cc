#include "session.h"

#include "sigbus.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL, which PrepareRead handles
#endif
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace bgsnap {

namespace {
inline uint64_t key_of(uint32_t region, uint64_t page) { return (static_cast<uint64_t>(region) << 44) | page; }

// Backs [base, base + len) with written pages now. MADV_POPULATE_WRITE (Linux >= 5.14) does it in one
// call; older kernels (EINVAL) get one store per page.
bool populate_for_write(uint8_t* base, size_t len, size_t page_size, NativeError* err) {
  int rc;
  do {
    rc = madvise(base, len, MADV_POPULATE_WRITE);
  } while (rc != 0 && (errno == EINTR || errno == EAGAIN));
  if (rc == 0) return true;
  if (errno != EINVAL) {
    *err = errno_error("madvise", errno, "MADV_POPULATE_WRITE of the " + std::to_string(len / page_size) + "-page copy slab");
    return false;
  }
  for (size_t off = 0; off < len; off += page_size) static_cast<volatile uint8_t*>(base)[off] = 0;
  return true;
}

}  // namespace

Session* Session::Create(const SessionOptions& opts, NativeError* err) {
  std::unique_ptr<Session> s(new Session());
  s->mode_ = opts.mode;
  s->page_size_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  s->protect_chunk_ = std::max(opts.protect_chunk, s->page_size_) & ~(s->page_size_ - 1);
  s->copy_slots_ = std::max<size_t>(opts.copy_slots, 1);
  for (Mapping* m : opts.mappings) {
    bool expected = false;
    if (!m->tracked.compare_exchange_strong(expected, true)) {
      for (auto& r : s->regions_) {
        r.mapping->tracked.store(false);
        mapping_unref(r.mapping);
      }
      s->regions_.clear();
      err->code = "EBUSY";
      err->err = EBUSY;
      err->syscall = "ioctl(UFFDIO_REGISTER)";
      err->message = "tracked memory #" + std::to_string(m->id) + " is already tracked by another FaultSource";
      return nullptr;
    }
    mapping_ref(m);
    Region r;
    r.mapping = m;
    r.base = m->addr;
    r.length = m->length;
    r.pages = m->length / s->page_size_;
    if (opts.mode == Mode::kCopy) {
      size_t words = (r.pages + 63) / 64;
      r.taken.reset(new std::atomic<uint64_t>[words]);
      for (size_t i = 0; i < words; i++) r.taken[i].store(0, std::memory_order_relaxed);
    } else if (opts.mode == Mode::kInThread) {
      const size_t words = (r.pages + 31) / 32;  // two bits per page
      r.taken.reset(new std::atomic<uint64_t>[words]);
      for (size_t i = 0; i < words; i++) r.taken[i].store(0, std::memory_order_relaxed);
      const size_t rwords = (r.pages + 63) / 64;
      r.released.reset(new std::atomic<uint64_t>[rwords]);
      for (size_t i = 0; i < rwords; i++) r.released[i].store(0, std::memory_order_relaxed);
    }
    s->regions_.push_back(std::move(r));
  }
  // From here on the destructor undoes everything (unregister, close, unref).
  if (!uffd_open(opts.want_unpopulated, s->mode_ == Mode::kInThread, &s->uffd_, err)) return nullptr;
  if (s->mode_ == Mode::kInThread && !s->CreateInThread(err)) return nullptr;
  if (s->copies()) {
    // MAP_NORESERVE: in copy-on-fault mode a large copyBufferPages reserves address space, not memory,
    // until faults use it (in-thread mode populates it below).
    s->slab_bytes_ = (s->copy_slots_ + s->reserve_slots_) * s->page_size_;
    void* slab = mmap(nullptr, s->slab_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (slab == MAP_FAILED) {
      s->slab_bytes_ = 0;
      *err = errno_error("mmap", errno, std::to_string(s->copy_slots_) + " copy slots");
      return nullptr;
    }
    s->slab_ = static_cast<uint8_t*>(slab);
    // In-thread mode copies into the slab inside a writer's SIGBUS handler: an untouched slot would
    // take a kernel page fault (allocate and zero a page) on that writer's path, once per slot. Fault
    // the slab in here instead, off every writer's path.
    if (s->mode_ == Mode::kInThread && !populate_for_write(s->slab_, s->slab_bytes_, s->page_size_, err)) return nullptr;
    s->free_slots_.reserve(s->copy_slots_);
    for (size_t i = s->copy_slots_; i > 0; i--) s->free_slots_.push_back(static_cast<uint32_t>(i - 1));
  }
  s->efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->efd_ < 0) {
    *err = errno_error("eventfd", errno, "");
    return nullptr;
  }
  for (auto& r : s->regions_) {
    int inj = uffd_injected("UFFDIO_REGISTER");
    struct uffdio_register reg = {};
    reg.range.start = reinterpret_cast<uint64_t>(r.base);
    reg.range.len = r.length;
    reg.mode = UFFDIO_REGISTER_MODE_WP;
    if (inj || ioctl(s->uffd_.fd, UFFDIO_REGISTER, &reg) != 0) {
      *err = errno_error("ioctl(UFFDIO_REGISTER)", inj ? inj : errno,
                         std::to_string(r.length) + " bytes, UFFDIO_REGISTER_MODE_WP");
      return nullptr;
    }
    if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT))) {
      err->code = "EBGSNAP_FEATURE";
      err->syscall = "ioctl(UFFDIO_REGISTER)";
      err->message = "the registered range does not offer UFFDIO_WRITEPROTECT (anonymous write-protect needs Linux >= 5.7)";
      return nullptr;
    }
  }
  return s.release();
}

Session::~Session() {
  Stop();
  if (slab_) munmap(slab_, slab_bytes_);
}

// In-thread mode: the handler runs in the writer, which knows its own id.
bool Session::knows_thread_id() const {
  return mode_ == Mode::kInThread || (uffd_.features & UFFD_FEATURE_THREAD_ID) != 0;
}

int Session::FindRegion(uint64_t addr) const {
  for (size_t i = 0; i < regions_.size(); i++) {
    uint64_t b = reinterpret_cast<uint64_t>(regions_[i].base);
    if (addr >= b && addr < b + regions_[i].length) return static_cast<int>(i);
  }
  return -1;
}

bool Session::WriteProtect(uint8_t* addr, size_t len, bool protect, NativeError* err) {
  struct uffdio_writeprotect wp = {};
  wp.range.start = reinterpret_cast<uint64_t>(addr);
  wp.range.len = len;
  wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  for (int attempt = 0;; attempt++) {
    if (ioctl(uffd_.fd, UFFDIO_WRITEPROTECT, &wp) == 0) return true;
    // EAGAIN: the address space is changing under us (mremap/fork); the kernel asks for a retry.
    if (errno == EAGAIN && attempt < 1000) {
      sched_yield();
      continue;
    }
    if (err) *err = errno_error("ioctl(UFFDIO_WRITEPROTECT)", errno, protect ? "mode WP" : "mode 0 (release)");
    return false;
  }
}

void Session::RecordError(const NativeError& e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!have_pending_error_) {
    have_pending_error_ = true;
    pending_error_ = e;
  }
}

bool Session::TakePendingError(NativeError* err) {
  if (mode_ == Mode::kInThread && InThreadErrorPending()) return TakeInThreadError(err);
  if (!have_pending_error_.load()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!have_pending_error_) return false;
  have_pending_error_ = false;
  *err = pending_error_;
  return true;
}

void Session::Notify(int kind) {
  if (notify_) notify_(notify_ctx_, kind);
}

bool Session::Start(NativeError* err) {
  if (started_.exchange(true)) {
    err->code = "EBGSNAP_STATE";
    err->message = "start() was already called";
    return false;
  }
  handler_tid_.store(current_tid());
  {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.started_at = now_ns();
  }
  if (mode_ == Mode::kInThread) {
    // Before the first page is protected: from then on a write raises SIGBUS.
    if (!sigbus_publish(this, err)) return false;
    published_ = true;
  }
  protecting_.store(true);
  // The fault thread runs before the first chunk is protected, so that a writer faulting on an early
  // chunk is served while later chunks are still being protected. In-thread mode runs the notify
  // thread instead: the writers serve themselves.
  int rc = pthread_create(
      &fault_thread_, nullptr,
      [](void* self) -> void* {
        auto* s = static_cast<Session*>(self);
        if (s->mode_ == Mode::kInThread)
          s->NotifyLoop();
        else
          s->FaultLoop();
        return nullptr;
      },
      this);
  if (rc != 0) {
    protecting_.store(false);
    *err = errno_error("pthread_create", rc, "fault thread");
    return false;
  }
  fault_thread_running_ = true;
  rc = pthread_create(
      &protect_thread_, nullptr,
      [](void* self) -> void* { static_cast<Session*>(self)->ProtectLoop(); return nullptr; }, this);
  if (rc != 0) {
    protecting_.store(false);
    *err = errno_error("pthread_create", rc, "protect thread");
    return false;  // the caller stops the session, which joins the fault thread
  }
  protect_thread_running_ = true;
  return true;
}

void Session::ProtectLoop() {
  const double t0 = now_ns();
  double max_chunk = 0;
  uint64_t chunks = 0, prefaulted = 0;
  const bool prefault = !protects_unpopulated();
  for (auto& r : regions_) {
    // On huge-page regions, chunk boundaries fall on 2 MiB so that no chunk edge splits a huge PMD.
    size_t chunk = protect_chunk_;
    if (r.mapping->huge_pages && chunk % (2u << 20) != 0) chunk = (chunk + (2u << 20) - 1) & ~size_t((2u << 20) - 1);
    for (size_t off = 0; off < r.length && !stopping_.load(); off += chunk) {
      size_t len = std::min(chunk, r.length - off);
      if (prefault) {
        // Without WP_UNPOPULATED, empty PTEs are skipped by UFFDIO_WRITEPROTECT; reading one byte per
        // page maps the shared zero page there, which can then be protected (what QEMU does).
        volatile uint8_t sink = 0;
        for (size_t p = 0; p < len; p += page_size_) sink ^= r.base[off + p];
        (void)sink;
        prefaulted += len / page_size_;
      }
      const double c0 = now_ns();
      NativeError e;
      if (!WriteProtect(r.base + off, len, true, &e)) {
        RecordError(e);
        break;
      }
      max_chunk = std::max(max_chunk, now_ns() - c0);
      chunks++;
    }
  }
  {
    // Under mu_, so that no preservation decided while protecting is still half done once JS learns
    // that the pass is over (read() then trusts live memory again).
    std::lock_guard<std::mutex> lock(mu_);
    protecting_.store(false);
    stats_.protect_ns = now_ns() - t0;
    stats_.max_chunk_ns = max_chunk;
    stats_.chunks = chunks;
    stats_.prefaulted_pages = prefaulted;
    stats_.protected_at = now_ns();
  }
  slots_cv_.notify_all();
  protect_done_.store(true);
  Notify(2);
}

void Session::FaultLoop() {
  struct uffd_msg msgs[64];
  struct pollfd pfd[2] = {{uffd_.fd, POLLIN, 0}, {efd_, POLLIN, 0}};
  while (!stopping_.load()) {
    int r = poll(pfd, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      RecordError(errno_error("poll(userfaultfd)", errno, "fault thread"));
      Notify(1);
      return;
    }
    if (pfd[1].revents) return;  // stop() wrote the eventfd
    if (!(pfd[0].revents & POLLIN)) {
      if (pfd[0].revents & (POLLERR | POLLHUP)) return;
      continue;
    }
    ssize_t n = read(uffd_.fd, msgs, sizeof msgs);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      RecordError(errno_error("read(userfaultfd)", errno, "fault thread"));
      Notify(1);
      return;
    }
    const double t = now_ns();
    const size_t count = static_cast<size_t>(n) / sizeof(struct uffd_msg);
    for (size_t i = 0; i < count && !stopping_.load(); i++) {
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
      uint32_t tid = knows_thread_id() ? msgs[i].arg.pagefault.feat.ptid : 0;
      HandleFault(msgs[i].arg.pagefault.address, tid, t);
    }
    bool pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending = !events_.empty() || have_pending_error_;
    }
    if (pending && armed_.exchange(false)) Notify(1);
  }
}

void Session::HandleFault(uint64_t addr, uint32_t tid, double t) {
  int ri = FindRegion(addr);
  if (ri < 0) return;
  Region& r = regions_[ri];
  const uint64_t page = (addr - reinterpret_cast<uint64_t>(r.base)) / page_size_;
  uint8_t* page_addr = r.base + page * page_size_;
  NativeError e;

  if (mode_ == Mode::kPlain) {
    std::unique_lock<std::mutex> lock(mu_);
    stats_.faults++;
    const bool same = tid != 0 && static_cast<pid_t>(tid) == handler_tid_.load();
    bool release_now = false;
    if (protecting_.load() || same) {
      const uint64_t key = key_of(ri, page);
      if (preserved_.find(key) == preserved_.end()) {
        uint8_t* copy = static_cast<uint8_t*>(malloc(page_size_));
        if (!copy) {
          lock.unlock();
          RecordError(errno_error("malloc", ENOMEM, "preserving a faulted page"));
          return;
        }
        memcpy(copy, page_addr, page_size_);
        preserved_[key] = copy;
        preserved_count_.fetch_add(1);
        stats_.preserved++;
        release_now = true;
      }
      if (same) {
        stats_.same_thread++;
        if (!have_pending_error_) {
          pending_error_.code = "EBGSNAP_SAME_THREAD";
          pending_error_.syscall = "";
          pending_error_.err = 0;
          pending_error_.message = "thread " + std::to_string(tid) + " handles faults and wrote page " +
                                   std::to_string(page) + " of region " + std::to_string(ri) +
                                   " itself; it would have waited on itself forever";
          have_pending_error_ = true;
        }
      }
    }
    events_.push_back(FaultEvent{static_cast<uint32_t>(ri), page, t, 0, tid, nullptr});
    events_size_.store(events_.size());
    stats_.delivered++;
    if (release_now) {
      // Only now, with the event and any error visible to take() without the lock: the writer this
      // wakes may be the handler thread itself, whose very next take() must see them.
      if (!WriteProtect(page_addr, page_size_, false, &e)) {
        lock.unlock();
        RecordError(e);
        return;
      }
      events_.back().released_at = now_ns();
    }
    return;
  }

  // Copy-on-fault: whoever sets the bit first owns the page. If the scan owns it, the scan releases it
  // shortly (the writer waits for that); if we own it, we copy and release now.
  const uint64_t mask = 1ULL << (page & 63);
  uint8_t* copy = nullptr;
  if (r.taken[page >> 6].fetch_or(mask) & mask) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.faults++;
    stats_.claimed_by_scan++;
    return;
  }
  {
    std::unique_lock<std::mutex> lock(mu_);
    stats_.faults++;
    if (free_slots_.empty() && !protecting_.load()) {
      stats_.slot_waits++;
      // The save loop has to drain first; make sure it knows there is something to drain.
      lock.unlock();
      if (armed_.exchange(false)) Notify(1);
      lock.lock();
      slots_cv_.wait(lock, [this] { return stopping_.load() || protecting_.load() || !free_slots_.empty(); });
      if (stopping_.load()) return;  // stop() releases every page
    }
    if (!free_slots_.empty()) {
      copy = slab_ + static_cast<size_t>(free_slots_.back()) * page_size_;
      free_slots_.pop_back();
    }
    slots_in_use_++;
    stats_.max_slots_in_use = std::max<uint64_t>(stats_.max_slots_in_use, slots_in_use_);
  }
  if (!copy) {
    // Only while protecting, when faults do not wait for slots: past the slab, a heap page.
    copy = static_cast<uint8_t*>(malloc(page_size_));
    if (!copy) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        slots_in_use_--;
      }
      RecordError(errno_error("malloc", ENOMEM, "copying a faulted page"));
      return;
    }
  }
  memcpy(copy, page_addr, page_size_);
  if (!WriteProtect(page_addr, page_size_, false, &e)) {
    FreeSlots({copy});
    RecordError(e);
    return;
  }
  const double released = now_ns();
  std::lock_guard<std::mutex> lock(mu_);
  stats_.copied++;
  events_.push_back(FaultEvent{static_cast<uint32_t>(ri), page, t, released, tid, copy});
  events_size_.store(events_.size());
  stats_.delivered++;
}

size_t Session::Take(size_t max, std::vector<FaultEvent>* out) {
  handler_tid_.store(current_tid());
  // An event pushed right after this load is taken by the next call, as it would be after the lock.
  if (events_size_.load() == 0 && ring_pending_.load() == 0) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == Mode::kInThread) DrainRingLocked();
  size_t n = std::min(max, events_.size());
  for (size_t i = 0; i < n; i++) {
    out->push_back(events_.front());
    events_.pop_front();
  }
  events_size_.store(events_.size());
  return n;
}

bool Session::InSlab(const uint8_t* copy) const {
  return slab_ && copy >= slab_ && copy < slab_ + slab_bytes_;
}

void Session::ReturnSlotLocked(uint8_t* copy) {
  if (InSlab(copy)) free_slots_.push_back(static_cast<uint32_t>(static_cast<size_t>(copy - slab_) / page_size_));
  if (slots_in_use_ > 0) slots_in_use_--;
}

void Session::FreeSlots(const std::vector<uint8_t*>& copies) {
  if (copies.empty()) return;
  if (mode_ == Mode::kInThread) {
    ReturnInThreadSlots(copies);  // lock-free: the SIGBUS handlers take slots without mu_
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (uint8_t* copy : copies) ReturnSlotLocked(copy);
  }
  for (uint8_t* copy : copies)
    if (!InSlab(copy)) free(copy);  // a heap page, taken past the slab while protecting
  slots_cv_.notify_one();
}

size_t Session::Arm() {
  handler_tid_.store(current_tid());
  std::lock_guard<std::mutex> lock(mu_);
  if (mode_ == Mode::kInThread) DrainRingLocked();
  const bool error = have_pending_error_ || (mode_ == Mode::kInThread && InThreadErrorPending());
  if (!events_.empty() || error) return events_.size() + (error ? 1 : 0);
  armed_.store(true);
  // A handler publishes, then reads armed_; here armed_ is set, then the ring read: one of the two
  // sees the other (both sequentially consistent), so no event is left without a notification.
  if (mode_ == Mode::kInThread && (ring_pending_.load() > 0 || InThreadErrorPending())) {
    armed_.store(false);
    return 1;
  }
  return 0;
}

size_t Session::Claim(uint32_t region, uint64_t first, uint64_t count) {
  Region& r = regions_[region];
  if (mode_ == Mode::kPlain) return count;
  size_t n = 0;
  if (mode_ == Mode::kInThread) {
    for (; n < count; n++) {
      const uint64_t p = first + n;
      const uint64_t own = 1ULL << ((p & 31) * 2);
      if (r.taken[p >> 5].fetch_or(own) & own) break;
    }
    return n;
  }
  for (; n < count; n++) {
    const uint64_t p = first + n;
    const uint64_t mask = 1ULL << (p & 63);
    if (r.taken[p >> 6].fetch_or(mask) & mask) break;
  }
  return n;
}

size_t Session::Patch(uint32_t region, uint64_t first, uint64_t count, uint8_t* dst) {
  std::lock_guard<std::mutex> lock(mu_);
  if (preserved_.empty()) return 0;
  size_t n = 0;
  if (count <= preserved_.size()) {
    for (uint64_t i = 0; i < count; i++) {
      auto it = preserved_.find(key_of(region, first + i));
      if (it == preserved_.end()) continue;
      memcpy(dst + i * page_size_, it->second, page_size_);
      n++;
    }
  } else {
    for (const auto& kv : preserved_) {
      if ((kv.first >> 44) != region) continue;
      uint64_t p = kv.first & ((1ULL << 44) - 1);
      if (p < first || p >= first + count) continue;
      memcpy(dst + (p - first) * page_size_, kv.second, page_size_);
      n++;
    }
  }
  return n;
}

bool Session::Release(uint32_t region, uint64_t first, uint64_t count, NativeError* err) {
  Region& r = regions_[region];
  if (!WriteProtect(r.base + first * page_size_, count * page_size_, false, err)) return false;
  if (mode_ == Mode::kInThread) {
    MarkReleased(r, first, count);  // wakes writers that faulted on these pages while the scan owned them
    // A torn page (the save-loop thread wrote a page its scan held) fails the snapshot here too: the
    // scan's pages are released before the loop takes faults again, and the image must not be trusted.
    const int kind = herr_kind_.load(std::memory_order_acquire);
    if (kind == 2 || kind == 4) return !TakeInThreadError(err);
    return true;
  }
  if (preserved_count_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (count <= preserved_.size()) {
      for (uint64_t i = 0; i < count && !preserved_.empty(); i++) {
        auto it = preserved_.find(key_of(region, first + i));
        if (it == preserved_.end()) continue;
        free(it->second);
        preserved_.erase(it);
        preserved_count_.fetch_sub(1);
      }
    } else {
      // A large release (e.g. a whole region): walk the few preserved pages instead of the range.
      for (auto it = preserved_.begin(); it != preserved_.end();) {
        const uint64_t p = it->first & ((1ULL << 44) - 1);
        if ((it->first >> 44) == region && p >= first && p < first + count) {
          free(it->second);
          it = preserved_.erase(it);
          preserved_count_.fetch_sub(1);
        } else {
          ++it;
        }
      }
    }
  }
  return true;
}

int64_t Session::PrepareRead(uint32_t region, uint64_t first, uint64_t count, NativeError* err) {
  if (!populate_read_ || count == 0) return 0;
  Region& r = regions_[region];
  uint8_t* base = r.base + first * page_size_;
  residency_.resize(count);
  // mincore() costs 2-4 µs per 2 MiB and tells which pages have nothing mapped: pages never written
  // (or only write-protected while empty, WP_UNPOPULATED's markers) and swapped-out ones. Reading
  // such a page faults once per page, about 10 µs each on a VM; MADV_POPULATE_READ maps a whole run
  // (the shared zero page, or the swapped-in page) for a fraction of that. It only reads: a write
  // fault is never raised, so the userfaultfd sees nothing.
  if (mincore(base, count * page_size_, residency_.data()) != 0) {
    *err = errno_error("mincore", errno, "checking which pages to map before reading them");
    return -1;
  }
  int64_t populated = 0;
  for (uint64_t i = 0; i < count;) {
    if (residency_[i] & 1) {
      i++;
      continue;
    }
    uint64_t end = i + 1;
    while (end < count && !(residency_[end] & 1)) end++;
    const size_t len = (end - i) * page_size_;
    int rc;
    do {
      rc = madvise(base + i * page_size_, len, MADV_POPULATE_READ);
    } while (rc != 0 && (errno == EINTR || errno == EAGAIN));
    if (rc != 0) {
      if (errno == EINVAL) {
        // Linux before 5.14: reading faults the pages in one by one, as before.
        populate_read_ = false;
        return populated;
      }
      *err = errno_error("madvise", errno, "MADV_POPULATE_READ before reading never-written pages");
      return -1;
    }
    populated += static_cast<int64_t>(end - i);
    i = end;
  }
  if (populated > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.populated_for_read += static_cast<uint64_t>(populated);
  }
  return populated;
}

void Session::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_.load()) return;
  stopping_.store(true);
  slots_cv_.notify_all();
  if (mode_ == Mode::kInThread) StopInThreadWaiters();
  if (efd_ >= 0) {
    uint64_t one = 1;
    ssize_t w = write(efd_, &one, sizeof one);
    (void)w;
  }
  // The protect thread checks `stopping_` between chunks; it must be done before the release below,
  // or a late chunk could protect pages again.
  if (protect_thread_running_) pthread_join(protect_thread_, nullptr);
  protect_thread_running_ = false;
  if (uffd_.fd >= 0) {
    for (auto& r : regions_) {
      WriteProtect(r.base, r.length, false, nullptr);
      struct uffdio_range range = {reinterpret_cast<uint64_t>(r.base), r.length};
      ioctl(uffd_.fd, UFFDIO_UNREGISTER, &range);
    }
  }
  // Only now that every page is released and unregistered: a handler still inside the session finishes
  // (it sees stopping_ and returns) before the userfaultfd it may still use is closed.
  if (published_) sigbus_unpublish(this);
  published_ = false;
  if (fault_thread_running_) pthread_join(fault_thread_, nullptr);
  fault_thread_running_ = false;
  if (uffd_.fd >= 0) close(uffd_.fd);
  if (efd_ >= 0) close(efd_);
  if (sig_efd_ >= 0) close(sig_efd_);
  uffd_.fd = -1;
  efd_ = -1;
  sig_efd_ = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& ev : events_)
      if (ev.copy && !InSlab(ev.copy)) free(ev.copy);  // slab copies go with the slab, in the destructor
    events_.clear();
    events_size_.store(0);
    for (auto& kv : preserved_) free(kv.second);
    preserved_.clear();
    preserved_count_.store(0);
    protecting_.store(false);
  }
  for (auto& r : regions_) {
    r.mapping->tracked.store(false);
    mapping_unref(r.mapping);
    r.mapping = nullptr;
  }
  // regions_ itself stays: the binding checks stopped() before any call that would index it.
  stopped_.store(true);
}

SessionStats Session::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  SessionStats st = stats_;
  if (mode_ == Mode::kInThread) AddInThreadStats(&st);
  return st;
}

}  // namespace bgsnap
