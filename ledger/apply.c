/* apply.c: the voucher rules of DESIGN.md §4, one function per transaction kind.
 *
 * ledger_apply opens a journal on the state, runs the common checks (duplicate, signer,
 * nonce) and the kind's rules, and commits the journal only if everything passed: a
 * rejected transaction changes nothing, whatever it had written before it was refused.
 * Rows are protobuf messages under the keys of slq/keys.h. Every sum is overflow-checked;
 * time is the block time only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "slq/amount.h"
#include "slq/assert.h"
#include "slq/cst.h"
#include "slq/keys.h"
#include "slq/limits.h"

typedef struct {
    const ledger *l;
    ledger_state *st;
    const ledger_block_ctx *ctx;
    const ledger_tx *tx;
    ledger_outcome *out;
    Slq__Account *signer; /* the signer's account, loaded by the common checks */
} apply_ctx;

static slq_err reject(apply_ctx *a, slq_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static slq_err reject(apply_ctx *a, slq_err code, const char *fmt, ...) {
    SLQ_ASSERT(code != SLQ_OK);
    a->out->code = code;
    int n = snprintf(a->out->reason, sizeof a->out->reason, "%s: ", slq_err_str(code));
    if (n < 0 || (size_t) n >= sizeof a->out->reason) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->out->reason + n, sizeof a->out->reason - (size_t) n, fmt, ap);
    va_end(ap);
    return code;
}

/* Propagates a failure of the state (base I/O, memory) with its own text. */
static slq_err fault(apply_ctx *a, slq_err code) {
    return reject(a, code, "while reading or writing state");
}

/* ------------------------------------------------------------------ rows */

static slq_err row_get(apply_ctx *a, const slq_key *k, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage **out) {
    const uint8_t *val;
    size_t len;
    slq_err err = ledger_state_get(a->st, k->bytes, k->len, &val, &len);
    if (err != SLQ_OK) return err;
    *out = protobuf_c_message_unpack(d, NULL, len, val);
    return *out == NULL ? SLQ_STORAGE_CORRUPT : SLQ_OK;
}

static slq_err row_put(apply_ctx *a, const slq_key *k, const ProtobufCMessage *m) {
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n == 0 ? 1 : n);
    if (buf == NULL) return SLQ_NO_MEMORY;
    protobuf_c_message_pack(m, buf);
    return ledger_state_put_owned(a->st, k->bytes, k->len, buf, n);
}

static bool row_exists(apply_ctx *a, const slq_key *k, slq_err *err) {
    const uint8_t *val;
    size_t len;
    *err = ledger_state_get(a->st, k->bytes, k->len, &val, &len);
    bool found = *err == SLQ_OK;
    if (*err == SLQ_NOT_FOUND) *err = SLQ_OK;
    return found;
}

static slq_err account_get(apply_ctx *a, const uint8_t *addr, Slq__Account **out) {
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, CRYPTO_ADDRESS_BYTES);
    return row_get(a, &k, &slq__account__descriptor, (ProtobufCMessage **) out);
}

static slq_err voucher_get(apply_ctx *a, const uint8_t *id, Slq__Voucher **out) {
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, id, CRYPTO_HASH_BYTES);
    return row_get(a, &k, &slq__voucher__descriptor, (ProtobufCMessage **) out);
}

static slq_err voucher_put(apply_ctx *a, const Slq__Voucher *v) {
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, v->id.data, CRYPTO_HASH_BYTES);
    slq_err err = row_put(a, &k, &v->base);
    if (err != SLQ_OK) return err;
    slq_key h = slq_key_holding(v->holder.data, v->id.data);
    if (v->state == SLQ__VOUCHER_STATE__VOUCHER_ACTIVE)
        return ledger_state_put(a->st, h.bytes, h.len, NULL, 0);
    return ledger_state_del(a->st, h.bytes, h.len);
}

/* ------------------------------------------------------------------ totals */

typedef struct {
    int64_t issued, revoked, redeemed, settled, transferred, cap_used, clawed_back;
    uint64_t count, rejected;
} totals_delta;

/* Reads the totals row at k; zeros (with the year set) when absent. */
static slq_err totals_read(apply_ctx *a, const slq_key *k, uint32_t year, Slq__YearTotals *out) {
    Slq__YearTotals *t = NULL;
    slq_err err = row_get(a, k, &slq__year_totals__descriptor, (ProtobufCMessage **) &t);
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) return err;
    *out = (Slq__YearTotals) SLQ__YEAR_TOTALS__INIT;
    if (t != NULL) {
        *out = *t;
        out->base.unknown_fields = NULL;
        out->base.n_unknown_fields = 0;
    }
    slq__year_totals__free_unpacked(t, NULL);
    out->budget_year = year;
    return SLQ_OK;
}

static slq_err totals_add(apply_ctx *a, const slq_key *k, uint32_t year, const totals_delta *d) {
    Slq__YearTotals v;
    slq_err err = totals_read(a, k, year, &v);
    if (err != SLQ_OK) return err;
    if (amount_add(&v.issued_fen, v.issued_fen, d->issued) != SLQ_OK ||
        amount_add(&v.revoked_fen, v.revoked_fen, d->revoked) != SLQ_OK ||
        amount_add(&v.redeemed_fen, v.redeemed_fen, d->redeemed) != SLQ_OK ||
        amount_add(&v.settled_fen, v.settled_fen, d->settled) != SLQ_OK ||
        amount_add(&v.transferred_fen, v.transferred_fen, d->transferred) != SLQ_OK ||
        amount_add(&v.cap_used_fen, v.cap_used_fen, d->cap_used) != SLQ_OK ||
        amount_add(&v.clawed_back_fen, v.clawed_back_fen, d->clawed_back) != SLQ_OK)
        return SLQ_AMOUNT_OVERFLOW;
    v.issued_count += d->count;
    v.rejected_count += d->rejected;
    return row_put(a, k, &v.base);
}

/* Adds d to the city row and the program row of (year, program). The city row's cap_used
 * moves only for programs that count toward the city cap. */
static slq_err totals_apply(apply_ctx *a, uint32_t year, uint32_t program, const totals_delta *d) {
    const Slq__Program *p = a->l->genesis->policy->programs[program];
    totals_delta cd = *d;
    if (p->outside_city_cap) cd.cap_used = 0;
    slq_key ck = slq_key_year(year), pk = slq_key_program_year(year, program);
    slq_err err = totals_add(a, &ck, year, &cd);
    return err != SLQ_OK ? err : totals_add(a, &pk, year, d);
}

static slq_err quota_read(apply_ctx *a, const slq_key *k, int64_t *used) {
    Slq__HolderQuota *q = NULL;
    slq_err err = row_get(a, k, &slq__holder_quota__descriptor, (ProtobufCMessage **) &q);
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) return err;
    *used = q != NULL ? q->used_fen : 0;
    slq__holder_quota__free_unpacked(q, NULL);
    return SLQ_OK;
}

/* Adds delta to the quota row of (year, program, holder). holder NULL (the empty beneficiary
 * of a voucher that no holder-class party has received yet, whose bytes protobuf-c leaves
 * NULL) charges nobody: there is nothing to book. */
static slq_err quota_add(apply_ctx *a, uint32_t year, uint32_t program, const uint8_t *holder,
                         int64_t delta) {
    if (holder == NULL) return SLQ_OK;
    slq_key k = slq_key_quota(year, program, holder);
    Slq__HolderQuota v = SLQ__HOLDER_QUOTA__INIT;
    slq_err err = quota_read(a, &k, &v.used_fen);
    if (err != SLQ_OK) return err;
    if (amount_add(&v.used_fen, v.used_fen, delta) != SLQ_OK) return SLQ_AMOUNT_OVERFLOW;
    return row_put(a, &k, &v.base);
}

/* ------------------------------------------------------------------ field checks */

static bool is_addr(const ProtobufCBinaryData *b) {
    return b->len == CRYPTO_ADDRESS_BYTES;
}
static bool is_hash(const ProtobufCBinaryData *b) {
    return b->len == CRYPTO_HASH_BYTES;
}

static slq_err check_text(apply_ctx *a, const char *s, size_t max, const char *what) {
    if (ledger_text_ok(s, max)) return SLQ_OK;
    if (strlen(s) > max) return reject(a, SLQ_NAME_TOO_LONG, "%s exceeds %zu bytes", what, max);
    return reject(a, SLQ_FIELD_INVALID, "%s must be non-empty UTF-8 text", what);
}

