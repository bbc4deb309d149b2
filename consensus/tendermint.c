/* tendermint.c: the Tendermint state machine of tendermint.h (Algorithm 1 of
 * arXiv:1807.04938; rule numbers as in CONSENSUS.md §3).
 *
 * Every event first stores what it brings (a vote, a proposal, a checked block) or moves the
 * step (a timeout), then process() re-checks every rule guard until none fires, because one
 * rule's state change can enable another (CONSENSUS.md §3: "re-check every guard after any
 * state change"). The "for the first time" rules keep a flag in their round's log.
 *
 * Memory: a fixed array of round logs (slots). A slot holds the first vote of each validator
 * per type, a second, conflicting vote (kept as evidence and tallied too, so a conflicting
 * vote never hides the vote that completes a quorum), the first proposal, and the flags.
 * Kept rounds: round - TM_ROUNDS_BACK .. round + TM_ROUNDS_AHEAD, plus the locked round, the
 * valid round and the POL round of the current proposal, so TM_ROUNDS_KEPT + 3 slots always
 * suffice. No allocation, no I/O, no clock; single-threaded. */
#include "tendermint.h"

#include <string.h>

#include "slq/assert.h"

#define TM_ROUNDS_BACK (TM_ROUNDS_KEPT - TM_ROUNDS_AHEAD - 1u)
#define TM_SLOTS       (TM_ROUNDS_KEPT + 3u)
#define TM_KNOWN_MAX   4u
/* Rounds stay below this so that round + 1 and (int32_t) round never overflow. */
#define TM_ROUND_MAX   ((uint32_t) INT32_MAX - 1u)

_Static_assert(TM_VALIDATORS_MAX <= 64u, "validator sets are 64-bit masks");
_Static_assert(TM_ROUNDS_KEPT > TM_ROUNDS_AHEAD, "the current round is kept");

enum { PV = 0, PC = 1 }; /* index of a vote type in the logs: type - 1 */

typedef struct {
    bool present;
    bool valid;
    int32_t pol_round;
    tm_block_id block;
} tm_prop;

typedef struct {
    bool used;
    uint32_t round;
    tm_prop prop;
    uint64_t has[2];            /* [PV|PC]: validators with a first vote */
    uint64_t has2[2];           /* validators with a second, conflicting vote */
    bool prevote_timeout_set;   /* rule 3 fired */
    bool rule4_done;            /* rule 4 fired */
    bool precommit_timeout_set; /* rule 6 fired */
    bool pol_asked;             /* TM_ACT_NEED_POL sent for this round's proposal */
    bool fetch_asked;           /* TM_ACT_NEED_BLOCK sent for fetch_block */
    tm_block_id fetch_block;
    tm_vote first[2][TM_VALIDATORS_MAX];
    tm_vote second[2][TM_VALIDATORS_MAX];
} tm_slot;

struct tm {
    size_t n;
    int self;
    uint64_t powers[TM_VALIDATORS_MAX];
    uint64_t total;
    tm_timeouts timeouts;
    bool started;
    uint64_t h;
    uint32_t round;
    tm_step step;
    bool awaiting_value; /* TM_ACT_NEED_VALUE sent for (h, round) */
    int32_t locked_round;
    int32_t valid_round;
    tm_block_id locked_value;
    tm_block_id valid_value;
    bool decided;
    uint32_t decision_round;
    tm_block_id decision;
    uint64_t heard;                        /* validators heard from at this height */
    uint32_t max_round[TM_VALIDATORS_MAX]; /* the highest round each was heard at */
    tm_block_id known[TM_KNOWN_MAX];       /* blocks the driver checked (tm_on_block) */
    size_t known_count;
    size_t known_next;
    tm_slot slots[TM_SLOTS];
};

static const tm_block_id nil_block;

static bool is_nil(const tm_block_id *b) {
    return memcmp(b->hash, nil_block.hash, sizeof b->hash) == 0;
}

static bool same(const tm_block_id *a, const tm_block_id *b) {
    return memcmp(a->hash, b->hash, sizeof a->hash) == 0;
}

