/* test_tendermint.c: the rules of the Tendermint machine (CONSENSUS.md §3), one behaviour
 * per test, and the signer's guard. The machine is driven by hand: votes and proposals are
 * fed as a driver would after checking signatures (here a one-byte stand-in), and the
 * actions it returns are inspected. Thresholds are tested at their boundaries, with 3 or 6
 * validators or unequal powers (with 4 or 7 equal validators "at least 2/3" and "more than 2/3"
 * give the same answers), and the lock-release rule with an equivocation no random run in the
 * fault model produces. */
#include <stdlib.h>

#include "check.h"
#include "guard.h"
#include "slq/assert.h"
#include "tendermint.h"

static const tm_timeouts timeouts = {3000, 500, 1000, 500, 1000, 500};

static tm *machine_with(const uint64_t *powers, size_t n, int self) {
    tm *m = malloc(tm_size());
    SLQ_ASSERT(m != NULL);
    tm_init(m, powers, n, self, &timeouts);
    return m;
}

static tm *machine(size_t n, int self) {
    static const uint64_t powers[TM_VALIDATORS_MAX] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    return machine_with(powers, n, self);
}

/* Block 0 is nil; block b != 0 is 32 bytes of b. */
static tm_block_id blk(uint8_t b) {
    tm_block_id id;
    memset(id.hash, b, sizeof id.hash);
    return id;
}

static void vote(tm *m, tm_vote_type type, uint64_t h, uint32_t round, uint8_t b,
                 uint32_t validator, tm_actions *out) {
    tm_vote v;
    memset(&v, 0, sizeof v);
    v.type = type;
    v.height = h;
    v.round = round;
    v.block = blk(b);
    v.validator = validator;
    v.sig[0] = (uint8_t) (validator + 1);
    v.sig_len = 1;
    tm_on_vote(m, &v, out);
}

/* Votes of `type` for block b from each validator whose bit is set in who. */
static void votes(tm *m, tm_vote_type type, uint64_t h, uint32_t round, uint8_t b, unsigned who,
                  tm_actions *out) {
    for (uint32_t i = 0; i < 32; i++)
        if ((who >> i) & 1u) vote(m, type, h, round, b, i, out);
}

static void propose(tm *m, uint64_t h, uint32_t round, uint8_t b, int32_t pol, bool valid,
                    tm_actions *out) {
    tm_proposal p = {h, round, pol, blk(b), tm_proposer(m, h, round)};
    tm_on_proposal(m, &p, valid, out);
}

/* The first action of `kind` in out (and for TM_ACT_VOTE of vote type `type`), or NULL. */
static const tm_action *find(const tm_actions *out, tm_action_kind kind, int type) {
    for (size_t i = 0; i < out->n; i++)
        if (out->a[i].kind == kind && (kind != TM_ACT_VOTE || (int) out->a[i].vote_type == type))
            return &out->a[i];
    return NULL;
}

static bool voted(const tm_actions *out, tm_vote_type type, uint8_t b) {
    const tm_action *a = find(out, TM_ACT_VOTE, (int) type);
    tm_block_id want = blk(b);
    return a != NULL && memcmp(a->block.hash, want.hash, 32) == 0;
}

static void clear(tm_actions *out) {
    out->n = 0;
}

/* Brings validator `self` of 4 at height 1 to a lock on block 0xb at round 0 (proposer 1). */
static tm *locked_on_b(int self, tm_actions *out) {
    tm *m = machine(4, self);
    tm_start_height(m, 1, out);
    propose(m, 1, 0, 0xb, -1, true, out);
    votes(m, TM_PREVOTE, 1, 0, 0xb, 0x7, out);
    SLQ_ASSERT(tm_locked_round(m) == 0);
    clear(out);
    return m;
}

static void test_four_validators_decide_in_round_zero_on_the_happy_path(void) {
    tm_actions out = {0};
    tm *m = machine(4, 1); /* validator 1 proposes (h=1, r=0) */
    tm_start_height(m, 1, &out);
    CHECK(find(&out, TM_ACT_NEED_VALUE, 0) != NULL);
    clear(&out);
    tm_block_id b = blk(0xb);
    tm_on_value(m, 1, 0, &b, &out);
    const tm_action *p = find(&out, TM_ACT_PROPOSE, 0);
    CHECK(p != NULL && p->pol_round == -1 && memcmp(p->block.hash, b.hash, 32) == 0);
    clear(&out);
    propose(m, 1, 0, 0xb, -1, true, &out); /* our own proposal, fed back */
    CHECK(voted(&out, TM_PREVOTE, 0xb));
    clear(&out);
    votes(m, TM_PREVOTE, 1, 0, 0xb, 0x7, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0xb));
    clear(&out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, 0x7, &out);
    const tm_action *c = find(&out, TM_ACT_COMMIT, 0);
    CHECK(c != NULL && c->height == 1 && c->round == 0);
    CHECK(c != NULL && memcmp(c->block.hash, b.hash, 32) == 0);
    tm_block_id d;
    uint32_t r = 9;
    CHECK(tm_decision(m, &d, &r) && r == 0 && memcmp(d.hash, b.hash, 32) == 0);
    free(m);
}

