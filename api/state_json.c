/* state_json.c: the JSON documents of json.h. Reads only committed rows of the store. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "report.h"
#include "slq/amount.h"
#include "slq/keys.h"
#include "slq/limits.h"

static void bytes_or_null(json_t *o, const char *key, const ProtobufCBinaryData *b) {
    if (b->len == CRYPTO_ADDRESS_BYTES)
        codec_json_set_address(o, key, b->data);
    else if (b->len > 0)
        codec_json_set_hex(o, key, b->data, b->len);
    else
        codec_json_set_null(o, key);
}

/* Unpacks a row just read (err: the read's result; v is freed). SLQ_NOT_FOUND,
 * SLQ_STORAGE_CORRUPT or a storage error when there is no message. */
static slq_err unpack_row(slq_err err, uint8_t *v, size_t len, const ProtobufCMessageDescriptor *d,
                          ProtobufCMessage **out) {
    if (err != SLQ_OK) return err;
    *out = protobuf_c_message_unpack(d, NULL, len, v);
    free(v);
    return *out == NULL ? SLQ_STORAGE_CORRUPT : SLQ_OK;
}

/* Reads and unpacks one committed row (loop thread). */
static slq_err row(api *a, const slq_key *k, const ProtobufCMessageDescriptor *d,
                   ProtobufCMessage **out) {
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = storage_get(chain_storage(a->cfg.chain), k->bytes, k->len, &v, &len);
    return unpack_row(err, v, len, d, out);
}

/* The same through the view's pin (any thread). */
static slq_err view_row(const api_view *view, const slq_key *k, const ProtobufCMessageDescriptor *d,
                        ProtobufCMessage **out) {
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = storage_pin_get(view->pin, k->bytes, k->len, &v, &len);
    return unpack_row(err, v, len, d, out);
}

/* ------------------------------------------------------------------ vouchers */

static const char *program_name(const ledger *l, uint32_t i) {
    const Slq__Policy *p = ledger_genesis(l)->policy;
    return i < p->n_programs ? p->programs[i]->name : "unknown";
}

/* Whether v counts as expired at the view's time, as the ledger and the report judge it: a
 * centre may still redeem a voucher it holds during its programme's redemption grace, so
 * until the grace ends that voucher is live (its state "active", in the balance). */
static bool voucher_lapsed(const api_view *view, const Slq__Voucher *v) {
    if (!ledger_voucher_expired(v, view->time_ms)) return false;
    const Slq__Policy *pol = ledger_genesis(view->l)->policy;
    int64_t grace = v->program < pol->n_programs ? pol->programs[v->program]->redeem_grace_ms : 0;
    if (grace <= 0 || v->holder.len != CRYPTO_ADDRESS_BYTES) return true;
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, v->holder.data, CRYPTO_ADDRESS_BYTES);
    Slq__Account *acct = NULL;
    if (view_row(view, &k, &slq__account__descriptor, (ProtobufCMessage **) &acct) != SLQ_OK)
        return true;
    bool centre = acct->role == SLQ__ROLE__ROLE_CENTRE;
    slq__account__free_unpacked(acct, NULL);
    return !centre || ledger_voucher_grace_over(v, grace, view->time_ms);
}

static json_t *voucher_json(const api_view *view, const Slq__Voucher *v) {
    json_t *o = json_object();
    codec_json_set_hex(o, "id", v->id.data, v->id.len);
    codec_json_set_str(o, "program", program_name(view->l, v->program));
    codec_json_set_u64(o, "budget_year", v->budget_year);
    codec_json_set_i64(o, "amount_fen", v->remaining_fen);
    codec_json_set_i64(o, "original_fen", v->original_fen);
    bytes_or_null(o, "holder", &v->holder);
    bytes_or_null(o, "beneficiary", &v->beneficiary);
    codec_json_set_i64(o, "issued_at_ms", v->issued_at_ms);
    codec_json_set_i64(o, "expires_at_ms", v->expires_at_ms);
    codec_json_set_str(o, "state", codec_voucher_state_name(v->state, voucher_lapsed(view, v)));
    bytes_or_null(o, "parent_id", &v->parent_id);
    bytes_or_null(o, "created_tx", &v->created_tx);
    bytes_or_null(o, "closed_tx", &v->closed_tx);
    bytes_or_null(o, "claim_id", &v->claim_id);
    codec_json_set_u64(o, "hops", v->hops);
    return o;
}

static slq_err voucher_get(const api_view *view, const uint8_t *id, Slq__Voucher **v) {
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, id, CRYPTO_HASH_BYTES);
    return view_row(view, &k, &slq__voucher__descriptor, (ProtobufCMessage **) v);
}

