/* test_ledger_random.c: thousands of random valid and invalid transactions against the
 * ledger, each one predicted by a model of the rules that the test keeps itself (its own
 * accounts, vouchers, claims, year totals, holder quotas and used references; it never asks
 * the ledger what a rule says):
 *   - before each transaction the model names the code the ledger must return, SLQ_OK or the
 *     exact refusal: signer roles; transfer edges (holder -> centre and intermediary ->
 *     holder in every program, holder -> holder only in the transferable one); payment to a
 *     centre the voucher's program does not name (and redemption by one); payment to a
 *     related centre; the share of cost (amount <= floor(cost x bp / 10000)); the city,
 *     pool and per-holder yearly caps, the latter charged to the first holder-class party
 *     that gets a voucher (at issue, or when an intermediary passes it on); expiry at block
 *     time; an application reference used once, a contract reference used once whatever its
 *     spelling (case, ASCII spaces and U+3000 anywhere, full-width forms: the model writes one
 *     reference in many ways and knows which one it is), and one that is nothing but
 *     whitespace refused; a voucher paid to a centre never revoked; sums that would overflow;
 *     a claim reviewed once, by finance or the regulator, with a reason; settled only once
 *     approved, for at most its amount (0: all of it), by a payer the policy lists; a
 *     rejected claim's parts clawed back into their years' pools (cap use down by them);
 *   - after every refused transaction the whole state (every row, deletions included) is
 *     byte-identical to what it was before it;
 *   - after every accepted one the rows it touched equal the model's, and every 64 steps
 *     all rows do (vouchers, city, program and quota rows, claims, references, row counts);
 *   - every 4 steps the accounting invariants of ledger_invariants.h hold.
 * The generator aims at the edges: amounts at the share limit and one fen over, block times
 * exactly at an expiry, references drawn from a small set, amounts that fill a year's sums.
 * The seed is printed on failure; SLQ_SEED=N reruns one seed. */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"
#include "ledger_invariants.h"
#include "slq/limits.h"

#define VOUCHERS_MAX  8192
#define CLAIMS_MAX    2048
#define APP_REFS      48 /* application references "ref-N" drawn from a small set */
#define CONTRACT_REFS 64 /* contract references likewise */
#define CODES         160
#define APPS_MAX      2048
#define CONTRACTS     16   /* contracts applied for, "hc-N", written in many ways */
#define NONE          (-1) /* an id that names nothing */

/* ------------------------------------------------------------------ model */

typedef enum { MV_ACTIVE, MV_SPLIT, MV_REDEEMED, MV_REVOKED } mstate;

typedef struct {
    uint8_t id[32];
    int holder, program; /* keys and program of the fixture */
    int beneficiary;     /* whose quota it uses: the first holder-class party to get it, or NONE */
    uint32_t year, hops;
    int64_t amount; /* original; also what remains while active */
    int64_t expires_ms;
    mstate state;
} mvoucher;

typedef struct {
    int64_t issued, revoked, redeemed, settled, transferred, cap_used, clawed_back;
    uint64_t count, rejected;
} mtotals;

typedef enum { MC_OPEN, MC_APPROVED, MC_REJECTED } mreview;

typedef struct {
    uint8_t id[32];
    int64_t amount, by[YEARS_MAX][P_COUNT];
    bool settled;
    mreview review;
    int64_t paid;
    const char *payer;
} mclaim;

typedef enum { MA_OPEN, MA_ISSUED, MA_REJECTED } mastate;

typedef struct {
    uint8_t id[32];
    int applicant, program, contract;
    int64_t asked, issued, cost;
    mastate state;
} mapp;

/* A contract across its applications: the first fixes applicant, program and cost. */
typedef struct {
    bool used;
    int applicant, program;
    int64_t cost, asked, issued;
    uint32_t apps;
} mcontract;

typedef struct {
    bool registered[K_COUNT];
    Slq__Role role[K_COUNT];
    const char *affiliation[K_COUNT];
    int code_owner[K_COUNT]; /* by credit code (fx_credit_code(c)): the key holding it, or NONE */
    mvoucher v[VOUCHERS_MAX];
    size_t nv;
    mclaim c[CLAIMS_MAX];
    size_t nc;
    mtotals city[YEARS_MAX], prog[YEARS_MAX][P_COUNT];
    int64_t quota[YEARS_MAX][P_COUNT][K_COUNT];
    bool app_ref[APP_REFS], contract_ref[CONTRACT_REFS];
    uint64_t txs, issues; /* accepted: tx rows, application reference rows */
    mapp a[APPS_MAX];
    size_t na;
    mcontract k[CONTRACTS];
    bool apps_required; /* national-major issues only against applications (seeds 3, 7, ..) */
} model;

static void model_init(model *m) {
    memset(m, 0, sizeof *m);
    static const Slq__Role roles[] = {SLQ__ROLE__ROLE_ISSUER,       SLQ__ROLE__ROLE_FINANCE,
                                      SLQ__ROLE__ROLE_CENTRE,       SLQ__ROLE__ROLE_CENTRE,
                                      SLQ__ROLE__ROLE_INTERMEDIARY, SLQ__ROLE__ROLE_REGULATOR};
    for (int k = 0; k < K_COUNT; k++) m->affiliation[k] = "";
    for (int k = 0; k <= K_REGULATOR; k++) m->registered[k] = true, m->role[k] = roles[k];
    m->affiliation[K_CENTRE2] = "group-b";
    for (int c = 0; c < K_COUNT; c++) m->code_owner[c] = NONE;
    m->code_owner[K_INTER] = K_INTER; /* the fixture genesis gives it its code */
}

/* The CST budget year of t, by the calendar of the fixture. */
static uint32_t budget_year(int64_t t) {
    SLQ_ASSERT(t >= cst_ms(BASE_YEAR, 1, 1, 0, 0));
    SLQ_ASSERT(t < cst_ms(BASE_YEAR + YEARS_MAX, 1, 1, 0, 0));
    uint32_t y = BASE_YEAR;
    while (t >= cst_ms((int) y + 1, 1, 1, 0, 0)) y++;
    return y;
}

typedef enum { PARTY_NONE, PARTY_HOLDER, PARTY_CENTRE, PARTY_INTERMEDIARY } party;

static party party_of_role(Slq__Role r) {
    switch (r) {
        case SLQ__ROLE__ROLE_CENTRE:
            return PARTY_CENTRE;
        case SLQ__ROLE__ROLE_INTERMEDIARY:
            return PARTY_INTERMEDIARY;
        case SLQ__ROLE__ROLE_ENTERPRISE:
        case SLQ__ROLE__ROLE_MAKER:
        case SLQ__ROLE__ROLE_RESEARCH:
        case SLQ__ROLE__ROLE_UNIVERSITY:
            return PARTY_HOLDER;
        default:
            return PARTY_NONE;
    }
}

static bool can_hold(Slq__Role r) {
    return party_of_role(r) == PARTY_HOLDER || party_of_role(r) == PARTY_INTERMEDIARY;
}

/* The fixture's edges: holder -> centre and intermediary -> holder in every program, holder ->
 * holder only in `shared`, the transferable one. */
static bool edge_ok(int program, Slq__Role from, Slq__Role to) {
    party f = party_of_role(from), t = party_of_role(to);
    if (f == PARTY_HOLDER && t == PARTY_CENTRE) return true;
    if (f == PARTY_INTERMEDIARY && t == PARTY_HOLDER) return true;
    return program == P_SHARED && f == PARTY_HOLDER && t == PARTY_HOLDER;
}

/* The centres a program names in the fixture genesis: centre-1 and centre-2, `outside` only
 * centre-1; a centre registered later is named by none. */
static bool centre_named(int program, int who) {
    return who == K_CENTRE1 || (who == K_CENTRE2 && program != P_OUTSIDE);
}

/* Paying a centre of one's own group. */
static bool related(const model *m, int from, int to) {
    return m->role[to] == SLQ__ROLE__ROLE_CENTRE && m->affiliation[to][0] != '\0' &&
           strcmp(m->affiliation[to], m->affiliation[from]) == 0;
}

/* floor(cost x bp / 10000): what a program with a share of cost lets an issue be worth. */
static int64_t share_limit(int64_t cost) {
    SLQ_ASSERT(cost >= 0 && cost < INT64_MAX / FX_SHARE_BP);
    return cost * FX_SHARE_BP / 10000;
}

static bool sum_overflows(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r);
}

/* The instant after which nobody can use v: its expiry, or, for a centre redeeming it
 * (`grace`), its expiry + the program's grace (INT64_MAX on overflow). */
static int64_t dead_at(const mvoucher *v, bool grace) {
    int64_t end;
    if (!grace) return v->expires_ms;
    if (__builtin_add_overflow(v->expires_ms, fx_redeem_grace(v->program), &end)) return INT64_MAX;
    return end;
}

static slq_err expect_spendable(const mvoucher *v, int64_t t, bool grace) {
    if (v->state == MV_REVOKED) return SLQ_VOUCHER_REVOKED;
    if (v->state == MV_REDEEMED) return SLQ_VOUCHER_REDEEMED;
    if (v->state == MV_SPLIT) return SLQ_VOUCHER_SPLIT;
    return t >= dead_at(v, grace) ? SLQ_VOUCHER_EXPIRED : SLQ_OK;
}

/* ------------------------------------------------------------------ predictions */

typedef struct {
    int signer, to, program;
    int64_t amount, cost, expires_ms;
    int ref; /* index of "ref-N", or NONE: a fresh reference */
    int app; /* the application it grants (model index), or NONE: a direct issue */
} issue_args;

typedef struct {
    int signer, program; /* program -1: an unknown one */
    int64_t amount, cost;
    int contract; /* index of "hc-N" */
    bool blank;   /* the contract reference is nothing but whitespace */
} apply_args;

typedef struct {
    int signer, voucher, to; /* voucher: model index or NONE */
    int64_t amount;
} transfer_args;

typedef struct {
    int signer, ids[3]; /* model indexes or NONE */
    size_t n;
    int ref;    /* index of "ref-N", or NONE: a fresh reference */
    bool blank; /* the reference is nothing but whitespace */
} redeem_args;

