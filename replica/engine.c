/* engine.c: the replica's driver: it runs the pure Tendermint machine
 * (consensus/tendermint.h) with the chain, the signer and the peer network. It carries out
 * the machine's actions (run), owns the timers (step timeouts, the build timer, the tick),
 * takes the peers' messages, keeps equivocation evidence, commits decided blocks, restarts
 * from the write-ahead log, and starts and stops the replica. Building our value and
 * proposing it is propose.c's, block sync sync.c's, logging the machine's inputs
 * journal.c's (engine_internal.h).
 *
 * - Proposals carry the whole block; a proposed block is checked against the chain
 *   (chain_check_block, with a bound on its time) before the machine hears of it.
 * - Votes and proposals are signed through the signer, which persists what it signs before
 *   anything is sent; received ones are signature-checked here, relayed once, then fed in.
 * - A decided block is applied with the certificate built from the deciding precommits
 *   (chain_apply_block re-checks everything), so every node commits through one path.
 * - The propose timeout leaves room for a proposer's wait for transactions (propose.c).
 * - Every second the engine tells peers its height (Status) and re-sends its own latest
 *   proposal and votes of the current height, so a message lost by a crash or a dropped
 *   connection is not lost for good (the gossip property of CONSENSUS.md §6).
 * - While behind, the engine does not vote: block sync (sync.c) fetches the blocks with
 *   their certificates and the machine restarts at the new height.
 * Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "codec.h"
#include "engine_internal.h"
#include "slq/assert.h"
#include "slq/be.h"
#include "slq/why.h"
#include "wal_records.h"

#define TIME_AHEAD_MS 10000 /* a proposal's block time may run this far ahead of our clock */

/* The machine's step timeouts, ms (tm_timeouts; CometBFT's defaults but for propose). A
 * round's timeout grows by its delta every round. The propose timeout is the empty-block
 * interval (a proposer may wait that long for transactions, propose.c) plus this much. */
#define PROPOSE_MS_AFTER_EMPTY_INTERVAL 2000u
#define PROPOSE_DELTA_MS                500u
#define PREVOTE_MS                      1000u
#define PREVOTE_DELTA_MS                500u
#define PRECOMMIT_MS                    1000u
#define PRECOMMIT_DELTA_MS              500u

#define TICK_MS 1000u /* status to peers, our messages again, sync if behind: this often */

#define PATH_BYTES 4096u /* signer.state and consensus.wal paths under the home, with NUL */

#define HASH_LOGGED_BYTES 16u /* a committed block's hash is logged by its first bytes */
_Static_assert(HASH_LOGGED_BYTES <= CRYPTO_HASH_BYTES, "a prefix of the hash");

/* A vote's fields before its block hash in its gossip digest: type u8 | height u64 |
 * round u32 | validator u32. */
#define VOTE_DIGEST_HEAD_BYTES (1u + 8u + 4u + 4u)

#define EVIDENCE_VOTES      2u /* a piece of evidence: the vote kept first, the conflicting one */
/* One vote of a piece of evidence, its variable fields in one buffer: the validator's
 * address, the block hash, the signature. */
#define EVIDENCE_VOTE_BYTES (CRYPTO_ADDRESS_BYTES + CRYPTO_HASH_BYTES + TM_SIG_BYTES_MAX)

/* The machine indexes validators as the genesis does (commit votes, addrs[]). */
_Static_assert(SLQ_VALIDATORS_MAX == TM_VALIDATORS_MAX, "one validator index space");

static void run(engine *e, const tm_actions *acts);

/* ------------------------------------------------------------------ dedup */

/* Digests of the votes and proposals relayed so far (the last SEEN_MAX). */
static bool seen_has(const engine *e, uint64_t d) {
    for (size_t i = 0; i < SEEN_MAX; i++)
        if (e->seen[i] == d) return true;
    return false;
}

static void seen_add(engine *e, uint64_t d) {
    e->seen[e->seen_next] = d;
    e->seen_next = (e->seen_next + 1) % SEEN_MAX;
}

/* True the first time these bytes are seen. */
static bool first_sight(engine *e, const uint8_t *p, size_t n) {
    uint8_t h[CRYPTO_HASH_BYTES];
    crypto_hash(engine_suite(e), h, p, n);
    uint64_t d;
    memcpy(&d, h, sizeof d);
    if (seen_has(e, d)) return false;
    seen_add(e, d);
    return true;
}

/* A vote's identity as gossiped: every field and the signature. Two copies with one digest
 * are the same vote, valid or not alike, so a copy of one already checked is dropped
 * unchecked; the signature alone would not do (another peer could pair it with other
 * fields, a forgery, and have the genuine vote dropped). */
