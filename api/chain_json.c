/* chain_json.c: JSON of blocks and transactions for the API (json.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "json.h"

static void hash_list(json_t *arr, const ProtobufCBinaryData *txs, size_t n, crypto_suite suite) {
    for (size_t i = 0; i < n; i++) {
        uint8_t h[CRYPTO_HASH_BYTES];
        char hex[2 * CRYPTO_HASH_BYTES + 1];
        crypto_hash(suite, h, txs[i].data, txs[i].len);
        codec_hex_encode(hex, h, CRYPTO_HASH_BYTES);
        codec_json_set_str(arr, NULL, hex);
    }
}

static json_t *cert_json(const uint8_t *bytes, size_t len) {
    Slq__Certificate *c = slq__certificate__unpack(NULL, len, bytes);
    if (c == NULL) return json_null();
    json_t *o = json_object();
    codec_json_set_u64(o, "height", c->height);
    codec_json_set_u64(o, "round", c->round);
    codec_json_set_hex(o, "block_hash", c->block_hash.data, c->block_hash.len);
    json_t *sigs = codec_json_add_array(o, "signatures");
    for (size_t i = 0; i < c->n_sigs; i++) {
        json_t *s = json_object();
        static const char *flags[] = {"absent", "commit", "nil"};
        unsigned f = (unsigned) c->sigs[i]->flag;
        codec_json_set_str(s, "flag", f < 3 ? flags[f] : "unknown");
        if (c->sigs[i]->validator.len == CRYPTO_ADDRESS_BYTES)
            codec_json_set_address(s, "validator", c->sigs[i]->validator.data);
        codec_json_set(sigs, NULL, s);
    }
    slq__certificate__free_unpacked(c, NULL);
    return o;
}

/* Loads and decodes the block at height: *b and *h are yours. */
static slq_err load_block(api *a, uint64_t height, Slq__Block **b, Slq__BlockHeader **h) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    slq_err err = storage_block_by_height(chain_storage(a->cfg.chain), height, &bytes, &len);
    if (err != SLQ_OK) return err;
    *b = slq__block__unpack(NULL, len, bytes);
    free(bytes);
    *h = *b == NULL ? NULL : slq__block_header__unpack(NULL, (*b)->header.len, (*b)->header.data);
    if (*h != NULL) return SLQ_OK;
    if (*b != NULL) slq__block__free_unpacked(*b, NULL);
    return SLQ_STORAGE_CORRUPT;
}

slq_err api_block_json(api *a, uint64_t height, json_t **out) {
    Slq__Block *b;
    Slq__BlockHeader *h;
    slq_err err = load_block(a, height, &b, &h);
    if (err != SLQ_OK) return err;
    crypto_suite suite = ledger_suite(chain_ledger(a->cfg.chain));
    uint8_t hash[CRYPTO_HASH_BYTES];
    crypto_hash(suite, hash, b->header.data, b->header.len);
    json_t *o = json_object();
    codec_json_set_u64(o, "height", h->height);
    codec_json_set_hex(o, "hash", hash, CRYPTO_HASH_BYTES);
    codec_json_set_i64(o, "time_ms", h->time_ms);
    codec_json_set_hex(o, "prev_hash", h->prev_hash.data, h->prev_hash.len);
    codec_json_set_hex(o, "txs_root", h->txs_root.data, h->txs_root.len);
    codec_json_set_hex(o, "app_hash", h->app_hash.data, h->app_hash.len);
    if (h->proposer.len == CRYPTO_ADDRESS_BYTES)
        codec_json_set_address(o, "proposer", h->proposer.data);
    codec_json_set_hex(o, "validators_hash", h->validators_hash.data, h->validators_hash.len);
    hash_list(codec_json_add_array(o, "txs"), b->txs, b->n_txs, suite);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (storage_cert_by_height(chain_storage(a->cfg.chain), height, &cert, &cert_len) == SLQ_OK) {
        codec_json_set(o, "certificate", cert_json(cert, cert_len));
        free(cert);
    }
    slq__block_header__free_unpacked(h, NULL);
    slq__block__free_unpacked(b, NULL);
    *out = o;
    return SLQ_OK;
}

/* ------------------------------------------------------------------ transactions */