static void ref_key(apply_ctx *a, slq_key *k, uint8_t family, const char *ref) {
    uint8_t h[CRYPTO_HASH_BYTES];
    crypto_hash(a->l->suite, h, (const uint8_t *) ref, strlen(ref));
    *k = slq_key_bytes(family, h, CRYPTO_HASH_BYTES);
}

static slq_err ref_use(apply_ctx *a, const slq_key *k, const uint8_t *object_id) {
    Slq__RefUse r = SLQ__REF_USE__INIT;
    r.tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    r.object_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) object_id};
    return row_put(a, k, &r.base);
}

static const char *role_name(Slq__Role r) {
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&slq__role__descriptor, (int) r);
    return v != NULL ? v->name : "unknown";
}

/* ------------------------------------------------------------------ common rules */

static slq_err need_role(apply_ctx *a, Slq__Role role, const char *what) {
    if (a->signer->role == role) return SLQ_OK;
    return reject(a, SLQ_ROLE_FORBIDDEN, "%s must be signed by %s, signer is %s", what,
                  role_name(role), role_name(a->signer->role));
}

/* Refuses a voucher that is not active or has expired at block time. grace_ms > 0 (a centre
 * redeeming, Program.redeem_grace_ms) lets an expired voucher through until expiry + grace;
 * every other use passes 0. */
static slq_err check_spendable(apply_ctx *a, const Slq__Voucher *v, int64_t grace_ms) {
    switch (v->state) {
        case SLQ__VOUCHER_STATE__VOUCHER_ACTIVE:
            break;
        case SLQ__VOUCHER_STATE__VOUCHER_REVOKED:
            return reject(a, SLQ_VOUCHER_REVOKED, "by tx %02x%02x..", v->closed_tx.data[0],
                          v->closed_tx.data[1]);
        case SLQ__VOUCHER_STATE__VOUCHER_REDEEMED:
            return reject(a, SLQ_VOUCHER_REDEEMED, "already");
        case SLQ__VOUCHER_STATE__VOUCHER_SPLIT:
            return reject(a, SLQ_VOUCHER_SPLIT, "its amount lives on in its children");
        default:
            return reject(a, SLQ_STORAGE_CORRUPT, "voucher has no state");
    }
    SLQ_ASSERT(grace_ms >= 0); /* genesis refuses a negative grace */
    if (!ledger_voucher_grace_over(v, grace_ms, a->ctx->time_ms)) return SLQ_OK;
    if (grace_ms == 0)
        return reject(a, SLQ_VOUCHER_EXPIRED, "expired at %lld ms, block time %lld ms",
                      (long long) v->expires_at_ms, (long long) a->ctx->time_ms);
    return reject(a, SLQ_VOUCHER_EXPIRED,
                  "expired at %lld ms, its redemption grace ended at %lld ms, block time %lld ms",
                  (long long) v->expires_at_ms, (long long) ledger_redeem_grace_end_ms(v, grace_ms),
                  (long long) a->ctx->time_ms);
}

/* Marks v closed by this transaction in `state` and writes it. */
static slq_err voucher_close(apply_ctx *a, const Slq__Voucher *v, Slq__VoucherState state,
                             const uint8_t *claim_id) {
    Slq__Voucher w = *v;
    w.state = state;
    w.remaining_fen = 0;
    w.closed_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    if (claim_id != NULL)
        w.claim_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) claim_id};
    return voucher_put(a, &w);
}

static Slq__Party party_of(Slq__Role r) {
    if (r == SLQ__ROLE__ROLE_CENTRE) return SLQ__PARTY__PARTY_CENTRE;
    if (r == SLQ__ROLE__ROLE_INTERMEDIARY) return SLQ__PARTY__PARTY_INTERMEDIARY;
    if (ledger_role_can_hold(r)) return SLQ__PARTY__PARTY_HOLDER;
    return SLQ__PARTY__PARTY_UNSPECIFIED;
}

static bool edge_allowed(const Slq__Program *p, Slq__Role from, Slq__Role to) {
    Slq__Party f = party_of(from), t = party_of(to);
    if (f == SLQ__PARTY__PARTY_UNSPECIFIED || t == SLQ__PARTY__PARTY_UNSPECIFIED) return false;
    for (size_t i = 0; i < p->n_edges; i++)
        if (p->edges[i]->from == f && p->edges[i]->to == t) return true;
    return false;
}

/* True when program p names the centre at addr among those that may be paid its vouchers
 * and redeem them (genesis, Program.centres). */
static bool centre_named(const Slq__Program *p, const uint8_t *addr) {
    for (size_t i = 0; i < p->n_centres; i++)
        if (memcmp(p->centres[i].data, addr, CRYPTO_ADDRESS_BYTES) == 0) return true;
    return false;
}

static slq_err reject_centre(apply_ctx *a, const Slq__Account *centre, const Slq__Program *p) {
    char addr[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(addr, centre->address.data);
    return reject(a, SLQ_CENTRE_NOT_NAMED, "centre %.48s (%s) is not named by program %.48s",
                  centre->name, addr, p->name);
}

/* ------------------------------------------------------------------ REGISTER */

/* One account per credit code. A holder-class party (one that may hold vouchers) names its
 * unified social credit code, as its hash: per-holder caps are kept per address, so a second
 * address of the same enterprise would otherwise get the caps again. Other roles may give a
 * code; it is neither required nor indexed. */
static slq_err check_credit_code(apply_ctx *a, const Slq__Register *r) {
    if (ledger_role_can_hold(r->role) && !is_hash(&r->credit_code_hash))
        return reject(a, SLQ_CREDIT_CODE_REQUIRED, "%s needs a 32-byte hash, got %zu bytes",
                      role_name(r->role), r->credit_code_hash.len);
    if (r->credit_code_hash.len != 0 && !is_hash(&r->credit_code_hash))
        return reject(a, SLQ_FIELD_INVALID, "credit code hash must be 32 bytes");
    return SLQ_OK;
}

/* Refuses a holder-class code another account registered (its index row names it), else
 * writes that row for r's address. */
static slq_err claim_credit_code(apply_ctx *a, const Slq__Register *r) {
    if (!ledger_role_can_hold(r->role)) return SLQ_OK;
    SLQ_ASSERT(is_hash(&r->credit_code_hash));
    slq_key k = slq_key_bytes(SLQ_KEY_CREDIT_CODE, r->credit_code_hash.data, CRYPTO_HASH_BYTES);
    const uint8_t *owner;
    size_t len;
    slq_err err = ledger_state_get(a->st, k.bytes, k.len, &owner, &len);
    if (err == SLQ_OK) {
        if (len != CRYPTO_ADDRESS_BYTES) return reject(a, SLQ_STORAGE_CORRUPT, "credit code row");
        char text[CRYPTO_ADDRESS_TEXT_BYTES];
        crypto_address_format(text, owner);
        return reject(a, SLQ_CREDIT_CODE_USED, "%s has it", text);
    }
    if (err != SLQ_NOT_FOUND) return err;
    return ledger_state_put(a->st, k.bytes, k.len, r->address.data, CRYPTO_ADDRESS_BYTES);
}

static slq_err apply_register(apply_ctx *a, const Slq__Register *r) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_ISSUER, "REGISTER");
    if (err != SLQ_OK) return err;
    if (!is_addr(&r->address)) return reject(a, SLQ_FIELD_INVALID, "address must be 20 bytes");
    if (!ledger_role_valid(r->role) || r->role == SLQ__ROLE__ROLE_ISSUER)
        return reject(a, SLQ_ROLE_INVALID,
                      "role %d cannot be registered (issuers come from genesis)", (int) r->role);
    if ((err = check_text(a, r->name, SLQ_NAME_BYTES_MAX, "name")) != SLQ_OK) return err;
    if ((err = check_credit_code(a, r)) != SLQ_OK) return err;
    if (r->affiliation[0] != '\0' &&
        (err = check_text(a, r->affiliation, SLQ_AFFILIATION_BYTES_MAX, "affiliation")) != SLQ_OK)
        return err;
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, r->address.data, CRYPTO_ADDRESS_BYTES);
    if (row_exists(a, &k, &err)) return reject(a, SLQ_ACCOUNT_EXISTS, "as %s", "registered");
    if (err != SLQ_OK) return err;
    if ((err = claim_credit_code(a, r)) != SLQ_OK) return err;
    Slq__Account acc = SLQ__ACCOUNT__INIT;
    acc.address = r->address;
    acc.role = r->role;
    acc.name = r->name;
    acc.credit_code_hash = r->credit_code_hash;
    acc.affiliation = r->affiliation;
    acc.registered_height = a->ctx->height;
    return row_put(a, &k, &acc.base);
}

