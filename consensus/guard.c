/* guard.c: the double-signing guard of guard.h. A request is compared with the record by
 * (height, round, step), lexicographically; at the same position only the identical content
 * (block id and POL round) is allowed, and then the stored signature is reused. The record
 * layout is fixed so that a torn or foreign file is refused on load, not trusted. */
#include "guard.h"

#include <string.h>

#include "slq/assert.h"
#include "slq/be.h"

#define GUARD_VERSION 1u

/* -1, 0 or 1 as a's (height, round, step) is before, at or after b's. */
static int position_cmp(const guard_request *a, const guard_request *b) {
    if (a->height != b->height) return a->height < b->height ? -1 : 1;
    if (a->round != b->round) return a->round < b->round ? -1 : 1;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    return 0;
}

guard_verdict guard_check(const guard_record *rec, const guard_request *req) {
    SLQ_ASSERT(rec != NULL && req != NULL);
    SLQ_ASSERT(req->step <= TM_STEP_PRECOMMIT);
    if (!rec->has) return GUARD_SIGN;
    int c = position_cmp(req, &rec->last);
    if (c > 0) return GUARD_SIGN;
    if (c < 0) return GUARD_REFUSE;
    bool identical = req->pol_round == rec->last.pol_round &&
                     memcmp(req->block.hash, rec->last.block.hash, sizeof req->block.hash) == 0;
    return identical ? GUARD_REUSE : GUARD_REFUSE;
}

void guard_record_set(guard_record *rec, const guard_request *req, const uint8_t *sig,
                      size_t sig_len) {
    SLQ_ASSERT(rec != NULL && req != NULL && sig != NULL);
    SLQ_ASSERT(sig_len > 0 && sig_len <= TM_SIG_BYTES_MAX);
    SLQ_ASSERT(guard_check(rec, req) == GUARD_SIGN);
    memset(rec, 0, sizeof *rec);
    rec->has = true;
    rec->last = *req;
    memcpy(rec->sig, sig, sig_len);
    rec->sig_len = sig_len;
}

void guard_record_encode(uint8_t out[GUARD_RECORD_BYTES], const guard_record *rec) {
    SLQ_ASSERT(out != NULL && rec != NULL);
    SLQ_ASSERT(rec->sig_len <= TM_SIG_BYTES_MAX);
    memset(out, 0, GUARD_RECORD_BYTES);
    size_t n = 0;
    out[n++] = GUARD_VERSION;
    out[n++] = rec->has ? 1 : 0;
    if (rec->has) {
        n += slq_put_be(out + n, rec->last.height, 8);
        n += slq_put_be(out + n, rec->last.round, 4);
        out[n++] = (uint8_t) rec->last.step;
        n += slq_put_be(out + n, (uint32_t) rec->last.pol_round, 4);
        memcpy(out + n, rec->last.block.hash, 32);
        n += 32;
        out[n++] = (uint8_t) rec->sig_len;
        memcpy(out + n, rec->sig, rec->sig_len);
        n += rec->sig_len;
    }
    SLQ_ASSERT(n <= GUARD_RECORD_BYTES);
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) return false;
    return true;
}

slq_err guard_record_decode(guard_record *rec, const uint8_t *in, size_t len) {
    SLQ_ASSERT(rec != NULL);
    if (in == NULL || len != GUARD_RECORD_BYTES || in[0] != GUARD_VERSION || in[1] > 1)
        return SLQ_STORAGE_CORRUPT;
    guard_record r;
    memset(&r, 0, sizeof r);
    if (in[1] == 0) {
        if (!all_zero(in + 2, len - 2)) return SLQ_STORAGE_CORRUPT;
        *rec = r;
        return SLQ_OK;
    }
    size_t n = 2;
    r.has = true;
    r.last.height = slq_get_be(in + n, 8), n += 8;
    r.last.round = (uint32_t) slq_get_be(in + n, 4), n += 4;
    uint8_t step = in[n++];
    r.last.pol_round = (int32_t) (uint32_t) slq_get_be(in + n, 4), n += 4;
    memcpy(r.last.block.hash, in + n, 32), n += 32;
    r.sig_len = in[n++];
    if (step > TM_STEP_PRECOMMIT || r.sig_len == 0 || r.sig_len > TM_SIG_BYTES_MAX ||
        r.last.pol_round < -1 || !all_zero(in + n + r.sig_len, TM_SIG_BYTES_MAX - r.sig_len))
        return SLQ_STORAGE_CORRUPT;
    r.last.step = (tm_step) step;
    memcpy(r.sig, in + n, r.sig_len);
    *rec = r;
    return SLQ_OK;
}
