/* journal.c: the engine's side of the write-ahead log (wal.h): every input the Tendermint
 * machine receives during a height (our value, proposals, votes, fired timeouts) is appended
 * before the machine hears of it, nothing while the log is being replayed, and the log is
 * synced before anything is signed. The records' layouts are wal_records.h's. A write that
 * fails is fatal: a validator that signs without its log could forget its lock after a
 * crash. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "slq/assert.h"
#include "wal_records.h"

/* True when inputs are logged: not while the log is fed back. */
static bool logging(const engine *e) {
    return !e->replaying && e->log != NULL;
}

/* Appends one record; a write that fails is fatal. */
static void append(engine *e, wal_kind kind, const uint8_t *payload, size_t len) {
    slq_err err = wal_append(e->log, kind, payload, len);
    if (err != SLQ_OK) engine_fatal(e, "write-ahead log", err);
}

void journal_vote(engine *e, const tm_vote *v) {
    if (!logging(e)) return;
    uint8_t b[WAL_VOTE_RECORD_BYTES];
    append(e, WAL_VOTE, b, wal_vote_encode(b, sizeof b, v));
}

void journal_proposal(engine *e, const proposal_slot *s, uint64_t height) {
    SLQ_ASSERT(s->used);
    SLQ_ASSERT(s->sig_len <= CRYPTO_SIG_BYTES_MAX);
    if (!logging(e)) return;
    wal_proposal pr = {.height = height,
                       .round = s->round,
                       .pol_round = s->pol_round,
                       .proposer = s->proposer,
                       .valid = s->valid,
                       .sig_len = s->sig_len,
                       .block = s->block,
                       .block_len = s->len};
    memcpy(pr.sig, s->sig, s->sig_len);
    size_t cap = wal_proposal_bytes(s->len);
    uint8_t *b = malloc(cap);
    if (b == NULL) {
        engine_fatal(e, "write-ahead log", SLQ_NO_MEMORY);
        return;
    }
    append(e, WAL_PROPOSAL, b, wal_proposal_encode(b, cap, &pr));
    free(b);
}

void journal_value(engine *e, uint64_t h, uint32_t r, const uint8_t *block, size_t len) {
    if (!logging(e)) return;
    wal_value v = {.height = h, .round = r, .block = block, .block_len = len};
    size_t cap = wal_value_bytes(len);
    uint8_t *b = malloc(cap);
    if (b == NULL) {
        engine_fatal(e, "write-ahead log", SLQ_NO_MEMORY);
        return;
    }
    append(e, WAL_VALUE, b, wal_value_encode(b, cap, &v));
    free(b);
}

void journal_timeout(engine *e, tm_step step, uint64_t h, uint32_t r) {
    if (!logging(e)) return;
    wal_timeout t = {.step = step, .height = h, .round = r};
    uint8_t b[WAL_TIMEOUT_RECORD_BYTES];
    append(e, WAL_TIMEOUT, b, wal_timeout_encode(b, sizeof b, &t));
}

/* The log must be durable before we sign: a restart replays it to recover our lock. */
bool journal_sync(engine *e) {
    slq_err err = e->log != NULL ? wal_sync(e->log) : SLQ_OK;
    if (err != SLQ_OK) engine_fatal(e, "write-ahead log sync", err);
    return err == SLQ_OK;
}
