/* report.c: the report of report.h, in five steps:
 *
 *   1. load: every voucher, claim and account row, the year and program totals and the
 *      holder quotas, each decoded strictly and checked for shape (a row that does not
 *      decode, or a voucher whose parent is missing, is SLQ_STORAGE_CORRUPT);
 *   2. tally: per budget year, program, centre and holder, recomputed from the vouchers and
 *      claims themselves (the totals rows are only compared with the result: totals_match);
 *   3. timeline: every ISSUE (+amount) and REVOKE (-amount) placed at its (height, index)
 *      through the tx location rows, replayed in order per year, per program and per
 *      (holder, program), so that cap_held says the cap held after every transaction, not
 *      only at the tip; a holder's line also counts what an intermediary passed on to it
 *      (the TRANSFER that made it the voucher's beneficiary), as the ledger charges it;
 *   4. what the audit shows (tally_extras, tally_applications): classes, centres' payments,
 *      revocations with their REVOKE's reason, applications by the year of their APPLY block
 *      and the contracts they name (the two block facts through report_source);
 *   5. emit: JSON with members in a fixed order, lists in id or address order.
 *
 * All sums are overflow-checked. Pointers into the loaded rows stay valid until the report
 * is freed (the rows are never moved; only the arrays of pointers are sorted). */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "slq/amount.h"
#include "slq/assert.h"
#include "slq/cst.h"
#include "slq/keys.h"
#include "slq/limits.h"

#define ADDR SLQ_ADDRESS_BYTES
#define HASH SLQ_HASH_BYTES

/* ------------------------------------------------------------------ sources */

typedef slq_err (*row_get_fn)(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                              size_t *val_len);

/* The stored block of `height`, decoded; *hdr its header. Both NULL-safe to free. */
static slq_err block_read(row_get_fn get, void *ctx, uint64_t height, Slq__Block **b,
                          Slq__BlockHeader **hdr) {
    slq_key k = slq_key_height(SLQ_KEY_BLOCK, height);
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = get(ctx, k.bytes, k.len, &v, &len);
    if (err != SLQ_OK) return err;
    *b = slq__block__unpack(NULL, len, v);
    free(v);
    *hdr = *b != NULL ? slq__block_header__unpack(NULL, (*b)->header.len, (*b)->header.data) : NULL;
    return *hdr != NULL ? SLQ_OK : SLQ_STORAGE_CORRUPT;
}

static slq_err rows_block_time(row_get_fn get, void *ctx, uint64_t height, int64_t *time_ms) {
    Slq__Block *b = NULL;
    Slq__BlockHeader *hdr = NULL;
    slq_err err = block_read(get, ctx, height, &b, &hdr);
    if (err == SLQ_OK) *time_ms = hdr->time_ms;
    if (hdr != NULL) slq__block_header__free_unpacked(hdr, NULL);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    return err;
}

/* The reason of a committed REVOKE: its 'x' row, its block, the transaction's body. */
static slq_err rows_revoke_reason(row_get_fn get, void *ctx, const uint8_t *tx_hash,
                                  char **reason) {
    slq_key k = slq_key_bytes(SLQ_KEY_TX, tx_hash, HASH);
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = get(ctx, k.bytes, k.len, &v, &len);
    if (err != SLQ_OK) return err;
    Slq__TxLocation *loc = slq__tx_location__unpack(NULL, len, v);
    free(v);
    if (loc == NULL) return SLQ_STORAGE_CORRUPT;
    Slq__Block *b = NULL;
    Slq__BlockHeader *hdr = NULL;
    err = block_read(get, ctx, loc->height, &b, &hdr);
    Slq__SignedTx *stx = NULL;
    Slq__TxBody *body = NULL;
    if (err == SLQ_OK && loc->index < b->n_txs)
        stx = slq__signed_tx__unpack(NULL, b->txs[loc->index].len, b->txs[loc->index].data);
    if (stx != NULL) body = slq__tx_body__unpack(NULL, stx->body.len, stx->body.data);
    if (err == SLQ_OK)
        err = body != NULL && body->payload_case == SLQ__TX_BODY__PAYLOAD_REVOKE
                  ? SLQ_OK
                  : SLQ_STORAGE_CORRUPT;
    if (err == SLQ_OK && (*reason = strdup(body->revoke->reason)) == NULL) err = SLQ_NO_MEMORY;
    if (body != NULL) slq__tx_body__free_unpacked(body, NULL);
    if (stx != NULL) slq__signed_tx__free_unpacked(stx, NULL);
    if (hdr != NULL) slq__block_header__free_unpacked(hdr, NULL);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    slq__tx_location__free_unpacked(loc, NULL);
    return err;
}

static slq_err storage_scan_family(void *ctx, uint8_t family, report_row_cb cb, void *arg) {
    return storage_scan(ctx, &family, 1, cb, arg);
}

static slq_err storage_get_row(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                               size_t *val_len) {
    return storage_get(ctx, key, key_len, val, val_len);
}

static slq_err storage_block_time(void *ctx, uint64_t height, int64_t *time_ms) {
    return rows_block_time(storage_get_row, ctx, height, time_ms);
}

static slq_err storage_revoke_reason(void *ctx, const uint8_t *tx_hash, char **reason) {
    return rows_revoke_reason(storage_get_row, ctx, tx_hash, reason);
}

report_source report_source_storage(storage *s) {
    return (report_source){.ctx = s,
                           .scan = storage_scan_family,
                           .get = storage_get_row,
                           .chain_ctx = s,
                           .block_time = storage_block_time,
                           .revoke_reason = storage_revoke_reason};
}

static slq_err pin_scan_family(void *ctx, uint8_t family, report_row_cb cb, void *arg) {
    return storage_pin_scan(ctx, &family, 1, cb, arg);
}

static slq_err pin_get_row(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                           size_t *val_len) {
    return storage_pin_get(ctx, key, key_len, val, val_len);
}

static slq_err pin_block_time(void *ctx, uint64_t height, int64_t *time_ms) {
    return rows_block_time(pin_get_row, ctx, height, time_ms);
}

static slq_err pin_revoke_reason(void *ctx, const uint8_t *tx_hash, char **reason) {
    return rows_revoke_reason(pin_get_row, ctx, tx_hash, reason);
}

report_source report_source_pin(storage_pin *p) {
    return (report_source){.ctx = p,
                           .scan = pin_scan_family,
                           .get = pin_get_row,
                           .chain_ctx = p,
                           .block_time = pin_block_time,
                           .revoke_reason = pin_revoke_reason};
}

static slq_err state_scan_family(void *ctx, uint8_t family, report_row_cb cb, void *arg) {
    ledger_state_foreach(ctx, &family, 1, cb, arg);
    return SLQ_OK;
}

static slq_err state_get_row(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                             size_t *val_len) {
    const uint8_t *v = NULL;
    size_t n = 0;
    slq_err err = ledger_state_get(ctx, key, key_len, &v, &n);
    if (err != SLQ_OK) return err;
    *val = malloc(n > 0 ? n : 1);
    if (*val == NULL) return SLQ_NO_MEMORY;
    if (n > 0) memcpy(*val, v, n);
    *val_len = n;
    return SLQ_OK;
}

report_source report_source_state(ledger_state *st) {
    return (report_source){.ctx = st, .scan = state_scan_family, .get = state_get_row};
}

/* ------------------------------------------------------------------ the model */

typedef report_totals rtot;

typedef struct {
    const Slq__Claim *c;
    int64_t amount; /* the part of the claim that is of this budget year */
} rclaim;

typedef struct {
    uint8_t addr[ADDR]; /* first: the arrays are sorted by it */
    int64_t redeemed, settled, open;
    rclaim *claims;
    size_t n_claims, cap_claims;
} rcentre;

typedef struct {
    uint8_t addr[ADDR]; /* first: the arrays are sorted by it */
    int64_t issued, held, redeemed;
    int64_t used[SLQ_PROGRAMS_MAX], peak[SLQ_PROGRAMS_MAX];
    bool quota_row[SLQ_PROGRAMS_MAX]; /* a stored quota row was compared */
} rholder;

/* The holder classes, in the order of their roles (ROLE_ENTERPRISE .. ROLE_INTERMEDIARY). */
#define HOLDER_CLASSES 5

typedef struct {
    int64_t issued;   /* root vouchers issued to a party of the class */
    int64_t redeemed; /* redeemed vouchers whose beneficiary (else payer) is of the class */
    int64_t held;     /* active, unexpired vouchers held by a party of the class */
} rclass;

typedef struct {
    uint8_t addr[ADDR]; /* first: the arrays are sorted by it */
    int64_t paid;       /* transfers' recipient parts whose holder is this centre */
} rpaid;

typedef struct {
    const Slq__Voucher *v;
    uint64_t height; /* of the REVOKE */
    uint32_t index;
    char *reason; /* owned: the REVOKE's, from its block */
} rrevoke;

/* Applications of one (year, program), by the year of their APPLY block. */
typedef struct {
    uint64_t count, issued_count, rejected_count, open_count;
    int64_t asked, issued, rejected, open; /* issued: granted; rejected, open: asked */
} rapps;

/* One contract (ContractShare row), with its figures recomputed from its applications. */
typedef struct {
    uint8_t key[HASH]; /* first: sorted by it */
    const Slq__ContractShare *row;
    int64_t asked, issued;
    uint64_t applications;
} rcontract;

enum { ANOM_HOPS, ANOM_NEAR_CAP, ANOM_AFFILIATED, ANOM_KINDS };

typedef struct {
    int kind;
    const Slq__Voucher *v;      /* hops, affiliated */
    const rholder *h;           /* near cap (the holders are final when it is made) */
    uint32_t program;           /* near cap */
    const Slq__Account *party;  /* affiliated: the related party in the lineage */
    const Slq__Account *centre; /* affiliated */
} ranom;

/* What one payer (the policy's payers, or "city") settled in a year: the claim parts of the
 * year, and of them what was paid (a partial payment covers a claim's parts in ascending
 * (year, program) order). */
typedef struct {
    int64_t settled, paid;
    uint64_t parts;
} rpayer;