static uint64_t vote_digest(const engine *e, const tm_vote *v) {
    uint8_t head[VOTE_DIGEST_HEAD_BYTES];
    size_t n = slq_put_be(head, (uint64_t) v->type, 1);
    n += slq_put_be(head + n, v->height, 8);
    n += slq_put_be(head + n, v->round, 4);
    n += slq_put_be(head + n, v->validator, 4);
    SLQ_ASSERT(n == sizeof head);
    crypto_hasher h;
    crypto_hasher_init(&h, engine_suite(e));
    crypto_hasher_update(&h, head, sizeof head);
    crypto_hasher_update(&h, v->block.hash, CRYPTO_HASH_BYTES);
    crypto_hasher_update(&h, v->sig, v->sig_len);
    uint8_t out[CRYPTO_HASH_BYTES];
    crypto_hasher_final(&h, out);
    uint64_t d;
    memcpy(&d, out, sizeof d);
    return d;
}

/* ------------------------------------------------------------------ messages out */

static void broadcast_vote(engine *e, const tm_vote *v, uint32_t except) {
    SLQ_ASSERT(v->validator < e->nvals);
    Slq__Vote pv = SLQ__VOTE__INIT;
    bool nil = true;
    for (size_t i = 0; i < CRYPTO_HASH_BYTES; i++) nil = nil && v->block.hash[i] == 0;
    pv.type = (Slq__VoteType) v->type;
    pv.height = v->height;
    pv.round = v->round;
    if (!nil) pv.block_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) v->block.hash};
    pv.validator = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, e->addrs[v->validator]};
    pv.signature = (ProtobufCBinaryData){v->sig_len, (uint8_t *) v->sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_VOTE;
    env.vote = &pv;
    p2p_broadcast(e->net, &env, except);
}

void engine_relay_tx(engine *e, const uint8_t *bytes, size_t len) {
    if (e->net == NULL) return;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_TX;
    env.tx = (ProtobufCBinaryData){len, (uint8_t *) bytes};
    p2p_broadcast(e->net, &env, UINT32_MAX);
}

/* ------------------------------------------------------------------ committing */

/* Takes the transactions of a committed block out of the mempool. */
static void settle_block(engine *e, const uint8_t *block, size_t len) {
    Slq__Block *b = slq__block__unpack(NULL, len, block);
    if (b == NULL) return; /* it was applied, so it decodes */
    for (size_t i = 0; i < b->n_txs; i++) {
        uint8_t h[CRYPTO_HASH_BYTES];
        crypto_hash(engine_suite(e), h, b->txs[i].data, b->txs[i].len);
        mempool_remove(e->cfg.mp, h);
    }
    e->txs_committed += b->n_txs;
    e->blocks_committed++;
    slq__block__free_unpacked(b, NULL);
    propose_expire_gaps(e);
    propose_recheck_hints(e);
}

/* Starts the machine at height h. It signs nothing then (only in answer to an input, which
 * the log holds before the machine hears of it): a log of tip + 1 with nothing past its
 * height record proves that nothing was signed there (amnesia_rules.h). */
static void start_machine(engine *e, uint64_t h, tm_actions *acts) {
    tm_start_height(e->m, h, acts);
    for (size_t i = 0; i < acts->n; i++) {
        SLQ_ASSERT(acts->a[i].kind != TM_ACT_VOTE);
        SLQ_ASSERT(acts->a[i].kind != TM_ACT_PROPOSE);
    }
}

/* After the tip moved (commit or sync): a fresh height for the machine. */
static void new_height(engine *e) {
    propose_clear(e);
    e->want_value = false;
    e->replaying = false; /* a decision during replay ends the replay with its height */
    slq_err err = e->log != NULL ? wal_begin(e->log, chain_tip(e->cfg.chain)->height + 1) : SLQ_OK;
    if (err != SLQ_OK) {
        engine_fatal(e, "write-ahead log", err);
        return;
    }
    e->last_block_mono_ms = uv_now(e->cfg.loop);
    sync_send_status(e, UINT32_MAX);
    tm_actions acts = {.n = 0};
    start_machine(e, chain_tip(e->cfg.chain)->height + 1, &acts);
    run(e, &acts);
}

static void act_commit(engine *e, const tm_action *a) {
    SLQ_ASSERT(a->height == chain_tip(e->cfg.chain)->height + 1); /* the machine's height */
    proposal_slot *s = propose_find(e, a->block.hash);
    if (s == NULL) {
        /* Decided without the block: fetch it, with its certificate, from a peer. */
        log_info("engine: commit: height=%llu block not here; syncing",
                 (unsigned long long) a->height);
        return;
    }
    tm_vote votes[TM_VALIDATORS_MAX];
    consensus_sig sigs[TM_VALIDATORS_MAX] = {{0}};
    tm_commit_votes(e->m, a->height, a->round, &a->block, votes);
    for (size_t i = 0; i < e->nvals; i++)
        if (votes[i].sig_len > 0) sigs[i] = (consensus_sig){votes[i].sig, votes[i].sig_len};
    const Slq__Genesis *g = ledger_genesis(chain_ledger(e->cfg.chain));
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    char why[WHY_BYTES] = "";
    slq_err err =
        consensus_cert_encode(&cert, &cert_len, engine_suite(e), engine_chain_id(e), a->height,
                              a->round, a->block.hash, g->validators, g->n_validators, sigs);
    if (err == SLQ_OK)
        err = chain_apply_block(e->cfg.chain, s->block, s->len, cert, cert_len, why, sizeof why);
    free(cert);
    if (err != SLQ_OK) {
        log_error("engine: commit: height=%llu: %s", (unsigned long long) a->height, why);
        engine_fatal(e, "commit", err);
        return;
    }
    settle_block(e, s->block, s->len);
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, a->block.hash, HASH_LOGGED_BYTES);
    log_info("engine: commit: height=%llu round=%u hash=%s mempool=%zu",
             (unsigned long long) a->height, a->round, hex, mempool_count(e->cfg.mp));
    new_height(e);
}

