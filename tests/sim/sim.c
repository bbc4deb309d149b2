/* sim.c: the deterministic simulation of issue 4. Each seed runs n = 4 validators (7 one
 * seed in eight), maybe a follower and maybe one Byzantine validator, over the fake network
 * of net.c with faults until heal_at, and checks at every commit:
 *   - no two different blocks are committed at one height, by any node;
 *   - every committed block has a certificate that consensus_cert_verify accepts;
 *   - all correct nodes that committed height h have the same state digest after h, and that
 *     state keeps the ledger's accounting (as test_ledger_random.c): per budget year
 *     issued = active + redeemed + revoked + expired, redeemed = settled + open claims +
 *     clawed back, the year and program rows agree, no cap is exceeded (checked once per height: the digest
 *     covers every row, so equal digests are equal states);
 *   - no evidence names a correct validator, and no correct validator signs two different
 *     messages for one (height, round, step), across crashes (node.c);
 * and, after the faults heal, liveness: every correct node reaches the target height within
 * a bounded simulated time (60 s plus 6 s per height).
 *
 * Random seeds rarely put a decision in the hands of a lock, so one scripted run does: a
 * message filter and a crash make one node decide alone while the others go on (see
 * lock_scenario). It fails if a locked node prevotes another block without a POL.
 *
 * SLQ_SEED=N runs one seed, verbose. Otherwise SLQ_SIM_SEEDS seeds (default 1000) run and
 * every failing seed is printed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ledger_invariants.h"
#include "sim.h"

static sim *the_sim; /* built once in main; the tests share the world */

static void state_digest(const sim *s, ledger_state *st, uint8_t out[32]) {
    ledger_change *c;
    size_t n;
    SLQ_ASSERT(ledger_state_changes(st, &c, &n) == SLQ_OK);
    static const uint8_t zero[32];
    ledger_app_hash(s->w->f.suite, out, zero, c, n);
    free(c);
}

/* ---- the invariants at a commit ---- */

/* In harsh seeds, the first node to decide a height sometimes crashes right away, so the
 * others must finish the height without it: only their locks keep them on its block. */
static void crash_the_first_to_decide(sim *s, sim_node *nd) {
    if (!s->harsh || s->now >= s->heal_at || nd->byz || !sim_chance(&s->rng, 50)) return;
    int64_t back = s->now + 2000 + (int64_t) sim_below(&s->rng, 8000);
    sim_push_at(s, s->now, EV_CRASH, nd->idx, 0);
    sim_push_at(s, back < s->heal_at ? back : s->heal_at, EV_RESTART, nd->idx, 0);
}

bool sim_is_correct(const sim *s, const sim_node *nd) {
    (void) s;
    return !nd->byz;
}

void sim_check_commit(sim *s, sim_node *nd, uint64_t h) {
    const sim_block *b = &s->blocks[nd->chain[h]];
    s->st.commits++;
    sim_trace(s, h ^ (uint64_t) nd->idx << 32);
    sim_trace(s, (uint64_t) b->id.hash[0] << 8 | b->id.hash[1]);
    sim_log(s, "node %u: commit height %llu (%u txs) id %02x%02x\n", nd->idx,
            (unsigned long long) h, b->ntx, b->id.hash[0], b->id.hash[1]);
    if (!sim_verify_cert(s, h, &b->id, nd->cert[h], nd->cert_len[h]))
        sim_violation(s, "node %u: certificate of height %llu does not verify\n", nd->idx,
                      (unsigned long long) h);
    if (!s->decided_set[h]) {
        s->decided_set[h] = true;
        s->decided[h] = b->id;
        crash_the_first_to_decide(s, nd);
    }
    if (h == 1 && ((s->opts.crash_on_commit >> nd->idx) & 1u)) {
        sim_push_at(s, s->now, EV_CRASH, nd->idx, 0);
        sim_push_at(s, s->now + 20000, EV_RESTART, nd->idx, 0);
    } else if (memcmp(s->decided[h].hash, b->id.hash, 32) != 0) {
        sim_violation(s, "node %u committed another block at height %llu\n", nd->idx,
                      (unsigned long long) h);
    }
    if (!sim_is_correct(s, nd)) return;
    uint8_t d[32];
    state_digest(s, nd->st, d);
    if (!s->digest_set[h]) {
        s->digest_set[h] = true;
        memcpy(s->digest[h], d, 32);
        int bad = ledger_violations(nd->st, nd->tip_time_ms);
        if (bad != 0)
            sim_violation(s, "node %u: %d ledger invariants broken after height %llu\n", nd->idx,
                          bad, (unsigned long long) h);
    } else if (memcmp(s->digest[h], d, 32) != 0) {
        sim_violation(s, "node %u: state digest differs after height %llu\n", nd->idx,
                      (unsigned long long) h);
    }
}

