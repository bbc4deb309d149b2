/* amnesia_rules.c: the facts and rules of amnesia_rules.h (the argument is there). Loop
 * thread only. */
#include "amnesia_rules.h"

#include "slq/assert.h"
#include "slq/why.h"
#include "wal_records.h"

typedef struct {
    uint32_t self;
    amnesia_log *out;
} log_scan;

static bool log_scan_cb(void *arg, wal_kind kind, const uint8_t *p, size_t len) {
    log_scan *ls = arg;
    tm_vote v;
    wal_proposal pr;
    if (kind == WAL_HEIGHT && !wal_height_decode(p, len, &ls->out->height)) ls->out->height = 0;
    if (kind != WAL_HEIGHT) ls->out->inputs++;
    if (kind == WAL_VOTE && wal_vote_decode(p, len, &v) && v.validator == ls->self)
        ls->out->own = true;
    if (kind == WAL_PROPOSAL && wal_proposal_decode(p, len, &pr) && pr.proposer == ls->self)
        ls->out->own = true;
    return true;
}

slq_err amnesia_log_read(amnesia_log *out, wal *w, uint32_t self, char *why, size_t why_cap) {
    *out = (amnesia_log){.height = 0};
    log_scan ls = {.self = self, .out = out};
    slq_err err = wal_replay(w, log_scan_cb, &ls);
    if (err != SLQ_OK) SLQ_WHY("write-ahead log %s: %s", wal_path(w), slq_err_str(err));
    return err;
}

amnesia_evidence amnesia_evidence_of(const amnesia_facts *f) {
    SLQ_ASSERT(f->store_signed_at <= f->tip);
    SLQ_ASSERT(f->log.own ? f->log.inputs > 0 : true);
    if (f->store_signed_at != 0) return AMNESIA_STORE;
    if (f->log.own) return AMNESIA_LOG_OWN;
    if (f->log.height > f->tip && f->log.inputs > 0) return AMNESIA_LOG_INPUTS;
    if (f->log.height > f->tip + 1) return AMNESIA_LOG_AHEAD;
    return AMNESIA_NONE;
}

uint64_t amnesia_fence(const amnesia_facts *f) {
    if (f->log.height == f->tip + 1 && f->log.inputs == 0) return f->tip; /* nothing signed */
    return f->log.height > f->tip + 1 ? f->log.height : f->tip + 1;
}

bool amnesia_reset_halts(const amnesia_facts *f, amnesia_power p) {
    SLQ_ASSERT(p.own > 0);
    SLQ_ASSERT(p.own <= p.total);
    SLQ_ASSERT(p.total <= UINT64_MAX / 3);        /* the genesis bounds it (tm_init asserts it) */
    if (amnesia_fence(f) <= f->tip) return false; /* it signs tip + 1 again */
    uint64_t others = p.total - p.own;
    return !(3 * others > 2 * p.total); /* the machine's quorum, without it */
}
