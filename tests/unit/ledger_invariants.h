/* ledger_invariants.h: the ledger's accounting, checked over a whole in-memory state (a
 * ledger_state without base, as the fixture builds), shared by the randomized ledger test and
 * the consensus simulator. For budget years 2023..2030 at block time time_ms:
 *   - issued = active + redeemed + revoked + expired, from the vouchers themselves;
 *   - the city and program year rows agree with the vouchers (issued, redeemed, revoked,
 *     issued count), the city row with the sum of its programs;
 *   - redeemed = settled + clawed back + open claims (neither settled nor rejected), clawed
 *     back = the parts of rejected claims; each claim's per-year amounts sum to its amount; a
 *     settled claim was approved and paid at most its amount;
 *   - no remaining amount is negative, active vouchers keep their whole amount, split ones
 *     none; one holding row per active voucher;
 *   - cap use = issued - revoked - clawed back per program; the city row's is the sum of the
 * programs that count toward it and stays within the city cap; the `shared` pool within its cap;
 *   - each holder's quota row of (year, program) = what was issued to that beneficiary or
 *     passed to it by an intermediary (a voucher whose parent had no beneficiary) less what
 *     of it was revoked, within the program's yearly cap per holder; no quota row for a
 *     (year, program, holder) that was never charged anything, unless it is zero.
 * Returns the number of violations (0: all hold); ledger_violations_why also names the
 * first one. */
#ifndef SLQ_LEDGER_INVARIANTS_H
#define SLQ_LEDGER_INVARIANTS_H

#include <string.h>

#include "ledger_fixture.h"

#define YEARS_MAX  8
#define BASE_YEAR  2023
#define QUOTAS_MAX 512

typedef struct {
    int64_t issued, active, expired, redeemed, revoked, open_claims, clawed_back;
    uint64_t count, rejected;
} year_sums;

/* What the vouchers say one beneficiary's quota row of (year, program) must hold. */
typedef struct {
    uint32_t year, program;
    uint8_t holder[CRYPTO_ADDRESS_BYTES];
    int64_t used;
    bool seen; /* a quota row was found for it */
} quota_sum;

typedef struct {
    ledger_state *st; /* to look a voucher's parent up */
    int64_t time_ms;
    year_sums y[YEARS_MAX][P_COUNT];
    quota_sum q[QUOTAS_MAX];
    size_t nq;
    int64_t holding_rows, active_count;
    int bad;
    const char *why; /* the first violation */
} scan;

static inline void scan_bad(scan *s, bool violated, const char *what) {
    if (!violated) return;
    if (s->bad++ == 0) s->why = what;
}

static inline year_sums *year_of(scan *s, uint32_t year, uint32_t program) {
    SLQ_ASSERT(year >= BASE_YEAR && year < BASE_YEAR + YEARS_MAX);
    SLQ_ASSERT(program < P_COUNT);
    return &s->y[year - BASE_YEAR][program];
}

static inline quota_sum *quota_of(scan *s, uint32_t year, uint32_t program, const uint8_t *h) {
    for (size_t i = 0; i < s->nq; i++)
        if (s->q[i].year == year && s->q[i].program == program &&
            memcmp(s->q[i].holder, h, CRYPTO_ADDRESS_BYTES) == 0)
            return &s->q[i];
    SLQ_ASSERT(s->nq < QUOTAS_MAX);
    quota_sum *q = &s->q[s->nq++];
    *q = (quota_sum){.year = year, .program = program};
    memcpy(q->holder, h, CRYPTO_ADDRESS_BYTES);
    return q;
}

/* True when the voucher's beneficiary was charged as it was created: at its issue, or when
 * its parent had none (an intermediary passed it on). */
static inline bool charged_at_creation(scan *s, const Slq__Voucher *x) {
    if (x->parent_id.len == 0) return true;
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, x->parent_id.data, x->parent_id.len);
    const uint8_t *v;
    size_t n;
    SLQ_ASSERT(ledger_state_get(s->st, k.bytes, k.len, &v, &n) == SLQ_OK);
    Slq__Voucher *parent = slq__voucher__unpack(NULL, n, v);
    SLQ_ASSERT(parent != NULL);
    bool charged = parent->beneficiary.len == 0;
    slq__voucher__free_unpacked(parent, NULL);
    return charged;
}