/* Adds a tx hash to a list kept oldest first and without repeats (walking up the lineage
 * meets the newest first, and a split parent's closing tx is its child's creating tx). */
static void tx_prepend(json_t *txs, const ProtobufCBinaryData *h) {
    if (h->len != CRYPTO_HASH_BYTES) return;
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, h->data, CRYPTO_HASH_BYTES);
    const char *first = json_string_value(json_array_get(txs, 0)); /* NULL when empty */
    if (first != NULL && strcmp(first, hex) == 0) return;
    json_array_insert_new(txs, 0, json_string(hex));
}

slq_err api_voucher_lineage_json(const api_view *view, const uint8_t id[CRYPTO_HASH_BYTES],
                                 json_t **out) {
    Slq__Voucher *v = NULL;
    slq_err err = voucher_get(view, id, &v);
    if (err != SLQ_OK) return err;
    json_t *o = json_object();
    codec_json_set(o, "voucher", voucher_json(view, v));
    json_t *lineage = codec_json_add_array(o, "lineage");
    json_t *txs = codec_json_add_array(o, "txs");
    /* Up to the root: every step is one transfer, so the walk is as long as the history. */
    for (size_t depth = 0; v != NULL; depth++) {
        if (depth > 0) codec_json_set(lineage, NULL, voucher_json(view, v));
        tx_prepend(txs, &v->closed_tx);
        tx_prepend(txs, &v->created_tx);
        Slq__Voucher *parent = NULL;
        if (v->parent_id.len == CRYPTO_HASH_BYTES)
            err = voucher_get(view, v->parent_id.data, &parent);
        slq__voucher__free_unpacked(v, NULL);
        v = parent;
        if (err != SLQ_OK) break;
    }
    if (err != SLQ_OK) {
        json_decref(o);
        return err == SLQ_NOT_FOUND ? SLQ_STORAGE_CORRUPT : err; /* a parent must exist */
    }
    *out = o;
    return SLQ_OK;
}

typedef struct {
    const api_view *view;
    json_t *list;
    int64_t total;
    bool all;
    slq_err err;
} balance_scan;

static bool balance_cb(void *arg, const uint8_t id[32]) {
    balance_scan *b = arg;
    Slq__Voucher *v = NULL;
    b->err = voucher_get(b->view, id, &v);
    if (b->err == SLQ_NOT_FOUND) b->err = SLQ_STORAGE_CORRUPT; /* the index names it */
    if (b->err != SLQ_OK) return false;
    bool expired = voucher_lapsed(b->view, v);
    if (!expired) b->total += v->remaining_fen; /* sum of held amounts: bounded by the caps */
    if (!expired || b->all) codec_json_set(b->list, NULL, voucher_json(b->view, v));
    slq__voucher__free_unpacked(v, NULL);
    return true;
}

slq_err api_balance_json(const api_view *view, const uint8_t addr[CRYPTO_ADDRESS_BYTES], bool all,
                         json_t **out) {
    json_t *o = json_object();
    codec_json_set_address(o, "address", addr);
    balance_scan b = {.view = view, .list = json_array(), .all = all, .err = SLQ_OK};
    slq_err err = storage_pin_holder_vouchers(view->pin, addr, balance_cb, &b);
    if (err == SLQ_OK) err = b.err;
    codec_json_set_i64(o, "total_fen", b.total);
    codec_json_set(o, "vouchers", b.list);
    if (err != SLQ_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return SLQ_OK;
}

void api_gap_json(api *a, json_t *o, const mempool_signer_view *v) {
    if (v->gapped == 0) {
        codec_json_set_null(o, "gap");
        return;
    }
    json_t *g = json_object();
    codec_json_set_u64(g, "missing_from", v->run_nonce + 1);
    codec_json_set_u64(g, "missing_to", v->gap_next - 1);
    codec_json_set_u64(g, "waiting", v->gapped);
    int64_t waited = (int64_t) uv_now(a->cfg.loop) - v->gap_since_ms;
    int64_t left = SLQ_MEMPOOL_GAP_TTL_MS - waited;
    codec_json_set_i64(g, "expires_in_ms", left > 0 ? left : 0);
    codec_json_set(o, "gap", g);
}

/* The signer's pending nonces: pending_nonce is what a client signs after (the pending ones
 * that follow the committed nonce without a gap; a client that signed after the highest would
 * only add to a gap), pending_max_nonce the highest pending one, and the gap. */
static void set_pending(api *a, json_t *o, const uint8_t addr[CRYPTO_ADDRESS_BYTES],
                        uint64_t committed) {
    mempool_signer_view v;
    mempool_signer(a->cfg.mp, addr, committed, &v);
    codec_json_set_u64(o, "pending_nonce", v.run_nonce);
    codec_json_set_u64(o, "pending_max_nonce", v.max_nonce);
    api_gap_json(a, o, &v);
}

slq_err api_account_json(api *a, const uint8_t addr[CRYPTO_ADDRESS_BYTES], json_t **out) {
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, CRYPTO_ADDRESS_BYTES);
    Slq__Account *acct = NULL;
    slq_err err = row(a, &k, &slq__account__descriptor, (ProtobufCMessage **) &acct);
    mempool_signer_view v;
    mempool_signer(a->cfg.mp, addr, 0, &v);
    if (err == SLQ_NOT_FOUND && v.max_nonce > 0) {
        /* Unknown to the chain but signing already (its REGISTER may be pending). */
        json_t *o = json_object();
        codec_json_set_address(o, "address", addr);
        codec_json_set_null(o, "role");
        codec_json_set_u64(o, "nonce", 0);
        set_pending(a, o, addr, 0);
        *out = o;
        return SLQ_OK;
    }
    if (err != SLQ_OK) return err;
    json_t *o = json_object();
    codec_json_set_address(o, "address", addr);
    const char *role = codec_role_name(acct->role);
    codec_json_set_str(o, "role", role != NULL ? role : "unknown");
    codec_json_set_str(o, "name", acct->name);
    codec_json_set_str(o, "affiliation", acct->affiliation);
    bytes_or_null(o, "credit_code_hash", &acct->credit_code_hash);
    codec_json_set_u64(o, "nonce", acct->nonce);
    set_pending(a, o, addr, acct->nonce);
    codec_json_set_u64(o, "registered_height", acct->registered_height);
    slq__account__free_unpacked(acct, NULL);
    *out = o;
    return SLQ_OK;
}

