#include "sigbus.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <string>

#include "session.h"

namespace bgsnap {

namespace {

// 256 regions tracked in-thread at once (live or retired) is far beyond what a program snapshots; a
// fixed array keeps the handler free of allocation and locks.
constexpr size_t kMaxEntries = 256;

struct Entry {
  // Written only under g_mu; `len` != 0 makes the entry visible to the handler. `base` and `region`
  // change only while `len` is 0 and no handler holds a reference, so a handler that took a reference
  // and then reads `len` before `base` sees a consistent pair.
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> len{0};
  std::atomic<Session*> session{nullptr};  // nullptr: retired (or free)
  std::atomic<uint32_t> region{0};
  std::atomic<int32_t> refs{0};            // handlers inside this entry
  bool used = false;                       // under g_mu
};

Entry g_entries[kMaxEntries];
std::atomic<size_t> g_high{0};  // entries [0, g_high) may be visible
std::mutex g_mu;                // publish/unpublish/forget/install/restore; never taken by the handler
struct sigaction g_prev;        // the action before ours; written before ours is installed
std::atomic<bool> g_installed{false};

inline bool contains(uintptr_t base, size_t len, uintptr_t addr) { return len != 0 && addr >= base && addr - base < len; }

void wait_unreferenced(Entry& e) {
  while (e.refs.load() != 0) sched_yield();
}

// The action that was there before ours, as the kernel would have applied it.
void chain(int sig, siginfo_t* info, void* ctx) {
  const struct sigaction& p = g_prev;
  if (p.sa_flags & SA_SIGINFO) {
    if (p.sa_sigaction) {
      p.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) {
    p.sa_handler(sig);
    return;
  }
  // An ignored SIGBUS sent by kill() stays ignored. A SIGBUS raised by a fault cannot be ignored: the
  // kernel resets an ignored one to the default action, and so do we.
  if (p.sa_handler == SIG_IGN && info && info->si_code <= 0) return;
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGBUS, &dfl, nullptr);
  // SIGBUS is blocked while this handler runs: the raised one is delivered on return, with the default
  // action (terminate with a core), as it would have been without us.
  raise(SIGBUS);
}

void on_sigbus(int sig, siginfo_t* info, void* ctx) {
  const int saved_errno = errno;
  // Userfaultfd's SIGBUS is a fault with BUS_ADRERR; hardware errors (BUS_MCEERR_*) and signals sent
  // by kill() are never ours.
  if (info && info->si_code == BUS_ADRERR) {
    const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const size_t high = g_high.load(std::memory_order_acquire);
    for (size_t i = 0; i < high; i++) {
      Entry& e = g_entries[i];
      if (!contains(e.base.load(std::memory_order_acquire), e.len.load(std::memory_order_acquire), addr)) continue;
      e.refs.fetch_add(1);
      const size_t len = e.len.load();
      const uintptr_t base = e.base.load();
      const bool ours = contains(base, len, addr);
      if (ours) {
        Session* s = e.session.load();
        // Retired: stop() released the page after this thread faulted on it; the store re-executes.
        if (s) s->ServeSigbus(e.region.load(), addr);
      }
      e.refs.fetch_sub(1);
      if (ours) {
        errno = saved_errno;
        return;
      }
    }
  }
  chain(sig, info, ctx);
  errno = saved_errno;
}

bool install_locked(NativeError* err) {
  if (g_installed.load()) return true;
  struct sigaction prev = {};
  if (sigaction(SIGBUS, nullptr, &prev) != 0) {
    *err = errno_error("sigaction", errno, "reading the SIGBUS action");
    return false;
  }
  // Ours is still installed (a handler installed after ours was there when we last restored, and is
  // gone again): keep the predecessor we have, or we would chain to ourselves.
  const bool ours_already = (prev.sa_flags & SA_SIGINFO) && prev.sa_sigaction == on_sigbus;
  if (!ours_already) g_prev = prev;
  struct sigaction ours = {};
  ours.sa_sigaction = on_sigbus;
  // SA_SIGINFO for si_addr. No SA_NODEFER: a SIGBUS inside the handler would be a bug, and the kernel
  // turns a blocked synchronous SIGBUS into the default action. Every other signal is blocked while
  // the handler runs: it may hold a claimed page, and another signal's handler storing to tracked
  // memory on top of it would meet SIGBUS blocked and end the process.
  ours.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&ours.sa_mask);
  struct sigaction was = {};
  if (sigaction(SIGBUS, &ours, &was) != 0) {
    *err = errno_error("sigaction", errno, "installing the SIGBUS handler of in-thread mode");
    return false;
  }
  // Someone installed theirs between the two calls: chain to that one.
  const bool was_ours = (was.sa_flags & SA_SIGINFO) && was.sa_sigaction == on_sigbus;
  if (!was_ours && (was.sa_sigaction != prev.sa_sigaction || was.sa_flags != prev.sa_flags)) g_prev = was;
  g_installed.store(true);
  return true;
}

void restore_if_empty_locked() {
  if (!g_installed.load()) return;
  for (size_t i = 0; i < g_high.load(); i++)
    if (g_entries[i].used) return;
  struct sigaction cur = {};
  if (sigaction(SIGBUS, nullptr, &cur) != 0) return;
  // A handler installed after ours is left alone: restoring ours' predecessor would remove it.
  if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus) sigaction(SIGBUS, &g_prev, nullptr);
  g_installed.store(false);
}

}  // namespace