static slq_err expect_caps(const model *m, const issue_args *a, uint32_t year) {
    const mtotals *city = &m->city[year - BASE_YEAR];
    const mtotals *prog = &m->prog[year - BASE_YEAR][a->program];
    if (a->program != P_OUTSIDE && a->amount > FX_CITY_CAP - city->cap_used)
        return SLQ_CITY_CAP_EXCEEDED;
    if (a->program == P_SHARED && a->amount > FX_SHARED_CAP - prog->cap_used)
        return SLQ_PROGRAM_CAP_EXCEEDED;
    int64_t cap = fx_holder_cap(a->program);
    if (cap > 0 && party_of_role(m->role[a->to]) == PARTY_HOLDER && /* not an intermediary */
        a->amount > cap - m->quota[year - BASE_YEAR][a->program][a->to])
        return SLQ_HOLDER_CAP_EXCEEDED;
    return sum_overflows(city->issued, a->amount) ? SLQ_AMOUNT_OVERFLOW : SLQ_OK;
}

static slq_err expect_issue(const model *m, const issue_args *a, int64_t t) {
    if (m->role[a->signer] != SLQ__ROLE__ROLE_ISSUER) return SLQ_ROLE_FORBIDDEN;
    if (a->amount <= 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    if (a->cost < 0) return SLQ_FIELD_INVALID;
    if (a->program == P_NATIONAL && m->apps_required) return SLQ_APPLICATION_REQUIRED;
    if (t < fx_valid_from_ms() || t >= fx_valid_until_ms()) return SLQ_POLICY_WINDOW_CLOSED;
    if (!m->registered[a->to]) return SLQ_ACCOUNT_UNKNOWN;
    if (!can_hold(m->role[a->to])) return SLQ_HOLDER_CANNOT_HOLD;
    if (a->program == P_NATIONAL || a->program == P_PROVINCIAL) {
        if (a->cost == 0) return SLQ_COST_REQUIRED;
        if (a->amount > share_limit(a->cost)) return SLQ_SHARE_EXCEEDED;
    }
    if (a->ref != NONE && m->app_ref[a->ref]) return SLQ_APPLICATION_REF_USED;
    if (a->expires_ms != 0 && (a->expires_ms <= t || a->expires_ms > fx_valid_until_ms() ||
                               (a->program == P_SHARED && a->expires_ms > t + FX_SHARED_EXPIRY_MS)))
        return SLQ_EXPIRY_INVALID;
    return expect_caps(m, a, budget_year(t));
}

/* A voucher no holder-class party has received yet (an intermediary's) becomes the
 * recipient's when that is one: its quota is charged then. */
static bool charged_on_transfer(const model *m, const mvoucher *v, int to) {
    return v->beneficiary == NONE && party_of_role(m->role[to]) == PARTY_HOLDER;
}

/* APPLY: a holder-class signer, a known program inside the window, an amount, a cost where
 * the program has a share, and the contract's first applicant, program and cost. */
static slq_err expect_apply(const model *m, const apply_args *a, int64_t t) {
    if (!can_hold(m->role[a->signer])) return SLQ_ROLE_FORBIDDEN;
    if (a->program < 0) return SLQ_PROGRAM_UNKNOWN;
    if (t < fx_valid_from_ms() || t >= fx_valid_until_ms()) return SLQ_POLICY_WINDOW_CLOSED;
    if (a->amount <= 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    if (a->cost < 0) return SLQ_FIELD_INVALID;
    bool share = a->program == P_NATIONAL || a->program == P_PROVINCIAL;
    if (share && a->cost == 0) return SLQ_COST_REQUIRED;
    if (share && a->amount > share_limit(a->cost)) return SLQ_SHARE_EXCEEDED;
    if (a->amount > FX_CITY_CAP) return SLQ_CITY_CAP_EXCEEDED;
    if (a->blank) return SLQ_CONTRACT_REF_INVALID;
    const mcontract *k = &m->k[a->contract];
    if (k->used && (k->applicant != a->signer || k->program != a->program || k->cost != a->cost))
        return SLQ_APPLICATION_MISMATCH;
    return k->used && sum_overflows(k->asked, a->amount) ? SLQ_AMOUNT_OVERFLOW : SLQ_OK;
}

/* ISSUE against application a->app: open, at most the amount asked, the share counted over
 * the whole contract, then the rules of every issue (window, caps). */
static slq_err expect_issue_app(const model *m, const issue_args *a, int64_t t) {
    if (m->role[a->signer] != SLQ__ROLE__ROLE_ISSUER) return SLQ_ROLE_FORBIDDEN;
    if (a->app == NONE) return SLQ_APPLICATION_UNKNOWN;
    const mapp *ap = &m->a[a->app];
    if (ap->state != MA_OPEN) return SLQ_APPLICATION_CLOSED;
    if (a->amount > ap->asked) return SLQ_APPLICATION_MISMATCH;
    if (a->amount <= 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    if (t < fx_valid_from_ms() || t >= fx_valid_until_ms()) return SLQ_POLICY_WINDOW_CLOSED;
    if (a->program == P_NATIONAL || a->program == P_PROVINCIAL) {
        if (a->amount > share_limit(a->cost) - m->k[ap->contract].issued) return SLQ_SHARE_EXCEEDED;
    }
    return expect_caps(m, a, budget_year(t));
}

static slq_err expect_reject_app(const model *m, int signer, int app, bool blank) {
    if (m->role[signer] != SLQ__ROLE__ROLE_ISSUER) return SLQ_ROLE_FORBIDDEN;
    if (blank) return SLQ_FIELD_INVALID;
    if (app == NONE) return SLQ_APPLICATION_UNKNOWN;
    return m->a[app].state == MA_OPEN ? SLQ_OK : SLQ_APPLICATION_CLOSED;
}

static slq_err expect_transfer(const model *m, const transfer_args *a, int64_t t) {
    if (a->amount <= 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    if (a->voucher == NONE) return SLQ_VOUCHER_UNKNOWN;
    const mvoucher *v = &m->v[a->voucher];
    if (v->holder != a->signer) return SLQ_NOT_HOLDER;
    slq_err err = expect_spendable(v, t, false);
    if (err != SLQ_OK) return err;
    if (a->amount > v->amount) return SLQ_AMOUNT_EXCEEDS_REMAINING;
    if (a->to == a->signer) return SLQ_SELF_TRANSFER;
    if (!m->registered[a->to]) return SLQ_ACCOUNT_UNKNOWN;
    if (!edge_ok(v->program, m->role[a->signer], m->role[a->to])) return SLQ_EDGE_NOT_ALLOWED;
    if (m->role[a->to] == SLQ__ROLE__ROLE_CENTRE && !centre_named(v->program, a->to))
        return SLQ_CENTRE_NOT_NAMED;
    if (related(m, a->signer, a->to)) return SLQ_RELATED_PARTY;
    int64_t cap = fx_holder_cap(v->program);
    if (charged_on_transfer(m, v, a->to) && cap > 0 &&
        a->amount > cap - m->quota[v->year - BASE_YEAR][v->program][a->to])
        return SLQ_HOLDER_CAP_EXCEEDED;
    if (sum_overflows(m->city[v->year - BASE_YEAR].transferred, a->amount))
        return SLQ_AMOUNT_OVERFLOW;
    return SLQ_OK;
}

static slq_err expect_redeem(const model *m, const redeem_args *a, int64_t t) {
    if (m->role[a->signer] != SLQ__ROLE__ROLE_CENTRE) return SLQ_ROLE_FORBIDDEN;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < i; j++)
            if (a->ids[i] == a->ids[j]) return SLQ_VOUCHER_LISTED_TWICE;
    if (a->blank) return SLQ_CONTRACT_REF_INVALID;
    if (a->ref != NONE && m->contract_ref[a->ref]) return SLQ_CONTRACT_REF_USED;
    int64_t sum = 0, added[YEARS_MAX] = {0};
    for (size_t i = 0; i < a->n; i++) {
        if (a->ids[i] == NONE) return SLQ_VOUCHER_UNKNOWN;
        const mvoucher *v = &m->v[a->ids[i]];
        if (v->holder != a->signer) return SLQ_NOT_HOLDER;
        slq_err err = expect_spendable(v, t, true); /* a centre redeems within the grace */
        if (err != SLQ_OK) return err;
        if (!centre_named(v->program, a->signer)) return SLQ_CENTRE_NOT_NAMED;
        int64_t *year = &added[v->year - BASE_YEAR];
        if (sum_overflows(sum, v->amount) ||
            sum_overflows(m->city[v->year - BASE_YEAR].redeemed + *year, v->amount))
            return SLQ_AMOUNT_OVERFLOW;
        sum += v->amount;
        *year += v->amount;
    }
    return SLQ_OK;
}

/* The payers the fixture's policy lists. */
static bool payer_listed(const char *payer) {
    return strcmp(payer, FX_PAYER_CITY) == 0 || strcmp(payer, FX_PAYER_DISTRICT) == 0;
}

static slq_err expect_settle(const model *m, int signer, int claim, int64_t amount,
                             const char *payer) {
    if (m->role[signer] != SLQ__ROLE__ROLE_FINANCE) return SLQ_ROLE_FORBIDDEN;
    if (payer[0] == '\0') return SLQ_FIELD_INVALID;
    if (!payer_listed(payer)) return SLQ_PAYER_UNKNOWN;
    if (claim == NONE) return SLQ_CLAIM_UNKNOWN;
    const mclaim *c = &m->c[claim];
    if (c->settled) return SLQ_CLAIM_SETTLED;
    if (c->review != MC_APPROVED) return SLQ_CLAIM_NOT_APPROVED;
    if (amount < 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    return amount > c->amount ? SLQ_AMOUNT_EXCEEDS_CLAIM : SLQ_OK;
}

static slq_err expect_review(const model *m, int signer, int claim, bool blank) {
    if (m->role[signer] != SLQ__ROLE__ROLE_FINANCE && m->role[signer] != SLQ__ROLE__ROLE_REGULATOR)
        return SLQ_ROLE_FORBIDDEN;
    if (blank) return SLQ_FIELD_INVALID;
    if (claim == NONE) return SLQ_CLAIM_UNKNOWN;
    if (m->c[claim].settled) return SLQ_CLAIM_SETTLED;
    return m->c[claim].review != MC_OPEN ? SLQ_CLAIM_REVIEWED : SLQ_OK;
}

static slq_err expect_revoke(const model *m, int signer, int voucher, int64_t t) {
    if (m->role[signer] != SLQ__ROLE__ROLE_ISSUER) return SLQ_ROLE_FORBIDDEN;
    if (voucher == NONE) return SLQ_VOUCHER_UNKNOWN;
    slq_err err = expect_spendable(&m->v[voucher], t, false);
    if (err != SLQ_OK) return err;
    return m->role[m->v[voucher].holder] == SLQ__ROLE__ROLE_CENTRE ? SLQ_VOUCHER_PAID : SLQ_OK;
}

/* `code` is the credit code given (fx_credit_code(code)) or NONE. Holder-class parties need
 * one, and one no other account registered; other roles may give any or none. */
static slq_err expect_register(const model *m, int signer, int who, Slq__Role role, int code) {
    if (m->role[signer] != SLQ__ROLE__ROLE_ISSUER) return SLQ_ROLE_FORBIDDEN;
    if (role < SLQ__ROLE__ROLE_CENTRE || role > SLQ__ROLE__ROLE_REGULATOR) return SLQ_ROLE_INVALID;
    if (can_hold(role) && code == NONE) return SLQ_CREDIT_CODE_REQUIRED;
    if (m->registered[who]) return SLQ_ACCOUNT_EXISTS;
    return can_hold(role) && m->code_owner[code] != NONE ? SLQ_CREDIT_CODE_USED : SLQ_OK;
}

/* Wraps a prediction: an unregistered signer is refused before any rule. */
static slq_err expect_signed(const model *m, int signer, slq_err rule) {
    return m->registered[signer] ? rule : SLQ_SIGNER_UNKNOWN;
}

/* ------------------------------------------------------------------ the world */

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

/* The whole state, serialized in key order: every row written, deletions included. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
} snapshot;

enum {
    KIND_ISSUE,
    KIND_TRANSFER,
    KIND_REDEEM,
    KIND_SETTLE,
    KIND_REVOKE,
    KIND_REGISTER,
    KIND_NO_PAYLOAD,
    KIND_APPLY,
    KIND_ISSUE_APP,
    KIND_REJECT_APP,
    KIND_REVIEW,
    KINDS
};

typedef struct {
    fx *f;
    model m;
    rng r;
    uint64_t seed;
    int step, bad;
    int accepted[KINDS];
    int *seen;  /* refusals by code, over all seeds */
    int *edges; /* [0] accepted at the share limit, [1] refused one fen over, [2]
                   transactions at the exact instant a voucher expires, [3] transfers refused
                   over the recipient's holder cap, [4] issues against an application
                   accepted exactly at its contract's share, [5] refused one fen over it with
                   an earlier issue on the contract, [6] vouchers redeemed by a centre
                   after their expiry (in the grace), [7] transactions on a centre's voucher at
                   the very instant its grace ends */
    snapshot before, after;
    int expiring;   /* a voucher expiring at this very block time, or NONE */
    unsigned fresh; /* fresh contract references */
} world;

static const int holders[] = {K_H1, K_H2, K_H3, K_INTER};
static const int anyone[] = {K_ISSUER,    K_FINANCE, K_CENTRE1, K_CENTRE2, K_INTER,
                             K_REGULATOR, K_H1,      K_H2,      K_H3,      K_STRANGER};
#define PICK(w, arr) (arr)[below(&(w)->r, sizeof(arr) / sizeof((arr)[0]))]

static void fail(world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports one disagreement with the seed and step that reproduce it. */
static void fail(world *w, const char *fmt, ...) {
    fprintf(stderr, "  seed %llu step %d: ", (unsigned long long) w->seed, w->step);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    w->bad++;
}

/* Compares what the ledger said with what the model predicted. */
static void judge(world *w, const char *what, slq_err got, slq_err want) {
    if (got == want) return;
    fail(w, "%s: ledger says %s, model says %s (%s)", what, slq_err_name(got), slq_err_name(want),
         got != SLQ_OK ? w->f->out.reason : "accepted");
}

/* The signer of a transaction: usually the right one, sometimes anybody. */
static int signer_or(world *w, int right) {
    return below(&w->r, 12) == 0 ? PICK(w, anyone) : right;
}

static int64_t random_amount(world *w) {
    switch (below(&w->r, 16)) {
        case 0:
            return -(int64_t) below(&w->r, 100);
        case 1:
            return 0;
        case 2:
            return INT64_MAX - (int64_t) below(&w->r, 2);
        case 3:
            return INT64_MAX / 4 + (int64_t) below(&w->r, 1000);
        case 4:
        case 5:
            return (int64_t) below(&w->r, 400000000);
        default:
            return 1 + (int64_t) below(&w->r, 5000000);
    }
}

static void snapshot_take(fx *f, snapshot *s) {
    ledger_change *c;
    size_t n;
    SLQ_ASSERT(ledger_state_changes(f->st, &c, &n) == SLQ_OK);
    s->len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t need = s->len + 1 + c[i].key_len + 1 + sizeof(size_t) + c[i].value_len;
        if (need > s->cap) {
            s->cap = need * 2;
            s->buf = realloc(s->buf, s->cap);
            SLQ_ASSERT(s->buf != NULL);
        }
        uint8_t present = c[i].value != NULL;
        s->buf[s->len++] = (uint8_t) c[i].key_len;
        memcpy(s->buf + s->len, c[i].key, c[i].key_len);
        s->len += c[i].key_len;
        s->buf[s->len++] = present;
        memcpy(s->buf + s->len, &c[i].value_len, sizeof(size_t));
        s->len += sizeof(size_t);
        if (c[i].value_len > 0) memcpy(s->buf + s->len, c[i].value, c[i].value_len);
        s->len += c[i].value_len;
    }
    free(c);
}

/* The family letter of the first row at which two snapshots differ. */
static char first_difference(const snapshot *a, const snapshot *b) {
    size_t at = 0;
    while (at < a->len && at < b->len && a->buf[at] == b->buf[at]) at++;
    const snapshot *s = at < b->len ? b : a;
    size_t row = 0, next = 0;
    while (next <= at && next < s->len) {
        row = next;
        size_t klen = s->buf[next], vlen;
        memcpy(&vlen, s->buf + next + 1 + klen + 1, sizeof vlen);
        next += 1 + klen + 1 + sizeof(size_t) + vlen;
    }
    return (char) s->buf[row + 1];
}

/* ------------------------------------------------------------------ the state against the model */

static Slq__VoucherState row_state(mstate s) {
    static const Slq__VoucherState map[] = {
        SLQ__VOUCHER_STATE__VOUCHER_ACTIVE, SLQ__VOUCHER_STATE__VOUCHER_SPLIT,
        SLQ__VOUCHER_STATE__VOUCHER_REDEEMED, SLQ__VOUCHER_STATE__VOUCHER_REVOKED};
    return map[s];
}

static bool is_addr_of(const ProtobufCBinaryData *b, const fx *f, int who) {
    return b->len == CRYPTO_ADDRESS_BYTES && memcmp(b->data, f->addr[who], b->len) == 0;
}

static bool row_present(fx *f, slq_key k) {
    const uint8_t *v;
    size_t n;
    return ledger_state_get(f->st, k.bytes, k.len, &v, &n) == SLQ_OK;
}

/* The voucher row and its holding row say what the model says. */
static void check_voucher(world *w, size_t i) {
    const mvoucher *mv = &w->m.v[i];
    Slq__Voucher *v = fx_voucher(w->f, mv->id);
    bool ok = v != NULL && is_addr_of(&v->holder, w->f, mv->holder) &&
              (mv->beneficiary == NONE ? v->beneficiary.len == 0
                                       : is_addr_of(&v->beneficiary, w->f, mv->beneficiary)) &&
              v->program == (uint32_t) mv->program && v->budget_year == mv->year &&
              v->original_fen == mv->amount &&
              v->remaining_fen == (mv->state == MV_ACTIVE ? mv->amount : 0) &&
              v->expires_at_ms == mv->expires_ms && v->state == row_state(mv->state) &&
              v->hops == mv->hops;
    if (v != NULL) slq__voucher__free_unpacked(v, NULL);
    ok = ok && row_present(w->f, slq_key_holding(w->f->addr[mv->holder], mv->id)) ==
                   (mv->state == MV_ACTIVE);
    if (!ok) fail(w, "voucher %zu (model index) differs from the model", i);
}

static bool totals_equal(const Slq__YearTotals *t, const mtotals *m) {
    return t->issued_fen == m->issued && t->revoked_fen == m->revoked &&
           t->redeemed_fen == m->redeemed && t->settled_fen == m->settled &&
           t->transferred_fen == m->transferred && t->cap_used_fen == m->cap_used &&
           t->issued_count == m->count && t->clawed_back_fen == m->clawed_back &&
           t->rejected_count == m->rejected;
}

static int64_t quota_row(fx *f, uint32_t year, int program, int who) {
    slq_key k = slq_key_quota(year, (uint32_t) program, f->addr[who]);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return 0;
    Slq__HolderQuota *q = slq__holder_quota__unpack(NULL, n, v);
    SLQ_ASSERT(q != NULL);
    int64_t used = q->used_fen;
    slq__holder_quota__free_unpacked(q, NULL);
    return used;
}

/* The city row, the program rows and every holder's quota rows of a year. */
static void check_year(world *w, uint32_t year) {
    size_t y = year - BASE_YEAR;
    char what[64];
    Slq__YearTotals t = read_totals(w->f->st, slq_key_year(year));
    snprintf(what, sizeof what, "city %u", year);
    if (!totals_equal(&t, &w->m.city[y])) fail(w, "%s row differs from the model", what);
    for (int p = 0; p < P_COUNT; p++) {
        t = read_totals(w->f->st, slq_key_program_year(year, (uint32_t) p));
        snprintf(what, sizeof what, "program %d %u", p, year);
        if (!totals_equal(&t, &w->m.prog[y][p])) fail(w, "%s row differs from the model", what);
        for (int k = 0; k < K_COUNT; k++) {
            if (quota_row(w->f, year, p, k) == w->m.quota[y][p][k]) continue;
            snprintf(what, sizeof what, "quota of key %d, program %d, %u", k, p, year);
            fail(w, "%s differs from the model", what);
        }
    }
}

static slq_key ref_row(fx *f, uint8_t family, int n) {
    char ref[16];
    snprintf(ref, sizeof ref, "ref-%d", n);
    uint8_t h[CRYPTO_HASH_BYTES];
    crypto_hash(f->suite, h, (const uint8_t *) ref, strlen(ref));
    return slq_key_bytes(family, h, CRYPTO_HASH_BYTES);
}

static void check_claim(world *w, size_t i) {
    const mclaim *mc = &w->m.c[i];
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, mc->id, 32);
    const uint8_t *v;
    size_t n;
    Slq__Claim *c = NULL;
    if (ledger_state_get(w->f->st, k.bytes, k.len, &v, &n) == SLQ_OK)
        c = slq__claim__unpack(NULL, n, v);
    bool ok = c != NULL && c->amount_fen == mc->amount && c->settled == mc->settled &&
              (int) c->review == (int) mc->review && c->paid_fen == mc->paid &&
              strcmp(c->payer, mc->payer == NULL ? "" : mc->payer) == 0;
    for (size_t j = 0; ok && j < c->n_years; j++) {
        const Slq__YearAmount *ya = c->years[j];
        ok = ya->budget_year >= BASE_YEAR && ya->budget_year < BASE_YEAR + YEARS_MAX &&
             ya->program < P_COUNT &&
             ya->amount_fen == mc->by[ya->budget_year - BASE_YEAR][ya->program];
    }
    if (c != NULL) slq__claim__free_unpacked(c, NULL);
    if (!ok) fail(w, "claim %zu (model index) differs from the model", i);
}

static bool count_rows(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
    (void) k, (void) kl, (void) v, (void) vl;
    (*(uint64_t *) arg)++;
    return true;
}

/* No row more, none fewer: vouchers, claims, both kinds of reference, txs, accounts. */
static void check_counts(world *w) {
    uint64_t accounts = 0, codes_taken = 0, contracts = 0;
    for (int k = 0; k < K_COUNT; k++) accounts += w->m.registered[k];
    for (int c = 0; c < K_COUNT; c++) codes_taken += w->m.code_owner[c] != NONE;
    for (int k = 0; k < CONTRACTS; k++) contracts += w->m.k[k].used;
    const struct {
        uint8_t family;
        uint64_t want;
    } rows[] = {{SLQ_KEY_VOUCHER, w->m.nv},
                {SLQ_KEY_CLAIM, w->m.nc},
                {SLQ_KEY_APP_REF, w->m.issues},
                {SLQ_KEY_CONTRACT_REF, w->m.nc},
                {SLQ_KEY_TX, w->m.txs},
                {SLQ_KEY_ACCOUNT, accounts},
                {SLQ_KEY_CREDIT_CODE, codes_taken},
                {SLQ_KEY_APPLICATION, w->m.na},
                {SLQ_KEY_CONTRACT, contracts}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint64_t n = 0;
        ledger_state_foreach(w->f->st, &rows[i].family, 1, count_rows, &n);
        char what[32];
        snprintf(what, sizeof what, "'%c': %llu", rows[i].family, (unsigned long long) n);
        if (n != rows[i].want)
            fail(w, "rows %s, the model has %llu", what, (unsigned long long) rows[i].want);
    }
}

/* The index row of credit code c names the key the model says holds it, or is absent. */
static void check_credit_code(world *w, int c) {
    ProtobufCBinaryData code = fx_credit_code(c);
    slq_key k = slq_key_bytes(SLQ_KEY_CREDIT_CODE, code.data, code.len);
    const uint8_t *v;
    size_t n;
    slq_err err = ledger_state_get(w->f->st, k.bytes, k.len, &v, &n);
    int owner = w->m.code_owner[c];
    bool ok = owner == NONE ? err == SLQ_NOT_FOUND
                            : err == SLQ_OK && n == CRYPTO_ADDRESS_BYTES &&
                                  memcmp(v, w->f->addr[owner], n) == 0;
    if (!ok) fail(w, "credit code %d: the row differs from the model (owner %d)", c, owner);
}

/* The application row says what the model says. */
static void check_app(world *w, size_t i) {
    const mapp *ma = &w->m.a[i];
    static const Slq__ApplicationStatus st[] = {SLQ__APPLICATION_STATUS__APPLICATION_OPEN,
                                                SLQ__APPLICATION_STATUS__APPLICATION_ISSUED,
                                                SLQ__APPLICATION_STATUS__APPLICATION_REJECTED};
    Slq__Application *a = fx_application(w->f, ma->id);
    bool ok = a != NULL && is_addr_of(&a->applicant, w->f, ma->applicant) &&
              a->program == (uint32_t) ma->program && a->asked_fen == ma->asked &&
              a->cost_fen == ma->cost && a->status == st[ma->state] && a->issued_fen == ma->issued;
    slq__application__free_unpacked(a, NULL);
    if (!ok) fail(w, "application %zu (model index) differs from the model", i);
}

/* The contract row "hc-N" says what the model says. */
static void check_contract(world *w, int n) {
    const mcontract *mk = &w->m.k[n];
    char text[16];
    snprintf(text, sizeof text, "hc-%d", n);
    uint8_t h[32];
    char form[LEDGER_CONTRACT_REF_FORM_BYTES];
    SLQ_ASSERT(ledger_contract_ref_hash(w->f->suite, h, form, text) == SLQ_OK);
    slq_key k = slq_key_bytes(SLQ_KEY_CONTRACT, h, 32);
    const uint8_t *v;
    size_t len;
    Slq__ContractShare *c = NULL;
    if (ledger_state_get(w->f->st, k.bytes, k.len, &v, &len) == SLQ_OK)
        c = slq__contract_share__unpack(NULL, len, v);
    bool ok = (c != NULL) == mk->used;
    if (ok && c != NULL)
        ok = is_addr_of(&c->applicant, w->f, mk->applicant) &&
             c->program == (uint32_t) mk->program && c->cost_fen == mk->cost &&
             c->asked_fen == mk->asked && c->issued_fen == mk->issued &&
             c->applications == mk->apps;
    slq__contract_share__free_unpacked(c, NULL);
    if (!ok) fail(w, "contract hc-%d differs from the model", n);
}

/* Every row the model knows of. */
static void check_all(world *w) {
    for (size_t i = 0; i < w->m.nv; i++) check_voucher(w, i);
    for (size_t i = 0; i < w->m.na; i++) check_app(w, i);
    for (int n = 0; n < CONTRACTS; n++) check_contract(w, n);
    for (size_t i = 0; i < w->m.nc; i++) check_claim(w, i);
    for (uint32_t y = BASE_YEAR; y < BASE_YEAR + YEARS_MAX; y++) check_year(w, y);
    for (int n = 0; n < APP_REFS; n++)
        if (row_present(w->f, ref_row(w->f, SLQ_KEY_APP_REF, n)) != w->m.app_ref[n])
            fail(w, "application reference ref-%d is %s in the state", n,
                 w->m.app_ref[n] ? "not" : "");
    for (int n = 0; n < CONTRACT_REFS; n++)
        if (row_present(w->f, ref_row(w->f, SLQ_KEY_CONTRACT_REF, n)) != w->m.contract_ref[n])
            fail(w, "contract reference ref-%d is %s in the state", n,
                 w->m.contract_ref[n] ? "not" : "");
    for (int c = 0; c < K_COUNT; c++) check_credit_code(w, c);
    check_counts(w);
}

/* ------------------------------------------------------------------ accepted: the model moves */

static mvoucher *model_add(world *w, const uint8_t id[32]) {
    SLQ_ASSERT(w->m.nv < VOUCHERS_MAX);
    mvoucher *v = &w->m.v[w->m.nv++];
    memset(v, 0, sizeof *v);
    memcpy(v->id, id, 32);
    return v;
}

static void apply_issue(world *w, const issue_args *a) {
    fx *f = w->f;
    uint32_t year = budget_year(f->time_ms);
    size_t y = year - BASE_YEAR;
    if (f->out.vouchers_count != 1) fail(w, "issue created %zu vouchers", f->out.vouchers_count);
    mvoucher *v = model_add(w, f->out.vouchers[0]);
    v->holder = a->to;
    v->beneficiary = party_of_role(w->m.role[a->to]) == PARTY_HOLDER ? a->to : NONE;
    v->program = a->program;
    v->year = year;
    v->amount = a->amount;
    v->expires_ms = a->expires_ms != 0       ? a->expires_ms
                    : a->program == P_SHARED ? f->time_ms + FX_SHARED_EXPIRY_MS
                                             : cst_ms((int) year + 1, 1, 1, 0, 0);
    mtotals *city = &w->m.city[y], *prog = &w->m.prog[y][a->program];
    city->issued += a->amount, city->count++;
    prog->issued += a->amount, prog->count++, prog->cap_used += a->amount;
    if (a->program != P_OUTSIDE) city->cap_used += a->amount;
    if (v->beneficiary != NONE) w->m.quota[y][a->program][a->to] += a->amount;
    if (a->ref != NONE) w->m.app_ref[a->ref] = true;
    if (a->app == NONE) w->m.issues++; /* an application is its own reference: no ref row */
    check_voucher(w, w->m.nv - 1);
    check_year(w, year);
}

static void apply_transfer(world *w, const transfer_args *a) {
    fx *f = w->f;
    size_t parent = (size_t) a->voucher;
    mvoucher p = w->m.v[parent];
    int64_t change = p.amount - a->amount;
    bool charged = charged_on_transfer(&w->m, &p, a->to);
    if (f->out.vouchers_count != (change > 0 ? 2u : 1u))
        fail(w, "transfer created %zu vouchers", f->out.vouchers_count);
    w->m.v[parent].state = MV_SPLIT;
    mvoucher *to = model_add(w, f->out.vouchers[0]);
    *to = (mvoucher){.holder = a->to,
                     .beneficiary = charged ? a->to : p.beneficiary,
                     .program = p.program,
                     .year = p.year,
                     .hops = p.hops + 1,
                     .amount = a->amount,
                     .expires_ms = p.expires_ms,
                     .state = MV_ACTIVE};
    memcpy(to->id, f->out.vouchers[0], 32);
    if (change > 0) {
        mvoucher *rest = model_add(w, f->out.vouchers[1]);
        *rest = *to;
        memcpy(rest->id, f->out.vouchers[1], 32);
        rest->holder = a->signer, rest->hops = p.hops, rest->amount = change;
        rest->beneficiary = p.beneficiary;
    }
    if (charged) w->m.quota[p.year - BASE_YEAR][p.program][a->to] += a->amount;
    w->m.city[p.year - BASE_YEAR].transferred += a->amount;
    w->m.prog[p.year - BASE_YEAR][p.program].transferred += a->amount;
    check_voucher(w, parent);
    check_voucher(w, w->m.nv - 1);
    if (change > 0) check_voucher(w, w->m.nv - 2);
    check_year(w, p.year);
}

static void apply_redeem(world *w, const redeem_args *a) {
    fx *f = w->f;
    if (!f->out.has_claim) fail(w, "redeem opened no claim");
    SLQ_ASSERT(w->m.nc < CLAIMS_MAX);
    mclaim *c = &w->m.c[w->m.nc++];
    memset(c, 0, sizeof *c);
    memcpy(c->id, f->out.claim, 32);
    for (size_t i = 0; i < a->n; i++) {
        mvoucher *v = &w->m.v[a->ids[i]];
        size_t y = v->year - BASE_YEAR;
        v->state = MV_REDEEMED;
        c->amount += v->amount;
        c->by[y][v->program] += v->amount;
        w->m.city[y].redeemed += v->amount;
        w->m.prog[y][v->program].redeemed += v->amount;
    }
    if (a->ref != NONE) w->m.contract_ref[a->ref] = true;
    for (size_t i = 0; i < a->n; i++) check_voucher(w, (size_t) a->ids[i]);
    for (size_t i = 0; i < a->n; i++) check_year(w, w->m.v[a->ids[i]].year);
    check_claim(w, w->m.nc - 1);
}

static void apply_settle(world *w, int claim, int64_t amount, const char *payer) {
    mclaim *c = &w->m.c[claim];
    c->settled = true;
    c->paid = amount == 0 ? c->amount : amount;
    c->payer = payer;
    for (size_t y = 0; y < YEARS_MAX; y++) {
        bool touched = false;
        for (int p = 0; p < P_COUNT; p++) {
            w->m.city[y].settled += c->by[y][p];
            w->m.prog[y][p].settled += c->by[y][p];
            touched = touched || c->by[y][p] != 0;
        }
        if (touched) check_year(w, (uint32_t) y + BASE_YEAR);
    }
    check_claim(w, (size_t) claim);
}

/* A rejection claws every part of the claim back into its (year, program) pool. */
static void apply_review(world *w, int claim, bool approve) {
    mclaim *c = &w->m.c[claim];
    c->review = approve ? MC_APPROVED : MC_REJECTED;
    for (size_t y = 0; !approve && y < YEARS_MAX; y++) {
        bool touched = false;
        for (int p = 0; p < P_COUNT; p++) {
            int64_t part = c->by[y][p];
            if (part == 0) continue;
            w->m.city[y].clawed_back += part, w->m.city[y].rejected++;
            w->m.prog[y][p].clawed_back += part, w->m.prog[y][p].rejected++;
            w->m.prog[y][p].cap_used -= part;
            if (p != P_OUTSIDE) w->m.city[y].cap_used -= part;
            touched = true;
        }
        if (touched) check_year(w, (uint32_t) y + BASE_YEAR);
    }
    check_claim(w, (size_t) claim);
}

static void apply_revoke(world *w, int voucher) {
    mvoucher *v = &w->m.v[voucher];
    size_t y = v->year - BASE_YEAR;
    v->state = MV_REVOKED;
    w->m.city[y].revoked += v->amount;
    w->m.prog[y][v->program].revoked += v->amount;
    w->m.prog[y][v->program].cap_used -= v->amount;
    if (v->program != P_OUTSIDE) w->m.city[y].cap_used -= v->amount;
    if (v->beneficiary != NONE) w->m.quota[y][v->program][v->beneficiary] -= v->amount;
    check_voucher(w, (size_t) voucher);
    check_year(w, v->year);
}

/* ------------------------------------------------------------------ random transactions */

/* True when voucher i is held by a centre of a program with a grace: its holder may redeem it
 * until its grace ends. */
static bool in_grace_program(const world *w, int i) {
    const mvoucher *v = &w->m.v[i];
    return w->m.role[v->holder] == SLQ__ROLE__ROLE_CENTRE && fx_redeem_grace(v->program) > 0;
}

/* Counts a transaction on voucher i at the very instant it expires, or its grace ends. */
static void note_expiry_edge(world *w, int i) {
    if (i != NONE && w->m.v[i].expires_ms == w->f->time_ms) w->edges[2]++;
    if (i != NONE && in_grace_program(w, i) && dead_at(&w->m.v[i], true) == w->f->time_ms)
        w->edges[7]++;
}

/* Live, or expiring at this very instant (its grace, for a centre's voucher of a program
 * that has one). */
static bool usable(const world *w, int i) {
    const mvoucher *v = &w->m.v[i];
    return v->state == MV_ACTIVE && dead_at(v, in_grace_program(w, i)) >= w->f->time_ms;
}

/* Counts the vouchers a redeem by `who` could burn (who < 0: anybody's), up to max, into
 * out (newest first) if not NULL. */
static size_t usable_vouchers(const world *w, int who, int *out, size_t max) {
    size_t n = 0;
    for (size_t i = w->m.nv; i-- > 0 && n < max;) {
        if (!usable(w, (int) i) || (who >= 0 && w->m.v[i].holder != who)) continue;
        if (out != NULL) out[n] = (int) i;
        n++;
    }
    return n;
}

/* A voucher of the model: mostly a live one (or one expiring right now), sometimes any, now
 * and then NONE. */
static int pick_voucher(world *w) {
    const model *m = &w->m;
    if (m->nv == 0 || below(&w->r, 20) == 0) return NONE;
    if (w->expiring != NONE && below(&w->r, 2) == 0) return w->expiring;
    size_t live = usable_vouchers(w, -1, NULL, SIZE_MAX);
    if (live == 0 || below(&w->r, 8) == 0) return (int) below(&w->r, m->nv);
    size_t k = below(&w->r, live);
    for (size_t i = m->nv; i-- > 0;)
        if (usable(w, (int) i) && k-- == 0) return (int) i;
    SLQ_ASSERT(false);
    return NONE;
}

static const uint8_t *voucher_id(const world *w, int i) {
    static const uint8_t none[32] = {0x77};
    return i == NONE ? none : w->m.v[i].id;
}

static void issue_expiry(world *w, issue_args *a) {
    int64_t t = w->f->time_ms;
    switch (below(&w->r, 10)) {
        case 0:
            a->expires_ms = t; /* not after the block time: refused */
            break;
        case 1:
            a->expires_ms = t - 1 - (int64_t) below(&w->r, DAY_MS);
            break;
        case 2:
        case 3:
            a->expires_ms = t + 1 + (int64_t) below(&w->r, 60 * DAY_MS);
            break;
        case 4: /* at or just past the longest allowed: the window's end, `shared`'s expiry */
            a->expires_ms = (below(&w->r, 2) ? fx_valid_until_ms() : t + FX_SHARED_EXPIRY_MS) +
                            (int64_t) below(&w->r, 2);
            break;
        default:
            a->expires_ms = 0; /* the program's default */
    }
}

/* Sends the issue, judges the answer against the model and moves the model on. */
static slq_err run_issue(world *w, const issue_args *a) {
    char ref[16];
    snprintf(ref, sizeof ref, "ref-%d", a->ref);
    slq_err want = expect_signed(&w->m, a->signer, expect_issue(&w->m, a, w->f->time_ms));
    fx_issue_args fa = {a->to,        a->program, a->amount, a->cost, a->ref == NONE ? NULL : ref,
                        a->expires_ms};
    slq_err got = fx_issue_as(w->f, a->signer, fa, NULL);
    judge(w, "issue", got, want);
    if (got == SLQ_OK && want == SLQ_OK) apply_issue(w, a);
    return got;
}

static slq_err do_issue(world *w) {
    issue_args a = {.signer = signer_or(w, K_ISSUER),
                    .to = below(&w->r, 3) ? PICK(w, holders) : PICK(w, anyone),
                    .program = (int) below(&w->r, P_COUNT),
                    .ref = below(&w->r, 4) == 0 ? (int) below(&w->r, APP_REFS) : NONE,
                    .app = NONE};
    a.cost =
        below(&w->r, 5) == 0 ? 0 : (int64_t) below(&w->r, below(&w->r, 2) ? 20000000 : 600000000);
    if (below(&w->r, 40) == 0) a.cost = -1 - (int64_t) below(&w->r, 100);
    a.amount = random_amount(w);
    if (a.program == P_OUTSIDE && below(&w->r, 4) == 0) /* no cap: the year's sums fill up */
        a.amount = INT64_MAX / 4 + (int64_t) below(&w->r, 1000);
    if (a.cost > 0 && below(&w->r, 2))
        a.amount = share_limit(a.cost) + (int64_t) below(&w->r, 3) - 1;
    issue_expiry(w, &a);
    slq_err got = run_issue(w, &a);
    bool at_limit = a.cost > 0 && a.amount == share_limit(a.cost);
    w->edges[0] += at_limit && got == SLQ_OK && a.program != P_GENERAL;
    w->edges[1] += a.cost > 0 && a.amount == share_limit(a.cost) + 1 && got == SLQ_SHARE_EXCEEDED;
    return got;
}

static int64_t transfer_amount(world *w, int voucher) {
    int64_t left = voucher == NONE ? 1 : w->m.v[voucher].amount;
    switch (below(&w->r, 6)) {
        case 0:
        case 1:
            return left;
        case 2:
        case 3:
            return 1 + (int64_t) below(&w->r, (uint64_t) left);
        case 4:
            return left < INT64_MAX ? left + 1 : left;
        default:
            return random_amount(w);
    }
}

/* An intermediary's voucher of a program with a holder cap, passed on at exactly the
 * headroom left under the recipient's cap or one fen more, when the voucher holds that. */
static void cap_edge_amount(world *w, transfer_args *a) {
    const mvoucher *v = &w->m.v[a->voucher];
    int64_t cap = fx_holder_cap(v->program);
    if (cap == 0 || !charged_on_transfer(&w->m, v, a->to)) return;
    int64_t amount =
        cap - w->m.quota[v->year - BASE_YEAR][v->program][a->to] + (int64_t) below(&w->r, 2);
    if (amount > 0 && amount <= v->amount) a->amount = amount;
}

static slq_err do_transfer(world *w) {
    transfer_args a = {.voucher = pick_voucher(w)};
    a.signer = signer_or(w, a.voucher == NONE ? K_H1 : w->m.v[a.voucher].holder);
    switch (below(&w->r, 5)) {
        case 0:
        case 1:
            a.to = below(&w->r, 2) ? K_CENTRE1 : K_CENTRE2;
            break;
        case 2:
        case 3:
            a.to = PICK(w, holders);
            break;
        default:
            a.to = PICK(w, anyone);
    }
    a.amount = transfer_amount(w, a.voucher);
    if (a.voucher != NONE && w->m.v[a.voucher].beneficiary == NONE && below(&w->r, 2) == 0)
        cap_edge_amount(w, &a);
    note_expiry_edge(w, a.voucher);
    slq_err want = expect_signed(&w->m, a.signer, expect_transfer(&w->m, &a, w->f->time_ms));
    slq_err got = fx_transfer(w->f, a.signer, voucher_id(w, a.voucher), a.to, a.amount);
    judge(w, "transfer", got, want);
    w->edges[3] += got == SLQ_HOLDER_CAP_EXCEEDED;
    if (got == SLQ_OK && want == SLQ_OK) apply_transfer(w, &a);
    return got;
}

/* Drops from mine[0..n) the unexpired vouchers of a program with a grace whose id starts
 * of an even index (half of them, always the same), so that they are redeemed in their grace
 * rather than before their expiry, and half of those until the very instant their grace ends
 * (then refused). Returns the number kept. */
static size_t hold_for_grace(const world *w, int *mine, size_t n) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const mvoucher *v = &w->m.v[mine[i]];
        int64_t t = w->f->time_ms;
        bool hold = in_grace_program(w, mine[i]) && mine[i] % 2 == 0 &&
                    (v->expires_ms > t || (mine[i] % 4 == 0 && dead_at(v, true) > t));
        if (!hold) mine[kept++] = mine[i];
    }
    return kept;
}

