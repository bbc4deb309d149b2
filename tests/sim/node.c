/* node.c: one simulated node, driving a tendermint machine the way the real node should.
 *
 * Durable across a crash (what the real node keeps on disk): the committed chain, state and
 * certificates, the signer's guard record, and the write-ahead log (WAL) of the current
 * height: every proposal, vote, timeout, value and checked block fed to the machine, in
 * order, synced before each signature (a crash may lose the entries written since). A
 * restart gets a fresh machine and replays the WAL into it, so it recovers its lock
 * (CONSENSUS.md §7) while the guard refuses to sign anything again but the very last
 * message. Volatile: the blocks held for the current height (rebuilt from the WAL), the
 * buffer of next-height messages, pending timers.
 *
 * Gossip: a valid proposal or vote is relayed to every peer on first sight; every tick a node
 * sends its status (peers that are ahead answer with blocks and certificates: block sync) and,
 * if it made no progress since the last tick, re-sends the recent messages of its WAL. A
 * machine that sees 2f+1 precommits for a block it lacks asks peers for it
 * (TM_ACT_NEED_BLOCK); one whose proposal's POL is incomplete gets the prevotes of that round
 * from the WAL again (TM_ACT_NEED_POL).
 *
 * The Byzantine validator runs the same code without a guard, and sometimes signs two
 * different votes for one step or proposes two blocks (or an invalid one), sending each to a
 * part of its peers, relays only sometimes, and sends votes for rounds ahead. In attack mode
 * it splits every vote for a block, and it prevotes any proposal whatever its lock says. */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const tm_timeouts sim_timeouts = {3000, 500, 1000, 500, 1000, 500};
static const tm_block_id nil_id;

static bool same_id(const tm_block_id *a, const tm_block_id *b) {
    return memcmp(a->hash, b->hash, 32) == 0;
}

static void run_actions(sim *s, sim_node *nd, const tm_actions *acts);

/* ---- blocks held for the current height ---- */

static sim_known *known_find(const sim *s, sim_node *nd, const tm_block_id *id) {
    for (size_t i = 0; i < nd->known_n; i++)
        if (same_id(&s->blocks[nd->known[i].block].id, id)) return &nd->known[i];
    return NULL;
}

/* Holds block bi (checking it once against the chain) and returns the verdict. */
static bool known_add(sim *s, sim_node *nd, uint32_t bi) {
    sim_known *k = known_find(s, nd, &s->blocks[bi].id);
    if (k != NULL) return k->valid;
    if (nd->known_n == nd->known_cap) {
        nd->known_cap = nd->known_cap ? 2 * nd->known_cap : 16;
        nd->known = realloc(nd->known, nd->known_cap * sizeof *nd->known);
        SLQ_ASSERT(nd->known != NULL);
    }
    k = &nd->known[nd->known_n++];
    k->block = bi;
    k->valid = sim_block_check(s, nd, bi);
    return k->valid;
}

/* ---- the write-ahead log ----
 * Synced to "disk" before each signature; a crash may lose what was appended since. */

static void wal_append(sim_node *nd, const sim_wal *e) {
    SLQ_ASSERT(!nd->replaying);
    if (nd->wal_n == nd->wal_cap) {
        nd->wal_cap = nd->wal_cap ? 2 * nd->wal_cap : 64;
        nd->wal = realloc(nd->wal, nd->wal_cap * sizeof *nd->wal);
        SLQ_ASSERT(nd->wal != NULL);
    }
    nd->wal[nd->wal_n++] = *e;
}

/* Same message content (the signature bytes aside: one signer, one content). */
static bool msg_same(const sim_msg *a, const sim_msg *b) {
    if (a->kind != b->kind) return false;
    if (a->kind == MSG_VOTE) {
        const tm_vote *x = &a->u.vote, *y = &b->u.vote;
        return x->validator == y->validator && x->type == y->type && x->round == y->round &&
               x->height == y->height && same_id(&x->block, &y->block);
    }
    const tm_proposal *x = &a->u.prop.p, *y = &b->u.prop.p;
    return x->proposer == y->proposer && x->round == y->round && x->height == y->height &&
           x->pol_round == y->pol_round && same_id(&x->block, &y->block) && a->block == b->block;
}