/* ------------------------------------------------------------------ building a value */

static void build_timer_cb(uv_timer_t *t);

/* Builds our value if it is due (propose.c), else waits for it on the build timer. */
static void try_build(engine *e) {
    propose_outcome out;
    propose_try(e, &out);
    if (out.wait && !uv_is_active((uv_handle_t *) &e->build) &&
        uv_timer_start(&e->build, build_timer_cb, out.wait_ms, 0) != 0)
        log_warn("engine: build: cannot start the timer");
    run(e, &out.acts);
}

static void build_timer_cb(uv_timer_t *t) {
    try_build(t->data);
}

void engine_mempool_changed(engine *e) {
    if (e->want_value && uv_is_active((uv_handle_t *) &e->build)) {
        uv_timer_stop(&e->build);
        try_build(e);
    }
}

/* ------------------------------------------------------------------ actions */

static void act_propose(engine *e, const tm_action *a) {
    tm_actions acts = {.n = 0};
    propose_sign(e, a, &acts);
    run(e, &acts);
}

static bool is_nil(const tm_block_id *b) {
    for (size_t i = 0; i < CRYPTO_HASH_BYTES; i++)
        if (b->hash[i] != 0) return false;
    return true;
}

/* Feeds a checked vote of the current height to the machine and keeps it. */
static void feed_vote(engine *e, const tm_vote *v) {
    SLQ_ASSERT(v->validator < e->nvals);
    SLQ_ASSERT(e->votes_count <= VOTES_KEPT);
    if (e->votes_count < VOTES_KEPT) e->votes[e->votes_count++] = *v;
    journal_vote(e, v);
    tm_actions acts = {.n = 0};
    tm_on_vote(e->m, v, &acts);
    run(e, &acts);
}

/* Rule 2 waits for the prevotes of a proposal's POL round: feed those we hold again (the
 * machine may have dropped them as too old when they came), and peers re-send theirs. */
static void act_need_pol(engine *e, const tm_action *a) {
    for (size_t i = 0; i < e->votes_count && !e->stopping; i++) {
        tm_vote v = e->votes[i];
        if (v.type != TM_PREVOTE || v.round != a->round || v.height != a->height) continue;
        tm_actions acts = {.n = 0};
        tm_on_vote(e->m, &v, &acts);
        run(e, &acts);
    }
}

static void act_vote(engine *e, const tm_action *a) {
    SLQ_ASSERT(e->self >= 0); /* the machine votes only for a validator */
    SLQ_ASSERT(e->sg != NULL);
    tm_vote v = {.type = a->vote_type,
                 .height = a->height,
                 .round = a->round,
                 .block = a->block,
                 .validator = (uint32_t) e->self};
    consensus_vote_fields f = {.type = (consensus_msg_type) a->vote_type,
                               .height = a->height,
                               .round = a->round,
                               .pol_round = -1,
                               .block_hash = is_nil(&a->block) ? NULL : a->block.hash};
    if (!journal_sync(e)) return;
    slq_err err = signer_sign(e->sg, engine_chain_id(e), &f, v.sig, &v.sig_len);
    if (err == SLQ_IO || err == SLQ_STORAGE_CORRUPT) {
        engine_fatal(e, "sign vote", err);
        return;
    }
    if (err != SLQ_OK) return;
    seen_add(e, vote_digest(e, &v)); /* so that peers' relays of it are not fed again */
    broadcast_vote(e, &v, UINT32_MAX);
    feed_vote(e, &v);
}

static void step_timer_cb(uv_timer_t *t) {
    step_timer *st = t->data;
    engine *e = st->e;
    if (e->stopping) return;
    journal_timeout(e, st->step, st->h, st->r);
    tm_actions acts = {.n = 0};
    tm_on_timeout(e->m, st->step, st->h, st->r, &acts);
    run(e, &acts);
}

static void act_timeout(engine *e, const tm_action *a) {
    SLQ_ASSERT(e->next_timer < TIMERS_MAX);
    step_timer *st = &e->timers[e->next_timer];
    e->next_timer = (e->next_timer + 1) % TIMERS_MAX;
    st->step = a->step;
    st->h = a->height;
    st->r = a->round;
    if (uv_timer_start(&st->t, step_timer_cb, a->ms, 0) != 0)
        log_warn("engine: timeout: cannot start a timer");
}