/* Fills a->ids with vouchers the signer can redeem (fewer when it has fewer, others when it has
 * none), and now and then a wrong one: unknown, listed twice, anybody's. */
static void redeem_ids(world *w, redeem_args *a) {
    int mine[64];
    size_t n = hold_for_grace(w, mine, usable_vouchers(w, a->signer, mine, 64));
    if (n > 0 && n < a->n) a->n = n;
    size_t start = n > 0 ? below(&w->r, n) : 0;
    for (size_t i = 0; i < n; i++)
        if (mine[i] == w->expiring) start = i;
    for (size_t i = 0; i < a->n; i++) a->ids[i] = i < n ? mine[(start + i) % n] : pick_voucher(w);
    if (below(&w->r, 8) != 0) return;
    uint64_t k = below(&w->r, 3);
    a->ids[a->n - 1] = k == 0 ? NONE : k == 1 ? a->ids[0] : pick_voucher(w);
}

/* The centre with more to redeem, mostly. */
static int redeeming_centre(world *w) {
    if (w->expiring != NONE && w->m.role[w->m.v[w->expiring].holder] == SLQ__ROLE__ROLE_CENTRE)
        return w->m.v[w->expiring].holder;
    size_t one = usable_vouchers(w, K_CENTRE1, NULL, SIZE_MAX);
    size_t two = usable_vouchers(w, K_CENTRE2, NULL, SIZE_MAX);
    if (below(&w->r, 4) == 0) return below(&w->r, 2) ? K_CENTRE1 : K_CENTRE2;
    return one >= two ? K_CENTRE1 : K_CENTRE2;
}