static bool wal_has(const sim_node *nd, const sim_msg *m) {
    for (size_t i = nd->wal_n; i-- > 0;)
        if (nd->wal[i].kind == WAL_MSG && msg_same(&nd->wal[i].msg, m)) return true;
    return false;
}

/* ---- signing ---- */

/* Checks the omniscient log: a correct validator never signs two things at one step. */
static void signed_log_add(sim *s, sim_node *nd, const guard_request *q) {
    for (size_t i = 0; i < nd->signed_n; i++) {
        const sim_signed *x = &nd->signed_log[i];
        if (x->height == q->height && x->round == q->round && x->step == q->step)
            sim_violation(s, "validator %d signed step %d of (%llu, %u) twice\n", nd->self,
                          (int) q->step, (unsigned long long) q->height, q->round);
    }
    if (nd->signed_n == nd->signed_cap) {
        nd->signed_cap = nd->signed_cap ? 2 * nd->signed_cap : 64;
        nd->signed_log = realloc(nd->signed_log, nd->signed_cap * sizeof *nd->signed_log);
        SLQ_ASSERT(nd->signed_log != NULL);
    }
    nd->signed_log[nd->signed_n++] =
        (sim_signed){q->height, q->round, q->step, q->pol_round, q->block};
}

/* Signs through the guard (the Byzantine validator has none). False: refused. */
static bool node_sign(sim *s, sim_node *nd, const guard_request *q, consensus_msg_type type,
                      uint8_t sig[TM_SIG_BYTES_MAX], size_t *sig_len) {
    uint8_t bytes[CONSENSUS_VOTE_BYTES_MAX];
    size_t n = sim_sign_bytes(bytes, s->w, type, q->height, q->round, q->pol_round, &q->block);
    if (nd->byz) {
        sim_sign(s->w, (uint32_t) nd->self, bytes, n, sig, sig_len);
        return true;
    }
    switch (guard_check(&nd->guard, q)) {
        case GUARD_SIGN:
            sim_sign(s->w, (uint32_t) nd->self, bytes, n, sig, sig_len);
            guard_record_set(&nd->guard, q, sig, *sig_len); /* "fsync" before sending */
            nd->wal_synced = nd->wal_n;                     /* and the WAL with it */
            signed_log_add(s, nd, q);
            return true;
        case GUARD_REUSE:
            memcpy(sig, nd->guard.sig, nd->guard.sig_len);
            *sig_len = nd->guard.sig_len;
            s->st.reused++;
            return true;
        default:
            s->st.refused++;
            return false;
    }
}

static bool make_vote(sim *s, sim_node *nd, tm_vote_type type, uint64_t h, uint32_t round,
                      const tm_block_id *id, sim_msg *m) {
    memset(m, 0, sizeof *m);
    m->kind = MSG_VOTE;
    m->from = nd->idx;
    tm_vote *v = &m->u.vote;
    v->type = type;
    v->height = h;
    v->round = round;
    v->block = *id;
    v->validator = (uint32_t) nd->self;
    tm_step step = type == TM_PREVOTE ? TM_STEP_PREVOTE : TM_STEP_PRECOMMIT;
    guard_request q = {h, round, step, -1, *id};
    consensus_msg_type ct = type == TM_PREVOTE ? CONSENSUS_PREVOTE : CONSENSUS_PRECOMMIT;
    return node_sign(s, nd, &q, ct, v->sig, &v->sig_len);
}

static bool make_proposal(sim *s, sim_node *nd, uint64_t h, uint32_t round, int32_t pol,
                          uint32_t bi, sim_msg *m) {
    memset(m, 0, sizeof *m);
    m->kind = MSG_PROPOSAL;
    m->from = nd->idx;
    m->block = bi;
    tm_proposal *p = &m->u.prop.p;
    *p = (tm_proposal){h, round, pol, s->blocks[bi].id, (uint32_t) nd->self};
    guard_request q = {h, round, TM_STEP_PROPOSE, pol, p->block};
    return node_sign(s, nd, &q, CONSENSUS_PROPOSAL, m->u.prop.sig, &m->u.prop.sig_len);
}