/* "2f+1": more than 2/3 of the total power. */
static bool quorum(const tm *m, uint64_t power) {
    return 3 * power > 2 * m->total;
}

/* "f+1": more than 1/3 of the total power, so at least one correct validator. */
static bool over_third(const tm *m, uint64_t power) {
    return 3 * power > m->total;
}

static uint64_t power_of(const tm *m, uint64_t mask) {
    uint64_t p = 0;
    for (size_t i = 0; i < m->n; i++)
        if ((mask >> i) & 1u) p += m->powers[i];
    return p;
}

static uint32_t timeout_ms(uint32_t init_ms, uint32_t delta_ms, uint32_t round) {
    uint64_t ms = (uint64_t) init_ms + (uint64_t) delta_ms * round;
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
}

/* Appends a zeroed action of `kind` for (h, round). */
static tm_action *push(tm_actions *out, tm_action_kind kind, uint64_t h, uint32_t round) {
    SLQ_ASSERT(out->n < TM_ACTIONS_MAX);
    tm_action *a = &out->a[out->n++];
    memset(a, 0, sizeof *a);
    a->kind = kind;
    a->height = h;
    a->round = round;
    a->pol_round = -1;
    return a;
}

static void vote(const tm *m, tm_vote_type type, const tm_block_id *block, tm_actions *out) {
    if (m->self < 0) return; /* a follower never votes */
    tm_action *a = push(out, TM_ACT_VOTE, m->h, m->round);
    a->vote_type = type;
    a->block = block != NULL ? *block : nil_block;
}

static void schedule(const tm *m, tm_step step, tm_actions *out) {
    const tm_timeouts *t = &m->timeouts;
    tm_action *a = push(out, TM_ACT_TIMEOUT, m->h, m->round);
    a->step = step;
    if (step == TM_STEP_PROPOSE)
        a->ms = timeout_ms(t->propose_ms, t->propose_delta_ms, m->round);
    else if (step == TM_STEP_PREVOTE)
        a->ms = timeout_ms(t->prevote_ms, t->prevote_delta_ms, m->round);
    else
        a->ms = timeout_ms(t->precommit_ms, t->precommit_delta_ms, m->round);
}

/* ---- round logs ---- */

static const tm_slot *slot_find(const tm *m, uint32_t round) {
    for (size_t i = 0; i < TM_SLOTS; i++)
        if (m->slots[i].used && m->slots[i].round == round) return &m->slots[i];
    return NULL;
}

static bool round_is(int32_t pinned, uint32_t round) {
    return pinned >= 0 && (uint32_t) pinned == round;
}

/* Whether the log of `round` is kept: inside the window around the current round, or one of
 * the rounds the rules may still need (lock, valid value, POL of the current proposal). */
static bool round_kept(const tm *m, uint32_t round) {
    if (round <= m->round ? m->round - round <= TM_ROUNDS_BACK
                          : round - m->round <= TM_ROUNDS_AHEAD)
        return true;
    if (round_is(m->locked_round, round) || round_is(m->valid_round, round)) return true;
    if (m->decided && m->decision_round == round) return true;
    const tm_slot *cur = slot_find(m, m->round);
    return cur != NULL && cur->prop.present && round_is(cur->prop.pol_round, round);
}

/* The log of `round`, created if the round is kept; NULL if it is not. */
static tm_slot *slot_get(tm *m, uint32_t round) {
    tm_slot *s = (tm_slot *) slot_find(m, round);
    if (s != NULL || !round_kept(m, round)) return s;
    for (size_t i = 0; i < TM_SLOTS; i++) {
        s = &m->slots[i];
        if (s->used && round_kept(m, s->round)) continue;
        s->used = true;
        s->round = round;
        s->prop.present = false;
        s->has[PV] = s->has[PC] = s->has2[PV] = s->has2[PC] = 0;
        s->prevote_timeout_set = s->rule4_done = s->precommit_timeout_set = false;
        s->pol_asked = s->fetch_asked = false;
        return s;
    }
    SLQ_ASSERT(false && "more kept rounds than slots");
    return NULL;
}