/* ------------------------------------------------------------------ applications: rows */

static slq_err contract_get(apply_ctx *a, const uint8_t *key, Slq__ContractShare **out) {
    slq_key k = slq_key_bytes(SLQ_KEY_CONTRACT, key, CRYPTO_HASH_BYTES);
    return row_get(a, &k, &slq__contract_share__descriptor, (ProtobufCMessage **) out);
}

static slq_err contract_put(apply_ctx *a, const uint8_t *key, const Slq__ContractShare *c) {
    slq_key k = slq_key_bytes(SLQ_KEY_CONTRACT, key, CRYPTO_HASH_BYTES);
    return row_put(a, &k, &c->base);
}

static slq_err application_put(apply_ctx *a, const Slq__Application *ap) {
    slq_key k = slq_key_bytes(SLQ_KEY_APPLICATION, ap->id.data, CRYPTO_HASH_BYTES);
    return row_put(a, &k, &ap->base);
}

/* Loads the application `id` and refuses one that is unknown or no longer open. On SLQ_OK
 * *out is yours (slq__application__free_unpacked). */
static slq_err application_open(apply_ctx *a, const ProtobufCBinaryData *id,
                                Slq__Application **out) {
    if (!is_hash(id)) return reject(a, SLQ_FIELD_INVALID, "application id must be 32 bytes");
    slq_key k = slq_key_bytes(SLQ_KEY_APPLICATION, id->data, CRYPTO_HASH_BYTES);
    slq_err err = row_get(a, &k, &slq__application__descriptor, (ProtobufCMessage **) out);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_APPLICATION_UNKNOWN, "no such application");
    if (err != SLQ_OK) return err;
    if ((*out)->program >= a->l->genesis->policy->n_programs)
        err = reject(a, SLQ_STORAGE_CORRUPT, "application names an unknown program");
    else if ((*out)->status != SLQ__APPLICATION_STATUS__APPLICATION_OPEN)
        err = reject(a, SLQ_APPLICATION_CLOSED, "%s at height %llu",
                     (*out)->status == SLQ__APPLICATION_STATUS__APPLICATION_ISSUED ? "issued"
                                                                                   : "rejected",
                     (unsigned long long) (*out)->closed_height);
    if (err != SLQ_OK) {
        slq__application__free_unpacked(*out, NULL);
        *out = NULL;
    }
    return err;
}

/* Marks ap issued with `amount` as voucher `voucher` and adds the amount to its contract. */
static slq_err application_granted(apply_ctx *a, const Slq__Application *ap, Slq__ContractShare *c,
                                   int64_t amount, const uint8_t *voucher) {
    Slq__Application w = *ap;
    w.status = SLQ__APPLICATION_STATUS__APPLICATION_ISSUED;
    w.issued_fen = amount;
    w.closed_height = a->ctx->height;
    w.close_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    w.voucher_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) voucher};
    slq_err err = application_put(a, &w);
    if (err != SLQ_OK) return err;
    if (amount_add(&c->issued_fen, c->issued_fen, amount) != SLQ_OK)
        return reject(a, SLQ_AMOUNT_OVERFLOW, "contract's issued total");
    SLQ_ASSERT(c->issued_fen > 0);
    return contract_put(a, ap->contract_key.data, c);
}

/* ------------------------------------------------------------------ ISSUE */

static slq_err issue_shape(apply_ctx *a, const Slq__Issue *is, int *program) {
    if (!is_addr(&is->holder)) return reject(a, SLQ_FIELD_INVALID, "holder must be 20 bytes");
    *program = ledger_program_index(a->l, is->program);
    if (*program < 0) return reject(a, SLQ_PROGRAM_UNKNOWN, "\"%.64s\"", is->program);
    if (is->amount_fen <= 0)
        return reject(a, SLQ_AMOUNT_MUST_BE_POSITIVE, "amount %lld fen",
                      (long long) is->amount_fen);
    if (is->cost_fen < 0) return reject(a, SLQ_FIELD_INVALID, "declared cost is negative");
    if (is->application_id.len != 0 && is->application_ref[0] == '\0')
        return SLQ_OK; /* the application is the reference */
    return check_text(a, is->application_ref, SLQ_REF_BYTES_MAX, "application reference");
}

/* The share of an ISSUE against an application is cumulative per contract: what the contract's
 * earlier applications were granted counts too, so two issues of 30% of one contract's cost are
 * not 60% of it. The contract's cost and program are those of its first application. */
static slq_err share_cumulative(apply_ctx *a, const Slq__Issue *is, const Slq__Program *p,
                                const Slq__ContractShare *c, int64_t limit) {
    if (c->issued_fen < 0 || c->issued_fen > limit)
        return reject(a, SLQ_STORAGE_CORRUPT, "contract's issued total is out of range");
    if (is->amount_fen <= limit - c->issued_fen) return SLQ_OK;
    return reject(a, SLQ_SHARE_EXCEEDED,
                  "contract \"%.64s\": %lld fen issued + %lld fen > %u bp of %lld fen = %lld fen",
                  c->contract_ref, (long long) c->issued_fen, (long long) is->amount_fen,
                  p->max_share_bp, (long long) is->cost_fen, (long long) limit);
}

/* Checks window, recipient, share and reference of an ISSUE; c is the contract of the
 * application it grants (NULL: a direct issue). Without an application reference, ref->len is
 * 0. *role gets the recipient's. */
static slq_err issue_rules(apply_ctx *a, const Slq__Issue *is, const Slq__Program *p,
                           const Slq__ContractShare *c, slq_key *ref, Slq__Role *role) {
    const Slq__Policy *pol = a->l->genesis->policy;
    int64_t t = a->ctx->time_ms;
    if (t < pol->valid_from_ms || t >= pol->valid_until_ms)
        return reject(a, SLQ_POLICY_WINDOW_CLOSED, "block time %lld ms, window [%lld, %lld)",
                      (long long) t, (long long) pol->valid_from_ms,
                      (long long) pol->valid_until_ms);
    Slq__Account *h = NULL;
    slq_err err = account_get(a, is->holder.data, &h);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_ACCOUNT_UNKNOWN, "recipient is not registered");
    if (err != SLQ_OK) return err;
    *role = h->role;
    slq__account__free_unpacked(h, NULL);
    if (!ledger_role_can_hold(*role))
        return reject(a, SLQ_HOLDER_CANNOT_HOLD, "%s", role_name(*role));
    if (p->max_share_bp > 0) {
        if (is->cost_fen == 0) return reject(a, SLQ_COST_REQUIRED, "program %s", p->name);
        int64_t limit;
        if (amount_share_bp(&limit, is->cost_fen, p->max_share_bp) != SLQ_OK)
            return reject(a, SLQ_AMOUNT_OVERFLOW, "cost share");
        if (c != NULL && (err = share_cumulative(a, is, p, c, limit)) != SLQ_OK) return err;
        if (is->amount_fen > limit)
            return reject(a, SLQ_SHARE_EXCEEDED, "%lld fen > %u bp of %lld fen = %lld fen",
                          (long long) is->amount_fen, p->max_share_bp, (long long) is->cost_fen,
                          (long long) limit);
    }
    ref->len = 0;
    if (is->application_ref[0] == '\0') return SLQ_OK; /* with an application (issue_shape) */
    ref_key(a, ref, SLQ_KEY_APP_REF, is->application_ref);
    if (row_exists(a, ref, &err))
        return reject(a, SLQ_APPLICATION_REF_USED, "\"%.64s\"", is->application_ref);
    return err;
}