static void act_evidence(engine *e, const tm_action *a) {
    log_warn("engine: evidence: validator=%u height=%llu round=%u type=%d signed two votes",
             a->evidence[0].validator, (unsigned long long) a->evidence[0].height,
             a->evidence[0].round, (int) a->evidence[0].type);
    SLQ_ASSERT(a->evidence[0].validator == a->evidence[1].validator); /* one equivocator */
    SLQ_ASSERT(a->evidence[0].validator < e->nvals);
    if (e->evidence_count >= EVIDENCE_MAX) return;
    Slq__Evidence *ev = calloc(1, sizeof *ev);
    Slq__Vote *v = calloc(EVIDENCE_VOTES, sizeof *v);
    uint8_t *buf = calloc(EVIDENCE_VOTES, EVIDENCE_VOTE_BYTES);
    if (ev == NULL || v == NULL || buf == NULL) {
        free(ev), free(v), free(buf);
        return;
    }
    slq__evidence__init(ev);
    for (size_t i = 0; i < EVIDENCE_VOTES; i++) {
        const tm_vote *t = &a->evidence[i];
        uint8_t *p = buf + i * EVIDENCE_VOTE_BYTES;
        SLQ_ASSERT(t->sig_len <= TM_SIG_BYTES_MAX);
        slq__vote__init(&v[i]);
        v[i].type = (Slq__VoteType) t->type;
        v[i].height = t->height;
        v[i].round = t->round;
        memcpy(p, e->addrs[t->validator], CRYPTO_ADDRESS_BYTES);
        memcpy(p + CRYPTO_ADDRESS_BYTES, t->block.hash, CRYPTO_HASH_BYTES);
        memcpy(p + CRYPTO_ADDRESS_BYTES + CRYPTO_HASH_BYTES, t->sig, t->sig_len);
        v[i].validator = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, p};
        if (!is_nil(&t->block))
            v[i].block_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, p + CRYPTO_ADDRESS_BYTES};
        v[i].signature =
            (ProtobufCBinaryData){t->sig_len, p + CRYPTO_ADDRESS_BYTES + CRYPTO_HASH_BYTES};
    }
    ev->a = &v[0];
    ev->b = &v[1];
    e->evidence[e->evidence_count++] = ev;
}

static bool block_hash_of(const engine *e, const ProtobufCBinaryData *block, uint8_t *hash);

/* 2f+1 precommits for a block we do not hold (or hold as invalid): the validators that
 * decided it commit it and move on; block sync fetches it with its certificate. */
static void act_need_block(engine *e, const tm_action *a) {
    log_info("engine: decided without the block: height=%llu round=%u; syncing",
             (unsigned long long) a->height, a->round);
    sync_maybe(e);
}

static void act_need_value(engine *e, const tm_action *a) {
    if (e->replaying) return; /* a value we built is in the log; else the round moves on */
    e->want_value = true;
    e->want_h = a->height;
    e->want_r = a->round;
    try_build(e);
}

static void run(engine *e, const tm_actions *acts) {
    SLQ_ASSERT(acts->n <= TM_ACTIONS_MAX);
    for (size_t i = 0; i < acts->n && !e->stopping; i++) {
        const tm_action *a = &acts->a[i];
        switch (a->kind) {
            case TM_ACT_NEED_VALUE:
                act_need_value(e, a);
                break;
            case TM_ACT_PROPOSE:
                act_propose(e, a);
                break;
            case TM_ACT_VOTE:
                act_vote(e, a);
                break;
            case TM_ACT_TIMEOUT:
                act_timeout(e, a);
                break;
            case TM_ACT_COMMIT:
                act_commit(e, a);
                break;
            case TM_ACT_EVIDENCE:
                act_evidence(e, a);
                break;
            case TM_ACT_NEED_BLOCK:
                act_need_block(e, a);
                break;
            case TM_ACT_NEED_POL:
                act_need_pol(e, a);
                break;
        }
    }
}

/* ------------------------------------------------------------------ messages in */

static int validator_of(const engine *e, const ProtobufCBinaryData *addr) {
    if (addr->len != CRYPTO_ADDRESS_BYTES) return -1;
    for (size_t i = 0; i < e->nvals; i++)
        if (memcmp(e->addrs[i], addr->data, CRYPTO_ADDRESS_BYTES) == 0) return (int) i;
    return -1;
}

static slq_err verify_fields(const engine *e, uint32_t validator, const consensus_vote_fields *f,
                             const ProtobufCBinaryData *sig) {
    const Slq__Validator *v = ledger_genesis(chain_ledger(e->cfg.chain))->validators[validator];
    uint8_t msg[CONSENSUS_VOTE_BYTES_MAX];
    size_t n = consensus_vote_bytes(msg, engine_chain_id(e), f);
    return crypto_verify(engine_suite(e), v->pubkey.data, v->pubkey.len, msg, n, sig->data,
                         sig->len);
}

void engine_peer_misbehaved(engine *e, uint32_t peer, const char *why) {
    p2p_disconnect(e->net, peer, why);
}

static void on_tx(engine *e, uint32_t peer, const ProtobufCBinaryData *tx) {
    intake_gossip(e->cfg.in, peer, tx->data, tx->len);
}

