/* check.h: the unit-test harness. A test is a function named as a sentence; CHECK*
 * macros record a failure with file:line and carry on; TEST_MAIN runs a list and prints
 * "N passed, N failed" and exits non-zero if any failed. */
#ifndef SLQ_CHECK_H
#define SLQ_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_ = 0;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            check_failures_++;                                                         \
        }                                                                              \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                      \
    do {                                                                                        \
        long long a_ = (long long) (a), b_ = (long long) (b);                                   \
        if (a_ != b_) {                                                                         \
            fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, \
                    #b, a_, b_);                                                                \
            check_failures_++;                                                                  \
        }                                                                                       \
    } while (0)

/* Compares two slq_err values and prints their names on mismatch. */
#define CHECK_ERR(got, want)                                                            \
    do {                                                                                \
        slq_err g_ = (got), w_ = (want);                                                \
        if (g_ != w_) {                                                                 \
            fprintf(stderr, "  %s:%d: %s: got %s, want %s\n", __FILE__, __LINE__, #got, \
                    slq_err_name(g_), slq_err_name(w_));                                \
            check_failures_++;                                                          \
        }                                                                               \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

typedef struct {
    const char *name;
    void (*fn)(void);
} check_test;

#define TEST(fn) \
    { #fn, fn }

static inline int check_run(const check_test *tests, size_t n, const char *suite) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        int before = check_failures_;
        tests[i].fn();
        if (check_failures_ == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s: %s\n", suite, tests[i].name);
        }
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed == 0 ? 0 : 1;
}

#define TEST_MAIN(suite, ...)                                              \
    int main(void) {                                                       \
        static const check_test tests_[] = {__VA_ARGS__};                  \
        return check_run(tests_, sizeof tests_ / sizeof tests_[0], suite); \
    }

/* Makes a new empty directory "$TMPDIR/slq-NAME-XXXXXX" (/tmp when TMPDIR is unset) and writes
 * its path into dir[0..cap); a path that does not fit, or a failure, aborts the test. */
static inline void check_mkdtemp(char *dir, size_t cap, const char *name) {
    const char *t = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/slq-%s-XXXXXX", t != NULL && t[0] != '\0' ? t : "/tmp", name);
    if (n < 0 || (size_t) n >= cap || mkdtemp(dir) == NULL) {
        fprintf(stderr, "check_mkdtemp: cannot make %s\n", dir);
        abort();
    }
}

#endif