/* Appends the UTF-8 bytes of code point cp (below U+10000) to out at *n. */
static void put_utf8(char *out, size_t *n, uint32_t cp) {
    if (cp < 0x80) {
        out[(*n)++] = (char) cp;
    } else {
        SLQ_ASSERT(cp >= 0x800 && cp < 0x10000);
        out[(*n)++] = (char) (0xe0 | cp >> 12);
        out[(*n)++] = (char) (0x80 | (cp >> 6 & 0x3f));
        out[(*n)++] = (char) (0x80 | (cp & 0x3f));
    }
}

/* One of the many ways of writing the reference `text` (lower-case ASCII) that all name it:
 * letters in upper case, characters in their full-width forms (U+FF01..U+FF5E), spaces and
 * U+3000 before, inside and after it. Plain half the time. */
static void spell_ref(world *w, char *out, size_t cap, const char *text) {
    size_t n = 0, len = strlen(text);
    bool plain = below(&w->r, 2) == 0;
    SLQ_ASSERT(cap > 6 * (len + 1));
    for (size_t i = 0; i <= len; i++) {
        if (!plain && below(&w->r, 6) == 0) put_utf8(out, &n, below(&w->r, 2) ? ' ' : 0x3000);
        if (i == len) break;
        uint32_t c = (uint8_t) text[i];
        if (!plain && c >= 'a' && c <= 'z' && below(&w->r, 3) == 0) c -= 'a' - 'A';
        if (!plain && below(&w->r, 4) == 0) c += 0xfee0;
        put_utf8(out, &n, c);
    }
    out[n] = '\0';
}