static void on_vote(engine *e, uint32_t peer, const Slq__Vote *v) {
    int vi = validator_of(e, &v->validator);
    bool shape =
        v->base.n_unknown_fields == 0 && vi >= 0 &&
        (v->type == SLQ__VOTE_TYPE__VOTE_PREVOTE || v->type == SLQ__VOTE_TYPE__VOTE_PRECOMMIT) &&
        (v->block_hash.len == 0 || v->block_hash.len == CRYPTO_HASH_BYTES) &&
        v->signature.len <= TM_SIG_BYTES_MAX;
    if (!shape) {
        p2p_disconnect(e->net, peer, "sent a malformed vote");
        return;
    }
    if (v->height != tm_height(e->m)) return; /* old, or ahead of us: Status drives sync */
    tm_vote t = {.type = (tm_vote_type) v->type,
                 .height = v->height,
                 .round = v->round,
                 .validator = (uint32_t) vi,
                 .sig_len = v->signature.len};
    if (v->block_hash.len > 0) memcpy(t.block.hash, v->block_hash.data, CRYPTO_HASH_BYTES);
    memcpy(t.sig, v->signature.data, v->signature.len);
    /* Every peer relays every vote: a copy of one already checked costs a hash. */
    uint64_t d = vote_digest(e, &t);
    if (seen_has(e, d)) return;
    consensus_vote_fields f = {.type = (consensus_msg_type) v->type,
                               .height = v->height,
                               .round = v->round,
                               .pol_round = -1,
                               .block_hash = v->block_hash.len > 0 ? v->block_hash.data : NULL};
    if (verify_fields(e, (uint32_t) vi, &f, &v->signature) != SLQ_OK) {
        p2p_disconnect(e->net, peer, "sent a forged vote");
        return;
    }
    seen_add(e, d);
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_VOTE;
    env.vote = (Slq__Vote *) v;
    p2p_broadcast(e->net, &env, peer);
    feed_vote(e, &t);
}

/* The hash of a block's header bytes, without checking anything else. */
static bool block_hash_of(const engine *e, const ProtobufCBinaryData *block, uint8_t *hash) {
    Slq__Block *b = slq__block__unpack(NULL, block->len, block->data);
    if (b == NULL) return false;
    crypto_hash(engine_suite(e), hash, b->header.data, b->header.len);
    slq__block__free_unpacked(b, NULL);
    return true;
}

static void on_proposal(engine *e, uint32_t peer, const Slq__Proposal *p) {
    if (p->height != tm_height(e->m) || p->round > tm_round(e->m) + TM_ROUNDS_AHEAD) return;
    uint8_t hash[CRYPTO_HASH_BYTES];
    int vi = validator_of(e, &p->proposer);
    consensus_vote_fields f = {.type = CONSENSUS_PROPOSAL,
                               .height = p->height,
                               .round = p->round,
                               .pol_round = p->pol_round,
                               .block_hash = hash};
    bool ok = p->base.n_unknown_fields == 0 && vi >= 0 && p->pol_round >= -1 &&
              p->pol_round < (int32_t) p->round && p->signature.len <= CRYPTO_SIG_BYTES_MAX &&
              (uint32_t) vi == tm_proposer(e->m, p->height, p->round) &&
              block_hash_of(e, &p->block, hash) &&
              verify_fields(e, (uint32_t) vi, &f, &p->signature) == SLQ_OK;
    if (!ok) {
        p2p_disconnect(e->net, peer, "sent a malformed or forged proposal");
        return;
    }
    if (!first_sight(e, p->signature.data, p->signature.len)) return;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_PROPOSAL;
    env.proposal = (Slq__Proposal *) p;
    p2p_broadcast(e->net, &env, peer);
    char why[WHY_BYTES] = "";
    uint8_t checked[CRYPTO_HASH_BYTES];
    slq_err check = chain_check_block(e->cfg.chain, p->block.data, p->block.len,
                                      engine_wall_ms() + TIME_AHEAD_MS, checked, why, sizeof why);
    if (check == SLQ_STORAGE_IO || check == SLQ_STORAGE_CORRUPT) {
        /* Our own store failed us: we can judge no block, and must not vote on one. */
        engine_fatal(e, "proposal: our store", check);
        return;
    }
    bool valid = check == SLQ_OK; /* out of memory: not judged, so not valid (a nil prevote) */
    if (!valid)
        log_warn("engine: proposal: height=%llu round=%u invalid: %s",
                 (unsigned long long) p->height, p->round, why);
    uint8_t *copy = malloc(p->block.len == 0 ? 1 : p->block.len);
    if (copy == NULL) return;
    memcpy(copy, p->block.data, p->block.len);
    proposal_slot *s = propose_store(e, hash, copy, p->block.len);
    s->round = p->round;
    s->pol_round = p->pol_round;
    s->proposer = (uint32_t) vi;
    s->valid = valid;
    memcpy(s->sig, p->signature.data, p->signature.len);
    s->sig_len = p->signature.len;
    tm_proposal tp = {.height = p->height,
                      .round = p->round,
                      .pol_round = p->pol_round,
                      .proposer = (uint32_t) vi};
    memcpy(tp.block.hash, hash, CRYPTO_HASH_BYTES);
    journal_proposal(e, s, p->height);
    tm_actions acts = {.n = 0};
    tm_on_proposal(e->m, &tp, valid, &acts);
    run(e, &acts);
}

