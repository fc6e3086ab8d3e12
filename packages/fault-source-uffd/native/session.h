// One write-tracking session: a userfaultfd registered over a set of mappings, a fault thread that
// reads its events, and a protect thread that write-protects the regions chunk by chunk.
//
// Plain mode: the fault thread timestamps events and queues them; the JS save loop reads and releases
// the page. Two exceptions keep writers from waiting on something that cannot come: during the
// protect pass (the save loop is not running yet), and for faults raised by the thread that handles
// faults (it would wait on itself), the fault thread copies the page ("preserves" it), releases it at
// once, and read() later returns the preserved bytes instead of the live memory.
//
// Copy-on-fault mode: the fault thread claims the page in a per-region atomic bitmap (shared with the
// scan's claim()), copies it into one of a fixed set of slots, releases it and queues the copy. The
// slots are one mapping made when the session is created: once protection is done a fault never
// allocates and taking faults never frees (past the slots, faults wait for the save loop), because
// every mmap/munmap/brk of the process takes the mm's lock for writing, which the writers' faults and
// the fault thread's release wait behind.
//
// In-thread mode (in-thread.cc, sigbus.cc): the userfaultfd has UFFD_FEATURE_SIGBUS, so a write to a
// protected page raises SIGBUS in the writer, and the SIGBUS handler, in the writer's own thread, does
// what the copy-on-fault fault thread does: claims the page against the scan (the same bitmap, with a
// second bit saying the fault path owns it), copies it into a slab slot, releases it and publishes the
// copy on a lock-free ring that take() drains. The writer never waits to be scheduled behind another
// thread. A small notify thread turns the handler's eventfd writes into JS notifications (a thread-safe
// function call is not async-signal-safe).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <pthread.h>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "mapping.h"
#include "uffd-open.h"

namespace bgsnap {

enum class Mode { kPlain = 0, kCopy = 1, kInThread = 2 };

struct SessionOptions {
  Mode mode = Mode::kPlain;
  std::vector<Mapping*> mappings;  // borrowed; the session takes its own reference
  size_t protect_chunk = 128u << 20;
  size_t copy_slots = 1024;
  bool want_unpopulated = true;
};

struct FaultEvent {
  uint32_t region;
  uint64_t page;
  double raised_at;    // fault thread's read time
  double released_at;  // copy mode (and preserved pages): when the page was released; else 0
  uint32_t tid;
  uint8_t* copy;       // copy mode: the event's slot (returned with FreeSlots); else nullptr
};

struct SessionStats {
  uint64_t faults = 0;           // page-fault events read
  uint64_t delivered = 0;        // events queued for JS
  uint64_t preserved = 0;        // pages copied by the fault thread in plain mode
  uint64_t copied = 0;           // pages copied in copy mode
  uint64_t claimed_by_scan = 0;  // copy mode: fault events dropped because the scan owned the page
  uint64_t same_thread = 0;      // faults raised by the fault-handling JS thread
  uint64_t slot_waits = 0;       // copy/in-thread: times a fault waited for a free slot
  uint64_t served_in_thread = 0; // in-thread: pages copied and released by the faulting thread
  uint64_t scan_owned_waits = 0; // in-thread: faults that waited for the scan to release its page
  uint64_t fault_owned_waits = 0;  // in-thread: faults that waited for another thread's fault on the page
  uint64_t reserve_used = 0;     // in-thread: save-loop-thread faults copied into the reserve
  uint64_t max_slots_in_use = 0;
  uint64_t prefaulted_pages = 0;
  uint64_t populated_for_read = 0;  // never-written pages mapped by PrepareRead before a read
  uint64_t chunks = 0;
  double protect_ns = 0;         // wall time of the whole protect pass
  double max_chunk_ns = 0;       // longest single UFFDIO_WRITEPROTECT call
  double started_at = 0;
  double protected_at = 0;
};

using NotifyFn = void (*)(void* ctx, int kind);  // kind 1: faults pending / error; 2: protect pass done

class Session {
 public:
  static Session* Create(const SessionOptions& opts, NativeError* err);
  ~Session();