static void test_proposer_rotates_as_height_plus_round_mod_n(void) {
    tm *m4 = machine(4, 0), *m7 = machine(7, 0);
    CHECK_EQ_INT(tm_proposer(m4, 1, 0), 1);
    CHECK_EQ_INT(tm_proposer(m4, 1, 3), 0);
    CHECK_EQ_INT(tm_proposer(m4, 6, 1), 3);
    CHECK_EQ_INT(tm_proposer(m7, 6, 1), 0);
    CHECK_EQ_INT(tm_proposer(m7, UINT64_MAX, UINT32_MAX), (UINT64_MAX % 7 + UINT32_MAX % 7) % 7);
    free(m4);
    free(m7);
}

static void test_an_invalid_proposal_gets_a_nil_prevote(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    clear(&out);
    propose(m, 1, 0, 0xb, -1, false, &out);
    CHECK(voted(&out, TM_PREVOTE, 0));
    CHECK_EQ_INT(tm_current_step(m), TM_STEP_PREVOTE);
    free(m);
}

static void test_a_proposal_from_another_validator_than_the_proposer_is_ignored(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    clear(&out);
    tm_proposal p = {1, 0, -1, blk(0xb), 2}; /* the proposer of (1, 0) is 1 */
    tm_on_proposal(m, &p, true, &out);
    p.proposer = 1;
    p.pol_round = 0; /* a POL round must be before the round */
    tm_on_proposal(m, &p, true, &out);
    CHECK_EQ_INT(out.n, 0);
    CHECK_EQ_INT(tm_current_step(m), TM_STEP_PROPOSE);
    free(m);
}

static void test_the_propose_timeout_prevotes_nil_and_a_stale_one_does_nothing(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    clear(&out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 1, &out); /* another round */
    tm_on_timeout(m, TM_STEP_PROPOSE, 2, 0, &out); /* another height */
    CHECK_EQ_INT(out.n, 0);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out);
    CHECK(voted(&out, TM_PREVOTE, 0));
    clear(&out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out); /* already past propose */
    CHECK_EQ_INT(out.n, 0);
    free(m);
}

static void test_any_two_f_plus_one_prevotes_start_the_prevote_timeout_once(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0, 0, &out);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 1, &out);
    CHECK(find(&out, TM_ACT_TIMEOUT, 0) == NULL);
    vote(m, TM_PREVOTE, 1, 0, 0xc, 2, &out);
    const tm_action *t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->step == TM_STEP_PREVOTE && t->ms == 1000);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0xc, 3, &out);
    CHECK(find(&out, TM_ACT_TIMEOUT, 0) == NULL);
    tm_on_timeout(m, TM_STEP_PREVOTE, 1, 0, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0));
    free(m);
}

static void test_two_f_plus_one_nil_prevotes_precommit_nil(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    clear(&out);
    votes(m, TM_PREVOTE, 1, 0, 0, 0xe, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0));
    CHECK_EQ_INT(tm_current_step(m), TM_STEP_PRECOMMIT);
    CHECK_EQ_INT(tm_locked_round(m), -1);
    free(m);
}

static void test_two_f_plus_one_precommits_start_the_precommit_timeout_and_it_ends_the_round(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    clear(&out);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0x6, &out);
    vote(m, TM_PRECOMMIT, 1, 0, 0xb, 3, &out);
    const tm_action *t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->step == TM_STEP_PRECOMMIT && t->round == 0);
    clear(&out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    CHECK_EQ_INT(tm_round(m), 1);
    CHECK_EQ_INT(tm_current_step(m), TM_STEP_PROPOSE);
    free(m);
}

/* With these powers, the validators in `short_of` hold two thirds of the power exactly, and
 * `rest` completes a quorum: validator 0 must neither lock nor decide on exactly two thirds. */
static void check_two_thirds_exactly_is_short(const uint64_t *powers, size_t n, unsigned short_of,
                                              unsigned rest) {
    tm_actions out = {0};
    tm *m = machine_with(powers, n, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    clear(&out);
    votes(m, TM_PREVOTE, 1, 0, 0xb, short_of, &out);
    CHECK(find(&out, TM_ACT_VOTE, TM_PRECOMMIT) == NULL);
    CHECK_EQ_INT(tm_locked_round(m), -1);
    votes(m, TM_PREVOTE, 1, 0, 0xb, rest, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0xb));
    CHECK_EQ_INT(tm_locked_round(m), 0);
    clear(&out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, short_of, &out);
    CHECK(find(&out, TM_ACT_COMMIT, 0) == NULL);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, rest, &out);
    CHECK(find(&out, TM_ACT_COMMIT, 0) != NULL);
    free(m);
}