/* A block we asked a peer for: applied (sync.c), it starts the next height. */
static void on_block_response(engine *e, uint32_t peer, const Slq__BlockResponse *r) {
    if (!sync_on_block_response(e, peer, r)) return;
    settle_block(e, r->block.data, r->block.len);
    new_height(e);
    sync_maybe(e);
}

/* ------------------------------------------------------------------ wiring */

static void msg_cb(void *arg, uint32_t peer, const Slq__Envelope *env) {
    engine *e = arg;
    if (e->stopping) return;
    switch (env->msg_case) {
        case SLQ__ENVELOPE__MSG_TX:
            on_tx(e, peer, &env->tx);
            break;
        case SLQ__ENVELOPE__MSG_VOTE:
            on_vote(e, peer, env->vote);
            break;
        case SLQ__ENVELOPE__MSG_PROPOSAL:
            on_proposal(e, peer, env->proposal);
            break;
        case SLQ__ENVELOPE__MSG_STATUS:
            sync_on_status(e, peer, env->status);
            break;
        case SLQ__ENVELOPE__MSG_BLOCK_REQUEST:
            sync_on_block_request(e, peer, env->block_request);
            break;
        case SLQ__ENVELOPE__MSG_BLOCK_RESPONSE:
            on_block_response(e, peer, env->block_response);
            break;
        case SLQ__ENVELOPE__MSG_REFUSALS:
            propose_on_refusals(e, peer, env->refusals);
            break;
        default:
            break; /* evidence is kept by each node from the votes it sees */
    }
}

static void peer_cb(void *arg, uint32_t peer, bool up, const uint8_t *pubkey, size_t len) {
    engine *e = arg;
    (void) pubkey, (void) len;
    if (up) {
        sync_send_status(e, peer);
        return;
    }
    sync_peer_down(e, peer);
}

/* Every TICK_MS: our height to peers, our own latest messages again, sync if behind. */
static void tick_cb(uv_timer_t *t) {
    engine *e = t->data;
    if (e->stopping) return;
    sync_send_status(e, UINT32_MAX);
    for (size_t i = 0; i < PROPOSALS_MAX; i++)
        if (e->props[i].used && e->props[i].sig_len > 0 && e->self >= 0 &&
            e->props[i].proposer == (uint32_t) e->self)
            propose_broadcast(e, &e->props[i], UINT32_MAX);
    for (size_t i = 0; i < e->votes_count; i++) /* ours, of every round of this height */
        if (e->self >= 0 && e->votes[i].validator == (uint32_t) e->self)
            broadcast_vote(e, &e->votes[i], UINT32_MAX);
    sync_maybe(e);
}

/* Transactions in the mempool had their signatures verified when they were admitted. */
static bool verified_cb(void *arg, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    return mempool_has(((engine *) arg)->cfg.mp, hash);
}

static uint64_t height_cb(void *arg) {
    return chain_tip(((engine *) arg)->cfg.chain)->height;
}

/* ------------------------------------------------------------------ restart */

/* Reads the height record that starts the log. */
static bool first_height_cb(void *arg, wal_kind kind, const uint8_t *p, size_t len) {
    if (kind == WAL_HEIGHT) (void) wal_height_decode(p, len, arg); /* else it stays 0 */
    return false;                                                  /* only the first record */
}

/* Holds a logged block again; NULL if it does not decode. */
static proposal_slot *replay_block(engine *e, const uint8_t *p, size_t len) {
    uint8_t hash[CRYPTO_HASH_BYTES];
    ProtobufCBinaryData bd = {len, (uint8_t *) p};
    uint8_t *block = block_hash_of(e, &bd, hash) ? malloc(len == 0 ? 1 : len) : NULL;
    if (block == NULL) return NULL;
    memcpy(block, p, len);
    return propose_store(e, hash, block, len);
}

static void replay_value(engine *e, const wal_value *v, tm_actions *acts) {
    proposal_slot *s = replay_block(e, v->block, v->block_len);
    if (s == NULL) return;
    s->round = v->round;
    s->proposer = (uint32_t) e->self;
    s->valid = true;
    tm_on_value(e->m, v->height, s->round, (const tm_block_id *) s->hash, acts);
}

static void replay_proposal(engine *e, const wal_proposal *pr, tm_actions *acts) {
    proposal_slot *s = replay_block(e, pr->block, pr->block_len);
    if (s == NULL) return;
    s->round = pr->round;
    s->pol_round = pr->pol_round;
    s->proposer = pr->proposer;
    s->valid = pr->valid;
    s->sig_len = pr->sig_len;
    memcpy(s->sig, pr->sig, s->sig_len);
    tm_proposal tp = {.height = pr->height,
                      .round = s->round,
                      .pol_round = s->pol_round,
                      .proposer = s->proposer};
    memcpy(tp.block.hash, s->hash, CRYPTO_HASH_BYTES);
    tm_on_proposal(e->m, &tp, s->valid, acts);
}