/* ---- one seed ---- */

static void node_setup(sim *s, uint32_t i) {
    sim_node *nd = &s->nodes[i];
    tm *m = nd->m;
    sim_wal *wal = nd->wal;
    sim_known *known = nd->known;
    sim_signed *signed_log = nd->signed_log;
    size_t wal_cap = nd->wal_cap, known_cap = nd->known_cap, signed_cap = nd->signed_cap;
    memset(nd, 0, sizeof *nd);
    nd->m = m;
    nd->wal = wal, nd->wal_cap = wal_cap;
    nd->known = known, nd->known_cap = known_cap;
    nd->signed_log = signed_log, nd->signed_cap = signed_cap;
    nd->idx = i;
    nd->self = i < s->n ? (int) i : -1;
    nd->byz = (int) i == s->byz;
    SLQ_ASSERT(ledger_state_create(&nd->st, NULL) == SLQ_OK);
    SLQ_ASSERT(ledger_genesis_state(s->w->f.l, nd->st) == SLQ_OK);
    nd->tip_time_ms = s->w->base_time_ms;
    memset(nd->last_tick, 0xff, sizeof nd->last_tick);
}

static void seed_setup(sim *s, uint64_t seed) {
    s->seed = seed;
    s->verbose = s->opts.verbose;
    s->rng.s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
    if (s->rng.s == 0) s->rng.s = 1;
    s->now = 0;
    s->seq = 0;
    s->ev_n = 0;
    s->blocks_n = 0;
    s->part_mask = 0;
    s->n = sim_below(&s->rng, 8) == 0 ? 7 : 4;
    if (s->opts.n != 0) s->n = s->opts.n;
    s->nodes_n = s->n + (sim_chance(&s->rng, 50) && !s->opts.no_follower ? 1 : 0);
    s->byz = sim_below(&s->rng, 5) == 0 ? -1 : (int) sim_below(&s->rng, s->n);
    if (s->opts.byz != -2) s->byz = s->opts.byz;
    s->byz_pct = s->opts.byz_pct != 0 ? s->opts.byz_pct : 20 + (uint32_t) sim_below(&s->rng, 50);
    s->byz_attack = s->byz >= 0 && sim_chance(&s->rng, 33) && !s->opts.byz_ignores_locks;
    if (s->opts.byz_ignores_locks) s->byz_pct = 0;
    s->target = s->n == 7 ? 6 + sim_below(&s->rng, 4) : 10 + sim_below(&s->rng, 6);
    for (size_t i = 0; i < s->n; i++) s->powers[i] = 1;
    memset(s->decided_set, 0, sizeof s->decided_set);
    memset(s->digest_set, 0, sizeof s->digest_set);
    s->violations = 0;
    s->trace = 14695981039346656037ULL;
    memset(&s->st, 0, sizeof s->st);
    s->cache_gen++;
    s->cache_used = 0;
    for (uint32_t i = 0; i < s->nodes_n; i++) node_setup(s, i);
    sim_log(s, "seed %llu: %zu validators%s, byzantine %d (%u%%%s), target height %llu\n",
            (unsigned long long) seed, s->n, s->nodes_n > s->n ? " and a follower" : "", s->byz,
            s->byz_pct, s->byz_attack ? ", attacking" : "", (unsigned long long) s->target);
}