/* ------------------------------------------------------------------ claims */

static json_t *claim_json(const Slq__Claim *c) {
    json_t *o = json_object();
    codec_json_set_hex(o, "id", c->id.data, c->id.len);
    bytes_or_null(o, "centre", &c->centre);
    codec_json_set_i64(o, "amount_fen", c->amount_fen);
    codec_json_set_str(o, "contract_ref", c->contract_ref);
    bytes_or_null(o, "evidence_hash", &c->evidence_hash);
    codec_json_set_i64(o, "opened_at_ms", c->opened_at_ms);
    codec_json_set_bool(o, "settled", c->settled);
    codec_json_set_str(o, "payment_ref", c->payment_ref);
    codec_json_set_i64(o, "settled_at_ms", c->settled_at_ms);
    bytes_or_null(o, "redeem_tx", &c->redeem_tx);
    bytes_or_null(o, "settle_tx", &c->settle_tx);
    codec_json_set_str(o, "review",
                       c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED   ? "approved"
                       : c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED ? "rejected"
                                                                               : "open");
    bytes_or_null(o, "reviewer", &c->reviewer);
    codec_json_set_str(o, "review_reason", c->review_reason);
    codec_json_set_u64(o, "reviewed_height", c->reviewed_height);
    codec_json_set_i64(o, "reviewed_at_ms", c->reviewed_at_ms);
    bytes_or_null(o, "review_tx", &c->review_tx);
    codec_json_set_i64(o, "paid_fen", c->paid_fen);
    codec_json_set_str(o, "payer", c->payer);
    json_t *vs = codec_json_add_array(o, "vouchers");
    for (size_t i = 0; i < c->n_voucher_ids; i++) {
        char hex[2 * CRYPTO_HASH_BYTES + 1];
        codec_hex_encode(hex, c->voucher_ids[i].data,
                         c->voucher_ids[i].len == CRYPTO_HASH_BYTES ? CRYPTO_HASH_BYTES : 0);
        codec_json_set_str(vs, NULL, hex);
    }
    return o;
}

typedef struct {
    json_t *list;
    const uint8_t *centre;
    slq_err err;
} claims_scan;

static bool claims_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                      size_t val_len) {
    (void) key, (void) key_len;
    claims_scan *cs = arg;
    Slq__Claim *c = slq__claim__unpack(NULL, val_len, val);
    if (c == NULL) {
        cs->err = SLQ_STORAGE_CORRUPT;
        return false;
    }
    if (cs->centre == NULL || (c->centre.len == CRYPTO_ADDRESS_BYTES &&
                               memcmp(c->centre.data, cs->centre, CRYPTO_ADDRESS_BYTES) == 0))
        codec_json_set(cs->list, NULL, claim_json(c));
    slq__claim__free_unpacked(c, NULL);
    return true;
}