/* Feeds one logged input back into the machine; records of another height are skipped. */
static bool replay_cb(void *arg, wal_kind kind, const uint8_t *p, size_t len) {
    engine *e = arg;
    tm_actions acts = {.n = 0};
    uint64_t h = tm_height(e->m);
    if (!e->replaying || e->stopping) return false; /* decided meanwhile: the log is done */
    if (kind == WAL_VOTE) {
        tm_vote v;
        if (wal_vote_decode(p, len, &v) && v.validator < e->nvals) feed_vote(e, &v);
        return true;
    }
    wal_timeout t;
    wal_value val;
    wal_proposal pr;
    if (kind == WAL_TIMEOUT && wal_timeout_decode(p, len, &t))
        tm_on_timeout(e->m, t.step, t.height, t.round, &acts);
    else if (kind == WAL_VALUE && wal_value_decode(p, len, &val) && val.height == h)
        replay_value(e, &val, &acts);
    else if (kind == WAL_PROPOSAL && wal_proposal_decode(p, len, &pr) && pr.height == h)
        replay_proposal(e, &pr, &acts);
    run(e, &acts);
    return true;
}

/* Restarts consensus at tip+1: from the write-ahead log of that height if there is one (so
 * that the lock and valid value survive a crash), else afresh. */
static void resume(engine *e) {
    uint64_t next = chain_tip(e->cfg.chain)->height + 1;
    uint64_t logged = 0;
    slq_err err = wal_replay(e->log, first_height_cb, &logged);
    if (err != SLQ_OK) {
        engine_fatal(e, "write-ahead log", err);
        return;
    }
    if (logged != next) {
        new_height(e);
        return;
    }
    propose_clear(e);
    e->last_block_mono_ms = uv_now(e->cfg.loop);
    e->replaying = true;
    tm_actions acts = {.n = 0};
    start_machine(e, next, &acts);
    run(e, &acts);
    err = wal_replay(e->log, replay_cb, e);
    if (err != SLQ_OK) {
        engine_fatal(e, "write-ahead log replay", err);
        return;
    }
    if (e->replaying)
        log_info("engine: resume: height=%llu round=%u from the write-ahead log",
                 (unsigned long long) next, tm_round(e->m));
    e->replaying = false;
    sync_send_status(e, UINT32_MAX);
}

/* ------------------------------------------------------------------ life cycle */

/* Fills the validators' addresses and powers; finds our own index. */
static void load_validators(engine *e, uint64_t *powers) {
    const Slq__Genesis *g = ledger_genesis(chain_ledger(e->cfg.chain));
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len = 0;
    SLQ_ASSERT(crypto_key_public(e->cfg.key, pub, sizeof pub, &pub_len) == SLQ_OK);
    SLQ_ASSERT(g->n_validators <= SLQ_VALIDATORS_MAX); /* the genesis was checked */
    e->nvals = g->n_validators;
    e->self = -1;
    for (size_t i = 0; i < g->n_validators; i++) {
        const Slq__Validator *v = g->validators[i];
        SLQ_ASSERT(crypto_address(engine_suite(e), e->addrs[i], v->pubkey.data, v->pubkey.len) ==
                   SLQ_OK);
        powers[i] = v->power;
        if (v->pubkey.len == pub_len && memcmp(v->pubkey.data, pub, pub_len) == 0)
            e->self = (int) i;
    }
}

static slq_err start_net(engine *e, const engine_config *cfg) {
    const Slq__Genesis *g = ledger_genesis(chain_ledger(cfg->chain));
    const uint8_t *allowed[SLQ_VALIDATORS_MAX + SLQ_PEERS_MAX];
    SLQ_ASSERT(g->n_validators <= SLQ_VALIDATORS_MAX);
    SLQ_ASSERT(cfg->observers_count <= SLQ_PEERS_MAX); /* the config was checked */
    size_t k = 0;
    for (size_t i = 0; i < g->n_validators; i++) allowed[k++] = g->validators[i]->pubkey.data;
    for (size_t i = 0; i < cfg->observers_count; i++) allowed[k++] = cfg->observers[i];
    p2p_config pc = {.suite = engine_suite(e),
                     .chain_id = engine_chain_id(e),
                     .genesis_hash = ledger_genesis_hash(chain_ledger(cfg->chain)),
                     .key = cfg->key,
                     .allowed = allowed,
                     .allowed_count = k,
                     .listen_host = cfg->p2p_host,
                     .listen_port = cfg->p2p_port,
                     .peers = cfg->peers,
                     .peers_count = cfg->peers_count,
                     .height_fn = height_cb};
    return p2p_start(&e->net, cfg->loop, &pc, peer_cb, msg_cb, e);
}

static slq_err start_timers(engine *e) {
    int r = 0;
    for (size_t i = 0; i < TIMERS_MAX && r == 0; i++) {
        r = uv_timer_init(e->cfg.loop, &e->timers[i].t);
        e->timers[i].t.data = &e->timers[i];
        e->timers[i].e = e;
    }
    if (r == 0) r = uv_timer_init(e->cfg.loop, &e->build);
    if (r == 0) r = uv_timer_init(e->cfg.loop, &e->tick);
    e->build.data = e->tick.data = e;
    if (r == 0) r = uv_timer_start(&e->tick, tick_cb, TICK_MS, TICK_MS);
    if (r != 0) log_error("engine: start: timers: %s", uv_strerror(r));
    return r == 0 ? SLQ_OK : SLQ_NET;
}