static slq_err issue_expiry(apply_ctx *a, const Slq__Issue *is, const Slq__Program *p,
                            uint32_t year, int64_t *expires) {
    int64_t t = a->ctx->time_ms;
    if (is->expires_at_ms != 0) {
        *expires = is->expires_at_ms;
        if (*expires <= t)
            return reject(a, SLQ_EXPIRY_INVALID, "%lld <= block time %lld", (long long) *expires,
                          (long long) t);
        /* An explicit expiry may shorten a voucher's life, never lengthen it: not past the
         * policy window's end, nor past the program's own expiry when it sets one. */
        int64_t until = a->l->genesis->policy->valid_until_ms, longest = 0;
        if (*expires > until)
            return reject(a, SLQ_EXPIRY_INVALID, "%lld > the policy window's end %lld",
                          (long long) *expires, (long long) until);
        if (p->expiry_ms > 0 && amount_add(&longest, t, p->expiry_ms) == SLQ_OK &&
            *expires > longest)
            return reject(a, SLQ_EXPIRY_INVALID, "%lld > block time + program %s's expiry = %lld",
                          (long long) *expires, p->name, (long long) longest);
        return SLQ_OK;
    }
    if (p->expiry_ms == 0) {
        *expires = slq_budget_year_start_ms(year + 1);
        return SLQ_OK;
    }
    if (amount_add(expires, t, p->expiry_ms) != SLQ_OK)
        return reject(a, SLQ_AMOUNT_OVERFLOW, "expiry");
    return SLQ_OK;
}

/* Refuses an amount above the headroom left under cap (used <= cap holds, so no overflow). */
static slq_err cap_check(apply_ctx *a, slq_err code, const char *what, int64_t used, int64_t amount,
                         int64_t cap) {
    if (amount <= cap - used) return SLQ_OK;
    return reject(a, code, "%s: %lld used + %lld > %lld fen", what, (long long) used,
                  (long long) amount, (long long) cap);
}

/* Checks the amount against the city, program and holder caps of the year, then books it.
 * beneficiary: the recipient is a holder-class party, whose yearly quota the issue uses (an
 * intermediary passes vouchers on: they are charged to the holder that receives them). */
static slq_err issue_caps(apply_ctx *a, const Slq__Issue *is, uint32_t program, uint32_t year,
                          bool beneficiary) {
    const Slq__Program *p = a->l->genesis->policy->programs[program];
    Slq__YearTotals city, prog;
    int64_t used;
    slq_key ck = slq_key_year(year), pk = slq_key_program_year(year, program);
    slq_key qk = slq_key_quota(year, program, is->holder.data);
    slq_err err = totals_read(a, &ck, year, &city);
    if (err == SLQ_OK) err = totals_read(a, &pk, year, &prog);
    if (err == SLQ_OK) err = quota_read(a, &qk, &used);
    if (err != SLQ_OK) return err;
    char what[SLQ_NAME_BYTES_MAX + 16];
    snprintf(what, sizeof what, "%u", year);
    if (!p->outside_city_cap)
        err = cap_check(a, SLQ_CITY_CAP_EXCEEDED, what, city.cap_used_fen, is->amount_fen,
                        a->l->genesis->policy->city_annual_cap_fen);
    snprintf(what, sizeof what, "%s %u", p->name, year);
    if (err == SLQ_OK && p->annual_cap_fen > 0)
        err = cap_check(a, SLQ_PROGRAM_CAP_EXCEEDED, what, prog.cap_used_fen, is->amount_fen,
                        p->annual_cap_fen);
    if (err == SLQ_OK && p->holder_annual_cap_fen > 0 && beneficiary)
        err = cap_check(a, SLQ_HOLDER_CAP_EXCEEDED, what, used, is->amount_fen,
                        p->holder_annual_cap_fen);
    if (err != SLQ_OK) return err;
    totals_delta d = {.issued = is->amount_fen, .cap_used = is->amount_fen, .count = 1};
    err = totals_apply(a, year, program, &d);
    if (err == SLQ_OK && beneficiary)
        err = quota_add(a, year, program, is->holder.data, is->amount_fen);
    return err == SLQ_AMOUNT_OVERFLOW ? reject(a, err, "year totals") : err;
}

/* Issues is (with its holder, program and cost filled in from the application ap, if any, whose
 * contract is c). */
static slq_err issue_grant(apply_ctx *a, const Slq__Issue *is, const Slq__Application *ap,
                           Slq__ContractShare *c) {
    int program = -1;
    slq_err err = issue_shape(a, is, &program);
    if (err != SLQ_OK) return err;
    const Slq__Program *p = a->l->genesis->policy->programs[program];
    if (ap == NULL && p->applications_required)
        return reject(a, SLQ_APPLICATION_REQUIRED,
                      "program %s issues only against an application (APPLY, then ISSUE with it)",
                      p->name);
    slq_key ref;
    Slq__Role role = SLQ__ROLE__ROLE_UNSPECIFIED;
    if ((err = issue_rules(a, is, p, c, &ref, &role)) != SLQ_OK) return err;
    bool beneficiary = party_of(role) == SLQ__PARTY__PARTY_HOLDER;
    uint32_t year = slq_budget_year(a->ctx->time_ms);
    int64_t expires;
    if ((err = issue_expiry(a, is, p, year, &expires)) != SLQ_OK) return err;
    if ((err = issue_caps(a, is, (uint32_t) program, year, beneficiary)) != SLQ_OK) return err;
    uint8_t *id = a->out->vouchers[0];
    ledger_voucher_id(a->l->suite, id, a->tx->hash, 0);
    Slq__Voucher v = SLQ__VOUCHER__INIT;
    v.id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    v.program = (uint32_t) program;
    v.budget_year = year;
    v.original_fen = v.remaining_fen = is->amount_fen;
    v.holder = is->holder;
    if (beneficiary) v.beneficiary = is->holder;
    v.issued_at_ms = a->ctx->time_ms;
    v.expires_at_ms = expires;
    v.state = SLQ__VOUCHER_STATE__VOUCHER_ACTIVE;
    v.created_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    if ((err = voucher_put(a, &v)) != SLQ_OK) return err;
    a->out->vouchers_count = 1;
    if (ap != NULL && (err = application_granted(a, ap, c, is->amount_fen, id)) != SLQ_OK)
        return err;
    return ref.len != 0 ? ref_use(a, &ref, id) : SLQ_OK;
}

/* The ISSUE of an application: holder, program and cost come from it, and any the issue states
 * must agree; the amount is at most what was asked. */
static slq_err issue_application_fields(apply_ctx *a, const Slq__Issue *is,
                                        const Slq__Application *ap, Slq__Issue *e) {
    const Slq__Program *p = a->l->genesis->policy->programs[ap->program];
    if (is->holder.len != 0 && (!is_addr(&is->holder) ||
                                memcmp(is->holder.data, ap->applicant.data, CRYPTO_ADDRESS_BYTES)))
        return reject(a, SLQ_APPLICATION_MISMATCH, "holder is not the applicant");
    if (is->program[0] != '\0' && strcmp(is->program, p->name) != 0)
        return reject(a, SLQ_APPLICATION_MISMATCH, "program \"%.64s\", application's is %s",
                      is->program, p->name);
    if (is->cost_fen != 0 && is->cost_fen != ap->cost_fen)
        return reject(a, SLQ_APPLICATION_MISMATCH, "cost %lld fen, application's is %lld fen",
                      (long long) is->cost_fen, (long long) ap->cost_fen);
    int64_t amount = is->amount_fen == 0 ? ap->asked_fen : is->amount_fen;
    if (amount > ap->asked_fen)
        return reject(a, SLQ_APPLICATION_MISMATCH, "amount %lld fen > %lld fen asked",
                      (long long) amount, (long long) ap->asked_fen);
    *e = *is;
    e->amount_fen = amount;
    e->holder = ap->applicant;
    e->program = p->name;
    e->cost_fen = ap->cost_fen;
    return SLQ_OK;
}

static slq_err issue_application(apply_ctx *a, const Slq__Issue *is) {
    Slq__Application *ap = NULL;
    Slq__ContractShare *c = NULL;
    slq_err err = application_open(a, &is->application_id, &ap);
    if (err == SLQ_OK) err = contract_get(a, ap->contract_key.data, &c);
    if (err == SLQ_NOT_FOUND) err = reject(a, SLQ_STORAGE_CORRUPT, "application has no contract");
    Slq__Issue e;
    if (err == SLQ_OK) err = issue_application_fields(a, is, ap, &e);
    if (err == SLQ_OK) err = issue_grant(a, &e, ap, c);
    slq__contract_share__free_unpacked(c, NULL);
    slq__application__free_unpacked(ap, NULL);
    return err;
}

static slq_err apply_issue(apply_ctx *a, const Slq__Issue *is) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_ISSUER, "ISSUE");
    if (err != SLQ_OK) return err;
    if (is->application_id.len != 0) return issue_application(a, is);
    return issue_grant(a, is, NULL, NULL);
}

/* ------------------------------------------------------------------ TRANSFER */