static void test_two_thirds_of_the_power_exactly_neither_locks_nor_decides(void) {
    static const uint64_t equal[6] = {1, 1, 1, 1, 1, 1}, unequal[4] = {2, 1, 1, 2};
    check_two_thirds_exactly_is_short(equal, 3, 0x3, 0x4);   /* 2 of 3 */
    check_two_thirds_exactly_is_short(equal, 6, 0xf, 0x10);  /* 4 of 6 */
    check_two_thirds_exactly_is_short(unequal, 4, 0x7, 0x8); /* 3 of 4 validators, 4 of 6 */
}

static void test_rule_4_locks_and_a_locked_node_prevotes_nil_for_another_value_without_pol(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    clear(&out);
    votes(m, TM_PREVOTE, 1, 0, 0xb, 0x7, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0xb));
    CHECK_EQ_INT(tm_locked_round(m), 0);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    clear(&out);
    propose(m, 1, 1, 0xc, -1, true, &out); /* round 1: another value, no POL */
    CHECK(voted(&out, TM_PREVOTE, 0));
    clear(&out);
    votes(m, TM_PREVOTE, 1, 1, 0, 0xe, &out); /* a nil polka does not unlock */
    CHECK(voted(&out, TM_PRECOMMIT, 0));
    CHECK_EQ_INT(tm_locked_round(m), 0);
    votes(m, TM_PRECOMMIT, 1, 1, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 1, &out);
    clear(&out);
    propose(m, 1, 2, 0xb, -1, true, &out); /* round 2: the locked value again */
    CHECK(voted(&out, TM_PREVOTE, 0xb));
    free(m);
}

/* Locked on B at round 0, the node sees a polka for C at round 1 without C's proposal. */
static tm *locked_with_later_polka(tm_actions *out) {
    tm *m = locked_on_b(0, out);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 1, out);
    votes(m, TM_PREVOTE, 1, 1, 0xc, 0xe, out);
    tm_on_timeout(m, TM_STEP_PREVOTE, 1, 1, out);
    votes(m, TM_PRECOMMIT, 1, 1, 0, 0xe, out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 1, out);
    SLQ_ASSERT(tm_round(m) == 2 && tm_locked_round(m) == 0);
    clear(out);
    return m;
}

static void test_a_pol_from_a_round_after_the_lock_unlocks(void) {
    tm_actions out = {0};
    tm *m = locked_with_later_polka(&out);
    propose(m, 1, 2, 0xc, 1, true, &out); /* C with its POL at round 1 > lockedRound 0 */
    CHECK(voted(&out, TM_PREVOTE, 0xc));
    free(m);
}

static void test_a_pol_from_before_the_lock_does_not_unlock(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out);
    votes(m, TM_PREVOTE, 1, 0, 0xc, 0xe, &out); /* a polka for C at round 0, unseen proposal */
    tm_on_timeout(m, TM_STEP_PREVOTE, 1, 0, &out);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    propose(m, 1, 1, 0xb, -1, true, &out); /* round 1: lock on B */
    votes(m, TM_PREVOTE, 1, 1, 0xb, 0x7, &out);
    CHECK_EQ_INT(tm_locked_round(m), 1);
    votes(m, TM_PRECOMMIT, 1, 1, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 1, &out);
    clear(&out);
    propose(m, 1, 2, 0xc, 0, true, &out); /* C with a POL at round 0 < lockedRound 1 */
    CHECK(voted(&out, TM_PREVOTE, 0));
    free(m);
}

/* Locked on B at round 0 (validators 0, 1, 2 prevoted B), the node also sees a polka for C
 * in that same round: validators 1 and 2 equivocate, which only a hand-fed run can do. */
static void test_a_pol_from_the_very_round_of_the_lock_unlocks(void) {
    tm_actions out = {0};
    tm *m = locked_on_b(0, &out);
    votes(m, TM_PREVOTE, 1, 0, 0xc, 0xe, &out); /* C's polka at round 0: 1, 2 (again) and 3 */
    CHECK(find(&out, TM_ACT_EVIDENCE, 0) != NULL);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    CHECK_EQ_INT(tm_round(m), 1);
    CHECK_EQ_INT(tm_locked_round(m), 0);
    clear(&out);
    propose(m, 1, 1, 0xc, 0, true, &out); /* C with its POL at round 0 == lockedRound 0 */
    CHECK(voted(&out, TM_PREVOTE, 0xc));
    free(m);
}