/* Validators whose vote of type t (PV or PC) in s is for `block` (first or second vote). */
static uint64_t voters_for(const tm *m, const tm_slot *s, int t, const tm_block_id *block) {
    uint64_t mask = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t bit = (uint64_t) 1 << i;
        if ((s->has[t] & bit) && same(&s->first[t][i].block, block))
            mask |= bit;
        else if ((s->has2[t] & bit) && same(&s->second[t][i].block, block))
            mask |= bit;
    }
    return mask;
}

static bool known_valid(const tm *m, const tm_block_id *block) {
    for (size_t i = 0; i < TM_SLOTS; i++) {
        const tm_slot *s = &m->slots[i];
        if (s->used && s->prop.present && s->prop.valid && same(&s->prop.block, block)) return true;
    }
    for (size_t i = 0; i < m->known_count; i++)
        if (same(&m->known[i], block)) return true;
    return false;
}

/* Stores a vote: the first per (validator, type) counts; a second for another block is kept
 * and reported as evidence; duplicates and a third block are ignored. */
static void store_vote(tm_slot *s, const tm_vote *v, tm_actions *out) {
    int t = v->type == TM_PREVOTE ? PV : PC;
    uint64_t bit = (uint64_t) 1 << v->validator;
    if (!(s->has[t] & bit)) {
        s->first[t][v->validator] = *v;
        s->has[t] |= bit;
        return;
    }
    const tm_vote *first = &s->first[t][v->validator];
    if (same(&first->block, &v->block) || (s->has2[t] & bit)) return;
    s->second[t][v->validator] = *v;
    s->has2[t] |= bit;
    tm_action *a = push(out, TM_ACT_EVIDENCE, v->height, v->round);
    a->vote_type = v->type;
    a->block = v->block;
    a->evidence[0] = *first;
    a->evidence[1] = *v;
}

/* ---- rules ---- */

/* Rule 0 [L11-21]. The logs of rounds no longer kept are forgotten. */
static void start_round(tm *m, uint32_t round, tm_actions *out) {
    SLQ_ASSERT(round <= TM_ROUND_MAX);
    m->round = round;
    m->step = TM_STEP_PROPOSE;
    m->awaiting_value = false;
    for (size_t i = 0; i < TM_SLOTS; i++)
        if (m->slots[i].used && !round_kept(m, m->slots[i].round)) m->slots[i].used = false;
    if (m->self >= 0 && tm_proposer(m, m->h, round) == (uint32_t) m->self) {
        if (m->valid_round >= 0) {
            tm_action *a = push(out, TM_ACT_PROPOSE, m->h, round);
            a->block = m->valid_value;
            a->pol_round = m->valid_round;
        } else {
            m->awaiting_value = true;
            push(out, TM_ACT_NEED_VALUE, m->h, round);
        }
    }
    schedule(m, TM_STEP_PROPOSE, out);
}

/* Rules 1 and 2 [L22-33]: prevote on the current round's proposal. While rule 2 waits for
 * its POL, the driver is asked once to feed the POL round's prevotes again: they may have
 * been dropped while that round was outside the kept window (now the proposal pins it). */
static bool rule_prevote_proposal(tm *m, tm_slot *cur, tm_actions *out) {
    if (m->step != TM_STEP_PROPOSE || !cur->prop.present) return false;
    const tm_prop *p = &cur->prop;
    bool ok;
    if (p->pol_round < 0) {
        ok = p->valid && (m->locked_round == -1 || same(&m->locked_value, &p->block));
    } else {
        const tm_slot *pol = slot_get(m, (uint32_t) p->pol_round);
        SLQ_ASSERT(pol != NULL); /* the current proposal pins its POL round */
        if (!quorum(m, power_of(m, voters_for(m, pol, PV, &p->block)))) {
            if (!cur->pol_asked) {
                cur->pol_asked = true;
                push(out, TM_ACT_NEED_POL, m->h, (uint32_t) p->pol_round)->block = p->block;
            }
            return false; /* wait for the POL; the propose timeout prevotes nil */
        }
        ok = p->valid && (m->locked_round <= p->pol_round || same(&m->locked_value, &p->block));
    }
    vote(m, TM_PREVOTE, ok ? &p->block : NULL, out);
    m->step = TM_STEP_PREVOTE;
    return true;
}