/* The first holder-class party that receives a voucher is its beneficiary: a voucher of an
 * intermediary (who passes vouchers on and is charged nothing) uses the yearly quota of the
 * holder it is passed to, in the voucher's program and budget year, which must have room. */
static slq_err pass_on_cap(apply_ctx *a, const Slq__Transfer *t, const Slq__Voucher *v,
                           const Slq__Program *p) {
    if (p->holder_annual_cap_fen == 0) return SLQ_OK;
    slq_key qk = slq_key_quota(v->budget_year, v->program, t->to.data);
    int64_t used;
    slq_err err = quota_read(a, &qk, &used);
    if (err != SLQ_OK) return err;
    char what[SLQ_NAME_BYTES_MAX + 16];
    snprintf(what, sizeof what, "%s %u", p->name, v->budget_year);
    return cap_check(a, SLQ_HOLDER_CAP_EXCEEDED, what, used, t->amount_fen,
                     p->holder_annual_cap_fen);
}

/* Checks the recipient of a transfer of v: registered, allowed edge, a centre the program
 * names, not related; and, when it becomes the voucher's beneficiary (*charge), its cap. */
static slq_err transfer_recipient(apply_ctx *a, const Slq__Transfer *t, const Slq__Voucher *v,
                                  bool *charge) {
    if (memcmp(t->to.data, a->tx->signer, CRYPTO_ADDRESS_BYTES) == 0)
        return reject(a, SLQ_SELF_TRANSFER, "to the signer");
    Slq__Account *to = NULL;
    slq_err err = account_get(a, t->to.data, &to);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_ACCOUNT_UNKNOWN, "recipient is not registered");
    if (err != SLQ_OK) return err;
    const Slq__Program *p = a->l->genesis->policy->programs[v->program];
    if (!edge_allowed(p, a->signer->role, to->role)) {
        err = reject(a, SLQ_EDGE_NOT_ALLOWED, "%s -> %s in program %s", role_name(a->signer->role),
                     role_name(to->role), p->name);
    } else if (to->role == SLQ__ROLE__ROLE_CENTRE && !centre_named(p, t->to.data)) {
        err = reject_centre(a, to, p);
    } else if (to->role == SLQ__ROLE__ROLE_CENTRE && to->affiliation[0] != '\0' &&
               strcmp(to->affiliation, a->signer->affiliation) == 0) {
        err = reject(a, SLQ_RELATED_PARTY, "group \"%.32s\"", to->affiliation);
    }
    *charge = v->beneficiary.len == 0 && party_of(to->role) == SLQ__PARTY__PARTY_HOLDER;
    if (err == SLQ_OK && *charge) err = pass_on_cap(a, t, v, p);
    slq__account__free_unpacked(to, NULL);
    return err;
}

/* Writes the child voucher `index` of parent v (0: the recipient's, 1: the change); with
 * beneficiary, its holder becomes its beneficiary. */
static slq_err transfer_child(apply_ctx *a, const Slq__Voucher *v, uint32_t index,
                              const uint8_t *holder, int64_t amount, bool beneficiary) {
    uint8_t *id = a->out->vouchers[index];
    ledger_voucher_id(a->l->suite, id, a->tx->hash, index);
    Slq__Voucher c = *v;
    c.id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    c.original_fen = c.remaining_fen = amount;
    c.holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) holder};
    c.parent_id = v->id;
    c.created_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    c.closed_tx = (ProtobufCBinaryData){0, NULL};
    c.hops = index == 0 ? v->hops + 1 : v->hops;
    if (beneficiary) c.beneficiary = c.holder;
    a->out->vouchers_count = index + 1;
    return voucher_put(a, &c);
}

/* Splits v into the recipient's part and the change; with charge, the recipient becomes the
 * part's beneficiary and its quota is charged. */
static slq_err transfer_move(apply_ctx *a, const Slq__Transfer *t, const Slq__Voucher *v,
                             bool charge) {
    slq_err err = voucher_close(a, v, SLQ__VOUCHER_STATE__VOUCHER_SPLIT, NULL);
    if (err == SLQ_OK) err = transfer_child(a, v, 0, t->to.data, t->amount_fen, charge);
    int64_t change = v->remaining_fen - t->amount_fen;
    if (err == SLQ_OK && change > 0) err = transfer_child(a, v, 1, a->tx->signer, change, false);
    if (err != SLQ_OK) return err;
    totals_delta d = {.transferred = t->amount_fen};
    err = totals_apply(a, v->budget_year, v->program, &d);
    if (err == SLQ_OK && charge)
        err = quota_add(a, v->budget_year, v->program, t->to.data, t->amount_fen);
    return err == SLQ_AMOUNT_OVERFLOW ? reject(a, err, "transferred total") : err;
}

static slq_err apply_transfer(apply_ctx *a, const Slq__Transfer *t) {
    if (!is_hash(&t->voucher_id))
        return reject(a, SLQ_FIELD_INVALID, "voucher id must be 32 bytes");
    if (!is_addr(&t->to)) return reject(a, SLQ_FIELD_INVALID, "recipient must be 20 bytes");
    if (t->amount_fen <= 0)
        return reject(a, SLQ_AMOUNT_MUST_BE_POSITIVE, "amount %lld fen", (long long) t->amount_fen);
    Slq__Voucher *v = NULL;
    slq_err err = voucher_get(a, t->voucher_id.data, &v);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_VOUCHER_UNKNOWN, "no such voucher");
    if (err != SLQ_OK) return err;
    if (memcmp(v->holder.data, a->tx->signer, CRYPTO_ADDRESS_BYTES) != 0)
        err = reject(a, SLQ_NOT_HOLDER, "voucher is held by another account");
    if (err == SLQ_OK) err = check_spendable(a, v, 0);
    if (err == SLQ_OK && t->amount_fen > v->remaining_fen)
        err = reject(a, SLQ_AMOUNT_EXCEEDS_REMAINING, "%lld > %lld fen", (long long) t->amount_fen,
                     (long long) v->remaining_fen);
    bool charge = false;
    if (err == SLQ_OK) err = transfer_recipient(a, t, v, &charge);
    if (err == SLQ_OK) err = transfer_move(a, t, v, charge);
    slq__voucher__free_unpacked(v, NULL);
    return err;
}

/* ------------------------------------------------------------------ REDEEM */

typedef struct {
    Slq__YearAmount items[SLQ_REDEEM_VOUCHERS_MAX];
    Slq__YearAmount *ptrs[SLQ_REDEEM_VOUCHERS_MAX];
    size_t n;
} year_amounts;

/* Adds amount to the (year, program) entry, keeping entries sorted. */
static slq_err year_amounts_add(year_amounts *ya, uint32_t year, uint32_t program, int64_t amount) {
    size_t i = 0;
    while (i < ya->n && (ya->items[i].budget_year < year ||
                         (ya->items[i].budget_year == year && ya->items[i].program < program)))
        i++;
    if (i < ya->n && ya->items[i].budget_year == year && ya->items[i].program == program)
        return amount_add(&ya->items[i].amount_fen, ya->items[i].amount_fen, amount);
    SLQ_ASSERT(ya->n < SLQ_REDEEM_VOUCHERS_MAX);
    memmove(&ya->items[i + 1], &ya->items[i], (ya->n - i) * sizeof ya->items[0]);
    ya->items[i] = (Slq__YearAmount) SLQ__YEAR_AMOUNT__INIT;
    ya->items[i].budget_year = year;
    ya->items[i].program = program;
    ya->items[i].amount_fen = amount;
    ya->n++;
    for (size_t k = 0; k < ya->n; k++) ya->ptrs[k] = &ya->items[k];
    return SLQ_OK;
}

static slq_err redeem_shape(apply_ctx *a, const Slq__Redeem *r) {
    if (r->n_voucher_ids == 0) return reject(a, SLQ_FIELD_INVALID, "no vouchers listed");
    if (r->n_voucher_ids > SLQ_REDEEM_VOUCHERS_MAX)
        return reject(a, SLQ_TOO_MANY_VOUCHERS, "%zu > %u", r->n_voucher_ids,
                      SLQ_REDEEM_VOUCHERS_MAX);
    for (size_t i = 0; i < r->n_voucher_ids; i++) {
        if (!is_hash(&r->voucher_ids[i]))
            return reject(a, SLQ_FIELD_INVALID, "voucher id %zu must be 32 bytes", i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(r->voucher_ids[i].data, r->voucher_ids[j].data, CRYPTO_HASH_BYTES) == 0)
                return reject(a, SLQ_VOUCHER_LISTED_TWICE, "positions %zu and %zu", j, i);
    }
    if (!is_hash(&r->evidence_hash))
        return reject(a, SLQ_FIELD_INVALID, "evidence hash must be 32 bytes");
    return check_text(a, r->contract_ref, SLQ_REF_BYTES_MAX, "contract reference");
}