static inline void scan_voucher_quota(scan *s, const Slq__Voucher *x) {
    scan_bad(s, x->beneficiary.len != 0 && x->beneficiary.len != CRYPTO_ADDRESS_BYTES,
             "beneficiary of a wrong length");
    if (x->beneficiary.len != CRYPTO_ADDRESS_BYTES) return; /* none: an intermediary's */
    quota_sum *q = quota_of(s, x->budget_year, x->program, x->beneficiary.data);
    if (charged_at_creation(s, x)) q->used += x->original_fen;
    if (x->state == SLQ__VOUCHER_STATE__VOUCHER_REVOKED) q->used -= x->original_fen;
}

static inline bool scan_voucher(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                                size_t vl) {
    (void) k, (void) kl;
    scan *s = arg;
    Slq__Voucher *x = slq__voucher__unpack(NULL, vl, v);
    SLQ_ASSERT(x != NULL);
    year_sums *y = year_of(s, x->budget_year, x->program);
    if (x->parent_id.len == 0) y->issued += x->original_fen, y->count++;
    scan_bad(s, x->remaining_fen < 0, "negative remaining amount");
    if (x->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE) {
        scan_bad(s, x->remaining_fen != x->original_fen, "active voucher not whole");
        s->active_count++;
        if (ledger_voucher_expired(x, s->time_ms))
            y->expired += x->remaining_fen;
        else
            y->active += x->remaining_fen;
    } else if (x->state == SLQ__VOUCHER_STATE__VOUCHER_REDEEMED) {
        y->redeemed += x->original_fen;
    } else if (x->state == SLQ__VOUCHER_STATE__VOUCHER_REVOKED) {
        y->revoked += x->original_fen;
    } else {
        scan_bad(s, x->state != SLQ__VOUCHER_STATE__VOUCHER_SPLIT || x->remaining_fen != 0,
                 "split voucher keeps an amount");
    }
    scan_voucher_quota(s, x);
    slq__voucher__free_unpacked(x, NULL);
    return true;
}

static inline bool scan_claim(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void) k, (void) kl;
    scan *s = arg;
    Slq__Claim *c = slq__claim__unpack(NULL, vl, v);
    SLQ_ASSERT(c != NULL);
    int64_t sum = 0;
    bool rejected = c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED;
    for (size_t i = 0; i < c->n_years; i++) {
        year_sums *y = year_of(s, c->years[i]->budget_year, c->years[i]->program);
        if (rejected) {
            y->clawed_back += c->years[i]->amount_fen;
            y->rejected++;
        } else if (!c->settled) {
            y->open_claims += c->years[i]->amount_fen;
        }
        sum += c->years[i]->amount_fen;
    }
    scan_bad(s, sum != c->amount_fen, "claim amount is not the sum of its years");
    scan_bad(s, c->settled && c->review != SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED,
             "settled claim was not approved");
    scan_bad(s, c->settled && (c->paid_fen <= 0 || c->paid_fen > c->amount_fen),
             "settled claim paid outside (0, amount]");
    slq__claim__free_unpacked(c, NULL);
    return true;
}

/* A quota row: key 'q' || year u32 || program u32 || holder[20]. */
static inline bool scan_quota(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    scan *s = arg;
    SLQ_ASSERT(kl == 1 + 4 + 4 + CRYPTO_ADDRESS_BYTES);
    Slq__HolderQuota *r = slq__holder_quota__unpack(NULL, vl, v);
    SLQ_ASSERT(r != NULL);
    uint32_t year = (uint32_t) slq_get_be(k + 1, 4), program = (uint32_t) slq_get_be(k + 5, 4);
    quota_sum *q = quota_of(s, year, program, k + 9);
    q->seen = true;
    scan_bad(s, r->used_fen != q->used, "quota row differs from the vouchers");
    scan_bad(s, r->used_fen < 0, "negative quota use");
    int64_t cap = fx_holder_cap((int) program);
    scan_bad(s, cap > 0 && r->used_fen > cap, "quota use over the holder cap");
    slq__holder_quota__free_unpacked(r, NULL);
    return true;
}

static inline bool count_row(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void) k, (void) kl, (void) v, (void) vl;
    ((scan *) arg)->holding_rows++;
    return true;
}

