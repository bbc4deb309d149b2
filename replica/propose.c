/* propose.c: our value and our proposals: the block this node builds from the mempool when
 * the machine asks for a value (waiting for block_interval_ms after the last block unless a
 * full block is pending, or up to empty_block_interval_ms for an empty one), the proposal it
 * signs for it, and the proposals of this height held with their blocks (ours and peers').
 * It never runs the machine's actions itself: it hands them back to the driver (engine.c),
 * which also owns the build timer. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"
#include "slq/assert.h"

/* ------------------------------------------------------------------ proposals */

void propose_clear(engine *e) {
    for (size_t i = 0; i < PROPOSALS_MAX; i++) {
        free(e->props[i].block);
        memset(&e->props[i], 0, sizeof e->props[i]);
    }
    e->props_height = chain_tip(e->cfg.chain)->height + 1;
    e->votes_count = 0;
}

proposal_slot *propose_find(engine *e, const uint8_t *hash) {
    for (size_t i = 0; i < PROPOSALS_MAX; i++)
        if (e->props[i].used && memcmp(e->props[i].hash, hash, CRYPTO_HASH_BYTES) == 0)
            return &e->props[i];
    return NULL;
}

proposal_slot *propose_store(engine *e, const uint8_t *hash, uint8_t *block, size_t len) {
    SLQ_ASSERT(block != NULL); /* a slot in use always holds its block */
    proposal_slot *s = propose_find(e, hash);
    if (s != NULL) {
        free(block);
        return s;
    }
    size_t pick = 0;
    for (size_t i = 0; i < PROPOSALS_MAX; i++) {
        if (!e->props[i].used) {
            pick = i;
            break;
        }
        if (e->props[i].round < e->props[pick].round) pick = i;
    }
    s = &e->props[pick];
    free(s->block);
    memset(s, 0, sizeof *s);
    s->used = true;
    memcpy(s->hash, hash, CRYPTO_HASH_BYTES);
    s->block = block;
    s->len = len;
    return s;
}

void propose_broadcast(engine *e, const proposal_slot *s, uint32_t except) {
    SLQ_ASSERT(s->used);
    SLQ_ASSERT(s->proposer < e->nvals);
    Slq__Proposal pp = SLQ__PROPOSAL__INIT;
    pp.height = e->props_height;
    pp.round = s->round;
    pp.pol_round = s->pol_round;
    pp.block = (ProtobufCBinaryData){s->len, s->block};
    pp.proposer = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, e->addrs[s->proposer]};
    pp.signature = (ProtobufCBinaryData){s->sig_len, (uint8_t *) s->sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_PROPOSAL;
    env.proposal = &pp;
    p2p_broadcast(e->net, &env, except);
}

/* ------------------------------------------------------------------ building a value */

#define REASON_BYTES 256u /* why the ledger refused a candidate (ledger_outcome.reason) */
_Static_assert(REASON_BYTES == sizeof(((ledger_outcome *) 0)->reason), "the ledger's reason");

typedef struct {
    engine *e;
    slq_err codes[SLQ_BLOCK_TXS_MAX];
    char reasons[SLQ_BLOCK_TXS_MAX][REASON_BYTES];
    bool tried[SLQ_BLOCK_TXS_MAX];
    const mempool_tx *sel[SLQ_BLOCK_TXS_MAX];
    uint8_t hashes[SLQ_BLOCK_TXS_MAX][CRYPTO_HASH_BYTES];
} build_scratch;

static slq_err nonce_cb(void *arg, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t *nonce) {
    return chain_account_nonce(((engine *) arg)->cfg.chain, addr, nonce);
}

static void drop_cb(void *arg, const mempool_tx *t, slq_err why) {
    results_record(((engine *) arg)->cfg.res, t->tx.hash, why,
                   why == SLQ_TX_GAP_DROPPED
                       ? "waited behind a missing nonce of its signer for too long"
                       : "nonce is already used, or an earlier transaction of the signer was "
                         "rejected");
}

void propose_expire_gaps(engine *e) {
    (void) mempool_expire(e->cfg.mp, (int64_t) uv_now(e->cfg.loop), nonce_cb, drop_cb, e);
}

