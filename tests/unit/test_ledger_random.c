/* test_ledger_random.c: thousands of random valid and invalid transactions against the
 * ledger, with the accounting invariants checked after each one:
 *   - per budget year: issued = active + redeemed + revoked + expired (split by block time);
 *   - redeemed = settled + open claims; the year rows agree with the vouchers;
 *   - no remaining amount is negative; active vouchers keep their whole amount;
 *   - no year's cap use exceeds the city cap or a program's pool;
 *   - a rejected transaction leaves the state exactly as it was.
 * The seed is printed on failure; SLQ_SEED=N reruns one seed. */
#include <stdio.h>

#include "check.h"
#include "ledger_invariants.h"

typedef struct {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
static uint64_t below(rng *r, uint64_t n) {
    return rnd(r) % n;
}

/* Checks every invariant of ledger_invariants.h; prints where it failed. */
static int check_invariants(fx *f, uint64_t seed, int step) {
    int bad = ledger_violations(f->st, f->time_ms);
    if (bad != 0)
        fprintf(stderr, "  seed %llu step %d: %d violations\n", (unsigned long long) seed, step,
                bad);
    return bad;
}

typedef struct {
    fx *f;
    rng r;
    uint8_t vouchers[4096][32];
    size_t nv;
    uint8_t claims[1024][32];
    size_t nc;
    int accepted[8];
} world;

static const int holders[] = {K_H1, K_H2, K_H3, K_INTER};
static const int anyone[] = {K_ISSUER,    K_FINANCE, K_CENTRE1, K_CENTRE2, K_INTER,
                             K_REGULATOR, K_H1,      K_H2,      K_H3,      K_STRANGER};
#define PICK(w, arr) (arr)[below(&(w)->r, sizeof(arr) / sizeof((arr)[0]))]

static int64_t random_amount(world *w) {
    switch (below(&w->r, 10)) {
        case 0:
            return -(int64_t) below(&w->r, 100);
        case 1:
            return 0;
        case 2:
            return INT64_MAX - (int64_t) below(&w->r, 2);
        case 3:
            return (int64_t) below(&w->r, 400000000);
        default:
            return 1 + (int64_t) below(&w->r, 5000000);
    }
}

static const uint8_t *some_voucher(world *w) {
    static const uint8_t none[32] = {0x77};
    return w->nv == 0 || below(&w->r, 20) == 0 ? none : w->vouchers[below(&w->r, w->nv)];
}

/* Picks up to 3 active vouchers held by `who` (or random ones sometimes). */
static size_t held_by(world *w, int who, uint8_t ids[3][32]) {
    size_t n = 0, want = 1 + below(&w->r, 3);
    for (size_t tries = 0; tries < 64 && n < want && w->nv > 0; tries++) {
        const uint8_t *id = w->vouchers[w->nv - 1 - below(&w->r, w->nv < 64 ? w->nv : 64)];
        Slq__Voucher *v = fx_voucher(w->f, id);
        bool ok = v != NULL && v->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE &&
                  memcmp(v->holder.data, w->f->addr[who], 20) == 0;
        for (size_t i = 0; ok && i < n; i++) ok = memcmp(ids[i], id, 32) != 0;
        if (ok) memcpy(ids[n++], id, 32);
        if (v != NULL) slq__voucher__free_unpacked(v, NULL);
    }
    if (n == 0) n = 1;
    if (n == 1 || below(&w->r, 10) == 0) memcpy(ids[n - 1], some_voucher(w), 32);
    return n;
}

static void remember_vouchers(world *w) {
    for (size_t i = 0; i < w->f->out.vouchers_count && w->nv < 4096; i++)
        memcpy(w->vouchers[w->nv++], w->f->out.vouchers[i], 32);
}

static slq_err random_tx(world *w, int *kind) {
    fx *f = w->f;
    char ref[32];
    snprintf(ref, sizeof ref, "ref-%llu", (unsigned long long) below(&w->r, 3000));
    *kind = (int) below(&w->r, 6);
    int signer = below(&w->r, 8) == 0 ? PICK(w, anyone) : -1;
    switch (*kind) {
        case 0: {
            fx_issue_args a = {PICK(w, anyone),
                               (int) below(&w->r, P_COUNT),
                               random_amount(w),
                               (int64_t) below(&w->r, 2000000000),
                               below(&w->r, 4) ? NULL : ref,
                               below(&w->r, 5) ? 0
                                               : f->time_ms + (int64_t) below(&w->r, 60 * DAY_MS)};
            if (below(&w->r, 3)) a.to = PICK(w, holders);
            return fx_issue_as(f, signer < 0 ? K_ISSUER : signer, a, NULL);
        }
        case 1: {
            const uint8_t *id = some_voucher(w);
            Slq__Voucher *v = fx_voucher(f, id);
            int holder = K_H1;
            for (int k = 0; v != NULL && k < K_COUNT; k++)
                if (memcmp(v->holder.data, f->addr[k], 20) == 0) holder = k;
            int64_t amt =
                v != NULL && below(&w->r, 3)
                    ? 1 + (int64_t) below(
                              &w->r, (uint64_t) (v->remaining_fen > 0 ? v->remaining_fen : 1) + 1)
                    : random_amount(w);
            if (v != NULL) slq__voucher__free_unpacked(v, NULL);
            int to = below(&w->r, 2) ? (below(&w->r, 2) ? K_CENTRE1 : K_CENTRE2) : PICK(w, anyone);
            return fx_transfer(f, signer < 0 ? holder : signer, id, to, amt);
        }
        case 2: {
            uint8_t ids[3][32];
            int centre = signer < 0 ? (below(&w->r, 2) ? K_CENTRE1 : K_CENTRE2) : signer;
            size_t n = held_by(w, centre, ids);
            return fx_redeem(f, centre, (const uint8_t(*)[32]) ids, n, ref);
        }
        case 3: {
            static const uint8_t none[32] = {0x66};
            const uint8_t *c =
                w->nc == 0 || below(&w->r, 10) == 0 ? none : w->claims[below(&w->r, w->nc)];
            return fx_settle(f, signer < 0 ? K_FINANCE : signer, c, "PAY");
        }
        case 4:
            return fx_revoke(f, signer < 0 ? K_ISSUER : signer, some_voucher(w), "audit finding");
        default: {
            fx_sign(f, K_H1, &(Slq__TxBody) SLQ__TX_BODY__INIT, f->nonce[K_H1] + 1);
            return fx_apply_last(f, K_H1); /* a body with no payload */
        }
    }
}

static void state_digest(fx *f, uint8_t out[32]) {
    ledger_change *c;
    size_t n;
    SLQ_ASSERT(ledger_state_changes(f->st, &c, &n) == SLQ_OK);
    static const uint8_t zero[32];
    ledger_app_hash(f->suite, out, zero, c, n);
    free(c);
}

static int run_seed(uint64_t seed, int steps) {
    static world w;
    fx f;
    fx_init(&f);
    memset(&w, 0, sizeof w);
    w.f = &f;
    w.r.s = seed * 0x9e3779b97f4a7c15ULL + 1;
    SLQ_ASSERT(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(&f, K_H2, SLQ__ROLE__ROLE_RESEARCH, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(&f, K_H3, SLQ__ROLE__ROLE_MAKER, "group-b") == SLQ_OK);
    f.time_ms = cst_ms(2023, 3, 1, 9, 0);
    int bad = 0;
    for (int step = 0; step < steps && bad == 0; step++) {
        f.time_ms += (int64_t) below(&w.r, 16 * 3600000LL);
        uint8_t before[32], after[32];
        bool digest = step % 16 == 0;
        if (digest) state_digest(&f, before);
        int kind;
        slq_err err = random_tx(&w, &kind);
        if (err == SLQ_OK) {
            w.accepted[kind]++;
            remember_vouchers(&w);
            if (f.out.has_claim && w.nc < 1024) memcpy(w.claims[w.nc++], f.out.claim, 32);
        } else if (digest) {
            state_digest(&f, after);
            if (memcmp(before, after, 32) != 0) {
                fprintf(stderr, "  seed %llu step %d: rejected %s changed state\n",
                        (unsigned long long) seed, step, slq_err_name(err));
                bad++;
            }
        }
        if (step % 8 == 0 || step == steps - 1) bad += check_invariants(&f, seed, step);
    }
    printf("seed %llu: accepted issue %d transfer %d redeem %d settle %d revoke %d of %d\n",
           (unsigned long long) seed, w.accepted[0], w.accepted[1], w.accepted[2], w.accepted[3],
           w.accepted[4], steps);
    for (int k = 0; k < 5; k++)
        if (w.accepted[k] == 0) {
            fprintf(stderr, "  seed %llu: no accepted transaction of kind %d\n",
                    (unsigned long long) seed, k);
            bad++;
        }
    fx_deinit(&f);
    return bad;
}

static void test_random_transactions_keep_every_fen_accounted_for(void) {
    const char *env = getenv("SLQ_SEED");
    if (env != NULL) {
        CHECK_EQ_INT(run_seed(strtoull(env, NULL, 10), 3000), 0);
        return;
    }
    for (uint64_t seed = 1; seed <= 4; seed++) {
        int bad = run_seed(seed, 1500);
        if (bad != 0) fprintf(stderr, "  failing seed: SLQ_SEED=%llu\n", (unsigned long long) seed);
        CHECK_EQ_INT(bad, 0);
    }
}

TEST_MAIN("ledger-random", TEST(test_random_transactions_keep_every_fen_accounted_for))
