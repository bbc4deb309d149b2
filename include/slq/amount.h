/* amount.h: overflow-checked fen arithmetic. Money is int64 fen; overflow is a
 * rejection (SLQ_AMOUNT_OVERFLOW), never a crash and never a wrap. */
#ifndef SLQ_AMOUNT_H
#define SLQ_AMOUNT_H

#include <stdint.h>

#include "slq/err.h"

static inline SLQ_MUST_USE slq_err amount_add(int64_t *sum_fen, int64_t a_fen, int64_t b_fen) {
    if (__builtin_add_overflow(a_fen, b_fen, sum_fen)) return SLQ_AMOUNT_OVERFLOW;
    return SLQ_OK;
}

static inline SLQ_MUST_USE slq_err amount_sub(int64_t *diff_fen, int64_t a_fen, int64_t b_fen) {
    if (__builtin_sub_overflow(a_fen, b_fen, diff_fen)) return SLQ_AMOUNT_OVERFLOW;
    return SLQ_OK;
}

/* floor(a * bp / 10000) for a >= 0 and bp >= 0, computed exactly in 128 bits. */
static inline SLQ_MUST_USE slq_err amount_share_bp(int64_t *out_fen, int64_t a_fen, uint32_t bp) {
    if (a_fen < 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    __int128 v = (__int128) a_fen * (__int128) bp / 10000;
    if (v > INT64_MAX) return SLQ_AMOUNT_OVERFLOW;
    *out_fen = (int64_t) v;
    return SLQ_OK;
}

#endif