  void SetNotify(NotifyFn fn, void* ctx) {
    notify_ = fn;
    notify_ctx_ = ctx;
  }
  bool Start(NativeError* err);
  // Moves up to `max` events into `out`, recording the caller as the fault-handling thread.
  size_t Take(size_t max, std::vector<FaultEvent>* out);
  // Returns copy-mode events' slots, all under one lock: a take returns its slots at once, so that the
  // fault thread, which takes the same lock for every fault, meets it at most once per take. The bytes
  // may be overwritten by the next fault from then on.
  void FreeSlots(const std::vector<uint8_t*>& copies);
  // Whether a copy lives in the slab (else it is a heap page, taken past the slab while protecting).
  bool InSlab(const uint8_t* copy) const;
  // Returns the number of pending events; when 0, asks the fault thread to notify on the next one.
  size_t Arm();
  // In-thread mode, from the SIGBUS handler (async-signal-safe): resolves a write fault on `addr` in
  // region `region` in the calling thread. On return the store may re-execute.
  void ServeSigbus(uint32_t region, uintptr_t addr);
  size_t Claim(uint32_t region, uint64_t first, uint64_t count);
  bool NeedsPatch() const { return protecting_.load() || preserved_count_.load() > 0; }
  size_t Patch(uint32_t region, uint64_t first, uint64_t count, uint8_t* dst);
  bool Release(uint32_t region, uint64_t first, uint64_t count, NativeError* err);
  // Before the JS thread reads pages [first, first + count): maps the never-written ones among them
  // in one madvise(MADV_POPULATE_READ) per run instead of one page fault per page. Returns the pages
  // it populated, or -1 with `err` set.
  int64_t PrepareRead(uint32_t region, uint64_t first, uint64_t count, NativeError* err);
  void Stop();
  // An error raised on a native thread (same-thread write, failed ioctl) that JS has not seen yet.
  bool TakePendingError(NativeError* err);
  bool protect_done() const { return protect_done_.load(); }
  bool stopped() const { return stopped_.load(); }

  SessionStats Stats();
  const UffdHandle& handle() const { return uffd_; }
  Mode mode() const { return mode_; }
  // Copy-on-fault and in-thread: fault events carry copies in slab slots.
  bool copies() const { return mode_ == Mode::kCopy || mode_ == Mode::kInThread; }
  bool protects_unpopulated() const { return (uffd_.features & UFFD_FEATURE_WP_UNPOPULATED) != 0; }
  bool knows_thread_id() const;
  size_t region_count() const { return regions_.size(); }
  uint64_t region_pages(size_t i) const { return regions_[i].pages; }
  size_t page_size() const { return page_size_; }
  bool region_huge(size_t i) const { return regions_[i].mapping->huge_pages; }
  uint8_t* region_base(size_t i) const { return regions_[i].base; }
  size_t region_length(size_t i) const { return regions_[i].length; }

 private:
  struct Region {
    Mapping* mapping;
    uint8_t* base;
    size_t length;
    uint64_t pages;
    // Copy mode: one claim bit per page. In-thread mode: two bits per page (32 pages a word): bit 2k
    // "owned" (set by the scan's claim or a fault), bit 2k+1 "owned by a fault", set in the same atomic
    // step as the owner bit, so a second writer knows whether to wait on the scan or on a fault.
    std::unique_ptr<std::atomic<uint64_t>[]> taken;
    // In-thread mode: page is writable again (released by its fault or by the scan's release()).
    std::unique_ptr<std::atomic<uint64_t>[]> released;
  };

  // In-thread mode's ring of copies, from the SIGBUS handlers (many producers) to take() (one consumer,
  // under mu_): a bounded queue with a sequence number per cell. Every event holds a slot, and the ring
  // has a cell for every slot, so it is never full.
  struct RingCell {
    std::atomic<uint64_t> seq;
    FaultEvent ev;
  };
  enum class SlotResult { kSlot, kNone, kReleased, kStopping };

  Session() = default;
  void FaultLoop();
  void ProtectLoop();
  void HandleFault(uint64_t addr, uint32_t tid, double t);
  bool WriteProtect(uint8_t* addr, size_t len, bool protect, NativeError* err);
  void RecordError(const NativeError& e);
  // Puts a copy's slot back on the free list (slab copies only); under mu_.
  void ReturnSlotLocked(uint8_t* copy);
  void Notify(int kind);
  int FindRegion(uint64_t addr) const;