static void test_a_proposal_with_a_missing_pol_waits_for_it(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    clear(&out);
    propose(m, 1, 1, 0xc, 0, true, &out); /* POL round 0, but no prevotes for C seen */
    CHECK(find(&out, TM_ACT_VOTE, TM_PREVOTE) == NULL);
    votes(m, TM_PREVOTE, 1, 0, 0xc, 0x7, &out); /* the POL arrives */
    CHECK(voted(&out, TM_PREVOTE, 0xc));
    free(m);
}

static void test_a_proposal_whose_pol_was_dropped_asks_for_it_once(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    votes(m, TM_PREVOTE, 1, 5, 0, 0x6, &out); /* skip to round 5 */
    CHECK_EQ_INT(tm_round(m), 5);
    votes(m, TM_PREVOTE, 1, 0, 0xc, 0xe, &out); /* round 0 is not kept: dropped */
    clear(&out);
    propose(m, 1, 5, 0xc, 0, true, &out); /* C with its POL at round 0 */
    const tm_action *need = find(&out, TM_ACT_NEED_POL, 0);
    tm_block_id c = blk(0xc);
    CHECK(need != NULL && need->height == 1 && need->round == 0);
    CHECK(need != NULL && memcmp(need->block.hash, c.hash, 32) == 0);
    CHECK(find(&out, TM_ACT_VOTE, TM_PREVOTE) == NULL);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0xc, 1, &out);
    CHECK(find(&out, TM_ACT_NEED_POL, 0) == NULL); /* asked once */
    votes(m, TM_PREVOTE, 1, 0, 0xc, 0xc, &out);    /* the driver feeds them again */
    CHECK(voted(&out, TM_PREVOTE, 0xc));
    free(m);
}

static void test_a_proposer_re_proposes_its_valid_value_with_its_pol_round(void) {
    tm_actions out = {0};
    tm *m = locked_on_b(2, &out); /* validator 2 proposes (1, 1) */
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    clear(&out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    const tm_action *p = find(&out, TM_ACT_PROPOSE, 0);
    tm_block_id b = blk(0xb);
    CHECK(p != NULL && p->round == 1 && p->pol_round == 0);
    CHECK(p != NULL && memcmp(p->block.hash, b.hash, 32) == 0);
    CHECK(find(&out, TM_ACT_NEED_VALUE, 0) == NULL);
    free(m);
}

static void test_f_plus_one_distinct_validators_skip_rounds_but_one_validator_does_not(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 2, 0, 3, &out); /* many messages, all from validator 3 */
    vote(m, TM_PRECOMMIT, 1, 2, 0, 3, &out);
    vote(m, TM_PREVOTE, 1, 3, 0xb, 3, &out);
    vote(m, TM_PREVOTE, 1, 4, 0xb, 3, &out);
    CHECK_EQ_INT(tm_round(m), 0);
    CHECK_EQ_INT(out.n, 0);
    vote(m, TM_PREVOTE, 1, 2, 0, 1, &out); /* a second validator: 2 of 4 > 1/3 */
    CHECK_EQ_INT(tm_round(m), 2);
    const tm_action *t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->step == TM_STEP_PROPOSE && t->round == 2);
    free(m);
}

static void test_a_third_of_the_power_exactly_does_not_skip_a_round(void) {
    static const uint64_t equal[6] = {1, 1, 1, 1, 1, 1}, unequal[4] = {1, 2, 1, 2};
    tm_actions out = {0};
    tm *m3 = machine_with(equal, 3, 0), *m6 = machine_with(equal, 6, 0);
    tm *mu = machine_with(unequal, 4, 0);
    tm_start_height(m3, 1, &out);
    tm_start_height(m6, 1, &out);
    tm_start_height(mu, 1, &out);
    vote(m3, TM_PREVOTE, 1, 2, 0, 1, &out);    /* 1 of 3 */
    votes(m6, TM_PREVOTE, 1, 2, 0, 0x6, &out); /* 2 of 6 */
    vote(mu, TM_PREVOTE, 1, 2, 0, 1, &out);    /* power 2 of 6 */
    CHECK_EQ_INT(tm_round(m3), 0);
    CHECK_EQ_INT(tm_round(m6), 0);
    CHECK_EQ_INT(tm_round(mu), 0);
    vote(m3, TM_PREVOTE, 1, 2, 0, 2, &out);
    vote(m6, TM_PREVOTE, 1, 2, 0, 3, &out);
    vote(mu, TM_PREVOTE, 1, 3, 0, 2, &out); /* power 3 at round 2 or beyond, 1 at round 3 */
    CHECK_EQ_INT(tm_round(m3), 2);
    CHECK_EQ_INT(tm_round(m6), 2);
    CHECK_EQ_INT(tm_round(mu), 2);
    free(m3);
    free(m6);
    free(mu);
}