static void seed_teardown(sim *s) {
    for (uint32_t i = 0; i < s->nodes_n; i++) {
        sim_node *nd = &s->nodes[i];
        for (size_t h = 0; h <= SIM_HEIGHTS_MAX; h++) free(nd->cert[h]);
        ledger_state_destroy(nd->st);
        nd->st = NULL;
    }
}

static void dispatch(sim *s, const sim_event *e) {
    sim_node *nd = &s->nodes[e->node];
    bool live = nd->up && (e->inc == 0 || e->inc == nd->incarnation);
    switch (e->kind) {
        case EV_DELIVER:
            if (live) sim_node_deliver(s, nd, &e->msg);
            break;
        case EV_TIMEOUT:
            if (live) sim_node_timeout(s, nd, e);
            break;
        case EV_TICK:
            if (live) sim_node_tick(s, nd);
            break;
        case EV_CRASH:
            if (nd->up) sim_node_crash(s, nd);
            break;
        case EV_RESTART:
            if (!nd->up) sim_node_restart(s, nd);
            break;
        case EV_PARTITION:
            s->part_mask = e->mask;
            sim_log(s, "partition %#x\n", e->mask);
            break;
        case EV_HEAL:
            s->part_mask = 0;
            sim_log(s, "heal\n");
            for (uint32_t i = 0; i < s->nodes_n; i++)
                if (!s->nodes[i].up) sim_node_restart(s, &s->nodes[i]);
            break;
    }
}

static bool all_at_target(const sim *s) {
    for (uint32_t i = 0; i < s->nodes_n; i++)
        if (sim_is_correct(s, &s->nodes[i]) && s->nodes[i].tip < s->target) return false;
    return true;
}

static void report_liveness(sim *s) {
    char heights[128];
    size_t n = 0;
    for (uint32_t i = 0; i < s->nodes_n && n < sizeof heights - 24; i++)
        n += (size_t) snprintf(heights + n, sizeof heights - n, " %llu/r%u",
                               (unsigned long long) s->nodes[i].tip, tm_round(s->nodes[i].m));
    sim_violation(s, "liveness: target %llu not reached %lld ms after healing; tips:%s\n",
                  (unsigned long long) s->target, (long long) (s->now - s->heal_at), heights);
}

/* Runs one seed; returns the number of invariant violations. */
static int run_seed(sim *s, uint64_t seed) {
    seed_setup(s, seed);
    sim_schedule_faults(s);
    s->live_by = s->heal_at + 60000 + 6000 * (int64_t) s->target;
    for (uint32_t i = 0; i < s->nodes_n; i++) sim_node_start(s, &s->nodes[i]);
    sim_event e;
    while (s->violations == 0 && sim_pop(s, &e)) {
        s->now = e.at;
        if (++s->st.events > SIM_EVENTS_MAX) {
            sim_violation(s, "more than %u events\n", SIM_EVENTS_MAX);
            break;
        }
        if (s->now > s->live_by) {
            report_liveness(s);
            break;
        }
        sim_trace(s, (uint64_t) e.at ^ (uint64_t) e.kind << 48 ^ (uint64_t) e.node << 56);
        dispatch(s, &e);
        if (all_at_target(s)) {
            s->st.liveness_ms = s->now - s->heal_at;
            break;
        }
    }
    sim_log(s,
            "done: %llu commits, %llu syncs, %llu restarts, %llu evidence (%llu by correct "
            "nodes), %llu equivocations, %llu refused, %llu reused, max round %llu\n",
            (unsigned long long) s->st.commits, (unsigned long long) s->st.syncs,
            (unsigned long long) s->st.restarts, (unsigned long long) s->st.evidence_seen,
            (unsigned long long) s->st.evidence_by_correct,
            (unsigned long long) s->st.equivocations, (unsigned long long) s->st.refused,
            (unsigned long long) s->st.reused, (unsigned long long) s->st.max_round);
    seed_teardown(s);
    return s->violations;
}