/* Opens the write-ahead log and, for a validator, its signer record (refusing a missing one
 * of a validator that signed before, amnesia.c). */
static slq_err open_files(engine *e, const engine_config *cfg, char *why, size_t why_cap) {
    char path[PATH_BYTES];
    snprintf(path, sizeof path, "%s/consensus.wal", cfg->home);
    slq_err err = wal_open(&e->log, path);
    if (err != SLQ_OK) {
        SLQ_WHY("write-ahead log %s: %s", path, slq_err_str(err));
        return err;
    }
    if (e->self < 0) return SLQ_OK; /* an observer signs nothing */
    snprintf(path, sizeof path, "%s/signer.state", cfg->home);
    err = signer_open(&e->sg, path, cfg->key, why, why_cap);
    if (err == SLQ_STORAGE_CORRUPT && why != NULL) {
        size_t n = strlen(why);
        snprintf(why + n, why_cap - n,
                 "; it records what this validator signed: restore it, "
                 "or move it away and see --reset-signer (docs/node.md)");
    }
    if (err != SLQ_OK) return err;
    return amnesia_check(e, path, cfg->reset_signer, why, why_cap);
}

slq_err engine_start(engine **out, const engine_config *cfg, char *why, size_t why_cap) {
    SLQ_ASSERT(cfg->fatal != NULL);
    engine *e = *out = calloc(1, sizeof *e);
    if (e == NULL) return SLQ_NO_MEMORY;
    e->cfg = *cfg;
    e->cfg.home = e->cfg.p2p_host = NULL; /* read during this call only */
    e->cfg.peers = NULL;
    e->cfg.observers = NULL;
    uint64_t powers[SLQ_VALIDATORS_MAX];
    load_validators(e, powers);
    e->m = calloc(1, tm_size());
    if (e->m == NULL) return SLQ_NO_MEMORY;
    uint32_t empty = cfg->empty_block_interval_ms;
    tm_timeouts to = {.propose_ms = empty + PROPOSE_MS_AFTER_EMPTY_INTERVAL,
                      .propose_delta_ms = PROPOSE_DELTA_MS,
                      .prevote_ms = PREVOTE_MS,
                      .prevote_delta_ms = PREVOTE_DELTA_MS,
                      .precommit_ms = PRECOMMIT_MS,
                      .precommit_delta_ms = PRECOMMIT_DELTA_MS};
    tm_init(e->m, powers, e->nvals, e->self, &to);
    slq_err err = open_files(e, cfg, why, why_cap);
    if (err != SLQ_OK) return err;
    chain_set_verified(cfg->chain, verified_cb, e);
    err = start_timers(e);
    if (err != SLQ_OK) SLQ_WHY("replica: timers: %s", slq_err_str(err));
    if (err == SLQ_OK) {
        err = start_net(e, cfg);
        if (err != SLQ_OK)
            SLQ_WHY("cannot serve peers on %s:%u: %s", cfg->p2p_host, cfg->p2p_port,
                    slq_err_str(err));
    }
    if (err != SLQ_OK) return err;
    log_info("engine: start: validators=%zu self=%d p2p=%s:%u", e->nvals, e->self, cfg->p2p_host,
             p2p_port(e->net));
    resume(e);
    return SLQ_OK;
}

void engine_stop(engine *e) {
    if (e == NULL || e->stopping) return;
    e->stopping = true;
    for (size_t i = 0; i < TIMERS_MAX; i++) uv_close((uv_handle_t *) &e->timers[i].t, NULL);
    uv_close((uv_handle_t *) &e->build, NULL);
    uv_close((uv_handle_t *) &e->tick, NULL);
    p2p_close(e->net, NULL, NULL);
    e->net = NULL;
}

void engine_free(engine *e) {
    if (e == NULL) return;
    for (size_t i = 0; i < PROPOSALS_MAX; i++) free(e->props[i].block);
    for (size_t i = 0; i < e->evidence_count; i++) {
        free(e->evidence[i]->a->validator.data); /* one buffer for both votes' bytes */
        free(e->evidence[i]->a);                 /* both votes */
        free(e->evidence[i]);
    }
    free(e->m);
    signer_close(e->sg);
    wal_close(e->log);
    free(e);
}

size_t engine_peers(const engine *e) {
    return e != NULL && e->net != NULL ? p2p_peers_count(e->net) : 0;
}
size_t engine_evidence_count(const engine *e) {
    return e != NULL ? e->evidence_count : 0;
}
const Slq__Evidence *engine_evidence(const engine *e, size_t i) {
    SLQ_ASSERT(i < e->evidence_count);
    return e->evidence[i];
}
uint64_t engine_blocks_committed(const engine *e) {
    return e != NULL ? e->blocks_committed : 0;
}
uint64_t engine_txs_committed(const engine *e) {
    return e != NULL ? e->txs_committed : 0;
}
