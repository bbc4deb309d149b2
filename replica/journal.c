/* journal.c: the engine's side of the write-ahead log (wal.h): every input the Tendermint
 * machine receives during a height (our value, proposals, votes, fired timeouts) is appended
 * before the machine hears of it, nothing while the log is being replayed, and the log is
 * synced before anything is signed. A write that fails is fatal: a validator that signs
 * without its log could forget its lock after a crash. Loop thread only. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "slq/be.h"

/* Appends one input of the machine to the log (not while replaying it). */
static void log_input(engine *e, wal_kind kind, const uint8_t *head, size_t head_len,
                      const uint8_t *block, size_t block_len) {
    if (e->replaying || e->log == NULL) return;
    uint8_t *buf = malloc(head_len + block_len + 1);
    slq_err err = buf == NULL ? SLQ_NO_MEMORY : SLQ_OK;
    if (err == SLQ_OK) {
        memcpy(buf, head, head_len);
        if (block_len > 0) memcpy(buf + head_len, block, block_len);
        err = wal_append(e->log, kind, buf, head_len + block_len);
    }
    free(buf);
    if (err != SLQ_OK) engine_fatal(e, "write-ahead log", err);
}

void journal_vote(engine *e, const tm_vote *v) {
    uint8_t b[WAL_VOTE_BYTES] = {0}, *p = b;
    p += slq_put_be(p, (uint64_t) v->type, 1);
    p += slq_put_be(p, v->height, 8);
    p += slq_put_be(p, v->round, 4);
    p += slq_put_be(p, v->validator, 4);
    memcpy(p, v->block.hash, 32);
    p += 32;
    p += slq_put_be(p, v->sig_len, 1);
    memcpy(p, v->sig, v->sig_len);
    log_input(e, WAL_VOTE, b, sizeof b, NULL, 0);
}

void journal_proposal(engine *e, const proposal_slot *s, uint64_t height) {
    uint8_t b[WAL_PROPOSAL_HEAD] = {0}, *p = b;
    p += slq_put_be(p, height, 8);
    p += slq_put_be(p, s->round, 4);
    p += slq_put_be(p, (uint32_t) s->pol_round, 4);
    p += slq_put_be(p, s->proposer, 4);
    p += slq_put_be(p, s->valid, 1);
    p += slq_put_be(p, s->sig_len, 1);
    memcpy(p, s->sig, s->sig_len);
    log_input(e, WAL_PROPOSAL, b, sizeof b, s->block, s->len);
}

void journal_value(engine *e, uint64_t h, uint32_t r, const uint8_t *block, size_t len) {
    uint8_t b[12];
    slq_put_be(b, h, 8);
    slq_put_be(b + 8, r, 4);
    log_input(e, WAL_VALUE, b, sizeof b, block, len);
}

void journal_timeout(engine *e, tm_step step, uint64_t h, uint32_t r) {
    uint8_t b[13];
    slq_put_be(b, (uint64_t) step, 1);
    slq_put_be(b + 1, h, 8);
    slq_put_be(b + 9, r, 4);
    log_input(e, WAL_TIMEOUT, b, sizeof b, NULL, 0);
}

/* The log must be durable before we sign: a restart replays it to recover our lock. */
bool journal_sync(engine *e) {
    slq_err err = e->log != NULL ? wal_sync(e->log) : SLQ_OK;
    if (err != SLQ_OK) engine_fatal(e, "write-ahead log sync", err);
    return err == SLQ_OK;
}