static sim *sim_create(void) {
    sim *s = calloc(1, sizeof *s);
    SLQ_ASSERT(s != NULL);
    s->w = calloc(1, sizeof *s->w);
    s->cache = calloc(SIM_CACHE_SLOTS, sizeof *s->cache);
    SLQ_ASSERT(s->w != NULL && s->cache != NULL);
    sim_world_init(s->w);
    for (size_t i = 0; i < SIM_NODES_MAX; i++) {
        s->nodes[i].m = malloc(tm_size());
        SLQ_ASSERT(s->nodes[i].m != NULL);
    }
    return s;
}

static void sim_destroy(sim *s) {
    for (size_t i = 0; i < SIM_NODES_MAX; i++) {
        free(s->nodes[i].m);
        free(s->nodes[i].wal);
        free(s->nodes[i].known);
        free(s->nodes[i].signed_log);
    }
    sim_world_deinit(s->w);
    free(s->w);
    free(s->cache);
    free(s->ev);
    free(s->blocks);
    free(s);
}

/* ---- tests ---- */

static const sim_opts random_opts = {.byz = -2};

static void test_a_seed_reproduces_the_same_run(void) {
    sim *s = the_sim;
    for (uint64_t seed = 3; seed <= 4; seed++) {
        s->opts = random_opts;
        CHECK_EQ_INT(run_seed(s, seed), 0);
        uint64_t trace = s->trace;
        sim_stats st = s->st;
        CHECK_EQ_INT(run_seed(s, seed), 0);
        CHECK(trace == s->trace);
        CHECK(memcmp(&st, &s->st, sizeof st) == 0);
    }
}

static void test_a_calm_network_decides_every_height_in_round_zero(void) {
    sim *s = the_sim;
    s->opts = (sim_opts){.n = 4, .byz = -1, .calm = true};
    CHECK_EQ_INT(run_seed(s, 1), 0);
    CHECK_EQ_INT(s->st.max_round, 0);
    CHECK_EQ_INT(s->st.syncs, 0);
    s->opts = (sim_opts){.n = 7, .byz = -1, .calm = true};
    CHECK_EQ_INT(run_seed(s, 2), 0);
    CHECK_EQ_INT(s->st.max_round, 0);
}

static void test_an_equivocating_validator_is_caught_by_correct_nodes(void) {
    sim *s = the_sim;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        s->opts = (sim_opts){.n = seed % 3 == 0 ? 7 : 4,
                             .byz = (int) (seed % 4),
                             .calm = seed % 2 == 0,
                             .byz_pct = 100};
        CHECK_EQ_INT(run_seed(s, seed), 0);
        CHECK(s->st.equivocations > 0);
        CHECK(s->st.evidence_by_correct > 0);
    }
}

/* Validators A = 0, Z = 1 (Byzantine, proposes round 0 of height 1, ignores locks), C = 2
 * (proposes round 1), B = 3. For 8 s, in round 0 of height 1: C gets neither the proposal nor
 * Z's prevote, so it sees no polka, while A, B and Z lock on the block; only A receives enough
 * precommits to decide, and it crashes at once (crash_on_commit). In round 1 C proposes
 * another block, which Z and C prevote: only B's lock stands between it and a second decision
 * at height 1. In round 2, B proposes its locked block with its POL, and once the network
 * heals C gets the POL and they decide A's block. */
static bool lock_scenario(const sim *s, uint32_t from, uint32_t to, const sim_msg *m) {
    (void) from;
    static const uint8_t precommit_authors[4] = {0xf, 0x4, 0xa, 0x6}; /* allowed, per recipient */
    if (s->now >= 8000) return false;
    if (m->kind == MSG_PROPOSAL)
        return m->u.prop.p.height == 1 && m->u.prop.p.round == 0 && to == 2;
    if (m->kind != MSG_VOTE || m->u.vote.height != 1 || m->u.vote.round != 0) return false;
    uint32_t author = m->u.vote.validator;
    if (m->u.vote.type == TM_PREVOTE) return author == 1 && to == 2;
    return !((precommit_authors[to] >> author) & 1u);
}