typedef enum { SPLIT_COIN, SPLIT_ONE, SPLIT_ALL_BUT_ONE } split_mode;

/* Sends a to some peers and b to the others (the Byzantine validator's equivocation): by a
 * coin per peer, a to one peer only, or b to one peer only. */
static void split_send(sim *s, const sim_node *nd, const sim_msg *a, const sim_msg *b,
                       split_mode mode) {
    uint32_t pick = (uint32_t) sim_below(&s->rng, s->nodes_n - 1);
    if (pick >= nd->idx) pick++;
    for (uint32_t to = 0; to < s->nodes_n; to++) {
        if (to == nd->idx) continue;
        bool get_a = mode == SPLIT_COIN  ? sim_chance(&s->rng, 50)
                     : mode == SPLIT_ONE ? to == pick
                                         : to != pick;
        sim_send(s, nd->idx, to, get_a ? a : b);
    }
}

/* ---- actions ---- */

/* A valid block proposed at (current height, round), or nil. */
static tm_block_id byz_any_proposal(const sim *s, const sim_node *nd, uint32_t round) {
    for (size_t i = 0; i < nd->wal_n; i++) {
        const sim_wal *e = &nd->wal[i];
        if (e->kind == WAL_MSG && e->msg.kind == MSG_PROPOSAL && e->valid &&
            e->msg.u.prop.p.round == round)
            return s->blocks[e->msg.block].id;
    }
    return nil_id;
}

/* A vote: signed through the guard, fed back, sent. The Byzantine validator sometimes sends
 * a conflicting one to part of its peers; in attack mode, every vote for a block: a prevote
 * that one peer sees as nil (it misses the polka), a precommit that only one peer sees (it
 * alone decides). */
static void act_vote(sim *s, sim_node *nd, const tm_action *a) {
    sim_msg m, other;
    tm_block_id block = a->block;
    bool amnesic = s->byz_attack || s->opts.byz_ignores_locks;
    if (nd->byz && amnesic && a->vote_type == TM_PREVOTE && same_id(&block, &nil_id))
        block = byz_any_proposal(s, nd, a->round); /* locks mean nothing to it */
    sim_log(s, "node %u: %s (%llu, %u) %02x%02x, locked round %d\n", nd->idx,
            a->vote_type == TM_PREVOTE ? "prevote" : "precommit", (unsigned long long) a->height,
            a->round, block.hash[0], block.hash[1], tm_locked_round(nd->m));
    if (!make_vote(s, nd, a->vote_type, a->height, a->round, &block, &m)) return;
    sim_send_self(s, nd, &m); /* fed back; own messages are not relayed again */
    bool attack = nd->byz && s->byz_attack && !same_id(&block, &nil_id);
    if (!attack && (!nd->byz || !sim_chance(&s->rng, s->byz_pct))) {
        sim_broadcast(s, nd->idx, nd->idx, &m);
        return;
    }
    tm_block_id alt = nil_id;
    if (same_id(&block, &nil_id)) {
        for (size_t i = 0; i < nd->known_n; i++) alt = s->blocks[nd->known[i].block].id;
        if (same_id(&alt, &nil_id)) memset(alt.hash, 0xee, 32);
    }
    SLQ_ASSERT(make_vote(s, nd, a->vote_type, a->height, a->round, &alt, &other));
    s->st.equivocations++;
    split_mode mode = sim_chance(&s->rng, 50) ? SPLIT_ONE : SPLIT_COIN;
    if (attack) mode = a->vote_type == TM_PRECOMMIT ? SPLIT_ONE : SPLIT_ALL_BUT_ONE;
    split_send(s, nd, &m, &other, mode);
}