/* The uniqueness key of a contract reference: the hash of its normalized form (contract_ref.h),
 * never of the raw text, so that `sc-1` cannot be claimed after `SC-1`. */
static slq_err contract_ref_key(apply_ctx *a, slq_key *k, char form[LEDGER_CONTRACT_REF_FORM_BYTES],
                                const char *ref) {
    uint8_t h[CRYPTO_HASH_BYTES];
    slq_err err = ledger_contract_ref_hash(a->l->suite, h, form, ref);
    if (err == SLQ_CONTRACT_REF_INVALID)
        return reject(a, err, "nothing is left of its %zu bytes once whitespace is removed",
                      strlen(ref));
    if (err != SLQ_OK)
        return reject(a, err, "contract reference exceeds %u bytes", SLQ_REF_BYTES_MAX);
    *k = slq_key_bytes(SLQ_KEY_CONTRACT_REF, h, CRYPTO_HASH_BYTES);
    return SLQ_OK;
}

/* Burns voucher i of the redemption into the claim's per-year amounts. */
static slq_err redeem_one(apply_ctx *a, const Slq__Redeem *r, size_t i, const uint8_t *claim_id,
                          year_amounts *ya, int64_t *sum) {
    Slq__Voucher *v = NULL;
    slq_err err = voucher_get(a, r->voucher_ids[i].data, &v);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_VOUCHER_UNKNOWN, "voucher %zu", i);
    if (err != SLQ_OK) return err;
    if (memcmp(v->holder.data, a->tx->signer, CRYPTO_ADDRESS_BYTES) != 0)
        err = reject(a, SLQ_NOT_HOLDER, "voucher %zu is not held by this centre", i);
    const Slq__Program *p = a->l->genesis->policy->programs[v->program];
    /* A centre received the voucher before its expiry (nobody is paid an expired one), so it
     * may redeem it during the programme's grace: a payment at 23:59 on Dec 31 is redeemed in
     * January. */
    if (err == SLQ_OK) err = check_spendable(a, v, p->redeem_grace_ms);
    if (err == SLQ_OK && !centre_named(p, a->tx->signer)) err = reject_centre(a, a->signer, p);
    if (err == SLQ_OK &&
        (amount_add(sum, *sum, v->remaining_fen) != SLQ_OK ||
         year_amounts_add(ya, v->budget_year, v->program, v->remaining_fen) != SLQ_OK))
        err = reject(a, SLQ_AMOUNT_OVERFLOW, "claim amount");
    totals_delta d = {.redeemed = v->remaining_fen};
    if (err == SLQ_OK) err = totals_apply(a, v->budget_year, v->program, &d);
    if (err == SLQ_OK) err = voucher_close(a, v, SLQ__VOUCHER_STATE__VOUCHER_REDEEMED, claim_id);
    slq__voucher__free_unpacked(v, NULL);
    return err;
}

static slq_err apply_redeem(apply_ctx *a, const Slq__Redeem *r) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_CENTRE, "REDEEM");
    if (err == SLQ_OK) err = redeem_shape(a, r);
    if (err != SLQ_OK) return err;
    slq_key ref;
    char form[LEDGER_CONTRACT_REF_FORM_BYTES];
    if ((err = contract_ref_key(a, &ref, form, r->contract_ref)) != SLQ_OK) return err;
    if (row_exists(a, &ref, &err))
        return reject(a, SLQ_CONTRACT_REF_USED, "\"%.64s\", normalized \"%.64s\"", r->contract_ref,
                      form);
    if (err != SLQ_OK) return err;
    uint8_t *claim_id = a->out->claim;
    ledger_claim_id(a->l->suite, claim_id, a->tx->hash);
    year_amounts ya = {.n = 0};
    int64_t sum = 0;
    for (size_t i = 0; i < r->n_voucher_ids && err == SLQ_OK; i++)
        err = redeem_one(a, r, i, claim_id, &ya, &sum);
    if (err != SLQ_OK) return err;
    Slq__Claim c = SLQ__CLAIM__INIT;
    c.id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, claim_id};
    c.centre = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) a->tx->signer};
    c.n_voucher_ids = r->n_voucher_ids;
    c.voucher_ids = r->voucher_ids;
    c.amount_fen = sum;
    c.contract_ref = r->contract_ref;
    c.evidence_hash = r->evidence_hash;
    c.opened_at_ms = a->ctx->time_ms;
    c.redeem_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    c.n_years = ya.n;
    c.years = ya.ptrs;
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, claim_id, CRYPTO_HASH_BYTES);
    if ((err = row_put(a, &k, &c.base)) != SLQ_OK) return err;
    a->out->has_claim = true;
    return ref_use(a, &ref, claim_id);
}

/* ------------------------------------------------------------------ SETTLE */

/* Reads claim id into *out (yours: slq__claim__free_unpacked). */
static slq_err claim_get(apply_ctx *a, const ProtobufCBinaryData *id, Slq__Claim **out) {
    if (!is_hash(id)) return reject(a, SLQ_FIELD_INVALID, "claim id must be 32 bytes");
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, id->data, CRYPTO_HASH_BYTES);
    slq_err err = row_get(a, &k, &slq__claim__descriptor, (ProtobufCMessage **) out);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_CLAIM_UNKNOWN, "no such claim");
    return err;
}

static slq_err claim_put(apply_ctx *a, const Slq__Claim *c) {
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, c->id.data, CRYPTO_HASH_BYTES);
    return row_put(a, &k, &c->base);
}

/* Books every (year, program) part of the claim: as settled, or (clawed_back) as clawed back
 * into its pool, which lowers cap_used by the part. */
static slq_err claim_totals(apply_ctx *a, const Slq__Claim *c, bool clawed_back) {
    for (size_t i = 0; i < c->n_years; i++) {
        int64_t amount = c->years[i]->amount_fen;
        totals_delta d = {.settled = amount};
        if (clawed_back)
            d = (totals_delta){.clawed_back = amount, .cap_used = -amount, .rejected = 1};
        if (c->years[i]->program >= a->l->genesis->policy->n_programs)
            return reject(a, SLQ_STORAGE_CORRUPT, "claim names an unknown program");
        slq_err err = totals_apply(a, c->years[i]->budget_year, c->years[i]->program, &d);
        if (err == SLQ_AMOUNT_OVERFLOW)
            return reject(a, err, clawed_back ? "clawed back total" : "settled total");
        if (err != SLQ_OK) return err;
    }
    return SLQ_OK;
}

static slq_err settle_claim(apply_ctx *a, const Slq__Settle *s, const Slq__Claim *c) {
    if (c->settled) return reject(a, SLQ_CLAIM_SETTLED, "with payment \"%.64s\"", c->payment_ref);
    if (c->review != SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED)
        return reject(a, SLQ_CLAIM_NOT_APPROVED,
                      c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED ? "it was rejected"
                                                                            : "it is unreviewed");
    int64_t paid = s->amount_fen == 0 ? c->amount_fen : s->amount_fen;
    if (paid < 0)
        return reject(a, SLQ_AMOUNT_MUST_BE_POSITIVE, "amount %lld fen", (long long) paid);
    if (paid > c->amount_fen)
        return reject(a, SLQ_AMOUNT_EXCEEDS_CLAIM, "%lld > %lld fen", (long long) paid,
                      (long long) c->amount_fen);
    slq_err err = claim_totals(a, c, false);
    if (err != SLQ_OK) return err;
    Slq__Claim w = *c;
    w.settled = true;
    w.payment_ref = s->payment_ref;
    w.settled_at_ms = a->ctx->time_ms;
    w.settle_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    w.paid_fen = paid;
    w.payer = s->payer;
    return claim_put(a, &w);
}