/* Reads a totals row (zeros when absent). */
static inline Slq__YearTotals read_totals(ledger_state *st, slq_key k) {
    Slq__YearTotals t = SLQ__YEAR_TOTALS__INIT;
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(st, k.bytes, k.len, &v, &n) != SLQ_OK) return t;
    Slq__YearTotals *u = slq__year_totals__unpack(NULL, n, v);
    SLQ_ASSERT(u != NULL);
    t = *u;
    t.base.unknown_fields = NULL;
    slq__year_totals__free_unpacked(u, NULL);
    return t;
}

/* Checks a row of (year, program), or the city row, against the vouchers' sums y. */
static inline void row_agrees(scan *s, const Slq__YearTotals *t, const year_sums *y) {
    scan_bad(s, y->issued != y->active + y->expired + y->redeemed + y->revoked,
             "issued != active + expired + redeemed + revoked");
    scan_bad(s, t->issued_fen != y->issued, "issued row differs from the vouchers");
    scan_bad(s, t->issued_count != y->count, "issued count differs from the vouchers");
    scan_bad(s, t->redeemed_fen != y->redeemed, "redeemed row differs from the vouchers");
    scan_bad(s, t->revoked_fen != y->revoked, "revoked row differs from the vouchers");
    scan_bad(s, t->clawed_back_fen != y->clawed_back, "clawed back row differs from the claims");
    scan_bad(s, t->rejected_count != y->rejected, "rejected count differs from the claims");
    scan_bad(s, t->redeemed_fen != t->settled_fen + t->clawed_back_fen + y->open_claims,
             "redeemed != settled + clawed back + open claims");
}

static inline void year_violations(scan *s, ledger_state *st, uint32_t yr) {
    Slq__YearTotals t = read_totals(st, slq_key_year(yr));
    int64_t program_cap_used = 0;
    year_sums all = {0};
    for (uint32_t prog = 0; prog < P_COUNT; prog++) {
        const year_sums *y = &s->y[yr - BASE_YEAR][prog];
        Slq__YearTotals p = read_totals(st, slq_key_program_year(yr, prog));
        if (prog != P_OUTSIDE) program_cap_used += p.cap_used_fen;
        scan_bad(s, prog == P_SHARED && p.cap_used_fen > FX_SHARED_CAP, "shared pool over cap");
        scan_bad(s, p.cap_used_fen != p.issued_fen - p.revoked_fen - p.clawed_back_fen,
                 "program cap use");
        row_agrees(s, &p, y);
        all.issued += y->issued, all.active += y->active, all.expired += y->expired;
        all.redeemed += y->redeemed, all.revoked += y->revoked;
        all.open_claims += y->open_claims, all.count += y->count;
        all.clawed_back += y->clawed_back, all.rejected += y->rejected;
    }
    row_agrees(s, &t, &all);
    scan_bad(s, t.cap_used_fen > FX_CITY_CAP, "city cap exceeded");
    scan_bad(s, t.cap_used_fen != program_cap_used, "city cap use != its programs'");
}

static inline int ledger_violations_why(ledger_state *st, int64_t time_ms, const char **why) {
    scan s;
    memset(&s, 0, sizeof s);
    s.st = st;
    s.time_ms = time_ms;
    uint8_t p = SLQ_KEY_VOUCHER;
    ledger_state_foreach(st, &p, 1, scan_voucher, &s);
    p = SLQ_KEY_CLAIM;
    ledger_state_foreach(st, &p, 1, scan_claim, &s);
    p = SLQ_KEY_HOLDING;
    ledger_state_foreach(st, &p, 1, count_row, &s);
    p = SLQ_KEY_QUOTA;
    ledger_state_foreach(st, &p, 1, scan_quota, &s);
    scan_bad(&s, s.holding_rows != s.active_count, "holding rows != active vouchers");
    for (size_t i = 0; i < s.nq; i++)
        scan_bad(&s, !s.q[i].seen && s.q[i].used != 0, "quota row missing");
    for (uint32_t yr = BASE_YEAR; yr < BASE_YEAR + YEARS_MAX; yr++) year_violations(&s, st, yr);
    if (why != NULL) *why = s.why;
    return s.bad;
}

static inline int ledger_violations(ledger_state *st, int64_t time_ms) {
    return ledger_violations_why(st, time_ms, NULL);
}

#endif