static void test_a_lock_keeps_the_block_a_crashed_node_decided(void) {
    sim *s = the_sim;
    s->opts = (sim_opts){.n = 4,
                         .byz = 1,
                         .calm = true,
                         .byz_ignores_locks = true,
                         .no_follower = true,
                         .filter = lock_scenario,
                         .crash_on_commit = 1u << 0};
    CHECK_EQ_INT(run_seed(s, 1), 0);
    CHECK_EQ_INT(s->st.max_round, 2); /* B and C decided A's block in round 2 */
    CHECK_EQ_INT(s->st.restarts, 1);
}

typedef struct {
    uint64_t seeds, failed, commits, syncs, restarts, evidence, refused, fetches;
    uint64_t max_round, invalid;
    int64_t max_liveness_ms;
} totals;

static void add_totals(totals *t, const sim *s, int bad) {
    t->seeds++;
    t->failed += bad != 0;
    t->commits += s->st.commits;
    t->syncs += s->st.syncs;
    t->restarts += s->st.restarts;
    t->evidence += s->st.evidence_by_correct;
    t->refused += s->st.refused;
    t->fetches += s->st.fetches;
    t->invalid += s->st.invalid_proposals;
    if (s->st.max_round > t->max_round) t->max_round = s->st.max_round;
    if (s->st.liveness_ms > t->max_liveness_ms) t->max_liveness_ms = s->st.liveness_ms;
}

static void test_random_seeds_keep_safety_certificates_the_ledger_and_liveness(void) {
    sim *s = the_sim;
    s->opts = random_opts;
    const char *one = getenv("SLQ_SEED");
    if (one != NULL) {
        s->opts.verbose = true;
        CHECK_EQ_INT(run_seed(s, strtoull(one, NULL, 10)), 0);
        return;
    }
    const char *env = getenv("SLQ_SIM_SEEDS");
    uint64_t seeds = env != NULL ? strtoull(env, NULL, 10) : 1000;
    totals t;
    memset(&t, 0, sizeof t);
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        int bad = run_seed(s, seed);
        if (bad != 0) fprintf(stderr, "  failing seed: SLQ_SEED=%llu\n", (unsigned long long) seed);
        add_totals(&t, s, bad);
    }
    printf("sim: %llu seeds, %llu failed; %llu commits, %llu synced, %llu restarts, %llu evidence, "
           "%llu refused by the guard, %llu fetches, %llu invalid proposals, max round %llu, "
           "slowest recovery %lld ms after healing\n",
           (unsigned long long) t.seeds, (unsigned long long) t.failed,
           (unsigned long long) t.commits, (unsigned long long) t.syncs,
           (unsigned long long) t.restarts, (unsigned long long) t.evidence,
           (unsigned long long) t.refused, (unsigned long long) t.fetches,
           (unsigned long long) t.invalid, (unsigned long long) t.max_round,
           (long long) t.max_liveness_ms);
    CHECK_EQ_INT(t.failed, 0);
}

int main(void) {
    static const check_test tests[] = {
        TEST(test_a_seed_reproduces_the_same_run),
        TEST(test_a_calm_network_decides_every_height_in_round_zero),
        TEST(test_an_equivocating_validator_is_caught_by_correct_nodes),
        TEST(test_a_lock_keeps_the_block_a_crashed_node_decided),
        TEST(test_random_seeds_keep_safety_certificates_the_ledger_and_liveness),
    };
    the_sim = sim_create();
    int rc = check_run(tests, sizeof tests / sizeof tests[0], "sim");
    sim_destroy(the_sim);
    return rc;
}
