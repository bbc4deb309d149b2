/* fuzz.h: what every libFuzzer target of slq shares: the prototype of the entry point
 * (the build warns on a definition without one), quiet logs, and the check that a
 * returned code is one of the documented slq_err values of slq/err.h. A target that
 * breaks one of its checks aborts through SLQ_ASSERT, which libFuzzer reports as a crash. */
#ifndef SLQ_FUZZ_H
#define SLQ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/err.h"
#include "slq/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True for a code in the error table: below 200 (the numbering's range) and named. */
static inline bool fz_err_documented(slq_err e) {
    return (unsigned) e < 200u && strcmp(slq_err_name(e), "UNKNOWN") != 0;
}

/* Rejected inputs log a warning each; at fuzzing speed that is only noise and time. */
static inline void fz_quiet(void) {
    slq_log_threshold = SLQ_LOG_OFF;
}

#endif