static void act_propose(sim *s, sim_node *nd, const tm_action *a) {
    sim_known *k = known_find(s, nd, &a->block);
    if (k == NULL) {
        sim_violation(s, "node %u must propose a block it does not hold\n", nd->idx);
        return;
    }
    sim_msg m, other;
    sim_log(s, "node %u: propose (%llu, %u) %02x%02x, POL round %d\n", nd->idx,
            (unsigned long long) a->height, a->round, a->block.hash[0], a->block.hash[1],
            a->pol_round);
    if (!make_proposal(s, nd, a->height, a->round, a->pol_round, k->block, &m)) return;
    sim_send_self(s, nd, &m);
    bool attack = nd->byz && s->byz_attack;
    if (!attack && (!nd->byz || !sim_chance(&s->rng, s->byz_pct))) {
        sim_broadcast(s, nd->idx, nd->idx, &m);
        return;
    }
    sim_block b = s->blocks[k->block];
    b.time_ms += 1 + (int64_t) sim_below(&s->rng, 5);
    uint32_t bi = attack || sim_chance(&s->rng, 50) ? sim_block_add(s, &b)
                                                    : sim_block_build(s, nd, a->round, true);
    SLQ_ASSERT(make_proposal(s, nd, a->height, a->round, a->pol_round, bi, &other));
    s->st.equivocations++;
    split_send(s, nd, &m, &other, attack ? SPLIT_ALL_BUT_ONE : SPLIT_COIN);
}

static void act_need_value(sim *s, sim_node *nd, const tm_action *a) {
    if (nd->replaying) return; /* the value is in the WAL */
    bool invalid = nd->byz && sim_chance(&s->rng, s->byz_pct / 2);
    uint32_t bi = sim_block_build(s, nd, a->round, invalid);
    s->st.invalid_proposals += invalid;
    (void) known_add(s, nd, bi);
    sim_wal e = {.kind = WAL_VALUE, .round = a->round, .block = bi};
    wal_append(nd, &e);
    tm_actions out = {0};
    tm_on_value(nd->m, a->height, a->round, &s->blocks[bi].id, &out);
    run_actions(s, nd, &out);
}

static void act_evidence(sim *s, sim_node *nd, const tm_action *a) {
    const tm_vote *x = &a->evidence[0], *y = &a->evidence[1];
    if (x->validator != y->validator || x->type != y->type || x->round != y->round ||
        x->height != y->height || same_id(&x->block, &y->block))
        sim_violation(s, "node %u: malformed evidence\n", nd->idx);
    if (s->byz < 0 || x->validator != (uint32_t) s->byz)
        sim_violation(s, "node %u: evidence against correct validator %u at (%llu, %u)\n", nd->idx,
                      x->validator, (unsigned long long) x->height, x->round);
    s->st.evidence_seen++;
    if (!nd->byz) s->st.evidence_by_correct++;
    sim_log(s, "node %u: evidence against validator %u at (%llu, %u)\n", nd->idx, x->validator,
            (unsigned long long) x->height, x->round);
}

static void feed_block(sim *s, sim_node *nd, uint32_t bi) {
    bool valid = known_add(s, nd, bi);
    if (!nd->replaying) {
        sim_wal e = {.kind = WAL_BLOCK, .valid = valid, .block = bi};
        wal_append(nd, &e);
    }
    tm_actions out = {0};
    tm_on_block(nd->m, s->blocks[bi].height, &s->blocks[bi].id, valid, &out);
    run_actions(s, nd, &out);
}

static void act_need_block(sim *s, sim_node *nd, const tm_action *a) {
    sim_known *k = known_find(s, nd, &a->block);
    if (k != NULL) {
        feed_block(s, nd, k->block);
        return;
    }
    sim_msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_BLOCK_REQ;
    m.height = a->height;
    m.id = a->block;
    s->st.fetches++;
    sim_broadcast(s, nd->idx, nd->idx, &m);
}

/* Feeds the machine again the prevotes of the POL round that the WAL holds (only the entries
 * before the one being fed, so that a replay does exactly what the live run did). */
static void act_need_pol(sim *s, sim_node *nd, const tm_action *a) {
    size_t limit = nd->replaying ? nd->replay_limit : nd->wal_n;
    s->st.pol_refeeds++;
    for (size_t i = 0; i < limit && i < nd->wal_n; i++) {
        const sim_msg *m = &nd->wal[i].msg;
        if (nd->wal[i].kind != WAL_MSG || m->kind != MSG_VOTE || m->u.vote.type != TM_PREVOTE ||
            m->u.vote.round != a->round)
            continue;
        tm_vote v = m->u.vote; /* run_actions may grow (move) the WAL */
        tm_actions out = {0};
        tm_on_vote(nd->m, &v, &out);
        run_actions(s, nd, &out);
        if (tm_height(nd->m) != a->height) return; /* decided meanwhile */
    }
}