static slq_err apply_settle(apply_ctx *a, const Slq__Settle *s) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_FINANCE, "SETTLE");
    if (err != SLQ_OK) return err;
    if (!is_hash(&s->claim_id)) return reject(a, SLQ_FIELD_INVALID, "claim id must be 32 bytes");
    if ((err = check_text(a, s->payment_ref, SLQ_REF_BYTES_MAX, "payment reference")) != SLQ_OK)
        return err;
    if ((err = check_text(a, s->payer, SLQ_NAME_BYTES_MAX, "payer")) != SLQ_OK) return err;
    if (!ledger_payer_listed(a->l, s->payer))
        return reject(a, SLQ_PAYER_UNKNOWN, "\"%.64s\"", s->payer);
    Slq__Claim *c = NULL;
    if ((err = claim_get(a, &s->claim_id, &c)) != SLQ_OK) return err;
    err = settle_claim(a, s, c);
    slq__claim__free_unpacked(c, NULL);
    return err;
}

/* ------------------------------------------------------------------ REVIEW_CLAIM */

/* Finance or the regulator reviews an open claim once. A rejection returns the claim's amount to
 * the pools it came from: per (year, program) part, clawed_back grows and cap_used shrinks (the
 * city row's only for programs inside the city cap), so an ISSUE may use it again. The vouchers
 * stay redeemed: the centre is not paid, and nothing is re-issued. */
static slq_err apply_review_claim(apply_ctx *a, const Slq__ReviewClaim *r) {
    Slq__Role role = a->signer->role;
    if (role != SLQ__ROLE__ROLE_FINANCE && role != SLQ__ROLE__ROLE_REGULATOR)
        return reject(a, SLQ_ROLE_FORBIDDEN,
                      "REVIEW_CLAIM needs finance or regulator, signer is %s", role_name(role));
    if (!is_hash(&r->claim_id)) return reject(a, SLQ_FIELD_INVALID, "claim id must be 32 bytes");
    slq_err err = check_text(a, r->reason, SLQ_REF_BYTES_MAX, "reason");
    if (err != SLQ_OK) return err;
    Slq__Claim *c = NULL;
    if ((err = claim_get(a, &r->claim_id, &c)) != SLQ_OK) return err;
    if (c->settled)
        err = reject(a, SLQ_CLAIM_SETTLED, "with payment \"%.64s\"", c->payment_ref);
    else if (c->review != SLQ__CLAIM_REVIEW__CLAIM_REVIEW_OPEN)
        err = reject(a, SLQ_CLAIM_REVIEWED, "at height %llu",
                     (unsigned long long) c->reviewed_height);
    if (err == SLQ_OK && !r->approve) err = claim_totals(a, c, true);
    if (err == SLQ_OK) {
        Slq__Claim w = *c;
        w.review = r->approve ? SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED
                              : SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED;
        w.reviewer = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) a->tx->signer};
        w.review_reason = r->reason;
        w.reviewed_height = a->ctx->height;
        w.reviewed_at_ms = a->ctx->time_ms;
        w.review_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
        err = claim_put(a, &w);
    }
    slq__claim__free_unpacked(c, NULL);
    return err;
}

/* ------------------------------------------------------------------ REVOKE */

static slq_err revoke_voucher(apply_ctx *a, const Slq__Voucher *v) {
    int64_t amount = v->remaining_fen;
    totals_delta d = {.revoked = amount, .cap_used = -amount};
    slq_err err = totals_apply(a, v->budget_year, v->program, &d);
    if (err == SLQ_OK) err = quota_add(a, v->budget_year, v->program, v->beneficiary.data, -amount);
    if (err == SLQ_AMOUNT_OVERFLOW) return reject(a, err, "revoked total");
    if (err != SLQ_OK) return err;
    return voucher_close(a, v, SLQ__VOUCHER_STATE__VOUCHER_REVOKED, NULL);
}

/* REVOKE takes a grant back from a holder-class party (enterprise, maker, research, university,
 * intermediary), never from a centre: a voucher a centre holds was paid to it for compute it
 * delivered in good faith, and only REDEEM closes it. */
static slq_err revoke_holder(apply_ctx *a, const Slq__Voucher *v) {
    Slq__Account *h = NULL;
    slq_err err = account_get(a, v->holder.data, &h);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_STORAGE_CORRUPT, "holder has no account");
    if (err != SLQ_OK) return err;
    Slq__Role role = h->role;
    slq__account__free_unpacked(h, NULL);
    if (role == SLQ__ROLE__ROLE_CENTRE) {
        char addr[CRYPTO_ADDRESS_TEXT_BYTES];
        crypto_address_format(addr, v->holder.data);
        return reject(a, SLQ_VOUCHER_PAID, "held by centre %s", addr);
    }
    if (!ledger_role_can_hold(role))
        return reject(a, SLQ_STORAGE_CORRUPT, "voucher held by a %s", role_name(role));
    return SLQ_OK;
}

static slq_err apply_revoke(apply_ctx *a, const Slq__Revoke *r) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_ISSUER, "REVOKE");
    if (err != SLQ_OK) return err;
    if (!is_hash(&r->voucher_id))
        return reject(a, SLQ_FIELD_INVALID, "voucher id must be 32 bytes");
    if ((err = check_text(a, r->reason, SLQ_REF_BYTES_MAX, "reason")) != SLQ_OK) return err;
    Slq__Voucher *v = NULL;
    err = voucher_get(a, r->voucher_id.data, &v);
    if (err == SLQ_NOT_FOUND) return reject(a, SLQ_VOUCHER_UNKNOWN, "no such voucher");
    if (err != SLQ_OK) return err;
    err = check_spendable(a, v, 0);
    if (err == SLQ_OK) err = revoke_holder(a, v);
    if (err == SLQ_OK) err = revoke_voucher(a, v);
    slq__voucher__free_unpacked(v, NULL);
    return err;
}

/* ------------------------------------------------------------------ APPLY, REJECT */

/* Checks who applies and the fields of an APPLY; sets *program. */
static slq_err apply_fields(apply_ctx *a, const Slq__Apply *ap, int *program) {
    if (!ledger_role_can_hold(a->signer->role))
        return reject(a, SLQ_ROLE_FORBIDDEN,
                      "APPLY must be signed by an enterprise, maker, research institute, "
                      "university or intermediary, signer is %s",
                      role_name(a->signer->role));
    *program = ledger_program_index(a->l, ap->program);
    if (*program < 0) return reject(a, SLQ_PROGRAM_UNKNOWN, "\"%.64s\"", ap->program);
    const Slq__Policy *pol = a->l->genesis->policy;
    int64_t t = a->ctx->time_ms;
    if (t < pol->valid_from_ms || t >= pol->valid_until_ms)
        return reject(a, SLQ_POLICY_WINDOW_CLOSED, "block time %lld ms, window [%lld, %lld)",
                      (long long) t, (long long) pol->valid_from_ms,
                      (long long) pol->valid_until_ms);
    if (ap->amount_fen <= 0)
        return reject(a, SLQ_AMOUNT_MUST_BE_POSITIVE, "amount %lld fen",
                      (long long) ap->amount_fen);
    if (ap->cost_fen < 0) return reject(a, SLQ_FIELD_INVALID, "declared cost is negative");
    const Slq__Program *p = pol->programs[*program];
    if (p->max_share_bp > 0 && ap->cost_fen == 0)
        return reject(a, SLQ_COST_REQUIRED, "program %s", p->name);
    /* An ask is bounded by what could ever be granted on it: the share of its cost where the
     * program has one, and the city's annual cap (the report sums a year's asks). */
    int64_t limit = 0;
    if (p->max_share_bp > 0 && amount_share_bp(&limit, ap->cost_fen, p->max_share_bp) != SLQ_OK)
        return reject(a, SLQ_AMOUNT_OVERFLOW, "cost share");
    if (p->max_share_bp > 0 && ap->amount_fen > limit)
        return reject(a, SLQ_SHARE_EXCEEDED, "asks %lld fen > %u bp of %lld fen = %lld fen",
                      (long long) ap->amount_fen, p->max_share_bp, (long long) ap->cost_fen,
                      (long long) limit);
    if (ap->amount_fen > pol->city_annual_cap_fen)
        return reject(a, SLQ_CITY_CAP_EXCEEDED, "asks %lld fen > the city's annual cap %lld fen",
                      (long long) ap->amount_fen, (long long) pol->city_annual_cap_fen);
    if (!is_hash(&ap->evidence_hash))
        return reject(a, SLQ_FIELD_INVALID, "evidence hash must be 32 bytes");
    return check_text(a, ap->contract_ref, SLQ_REF_BYTES_MAX, "contract reference");
}

/* Books the application against its contract: the first one fixes the contract's applicant,
 * program and cost; a later one must repeat all three (a contract is one purchase, its cost
 * one figure, and its share one program's). */