static void test_an_equivocating_validator_counts_once_toward_two_f_plus_one_votes(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0, 1, &out);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 1, &out); /* validator 1 again: evidence, one validator */
    vote(m, TM_PREVOTE, 1, 0, 0xc, 2, &out);
    CHECK(find(&out, TM_ACT_EVIDENCE, 0) != NULL);
    CHECK(find(&out, TM_ACT_TIMEOUT, 0) == NULL); /* two validators of four: no rule 3 */
    vote(m, TM_PRECOMMIT, 1, 0, 0, 1, &out);
    vote(m, TM_PRECOMMIT, 1, 0, 0xb, 1, &out);
    vote(m, TM_PRECOMMIT, 1, 0, 0xc, 2, &out);
    CHECK(find(&out, TM_ACT_TIMEOUT, 0) == NULL); /* nor rule 6 */
    vote(m, TM_PREVOTE, 1, 0, 0xc, 3, &out);
    const tm_action *t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->step == TM_STEP_PREVOTE);
    clear(&out);
    vote(m, TM_PRECOMMIT, 1, 0, 0xc, 3, &out);
    t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->step == TM_STEP_PRECOMMIT);
    free(m);
}

static void test_a_duplicate_vote_counts_once(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    clear(&out);
    for (int i = 0; i < 3; i++) vote(m, TM_PREVOTE, 1, 0, 0xb, 1, &out);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 2, &out);
    CHECK(find(&out, TM_ACT_VOTE, TM_PRECOMMIT) == NULL);
    CHECK(find(&out, TM_ACT_EVIDENCE, 0) == NULL);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 3, &out);
    CHECK(voted(&out, TM_PRECOMMIT, 0xb));
    free(m);
}

static void test_conflicting_votes_are_evidence_and_both_count_toward_their_block(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0, 3, &out);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 3, &out);
    const tm_action *e = find(&out, TM_ACT_EVIDENCE, 0);
    tm_block_id b = blk(0xb), nil = blk(0);
    CHECK(e != NULL && e->evidence[0].validator == 3 && e->evidence[1].validator == 3);
    CHECK(e != NULL && memcmp(e->evidence[0].block.hash, nil.hash, 32) == 0);
    CHECK(e != NULL && memcmp(e->evidence[1].block.hash, b.hash, 32) == 0);
    clear(&out);
    vote(m, TM_PREVOTE, 1, 0, 0xb, 3, &out); /* the same pair again: no new evidence */
    CHECK(find(&out, TM_ACT_EVIDENCE, 0) == NULL);
    votes(m, TM_PREVOTE, 1, 0, 0xb, 0x3, &out); /* 0, 1 and 3's second vote: a polka */
    CHECK(voted(&out, TM_PRECOMMIT, 0xb));
    free(m);
}

static void test_votes_too_far_ahead_are_dropped(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    tm_block_id b = blk(0xb);
    tm_on_block(m, 1, &b, true, &out);
    uint32_t far = TM_ROUNDS_AHEAD + 1;
    vote(m, TM_PRECOMMIT, 1, far, 0xb, 1, &out); /* alone: no skip, and not kept */
    CHECK_EQ_INT(tm_round(m), 0);
    votes(m, TM_PRECOMMIT, 1, far, 0xb, 0xc, &out); /* 2 skips us there; 2 and 3 are kept */
    CHECK_EQ_INT(tm_round(m), far);
    CHECK(find(&out, TM_ACT_COMMIT, 0) == NULL);
    vote(m, TM_PRECOMMIT, 1, far, 0xb, 1, &out); /* now within reach: kept */
    CHECK(find(&out, TM_ACT_COMMIT, 0) != NULL);
    free(m);
}

static void test_timeouts_grow_with_the_round(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    const tm_action *t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->ms == 3000);
    votes(m, TM_PRECOMMIT, 1, 0, 0, 0xe, &out);
    clear(&out);
    tm_on_timeout(m, TM_STEP_PRECOMMIT, 1, 0, &out);
    t = find(&out, TM_ACT_TIMEOUT, 0);
    CHECK(t != NULL && t->round == 1 && t->ms == 3500);
    clear(&out);
    votes(m, TM_PREVOTE, 1, 3, 0, 0x6, &out); /* skip to round 3 */
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 3, &out);
    vote(m, TM_PREVOTE, 1, 3, 0xb, 3, &out);    /* 2f+1 prevotes, no polka */
    votes(m, TM_PRECOMMIT, 1, 3, 0, 0xe, &out); /* 2f+1 precommits */
    uint32_t propose_ms = 0, prevote_ms = 0, precommit_ms = 0;
    for (size_t i = 0; i < out.n; i++) {
        if (out.a[i].kind != TM_ACT_TIMEOUT) continue;
        if (out.a[i].step == TM_STEP_PROPOSE) propose_ms = out.a[i].ms;
        if (out.a[i].step == TM_STEP_PREVOTE) prevote_ms = out.a[i].ms;
        if (out.a[i].step == TM_STEP_PRECOMMIT) precommit_ms = out.a[i].ms;
    }
    CHECK_EQ_INT(propose_ms, 4500);
    CHECK_EQ_INT(prevote_ms, 2500);
    CHECK_EQ_INT(precommit_ms, 2500);
    tm_start_height(m, 2, &out); /* reset at every height */
    CHECK_EQ_INT(out.a[out.n - 1].ms, 3000);
    free(m);
}