  // In-thread mode (in-thread.cc).
  bool CreateInThread(NativeError* err);
  void NotifyLoop();
  SlotResult TakeSlot(Region& r, uint64_t page, bool loop_thread, int64_t* slot);
  int64_t TryTakeSlot(size_t from, size_t to);
  void PushEvent(const FaultEvent& ev);
  void DrainRingLocked();
  bool ReleaseFromHandler(uint8_t* page_addr, Region& r, uint32_t region, uint64_t page, pid_t tid);
  void MarkReleased(Region& r, uint64_t first, uint64_t count);
  void WaitReleased(Region& r, uint64_t page);
  void RecordHandlerError(int kind, uint32_t region, uint64_t page, pid_t tid, int err);
  void WakeFromHandler(bool force);
  bool InThreadErrorPending() const;
  bool TakeInThreadError(NativeError* err);
  void GiveBackSlot(size_t i);
  void ReturnInThreadSlots(const std::vector<uint8_t*>& copies);
  void AddInThreadStats(SessionStats* st) const;
  void StopInThreadWaiters();
  bool published_ = false;

  Mode mode_ = Mode::kPlain;
  UffdHandle uffd_;
  int efd_ = -1;
  size_t page_size_ = 4096;
  size_t protect_chunk_ = 128u << 20;
  size_t copy_slots_ = 1024;
  std::vector<Region> regions_;
  // PrepareRead's residency vector (JS thread only), and whether the kernel has MADV_POPULATE_READ.
  std::vector<unsigned char> residency_;
  bool populate_read_ = true;

  // pthreads rather than std::thread: creation failures become errors, not std::terminate (the addon
  // is built without exceptions).
  pthread_t fault_thread_{};
  pthread_t protect_thread_{};
  bool fault_thread_running_ = false;
  bool protect_thread_running_ = false;
  std::mutex stop_mu_;

  mutable std::mutex mu_;
  std::condition_variable slots_cv_;
  std::deque<FaultEvent> events_;
  // events_.size(), readable without mu_: take() is called between every scan step and is usually empty.
  std::atomic<size_t> events_size_{0};
  std::unordered_map<uint64_t, uint8_t*> preserved_;  // key: region << 44 | page
  size_t slots_in_use_ = 0;
  uint8_t* slab_ = nullptr;            // copy mode: copy_slots_ pages, mapped once
  size_t slab_bytes_ = 0;
  std::vector<uint32_t> free_slots_;   // indices into slab_, under mu_
  // Written under mu_; atomic so that the empty-queue fast path can read it without the lock.
  std::atomic<bool> have_pending_error_{false};
  NativeError pending_error_;
  SessionStats stats_;

  std::atomic<bool> protecting_{false};
  std::atomic<bool> protect_done_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> armed_{false};
  std::atomic<int64_t> preserved_count_{0};
  std::atomic<pid_t> handler_tid_{0};

  NotifyFn notify_ = nullptr;
  void* notify_ctx_ = nullptr;

  // ---- in-thread mode: everything below is touched by the SIGBUS handler, lock-free ----
  std::unique_ptr<RingCell[]> ring_;
  uint64_t ring_mask_ = 0;
  std::atomic<uint64_t> ring_tail_{0};
  uint64_t ring_head_ = 0;  // under mu_
  std::atomic<uint64_t> ring_pending_{0};
  size_t reserve_slots_ = 0;  // slab slots [copy_slots_, copy_slots_ + reserve_slots_)
  std::unique_ptr<std::atomic<uint64_t>[]> slot_free_;  // bit per slot: free
  size_t slot_words_ = 0;
  std::atomic<int64_t> free_count_{0};  // free slots below copy_slots_
  std::atomic<uint32_t> slot_gen_{0};   // futex word: bumped when slots come back
  std::atomic<uint32_t> slot_waiters_{0};
  std::atomic<uint32_t> release_gen_{0};  // futex word: bumped when pages are released
  std::atomic<uint32_t> release_waiters_{0};
  std::atomic<int64_t> in_use_{0};
  int sig_efd_ = -1;  // the handlers' doorbell for the notify thread
  // The first handler error: kind (1 reserve used, 2 page lost/torn, 3 release failed), details.
  std::atomic<int> herr_kind_{0};
  std::atomic<int> herr_claim_{0};
  std::atomic<uint32_t> herr_region_{0};
  std::atomic<uint64_t> herr_page_{0};
  std::atomic<int32_t> herr_tid_{0};
  std::atomic<int32_t> herr_errno_{0};
  std::atomic<uint64_t> reserve_reported_{0};  // reserve uses JS has been told about (JS thread only)
  std::atomic<uint64_t> st_faults_{0}, st_served_{0}, st_scan_waits_{0}, st_fault_waits_{0}, st_slot_waits_{0},
      st_same_thread_{0}, st_reserve_{0}, st_max_in_use_{0};
};

}  // namespace bgsnap