/* Rule 3 [L34-35]. */
static bool rule_prevote_timeout(tm *m, tm_slot *cur, tm_actions *out) {
    if (m->step != TM_STEP_PREVOTE || cur->prevote_timeout_set) return false;
    if (!quorum(m, power_of(m, cur->has[PV]))) return false;
    cur->prevote_timeout_set = true;
    schedule(m, TM_STEP_PREVOTE, out);
    return true;
}

/* Rule 4 [L36-43]: the only place the lock changes. */
static bool rule_lock(tm *m, tm_slot *cur, tm_actions *out) {
    if (m->step == TM_STEP_PROPOSE || cur->rule4_done) return false;
    if (!cur->prop.present || !cur->prop.valid) return false;
    if (!quorum(m, power_of(m, voters_for(m, cur, PV, &cur->prop.block)))) return false;
    cur->rule4_done = true;
    if (m->step == TM_STEP_PREVOTE) {
        m->locked_value = cur->prop.block;
        m->locked_round = (int32_t) m->round;
        vote(m, TM_PRECOMMIT, &cur->prop.block, out);
        m->step = TM_STEP_PRECOMMIT;
    }
    m->valid_value = cur->prop.block;
    m->valid_round = (int32_t) m->round;
    return true;
}

/* Rule 5 [L44-46]. No unlock here: the paper, not CometBFT's prose. */
static bool rule_nil_polka(tm *m, const tm_slot *cur, tm_actions *out) {
    if (m->step != TM_STEP_PREVOTE) return false;
    if (!quorum(m, power_of(m, voters_for(m, cur, PV, &nil_block)))) return false;
    vote(m, TM_PRECOMMIT, NULL, out);
    m->step = TM_STEP_PRECOMMIT;
    return true;
}

/* Rule 6 [L47-48]. */
static bool rule_precommit_timeout(tm *m, tm_slot *cur, tm_actions *out) {
    if (cur->precommit_timeout_set || !quorum(m, power_of(m, cur->has[PC]))) return false;
    cur->precommit_timeout_set = true;
    schedule(m, TM_STEP_PRECOMMIT, out);
    return true;
}

/* The non-nil block with 2f+1 precommits in s, if any. */
static bool precommit_quorum(const tm *m, const tm_slot *s, tm_block_id *out) {
    if (!quorum(m, power_of(m, s->has[PC]))) return false;
    for (size_t i = 0; i < m->n; i++) {
        for (int k = 0; k < 2; k++) {
            uint64_t have = k == 0 ? s->has[PC] : s->has2[PC];
            const tm_block_id *b = k == 0 ? &s->first[PC][i].block : &s->second[PC][i].block;
            if (!((have >> i) & 1u) || is_nil(b)) continue;
            if (quorum(m, power_of(m, voters_for(m, s, PC, b)))) {
                *out = *b;
                return true;
            }
        }
    }
    return false;
}

/* Rule 7 [L49-54], for any kept round; asks for the block when it is not known valid. */
static bool rule_decide(tm *m, tm_actions *out) {
    for (size_t i = 0; i < TM_SLOTS; i++) {
        tm_slot *s = &m->slots[i];
        tm_block_id b;
        if (!s->used || !precommit_quorum(m, s, &b)) continue;
        if (known_valid(m, &b)) {
            m->decided = true;
            m->decision = b;
            m->decision_round = s->round;
            push(out, TM_ACT_COMMIT, m->h, s->round)->block = b;
            return true;
        }
        if (!s->fetch_asked || !same(&s->fetch_block, &b)) {
            s->fetch_asked = true;
            s->fetch_block = b;
            push(out, TM_ACT_NEED_BLOCK, m->h, s->round)->block = b;
        }
    }
    return false;
}

/* The highest round r > round such that the validators heard at r or beyond have more than
 * 1/3 of the power; round itself if there is none. */