/* Nothing but whitespace: spaces and U+3000. */
static void blank_ref(world *w, char *out, size_t cap) {
    static const char *const blanks[] = {" ", "\xe3\x80\x80", "  \xe3\x80\x80 ",
                                         "\xe3\x80\x80 \xe3\x80\x80"};
    snprintf(out, cap, "%s", PICK(w, blanks));
}

static slq_err do_redeem(world *w) {
    redeem_args a = {.signer = signer_or(w, redeeming_centre(w)),
                     .n = 1 + below(&w->r, 3),
                     .ref = below(&w->r, 2) ? (int) below(&w->r, CONTRACT_REFS) : NONE,
                     .blank = below(&w->r, 48) == 0};
    redeem_ids(w, &a);
    uint8_t ids[3][32];
    for (size_t i = 0; i < a.n; i++) {
        memcpy(ids[i], voucher_id(w, a.ids[i]), 32);
        note_expiry_edge(w, a.ids[i]);
    }
    char text[24], ref[SLQ_REF_BYTES_MAX + 1];
    if (a.ref != NONE)
        snprintf(text, sizeof text, "ref-%d", a.ref);
    else
        snprintf(text, sizeof text, "fresh-%u", ++w->fresh);
    if (a.blank)
        blank_ref(w, ref, sizeof ref);
    else
        spell_ref(w, ref, sizeof ref, text);
    slq_err want = expect_signed(&w->m, a.signer, expect_redeem(&w->m, &a, w->f->time_ms));
    slq_err got = fx_redeem(w->f, a.signer, (const uint8_t(*)[32]) ids, a.n, ref);
    judge(w, "redeem", got, want);
    for (size_t i = 0; got == SLQ_OK && want == SLQ_OK && i < a.n; i++)
        w->edges[6] += w->m.v[a.ids[i]].expires_ms <= w->f->time_ms;
    if (got == SLQ_OK && want == SLQ_OK) apply_redeem(w, &a);
    return got;
}