static void test_a_follower_decides_but_never_votes_or_proposes(void) {
    tm_actions out = {0};
    tm *m = machine(4, -1);
    for (uint64_t h = 1; h <= 4; h++) { /* every validator's turn to propose */
        tm_start_height(m, h, &out);
        propose(m, h, 0, 0xb, -1, true, &out);
        votes(m, TM_PREVOTE, h, 0, 0xb, 0x7, &out);
        tm_on_timeout(m, TM_STEP_PROPOSE, h, 0, &out);
        votes(m, TM_PRECOMMIT, h, 0, 0xb, 0xb, &out);
        CHECK(find(&out, TM_ACT_COMMIT, 0) != NULL);
        CHECK(find(&out, TM_ACT_VOTE, TM_PREVOTE) == NULL);
        CHECK(find(&out, TM_ACT_VOTE, TM_PRECOMMIT) == NULL);
        CHECK(find(&out, TM_ACT_PROPOSE, 0) == NULL);
        CHECK(find(&out, TM_ACT_NEED_VALUE, 0) == NULL);
        clear(&out);
    }
    free(m);
}

static void test_commit_votes_returns_the_deciding_precommits(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    vote(m, TM_PRECOMMIT, 1, 0, 0, 2, &out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, 0xb, &out);
    const tm_action *c = find(&out, TM_ACT_COMMIT, 0);
    CHECK(c != NULL);
    static tm_vote v[TM_VALIDATORS_MAX];
    tm_block_id b = blk(0xb);
    CHECK_EQ_INT(tm_commit_votes(m, 1, 0, &b, v), 3);
    CHECK(v[0].sig_len == 1 && v[1].sig_len == 1 && v[3].sig_len == 1 && v[2].sig_len == 0);
    CHECK(v[3].validator == 3 && v[3].type == TM_PRECOMMIT && v[3].sig[0] == 4);
    CHECK(memcmp(v[0].block.hash, b.hash, 32) == 0);
    vote(m, TM_PRECOMMIT, 1, 0, 0xb, 2, &out); /* a late, conflicting precommit is kept */
    CHECK_EQ_INT(tm_commit_votes(m, 1, 0, &b, v), 4);
    CHECK_EQ_INT(tm_commit_votes(m, 1, 1, &b, v), 0);
    CHECK_EQ_INT(tm_commit_votes(m, 2, 0, &b, v), 0);
    free(m);
}

static void test_precommits_of_an_earlier_round_decide(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    votes(m, TM_PRECOMMIT, 1, 1, 0, 0x6, &out); /* skip to round 1 */
    CHECK_EQ_INT(tm_round(m), 1);
    clear(&out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, 0xe, &out);
    const tm_action *c = find(&out, TM_ACT_COMMIT, 0);
    CHECK(c != NULL && c->round == 0);
    free(m);
}

static void test_precommits_for_an_unknown_block_ask_for_it_and_decide_once_checked(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out); /* an equivocating proposer gave us B */
    clear(&out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xc, 0xe, &out); /* but 2f+1 precommit C */
    const tm_action *need = find(&out, TM_ACT_NEED_BLOCK, 0);
    tm_block_id c = blk(0xc), b = blk(0xb);
    CHECK(need != NULL && need->round == 0 && memcmp(need->block.hash, c.hash, 32) == 0);
    CHECK(find(&out, TM_ACT_COMMIT, 0) == NULL);
    clear(&out);
    tm_on_block(m, 1, &b, true, &out);
    tm_on_block(m, 1, &c, false, &out);
    CHECK(find(&out, TM_ACT_COMMIT, 0) == NULL);
    tm_on_block(m, 1, &c, true, &out);
    const tm_action *commit = find(&out, TM_ACT_COMMIT, 0);
    CHECK(commit != NULL && memcmp(commit->block.hash, c.hash, 32) == 0);
    free(m);
}

