#include "test-sigbus.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

namespace bgsnap {

namespace {
sigjmp_buf g_jump;
volatile sig_atomic_t g_jump_armed = 0;
std::atomic<int64_t> g_hits{0};
struct sigaction g_replaced;
bool g_installed = false;

void test_handler(int, siginfo_t*, void*) {
  g_hits.fetch_add(1);
  if (g_jump_armed) {
    g_jump_armed = 0;
    siglongjmp(g_jump, 1);
  }
  // Not ours to survive: end as the default action would.
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

int64_t provoke(NativeError* err) {
  const long ps = sysconf(_SC_PAGESIZE);
  int fd = memfd_create("bgsnap-test-sigbus", MFD_CLOEXEC);
  if (fd < 0) {
    *err = errno_error("memfd_create", errno, "");
    return -1;
  }
  if (ftruncate(fd, ps) != 0) {
    *err = errno_error("ftruncate", errno, "");
    close(fd);
    return -1;
  }
  void* p = mmap(nullptr, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    *err = errno_error("mmap", errno, "");
    close(fd);
    return -1;
  }
  if (sigsetjmp(g_jump, 1) == 0) {
    g_jump_armed = 1;
    static_cast<volatile char*>(p)[ps] = 1;  // past the end of the file: SIGBUS
  }
  g_jump_armed = 0;
  munmap(p, 2 * ps);
  close(fd);
  return g_hits.load();
}
}  // namespace

int64_t test_sigbus(const std::string& op, NativeError* err) {
  if (op == "provoke") return provoke(err);
  if (op == "hits") return g_hits.load();
  if (op == "install") {
    struct sigaction sa = {};
    sa.sa_sigaction = test_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &g_replaced) != 0) {
      *err = errno_error("sigaction", errno, "test handler");
      return -1;
    }
    g_installed = true;
    return 0;
  }
  if (op == "uninstall") {
    if (g_installed && sigaction(SIGBUS, &g_replaced, nullptr) != 0) {
      *err = errno_error("sigaction", errno, "test handler");
      return -1;
    }
    g_installed = false;
    return 0;
  }
  if (op == "is-installed") {
    struct sigaction cur = {};
    if (sigaction(SIGBUS, nullptr, &cur) != 0) {
      *err = errno_error("sigaction", errno, "");
      return -1;
    }
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == test_handler ? 1 : 0;
  }
  err->code = "EBGSNAP_ARGS";
  err->message = "testSigbus: unknown op " + op;
  return -1;
}

}  // namespace bgsnap