/* Commits block bi with its certificate (ownership of cert passes to the node), then starts
 * the next height unless the target is reached, and re-feeds the buffered messages. */
static void node_commit(sim *s, sim_node *nd, uint32_t bi, uint8_t *cert, size_t cert_len) {
    const sim_block *b = &s->blocks[bi];
    SLQ_ASSERT(b->height == nd->tip + 1 && b->height <= SIM_HEIGHTS_MAX);
    nd->replaying = false; /* a decision ends the height and its WAL */
    slq_err err = sim_block_apply(s, nd->st, b);
    if (err != SLQ_OK)
        sim_violation(s, "node %u: committed block %llu does not apply: %s\n", nd->idx,
                      (unsigned long long) b->height, slq_err_name(err));
    for (uint32_t i = 0; i < b->ntx; i++) nd->tx_done[b->tx[i]] = true;
    uint64_t h = b->height;
    nd->tip = h;
    nd->tip_id = b->id;
    nd->tip_time_ms = b->time_ms;
    nd->chain[h] = bi;
    nd->cert[h] = cert;
    nd->cert_len[h] = cert_len;
    nd->wal_n = nd->wal_synced = 0;
    nd->known_n = 0;
    sim_check_commit(s, nd, h);
    if (h >= s->target) {
        nd->halted = true;
        return;
    }
    tm_actions out = {0};
    tm_start_height(nd->m, h + 1, &out);
    run_actions(s, nd, &out);
    for (size_t i = 0; i < nd->next_n; i++) sim_send_self(s, nd, &nd->next[i]);
    nd->next_n = 0;
}

static void act_commit(sim *s, sim_node *nd, const tm_action *a) {
    sim_known *k = known_find(s, nd, &a->block);
    if (k == NULL || !k->valid) {
        sim_violation(s, "node %u decided a block it does not hold as valid\n", nd->idx);
        return;
    }
    tm_vote votes[TM_VALIDATORS_MAX];
    size_t present = tm_commit_votes(nd->m, a->height, a->round, &a->block, votes);
    SLQ_ASSERT(present > 0);
    if (a->round > s->st.max_round) s->st.max_round = a->round;
    consensus_sig sigs[SIM_VALIDATORS_MAX];
    for (size_t i = 0; i < s->n; i++)
        sigs[i] = votes[i].sig_len > 0 ? (consensus_sig){votes[i].sig, votes[i].sig_len}
                                       : (consensus_sig){NULL, 0};
    uint8_t *cert;
    size_t len;
    SLQ_ASSERT(consensus_cert_encode(&cert, &len, s->w->f.suite, ledger_chain_id(s->w->f.l),
                                     a->height, a->round, a->block.hash, s->w->vp, s->n,
                                     sigs) == SLQ_OK);
    node_commit(s, nd, k->block, cert, len);
}

static void run_actions(sim *s, sim_node *nd, const tm_actions *acts) {
    for (size_t i = 0; i < acts->n; i++) {
        const tm_action *a = &acts->a[i];
        switch (a->kind) {
            case TM_ACT_NEED_VALUE:
                act_need_value(s, nd, a);
                break;
            case TM_ACT_PROPOSE:
                act_propose(s, nd, a);
                break;
            case TM_ACT_VOTE:
                act_vote(s, nd, a);
                break;
            case TM_ACT_TIMEOUT: {
                sim_event e = {.at = s->now + a->ms,
                               .kind = EV_TIMEOUT,
                               .node = nd->idx,
                               .inc = nd->incarnation,
                               .step = a->step,
                               .height = a->height,
                               .round = a->round};
                sim_push(s, &e);
                break;
            }
            case TM_ACT_COMMIT:
                SLQ_ASSERT(i + 1 == acts->n); /* nothing follows a decision */
                act_commit(s, nd, a);
                break;
            case TM_ACT_EVIDENCE:
                act_evidence(s, nd, a);
                break;
            case TM_ACT_NEED_BLOCK:
                act_need_block(s, nd, a);
                break;
            case TM_ACT_NEED_POL:
                act_need_pol(s, nd, a);
                break;
        }
    }
}