typedef struct {
    uint32_t year;
    rtot city, prog[SLQ_PROGRAMS_MAX];
    rpayer payers[SLQ_PAYERS_MAX];
    const Slq__YearTotals *row_city, *row_prog[SLQ_PROGRAMS_MAX];
    rcentre *centres;
    size_t n_centres, cap_centres;
    rholder *holders;
    size_t n_holders, cap_holders;
    ranom *anoms;
    size_t n_anoms, cap_anoms;
    bool quota_match;
    rclass classes[HOLDER_CLASSES];
    rpaid *paid;
    size_t n_paid, cap_paid;
    rrevoke *revokes;
    size_t n_revokes, cap_revokes;
    rapps apps[SLQ_PROGRAMS_MAX];
    const rcontract **contracts; /* those applied for in the year, by key */
    size_t n_contracts, cap_contracts;
} ryear;

typedef struct {
    uint32_t year, program;
    bool city;
    Slq__YearTotals *t;
} rrow;

typedef struct {
    uint32_t year, program;
    uint8_t holder[ADDR];
    int64_t used;
} rquota;

typedef struct {
    const ledger *l;
    const Slq__Policy *pol;
    const report_source *src;
    const report_tip *tip;
    Slq__Voucher **vouchers;
    size_t n_vouchers, cap_vouchers;
    Slq__Claim **claims;
    size_t n_claims, cap_claims;
    Slq__Account **accounts;
    size_t n_accounts, cap_accounts;
    rrow *rows;
    size_t n_rows, cap_rows;
    rquota *quotas;
    size_t n_quotas, cap_quotas;
    ryear *years;
    size_t n_years;
    Slq__Application **apps;
    size_t n_apps, cap_apps;
    Slq__ContractShare **shares; /* owned rows; contracts point into them */
    size_t n_shares, cap_shares;
    rcontract *contracts;
    size_t n_contracts, cap_contracts;
} rep;

#define ROOM_FIRST 16u /* elements of an array's first allocation; it doubles after */

/* Makes room for one more element of `size` bytes in *arr. */
static slq_err reserve(void **arr, size_t *cap, size_t n, size_t size) {
    SLQ_ASSERT(n <= *cap); /* never more elements than room */
    if (n < *cap) return SLQ_OK;
    size_t c = *cap == 0 ? ROOM_FIRST : 2 * *cap;
    void *p = realloc(*arr, c * size);
    if (p == NULL) return SLQ_NO_MEMORY;
    *arr = p;
    *cap = c;
    return SLQ_OK;
}

#define PUSH(arr, n, cap, value)                                     \
    (reserve((void **) &(arr), &(cap), (n), sizeof *(arr)) != SLQ_OK \
         ? SLQ_NO_MEMORY                                             \
         : ((arr)[(n)++] = (value), SLQ_OK))

static bool add(int64_t *acc, int64_t v) {
    return amount_add(acc, *acc, v) == SLQ_OK;
}

static void rep_free(rep *r) {
    for (size_t i = 0; i < r->n_vouchers; i++) slq__voucher__free_unpacked(r->vouchers[i], NULL);
    for (size_t i = 0; i < r->n_claims; i++) slq__claim__free_unpacked(r->claims[i], NULL);
    for (size_t i = 0; i < r->n_accounts; i++) slq__account__free_unpacked(r->accounts[i], NULL);
    for (size_t i = 0; i < r->n_rows; i++) slq__year_totals__free_unpacked(r->rows[i].t, NULL);
    for (size_t y = 0; y < r->n_years; y++) {
        ryear *yr = &r->years[y];
        for (size_t i = 0; i < yr->n_centres; i++) free(yr->centres[i].claims);
        free(yr->centres);
        free(yr->holders);
        free(yr->anoms);
        free(yr->paid);
        for (size_t i = 0; i < yr->n_revokes; i++) free(yr->revokes[i].reason);
        free(yr->revokes);
        free(yr->contracts);
    }
    for (size_t i = 0; i < r->n_apps; i++) slq__application__free_unpacked(r->apps[i], NULL);
    for (size_t i = 0; i < r->n_shares; i++) slq__contract_share__free_unpacked(r->shares[i], NULL);
    free(r->apps);
    free(r->shares);
    free(r->contracts);
    free(r->vouchers);
    free(r->claims);
    free(r->accounts);
    free(r->rows);
    free(r->quotas);
    free(r->years);
}

/* ------------------------------------------------------------------ lookups */

/* Binary search in a sorted array of pointers to messages whose `field` is `n` bytes. */
#define FIND(arr, count, field, key, n)                           \
    do {                                                          \
        size_t lo_ = 0, hi_ = (count);                            \
        while (lo_ < hi_) {                                       \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                  \
            int c_ = memcmp((arr)[mid_]->field.data, (key), (n)); \
            if (c_ == 0) return (arr)[mid_];                      \
            if (c_ < 0)                                           \
                lo_ = mid_ + 1;                                   \
            else                                                  \
                hi_ = mid_;                                       \
        }                                                         \
        return NULL;                                              \
    } while (0)

static const Slq__Voucher *voucher_find(const rep *r, const uint8_t *id) {
    FIND(r->vouchers, r->n_vouchers, id, id, HASH);
}

static const Slq__Account *account_find(const rep *r, const uint8_t *addr) {
    FIND(r->accounts, r->n_accounts, address, addr, ADDR);
}

static bool is_centre(const rep *r, const uint8_t *addr) {
    const Slq__Account *a = account_find(r, addr);
    return a != NULL && a->role == SLQ__ROLE__ROLE_CENTRE;
}

static ryear *year_of(const rep *r, uint32_t year) {
    for (size_t i = 0; i < r->n_years; i++)
        if (r->years[i].year == year) return &r->years[i];
    return NULL;
}

/* Finds the element of a sorted array (elements of `size` bytes that start with their
 * address) whose address is addr; with insert, adds a zeroed one where it belongs. */
static void *addr_entry(void **arr, size_t *n, size_t *cap, size_t size, const uint8_t *addr,
                        bool insert) {
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp((uint8_t *) *arr + mid * size, addr, ADDR);
        if (c == 0) return (uint8_t *) *arr + mid * size;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!insert || reserve(arr, cap, *n, size) != SLQ_OK) return NULL;
    SLQ_ASSERT(*n < *cap); /* the move below stays inside the array */
    uint8_t *base = *arr;
    memmove(base + (lo + 1) * size, base + lo * size, (*n - lo) * size);
    memset(base + lo * size, 0, size);
    memcpy(base + lo * size, addr, ADDR);
    (*n)++;
    return base + lo * size;
}

static rholder *holder_entry(ryear *y, const uint8_t *addr, bool insert) {
    return addr_entry((void **) &y->holders, &y->n_holders, &y->cap_holders, sizeof(rholder), addr,
                      insert);
}

static rcentre *centre_entry(ryear *y, const uint8_t *addr) {
    return addr_entry((void **) &y->centres, &y->n_centres, &y->cap_centres, sizeof(rcentre), addr,
                      true);
}

/* ------------------------------------------------------------------ load */

typedef struct {
    rep *r;
    slq_err err;
} load_ctx;

static bool stop(load_ctx *c, slq_err err) {
    c->err = err;
    return false;
}

static bool voucher_ok(const rep *r, const Slq__Voucher *v, const uint8_t *key, size_t key_len) {
    return key_len == 1 + HASH && v->id.len == HASH && memcmp(key + 1, v->id.data, HASH) == 0 &&
           v->holder.len == ADDR && (v->beneficiary.len == 0 || v->beneficiary.len == ADDR) &&
           v->created_tx.len == HASH && (v->parent_id.len == 0 || v->parent_id.len == HASH) &&
           (v->closed_tx.len == 0 || v->closed_tx.len == HASH) &&
           (v->state != SLQ__VOUCHER_STATE__VOUCHER_REVOKED || v->closed_tx.len == HASH) &&
           v->program < r->pol->n_programs && v->original_fen >= 0 && v->remaining_fen >= 0 &&
           v->base.n_unknown_fields == 0;
}