static slq_err apply_contract(apply_ctx *a, const Slq__Apply *ap, uint32_t program,
                              const uint8_t *key) {
    Slq__ContractShare *old = NULL, c = SLQ__CONTRACT_SHARE__INIT;
    slq_err err = contract_get(a, key, &old);
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) return err;
    err = SLQ_OK;
    if (old == NULL) {
        c.applicant = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) a->tx->signer};
        c.program = program;
        c.cost_fen = ap->cost_fen;
        c.contract_ref = ap->contract_ref;
    } else if (memcmp(old->applicant.data, a->tx->signer, CRYPTO_ADDRESS_BYTES) != 0) {
        err = reject(a, SLQ_APPLICATION_MISMATCH, "contract \"%.64s\" was applied for by another",
                     ap->contract_ref);
    } else if (old->program != program) {
        err = reject(a, SLQ_APPLICATION_MISMATCH, "contract \"%.64s\" was applied for in %s",
                     ap->contract_ref, a->l->genesis->policy->programs[old->program]->name);
    } else if (old->cost_fen != ap->cost_fen) {
        err = reject(a, SLQ_APPLICATION_MISMATCH,
                     "contract \"%.64s\": cost %lld fen, first declared %lld fen", ap->contract_ref,
                     (long long) ap->cost_fen, (long long) old->cost_fen);
    } else {
        c = *old;
        c.base.unknown_fields = NULL;
        c.base.n_unknown_fields = 0;
    }
    if (err == SLQ_OK && amount_add(&c.asked_fen, c.asked_fen, ap->amount_fen) != SLQ_OK)
        err = reject(a, SLQ_AMOUNT_OVERFLOW, "contract's asked total");
    c.applications++;
    if (err == SLQ_OK) err = contract_put(a, key, &c);
    slq__contract_share__free_unpacked(old, NULL);
    return err;
}

static slq_err apply_apply(apply_ctx *a, const Slq__Apply *ap) {
    int program = -1;
    slq_err err = apply_fields(a, ap, &program);
    if (err != SLQ_OK) return err;
    uint8_t key[CRYPTO_HASH_BYTES];
    char form[LEDGER_CONTRACT_REF_FORM_BYTES];
    err = ledger_contract_ref_hash(a->l->suite, key, form, ap->contract_ref);
    if (err == SLQ_CONTRACT_REF_INVALID)
        return reject(a, err, "nothing is left of the contract reference once whitespace goes");
    if (err != SLQ_OK) return reject(a, err, "contract reference");
    if ((err = apply_contract(a, ap, (uint32_t) program, key)) != SLQ_OK) return err;
    uint8_t *id = a->out->application;
    ledger_application_id(a->l->suite, id, a->tx->hash);
    Slq__Application w = SLQ__APPLICATION__INIT;
    w.id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    w.applicant = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) a->tx->signer};
    w.program = (uint32_t) program;
    w.asked_fen = ap->amount_fen;
    w.contract_ref = ap->contract_ref;
    w.contract_key = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, key};
    w.cost_fen = ap->cost_fen;
    w.evidence_hash = ap->evidence_hash;
    w.status = SLQ__APPLICATION_STATUS__APPLICATION_OPEN;
    w.applied_height = a->ctx->height;
    w.apply_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    if ((err = application_put(a, &w)) != SLQ_OK) return err;
    a->out->has_application = true;
    return SLQ_OK;
}

static slq_err apply_reject_application(apply_ctx *a, const Slq__RejectApplication *r) {
    slq_err err = need_role(a, SLQ__ROLE__ROLE_ISSUER, "REJECT_APPLICATION");
    if (err != SLQ_OK) return err;
    if (!is_hash(&r->application_id))
        return reject(a, SLQ_FIELD_INVALID, "application id must be 32 bytes");
    if ((err = check_text(a, r->reason, SLQ_REF_BYTES_MAX, "reason")) != SLQ_OK) return err;
    Slq__Application *ap = NULL;
    if ((err = application_open(a, &r->application_id, &ap)) != SLQ_OK) return err;
    Slq__Application w = *ap;
    w.status = SLQ__APPLICATION_STATUS__APPLICATION_REJECTED;
    w.reason = r->reason;
    w.closed_height = a->ctx->height;
    w.close_tx = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) a->tx->hash};
    err = application_put(a, &w);
    slq__application__free_unpacked(ap, NULL);
    return err;
}

/* ------------------------------------------------------------------ entry point */

/* A committed transaction's signer has an account whose nonce is at least the transaction's,
 * so a duplicate always fails the nonce check: the tx index is read only then, to name the
 * duplicate for what it is. A transaction that passes (every valid one) costs no read of it. */
static slq_err check_common(apply_ctx *a) {
    slq_key k = slq_key_bytes(SLQ_KEY_TX, a->tx->hash, CRYPTO_HASH_BYTES);
    slq_err err = account_get(a, a->tx->signer, &a->signer);
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) return fault(a, err);
    uint64_t want = err == SLQ_OK ? a->signer->nonce + 1 : 0;
    if (err == SLQ_OK && a->tx->body->nonce == want) return SLQ_OK;
    if (row_exists(a, &k, &err))
        return reject(a, SLQ_TX_DUPLICATE, "same bytes were committed before");
    if (err != SLQ_OK) return fault(a, err);
    if (a->signer == NULL) return reject(a, SLQ_SIGNER_UNKNOWN, "signer has no account");
    return reject(a, SLQ_NONCE_INVALID, "nonce %llu, expected %llu",
                  (unsigned long long) a->tx->body->nonce, (unsigned long long) want);
}

/* Records the transaction: the signer's nonce and the tx index row. */
static slq_err record_tx(apply_ctx *a) {
    Slq__Account acc = *a->signer;
    acc.nonce = a->tx->body->nonce;
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, a->tx->signer, CRYPTO_ADDRESS_BYTES);
    slq_err err = row_put(a, &k, &acc.base);
    if (err != SLQ_OK) return err;
    Slq__TxLocation loc = SLQ__TX_LOCATION__INIT;
    loc.height = a->ctx->height;
    loc.index = a->ctx->index;
    slq_key x = slq_key_bytes(SLQ_KEY_TX, a->tx->hash, CRYPTO_HASH_BYTES);
    return row_put(a, &x, &loc.base);
}

static slq_err dispatch(apply_ctx *a) {
    const Slq__TxBody *b = a->tx->body;
    switch (b->payload_case) {
        case SLQ__TX_BODY__PAYLOAD_REGISTER:
            return apply_register(a, b->register_);
        case SLQ__TX_BODY__PAYLOAD_ISSUE:
            return apply_issue(a, b->issue);
        case SLQ__TX_BODY__PAYLOAD_TRANSFER:
            return apply_transfer(a, b->transfer);
        case SLQ__TX_BODY__PAYLOAD_REDEEM:
            return apply_redeem(a, b->redeem);
        case SLQ__TX_BODY__PAYLOAD_SETTLE:
            return apply_settle(a, b->settle);
        case SLQ__TX_BODY__PAYLOAD_REVOKE:
            return apply_revoke(a, b->revoke);
        case SLQ__TX_BODY__PAYLOAD_APPLY:
            return apply_apply(a, b->apply);
        case SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION:
            return apply_reject_application(a, b->reject_application);
        case SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM:
            return apply_review_claim(a, b->review_claim);
        default:
            return reject(a, SLQ_TX_KIND_MISMATCH, "no payload");
    }
}

slq_err ledger_apply(const ledger *l, ledger_state *st, const ledger_block_ctx *ctx,
                     const ledger_tx *tx, ledger_outcome *out) {
    SLQ_ASSERT(tx->body != NULL);
    memset(out, 0, sizeof *out);
    apply_ctx a = {.l = l, .st = st, .ctx = ctx, .tx = tx, .out = out};
    ledger_state_begin(st);
    slq_err err = check_common(&a);
    if (err == SLQ_OK) err = dispatch(&a);
    if (err == SLQ_OK) {
        err = record_tx(&a);
        if (err != SLQ_OK) fault(&a, err);
    } else if (out->code == SLQ_OK) {
        fault(&a, err); /* a state failure that no rule put into words */
    }
    if (a.signer != NULL) slq__account__free_unpacked(a.signer, NULL);
    if (err == SLQ_OK) {
        ledger_state_commit(st);
    } else {
        ledger_state_rollback(st);
        out->vouchers_count = 0;
        out->has_claim = false;
        out->has_application = false;
    }
    return out->code;
}