static const char *kind_name(Slq__TxKind k) {
    static const char *names[] = {
        "unknown", "register", "issue", "transfer",           "redeem",
        "settle",  "revoke",   "apply", "reject_application", "review_claim"};
    return (unsigned) k < sizeof names / sizeof names[0] ? names[k] : "unknown";
}

static void ids_json(json_t *arr, const ProtobufCBinaryData *ids, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char hex[2 * CRYPTO_HASH_BYTES + 1];
        codec_hex_encode(hex, ids[i].data, ids[i].len == CRYPTO_HASH_BYTES ? CRYPTO_HASH_BYTES : 0);
        codec_json_set_str(arr, NULL, hex);
    }
}

static json_t *body_json(const Slq__TxBody *b) {
    json_t *o = json_object();
    if (b->payload_case == SLQ__TX_BODY__PAYLOAD_REGISTER) {
        if (b->register_->address.len == CRYPTO_ADDRESS_BYTES)
            codec_json_set_address(o, "address", b->register_->address.data);
        const char *role = codec_role_name(b->register_->role);
        codec_json_set_str(o, "role", role != NULL ? role : "unknown");
        codec_json_set_str(o, "name", b->register_->name);
        codec_json_set_str(o, "affiliation", b->register_->affiliation);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_ISSUE) {
        if (b->issue->holder.len == CRYPTO_ADDRESS_BYTES)
            codec_json_set_address(o, "holder", b->issue->holder.data);
        codec_json_set_str(o, "program", b->issue->program);
        codec_json_set_i64(o, "amount_fen", b->issue->amount_fen);
        codec_json_set_i64(o, "cost_fen", b->issue->cost_fen);
        codec_json_set_str(o, "application_ref", b->issue->application_ref);
        codec_json_set_i64(o, "expires_at_ms", b->issue->expires_at_ms);
        if (b->issue->application_id.len > 0)
            codec_json_set_hex(o, "application", b->issue->application_id.data,
                               b->issue->application_id.len);
        else
            codec_json_set_null(o, "application");
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_TRANSFER) {
        codec_json_set_hex(o, "voucher", b->transfer->voucher_id.data, b->transfer->voucher_id.len);
        if (b->transfer->to.len == CRYPTO_ADDRESS_BYTES)
            codec_json_set_address(o, "to", b->transfer->to.data);
        codec_json_set_i64(o, "amount_fen", b->transfer->amount_fen);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_REDEEM) {
        ids_json(codec_json_add_array(o, "vouchers"), b->redeem->voucher_ids,
                 b->redeem->n_voucher_ids);
        codec_json_set_str(o, "contract_ref", b->redeem->contract_ref);
        codec_json_set_hex(o, "evidence_hash", b->redeem->evidence_hash.data,
                           b->redeem->evidence_hash.len);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_SETTLE) {
        codec_json_set_hex(o, "claim", b->settle->claim_id.data, b->settle->claim_id.len);
        codec_json_set_str(o, "payment_ref", b->settle->payment_ref);
        codec_json_set_i64(o, "amount_fen", b->settle->amount_fen);
        codec_json_set_str(o, "payer", b->settle->payer);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM) {
        codec_json_set_hex(o, "claim", b->review_claim->claim_id.data,
                           b->review_claim->claim_id.len);
        codec_json_set_bool(o, "approve", b->review_claim->approve);
        codec_json_set_str(o, "reason", b->review_claim->reason);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_REVOKE) {
        codec_json_set_hex(o, "voucher", b->revoke->voucher_id.data, b->revoke->voucher_id.len);
        codec_json_set_str(o, "reason", b->revoke->reason);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_APPLY) {
        codec_json_set_str(o, "program", b->apply->program);
        codec_json_set_i64(o, "amount_fen", b->apply->amount_fen);
        codec_json_set_str(o, "contract_ref", b->apply->contract_ref);
        codec_json_set_i64(o, "cost_fen", b->apply->cost_fen);
        codec_json_set_hex(o, "evidence_hash", b->apply->evidence_hash.data,
                           b->apply->evidence_hash.len);
    } else if (b->payload_case == SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION) {
        codec_json_set_hex(o, "application", b->reject_application->application_id.data,
                           b->reject_application->application_id.len);
        codec_json_set_str(o, "reason", b->reject_application->reason);
    }
    return o;
}