slq_err api_claims_json(const api_view *view, const uint8_t *centre, json_t **out) {
    json_t *o = json_object();
    claims_scan cs = {.list = codec_json_add_array(o, "claims"), .centre = centre};
    uint8_t prefix = SLQ_KEY_CLAIM;
    slq_err err = storage_pin_scan(view->pin, &prefix, 1, claims_cb, &cs);
    if (err == SLQ_OK) err = cs.err;
    if (err != SLQ_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return SLQ_OK;
}

/* ------------------------------------------------------------------ audit */

static void totals_json(json_t *o, const Slq__YearTotals *t) {
    codec_json_set_i64(o, "issued_fen", t->issued_fen);
    codec_json_set_i64(o, "cap_used_fen", t->cap_used_fen);
    codec_json_set_i64(o, "redeemed_fen", t->redeemed_fen);
    codec_json_set_i64(o, "settled_fen", t->settled_fen);
    codec_json_set_i64(o, "revoked_fen", t->revoked_fen);
    codec_json_set_i64(o, "transferred_fen", t->transferred_fen);
    codec_json_set_u64(o, "issued_count", t->issued_count);
    codec_json_set_i64(o, "clawed_back_fen", t->clawed_back_fen);
    codec_json_set_u64(o, "rejected_claims", t->rejected_count);
}

/* Every fen issued in the year is active, expired, redeemed or revoked, the stored totals
 * agree with the vouchers, and what was redeemed is settled, in an open claim or clawed back
 * (a rejected claim's). */
static bool conservation_holds(const report_figures *f) {
    const report_totals *c = &f->city;
    const Slq__YearTotals *t = &f->stored_city;
    int64_t accounted = 0, paid = 0;
    return amount_add(&accounted, c->active, c->expired) == SLQ_OK &&
           amount_add(&accounted, accounted, c->redeemed) == SLQ_OK &&
           amount_add(&accounted, accounted, c->revoked) == SLQ_OK &&
           amount_add(&paid, t->settled_fen, c->open) == SLQ_OK &&
           amount_add(&paid, paid, t->clawed_back_fen) == SLQ_OK && c->issued == t->issued_fen &&
           c->redeemed == t->redeemed_fen && c->revoked == t->revoked_fen &&
           c->issued == accounted && t->redeemed_fen == paid;
}

static slq_err audit_json(const report_figures *fig, const ledger *l, uint64_t height,
                          uint32_t year, json_t **out) {
    const Slq__Policy *p = ledger_genesis(l)->policy;
    const Slq__YearTotals *t = &fig->stored_city;
    int64_t cap = p->city_annual_cap_fen, headroom = 0, outstanding = 0;
    if (amount_sub(&headroom, cap, t->cap_used_fen) != SLQ_OK ||
        amount_add(&outstanding, fig->city.active, fig->city.expired) != SLQ_OK)
        return SLQ_AMOUNT_OVERFLOW;
    json_t *o = json_object();
    codec_json_set_u64(o, "year", year);
    codec_json_set_u64(o, "height", height);
    codec_json_set_i64(o, "cap_fen", cap);
    totals_json(o, t);
    codec_json_set_i64(o, "headroom_fen", headroom);
    codec_json_set_i64(o, "open_claims_fen", fig->city.open);
    codec_json_set_i64(o, "active_fen", fig->city.active);
    codec_json_set_i64(o, "expired_fen", fig->city.expired);
    codec_json_set_i64(o, "outstanding_fen", outstanding);
    codec_json_set_bool(o, "cap_held", t->cap_used_fen <= cap);
    codec_json_set_bool(o, "conservation_holds", conservation_holds(fig));
    json_t *list = codec_json_add_array(o, "programs");
    for (uint32_t i = 0; i < p->n_programs; i++) {
        json_t *po = json_object();
        codec_json_set_str(po, "name", p->programs[i]->name);
        codec_json_set_i64(po, "cap_fen", p->programs[i]->annual_cap_fen);
        totals_json(po, &fig->stored_prog[i]);
        codec_json_set(list, NULL, po);
    }
    *out = o;
    return SLQ_OK;
}

slq_err api_audit_json(const api_view *view, uint64_t height, uint32_t year, json_t **out) {
    report_figures *fig = malloc(sizeof *fig); /* large for a worker's stack */
    if (fig == NULL) return SLQ_NO_MEMORY;
    report_source src = report_source_pin(view->pin);
    report_tip tip = {.height = height, .time_ms = view->time_ms};
    slq_err err = report_year_figures(fig, view->l, &src, &tip, year);
    if (err == SLQ_OK) err = audit_json(fig, view->l, height, year, out);
    free(fig);
    return err;
}