static slq_err do_settle(world *w) {
    static const uint8_t none[32] = {0x66};
    int claim = w->m.nc == 0 || below(&w->r, 10) == 0 ? NONE : (int) below(&w->r, w->m.nc);
    for (size_t i = 0; claim != NONE && below(&w->r, 4) != 0 && i < w->m.nc; i++)
        if (!w->m.c[i].settled && w->m.c[i].review != MC_REJECTED) {
            claim = (int) i; /* mostly the oldest open one */
            break;
        }
    int signer = signer_or(w, K_FINANCE);
    static const char *payers[] = {FX_PAYER_CITY, FX_PAYER_DISTRICT, "锦江区", "", "City"};
    const char *payer = payers[below(&w->r, 8) < 4 ? below(&w->r, 2) : below(&w->r, 5)];
    int64_t whole = claim == NONE ? 100 : w->m.c[claim].amount, amount = 0;
    switch (below(&w->r, 8)) { /* the edges: all (0), exactly the claim, one fen over */
        case 0:
        case 1:
        case 2:
            amount = 0;
            break;
        case 3:
            amount = whole;
            break;
        case 4:
            amount = whole + 1;
            break;
        case 5:
            amount = -(int64_t) below(&w->r, 2) - 1;
            break;
        default:
            amount = 1 + (int64_t) below(&w->r, (uint64_t) whole);
            break;
    }
    slq_err want = expect_signed(&w->m, signer, expect_settle(&w->m, signer, claim, amount, payer));
    slq_err got =
        fx_settle_pay(w->f, signer, claim == NONE ? none : w->m.c[claim].id, "PAY", amount, payer);
    judge(w, "settle", got, want);
    if (got == SLQ_OK && want == SLQ_OK) apply_settle(w, claim, amount, payer);
    return got;
}

/* A claim to review: mostly the oldest unreviewed one, now and then any or none. */
static slq_err do_review(world *w) {
    static const uint8_t none[32] = {0x67};
    int claim = w->m.nc == 0 || below(&w->r, 10) == 0 ? NONE : (int) below(&w->r, w->m.nc);
    for (size_t i = 0; claim != NONE && below(&w->r, 4) != 0 && i < w->m.nc; i++)
        if (w->m.c[i].review == MC_OPEN && !w->m.c[i].settled) {
            claim = (int) i;
            break;
        }
    int signer = signer_or(w, below(&w->r, 3) == 0 ? K_REGULATOR : K_FINANCE);
    bool approve = below(&w->r, 4) != 0, blank = below(&w->r, 16) == 0;
    slq_err want = expect_signed(&w->m, signer, expect_review(&w->m, signer, claim, blank));
    slq_err got = fx_review(w->f, signer, claim == NONE ? none : w->m.c[claim].id, approve,
                            blank     ? ""
                            : approve ? "invoice checked"
                                      : "no delivery proof");
    judge(w, "review", got, want);
    if (got == SLQ_OK && want == SLQ_OK) apply_review(w, claim, approve);
    return got;
}

/* A voucher for the issuer to revoke: mostly any (pick_voucher), now and then a live one a
 * centre was paid with, the edge of the rule that REVOKE is for holder-class parties only. */
static int revoke_target(world *w) {
    int paid[1];
    int centre = below(&w->r, 2) ? K_CENTRE1 : K_CENTRE2;
    if (below(&w->r, 4) == 0 && usable_vouchers(w, centre, paid, 1) == 1) return paid[0];
    return pick_voucher(w);
}

static slq_err do_revoke(world *w) {
    int voucher = revoke_target(w);
    int signer = signer_or(w, K_ISSUER);
    note_expiry_edge(w, voucher);
    slq_err want =
        expect_signed(&w->m, signer, expect_revoke(&w->m, signer, voucher, w->f->time_ms));
    slq_err got = fx_revoke(w->f, signer, voucher_id(w, voucher), "audit finding");
    judge(w, "revoke", got, want);
    if (got == SLQ_OK && want == SLQ_OK) apply_revoke(w, voucher);
    return got;
}