/* ---- messages ---- */

static void buffer_next(sim_node *nd, const sim_msg *m) {
    if (nd->next_n < SIM_NEXT_MAX) nd->next[nd->next_n++] = *m;
}

/* Checks a proposal or vote of the current height: new, well signed, its block consistent. */
static bool consensus_msg_ok(sim *s, sim_node *nd, const sim_msg *m) {
    if (wal_has(nd, m)) return false;
    uint8_t bytes[CONSENSUS_VOTE_BYTES_MAX];
    if (m->kind == MSG_PROPOSAL) {
        const tm_proposal *p = &m->u.prop.p;
        if (m->block >= s->blocks_n || !same_id(&s->blocks[m->block].id, &p->block)) return false;
        size_t n = sim_sign_bytes(bytes, s->w, CONSENSUS_PROPOSAL, p->height, p->round,
                                  p->pol_round, &p->block);
        return sim_verify_sig(s, p->proposer, bytes, n, m->u.prop.sig, m->u.prop.sig_len);
    }
    const tm_vote *v = &m->u.vote;
    consensus_msg_type t = v->type == TM_PREVOTE ? CONSENSUS_PREVOTE : CONSENSUS_PRECOMMIT;
    size_t n = sim_sign_bytes(bytes, s->w, t, v->height, v->round, -1, &v->block);
    return sim_verify_sig(s, v->validator, bytes, n, v->sig, v->sig_len);
}

static void on_consensus_msg(sim *s, sim_node *nd, const sim_msg *m) {
    uint64_t h = m->kind == MSG_VOTE ? m->u.vote.height : m->u.prop.p.height;
    if (nd->halted) return;
    if (h == nd->tip + 2) buffer_next(nd, m);
    if (h != nd->tip + 1 || !consensus_msg_ok(s, nd, m)) return;
    sim_wal e = {.kind = WAL_MSG, .msg = *m};
    if (m->kind == MSG_PROPOSAL) e.valid = known_add(s, nd, m->block);
    wal_append(nd, &e);
    /* Relay on first sight (the Byzantine validator only sometimes). */
    if (m->from != nd->idx && (!nd->byz || sim_chance(&s->rng, 50)))
        sim_broadcast(s, nd->idx, m->from, m);
    tm_actions out = {0};
    if (m->kind == MSG_PROPOSAL)
        tm_on_proposal(nd->m, &m->u.prop.p, e.valid, &out);
    else
        tm_on_vote(nd->m, &m->u.vote, &out);
    run_actions(s, nd, &out);
}

static void on_status(sim *s, sim_node *nd, const sim_msg *m) {
    for (uint64_t h = m->height; h <= nd->tip && h < m->height + SIM_SYNC_AHEAD; h++) {
        if (h == 0) continue;
        sim_msg r;
        memset(&r, 0, sizeof r);
        r.kind = MSG_SYNC;
        r.block = nd->chain[h];
        r.u.sync.cert = nd->cert[h];
        r.u.sync.len = nd->cert_len[h];
        sim_send(s, nd->idx, m->from, &r);
    }
}

static void on_sync(sim *s, sim_node *nd, const sim_msg *m) {
    const sim_block *b = &s->blocks[m->block];
    if (nd->halted || b->height != nd->tip + 1) return;
    if (!sim_verify_cert(s, b->height, &b->id, m->u.sync.cert, m->u.sync.len)) {
        sim_violation(s, "node %u: a peer's certificate of height %llu does not verify\n", nd->idx,
                      (unsigned long long) b->height);
        return;
    }
    if (!sim_block_check(s, nd, m->block)) {
        sim_violation(s, "node %u: certified block %llu is invalid\n", nd->idx,
                      (unsigned long long) b->height);
        return;
    }
    uint8_t *cert = malloc(m->u.sync.len);
    SLQ_ASSERT(cert != NULL);
    memcpy(cert, m->u.sync.cert, m->u.sync.len);
    s->st.syncs++;
    sim_log(s, "node %u: synced height %llu\n", nd->idx, (unsigned long long) b->height);
    node_commit(s, nd, m->block, cert, m->u.sync.len);
}