static void test_a_decided_machine_ignores_the_rest_of_its_height(void) {
    tm_actions out = {0};
    tm *m = machine(4, 0);
    tm_start_height(m, 1, &out);
    propose(m, 1, 0, 0xb, -1, true, &out);
    votes(m, TM_PRECOMMIT, 1, 0, 0xb, 0xe, &out);
    clear(&out);
    tm_on_timeout(m, TM_STEP_PROPOSE, 1, 0, &out);
    votes(m, TM_PREVOTE, 1, 3, 0, 0xe, &out);
    propose(m, 1, 1, 0xc, -1, true, &out);
    vote(m, TM_PREVOTE, 2, 0, 0xb, 1, &out); /* the next height, before tm_start_height */
    CHECK_EQ_INT(out.n, 0);
    CHECK_EQ_INT(tm_round(m), 0);
    free(m);
}

/* ---- the signer's guard ---- */

static guard_request req(uint64_t h, uint32_t r, tm_step step, uint8_t b, int32_t pol) {
    guard_request q = {h, r, step, pol, blk(b)};
    return q;
}

static guard_record signed_prevote_b(void) {
    guard_record rec;
    memset(&rec, 0, sizeof rec);
    guard_request q = req(5, 2, TM_STEP_PREVOTE, 0xb, -1);
    const uint8_t sig[3] = {7, 8, 9};
    CHECK_EQ_INT(guard_check(&rec, &q), GUARD_SIGN);
    guard_record_set(&rec, &q, sig, sizeof sig);
    return rec;
}

static void test_guard_signs_only_strictly_later_height_round_step(void) {
    guard_record rec = signed_prevote_b();
    guard_request later[] = {req(5, 2, TM_STEP_PRECOMMIT, 0, -1),
                             req(5, 3, TM_STEP_PROPOSE, 0xc, 1),
                             req(6, 0, TM_STEP_PREVOTE, 0xb, -1)};
    for (size_t i = 0; i < 3; i++) CHECK_EQ_INT(guard_check(&rec, &later[i]), GUARD_SIGN);
    guard_request earlier[] = {req(5, 2, TM_STEP_PROPOSE, 0xb, -1),
                               req(5, 1, TM_STEP_PRECOMMIT, 0xb, -1),
                               req(4, 9, TM_STEP_PRECOMMIT, 0xb, -1)};
    for (size_t i = 0; i < 3; i++) CHECK_EQ_INT(guard_check(&rec, &earlier[i]), GUARD_REFUSE);
}

static void test_guard_reuses_the_stored_signature_for_the_identical_request(void) {
    guard_record rec = signed_prevote_b();
    guard_request q = req(5, 2, TM_STEP_PREVOTE, 0xb, -1);
    CHECK_EQ_INT(guard_check(&rec, &q), GUARD_REUSE);
    CHECK_EQ_INT(rec.sig_len, 3);
    CHECK(rec.sig[0] == 7 && rec.sig[2] == 9);
}

static void test_guard_refuses_other_content_at_the_same_step(void) {
    guard_record rec = signed_prevote_b();
    guard_request nil = req(5, 2, TM_STEP_PREVOTE, 0, -1),
                  other = req(5, 2, TM_STEP_PREVOTE, 0xc, -1);
    CHECK_EQ_INT(guard_check(&rec, &nil), GUARD_REFUSE);
    CHECK_EQ_INT(guard_check(&rec, &other), GUARD_REFUSE);
    guard_record p;
    memset(&p, 0, sizeof p);
    guard_request prop = req(5, 3, TM_STEP_PROPOSE, 0xb, 1);
    guard_record_set(&p, &prop, (const uint8_t *) "s", 1);
    guard_request other_pol = req(5, 3, TM_STEP_PROPOSE, 0xb, -1);
    CHECK_EQ_INT(guard_check(&p, &other_pol), GUARD_REFUSE);
}

static void test_guard_record_survives_encode_and_decode(void) {
    guard_record rec = signed_prevote_b(), back, empty;
    memset(&empty, 0, sizeof empty);
    uint8_t bytes[GUARD_RECORD_BYTES];
    guard_record_encode(bytes, &rec);
    CHECK_ERR(guard_record_decode(&back, bytes, sizeof bytes), SLQ_OK);
    guard_request q = req(5, 2, TM_STEP_PREVOTE, 0xb, -1);
    CHECK(back.has && back.sig_len == 3 && back.sig[1] == 8);
    CHECK_EQ_INT(guard_check(&back, &q), GUARD_REUSE);
    guard_record_encode(bytes, &empty);
    CHECK_ERR(guard_record_decode(&back, bytes, sizeof bytes), SLQ_OK);
    CHECK(!back.has);
}