static slq_err do_register_as(world *w, int signer, int who, Slq__Role role, const char *aff,
                              int code) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, w->f->addr[who]};
    r.role = role;
    r.name = "party";
    r.affiliation = (char *) aff;
    if (code != NONE) r.credit_code_hash = fx_credit_code(code);
    slq_err want = expect_signed(&w->m, signer, expect_register(&w->m, signer, who, role, code));
    slq_err got = fx_send(w->f, signer, &b);
    judge(w, "register", got, want);
    if (got != SLQ_OK || want != SLQ_OK) return got;
    w->m.registered[who] = true, w->m.role[who] = role, w->m.affiliation[who] = aff;
    if (can_hold(role)) w->m.code_owner[code] = who;
    return got;
}

/* Credit codes a REGISTER may give: four are taken from the start (the intermediary's in
 * genesis, the three holders'), one is free until someone registers with it. */
static const int codes[] = {K_INTER, K_H1, K_H2, K_H3, K_STRANGER};

static slq_err do_register(world *w) {
    int who = below(&w->r, 4) == 0 ? K_STRANGER : PICK(w, anyone);
    Slq__Role role = (Slq__Role) below(&w->r, 10);
    const char *aff = below(&w->r, 2) ? "" : "group-b";
    int code = below(&w->r, 5) == 0 ? NONE : PICK(w, codes);
    return do_register_as(w, signer_or(w, K_ISSUER), who, role, aff, code);
}

/* ------------------------------------------------------------------ applications */

static slq_err do_apply(world *w) {
    apply_args a = {.signer = below(&w->r, 8) == 0 ? PICK(w, anyone) : PICK(w, holders),
                    .program = below(&w->r, 30) == 0 ? -1 : (int) below(&w->r, P_COUNT),
                    .contract = (int) below(&w->r, CONTRACTS),
                    .blank = below(&w->r, 48) == 0};
    const mcontract *k = &w->m.k[a.contract];
    if (k->used && below(&w->r, 4) != 0) { /* mostly the contract's own party and figures */
        a.signer = below(&w->r, 10) == 0 ? a.signer : k->applicant;
        a.program = below(&w->r, 10) == 0 ? a.program : k->program;
    }
    a.cost = (int64_t) below(&w->r, below(&w->r, 2) ? 20000000 : 600000000);
    if (below(&w->r, 5) == 0) a.cost = 0;
    if (below(&w->r, 40) == 0) a.cost = -1 - (int64_t) below(&w->r, 100);
    if (k->used && below(&w->r, 8) != 0) a.cost = k->cost;
    a.amount = a.cost > 0 && below(&w->r, 2) ? share_limit(a.cost) / (1 + (int64_t) below(&w->r, 2))
                                             : random_amount(w);
    /* Now and then exactly what the contract's share leaves and one fen more: its issue is the
     * one-fen-over edge after an earlier issue (other rules refuse most other tries first). */
    if (k->used && k->issued > 0 && a.cost == k->cost && a.cost > 0 && below(&w->r, 3) == 0)
        a.amount = share_limit(a.cost) - k->issued + 1;
    char text[16], ref[SLQ_REF_BYTES_MAX + 1];
    snprintf(text, sizeof text, "hc-%d", a.contract);
    if (a.blank)
        blank_ref(w, ref, sizeof ref);
    else
        spell_ref(w, ref, sizeof ref, text);
    slq_err want = expect_signed(&w->m, a.signer, expect_apply(&w->m, &a, w->f->time_ms));
    uint8_t id[32];
    slq_err got = fx_apply(w->f, a.signer, a.program, a.amount, ref, a.cost, id);
    judge(w, "apply", got, want);
    if (got != SLQ_OK || want != SLQ_OK) return got;
    SLQ_ASSERT(w->m.na < APPS_MAX);
    mapp *ma = &w->m.a[w->m.na++];
    *ma = (mapp){.applicant = a.signer,
                 .program = a.program,
                 .contract = a.contract,
                 .asked = a.amount,
                 .cost = a.cost,
                 .state = MA_OPEN};
    memcpy(ma->id, id, 32);
    mcontract *mk = &w->m.k[a.contract];
    if (!mk->used)
        *mk =
            (mcontract){.used = true, .applicant = a.signer, .program = a.program, .cost = a.cost};
    mk->asked += a.amount;
    mk->apps++;
    check_app(w, w->m.na - 1);
    check_contract(w, a.contract);
    return got;
}

/* An application: mostly an open one, sometimes any, now and then none. */
static int pick_app(world *w) {
    if (w->m.na == 0 || below(&w->r, 12) == 0) return NONE;
    int any = (int) below(&w->r, w->m.na);
    if (below(&w->r, 4) == 0) return any;
    for (size_t i = 0; i < w->m.na; i++) {
        int j = (int) ((size_t) any + i) % (int) w->m.na;
        if (w->m.a[j].state == MA_OPEN) return j;
    }
    return any;
}

static slq_err do_issue_app(world *w) {
    static const uint8_t none[32] = {0x55};
    issue_args a = {.signer = signer_or(w, K_ISSUER), .app = pick_app(w), .ref = NONE};
    int64_t wire = 0; /* 0: the amount asked */
    if (a.app != NONE) {
        const mapp *ap = &w->m.a[a.app];
        const mcontract *k = &w->m.k[ap->contract];
        a.to = ap->applicant, a.program = ap->program, a.cost = ap->cost;
        int64_t left = a.cost > 0 ? share_limit(a.cost) - k->issued : ap->asked;
        switch (below(&w->r, 6)) {
            case 0:
                wire = 0;
                break;
            case 1: /* exactly what the contract's share leaves, or a fen more */
            case 2:
                wire = left + (int64_t) below(&w->r, 2);
                break;
            case 3:
                wire = ap->asked + (int64_t) below(&w->r, 2);
                break;
            case 4:
                wire = -(int64_t) below(&w->r, 3);
                break;
            default:
                wire = 1 + (int64_t) below(&w->r, (uint64_t) (ap->asked > 0 ? ap->asked : 1));
        }
        a.amount = wire == 0 ? ap->asked : wire;
    }
    slq_err want = expect_signed(&w->m, a.signer, expect_issue_app(&w->m, &a, w->f->time_ms));
    uint8_t v[32];
    slq_err got = fx_issue_app(w->f, a.signer, a.app == NONE ? none : w->m.a[a.app].id, wire, v);
    judge(w, "issue against an application", got, want);
    if (a.app != NONE && a.cost > 0 && (a.program == P_NATIONAL || a.program == P_PROVINCIAL)) {
        int64_t issued = w->m.k[w->m.a[a.app].contract].issued;
        int64_t limit = share_limit(a.cost);
        w->edges[4] += got == SLQ_OK && a.amount == limit - issued;
        w->edges[5] += got == SLQ_SHARE_EXCEEDED && issued > 0 && a.amount == limit - issued + 1;
    }
    if (got != SLQ_OK || want != SLQ_OK) return got;
    apply_issue(w, &a);
    mapp *ap = &w->m.a[a.app];
    ap->state = MA_ISSUED;
    ap->issued = a.amount;
    w->m.k[ap->contract].issued += a.amount;
    check_app(w, (size_t) a.app);
    check_contract(w, ap->contract);
    return got;
}

static slq_err do_reject_app(world *w) {
    static const uint8_t none[32] = {0x44};
    int app = pick_app(w), signer = signer_or(w, K_ISSUER);
    bool blank = below(&w->r, 24) == 0;
    slq_err want = expect_signed(&w->m, signer, expect_reject_app(&w->m, signer, app, blank));
    slq_err got = fx_reject_app(w->f, signer, app == NONE ? none : w->m.a[app].id,
                                blank ? "" : "the contract is not for compute");
    judge(w, "reject an application", got, want);
    if (got != SLQ_OK || want != SLQ_OK) return got;
    w->m.a[app].state = MA_REJECTED;
    check_app(w, (size_t) app);
    return got;
}

static slq_err do_no_payload(world *w) {
    fx_sign(w->f, K_H1, &(Slq__TxBody) SLQ__TX_BODY__INIT, w->f->nonce[K_H1] + 1);
    slq_err got = fx_apply_last(w->f, K_H1);
    judge(w, "a body without payload", got, SLQ_TX_KIND_MISMATCH);
    return got;
}

static slq_err random_tx(world *w, int *kind) {
    uint64_t k = below(&w->r, 100);
    *kind = k < 28   ? KIND_ISSUE
            : k < 36 ? (below(&w->r, 5) < 2 ? KIND_APPLY
                        : below(&w->r, 4)   ? KIND_ISSUE_APP
                                            : KIND_REJECT_APP)
            : k < 66 ? KIND_TRANSFER
            : k < 82 ? KIND_REDEEM
            : k < 86 ? KIND_REVIEW
            : k < 90 ? KIND_SETTLE
            : k < 96 ? KIND_REVOKE
            : k < 97 ? KIND_REGISTER
            : k < 98 ? KIND_NO_PAYLOAD
                     : KIND_ISSUE;
    switch (*kind) {
        case KIND_ISSUE:
            return do_issue(w);
        case KIND_TRANSFER:
            return do_transfer(w);
        case KIND_REDEEM:
            return do_redeem(w);
        case KIND_SETTLE:
            return do_settle(w);
        case KIND_REVIEW:
            return do_review(w);
        case KIND_REVOKE:
            return do_revoke(w);
        case KIND_REGISTER:
            return do_register(w);
        case KIND_APPLY:
            return do_apply(w);
        case KIND_ISSUE_APP:
            return do_issue_app(w);
        case KIND_REJECT_APP:
            return do_reject_app(w);
        default:
            return do_no_payload(w);
    }
}

/* Jumps, half of the time, to the end of the grace of a centre's expired voucher when that
 * is within three days (the voucher becomes `expiring`). */
static bool jump_to_grace_end(world *w) {
    int64_t t = w->f->time_ms, at = 0;
    int next = NONE;
    for (size_t i = 0; i < w->m.nv; i++) {
        const mvoucher *v = &w->m.v[i];
        int64_t end = dead_at(v, true);
        if (v->state == MV_ACTIVE && in_grace_program(w, (int) i) && v->expires_ms <= t &&
            end > t && end - t <= 3 * DAY_MS && (next == NONE || end < at))
            next = (int) i, at = end;
    }
    if (next == NONE || below(&w->r, 2) != 0) return false;
    w->f->time_ms = at;
    w->expiring = next;
    return true;
}

/* Moves the block time on: by up to 16 hours, or now and then to the exact instant at which
 * the next live voucher expires if that is within three days. */