static void result_cb(void *arg, size_t i, const ledger_outcome *out) {
    build_scratch *b = arg;
    b->tried[i] = true;
    b->codes[i] = out->code;
    snprintf(b->reasons[i], sizeof b->reasons[i], "%s", out->reason);
}

static void send_refusals(engine *e, uint64_t height, uint8_t (*hashes)[CRYPTO_HASH_BYTES],
                          size_t n);

/* Builds block tip+1 from the mempool; *block (malloc'd) and hash out. Refused candidates
 * leave the mempool with their reason, and the peers are told (TxRefusals). SLQ_NOT_FOUND,
 * and nothing built, when no pending
 * transaction can go in (each waits for an earlier nonce) and an empty block is not due. */
static slq_err build_block(engine *e, build_scratch *b, bool empty_due, uint8_t **block,
                           size_t *len, uint8_t hash[CRYPTO_HASH_BYTES]) {
    propose_expire_gaps(e);
    size_t count = mempool_select(e->cfg.mp, b->sel, SLQ_BLOCK_TXS_MAX, nonce_cb, drop_cb, e);
    SLQ_ASSERT(count <= SLQ_BLOCK_TXS_MAX);
    if (count == 0 && !empty_due) return SLQ_NOT_FOUND;
    const uint8_t *bytes[SLQ_BLOCK_TXS_MAX];
    size_t lens[SLQ_BLOCK_TXS_MAX];
    const ledger_tx *txs[SLQ_BLOCK_TXS_MAX];
    for (size_t i = 0; i < count; i++) {
        bytes[i] = b->sel[i]->bytes;
        lens[i] = b->sel[i]->len;
        txs[i] = &b->sel[i]->tx;
        memcpy(b->hashes[i], b->sel[i]->tx.hash, CRYPTO_HASH_BYTES);
    }
    chain_candidates cand = {.bytes = bytes, .lens = lens, .txs = txs, .count = count};
    int64_t t = engine_wall_ms();
    if (t <= chain_tip_time_ms(e->cfg.chain)) t = chain_tip_time_ms(e->cfg.chain) + 1;
    chain_proposal p;
    slq_err err = chain_propose(e->cfg.chain, &p, t, e->addrs[e->self], &cand, result_cb, b);
    if (err != SLQ_OK) return err;
    *block = p.block;
    *len = p.block_len;
    memcpy(hash, p.hash, CRYPTO_HASH_BYTES);
    p.block = NULL; /* ours now; the chain keeps the block's replay for its commit */
    size_t refused = 0;
    for (size_t i = 0; i < count; i++) { /* sel[] is stale from the first removal on */
        if (!b->tried[i] || b->codes[i] == SLQ_OK) continue;
        results_record(e->cfg.res, b->hashes[i], b->codes[i], b->reasons[i]);
        mempool_reject(e->cfg.mp, b->hashes[i], drop_cb, e);
        memmove(b->hashes[refused++], b->hashes[i], CRYPTO_HASH_BYTES);
    }
    if (refused > 0) send_refusals(e, p.height, b->hashes, refused);
    return SLQ_OK;
}

/* ------------------------------------------------------------------ refusals seen elsewhere */

/* Tells the peers which candidates our ledger refused for this height: their mempools hold
 * them too, and would count them as pending until they proposed themselves. */
static void send_refusals(engine *e, uint64_t height, uint8_t (*hashes)[CRYPTO_HASH_BYTES],
                          size_t n) {
    if (e->net == NULL) return;
    ProtobufCBinaryData txs[SLQ_BLOCK_TXS_MAX];
    SLQ_ASSERT(n <= SLQ_BLOCK_TXS_MAX);
    for (size_t i = 0; i < n; i++) txs[i] = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, hashes[i]};
    Slq__TxRefusals r = SLQ__TX_REFUSALS__INIT;
    r.height = height;
    r.n_txs = n;
    r.txs = txs;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_REFUSALS;
    env.refusals = &r;
    p2p_broadcast(e->net, &env, UINT32_MAX);
}