static uint32_t skip_target(const tm *m) {
    uint32_t best = m->round;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t r = m->max_round[i];
        if (!((m->heard >> i) & 1u) || r <= best) continue;
        uint64_t p = 0;
        for (size_t j = 0; j < m->n; j++)
            if (((m->heard >> j) & 1u) && m->max_round[j] >= r) p += m->powers[j];
        if (over_third(m, p)) best = r;
    }
    return best;
}

/* Rule 8 [L55-56]. */
static bool rule_skip(tm *m, tm_actions *out) {
    uint32_t target = skip_target(m);
    if (target <= m->round) return false;
    start_round(m, target, out);
    return true;
}

/* Runs the rules until none fires (each firing changes the state monotonically). */
static void process(tm *m, tm_actions *out) {
    bool changed = true;
    while (changed && !m->decided) {
        if (rule_decide(m, out)) return;
        tm_slot *cur = slot_get(m, m->round);
        SLQ_ASSERT(cur != NULL);
        changed = rule_prevote_proposal(m, cur, out) || rule_lock(m, cur, out) ||
                  rule_nil_polka(m, cur, out) || rule_prevote_timeout(m, cur, out) ||
                  rule_precommit_timeout(m, cur, out) || rule_skip(m, out);
    }
}

static void note_heard(tm *m, uint32_t validator, uint32_t round) {
    uint64_t bit = (uint64_t) 1 << validator;
    if (!(m->heard & bit) || round > m->max_round[validator]) m->max_round[validator] = round;
    m->heard |= bit;
}

/* ---- events ---- */

size_t tm_size(void) {
    return sizeof(tm);
}

void tm_init(tm *m, const uint64_t *powers, size_t n, int self, const tm_timeouts *t) {
    SLQ_ASSERT(m != NULL);
    SLQ_ASSERT(powers != NULL && t != NULL);
    SLQ_ASSERT(n >= 1 && n <= TM_VALIDATORS_MAX);
    SLQ_ASSERT(self >= -1 && self < (int) n);
    memset(m, 0, sizeof *m);
    m->n = n;
    m->self = self;
    m->timeouts = *t;
    for (size_t i = 0; i < n; i++) {
        SLQ_ASSERT(powers[i] > 0);
        SLQ_ASSERT(powers[i] <= UINT64_MAX / 3 - m->total); /* 3 * total never overflows */
        m->powers[i] = powers[i];
        m->total += powers[i];
    }
}

void tm_start_height(tm *m, uint64_t h, tm_actions *out) {
    SLQ_ASSERT(m != NULL && out != NULL);
    m->started = true;
    m->h = h;
    m->locked_round = m->valid_round = -1;
    m->locked_value = m->valid_value = nil_block;
    m->decided = false;
    m->heard = 0;
    m->known_count = m->known_next = 0;
    for (size_t i = 0; i < TM_SLOTS; i++) m->slots[i].used = false;
    start_round(m, 0, out);
    process(m, out);
}

void tm_on_value(tm *m, uint64_t h, uint32_t round, const tm_block_id *block, tm_actions *out) {
    SLQ_ASSERT(m != NULL && block != NULL && out != NULL);
    if (!m->started || m->decided || !m->awaiting_value || h != m->h || round != m->round ||
        m->step != TM_STEP_PROPOSE || is_nil(block))
        return;
    m->awaiting_value = false;
    tm_action *a = push(out, TM_ACT_PROPOSE, h, round);
    a->block = *block;
    a->pol_round = -1;
}

void tm_on_proposal(tm *m, const tm_proposal *p, bool valid, tm_actions *out) {
    SLQ_ASSERT(m != NULL && p != NULL && out != NULL);
    if (!m->started || m->decided || p->height != m->h || p->round > TM_ROUND_MAX) return;
    if (p->proposer >= m->n || p->proposer != tm_proposer(m, p->height, p->round)) return;
    if (p->pol_round < -1 || p->pol_round >= (int64_t) p->round || is_nil(&p->block)) return;
    note_heard(m, p->proposer, p->round);
    (void) rule_skip(m, out); /* first, so a proposal that makes us skip is kept */
    tm_slot *s = slot_get(m, p->round);
    if (s != NULL && !s->prop.present) {
        s->prop.present = true;
        s->prop.valid = valid;
        s->prop.pol_round = p->pol_round;
        s->prop.block = p->block;
    }
    process(m, out);
}