static void on_block_req(sim *s, sim_node *nd, const sim_msg *m) {
    sim_msg r;
    memset(&r, 0, sizeof r);
    r.kind = MSG_BLOCK;
    sim_known *k = m->height == nd->tip + 1 ? known_find(s, nd, &m->id) : NULL;
    if (k != NULL)
        r.block = k->block;
    else if (m->height >= 1 && m->height <= nd->tip &&
             same_id(&s->blocks[nd->chain[m->height]].id, &m->id))
        r.block = nd->chain[m->height];
    else
        return;
    sim_send(s, nd->idx, m->from, &r);
}

void sim_node_deliver(sim *s, sim_node *nd, const sim_msg *m) {
    s->st.delivered++;
    switch (m->kind) {
        case MSG_PROPOSAL:
        case MSG_VOTE:
            on_consensus_msg(s, nd, m);
            break;
        case MSG_STATUS:
            on_status(s, nd, m);
            break;
        case MSG_BLOCK_REQ:
            on_block_req(s, nd, m);
            break;
        case MSG_BLOCK:
            if (!nd->halted && s->blocks[m->block].height == nd->tip + 1)
                feed_block(s, nd, m->block);
            break;
        case MSG_SYNC:
            on_sync(s, nd, m);
            break;
    }
}

void sim_node_timeout(sim *s, sim_node *nd, const sim_event *e) {
    if (nd->halted || e->height != tm_height(nd->m) || e->round != tm_round(nd->m)) return;
    sim_wal w = {.kind = WAL_TIMEOUT, .step = e->step, .round = e->round};
    wal_append(nd, &w);
    tm_actions out = {0};
    tm_on_timeout(nd->m, e->step, e->height, e->round, &out);
    run_actions(s, nd, &out);
}

/* ---- ticks, crash and restart ---- */

/* Whether a WAL message is worth re-sending: recent rounds, and the rounds a lock, a valid
 * value or a recent proposal's POL refers to. */
static bool worth_resending(const sim_node *nd, const sim_msg *m, uint32_t round) {
    uint32_t r = m->kind == MSG_VOTE ? m->u.vote.round : m->u.prop.p.round;
    if (r + 2 >= round) return true;
    int32_t pinned[2] = {tm_locked_round(nd->m), tm_valid_round(nd->m)};
    for (size_t i = 0; i < 2; i++)
        if (pinned[i] >= 0 && (uint32_t) pinned[i] == r) return true;
    for (size_t i = 0; i < nd->wal_n; i++) {
        const sim_wal *e = &nd->wal[i];
        if (e->kind == WAL_MSG && e->msg.kind == MSG_PROPOSAL &&
            e->msg.u.prop.p.round + 2 >= round && e->msg.u.prop.p.pol_round >= 0 &&
            (uint32_t) e->msg.u.prop.p.pol_round == r)
            return true;
    }
    return false;
}

static void regossip(sim *s, sim_node *nd) {
    uint32_t round = tm_round(nd->m);
    for (size_t i = 0; i < nd->wal_n; i++) {
        const sim_wal *e = &nd->wal[i];
        if (e->kind == WAL_MSG && worth_resending(nd, &e->msg, round))
            sim_broadcast(s, nd->idx, nd->idx, &e->msg);
    }
}

/* The Byzantine validator signs nil prevotes for rounds ahead: alone it must not move anyone. */
static void byz_spam_rounds_ahead(sim *s, sim_node *nd) {
    sim_msg m;
    uint32_t round = tm_round(nd->m) + 1 + (uint32_t) sim_below(&s->rng, 6);
    SLQ_ASSERT(make_vote(s, nd, TM_PREVOTE, tm_height(nd->m), round, &nil_id, &m));
    sim_broadcast(s, nd->idx, nd->idx, &m);
}

