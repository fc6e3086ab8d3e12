// uffd-floor: the floor for write-fault latency on this machine, measured the way the bench measures
// the addon, so the two can be compared in one run. A dedicated C handler thread releases each
// faulting page at once (no copy, no stream, no JavaScript); writer threads write one byte to distinct
// random pages of a write-protected region and time each write.
//
// usage: uffd-floor <MiB> <faults> [poll|spin|sigbus] [thp|4k] [writers] [rate] [busy]
//   poll|spin  the handler thread polls the userfaultfd (default) or spins on it.
//   sigbus     no handler thread: UFFD_FEATURE_SIGBUS makes the faulting writer take SIGBUS, and its
//              handler copies the 4 KiB page into a preallocated buffer and releases the page itself,
//              as the addon's in-thread mode does (without the claim bitmap and the event ring).
//   writers  writer threads (default 1); rate: stores per second per writer, paced the way the app's
//            bench writers pace theirs (whole-millisecond sleeps, then the stores that fell due), 0 =
//            back to back (default). With 1 writer and rate 0 it is the classic floor: one thread
//            faulting on distinct pages as fast as the handler lets it.
//   busy     threads that spin on the CPU meanwhile (default 0): what a CPU-bound neighbour, such as a
//            snapshot's scan, does to the handler and the writers.
// prints one JSON line: protect time of the populated region, write latency percentiles (ns) over all
// writers' faults and the cost of the same write to an unprotected page.
// build: cc -O2 -pthread uffd-floor.c -o uffd-floor   (the bench script does this)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#define MAX_WRITERS 64

static int uffd;
static volatile int done;
static volatile int busy_done;
static int spin;
static int sigbus;
static char *copies;         // sigbus: one 4 KiB copy per fault
static long copies_cap;
static long copies_next;     // atomic

// Shared by the writer threads.
static char *mem;
static size_t pages;
static char *seen;  // first write to a page claims it: only first writes fault
static double rate;
struct writer {
  pthread_t thread;
  uint64_t seed;
  long want;
  uint64_t *lat;
};

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int open_uffd(void) {
  int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
  if (dev >= 0) {
    int fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
    close(dev);
    if (fd >= 0) return fd;
  }
  return (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
}

static void *handler(void *arg) {
  (void)arg;
  struct uffd_msg msgs[16];
  while (!done) {
    struct pollfd p = {uffd, POLLIN, 0};
    if (poll(&p, 1, spin ? 0 : 10) <= 0) continue;
    ssize_t n = read(uffd, msgs, sizeof msgs);
    if (n <= 0) continue;
    for (size_t i = 0; i < (size_t)n / sizeof msgs[0]; i++) {
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
      struct uffdio_writeprotect wp = {{msgs[i].arg.pagefault.address & ~4095ull, 4096}, 0};
      if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) die("UFFDIO_WRITEPROTECT (release)");
    }
  }
  return NULL;
}

// The in-thread handler: copy the page, then release it; on return the store re-executes. Only
// async-signal-safe work: an atomic, memcpy, ioctl.
static void on_sigbus(int sig, siginfo_t *info, void *ctx) {
  (void)sig;
  (void)ctx;
  const int saved = errno;
  uint64_t page = (uint64_t)info->si_addr & ~4095ull;
  long slot = __atomic_fetch_add(&copies_next, 1, __ATOMIC_RELAXED) % copies_cap;
  memcpy(copies + slot * 4096, (const void *)page, 4096);
  struct uffdio_writeprotect wp = {{page, 4096}, 0};
  while (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) {
    if (errno != EAGAIN) {
      static const char msg[] = "uffd-floor: UFFDIO_WRITEPROTECT (release) failed in the SIGBUS handler\n";
      ssize_t n = write(2, msg, sizeof msg - 1);
      (void)n;
      _exit(1);
    }
  }
  errno = saved;
}

