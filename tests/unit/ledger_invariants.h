/* ledger_invariants.h: the ledger's accounting, checked over a whole in-memory state (a
 * ledger_state without base, as the fixture builds), shared by the randomized ledger test and
 * the consensus simulator. For budget years 2023..2030 at block time time_ms:
 *   - issued = active + redeemed + revoked + expired, from the vouchers themselves;
 *   - the city and program year rows agree with the vouchers (issued, redeemed, revoked);
 *   - redeemed = settled + open claims; each claim's per-year amounts sum to its amount;
 *   - no remaining amount is negative, active vouchers keep their whole amount, split ones
 *     none; one holding row per active voucher;
 *   - cap use = issued - revoked per program; the city row's is the sum of the programs that
 *     count toward it and stays within the city cap; the `shared` pool within its cap.
 * Returns the number of violations (0: all hold). */
#ifndef SLQ_LEDGER_INVARIANTS_H
#define SLQ_LEDGER_INVARIANTS_H

#include <string.h>

#include "ledger_fixture.h"

#define YEARS_MAX 8
#define BASE_YEAR 2023

typedef struct {
    int64_t issued, active, expired, redeemed, revoked, open_claims;
} year_sums;

typedef struct {
    int64_t time_ms;
    year_sums y[YEARS_MAX];
    int64_t holding_rows, active_count;
    int bad;
} scan;

static inline year_sums *year_of(scan *s, uint32_t year) {
    SLQ_ASSERT(year >= BASE_YEAR && year < BASE_YEAR + YEARS_MAX);
    return &s->y[year - BASE_YEAR];
}

static inline bool scan_voucher(void *arg, const uint8_t *k, size_t kl, const uint8_t *v,
                                size_t vl) {
    (void) k, (void) kl;
    scan *s = arg;
    Slq__Voucher *x = slq__voucher__unpack(NULL, vl, v);
    SLQ_ASSERT(x != NULL);
    year_sums *y = year_of(s, x->budget_year);
    if (x->parent_id.len == 0) y->issued += x->original_fen;
    if (x->remaining_fen < 0) s->bad++;
    if (x->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE) {
        if (x->remaining_fen != x->original_fen) s->bad++;
        s->active_count++;
        if (ledger_voucher_expired(x, s->time_ms))
            y->expired += x->remaining_fen;
        else
            y->active += x->remaining_fen;
    } else if (x->state == SLQ__VOUCHER_STATE__VOUCHER_REDEEMED) {
        y->redeemed += x->original_fen;
    } else if (x->state == SLQ__VOUCHER_STATE__VOUCHER_REVOKED) {
        y->revoked += x->original_fen;
    } else if (x->state != SLQ__VOUCHER_STATE__VOUCHER_SPLIT || x->remaining_fen != 0) {
        s->bad++;
    }
    slq__voucher__free_unpacked(x, NULL);
    return true;
}

static inline bool scan_claim(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void) k, (void) kl;
    scan *s = arg;
    Slq__Claim *c = slq__claim__unpack(NULL, vl, v);
    SLQ_ASSERT(c != NULL);
    int64_t sum = 0;
    for (size_t i = 0; i < c->n_years; i++) {
        if (!c->settled)
            year_of(s, c->years[i]->budget_year)->open_claims += c->years[i]->amount_fen;
        sum += c->years[i]->amount_fen;
    }
    if (sum != c->amount_fen) s->bad++;
    slq__claim__free_unpacked(c, NULL);
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

static inline int year_violations(ledger_state *st, const year_sums *y, uint32_t yr) {
    Slq__YearTotals t = read_totals(st, slq_key_year(yr));
    int64_t program_cap_used = 0;
    int bad = 0;
    for (uint32_t prog = 0; prog < P_COUNT; prog++) {
        Slq__YearTotals p = read_totals(st, slq_key_program_year(yr, prog));
        if (prog != P_OUTSIDE) program_cap_used += p.cap_used_fen;
        bad += (prog == P_SHARED && p.cap_used_fen > FX_SHARED_CAP);
        bad += (p.cap_used_fen != p.issued_fen - p.revoked_fen);
    }
    bad += (y->issued != y->active + y->expired + y->redeemed + y->revoked) +
           (t.issued_fen != y->issued) + (t.redeemed_fen != y->redeemed) +
           (t.revoked_fen != y->revoked) + (t.redeemed_fen != t.settled_fen + y->open_claims) +
           (t.cap_used_fen > FX_CITY_CAP) + (t.cap_used_fen != program_cap_used);
    return bad;
}

static inline int ledger_violations(ledger_state *st, int64_t time_ms) {
    scan s;
    memset(&s, 0, sizeof s);
    s.time_ms = time_ms;
    uint8_t p = SLQ_KEY_VOUCHER;
    ledger_state_foreach(st, &p, 1, scan_voucher, &s);
    p = SLQ_KEY_CLAIM;
    ledger_state_foreach(st, &p, 1, scan_claim, &s);
    p = SLQ_KEY_HOLDING;
    ledger_state_foreach(st, &p, 1, count_row, &s);
    int bad = s.bad + (s.holding_rows != s.active_count);
    for (uint32_t yr = BASE_YEAR; yr < BASE_YEAR + YEARS_MAX; yr++)
        bad += year_violations(st, &s.y[yr - BASE_YEAR], yr);
    return bad;
}

#endif