static void schedule_tick(sim *s, sim_node *nd, int64_t in_ms) {
    sim_event e = {.at = s->now + in_ms, .kind = EV_TICK, .node = nd->idx, .inc = nd->incarnation};
    sim_push(s, &e);
}

void sim_node_tick(sim *s, sim_node *nd) {
    schedule_tick(s, nd, SIM_TICK_MS);
    if (nd->halted) return;
    sim_msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_STATUS;
    m.height = nd->tip + 1;
    sim_broadcast(s, nd->idx, nd->idx, &m);
    uint64_t key[3] = {tm_height(nd->m), tm_round(nd->m), (uint64_t) tm_current_step(nd->m)};
    if (memcmp(key, nd->last_tick, sizeof key) == 0) regossip(s, nd);
    memcpy(nd->last_tick, key, sizeof key);
    if (nd->byz && sim_chance(&s->rng, s->byz_pct / 2)) byz_spam_rounds_ahead(s, nd);
}

void sim_node_start(sim *s, sim_node *nd) {
    nd->up = true;
    nd->incarnation = 1;
    tm_init(nd->m, s->powers, s->n, nd->self, &sim_timeouts);
    tm_actions out = {0};
    tm_start_height(nd->m, 1, &out);
    run_actions(s, nd, &out);
    schedule_tick(s, nd, 1 + (int64_t) sim_below(&s->rng, SIM_TICK_MS));
}

/* A crash loses the volatile state and, sometimes, the WAL entries written since the last
 * signature (the WAL is synced before signing, so nothing a signature depended on is lost). */
void sim_node_crash(sim *s, sim_node *nd) {
    nd->up = false;
    if (sim_chance(&s->rng, 50)) nd->wal_n = nd->wal_synced;
    nd->known_n = 0;
    nd->next_n = 0;
    sim_log(s, "node %u: crash at height %llu round %u\n", nd->idx,
            (unsigned long long) tm_height(nd->m), tm_round(nd->m));
}

static void replay_one(sim *s, sim_node *nd, const sim_wal *e, tm_actions *out) {
    uint64_t h = nd->tip + 1;
    switch (e->kind) {
        case WAL_MSG:
            if (e->msg.kind == MSG_VOTE) {
                tm_on_vote(nd->m, &e->msg.u.vote, out);
            } else {
                (void) known_add(s, nd, e->msg.block);
                tm_on_proposal(nd->m, &e->msg.u.prop.p, e->valid, out);
            }
            break;
        case WAL_TIMEOUT:
            tm_on_timeout(nd->m, e->step, h, e->round, out);
            break;
        case WAL_VALUE:
            (void) known_add(s, nd, e->block);
            tm_on_value(nd->m, h, e->round, &s->blocks[e->block].id, out);
            break;
        case WAL_BLOCK:
            (void) known_add(s, nd, e->block);
            tm_on_block(nd->m, h, &s->blocks[e->block].id, e->valid, out);
            break;
    }
}

/* A fresh machine; the WAL of the current height replayed into it. */
void sim_node_restart(sim *s, sim_node *nd) {
    nd->up = true;
    nd->incarnation++;
    s->st.restarts++;
    tm_init(nd->m, s->powers, s->n, nd->self, &sim_timeouts);
    schedule_tick(s, nd, 1 + (int64_t) sim_below(&s->rng, SIM_TICK_MS));
    if (nd->halted) return;
    uint64_t h = nd->tip + 1;
    nd->replaying = true;
    nd->replay_limit = 0;
    tm_actions out = {0};
    tm_start_height(nd->m, h, &out);
    run_actions(s, nd, &out);
    for (size_t i = 0; i < nd->wal_n && nd->tip + 1 == h; i++) {
        out.n = 0;
        nd->replay_limit = i + 1;
        sim_wal e = nd->wal[i];
        replay_one(s, nd, &e, &out);
        run_actions(s, nd, &out);
    }
    nd->replaying = false;
    sim_log(s, "node %u: restart at height %llu, replayed %zu WAL entries to round %u\n", nd->idx,
            (unsigned long long) h, nd->wal_n, tm_round(nd->m));
}