/* Tries the hinted transactions this node holds again on the committed state, as the next
 * block would: only a signer's next one (nonce committed + 1), so that none fails for a nonce
 * of ours that the proposer had; those the ledger refuses leave with their reason. */
static void recheck(engine *e, uint8_t (*hashes)[CRYPTO_HASH_BYTES], size_t n) {
    build_scratch *b = calloc(1, sizeof *b);
    if (b == NULL) return; /* a hint only: the next proposal refuses them anyway */
    const uint8_t *bytes[SLQ_BLOCK_TXS_MAX];
    size_t lens[SLQ_BLOCK_TXS_MAX], count = 0;
    const ledger_tx *txs[SLQ_BLOCK_TXS_MAX];
    for (size_t i = 0; i < n && count < SLQ_BLOCK_TXS_MAX; i++) {
        const mempool_tx *t = mempool_get(e->cfg.mp, hashes[i]);
        uint64_t committed = 0;
        if (t == NULL || chain_account_nonce(e->cfg.chain, t->tx.signer, &committed) != SLQ_OK ||
            t->tx.body->nonce != committed + 1)
            continue;
        bytes[count] = t->bytes;
        lens[count] = t->len;
        txs[count] = &t->tx;
        memcpy(b->hashes[count], t->tx.hash, CRYPTO_HASH_BYTES);
        count++;
    }
    chain_candidates cand = {.bytes = bytes, .lens = lens, .txs = txs, .count = count};
    int64_t t = engine_wall_ms();
    if (t <= chain_tip_time_ms(e->cfg.chain)) t = chain_tip_time_ms(e->cfg.chain) + 1;
    chain_proposal p;
    if (count == 0 ||
        chain_propose(e->cfg.chain, &p, t, e->addrs[0], &cand, result_cb, b) != SLQ_OK) {
        free(b);
        return;
    }
    free(p.block);
    p.block = NULL;
    chain_abandon(e->cfg.chain, &p); /* a trial: nothing of it stays */
    for (size_t i = 0; i < count; i++) {
        if (!b->tried[i] || b->codes[i] == SLQ_OK || b->codes[i] == SLQ_NONCE_INVALID) continue;
        log_debug("engine: refused by a proposer and here too: tx=%02x%02x%02x%02x %s",
                  b->hashes[i][0], b->hashes[i][1], b->hashes[i][2], b->hashes[i][3],
                  b->reasons[i]);
        results_record(e->cfg.res, b->hashes[i], b->codes[i], b->reasons[i]);
        mempool_reject(e->cfg.mp, b->hashes[i], drop_cb, e);
    }
    free(b);
}

void propose_on_refusals(engine *e, uint32_t peer, const Slq__TxRefusals *r) {
    bool ok = r->n_txs <= SLQ_BLOCK_TXS_MAX;
    for (size_t i = 0; ok && i < r->n_txs; i++) ok = r->txs[i].len == CRYPTO_HASH_BYTES;
    if (!ok) {
        p2p_disconnect(e->net, peer, "sent malformed refusals");
        return;
    }
    uint64_t tip = chain_tip(e->cfg.chain)->height;
    if (r->height <= tip) { /* committed already: try them now */
        uint8_t(*now)[CRYPTO_HASH_BYTES] = malloc(r->n_txs * CRYPTO_HASH_BYTES + 1);
        if (now == NULL) return;
        for (size_t i = 0; i < r->n_txs; i++) memcpy(now[i], r->txs[i].data, CRYPTO_HASH_BYTES);
        recheck(e, now, r->n_txs);
        free(now);
        return;
    }
    if (r->height != tip + 1) return; /* too far ahead to matter yet */
    if (e->hints_height != r->height) e->hints_height = r->height, e->hints_count = 0;
    for (size_t i = 0; i < r->n_txs && e->hints_count < SLQ_BLOCK_TXS_MAX; i++)
        memcpy(e->hints[e->hints_count++], r->txs[i].data, CRYPTO_HASH_BYTES);
}