static void advance_time(world *w) {
    fx *f = w->f;
    w->expiring = NONE;
    if (jump_to_grace_end(w)) return;
    if (below(&w->r, 8) == 0) {
        int next = NONE;
        int64_t at = 0;
        for (size_t i = 0; i < w->m.nv; i++) {
            const mvoucher *v = &w->m.v[i];
            int64_t end = dead_at(v, in_grace_program(w, (int) i) && v->expires_ms <= f->time_ms);
            if (v->state == MV_ACTIVE && end > f->time_ms && (next == NONE || end < at))
                next = (int) i, at = end;
        }
        if (next != NONE && at - f->time_ms <= 3 * DAY_MS) {
            f->time_ms = at;
            w->expiring = next;
            return;
        }
    }
    f->time_ms += (int64_t) below(&w->r, 16 * 3600000LL);
}

/* After a refusal the state must be byte-identical to what it was before the transaction;
 * after an acceptance what it is becomes the next "before". */
static void check_unchanged(world *w, slq_err got) {
    if (got == SLQ_OK) {
        snapshot_take(w->f, &w->before);
        return;
    }
    if ((int) got >= 0 && (int) got < CODES) w->seen[got]++;
    snapshot_take(w->f, &w->after);
    if (w->after.len == w->before.len && memcmp(w->after.buf, w->before.buf, w->after.len) == 0)
        return;
    fail(w, "refused with %s, yet rows '%c' changed", slq_err_name(got),
         first_difference(&w->before, &w->after));
}

/* ------------------------------------------------------------------ seeds */

static void check_invariants(world *w) {
    const char *why = NULL;
    int bad = ledger_violations_why(w->f->st, w->f->time_ms, &why);
    if (bad != 0) fail(w, "%d invariants broken, first: %s", bad, why);
}

static void world_start(world *w, fx *f, uint64_t seed) {
    w->f = f;
    w->seed = seed;
    w->r.s = seed * 0x9e3779b97f4a7c15ULL + 1;
    model_init(&w->m);
    w->m.apps_required = seed % 4 == 3;
    SLQ_ASSERT(do_register_as(w, K_ISSUER, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "", K_H1) == SLQ_OK);
    SLQ_ASSERT(do_register_as(w, K_ISSUER, K_H2, SLQ__ROLE__ROLE_RESEARCH, "", K_H2) == SLQ_OK);
    SLQ_ASSERT(do_register_as(w, K_ISSUER, K_H3, SLQ__ROLE__ROLE_MAKER, "group-b", K_H3) == SLQ_OK);
    w->m.txs = 3;
    /* Odd seeds start in the first budget year; even ones run past the policy window. */
    f->time_ms = seed % 2 ? cst_ms(2023, 3, 1, 9, 0) : cst_ms(2025, 1, 1, 9, 0);
    /* Holder-1 500 fen below its national-major cap and the intermediary with a voucher of
     * the same program and year: passing that on to holder-1 meets the cap, at or over it.
     * (Seeds whose national-major issues only against applications skip it: a direct issue
     * there is APPLICATION_REQUIRED; the other seeds reach the cap edge.) */
    issue_args near = {.signer = K_ISSUER,
                       .to = K_H1,
                       .program = P_NATIONAL,
                       .amount = FX_NATIONAL_HOLDER_CAP - 500,
                       .cost = 1000000000,
                       .ref = NONE,
                       .app = NONE};
    issue_args inter = {.signer = K_ISSUER,
                        .to = K_INTER,
                        .program = P_NATIONAL,
                        .amount = 1000000,
                        .cost = 10000000,
                        .ref = NONE,
                        .app = NONE};
    if (!w->m.apps_required) {
        SLQ_ASSERT(run_issue(w, &near) == SLQ_OK && run_issue(w, &inter) == SLQ_OK);
        w->m.txs += 2;
    }
    snapshot_take(f, &w->before);
}

static void report(const world *w, int steps) {
    printf("seed %llu: accepted issue %d transfer %d redeem %d review %d settle %d revoke %d "
           "register %d apply %d issue-application %d reject %d of %d\n",
           (unsigned long long) w->seed, w->accepted[KIND_ISSUE], w->accepted[KIND_TRANSFER],
           w->accepted[KIND_REDEEM], w->accepted[KIND_REVIEW], w->accepted[KIND_SETTLE],
           w->accepted[KIND_REVOKE], w->accepted[KIND_REGISTER], w->accepted[KIND_APPLY],
           w->accepted[KIND_ISSUE_APP], w->accepted[KIND_REJECT_APP], steps);
}

static int run_seed(uint64_t seed, int steps, int seen[CODES], int edges[8]) {
    static world w; /* the model is large */
    fx f;
    fx_init_apps(&f, CRYPTO_SUITE_ED25519_SHA256, seed % 4 == 3 ? 1u << P_NATIONAL : 0);
    memset(&w, 0, sizeof w);
    w.seen = seen;
    w.edges = edges;
    world_start(&w, &f, seed);
    for (int step = 0; step < steps && w.bad == 0; step++) {
        w.step = step;
        advance_time(&w);
        int kind;
        slq_err got = random_tx(&w, &kind);
        if (got == SLQ_OK) w.accepted[kind]++, w.m.txs += kind != KIND_NO_PAYLOAD;
        check_unchanged(&w, got);
        if (step % 4 == 0) check_invariants(&w);
        if (step % 64 == 63 || step == steps - 1) check_all(&w);
    }
    report(&w, steps);
    for (int k = 0; k < KIND_REGISTER; k++)
        if (w.accepted[k] == 0) fail(&w, "no accepted transaction of kind %d", k);
    free(w.before.buf);
    free(w.after.buf);
    fx_deinit(&f);
    return w.bad;
}

/* The refusals that the generator must reach (over the default seeds) for its oracles to be
 * tried at all. */
static void check_coverage(const int seen[CODES], const int edges[8]) {
    static const slq_err want[] = {SLQ_SIGNER_UNKNOWN,
                                   SLQ_ROLE_FORBIDDEN,
                                   SLQ_ACCOUNT_EXISTS,
                                   SLQ_CREDIT_CODE_REQUIRED,
                                   SLQ_CREDIT_CODE_USED,
                                   SLQ_ROLE_INVALID,
                                   SLQ_ACCOUNT_UNKNOWN,
                                   SLQ_AMOUNT_MUST_BE_POSITIVE,
                                   SLQ_AMOUNT_OVERFLOW,
                                   SLQ_CITY_CAP_EXCEEDED,
                                   SLQ_PROGRAM_CAP_EXCEEDED,
                                   SLQ_HOLDER_CAP_EXCEEDED,
                                   SLQ_SHARE_EXCEEDED,
                                   SLQ_COST_REQUIRED,
                                   SLQ_APPLICATION_REF_USED,
                                   SLQ_POLICY_WINDOW_CLOSED,
                                   SLQ_HOLDER_CANNOT_HOLD,
                                   SLQ_EXPIRY_INVALID,
                                   SLQ_AMOUNT_EXCEEDS_REMAINING,
                                   SLQ_VOUCHER_UNKNOWN,
                                   SLQ_NOT_HOLDER,
                                   SLQ_VOUCHER_EXPIRED,
                                   SLQ_VOUCHER_REVOKED,
                                   SLQ_VOUCHER_REDEEMED,
                                   SLQ_VOUCHER_SPLIT,
                                   SLQ_EDGE_NOT_ALLOWED,
                                   SLQ_RELATED_PARTY,
                                   SLQ_CENTRE_NOT_NAMED,
                                   SLQ_CONTRACT_REF_USED,
                                   SLQ_CONTRACT_REF_INVALID,
                                   SLQ_VOUCHER_PAID,
                                   SLQ_VOUCHER_LISTED_TWICE,
                                   SLQ_SELF_TRANSFER,
                                   SLQ_CLAIM_UNKNOWN,
                                   SLQ_CLAIM_SETTLED,
                                   SLQ_CLAIM_NOT_APPROVED,
                                   SLQ_AMOUNT_EXCEEDS_CLAIM,
                                   SLQ_PAYER_UNKNOWN,
                                   SLQ_CLAIM_REVIEWED,
                                   SLQ_FIELD_INVALID,
                                   SLQ_TX_KIND_MISMATCH,
                                   SLQ_APPLICATION_UNKNOWN,
                                   SLQ_APPLICATION_CLOSED,
                                   SLQ_APPLICATION_REQUIRED,
                                   SLQ_APPLICATION_MISMATCH};
    printf("refusals:");
    for (int c = 0; c < CODES; c++)
        if (seen[c] > 0) printf(" %s %d", slq_err_name((slq_err) c), seen[c]);
    printf("\n");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (seen[want[i]] == 0) fprintf(stderr, "  never refused with %s\n", slq_err_name(want[i]));
        CHECK(seen[want[i]] > 0);
    }
    printf("edges: %d issues at the share limit, %d one fen over; %d transactions at an expiry\n",
           edges[0], edges[1], edges[2]);
    CHECK(edges[0] > 0);
    CHECK(edges[1] > 0);
    CHECK(edges[2] > 0);
    printf("holder caps: %d transfers from an intermediary refused over the recipient's cap\n",
           edges[3]);
    CHECK(edges[3] > 0);
    printf("edges: %d issues against an application exactly at the contract's share, %d one fen "
           "over after an earlier issue\n",
           edges[4], edges[5]);
    CHECK(edges[4] > 0);
    CHECK(edges[5] > 0);
    printf("grace: %d vouchers redeemed after their expiry, %d transactions as a grace ends\n",
           edges[6], edges[7]);
    CHECK(edges[6] > 0);
    CHECK(edges[7] > 0);
}

static void test_random_transactions_follow_the_model_and_keep_every_fen_accounted_for(void) {
    static int seen[CODES];
    int edges[8] = {0};
    const char *env = getenv("SLQ_SEED");
    if (env != NULL) {
        CHECK_EQ_INT(run_seed(strtoull(env, NULL, 10), 3000, seen, edges), 0);
        return;
    }
    for (uint64_t seed = 1; seed <= 12; seed++) {
        int bad = run_seed(seed, 1500, seen, edges);
        if (bad != 0) fprintf(stderr, "  failing seed: SLQ_SEED=%llu\n", (unsigned long long) seed);
        CHECK_EQ_INT(bad, 0);
    }
    check_coverage(seen, edges);
}

TEST_MAIN("ledger-random",
          TEST(test_random_transactions_follow_the_model_and_keep_every_fen_accounted_for))