static void test_guard_record_decode_refuses_corrupt_bytes(void) {
    guard_record rec = signed_prevote_b(), back;
    uint8_t good[GUARD_RECORD_BYTES], bad[GUARD_RECORD_BYTES];
    guard_record_encode(good, &rec);
    CHECK_ERR(guard_record_decode(&back, good, sizeof good - 1), SLQ_STORAGE_CORRUPT);
    CHECK_ERR(guard_record_decode(&back, NULL, 0), SLQ_STORAGE_CORRUPT);
    /* Offsets: version 0, has 1, step 14, pol_round 15..18, sig_len 51, sig 52..123. */
    static const struct {
        size_t at;
        uint8_t to;
    } rows[] = {{0, 2}, {1, 2}, {14, 3}, {18, 0xfe}, {51, 0}, {51, 73}, {60, 0xff}, {123, 1}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        memcpy(bad, good, sizeof bad);
        bad[rows[i].at] = rows[i].to;
        CHECK_ERR(guard_record_decode(&back, bad, sizeof bad), SLQ_STORAGE_CORRUPT);
    }
}

/* A height starts without a signature: the machine votes or proposes only in answer to an
 * input, which the driver logs before it feeds it (replica/amnesia_rules.h rests on this),
 * even when the height before ended locked on a block with a valid value. */
static void test_a_new_height_signs_nothing(void) {
    for (size_t n = 1; n <= 4; n++) {
        for (int self = -1; self < (int) n; self++) {
            tm *m = machine(n, self);
            for (uint64_t h = 1; h <= 2 * n; h++) {
                tm_actions out = {.n = 0};
                tm_start_height(m, h, &out);
                CHECK(find(&out, TM_ACT_VOTE, (int) TM_PREVOTE) == NULL);
                CHECK(find(&out, TM_ACT_VOTE, (int) TM_PRECOMMIT) == NULL);
                CHECK(find(&out, TM_ACT_PROPOSE, 0) == NULL);
                out.n = 0;
                propose(m, h, 0, 7, -1, true, &out); /* lock on it and keep it as valid */
                out.n = 0;
                votes(m, TM_PREVOTE, h, 0, 7, (1u << n) - 1, &out);
            }
            free(m);
        }
    }
}

TEST_MAIN("consensus-tendermint", TEST(test_a_new_height_signs_nothing),
          TEST(test_four_validators_decide_in_round_zero_on_the_happy_path),
          TEST(test_proposer_rotates_as_height_plus_round_mod_n),
          TEST(test_an_invalid_proposal_gets_a_nil_prevote),
          TEST(test_a_proposal_from_another_validator_than_the_proposer_is_ignored),
          TEST(test_the_propose_timeout_prevotes_nil_and_a_stale_one_does_nothing),
          TEST(test_any_two_f_plus_one_prevotes_start_the_prevote_timeout_once),
          TEST(test_two_f_plus_one_nil_prevotes_precommit_nil),
          TEST(test_two_f_plus_one_precommits_start_the_precommit_timeout_and_it_ends_the_round),
          TEST(test_two_thirds_of_the_power_exactly_neither_locks_nor_decides),
          TEST(test_rule_4_locks_and_a_locked_node_prevotes_nil_for_another_value_without_pol),
          TEST(test_a_pol_from_a_round_after_the_lock_unlocks),
          TEST(test_a_pol_from_the_very_round_of_the_lock_unlocks),
          TEST(test_a_pol_from_before_the_lock_does_not_unlock),
          TEST(test_a_proposal_with_a_missing_pol_waits_for_it),
          TEST(test_a_proposal_whose_pol_was_dropped_asks_for_it_once),
          TEST(test_a_proposer_re_proposes_its_valid_value_with_its_pol_round),
          TEST(test_f_plus_one_distinct_validators_skip_rounds_but_one_validator_does_not),
          TEST(test_a_third_of_the_power_exactly_does_not_skip_a_round),
          TEST(test_an_equivocating_validator_counts_once_toward_two_f_plus_one_votes),
          TEST(test_a_duplicate_vote_counts_once),
          TEST(test_conflicting_votes_are_evidence_and_both_count_toward_their_block),
          TEST(test_votes_too_far_ahead_are_dropped), TEST(test_timeouts_grow_with_the_round),
          TEST(test_a_follower_decides_but_never_votes_or_proposes),
          TEST(test_commit_votes_returns_the_deciding_precommits),
          TEST(test_precommits_of_an_earlier_round_decide),
          TEST(test_precommits_for_an_unknown_block_ask_for_it_and_decide_once_checked),
          TEST(test_a_decided_machine_ignores_the_rest_of_its_height),
          TEST(test_guard_signs_only_strictly_later_height_round_step),
          TEST(test_guard_reuses_the_stored_signature_for_the_identical_request),
          TEST(test_guard_refuses_other_content_at_the_same_step),
          TEST(test_guard_record_survives_encode_and_decode),
          TEST(test_guard_record_decode_refuses_corrupt_bytes))