static bool load_voucher(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    load_ctx *c = arg;
    Slq__Voucher *v = slq__voucher__unpack(NULL, val_len, val);
    if (v == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    if (!voucher_ok(c->r, v, key, key_len)) {
        slq__voucher__free_unpacked(v, NULL);
        return stop(c, SLQ_STORAGE_CORRUPT);
    }
    if (PUSH(c->r->vouchers, c->r->n_vouchers, c->r->cap_vouchers, v) != SLQ_OK) {
        slq__voucher__free_unpacked(v, NULL);
        return stop(c, SLQ_NO_MEMORY);
    }
    return true;
}

static bool claim_ok(const rep *r, const Slq__Claim *cl, const uint8_t *key, size_t key_len) {
    bool ok = key_len == 1 + HASH && cl->id.len == HASH &&
              memcmp(key + 1, cl->id.data, HASH) == 0 && cl->centre.len == ADDR &&
              cl->base.n_unknown_fields == 0;
    for (size_t i = 0; ok && i < cl->n_years; i++)
        ok = cl->years[i]->program < r->pol->n_programs && cl->years[i]->amount_fen >= 0;
    return ok;
}

static bool load_claim(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    load_ctx *c = arg;
    Slq__Claim *cl = slq__claim__unpack(NULL, val_len, val);
    if (cl == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    if (!claim_ok(c->r, cl, key, key_len)) {
        slq__claim__free_unpacked(cl, NULL);
        return stop(c, SLQ_STORAGE_CORRUPT);
    }
    if (PUSH(c->r->claims, c->r->n_claims, c->r->cap_claims, cl) != SLQ_OK) {
        slq__claim__free_unpacked(cl, NULL);
        return stop(c, SLQ_NO_MEMORY);
    }
    return true;
}

static bool load_account(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t val_len) {
    load_ctx *c = arg;
    Slq__Account *a = slq__account__unpack(NULL, val_len, val);
    if (a == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    if (key_len != 1 + ADDR || a->address.len != ADDR ||
        memcmp(key + 1, a->address.data, ADDR) != 0) {
        slq__account__free_unpacked(a, NULL);
        return stop(c, SLQ_STORAGE_CORRUPT);
    }
    if (PUSH(c->r->accounts, c->r->n_accounts, c->r->cap_accounts, a) != SLQ_OK) {
        slq__account__free_unpacked(a, NULL);
        return stop(c, SLQ_NO_MEMORY);
    }
    return true;
}

/* The layout of the totals and quota keys (slq/keys.h): family, year u32, program u32,
 * holder. */
#define KEY_YEAR_AT            1u
#define KEY_PROGRAM_AT         5u
#define KEY_HOLDER_AT          9u
#define YEAR_KEY_BYTES         KEY_PROGRAM_AT
#define PROGRAM_YEAR_KEY_BYTES KEY_HOLDER_AT
#define QUOTA_KEY_BYTES        (KEY_HOLDER_AT + ADDR)

static uint32_t be32(const uint8_t *p) {
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* 'y' year -> YearTotals and 'p' year program -> YearTotals. */
static bool load_totals(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                        size_t val_len) {
    load_ctx *c = arg;
    bool city = key[0] == SLQ_KEY_YEAR;
    if (key_len != (city ? YEAR_KEY_BYTES : PROGRAM_YEAR_KEY_BYTES))
        return stop(c, SLQ_STORAGE_CORRUPT);
    rrow row = {.year = be32(key + KEY_YEAR_AT),
                .program = city ? 0 : be32(key + KEY_PROGRAM_AT),
                .city = city};
    if (!city && row.program >= c->r->pol->n_programs) return stop(c, SLQ_STORAGE_CORRUPT);
    row.t = slq__year_totals__unpack(NULL, val_len, val);
    if (row.t == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    if (PUSH(c->r->rows, c->r->n_rows, c->r->cap_rows, row) != SLQ_OK) {
        slq__year_totals__free_unpacked(row.t, NULL);
        return stop(c, SLQ_NO_MEMORY);
    }
    return true;
}

/* 'q' year program holder -> HolderQuota. */
static bool load_quota(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                       size_t val_len) {
    load_ctx *c = arg;
    if (key_len != QUOTA_KEY_BYTES) return stop(c, SLQ_STORAGE_CORRUPT);
    Slq__HolderQuota *q = slq__holder_quota__unpack(NULL, val_len, val);
    if (q == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    rquota row = {.year = be32(key + KEY_YEAR_AT),
                  .program = be32(key + KEY_PROGRAM_AT),
                  .used = q->used_fen};
    memcpy(row.holder, key + KEY_HOLDER_AT, ADDR);
    slq__holder_quota__free_unpacked(q, NULL);
    if (row.program >= c->r->pol->n_programs) return stop(c, SLQ_STORAGE_CORRUPT);
    return PUSH(c->r->quotas, c->r->n_quotas, c->r->cap_quotas, row) == SLQ_OK
               ? true
               : stop(c, SLQ_NO_MEMORY);
}

static int cmp_voucher(const void *a, const void *b) {
    return memcmp((*(Slq__Voucher *const *) a)->id.data, (*(Slq__Voucher *const *) b)->id.data,
                  HASH);
}
static int cmp_claim(const void *a, const void *b) {
    return memcmp((*(Slq__Claim *const *) a)->id.data, (*(Slq__Claim *const *) b)->id.data, HASH);
}
static int cmp_account(const void *a, const void *b) {
    return memcmp((*(Slq__Account *const *) a)->address.data,
                  (*(Slq__Account *const *) b)->address.data, ADDR);
}
static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

static slq_err load(rep *r) {
    static const struct {
        uint8_t family;
        report_row_cb cb;
    } families[] = {{SLQ_KEY_VOUCHER, load_voucher},     {SLQ_KEY_CLAIM, load_claim},
                    {SLQ_KEY_ACCOUNT, load_account},     {SLQ_KEY_YEAR, load_totals},
                    {SLQ_KEY_PROGRAM_YEAR, load_totals}, {SLQ_KEY_QUOTA, load_quota}};
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        load_ctx c = {.r = r, .err = SLQ_OK};
        slq_err err = r->src->scan(r->src->ctx, families[i].family, families[i].cb, &c);
        if (err == SLQ_OK) err = c.err;
        if (err != SLQ_OK) return err;
    }
    if (r->n_vouchers > 1) qsort(r->vouchers, r->n_vouchers, sizeof *r->vouchers, cmp_voucher);
    if (r->n_claims > 1) qsort(r->claims, r->n_claims, sizeof *r->claims, cmp_claim);
    if (r->n_accounts > 1) qsort(r->accounts, r->n_accounts, sizeof *r->accounts, cmp_account);
    return SLQ_OK;
}

/* The years to report: `year`, or every year of a voucher or a totals row, ascending. */
static slq_err years_init(rep *r, uint32_t year) {
    size_t n = 0, cap = r->n_vouchers + r->n_rows + 1;
    uint32_t *ys = malloc(cap * sizeof *ys);
    if (ys == NULL) return SLQ_NO_MEMORY;
    if (year != REPORT_ALL_YEARS) ys[n++] = year;
    for (size_t i = 0; year == REPORT_ALL_YEARS && i < r->n_vouchers; i++)
        ys[n++] = r->vouchers[i]->budget_year;
    for (size_t i = 0; year == REPORT_ALL_YEARS && i < r->n_rows; i++) ys[n++] = r->rows[i].year;
    if (n > 1) qsort(ys, n, sizeof *ys, cmp_u32);
    r->years = calloc(n + 1, sizeof *r->years);
    for (size_t i = 0; r->years != NULL && i < n; i++)
        if (r->n_years == 0 || r->years[r->n_years - 1].year != ys[i])
            r->years[r->n_years++].year = ys[i];
    free(ys);
    if (r->years == NULL) return SLQ_NO_MEMORY;
    for (size_t i = 0; i < r->n_rows; i++) {
        ryear *y = year_of(r, r->rows[i].year);
        if (y == NULL) continue;
        SLQ_ASSERT(r->rows[i].program < r->pol->n_programs); /* load_totals checked it */
        if (r->rows[i].city)
            y->row_city = r->rows[i].t;
        else
            y->row_prog[r->rows[i].program] = r->rows[i].t;
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ tally */

/* Expired as the audit counts it, at the tip's block time: past its expiry, or, for a voucher
 * held by a centre, past its programme's redemption grace. Until then the centre may still
 * redeem it (ledger/apply.c, REDEEM), so it is reported active, not expired. */
static bool expired(const rep *r, const Slq__Voucher *v) {
    SLQ_ASSERT(v->program < r->pol->n_programs); /* voucher_ok checked it on load */
    int64_t grace_ms = 0;
    if (is_centre(r, v->holder.data)) grace_ms = r->pol->programs[v->program]->redeem_grace_ms;
    return ledger_voucher_grace_over(v, grace_ms, r->tip->time_ms);
}

/* The voucher's amounts in the year's and its program's totals. */
static slq_err tally_amounts(rep *r, ryear *y, const Slq__Voucher *v, const Slq__Voucher *parent) {
    SLQ_ASSERT(v->program < r->pol->n_programs); /* voucher_ok checked them on load */
    SLQ_ASSERT(v->original_fen >= 0);
    SLQ_ASSERT(v->remaining_fen >= 0);
    rtot *pt = &y->prog[v->program], *ct = &y->city;
    bool counts = !r->pol->programs[v->program]->outside_city_cap, ok = true;
    int64_t amt = v->original_fen;
    if (parent == NULL) {
        ok = add(&pt->issued, amt) && add(&ct->issued, amt) && add(&pt->cap_used, amt) &&
             (!counts || add(&ct->cap_used, amt));
        pt->count++, ct->count++;
    } else if (v->hops == parent->hops + 1) { /* the recipient's part of a transfer */
        ok = add(&pt->transferred, amt) && add(&ct->transferred, amt);
    }
    switch (v->state) {
        case SLQ__VOUCHER_STATE__VOUCHER_ACTIVE:
            if (expired(r, v))
                ok = ok && add(&pt->expired, v->remaining_fen) &&
                     add(&ct->expired, v->remaining_fen);
            else
                ok = ok && add(&pt->active, v->remaining_fen) && add(&ct->active, v->remaining_fen);
            break;
        case SLQ__VOUCHER_STATE__VOUCHER_REDEEMED:
            ok = ok && add(&pt->redeemed, amt) && add(&ct->redeemed, amt);
            break;
        case SLQ__VOUCHER_STATE__VOUCHER_REVOKED:
            ok = ok && add(&pt->revoked, amt) && add(&ct->revoked, amt) &&
                 add(&pt->cap_used, -amt) && (!counts || add(&ct->cap_used, -amt));
            break;
        default:
            break;
    }
    return ok ? SLQ_OK : SLQ_AMOUNT_OVERFLOW;
}

/* True when v's beneficiary was charged as v was created: at its issue, or when an
 * intermediary (whose vouchers have no beneficiary) passed it on. */
static bool charged_at_creation(const Slq__Voucher *v, const Slq__Voucher *parent) {
    return v->beneficiary.len == ADDR && (parent == NULL || parent->beneficiary.len == 0);
}

/* The voucher's part in its holders' lines: issued to its first holder, charged to and
 * revoked from its beneficiary (whose yearly quota it uses), held by its holder, redeemed
 * after its payer paid it. */
static slq_err tally_holders(rep *r, ryear *y, const Slq__Voucher *v, const Slq__Voucher *parent) {
    int64_t amt = v->original_fen;
    bool ok = true;
    rholder *h = NULL;
    if (parent == NULL) {
        if ((h = holder_entry(y, v->holder.data, true)) == NULL) return SLQ_NO_MEMORY;
        ok = add(&h->issued, amt);
    }
    if (charged_at_creation(v, parent)) {
        if ((h = holder_entry(y, v->beneficiary.data, true)) == NULL) return SLQ_NO_MEMORY;
        ok = ok && add(&h->used[v->program], amt);
    }
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_REVOKED && v->beneficiary.len == ADDR) {
        if ((h = holder_entry(y, v->beneficiary.data, true)) == NULL) return SLQ_NO_MEMORY;
        ok = ok && add(&h->used[v->program], -amt);
    }
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE && !expired(r, v) &&
        !is_centre(r, v->holder.data)) {
        if ((h = holder_entry(y, v->holder.data, true)) == NULL) return SLQ_NO_MEMORY;
        ok = ok && add(&h->held, v->remaining_fen);
    }
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_REDEEMED && parent != NULL &&
        !is_centre(r, parent->holder.data)) {
        if ((h = holder_entry(y, parent->holder.data, true)) == NULL) return SLQ_NO_MEMORY;
        ok = ok && add(&h->redeemed, amt);
    }
    return ok ? SLQ_OK : SLQ_AMOUNT_OVERFLOW;
}

/* The nearest party up the lineage of a redeemed voucher (the centre excluded) that shares
 * the redeeming centre's affiliation group, or NULL. */
static const Slq__Account *related_party(const rep *r, const Slq__Voucher *v,
                                         const Slq__Account *centre) {
    if (centre == NULL || centre->affiliation[0] == '\0') return NULL;
    size_t steps = 0;
    for (const Slq__Voucher *a = v; a != NULL && steps <= r->n_vouchers; steps++) {
        if (memcmp(a->holder.data, centre->address.data, ADDR) != 0) {
            const Slq__Account *p = account_find(r, a->holder.data);
            if (p != NULL && strcmp(p->affiliation, centre->affiliation) == 0) return p;
        }
        a = a->parent_id.len == HASH ? voucher_find(r, a->parent_id.data) : NULL;
    }
    return NULL;
}

#define MANY_HOPS 3u /* a voucher passed through this many hands is listed (docs/audit.md) */

static slq_err tally_anomalies(rep *r, ryear *y, const Slq__Voucher *v) {
    if (v->hops >= MANY_HOPS && v->state != SLQ__VOUCHER_STATE__VOUCHER_SPLIT) {
        ranom a = {.kind = ANOM_HOPS, .v = v};
        if (PUSH(y->anoms, y->n_anoms, y->cap_anoms, a) != SLQ_OK) return SLQ_NO_MEMORY;
    }
    if (v->state != SLQ__VOUCHER_STATE__VOUCHER_REDEEMED) return SLQ_OK;
    const Slq__Account *centre = account_find(r, v->holder.data);
    const Slq__Account *party = related_party(r, v, centre);
    if (party == NULL) return SLQ_OK;
    ranom a = {.kind = ANOM_AFFILIATED, .v = v, .party = party, .centre = centre};
    return PUSH(y->anoms, y->n_anoms, y->cap_anoms, a);
}

static slq_err tally_vouchers(rep *r) {
    for (size_t i = 0; i < r->n_vouchers; i++) {
        const Slq__Voucher *v = r->vouchers[i], *parent = NULL;
        ryear *y = year_of(r, v->budget_year);
        if (y == NULL) continue;
        if (v->parent_id.len == HASH && (parent = voucher_find(r, v->parent_id.data)) == NULL)
            return SLQ_STORAGE_CORRUPT; /* a voucher's parent is written with it */
        slq_err err = tally_amounts(r, y, v, parent);
        if (err == SLQ_OK) err = tally_holders(r, y, v, parent);
        if (err == SLQ_OK) err = tally_anomalies(r, y, v);
        if (err != SLQ_OK) return err;
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ claims reviewed */

static size_t payers_count(const Slq__Policy *pol) {
    return pol->n_payers == 0 ? 1 : pol->n_payers;
}

static const char *payer_name(const Slq__Policy *pol, size_t i) {
    return pol->n_payers == 0 ? LEDGER_PAYER_DEFAULT : pol->payers[i];
}

/* A rejected claim's part: clawed back into its pool (cap_used down, the city's only for a
 * program inside the city cap), as REVIEW_CLAIM booked it. */
static bool tally_clawed_back(rep *r, ryear *y, uint32_t program, int64_t amt) {
    rtot *pt = &y->prog[program], *ct = &y->city;
    bool counts = !r->pol->programs[program]->outside_city_cap;
    pt->rejected++, ct->rejected++;
    return add(&pt->clawed_back, amt) && add(&ct->clawed_back, amt) && add(&pt->cap_used, -amt) &&
           (!counts || add(&ct->cap_used, -amt));
}

/* A settled claim's part: to its payer's line of the year; *left is what of the claim's
 * payment the earlier parts did not take. */
static slq_err tally_payer(rep *r, ryear *y, const Slq__Claim *c, int64_t amt, int64_t *left) {
    size_t i = 0, n = payers_count(r->pol);
    while (i < n && strcmp(payer_name(r->pol, i), c->payer) != 0) i++;
    if (i == n) return SLQ_STORAGE_CORRUPT; /* SETTLE takes only a listed payer */
    int64_t paid = *left < amt ? *left : amt;
    *left -= paid;
    y->payers[i].parts++;
    bool ok = add(&y->payers[i].settled, amt) && add(&y->payers[i].paid, paid);
    return ok ? SLQ_OK : SLQ_AMOUNT_OVERFLOW;
}

/* Adds one (year, program) part of a claim to its centre and to the year's totals. */
static slq_err tally_claim_part(rep *r, const Slq__Claim *c, const Slq__YearAmount *part,
                                int64_t *paid_left) {
    ryear *y = year_of(r, part->budget_year);
    if (y == NULL) { /* a year not reported: its share of the payment is still taken */
        int64_t paid = *paid_left < part->amount_fen ? *paid_left : part->amount_fen;
        if (c->settled && paid > 0) *paid_left -= paid;
        return SLQ_OK;
    }
    SLQ_ASSERT(part->program < r->pol->n_programs); /* claim_ok checked them on load */
    SLQ_ASSERT(part->amount_fen >= 0);
    rcentre *ce = centre_entry(y, c->centre.data);
    if (ce == NULL) return SLQ_NO_MEMORY;
    int64_t amt = part->amount_fen;
    rtot *pt = &y->prog[part->program];
    bool ok = add(&ce->redeemed, amt);
    if (c->settled)
        ok = ok && add(&ce->settled, amt) && add(&y->city.settled, amt) && add(&pt->settled, amt);
    else if (c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED)
        ok = ok && tally_clawed_back(r, y, part->program, amt);
    else
        ok = ok && add(&ce->open, amt) && add(&y->city.open, amt) && add(&pt->open, amt);
    if (!ok) return SLQ_AMOUNT_OVERFLOW;
    slq_err err = c->settled ? tally_payer(r, y, c, amt, paid_left) : SLQ_OK;
    if (err != SLQ_OK) return err;
    if (ce->n_claims > 0 && ce->claims[ce->n_claims - 1].c == c) /* another program, same year */
        return add(&ce->claims[ce->n_claims - 1].amount, amt) ? SLQ_OK : SLQ_AMOUNT_OVERFLOW;
    rclaim rc = {.c = c, .amount = amt};
    return PUSH(ce->claims, ce->n_claims, ce->cap_claims, rc);
}

static slq_err tally_claims(rep *r) {
    for (size_t i = 0; i < r->n_claims; i++) {
        int64_t paid_left = r->claims[i]->paid_fen;
        for (size_t k = 0; k < r->claims[i]->n_years; k++) {
            slq_err err = tally_claim_part(r, r->claims[i], r->claims[i]->years[k], &paid_left);
            if (err != SLQ_OK) return err;
        }
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ timeline */

typedef struct {
    uint64_t height;
    uint32_t index, year, program;
    const uint8_t *holder; /* the beneficiary, whose quota moves; NULL: none */
    int64_t delta;
    bool pool; /* moves the city's and the program's cap use (an ISSUE or a REVOKE) */
} revent;

/* Where a committed transaction is, from its 'x' row. */
static slq_err tx_location(const rep *r, const ProtobufCBinaryData *tx, revent *e) {
    slq_key k = slq_key_bytes(SLQ_KEY_TX, tx->data, HASH);
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = r->src->get(r->src->ctx, k.bytes, k.len, &v, &len);
    if (err == SLQ_NOT_FOUND) return SLQ_STORAGE_CORRUPT; /* written with the tx's changes */
    if (err != SLQ_OK) return err;
    Slq__TxLocation *loc = slq__tx_location__unpack(NULL, len, v);
    free(v);
    if (loc == NULL) return SLQ_STORAGE_CORRUPT;
    e->height = loc->height;
    e->index = loc->index;
    slq__tx_location__free_unpacked(loc, NULL);
    return e->height == 0 ? SLQ_STORAGE_CORRUPT : SLQ_OK;
}

/* The clawed-back part of every rejected claim of the reported years (-, the pools only),
 * placed at its REVIEW_CLAIM. */
static slq_err claw_events(const rep *r, revent *ev, size_t *n) {
    for (size_t i = 0; i < r->n_claims; i++) {
        const Slq__Claim *c = r->claims[i];
        if (c->review != SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED) continue;
        for (size_t k = 0; k < c->n_years; k++) {
            if (year_of(r, c->years[k]->budget_year) == NULL) continue;
            revent e = {.year = c->years[k]->budget_year,
                        .program = c->years[k]->program,
                        .delta = -c->years[k]->amount_fen,
                        .pool = true};
            slq_err err = tx_location(r, &c->review_tx, &e);
            if (err != SLQ_OK) return err;
            ev[(*n)++] = e;
        }
    }
    return SLQ_OK;
}

/* Every ISSUE (+) and REVOKE (-) of the reported years, and every pass-on that charged a
 * holder (+, its line only), placed at its transaction. At most two per voucher; then the
 * claw-backs of rejected claims (claw_events). */
static slq_err events_collect(const rep *r, revent **out, size_t *count) {
    size_t n = 0, parts = 0;
    for (size_t i = 0; i < r->n_claims; i++) parts += r->claims[i]->n_years;
    revent *ev = malloc((2 * r->n_vouchers + parts + 1) * sizeof *ev);
    if (ev == NULL) return SLQ_NO_MEMORY;
    slq_err err = SLQ_OK;
    for (size_t i = 0; err == SLQ_OK && i < r->n_vouchers; i++) {
        const Slq__Voucher *v = r->vouchers[i];
        if (year_of(r, v->budget_year) == NULL) continue;
        const Slq__Voucher *parent =
            v->parent_id.len == HASH ? voucher_find(r, v->parent_id.data) : NULL;
        revent e = {.year = v->budget_year,
                    .program = v->program,
                    .holder = v->beneficiary.len == ADDR ? v->beneficiary.data : NULL,
                    .pool = v->parent_id.len == 0};
        if (e.pool || (parent != NULL && charged_at_creation(v, parent))) {
            e.delta = v->original_fen;
            err = tx_location(r, &v->created_tx, &e);
            if (err == SLQ_OK) ev[n++] = e;
        }
        e.pool = true;
        if (err == SLQ_OK && v->state == SLQ__VOUCHER_STATE__VOUCHER_REVOKED) {
            e.delta = -v->original_fen;
            err = tx_location(r, &v->closed_tx, &e);
            if (err == SLQ_OK) ev[n++] = e;
        }
    }
    if (err == SLQ_OK) err = claw_events(r, ev, &n);
    if (err != SLQ_OK) {
        free(ev);
        return err;
    }
    *out = ev;
    *count = n;
    return SLQ_OK;
}

enum { SCOPE_CITY, SCOPE_PROGRAM, SCOPE_HOLDER };

static int cmp_at(const revent *a, const revent *b) {
    if (a->height != b->height) return a->height < b->height ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Orders holders by address, none (NULL) first. */
static int cmp_holder_addr(const uint8_t *a, const uint8_t *b) {
    if (a == NULL || b == NULL) return (a != NULL) - (b != NULL);
    return memcmp(a, b, ADDR);
}

/* Orders by year, then program (not for the city), then holder, then time. */
static int cmp_scope(const revent *a, const revent *b, int scope) {
    if (a->year != b->year) return a->year < b->year ? -1 : 1;
    if (scope != SCOPE_CITY && a->program != b->program) return a->program < b->program ? -1 : 1;
    int c = scope == SCOPE_HOLDER ? cmp_holder_addr(a->holder, b->holder) : 0;
    return c != 0 ? c : cmp_at(a, b);
}
static int cmp_city(const void *a, const void *b) {
    return cmp_scope(a, b, SCOPE_CITY);
}
static int cmp_program(const void *a, const void *b) {
    return cmp_scope(a, b, SCOPE_PROGRAM);
}
static int cmp_holder(const void *a, const void *b) {
    return cmp_scope(a, b, SCOPE_HOLDER);
}

/* Where the peak of an event's group is kept. */
static int64_t *peak_of(rep *r, const revent *e, int scope) {
    ryear *y = year_of(r, e->year);
    SLQ_ASSERT(y != NULL); /* events_collect takes the reported years only */
    if (scope == SCOPE_CITY) return &y->city.cap_peak;
    if (scope == SCOPE_PROGRAM) return &y->prog[e->program].cap_peak;
    rholder *h = holder_entry(y, e->holder, false);
    return h != NULL ? &h->peak[e->program] : NULL;
}

/* Replays the events of each group in order and keeps the highest running sum. */
static slq_err peaks(rep *r, revent *ev, size_t n, int scope) {
    static int (*const cmp[])(const void *, const void *) = {cmp_city, cmp_program, cmp_holder};
    SLQ_ASSERT(scope >= SCOPE_CITY);
    SLQ_ASSERT(scope <= SCOPE_HOLDER);
    if (n > 1) qsort(ev, n, sizeof *ev, cmp[scope]);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (scope == SCOPE_CITY && r->pol->programs[ev[i].program]->outside_city_cap) continue;
        if (scope == SCOPE_HOLDER ? ev[i].holder == NULL : !ev[i].pool) continue;
        bool same = i > 0 && ev[i - 1].year == ev[i].year &&
                    (scope == SCOPE_CITY || ev[i - 1].program == ev[i].program) &&
                    (scope != SCOPE_HOLDER || cmp_holder_addr(ev[i - 1].holder, ev[i].holder) == 0);
        if (!same) sum = 0;
        if (!add(&sum, ev[i].delta)) return SLQ_AMOUNT_OVERFLOW;
        int64_t *peak = peak_of(r, &ev[i], scope);
        if (peak == NULL) return SLQ_STORAGE_CORRUPT;
        if (sum > *peak) *peak = sum;
    }
    return SLQ_OK;
}

static slq_err timeline(rep *r) {
    revent *ev = NULL;
    size_t n = 0;
    slq_err err = events_collect(r, &ev, &n);
    for (int scope = SCOPE_CITY; err == SLQ_OK && scope <= SCOPE_HOLDER; scope++)
        err = peaks(r, ev, n, scope);
    free(ev);
    return err;
}

/* ------------------------------------------------------------------ classes, payments,
 * revocations (docs/audit.md: holder_classes, centre_payments, revocations) */

/* The class index of a holder-class account, or -1 (a centre, the issuer, unknown...). */
static int class_of(const rep *r, const uint8_t *addr) {
    const Slq__Account *a = account_find(r, addr);
    if (a == NULL || a->role < SLQ__ROLE__ROLE_ENTERPRISE || a->role > SLQ__ROLE__ROLE_INTERMEDIARY)
        return -1;
    return (int) a->role - SLQ__ROLE__ROLE_ENTERPRISE;
}

static bool class_add(const rep *r, ryear *y, const uint8_t *addr, size_t field, int64_t amt) {
    int k = class_of(r, addr);
    if (k < 0) return true;
    SLQ_ASSERT(k < HOLDER_CLASSES);
    int64_t *f[] = {&y->classes[k].issued, &y->classes[k].redeemed, &y->classes[k].held};
    return add(f[field], amt);
}

enum { CLASS_ISSUED, CLASS_REDEEMED, CLASS_HELD };

/* The voucher's part in its year's class totals, its centre's payments and revocations. */
static slq_err tally_extra(rep *r, ryear *y, const Slq__Voucher *v, const Slq__Voucher *parent) {
    int64_t amt = v->original_fen;
    bool ok = true;
    if (parent == NULL) ok = class_add(r, y, v->holder.data, CLASS_ISSUED, amt);
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_REDEEMED) {
        const uint8_t *by = v->beneficiary.len == ADDR ? v->beneficiary.data
                            : parent != NULL           ? parent->holder.data
                                                       : v->holder.data;
        ok = ok && class_add(r, y, by, CLASS_REDEEMED, amt);
    }
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE && !expired(r, v))
        ok = ok && class_add(r, y, v->holder.data, CLASS_HELD, v->remaining_fen);
    if (!ok) return SLQ_AMOUNT_OVERFLOW;
    if (parent != NULL && v->hops == parent->hops + 1 && is_centre(r, v->holder.data)) {
        rpaid *p = addr_entry((void **) &y->paid, &y->n_paid, &y->cap_paid, sizeof(rpaid),
                              v->holder.data, true);
        if (p == NULL) return SLQ_NO_MEMORY;
        if (!add(&p->paid, amt)) return SLQ_AMOUNT_OVERFLOW;
    }
    if (v->state != SLQ__VOUCHER_STATE__VOUCHER_REVOKED) return SLQ_OK;
    revent at = {.height = 0};
    slq_err err = tx_location(r, &v->closed_tx, &at);
    if (err != SLQ_OK) return err;
    rrevoke rv = {.v = v, .height = at.height, .index = at.index};
    err = r->src->revoke_reason != NULL
              ? r->src->revoke_reason(r->src->chain_ctx, v->closed_tx.data, &rv.reason)
              : SLQ_NOT_FOUND;
    if (err == SLQ_OK && (err = PUSH(y->revokes, y->n_revokes, y->cap_revokes, rv)) != SLQ_OK)
        free(rv.reason);
    return err;
}

/* Revocations in chain order: by height, then position in the block. */
static int cmp_revoke(const void *a, const void *b) {
    const rrevoke *x = a, *z = b;
    if (x->height != z->height) return x->height < z->height ? -1 : 1;
    return x->index < z->index ? -1 : x->index > z->index;
}

static slq_err tally_extras(rep *r) {
    for (size_t i = 0; i < r->n_vouchers; i++) {
        const Slq__Voucher *v = r->vouchers[i];
        ryear *y = year_of(r, v->budget_year);
        if (y == NULL) continue;
        const Slq__Voucher *parent =
            v->parent_id.len == HASH ? voucher_find(r, v->parent_id.data) : NULL;
        if (v->parent_id.len == HASH && parent == NULL) return SLQ_STORAGE_CORRUPT;
        slq_err err = tally_extra(r, y, v, parent);
        if (err != SLQ_OK) return err;
    }
    for (size_t i = 0; i < r->n_years; i++) {
        ryear *y = &r->years[i];
        if (y->n_revokes > 1) qsort(y->revokes, y->n_revokes, sizeof(rrevoke), cmp_revoke);
        for (size_t c = 0; c < y->n_centres; c++) /* a centre that claimed without a payment */
            if (addr_entry((void **) &y->paid, &y->n_paid, &y->cap_paid, sizeof(rpaid),
                           y->centres[c].addr, true) == NULL)
                return SLQ_NO_MEMORY;
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ applications and
 * contracts (docs/audit.md: applications, contracts) */

/* 'n' id -> Application. */
static bool load_application(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                             size_t val_len) {
    load_ctx *c = arg;
    Slq__Application *a = slq__application__unpack(NULL, val_len, val);
    if (a == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    bool ok = key_len == 1 + HASH && a->id.len == HASH && memcmp(key + 1, a->id.data, HASH) == 0 &&
              a->applicant.len == ADDR && a->contract_key.len == HASH &&
              a->program < c->r->pol->n_programs && a->asked_fen >= 0 && a->issued_fen >= 0;
    if (!ok || PUSH(c->r->apps, c->r->n_apps, c->r->cap_apps, a) != SLQ_OK) {
        slq__application__free_unpacked(a, NULL);
        return stop(c, ok ? SLQ_NO_MEMORY : SLQ_STORAGE_CORRUPT);
    }
    return true;
}

/* 'K' contract key -> ContractShare. */
static bool load_contract(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                          size_t val_len) {
    load_ctx *c = arg;
    Slq__ContractShare *cs = slq__contract_share__unpack(NULL, val_len, val);
    if (cs == NULL) return stop(c, SLQ_STORAGE_CORRUPT);
    bool ok =
        key_len == 1 + HASH && cs->applicant.len == ADDR && cs->program < c->r->pol->n_programs;
    if (!ok || PUSH(c->r->shares, c->r->n_shares, c->r->cap_shares, cs) != SLQ_OK) {
        slq__contract_share__free_unpacked(cs, NULL);
        return stop(c, ok ? SLQ_NO_MEMORY : SLQ_STORAGE_CORRUPT);
    }
    rcontract rc = {.row = cs};
    memcpy(rc.key, key + 1, HASH);
    return PUSH(c->r->contracts, c->r->n_contracts, c->r->cap_contracts, rc) == SLQ_OK
               ? true
               : stop(c, SLQ_NO_MEMORY);
}

static int cmp_contract(const void *a, const void *b) {
    return memcmp(((const rcontract *) a)->key, ((const rcontract *) b)->key, HASH);
}

static int cmp_contract_ptr(const void *a, const void *b) {
    return cmp_contract(*(const rcontract *const *) a, *(const rcontract *const *) b);
}

static rcontract *contract_find(rep *r, const uint8_t *key) {
    rcontract k;
    memcpy(k.key, key, HASH);
    return r->n_contracts > 0 ? bsearch(&k, r->contracts, r->n_contracts, sizeof k, cmp_contract)
                              : NULL;
}

/* By height of the APPLY, then id: each block's time is read once (tally_application). */
static int cmp_app(const void *a, const void *b) {
    const Slq__Application *x = *(Slq__Application *const *) a, *z = *(Slq__Application *const *) b;
    if (x->applied_height != z->applied_height)
        return x->applied_height < z->applied_height ? -1 : 1;
    return memcmp(x->id.data, z->id.data, HASH);
}

/* One application in its contract's sums and, by the year of its APPLY block, in its year.
 * *at_height / *at_ms: the last block time read (0: none yet). */
static slq_err tally_application(rep *r, const Slq__Application *a, uint64_t *at_height,
                                 int64_t *at_ms) {
    rcontract *ct = contract_find(r, a->contract_key.data);
    if (ct == NULL) return SLQ_STORAGE_CORRUPT; /* written with the application */
    bool issued = a->status == SLQ__APPLICATION_STATUS__APPLICATION_ISSUED;
    bool rejected = a->status == SLQ__APPLICATION_STATUS__APPLICATION_REJECTED;
    bool open = a->status == SLQ__APPLICATION_STATUS__APPLICATION_OPEN;
    if (!issued && !rejected && !open) return SLQ_STORAGE_CORRUPT;
    if (!add(&ct->asked, a->asked_fen) || !add(&ct->issued, issued ? a->issued_fen : 0))
        return SLQ_AMOUNT_OVERFLOW;
    ct->applications++;
    if (r->src->block_time == NULL) return SLQ_NOT_FOUND;   /* report.h: no blocks to read */
    if (a->applied_height == 0) return SLQ_STORAGE_CORRUPT; /* APPLY is a block's tx */
    if (*at_height != a->applied_height) {
        slq_err err = r->src->block_time(r->src->chain_ctx, a->applied_height, at_ms);
        if (err == SLQ_NOT_FOUND) err = SLQ_STORAGE_CORRUPT; /* an application of no block */
        if (err != SLQ_OK) return err;
        *at_height = a->applied_height;
    }
    ryear *y = year_of(r, slq_budget_year(*at_ms));
    if (y == NULL) return SLQ_OK;
    rapps *t = &y->apps[a->program];
    t->count++;
    bool ok = add(&t->asked, a->asked_fen);
    if (issued) {
        t->issued_count++;
        ok = ok && add(&t->issued, a->issued_fen);
    } else if (rejected) {
        t->rejected_count++;
        ok = ok && add(&t->rejected, a->asked_fen);
    } else {
        t->open_count++;
        ok = ok && add(&t->open, a->asked_fen);
    }
    if (!ok) return SLQ_AMOUNT_OVERFLOW;
    const rcontract *cp = ct;
    return PUSH(y->contracts, y->n_contracts, y->cap_contracts, cp);
}

/* Loads the applications and contracts, tallies them, and lists each year's contracts once. */
static slq_err tally_applications(rep *r) {
    load_ctx c = {.r = r, .err = SLQ_OK};
    slq_err err = r->src->scan(r->src->ctx, SLQ_KEY_APPLICATION, load_application, &c);
    if (err == SLQ_OK) err = c.err;
    if (err == SLQ_OK) err = r->src->scan(r->src->ctx, SLQ_KEY_CONTRACT, load_contract, &c);
    if (err == SLQ_OK) err = c.err;
    if (err != SLQ_OK) return err;
    if (r->n_contracts > 1) qsort(r->contracts, r->n_contracts, sizeof *r->contracts, cmp_contract);
    if (r->n_apps > 1) qsort(r->apps, r->n_apps, sizeof *r->apps, cmp_app);
    uint64_t at_height = 0;
    int64_t at_ms = 0;
    for (size_t i = 0; i < r->n_apps; i++)
        if ((err = tally_application(r, r->apps[i], &at_height, &at_ms)) != SLQ_OK) return err;
    for (size_t i = 0; i < r->n_years; i++) {
        ryear *y = &r->years[i];
        if (y->n_contracts > 1)
            qsort(y->contracts, y->n_contracts, sizeof *y->contracts, cmp_contract_ptr);
        size_t n = 0;
        for (size_t k = 0; k < y->n_contracts; k++)
            if (n == 0 || y->contracts[n - 1] != y->contracts[k])
                y->contracts[n++] = y->contracts[k];
        y->n_contracts = n;
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ checks */

static bool row_matches(const Slq__YearTotals *t, const rtot *x) {
    if (t == NULL)
        return x->issued == 0 && x->revoked == 0 && x->redeemed == 0 && x->settled == 0 &&
               x->transferred == 0 && x->cap_used == 0 && x->count == 0 && x->clawed_back == 0 &&
               x->rejected == 0;
    return t->issued_fen == x->issued && t->revoked_fen == x->revoked &&
           t->redeemed_fen == x->redeemed && t->settled_fen == x->settled &&
           t->transferred_fen == x->transferred && t->cap_used_fen == x->cap_used &&
           t->issued_count == x->count && t->clawed_back_fen == x->clawed_back &&
           t->rejected_count == x->rejected;
}

/* Compares the stored holder quotas with the recomputed ones, both ways. */
static void quotas_check(rep *r) {
    for (size_t y = 0; y < r->n_years; y++) r->years[y].quota_match = true;
    for (size_t i = 0; i < r->n_quotas; i++) {
        const rquota *q = &r->quotas[i];
        SLQ_ASSERT(q->program < r->pol->n_programs); /* load_quota checked it */
        ryear *y = year_of(r, q->year);
        if (y == NULL) continue;
        rholder *h = holder_entry(y, q->holder, false);
        if (h == NULL ? q->used != 0 : h->used[q->program] != q->used) y->quota_match = false;
        if (h != NULL) h->quota_row[q->program] = true;
    }
    for (size_t y = 0; y < r->n_years; y++)
        for (size_t i = 0; i < r->years[y].n_holders; i++)
            for (size_t p = 0; p < r->pol->n_programs; p++)
                if (r->years[y].holders[i].used[p] != 0 && !r->years[y].holders[i].quota_row[p])
                    r->years[y].quota_match = false;
}

#define NEAR_CAP_PARTS 100 /* near a cap: cap - used at most cap / 100, 1% (docs/audit.md) */

/* A holder's yearly use of a program within 1% below (or at) its per-holder cap. */
static slq_err near_caps(rep *r, ryear *y) {
    for (size_t i = 0; i < y->n_holders; i++)
        for (uint32_t p = 0; p < r->pol->n_programs; p++) {
            int64_t cap = r->pol->programs[p]->holder_annual_cap_fen, used = y->holders[i].used[p];
            if (cap <= 0 || used <= 0 || used > cap || cap - used > cap / NEAR_CAP_PARTS) continue;
            ranom a = {.kind = ANOM_NEAR_CAP, .h = &y->holders[i], .program = p};
            if (PUSH(y->anoms, y->n_anoms, y->cap_anoms, a) != SLQ_OK) return SLQ_NO_MEMORY;
        }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ emit */

/* JSON building (codec_json.h) with every return checked once: the first failure sticks. */
typedef struct {
    bool ok;       /* false: out of memory (or a height beyond int64) */
    bool overflow; /* a derived amount does not fit in int64 */
} jb;

static void jb_check(jb *j, bool ok) {
    if (!ok) j->ok = false;
}

static void j_i64(jb *j, json_t *o, const char *key, int64_t v) {
    jb_check(j, codec_json_set_i64(o, key, v));
}

static void j_u64(jb *j, json_t *o, const char *key, uint64_t v) {
    jb_check(j, codec_json_set_u64(o, key, v));
}

static void j_str(jb *j, json_t *o, const char *key, const char *s) {
    jb_check(j, codec_json_set_str(o, key, s));
}

static void j_bool(jb *j, json_t *o, const char *key, bool b) {
    jb_check(j, codec_json_set_bool(o, key, b));
}

static void j_hex(jb *j, json_t *o, const char *key, const uint8_t *p, size_t n) {
    char buf[2 * HASH + 1];
    codec_hex_encode(buf, p, n <= HASH ? n : HASH);
    j_str(j, o, key, buf);
}

static void j_addr(jb *j, json_t *o, const char *key, const uint8_t *addr) {
    jb_check(j, codec_json_set_address(o, key, addr));
}

/* A new object appended to array `arr`, or NULL (recorded in j). */
static json_t *j_item(jb *j, json_t *arr) {
    json_t *o = codec_json_add_object(arr, NULL);
    jb_check(j, o != NULL);
    return o;
}

static json_t *j_array(jb *j, json_t *o, const char *key) {
    json_t *a = codec_json_add_array(o, key);
    jb_check(j, a != NULL);
    return a;
}

/* The amounts every level (year, program) shares, after the level's own fields. */
static void j_amounts(jb *j, json_t *o, const rtot *t, int64_t outstanding) {
    j_i64(j, o, "redeemed_fen", t->redeemed);
    j_i64(j, o, "settled_fen", t->settled);
    j_i64(j, o, "open_claims_fen", t->open);
    j_i64(j, o, "clawed_back_fen", t->clawed_back);
    j_u64(j, o, "rejected_claims", t->rejected);
    j_i64(j, o, "transferred_fen", t->transferred);
    j_i64(j, o, "revoked_fen", t->revoked);
    j_i64(j, o, "expired_fen", t->expired);
    j_i64(j, o, "active_fen", t->active);
    j_i64(j, o, "outstanding_fen", outstanding);
}

/* issued = active + redeemed + revoked + expired, and redeemed = settled + open claims +
 * clawed back (rejected claims). */
static bool conserved(const rtot *t, int64_t *outstanding) {
    SLQ_ASSERT(t->issued >= 0); /* sums of amounts that are never negative */
    SLQ_ASSERT(t->active >= 0);
    int64_t out = 0, sum = 0, claims = 0;
    bool ok = add(&out, t->active) && add(&out, t->expired);
    ok = ok && add(&sum, out) && add(&sum, t->redeemed) && add(&sum, t->revoked);
    ok = ok && add(&claims, t->settled) && add(&claims, t->open) && add(&claims, t->clawed_back);
    *outstanding = out;
    return ok && sum == t->issued && claims == t->redeemed;
}

static void j_programs(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (uint32_t p = 0; p < r->pol->n_programs; p++) {
        const Slq__Program *pg = r->pol->programs[p];
        const rtot *t = &y->prog[p];
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        int64_t outstanding = 0;
        bool holds = conserved(t, &outstanding);
        j_str(j, o, "name", pg->name);
        j_i64(j, o, "cap_fen", pg->annual_cap_fen);
        j_i64(j, o, "holder_cap_fen", pg->holder_annual_cap_fen);
        j_bool(j, o, "counts_toward_city_cap", !pg->outside_city_cap);
        j_i64(j, o, "issued_fen", t->issued);
        j_u64(j, o, "issued_count", t->count);
        j_i64(j, o, "cap_used_fen", t->cap_used);
        j_i64(j, o, "cap_peak_fen", t->cap_peak);
        j_bool(j, o, "cap_held", pg->annual_cap_fen == 0 || t->cap_peak <= pg->annual_cap_fen);
        j_amounts(j, o, t, outstanding);
        j_bool(j, o, "conservation_holds", holds);
        j_bool(j, o, "totals_match", row_matches(y->row_prog[p], t));
    }
}

static void j_account(jb *j, const rep *r, json_t *o, const uint8_t *addr) {
    const Slq__Account *a = account_find(r, addr);
    const char *role = a != NULL ? codec_role_name(a->role) : NULL;
    j_str(j, o, "name", a != NULL ? a->name : "");
    j_str(j, o, "role", role != NULL ? role : "unknown");
    j_str(j, o, "affiliation", a != NULL ? a->affiliation : "");
}

static const char *review_name(Slq__ClaimReview v) {
    return v == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED   ? "approved"
           : v == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED ? "rejected"
                                                           : "open";
}

/* A claim's review and payment, after its other fields. */
static void j_claim_review(jb *j, const Slq__Claim *c, json_t *o) {
    j_str(j, o, "review", review_name(c->review));
    j_str(j, o, "review_reason", c->review_reason);
    j_u64(j, o, "reviewed_height", c->reviewed_height);
    j_i64(j, o, "paid_fen", c->paid_fen);
    j_str(j, o, "payer", c->payer);
}

/* What each payer settled and paid in the year: the city and the districts. */
static void j_payers(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (size_t i = 0; i < payers_count(r->pol); i++) {
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_str(j, o, "payer", payer_name(r->pol, i));
        j_i64(j, o, "settled_fen", y->payers[i].settled);
        j_i64(j, o, "paid_fen", y->payers[i].paid);
        j_u64(j, o, "claim_parts", y->payers[i].parts);
    }
}

static void j_claims(jb *j, const rcentre *ce, json_t *arr) {
    for (size_t k = 0; k < ce->n_claims; k++) {
        const Slq__Claim *c = ce->claims[k].c;
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_hex(j, o, "claim", c->id.data, c->id.len);
        j_str(j, o, "contract_ref", c->contract_ref);
        j_i64(j, o, "amount_fen", ce->claims[k].amount);
        j_bool(j, o, "settled", c->settled);
        j_str(j, o, "payment_ref", c->payment_ref);
        j_hex(j, o, "evidence_hash", c->evidence_hash.data, c->evidence_hash.len);
        j_i64(j, o, "opened_at_ms", c->opened_at_ms);
        j_i64(j, o, "settled_at_ms", c->settled_at_ms);
        j_claim_review(j, c, o);
    }
}

static void j_centres(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (size_t i = 0; i < y->n_centres; i++) {
        const rcentre *ce = &y->centres[i];
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_addr(j, o, "centre", ce->addr);
        j_account(j, r, o, ce->addr);
        j_i64(j, o, "redeemed_fen", ce->redeemed);
        j_i64(j, o, "settled_fen", ce->settled);
        j_i64(j, o, "open_claims_fen", ce->open);
        json_t *claims = j_array(j, o, "claims");
        if (claims != NULL) j_claims(j, ce, claims);
    }
}

/* The per-holder cap lines of a holder: programs it used this year. */
static bool j_holder_caps(jb *j, const rep *r, const rholder *h, json_t *arr) {
    bool held = true;
    for (uint32_t p = 0; p < r->pol->n_programs; p++) {
        if (h->used[p] == 0 && h->peak[p] == 0) continue;
        int64_t cap = r->pol->programs[p]->holder_annual_cap_fen;
        json_t *o = j_item(j, arr);
        if (o == NULL) return false;
        j_str(j, o, "program", r->pol->programs[p]->name);
        j_i64(j, o, "used_fen", h->used[p]);
        j_i64(j, o, "peak_fen", h->peak[p]);
        j_i64(j, o, "cap_fen", cap);
        j_bool(j, o, "cap_held", cap == 0 || h->peak[p] <= cap);
        held = held && (cap == 0 || h->peak[p] <= cap);
    }
    return held;
}

/* Returns whether every holder's caps held. */
static bool j_holders(jb *j, const rep *r, const ryear *y, json_t *arr) {
    bool held = true;
    for (size_t i = 0; i < y->n_holders; i++) {
        const rholder *h = &y->holders[i];
        json_t *o = j_item(j, arr);
        if (o == NULL) return false;
        j_addr(j, o, "holder", h->addr);
        j_account(j, r, o, h->addr);
        j_i64(j, o, "issued_fen", h->issued);
        j_i64(j, o, "held_fen", h->held);
        j_i64(j, o, "redeemed_fen", h->redeemed);
        json_t *caps = j_array(j, o, "caps");
        if (caps != NULL && !j_holder_caps(j, r, h, caps)) held = false;
    }
    return held;
}

static void j_anomaly(jb *j, const rep *r, const ranom *a, json_t *o) {
    static const char *const kinds[ANOM_KINDS] = {"many_hops", "near_holder_cap",
                                                  "affiliated_redemption"};
    SLQ_ASSERT(a->kind >= 0);
    SLQ_ASSERT(a->kind < ANOM_KINDS);
    j_str(j, o, "kind", kinds[a->kind]);
    if (a->kind == ANOM_NEAR_CAP) {
        j_addr(j, o, "holder", a->h->addr);
        j_str(j, o, "program", r->pol->programs[a->program]->name);
        j_i64(j, o, "used_fen", a->h->used[a->program]);
        j_i64(j, o, "cap_fen", r->pol->programs[a->program]->holder_annual_cap_fen);
        return;
    }
    j_hex(j, o, "voucher", a->v->id.data, a->v->id.len);
    j_i64(j, o, "amount_fen", a->v->original_fen);
    j_u64(j, o, "hops", a->v->hops);
    j_addr(j, o, "holder", a->v->holder.data);
    j_str(j, o, "state", codec_voucher_state_name(a->v->state, expired(r, a->v)));
    if (a->kind != ANOM_AFFILIATED) return;
    j_hex(j, o, "claim", a->v->claim_id.data, a->v->claim_id.len);
    j_addr(j, o, "party", a->party->address.data);
    j_str(j, o, "party_name", a->party->name);
    j_str(j, o, "affiliation", a->centre->affiliation);
}

static void j_anomalies(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (int kind = 0; kind < ANOM_KINDS; kind++)
        for (size_t i = 0; i < y->n_anoms; i++) {
            if (y->anoms[i].kind != kind) continue;
            json_t *o = j_item(j, arr);
            if (o == NULL) return;
            j_anomaly(j, r, &y->anoms[i], o);
        }
}

/* The policy's validity window and whether the year's CST span [Jan 1, next Jan 1) meets it
 * (some of the year lies in valid_from <= t < valid_until: ISSUE was possible in it). */
static void j_policy_window(jb *j, const rep *r, const ryear *y, json_t *o) {
    int64_t from = slq_budget_year_start_ms(y->year), until = slq_budget_year_start_ms(y->year + 1);
    bool within = from < r->pol->valid_until_ms && r->pol->valid_from_ms < until;
    j_i64(j, o, "policy_valid_from_ms", r->pol->valid_from_ms);
    j_i64(j, o, "policy_valid_until_ms", r->pol->valid_until_ms);
    j_bool(j, o, "year_in_policy_window", within);
}

static void j_holder_classes(jb *j, const ryear *y, json_t *arr) {
    for (int k = 0; k < HOLDER_CLASSES; k++) {
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_str(j, o, "class", codec_role_name((Slq__Role) (SLQ__ROLE__ROLE_ENTERPRISE + k)));
        j_i64(j, o, "issued_fen", y->classes[k].issued);
        j_i64(j, o, "redeemed_fen", y->classes[k].redeemed);
        j_i64(j, o, "held_fen", y->classes[k].held);
    }
}

/* Every centre paid or claiming in the year, by address. */
static void j_centre_payments(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (size_t i = 0; i < y->n_paid; i++) {
        const rpaid *p = &y->paid[i];
        const rcentre *ce = NULL;
        for (size_t c = 0; ce == NULL && c < y->n_centres; c++)
            if (memcmp(y->centres[c].addr, p->addr, ADDR) == 0) ce = &y->centres[c];
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_addr(j, o, "centre", p->addr);
        const Slq__Account *a = account_find(r, p->addr);
        j_str(j, o, "name", a != NULL ? a->name : "");
        j_i64(j, o, "paid_fen", p->paid);
        j_u64(j, o, "claims_count", ce != NULL ? ce->n_claims : 0);
        j_i64(j, o, "claimed_fen", ce != NULL ? ce->redeemed : 0);
        j_i64(j, o, "settled_fen", ce != NULL ? ce->settled : 0);
    }
}

static void j_revocations(jb *j, const ryear *y, json_t *arr) {
    for (size_t i = 0; i < y->n_revokes; i++) {
        const rrevoke *rv = &y->revokes[i];
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_hex(j, o, "voucher", rv->v->id.data, rv->v->id.len);
        j_i64(j, o, "amount_fen", rv->v->original_fen);
        j_addr(j, o, "holder", rv->v->holder.data);
        j_str(j, o, "reason", rv->reason);
        j_u64(j, o, "height", rv->height);
        j_hex(j, o, "revoke_tx", rv->v->closed_tx.data, rv->v->closed_tx.len);
    }
}

static void j_applications(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (uint32_t p = 0; p < r->pol->n_programs; p++) {
        const rapps *t = &y->apps[p];
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_str(j, o, "program", r->pol->programs[p]->name);
        j_u64(j, o, "count", t->count);
        j_i64(j, o, "asked_fen", t->asked);
        j_u64(j, o, "issued_count", t->issued_count);
        j_i64(j, o, "issued_fen", t->issued);
        j_u64(j, o, "rejected_count", t->rejected_count);
        j_i64(j, o, "rejected_fen", t->rejected);
        j_u64(j, o, "open_count", t->open_count);
        j_i64(j, o, "open_fen", t->open);
    }
}

#define BP_WHOLE 10000 /* basis points in the whole (amount_share_bp's divisor) */

static void j_contracts(jb *j, const rep *r, const ryear *y, json_t *arr) {
    for (size_t i = 0; i < y->n_contracts; i++) {
        const rcontract *ct = y->contracts[i];
        const Slq__ContractShare *row = ct->row;
        uint32_t bp = r->pol->programs[row->program]->max_share_bp;
        int64_t limit = 0, used_bp = 0;
        if (bp > 0 && amount_share_bp(&limit, row->cost_fen, bp) != SLQ_OK) j->overflow = true;
        /* issued / cost in basis points, rounded down; the cap keeps issued <= cost */
        if (row->cost_fen > 0)
            used_bp = (int64_t) (((__int128) ct->issued * BP_WHOLE) / row->cost_fen);
        json_t *o = j_item(j, arr);
        if (o == NULL) return;
        j_hex(j, o, "contract_key", ct->key, HASH);
        j_str(j, o, "contract_ref", row->contract_ref);
        j_addr(j, o, "applicant", row->applicant.data);
        j_str(j, o, "program", r->pol->programs[row->program]->name);
        j_i64(j, o, "cost_fen", row->cost_fen);
        j_u64(j, o, "applications", ct->applications);
        j_i64(j, o, "asked_fen", ct->asked);
        j_i64(j, o, "issued_fen", ct->issued);
        j_u64(j, o, "share_limit_bp", bp);
        j_i64(j, o, "share_limit_fen", limit);
        j_i64(j, o, "share_used_bp", used_bp);
        j_bool(j, o, "share_held", bp == 0 || ct->issued <= limit);
        j_bool(j, o, "row_matches",
               row->asked_fen == ct->asked && row->issued_fen == ct->issued &&
                   row->applications == ct->applications);
    }
}

/* The members added for "the audit shows it", after the year's others. */
static void j_year_shows(jb *j, const rep *r, const ryear *y, json_t *o) {
    j_policy_window(j, r, y, o);
    json_t *classes = j_array(j, o, "holder_classes");
    if (classes != NULL) j_holder_classes(j, y, classes);
    json_t *pays = j_array(j, o, "centre_payments");
    if (pays != NULL) j_centre_payments(j, r, y, pays);
    json_t *revokes = j_array(j, o, "revocations");
    if (revokes != NULL) j_revocations(j, y, revokes);
    json_t *apps = j_array(j, o, "applications");
    if (apps != NULL) j_applications(j, r, y, apps);
    json_t *contracts = j_array(j, o, "contracts");
    if (contracts != NULL) j_contracts(j, r, y, contracts);
}

/* The members of one budget year (also the top level of a one-year report). */
static void j_year(jb *j, const rep *r, const ryear *y, json_t *o) {
    int64_t cap = r->pol->city_annual_cap_fen, headroom = 0, outstanding = 0;
    bool holds = conserved(&y->city, &outstanding), progs_held = true;
    if (amount_sub(&headroom, cap, y->city.cap_used) != SLQ_OK) j->overflow = true;
    for (uint32_t p = 0; p < r->pol->n_programs; p++)
        progs_held = progs_held && (r->pol->programs[p]->annual_cap_fen == 0 ||
                                    y->prog[p].cap_peak <= r->pol->programs[p]->annual_cap_fen);
    j_u64(j, o, "year", y->year);
    j_i64(j, o, "cap_fen", cap);
    j_i64(j, o, "issued_fen", y->city.issued);
    j_u64(j, o, "issued_count", y->city.count);
    j_i64(j, o, "cap_used_fen", y->city.cap_used);
    j_i64(j, o, "cap_peak_fen", y->city.cap_peak);
    j_i64(j, o, "headroom_fen", headroom);
    j_bool(j, o, "cap_held", y->city.cap_peak <= cap);
    j_amounts(j, o, &y->city, outstanding);
    j_bool(j, o, "conservation_holds", holds);
    j_bool(j, o, "totals_match", row_matches(y->row_city, &y->city) && y->quota_match);
    j_bool(j, o, "program_caps_held", progs_held);
    json_t *progs = j_array(j, o, "programs"), *centres = j_array(j, o, "centres");
    json_t *holders = j_array(j, o, "holders");
    if (progs != NULL) j_programs(j, r, y, progs);
    if (centres != NULL) j_centres(j, r, y, centres);
    json_t *payers = j_array(j, o, "payers");
    if (payers != NULL) j_payers(j, r, y, payers);
    j_bool(j, o, "holder_caps_held", holders != NULL && j_holders(j, r, y, holders));
    json_t *anoms = j_array(j, o, "anomalies");
    if (anoms != NULL) j_anomalies(j, r, y, anoms);
    j_year_shows(j, r, y, o);
}

static json_t *j_report(jb *j, const rep *r, uint32_t year) {
    json_t *o = json_object();
    jb_check(j, o != NULL);
    if (o == NULL) return NULL;
    j_str(j, o, "chain_id", ledger_chain_id(r->l));
    j_str(j, o, "suite", crypto_suite_name(ledger_suite(r->l)));
    j_hex(j, o, "genesis_hash", ledger_genesis_hash(r->l), HASH);
    j_u64(j, o, "height", r->tip->height);
    j_hex(j, o, "tip_hash", r->tip->hash, HASH);
    j_i64(j, o, "time_ms", r->tip->time_ms);
    if (year != REPORT_ALL_YEARS) {
        SLQ_ASSERT(r->n_years == 1); /* years_init made exactly the one asked for */
        j_year(j, r, &r->years[0], o);
        return o;
    }
    json_t *years = j_array(j, o, "years");
    for (size_t i = 0; years != NULL && i < r->n_years; i++) {
        json_t *y = j_item(j, years);
        if (y != NULL) j_year(j, r, &r->years[i], y);
    }
    return o;
}

/* ------------------------------------------------------------------ entry point */

static slq_err compute(rep *r, uint32_t year) {
    slq_err err = load(r);
    if (err == SLQ_OK) err = years_init(r, year);
    if (err == SLQ_OK) err = tally_vouchers(r);
    if (err == SLQ_OK) err = tally_claims(r);
    if (err == SLQ_OK) err = timeline(r);
    if (err == SLQ_OK) err = tally_extras(r);
    if (err == SLQ_OK) err = tally_applications(r);
    if (err != SLQ_OK) return err;
    quotas_check(r);
    for (size_t i = 0; err == SLQ_OK && i < r->n_years; i++) err = near_caps(r, &r->years[i]);
    return err;
}

#define YEAR_DIGITS 4u

bool report_year_parse(const char *s, uint32_t *out) {
    if (strlen(s) != YEAR_DIGITS) return false;
    uint32_t y = 0;
    for (size_t i = 0; i < YEAR_DIGITS; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        y = y * 10 + (uint32_t) (s[i] - '0');
    }
    *out = y;
    return y >= REPORT_YEAR_MIN && y <= REPORT_YEAR_MAX;
}

/* A stored totals row, or zero, by value (no pointers into the row kept). */
static Slq__YearTotals totals_copy(const Slq__YearTotals *t) {
    Slq__YearTotals c = SLQ__YEAR_TOTALS__INIT;
    if (t == NULL) return c;
    c.budget_year = t->budget_year;
    c.issued_fen = t->issued_fen;
    c.cap_used_fen = t->cap_used_fen;
    c.redeemed_fen = t->redeemed_fen;
    c.settled_fen = t->settled_fen;
    c.revoked_fen = t->revoked_fen;
    c.transferred_fen = t->transferred_fen;
    c.issued_count = t->issued_count;
    c.clawed_back_fen = t->clawed_back_fen;
    c.rejected_count = t->rejected_count;
    return c;
}

slq_err report_year_figures(report_figures *out, const ledger *l, const report_source *src,
                            const report_tip *tip, uint32_t year) {
    if (year < REPORT_YEAR_MIN || year > REPORT_YEAR_MAX) return SLQ_INVALID_ARGUMENT;
    rep r = {.l = l, .pol = ledger_genesis(l)->policy, .src = src, .tip = tip};
    slq_err err = load(&r);
    if (err == SLQ_OK) err = years_init(&r, year);
    if (err == SLQ_OK) err = tally_vouchers(&r);
    if (err == SLQ_OK) err = tally_claims(&r);
    if (err == SLQ_OK) {
        SLQ_ASSERT(r.n_years == 1);
        const ryear *y = &r.years[0];
        out->city = y->city;
        out->stored_city = totals_copy(y->row_city);
        for (size_t i = 0; i < SLQ_PROGRAMS_MAX; i++) {
            out->prog[i] = y->prog[i];
            out->stored_prog[i] = totals_copy(y->row_prog[i]);
        }
    }
    rep_free(&r);
    return err;
}

slq_err report_json(char **out, size_t *len, const ledger *l, const report_source *src,
                    const report_tip *tip, uint32_t year) {
    if (year != REPORT_ALL_YEARS && (year < REPORT_YEAR_MIN || year > REPORT_YEAR_MAX))
        return SLQ_INVALID_ARGUMENT;
    rep r = {.l = l, .pol = ledger_genesis(l)->policy, .src = src, .tip = tip};
    SLQ_ASSERT(r.pol->n_programs <= SLQ_PROGRAMS_MAX); /* the per-program arrays' size */
    slq_err err = compute(&r, year);
    jb j = {.ok = true};
    json_t *o = err == SLQ_OK ? j_report(&j, &r, year) : NULL;
    /* Compact: {"chain_id":"...","suite":...}, the bytes that are signed and compared. */
    size_t n = 0;
    char *text =
        o != NULL && j.ok && !j.overflow ? codec_json_text(o, CODEC_JSON_COMPACT, &n) : NULL;
    json_decref(o);
    rep_free(&r);
    if (err == SLQ_OK && j.overflow) err = SLQ_AMOUNT_OVERFLOW;
    if (err != SLQ_OK) {
        free(text);
        return err;
    }
    if (text == NULL) return SLQ_NO_MEMORY;
    *out = text;
    *len = n;
    return SLQ_OK;
}