void propose_recheck_hints(engine *e) {
    if (e->hints_count == 0 || e->hints_height > chain_tip(e->cfg.chain)->height) return;
    size_t n = e->hints_count;
    e->hints_count = 0;
    recheck(e, e->hints, n);
}

void propose_try(engine *e, propose_outcome *out) {
    out->wait = false;
    out->acts.n = 0;
    if (!e->want_value || e->stopping) return;
    if (e->want_h != chain_tip(e->cfg.chain)->height + 1 || e->want_h != tm_height(e->m)) {
        e->want_value = false; /* the height moved on */
        return;
    }
    /* Pending transactions wait for block_interval_ms since the last block, unless they
     * fill a block; none wait for empty_block_interval_ms. */
    uint64_t since = uv_now(e->cfg.loop) - e->last_block_mono_ms;
    size_t pending = mempool_count(e->cfg.mp);
    uint64_t wait = pending == 0                   ? e->cfg.empty_block_interval_ms
                    : pending >= SLQ_BLOCK_TXS_MAX ? 0
                                                   : e->cfg.block_interval_ms;
    if (since < wait) {
        out->wait = true;
        out->wait_ms = pending == 0 ? e->cfg.block_interval_ms : wait - since;
        return;
    }
    build_scratch *b = calloc(1, sizeof *b);
    uint8_t *block = NULL, hash[CRYPTO_HASH_BYTES];
    size_t len = 0;
    bool empty_due = since >= e->cfg.empty_block_interval_ms;
    slq_err err = b == NULL ? SLQ_NO_MEMORY : build_block(e, b, empty_due, &block, &len, hash);
    free(b);
    if (err == SLQ_NOT_FOUND) {
        /* Pending, but none can go in yet (a nonce gap): wait as for an empty mempool; a
         * transaction that fills the gap wakes us (engine_mempool_changed). */
        out->wait = true;
        out->wait_ms = e->cfg.empty_block_interval_ms - since;
        return;
    }
    if (err != SLQ_OK) {
        engine_fatal(e, "build block", err);
        return;
    }
    proposal_slot *s = propose_store(e, hash, block, len);
    s->round = e->want_r;
    s->proposer = (uint32_t) e->self;
    s->valid = true;
    e->want_value = false;
    journal_value(e, e->want_h, e->want_r, s->block, s->len);
    tm_on_value(e->m, e->want_h, e->want_r, (const tm_block_id *) hash, &out->acts);
}

/* ------------------------------------------------------------------ our proposal */

void propose_sign(engine *e, const tm_action *a, tm_actions *out) {
    SLQ_ASSERT(e->self >= 0); /* the machine proposes only for a validator */
    SLQ_ASSERT(e->sg != NULL);
    SLQ_ASSERT(a->pol_round >= -1);
    SLQ_ASSERT(a->pol_round < (int32_t) a->round); /* a POL round is an earlier round */
    out->n = 0;
    proposal_slot *s = propose_find(e, a->block.hash);
    if (s == NULL) {
        log_warn("engine: propose: height=%llu round=%u: block not here",
                 (unsigned long long) a->height, a->round);
        return;
    }
    consensus_vote_fields f = {.type = CONSENSUS_PROPOSAL,
                               .height = a->height,
                               .round = a->round,
                               .pol_round = a->pol_round,
                               .block_hash = a->block.hash};
    if (!journal_sync(e)) return;
    slq_err err = signer_sign(e->sg, engine_chain_id(e), &f, s->sig, &s->sig_len);
    if (err == SLQ_IO || err == SLQ_STORAGE_CORRUPT) {
        engine_fatal(e, "sign proposal", err);
        return;
    }
    if (err != SLQ_OK) return; /* the guard refused: signed something else here before */
    s->round = a->round;
    s->pol_round = a->pol_round;
    s->proposer = (uint32_t) e->self;
    s->valid = true;
    propose_broadcast(e, s, UINT32_MAX);
    journal_proposal(e, s, a->height);
    tm_proposal p = {.height = a->height,
                     .round = a->round,
                     .pol_round = a->pol_round,
                     .block = a->block,
                     .proposer = (uint32_t) e->self};
    tm_on_proposal(e->m, &p, true, out);
}
