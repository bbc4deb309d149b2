/* bench_util.c: small process helpers shared by bench_node and bench_network: messages on
 * stderr, the clocks, sleeping, reading a file, flags, cores and CPU time. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "bench_node";

void bench_set_prog(const char *name) {
    prog = name;
}

bool bench_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return false;
}

double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

double bench_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

void bench_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) continue;
}

bool bench_read_file(char **out, size_t *len, const char *path, size_t max) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return bench_fail("%s: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max, f) : 0;
    bool bad = buf == NULL || ferror(f) != 0, more = !bad && n == max && fgetc(f) != EOF;
    fclose(f);
    if (bad || more) {
        free(buf);
        return bench_fail("%s: %s", path, more ? "file too large" : "read failed");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return true;
}

bool bench_parse_uint(unsigned *out, const char *flag, const char *text, unsigned lo, unsigned hi) {
    char *end = NULL;
    errno = 0;
    unsigned long v = text[0] >= '0' && text[0] <= '9' ? strtoul(text, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || v < lo || v > hi)
        return bench_fail("%s \"%s\": want an integer %u..%u", flag, text, lo, hi);
    *out = (unsigned) v;
    return true;
}

unsigned bench_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 && n <= 256 ? (unsigned) n : 2u;
}

double bench_cpu_seconds(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6 +
           (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}