bool sigbus_publish(Session* s, NativeError* err) {
  std::lock_guard<std::mutex> lock(g_mu);
  // Pick an entry per region first, so that a full table publishes nothing.
  size_t picked[kMaxEntries];
  const size_t n = s->region_count();
  bool taken[kMaxEntries] = {};
  for (size_t r = 0; r < n; r++) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(s->region_base(r));
    size_t found = kMaxEntries;
    for (size_t i = 0; i < g_high.load() && found == kMaxEntries; i++) {
      Entry& e = g_entries[i];
      if (e.used && !taken[i] && e.base.load() == base && e.len.load() == s->region_length(r)) found = i;
    }
    for (size_t i = 0; i < kMaxEntries && found == kMaxEntries; i++)
      if (!g_entries[i].used && !taken[i]) found = i;
    if (found == kMaxEntries) {
      err->code = "EBGSNAP_LIMIT";
      err->syscall = "";
      err->message = "in-thread mode tracks at most " + std::to_string(kMaxEntries) +
                     " regions at once, counting memory that earlier in-thread sessions tracked and that is not "
                     "released yet; " + std::to_string(n) + " more were asked for";
      return false;
    }
    taken[found] = true;
    picked[r] = found;
  }
  if (!install_locked(err)) return false;
  for (size_t r = 0; r < n; r++) {
    Entry& e = g_entries[picked[r]];
    if (!e.used) {
      e.used = true;
      e.base.store(reinterpret_cast<uintptr_t>(s->region_base(r)));
      e.region.store(static_cast<uint32_t>(r));
      e.session.store(s);
      e.len.store(s->region_length(r));  // visible from here on
      if (picked[r] + 1 > g_high.load()) g_high.store(picked[r] + 1);
    } else {
      // A retired entry of the same range: no handler reads `region` before it sees the session.
      e.region.store(static_cast<uint32_t>(r));
      e.session.store(s);
    }
  }
  return true;
}

void sigbus_unpublish(Session* s) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_high.load(); i++) {
    Entry& e = g_entries[i];
    if (!e.used || e.session.load() != s) continue;
    e.session.store(nullptr);
    // A handler that read the pointer before the store is still inside the session.
    wait_unreferenced(e);
  }
}

void sigbus_forget_range(const uint8_t* base, size_t len) {
  if (!g_installed.load()) return;  // the common case, no lock: nothing was ever tracked in-thread
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < g_high.load(); i++) {
    Entry& e = g_entries[i];
    if (!e.used || e.base.load() != reinterpret_cast<uintptr_t>(base) || e.len.load() != len) continue;
    if (e.session.load() != nullptr) continue;  // still live: its session holds the mapping, cannot happen
    e.len.store(0);
    wait_unreferenced(e);
    e.base.store(0);
    e.used = false;
  }
  restore_if_empty_locked();
}

bool sigbus_handler_installed() {
  struct sigaction cur = {};
  if (sigaction(SIGBUS, nullptr, &cur) != 0) return false;
  return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus;
}

size_t sigbus_entries_in_use() {
  std::lock_guard<std::mutex> lock(g_mu);
  size_t n = 0;
  for (size_t i = 0; i < g_high.load(); i++)
    if (g_entries[i].used) n++;
  return n;
}

}  // namespace bgsnap