void tm_on_vote(tm *m, const tm_vote *v, tm_actions *out) {
    SLQ_ASSERT(m != NULL && v != NULL && out != NULL);
    if (!m->started || v->height != m->h || v->validator >= m->n || v->round > TM_ROUND_MAX) return;
    if ((v->type != TM_PREVOTE && v->type != TM_PRECOMMIT) || v->sig_len > TM_SIG_BYTES_MAX) return;
    if (!m->decided) {
        note_heard(m, v->validator, v->round);
        (void) rule_skip(m, out); /* first, so a vote that makes us skip is kept */
    }
    /* After the decision, precommits are still kept for a fuller certificate. */
    tm_slot *s = m->decided ? (tm_slot *) slot_find(m, v->round) : slot_get(m, v->round);
    if (s != NULL) store_vote(s, v, out);
    if (!m->decided) process(m, out);
}

void tm_on_timeout(tm *m, tm_step step, uint64_t h, uint32_t round, tm_actions *out) {
    SLQ_ASSERT(m != NULL && out != NULL);
    if (!m->started || m->decided || h != m->h || round != m->round) return;
    if (step == TM_STEP_PROPOSE && m->step == TM_STEP_PROPOSE) {
        vote(m, TM_PREVOTE, NULL, out);
        m->step = TM_STEP_PREVOTE;
    } else if (step == TM_STEP_PREVOTE && m->step == TM_STEP_PREVOTE) {
        vote(m, TM_PRECOMMIT, NULL, out);
        m->step = TM_STEP_PRECOMMIT;
    } else if (step == TM_STEP_PRECOMMIT && round < TM_ROUND_MAX) {
        start_round(m, round + 1, out);
    }
    process(m, out);
}

void tm_on_block(tm *m, uint64_t h, const tm_block_id *block, bool valid, tm_actions *out) {
    SLQ_ASSERT(m != NULL && block != NULL && out != NULL);
    if (!m->started || m->decided || h != m->h || !valid || is_nil(block)) return;
    if (known_valid(m, block)) return;
    m->known[m->known_next] = *block;
    m->known_next = (m->known_next + 1) % TM_KNOWN_MAX;
    if (m->known_count < TM_KNOWN_MAX) m->known_count++;
    process(m, out);
}

size_t tm_commit_votes(const tm *m, uint64_t h, uint32_t round, const tm_block_id *block,
                       tm_vote out[TM_VALIDATORS_MAX]) {
    SLQ_ASSERT(m != NULL && block != NULL && out != NULL);
    memset(out, 0, sizeof(tm_vote) * TM_VALIDATORS_MAX);
    const tm_slot *s = slot_find(m, round);
    if (!m->started || h != m->h || s == NULL || is_nil(block)) return 0;
    size_t count = 0;
    for (size_t i = 0; i < m->n; i++) {
        uint64_t bit = (uint64_t) 1 << i;
        if ((s->has[PC] & bit) && same(&s->first[PC][i].block, block))
            out[i] = s->first[PC][i];
        else if ((s->has2[PC] & bit) && same(&s->second[PC][i].block, block))
            out[i] = s->second[PC][i];
        else
            continue;
        count++;
    }
    return count;
}

uint64_t tm_height(const tm *m) {
    return m->h;
}

uint32_t tm_round(const tm *m) {
    return m->round;
}

tm_step tm_current_step(const tm *m) {
    return m->step;
}

int32_t tm_locked_round(const tm *m) {
    return m->locked_round;
}

int32_t tm_valid_round(const tm *m) {
    return m->valid_round;
}

bool tm_decision(const tm *m, tm_block_id *block, uint32_t *round) {
    if (!m->started || !m->decided) return false;
    *block = m->decision;
    *round = m->decision_round;
    return true;
}

uint32_t tm_proposer(const tm *m, uint64_t h, uint32_t round) {
    SLQ_ASSERT(m->n > 0);
    return (uint32_t) ((h % m->n + round % m->n) % m->n);
}
