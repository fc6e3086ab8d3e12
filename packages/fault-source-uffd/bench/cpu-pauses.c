// cpu-pauses: how long this machine stops running a thread that never blocks, with every CPU busy.
// No userfaultfd, no memory traffic: one thread per CPU (pinned when allowed) reads the clock in a loop
// and records every gap longer than a threshold. A gap seen by one thread only is the kernel running
// something else on that CPU (a kernel thread, an interrupt); a gap seen by every thread at once is the
// whole machine stopped, which on a virtual machine means the host did not run its vCPUs. Every
// writer of every latency measurement on the machine suffers the same gaps, so the bench reports them
// beside the floor.
//
// usage: cpu-pauses <seconds> [threads] [threshold-us]
//   threads       default (or 0): the CPUs online; threshold-us: smallest gap recorded, default 1000.
// prints one JSON line: {"seconds","threads","pinned","thresholdNs","gaps":[[[startNs,endNs],...],...]}
// with times relative to the start; the caller works out which gaps every thread shared.
// build: cc -O2 -pthread cpu-pauses.c -o cpu-pauses   (the bench does this)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 256
#define MAX_GAPS 100000

struct prober {
  pthread_t thread;
  long cpu;
  uint64_t (*gaps)[2];
  long count;
  long dropped;
};

static uint64_t start_ns, end_ns, threshold_ns;
static int pinned = 1;
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what, int err) {
  fprintf(stderr, "cpu-pauses: %s: %s\n", what, strerror(err));
  exit(1);
}

static void *probe(void *arg) {
  struct prober *p = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET((int)p->cpu, &set);
  // A container may forbid some CPUs: the probe still runs, unpinned, and says so.
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
    pthread_mutex_lock(&pin_lock);
    pinned = 0;
    pthread_mutex_unlock(&pin_lock);
  }
  uint64_t prev = now_ns();
  for (;;) {
    uint64_t t = now_ns();
    if (t - prev > threshold_ns) {
      if (p->count < MAX_GAPS) {
        p->gaps[p->count][0] = prev - start_ns;
        p->gaps[p->count][1] = t - start_ns;
        p->count++;
      } else {
        p->dropped++;
      }
    }
    prev = t;
    if (t >= end_ns) break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 10;
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  if (online < 1) online = 1;
  long threads = argc > 2 ? atol(argv[2]) : 0;
  if (threads == 0) threads = online;
  double threshold_us = argc > 3 ? atof(argv[3]) : 1000;
  if (!(seconds > 0 && seconds <= 3600) || threads < 1 || threads > MAX_THREADS || !(threshold_us >= 1)) {
    fprintf(stderr, "cpu-pauses: seconds must be in (0, 3600], threads 1..%d, threshold-us >= 1\n", MAX_THREADS);
    return 2;
  }
  threshold_ns = (uint64_t)(threshold_us * 1000);
  struct prober *ps = calloc((size_t)threads, sizeof *ps);
  if (!ps) die("calloc", ENOMEM);
  for (long i = 0; i < threads; i++) {
    ps[i].cpu = i % online;
    ps[i].gaps = malloc(sizeof *ps[i].gaps * MAX_GAPS);
    if (!ps[i].gaps) die("malloc", ENOMEM);
  }
  start_ns = now_ns();
  end_ns = start_ns + (uint64_t)(seconds * 1e9);
  for (long i = 0; i < threads; i++) {
    int rc = pthread_create(&ps[i].thread, NULL, probe, &ps[i]);
    if (rc) die("pthread_create", rc);
  }
  long dropped = 0;
  for (long i = 0; i < threads; i++) {
    int rc = pthread_join(ps[i].thread, NULL);
    if (rc) die("pthread_join", rc);
    dropped += ps[i].dropped;
  }
  printf("{\"seconds\":%.3f,\"threads\":%ld,\"pinned\":%s,\"thresholdNs\":%llu,\"dropped\":%ld,\"gaps\":[", seconds,
         threads, pinned ? "true" : "false", (unsigned long long)threshold_ns, dropped);
  for (long i = 0; i < threads; i++) {
    printf("%s[", i ? "," : "");
    for (long g = 0; g < ps[i].count; g++)
      printf("%s[%llu,%llu]", g ? "," : "", (unsigned long long)ps[i].gaps[g][0],
             (unsigned long long)ps[i].gaps[g][1]);
    printf("]");
  }
  printf("]}\n");
  return 0;
}