/* The vouchers a committed tx created (recipient's first) and the claim it opened. */
static void outcome_json(api *a, json_t *o, const ledger_tx *tx) {
    crypto_suite suite = ledger_suite(chain_ledger(a->cfg.chain));
    json_t *vs = codec_json_add_array(o, "vouchers");
    Slq__TxKind k = tx->body->kind;
    uint32_t max = k == SLQ__TX_KIND__TX_ISSUE ? 1 : k == SLQ__TX_KIND__TX_TRANSFER ? 2 : 0;
    for (uint32_t i = 0; i < max; i++) {
        uint8_t id[CRYPTO_HASH_BYTES];
        ledger_voucher_id(suite, id, tx->hash, i);
        uint8_t *v = NULL;
        size_t len = 0;
        if (storage_voucher(chain_storage(a->cfg.chain), id, &v, &len) != SLQ_OK) continue;
        free(v);
        char hex[2 * CRYPTO_HASH_BYTES + 1];
        codec_hex_encode(hex, id, CRYPTO_HASH_BYTES);
        codec_json_set_str(vs, NULL, hex);
    }
    if (k == SLQ__TX_KIND__TX_REDEEM) {
        uint8_t claim[CRYPTO_HASH_BYTES];
        ledger_claim_id(suite, claim, tx->hash);
        codec_json_set_hex(o, "claim", claim, CRYPTO_HASH_BYTES);
    }
    if (k == SLQ__TX_KIND__TX_APPLY) {
        uint8_t app[CRYPTO_HASH_BYTES];
        ledger_application_id(suite, app, tx->hash);
        codec_json_set_hex(o, "application", app, CRYPTO_HASH_BYTES);
    }
}

/* A pending transaction: its signer, nonce and, when it waits behind a missing nonce of its
 * signer, the gap (else "gap" is null). */
static slq_err pending_json(api *a, const mempool_tx *p, json_t **out) {
    uint64_t committed = 0;
    slq_err err = chain_account_nonce(a->cfg.chain, p->tx.signer, &committed);
    if (err != SLQ_OK) return err;
    mempool_signer_view v;
    mempool_signer(a->cfg.mp, p->tx.signer, committed, &v);
    json_t *o = json_object();
    codec_json_set_hex(o, "tx", p->tx.hash, CRYPTO_HASH_BYTES);
    codec_json_set_str(o, "status", "pending");
    codec_json_set_str(o, "kind", kind_name(p->tx.body->kind));
    codec_json_set_address(o, "signer", p->tx.signer);
    codec_json_set_u64(o, "nonce", p->tx.body->nonce);
    if (p->tx.body->nonce > v.run_nonce)
        api_gap_json(a, o, &v);
    else
        codec_json_set_null(o, "gap");
    *out = o;
    return SLQ_OK;
}

slq_err api_tx_json(api *a, const uint8_t hash[CRYPTO_HASH_BYTES], json_t **out) {
    uint64_t height = 0;
    uint32_t index = 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    slq_err err =
        storage_tx_by_hash(chain_storage(a->cfg.chain), hash, &height, &index, &bytes, &len);
    const mempool_tx *p = err == SLQ_NOT_FOUND ? mempool_get(a->cfg.mp, hash) : NULL;
    if (p != NULL) return pending_json(a, p, out);
    if (err != SLQ_OK) return err;
    ledger_tx tx;
    err = ledger_tx_decode(&tx, chain_ledger(a->cfg.chain), bytes, len);
    free(bytes);
    if (err != SLQ_OK) return SLQ_STORAGE_CORRUPT; /* it was valid when committed */
    Slq__Block *b = NULL;
    Slq__BlockHeader *h = NULL;
    err = load_block(a, height, &b, &h);
    json_t *o = json_object();
    codec_json_set_hex(o, "tx", hash, CRYPTO_HASH_BYTES);
    codec_json_set_str(o, "status", "committed");
    codec_json_set_u64(o, "height", height);
    codec_json_set_u64(o, "index", index);
    if (err == SLQ_OK) codec_json_set_i64(o, "time_ms", h->time_ms);
    codec_json_set_str(o, "kind", kind_name(tx.body->kind));
    codec_json_set_address(o, "signer", tx.signer);
    codec_json_set_u64(o, "nonce", tx.body->nonce);
    outcome_json(a, o, &tx);
    codec_json_set(o, "body", body_json(tx.body));
    ledger_tx_free(&tx);
    if (h != NULL) slq__block_header__free_unpacked(h, NULL);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    if (err != SLQ_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return SLQ_OK;
}