// pthread_create returns its error instead of setting errno.
static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *what) {
  int rc = pthread_create(t, NULL, fn, arg);
  if (rc) {
    errno = rc;
    die(what);
  }
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

// Writes distinct random pages until it has timed `want` faults. Paced like the app's bench writers:
// sleeps of whole milliseconds, then the stores that fell due in a burst; after a stall of more than
// 100 ms the schedule restarts from now.
static void *writer_main(void *arg) {
  struct writer *w = arg;
  uint64_t x = w->seed;
  double interval = rate > 0 ? 1e9 / rate : 0;
  double due = (double)now_ns();
  for (long i = 0; i < w->want;) {
    if (interval > 0) {
      double now = (double)now_ns();
      if (due - now > 1e6) {
        sleep_ms((long)((due - now) / 1e6));
        continue;
      }
      if (now - due > 1e8) due = now;
      due += interval;
    }
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t pg = x % pages;
    if (__atomic_exchange_n(&seen[pg], 1, __ATOMIC_RELAXED)) continue;
    uint64_t a = now_ns();
    ((volatile char *)mem)[pg * 4096] = 2;
    w->lat[i++] = now_ns() - a;
  }
  return NULL;
}

static void *busy_main(void *arg) {
  (void)arg;
  volatile uint64_t n = 0;
  while (!busy_done) n++;
  return NULL;
}

int main(int argc, char **argv) {
  size_t len = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
  long faults = argc > 2 ? atol(argv[2]) : 20000;
  spin = argc > 3 && strcmp(argv[3], "spin") == 0;
  sigbus = argc > 3 && strcmp(argv[3], "sigbus") == 0;
  if (argc > 3 && !spin && !sigbus && strcmp(argv[3], "poll") != 0) {
    fprintf(stderr, "uffd-floor: the handler must be poll, spin or sigbus\n");
    return 2;
  }
  int thp = argc > 4 && strcmp(argv[4], "thp") == 0;
  long nwriters = argc > 5 ? atol(argv[5]) : 1;
  rate = argc > 6 ? atof(argv[6]) : 0;
  long nbusy = argc > 7 ? atol(argv[7]) : 0;
  if (nwriters < 1 || nwriters > MAX_WRITERS || rate < 0 || nbusy < 0 || nbusy > MAX_WRITERS) {
    fprintf(stderr, "uffd-floor: writers must be 1..%d, rate >= 0, busy 0..%d\n", MAX_WRITERS, MAX_WRITERS);
    return 2;
  }
  pages = len / 4096;
  if (faults > (long)pages) faults = (long)pages;

  uffd = open_uffd();
  if (uffd < 0) die("userfaultfd");
  struct uffdio_api api = {.api = UFFD_API,
                           .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP | (sigbus ? UFFD_FEATURE_SIGBUS : 0)};
  if (ioctl(uffd, UFFDIO_API, &api)) die("UFFDIO_API");
  if (sigbus) {
    copies_cap = faults < 1024 ? faults : 1024;  // a ring of copies, as a bounded slab would be
    if (copies_cap < 1) copies_cap = 1;
    copies = mmap(NULL, (size_t)copies_cap * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (copies == MAP_FAILED) die("mmap (copies)");
    memset(copies, 0, (size_t)copies_cap * 4096);
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, NULL)) die("sigaction");
  }

  mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) die("mmap");
  if (thp) madvise(mem, len, MADV_HUGEPAGE);
  memset(mem, 1, len);

  // Cost of the same write without protection.
  uint64_t x = 88172645463325252ull;
  uint64_t t0 = now_ns();
  for (long i = 0; i < faults; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    ((volatile char *)mem)[(x % pages) * 4096] = 3;
  }
  double unprotected_ns = (double)(now_ns() - t0) / (double)faults;

  struct uffdio_register reg = {.range = {(uint64_t)mem, len}, .mode = UFFDIO_REGISTER_MODE_WP};
  if (ioctl(uffd, UFFDIO_REGISTER, &reg)) die("UFFDIO_REGISTER");
  struct uffdio_writeprotect wp = {.range = {(uint64_t)mem, len}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
  t0 = now_ns();
  if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp)) die("UFFDIO_WRITEPROTECT");
  uint64_t protect_ns = now_ns() - t0;

  pthread_t th;
  if (!sigbus) start_thread(&th, handler, NULL, "pthread_create (handler)");
  pthread_t busy[MAX_WRITERS];
  for (long b = 0; b < nbusy; b++)
    start_thread(&busy[b], busy_main, NULL, "pthread_create (busy)");
  seen = calloc(pages, 1);
  uint64_t *lat = malloc(sizeof(uint64_t) * (size_t)faults);
  if (!seen || !lat) die("malloc");
  struct writer ws[MAX_WRITERS];
  long given = 0;
  for (long w = 0; w < nwriters; w++) {
    ws[w].seed = 0x9E3779B97F4A7C15ull + (uint64_t)w * 0x2545F4914F6CDD1Dull;
    ws[w].want = faults / nwriters + (w < faults % nwriters ? 1 : 0);
    ws[w].lat = lat + given;
    given += ws[w].want;
    start_thread(&ws[w].thread, writer_main, &ws[w], "pthread_create (writer)");
  }
  for (long w = 0; w < nwriters; w++) pthread_join(ws[w].thread, NULL);
  busy_done = 1;
  for (long b = 0; b < nbusy; b++) pthread_join(busy[b], NULL);
  done = 1;
  if (!sigbus) pthread_join(th, NULL);
  qsort(lat, (size_t)faults, sizeof lat[0], cmp_u64);
  printf("{\"regionMiB\":%zu,\"thp\":%s,\"handler\":\"%s\",\"writers\":%ld,\"rate\":%.0f,\"busy\":%ld,\"protectNs\":%llu,\"protectNsPerGiB\":%.0f,"
         "\"faults\":%ld,\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu,\"unprotectedWriteNs\":%.1f}\n",
         len >> 20, thp ? "true" : "false", sigbus ? "sigbus" : spin ? "spin" : "poll", nwriters, rate, nbusy, (unsigned long long)protect_ns,
         (double)protect_ns / ((double)len / 1073741824.0), faults, (unsigned long long)lat[faults / 2],
         (unsigned long long)lat[(long)(faults * 0.99)], (unsigned long long)lat[(long)(faults * 0.999)],
         (unsigned long long)lat[faults - 1], unprotected_ns);
  return 0;
}
