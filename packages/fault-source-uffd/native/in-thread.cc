// In-thread mode: the SIGBUS handler's side of a Session (see session.h and sigbus.h).
//
// Everything reachable from ServeSigbus is async-signal-safe: atomics (lock-free on x86-64), memcpy,
// clock_gettime, and the syscalls ioctl, futex, write, sched_yield, nanosleep and gettid. No malloc, no
// mutex, no mmap, no Node-API call. The slab, the ring and the bitmaps are made in Create().
#include <limits.h>
#include <linux/futex.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "session.h"

namespace bgsnap {

namespace {

// Pages the save-loop thread may still copy when every slot is in use: it cannot wait for slots that
// only it returns. 16 pages cover a burst of its own writes until its next take() reports the error.
constexpr size_t kReserveSlots = 16;
// Bounded spins before sleeping: a fault's copy and release take a few microseconds, a scan's release
// of a batch tens; a futex sleep and wakeup cost about as much again, so spin briefly first.
constexpr int kSpins = 200;
constexpr long kWaitNs = 5 * 1000 * 1000;  // futex timeout: waiters re-check stop() at least this often

inline void cpu_relax() { __builtin_ia32_pause(); }

inline pid_t raw_tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

inline uint32_t* futex_word(std::atomic<uint32_t>* a) { return reinterpret_cast<uint32_t*>(a); }

void futex_wait(std::atomic<uint32_t>* a, uint32_t seen) {
  struct timespec ts = {0, kWaitNs};
  syscall(SYS_futex, futex_word(a), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* a) {
  syscall(SYS_futex, futex_word(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

void bump(std::atomic<uint32_t>* gen, std::atomic<uint32_t>* waiters) {
  gen->fetch_add(1);
  if (waiters->load() > 0) futex_wake_all(gen);
}

inline uint64_t own_bit(uint64_t page) { return 1ULL << ((page & 31) * 2); }

}  // namespace

bool Session::CreateInThread(NativeError* err) {
  reserve_slots_ = kReserveSlots;
  const size_t total = copy_slots_ + reserve_slots_;
  slot_words_ = (total + 63) / 64;
  slot_free_.reset(new std::atomic<uint64_t>[slot_words_]);
  for (size_t w = 0; w < slot_words_; w++) {
    const size_t left = total - w * 64;
    slot_free_[w].store(left >= 64 ? ~0ULL : ((1ULL << left) - 1), std::memory_order_relaxed);
  }
  free_count_.store(static_cast<int64_t>(copy_slots_));
  size_t cells = 1;
  while (cells < total) cells <<= 1;
  ring_.reset(new RingCell[cells]);
  for (size_t i = 0; i < cells; i++) ring_[i].seq.store(i, std::memory_order_relaxed);
  ring_mask_ = cells - 1;
  sig_efd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sig_efd_ < 0) {
    *err = errno_error("eventfd", errno, "in-thread doorbell");
    return false;
  }
  return true;
}

void Session::NotifyLoop() {
  struct pollfd pfd[2] = {{sig_efd_, POLLIN, 0}, {efd_, POLLIN, 0}};
  while (!stopping_.load()) {
    int r = poll(pfd, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      RecordError(errno_error("poll(eventfd)", errno, "in-thread notify thread"));
      Notify(1);
      return;
    }
    if (pfd[1].revents) return;  // stop() wrote the eventfd
    if (pfd[0].revents & POLLIN) {
      uint64_t v;
      ssize_t n = read(sig_efd_, &v, sizeof v);
      (void)n;
    }
    if ((ring_pending_.load() > 0 || InThreadErrorPending()) && armed_.exchange(false)) Notify(1);
  }
}

int64_t Session::TryTakeSlot(size_t from, size_t to) {
  if (from >= to) return -1;
  for (size_t w = from >> 6; w <= (to - 1) >> 6; w++) {
    uint64_t m = ~0ULL;
    if (w == (from >> 6)) m &= ~0ULL << (from & 63);
    if (w == ((to - 1) >> 6)) m &= ~0ULL >> (63 - ((to - 1) & 63));
    uint64_t v = slot_free_[w].load(std::memory_order_relaxed);
    while (v & m) {
      const int b = __builtin_ctzll(v & m);
      if (slot_free_[w].compare_exchange_weak(v, v & ~(1ULL << b), std::memory_order_acquire)) {
        const int64_t used = in_use_.fetch_add(1) + 1;
        uint64_t max = st_max_in_use_.load(std::memory_order_relaxed);
        while (static_cast<uint64_t>(used) > max &&
               !st_max_in_use_.compare_exchange_weak(max, static_cast<uint64_t>(used), std::memory_order_relaxed)) {
        }
        return static_cast<int64_t>(w * 64 + b);
      }
    }
  }
  return -1;
}

Session::SlotResult Session::TakeSlot(Region& r, uint64_t page, bool loop_thread, int64_t* slot) {
  auto normal = [&]() -> int64_t {
    if (free_count_.load() <= 0) return -1;
    const int64_t s = TryTakeSlot(0, copy_slots_);
    if (s >= 0) free_count_.fetch_sub(1);
    return s;
  };
  if ((*slot = normal()) >= 0) return SlotResult::kSlot;
  if (loop_thread) {
    // Waiting here would wait for this very thread's next take(): use the reserve and report it.
    if ((*slot = TryTakeSlot(copy_slots_, copy_slots_ + reserve_slots_)) >= 0) {
      st_reserve_.fetch_add(1);
      st_same_thread_.fetch_add(1);
      return SlotResult::kSlot;
    }
    return SlotResult::kNone;
  }
  st_slot_waits_.fetch_add(1, std::memory_order_relaxed);
  WakeFromHandler(true);  // the save loop has to drain first; make sure it knows there is something
  const uint64_t bit = 1ULL << (page & 63);
  std::atomic<uint64_t>& released = r.released[page >> 6];
  for (int spins = 0;; spins++) {
    if (stopping_.load()) return SlotResult::kStopping;
    // The scan may have claimed, saved and released the page meanwhile: then no copy is needed.
    if (released.load(std::memory_order_acquire) & bit) return SlotResult::kReleased;
    if ((*slot = normal()) >= 0) return SlotResult::kSlot;
    if (spins < kSpins) {
      cpu_relax();
      continue;
    }
    slot_waiters_.fetch_add(1);
    const uint32_t gen = slot_gen_.load();
    if ((*slot = normal()) >= 0) {
      slot_waiters_.fetch_sub(1);
      return SlotResult::kSlot;
    }
    futex_wait(&slot_gen_, gen);
    slot_waiters_.fetch_sub(1);
  }
}

void Session::GiveBackSlot(size_t i) {
  slot_free_[i >> 6].fetch_or(1ULL << (i & 63), std::memory_order_release);
  if (i < copy_slots_) free_count_.fetch_add(1);
  in_use_.fetch_sub(1);
}

void Session::ReturnInThreadSlots(const std::vector<uint8_t*>& copies) {
  for (uint8_t* copy : copies)
    if (InSlab(copy)) GiveBackSlot(static_cast<size_t>(copy - slab_) / page_size_);
  bump(&slot_gen_, &slot_waiters_);
}

void Session::PushEvent(const FaultEvent& ev) {
  uint64_t pos = ring_tail_.load(std::memory_order_relaxed);
  RingCell* cell;
  for (;;) {
    cell = &ring_[pos & ring_mask_];
    const uint64_t seq = cell->seq.load(std::memory_order_acquire);
    const int64_t dif = static_cast<int64_t>(seq) - static_cast<int64_t>(pos);
    if (dif == 0) {
      if (ring_tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) break;
    } else if (dif < 0) {
      // Full: cannot happen (a cell per slot, an event per slot); yield rather than overwrite.
      sched_yield();
      pos = ring_tail_.load(std::memory_order_relaxed);
    } else {
      pos = ring_tail_.load(std::memory_order_relaxed);
    }
  }
  cell->ev = ev;
  cell->seq.store(pos + 1, std::memory_order_release);
  ring_pending_.fetch_add(1);
}

void Session::DrainRingLocked() {
  if (!ring_) return;
  for (;;) {
    RingCell& cell = ring_[ring_head_ & ring_mask_];
    if (cell.seq.load(std::memory_order_acquire) != ring_head_ + 1) break;
    events_.push_back(cell.ev);
    cell.seq.store(ring_head_ + ring_mask_ + 1, std::memory_order_release);
    ring_head_++;
    ring_pending_.fetch_sub(1);
    stats_.delivered++;
  }
  events_size_.store(events_.size());
}

void Session::MarkReleased(Region& r, uint64_t first, uint64_t count) {
  uint64_t p = first;
  const uint64_t end = first + count;
  while (p < end) {
    const uint64_t w = p >> 6;
    const uint64_t lo = p & 63;
    const uint64_t n = std::min<uint64_t>(64 - lo, end - p);
    const uint64_t mask = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << lo;
    r.released[w].fetch_or(mask, std::memory_order_release);
    p += n;
  }
  bump(&release_gen_, &release_waiters_);
}

void Session::WaitReleased(Region& r, uint64_t page) {
  const uint64_t bit = 1ULL << (page & 63);
  std::atomic<uint64_t>& w = r.released[page >> 6];
  for (int i = 0; i < kSpins; i++) {
    if (w.load(std::memory_order_acquire) & bit) return;
    cpu_relax();
  }
  for (;;) {
    release_waiters_.fetch_add(1);
    const uint32_t gen = release_gen_.load();
    // stop() releases every page (the store then succeeds) or is about to (it faults again and waits
    // here once more, briefly).
    if ((w.load(std::memory_order_acquire) & bit) || stopping_.load()) {
      release_waiters_.fetch_sub(1);
      return;
    }
    futex_wait(&release_gen_, gen);
    release_waiters_.fetch_sub(1);
  }
}

void Session::WakeFromHandler(bool force) {
  if (!force && !armed_.load()) return;
  const uint64_t one = 1;
  ssize_t n = write(sig_efd_, &one, sizeof one);  // EAGAIN only when the counter is saturated: awake anyway
  (void)n;
}

void Session::RecordHandlerError(int kind, uint32_t region, uint64_t page, pid_t tid, int err) {
  int expected = 0;
  if (herr_claim_.compare_exchange_strong(expected, 1)) {
    herr_region_.store(region, std::memory_order_relaxed);
    herr_page_.store(page, std::memory_order_relaxed);
    herr_tid_.store(tid, std::memory_order_relaxed);
    herr_errno_.store(err, std::memory_order_relaxed);
    herr_kind_.store(kind, std::memory_order_release);
  }
  WakeFromHandler(true);
}

bool Session::ReleaseFromHandler(uint8_t* page_addr, Region& r, uint32_t region, uint64_t page, pid_t tid) {
  struct uffdio_writeprotect wp = {};
  wp.range.start = reinterpret_cast<uint64_t>(page_addr);
  wp.range.len = page_size_;
  wp.mode = 0;
  while (ioctl(uffd_.fd, UFFDIO_WRITEPROTECT, &wp) != 0) {
    const int e = errno;
    if (stopping_.load()) return false;  // stop() releases every page
    if (e == EAGAIN || e == EINTR) {
      sched_yield();
      continue;
    }
    // The page stays protected and the store cannot proceed: report, and retry until JS stops the
    // session (stop() releases every page) rather than end the process.
    RecordHandlerError(3, region, page, tid, e);
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  MarkReleased(r, page, 1);
  return true;
}

void Session::ServeSigbus(uint32_t ri, uintptr_t addr) {
  const double raised = now_ns();
  st_faults_.fetch_add(1, std::memory_order_relaxed);
  if (stopping_.load()) {
    // stop() is releasing every page; the store re-executes and succeeds once it has.
    sched_yield();
    return;
  }
  Region& r = regions_[ri];
  const uint64_t page = (addr - reinterpret_cast<uintptr_t>(r.base)) / page_size_;
  uint8_t* page_addr = r.base + page * page_size_;
  const pid_t tid = raw_tid();
  const bool loop_thread = tid == handler_tid_.load();
  std::atomic<uint64_t>& word = r.taken[page >> 5];
  const uint64_t own = own_bit(page);
  const uint64_t by_fault = own << 1;

  if (!(word.load(std::memory_order_acquire) & own)) {
    // The slot first: once this thread owns the page it never waits, so a second writer of the page
    // (even the save-loop thread) waits only for one copy and one ioctl.
    int64_t slot = -1;
    const SlotResult sr = TakeSlot(r, page, loop_thread, &slot);
    if (sr == SlotResult::kReleased || sr == SlotResult::kStopping) return;
    uint64_t w = word.load(std::memory_order_acquire);
    bool won = false;
    while (!(w & own)) {
      if (word.compare_exchange_weak(w, w | own | by_fault, std::memory_order_acq_rel)) {
        won = true;
        break;
      }
    }
    if (won) {
      uint8_t* copy = nullptr;
      if (slot >= 0) {
        copy = slab_ + static_cast<size_t>(slot) * page_size_;
        memcpy(copy, page_addr, page_size_);  // before the release: these are the snapshot's bytes
      }
      if (!ReleaseFromHandler(page_addr, r, ri, page, tid)) return;
      const double released = now_ns();
      if (copy) {
        PushEvent(FaultEvent{ri, page, raised, released, static_cast<uint32_t>(tid), copy});
        st_served_.fetch_add(1, std::memory_order_relaxed);
        WakeFromHandler(false);
      } else {
        // The save-loop thread, no slot and no reserve left: the page went out without a copy.
        st_same_thread_.fetch_add(1);
        RecordHandlerError(4, ri, page, tid, 0);
      }
      return;
    }
    if (slot >= 0) {
      GiveBackSlot(static_cast<size_t>(slot));
      bump(&slot_gen_, &slot_waiters_);
    }
  }

  // Someone owns the page: wait until it is writable again.
  if (!(word.load(std::memory_order_acquire) & by_fault)) {
    st_scan_waits_.fetch_add(1, std::memory_order_relaxed);
    if (loop_thread) {
      // The scan runs on this thread and releases the page only after this store: waiting would never
      // end. The page goes out torn; the session reports it and the snapshot must be discarded.
      st_same_thread_.fetch_add(1);
      RecordHandlerError(2, ri, page, tid, 0);
      ReleaseFromHandler(page_addr, r, ri, page, tid);
      return;
    }
  } else {
    st_fault_waits_.fetch_add(1, std::memory_order_relaxed);
  }
  WaitReleased(r, page);
}

bool Session::InThreadErrorPending() const {
  return herr_kind_.load(std::memory_order_acquire) != 0 || st_reserve_.load() > reserve_reported_.load();
}

bool Session::TakeInThreadError(NativeError* err) {
  const int kind = herr_kind_.load(std::memory_order_acquire);
  const std::string where = "page " + std::to_string(herr_page_.load()) + " of region " +
                            std::to_string(herr_region_.load()) + " (thread " + std::to_string(herr_tid_.load()) + ")";
  if (kind == 3) {
    // Sticky: the page could not be released; only stop() ends it.
    *err = errno_error("ioctl(UFFDIO_WRITEPROTECT)", herr_errno_.load(), "release of " + where + " in the SIGBUS handler");
    return true;
  }
  if (kind == 2 || kind == 4) {
    // Sticky: the image is no longer consistent, so every later call says so until stop().
    err->code = "EBGSNAP_SAME_THREAD";
    err->syscall = "";
    err->err = 0;
    err->message = "the thread that runs the save loop wrote tracked memory, " + where + ", " +
                   (kind == 2 ? std::string("which its own scan had claimed and not yet released")
                              : std::string("while every copy slot and the emergency reserve were in use")) +
                   "; waiting would have waited on itself forever, so the page was released without a copy and "
                   "this snapshot is not consistent";
    return true;
  }
  const uint64_t used = st_reserve_.load();
  const uint64_t told = reserve_reported_.load();
  if (used > told) {
    reserve_reported_.store(used);
    err->code = "EBGSNAP_SAME_THREAD";
    err->syscall = "";
    err->err = 0;
    err->message = "the thread that runs the save loop wrote tracked memory while every copy slot was in use; " +
                   std::to_string(used - told) +
                   " page(s) went into the emergency reserve instead of waiting on itself (the snapshot is still "
                   "consistent)";
    return true;
  }
  return false;
}

void Session::AddInThreadStats(SessionStats* st) const {
  st->faults = st_faults_.load();
  st->copied = st_served_.load();
  st->served_in_thread = st_served_.load();
  st->claimed_by_scan = st_scan_waits_.load();
  st->scan_owned_waits = st_scan_waits_.load();
  st->fault_owned_waits = st_fault_waits_.load();
  st->slot_waits = st_slot_waits_.load();
  st->same_thread = st_same_thread_.load();
  st->reserve_used = st_reserve_.load();
  st->max_slots_in_use = st_max_in_use_.load();
}

void Session::StopInThreadWaiters() {
  bump(&slot_gen_, &slot_waiters_);
  bump(&release_gen_, &release_waiters_);
}

}  // namespace bgsnap
