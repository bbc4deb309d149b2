/* tx.c: signed transactions: strict decoding with signature check, signing, derived ids
 * and the app hash.
 *
 * Decoding is strict because signed bytes must mean one thing: a SignedTx or TxBody that
 * carries unknown fields, or that protobuf-c would encode differently (non-minimal
 * varints, fields out of order, default values spelled out, a field repeated), is
 * refused with SLQ_TX_NOT_CANONICAL. The signature is always checked over the body bytes
 * as received, never over a re-encoding. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "slq/assert.h"
#include "slq/limits.h"

/* True when msg re-packs to exactly bytes[0..len) and nothing unknown was kept. */
static bool canonical(const ProtobufCMessage *msg, const uint8_t *bytes, size_t len) {
    if (msg->n_unknown_fields != 0) return false;
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n != len) return false;
    uint8_t *buf = malloc(n == 0 ? 1 : n);
    if (buf == NULL) return false;
    protobuf_c_message_pack(msg, buf);
    bool same = n == 0 || memcmp(buf, bytes, n) == 0; /* bytes may be NULL when n == 0 */
    free(buf);
    return same;
}

/* The payload submessage of body, or NULL when none is set. */
static const ProtobufCMessage *payload_of(const Slq__TxBody *b) {
    switch (b->payload_case) {
        case SLQ__TX_BODY__PAYLOAD_REGISTER:
            return &b->register_->base;
        case SLQ__TX_BODY__PAYLOAD_ISSUE:
            return &b->issue->base;
        case SLQ__TX_BODY__PAYLOAD_TRANSFER:
            return &b->transfer->base;
        case SLQ__TX_BODY__PAYLOAD_REDEEM:
            return &b->redeem->base;
        case SLQ__TX_BODY__PAYLOAD_SETTLE:
            return &b->settle->base;
        case SLQ__TX_BODY__PAYLOAD_REVOKE:
            return &b->revoke->base;
        case SLQ__TX_BODY__PAYLOAD_APPLY:
            return &b->apply->base;
        case SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION:
            return &b->reject_application->base;
        case SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM:
            return &b->review_claim->base;
        default:
            return NULL;
    }
}

static bool kind_matches(const Slq__TxBody *b) {
    static const struct {
        Slq__TxKind kind;
        Slq__TxBody__PayloadCase pc;
    } map[] = {
        {SLQ__TX_KIND__TX_REGISTER, SLQ__TX_BODY__PAYLOAD_REGISTER},
        {SLQ__TX_KIND__TX_ISSUE, SLQ__TX_BODY__PAYLOAD_ISSUE},
        {SLQ__TX_KIND__TX_TRANSFER, SLQ__TX_BODY__PAYLOAD_TRANSFER},
        {SLQ__TX_KIND__TX_REDEEM, SLQ__TX_BODY__PAYLOAD_REDEEM},
        {SLQ__TX_KIND__TX_SETTLE, SLQ__TX_BODY__PAYLOAD_SETTLE},
        {SLQ__TX_KIND__TX_REVOKE, SLQ__TX_BODY__PAYLOAD_REVOKE},
        {SLQ__TX_KIND__TX_APPLY, SLQ__TX_BODY__PAYLOAD_APPLY},
        {SLQ__TX_KIND__TX_REJECT_APPLICATION, SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION},
        {SLQ__TX_KIND__TX_REVIEW_CLAIM, SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].kind == b->kind) return map[i].pc == b->payload_case;
    return false;
}

/* Builds chain_id || body into buf (which holds SLQ_CHAIN_ID_BYTES_MAX + SLQ_TX_BYTES_MAX). */
static size_t preimage(uint8_t *buf, const char *chain_id, const uint8_t *body, size_t len) {
    size_t n = strlen(chain_id);
    SLQ_ASSERT(n <= SLQ_CHAIN_ID_BYTES_MAX);
    SLQ_ASSERT(len <= SLQ_TX_BYTES_MAX);
    memcpy(buf, chain_id, n);
    memcpy(buf + n, body, len);
    return n + len;
}

static slq_err decode_body(ledger_tx *tx) {
    const ProtobufCBinaryData *body = &tx->signed_tx->body;
    tx->body = slq__tx_body__unpack(NULL, body->len, body->data);
    if (tx->body == NULL) return SLQ_TX_MALFORMED;
    const ProtobufCMessage *p = payload_of(tx->body);
    if (p != NULL && p->n_unknown_fields != 0) return SLQ_TX_NOT_CANONICAL;
    if (!canonical(&tx->body->base, body->data, body->len)) return SLQ_TX_NOT_CANONICAL;
    if (!kind_matches(tx->body)) return SLQ_TX_KIND_MISMATCH;
    return SLQ_OK;
}

static slq_err decode(ledger_tx *tx, const ledger *l, const uint8_t *bytes, size_t len,
                      bool verify) {
    if (len > SLQ_TX_BYTES_MAX) return SLQ_TX_TOO_LARGE;
    tx->signed_tx = slq__signed_tx__unpack(NULL, len, bytes);
    if (tx->signed_tx == NULL) return SLQ_TX_MALFORMED;
    if (!canonical(&tx->signed_tx->base, bytes, len)) return SLQ_TX_NOT_CANONICAL;
    const Slq__SignedTx *s = tx->signed_tx;
    if (s->signer_pubkey.len != crypto_pubkey_len(l->suite)) return SLQ_PUBKEY_INVALID;
    if (s->signature.len == 0 || s->signature.len > CRYPTO_SIG_BYTES_MAX) return SLQ_SIG_INVALID;
    slq_err err = decode_body(tx);
    if (err != SLQ_OK) return err;
    if (verify) {
        uint8_t msg[SLQ_CHAIN_ID_BYTES_MAX + SLQ_TX_BYTES_MAX];
        size_t n = preimage(msg, l->genesis->chain_id, s->body.data, s->body.len);
        err = crypto_verify(l->suite, s->signer_pubkey.data, s->signer_pubkey.len, msg, n,
                            s->signature.data, s->signature.len);
        if (err != SLQ_OK) return err;
    }
    crypto_hash(l->suite, tx->hash, bytes, len);
    return crypto_address(l->suite, tx->signer, s->signer_pubkey.data, s->signer_pubkey.len);
}

slq_err ledger_tx_decode(ledger_tx *tx, const ledger *l, const uint8_t *bytes, size_t len) {
    memset(tx, 0, sizeof *tx);
    slq_err err = decode(tx, l, bytes, len, true);
    if (err != SLQ_OK) ledger_tx_free(tx);
    return err;
}

slq_err ledger_tx_decode_verified(ledger_tx *tx, const ledger *l, const uint8_t *bytes,
                                  size_t len) {
    memset(tx, 0, sizeof *tx);
    slq_err err = decode(tx, l, bytes, len, false);
    if (err != SLQ_OK) ledger_tx_free(tx);
    return err;
}

void ledger_tx_free(ledger_tx *tx) {
    if (tx->body != NULL) slq__tx_body__free_unpacked(tx->body, NULL);
    if (tx->signed_tx != NULL) slq__signed_tx__free_unpacked(tx->signed_tx, NULL);
    tx->body = NULL;
    tx->signed_tx = NULL;
}

slq_err ledger_tx_sign(const ledger *l, const crypto_key *key, const Slq__TxBody *body,
                       uint8_t **out, size_t *out_len) {
    return ledger_tx_sign_for(l->suite, l->genesis->chain_id, key, body, out, out_len);
}

slq_err ledger_tx_sign_for(crypto_suite suite, const char *chain_id, const crypto_key *key,
                           const Slq__TxBody *body, uint8_t **out, size_t *out_len) {
    if (crypto_key_suite(key) != suite) return SLQ_KEY_SUITE_MISMATCH;
    if (!ledger_chain_id_ok(chain_id)) return SLQ_INVALID_ARGUMENT;
    size_t body_len = slq__tx_body__get_packed_size(body);
    if (body_len > SLQ_TX_BYTES_MAX) return SLQ_TX_TOO_LARGE;
    uint8_t body_buf[SLQ_TX_BYTES_MAX];
    slq__tx_body__pack(body, body_buf);
    uint8_t msg[SLQ_CHAIN_ID_BYTES_MAX + SLQ_TX_BYTES_MAX];
    size_t n = preimage(msg, chain_id, body_buf, body_len);
    uint8_t sig[CRYPTO_SIG_BYTES_MAX], pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t sig_len = 0, pub_len = 0;
    slq_err err = crypto_sign(key, sig, sizeof sig, &sig_len, msg, n);
    if (err == SLQ_OK) err = crypto_key_public(key, pub, sizeof pub, &pub_len);
    if (err != SLQ_OK) return err;
    Slq__SignedTx s = SLQ__SIGNED_TX__INIT;
    s.body = (ProtobufCBinaryData){body_len, body_buf};
    s.signer_pubkey = (ProtobufCBinaryData){pub_len, pub};
    s.signature = (ProtobufCBinaryData){sig_len, sig};
    size_t len = slq__signed_tx__get_packed_size(&s);
    if (len > SLQ_TX_BYTES_MAX) return SLQ_TX_TOO_LARGE;
    *out = malloc(len);
    if (*out == NULL) return SLQ_NO_MEMORY;
    slq__signed_tx__pack(&s, *out);
    *out_len = len;
    return SLQ_OK;
}

static void put_u32(crypto_hasher *h, uint32_t v) {
    uint8_t b[4] = {(uint8_t) (v >> 24), (uint8_t) (v >> 16), (uint8_t) (v >> 8), (uint8_t) v};
    crypto_hasher_update(h, b, 4);
}

void ledger_voucher_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                       const uint8_t tx_hash[CRYPTO_HASH_BYTES], uint32_t index) {
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    crypto_hasher_update(&h, (const uint8_t *) "slq/voucher", 11);
    crypto_hasher_update(&h, tx_hash, CRYPTO_HASH_BYTES);
    put_u32(&h, index);
    crypto_hasher_final(&h, out);
}

void ledger_claim_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                     const uint8_t tx_hash[CRYPTO_HASH_BYTES]) {
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    crypto_hasher_update(&h, (const uint8_t *) "slq/claim", 9);
    crypto_hasher_update(&h, tx_hash, CRYPTO_HASH_BYTES);
    crypto_hasher_final(&h, out);
}

void ledger_application_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                           const uint8_t tx_hash[CRYPTO_HASH_BYTES]) {
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    crypto_hasher_update(&h, (const uint8_t *) "slq/application", 15);
    crypto_hasher_update(&h, tx_hash, CRYPTO_HASH_BYTES);
    crypto_hasher_final(&h, out);
}

void ledger_app_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                     const uint8_t prev[CRYPTO_HASH_BYTES], const ledger_change *changes,
                     size_t count) {
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    crypto_hasher_update(&h, (const uint8_t *) "slq/app", 7);
    crypto_hasher_update(&h, prev, CRYPTO_HASH_BYTES);
    for (size_t i = 0; i < count; i++) {
        const ledger_change *c = &changes[i];
        uint8_t present = c->value != NULL;
        put_u32(&h, (uint32_t) c->key_len);
        crypto_hasher_update(&h, c->key, c->key_len);
        crypto_hasher_update(&h, &present, 1);
        put_u32(&h, (uint32_t) c->value_len);
        if (c->value_len > 0) crypto_hasher_update(&h, c->value, c->value_len);
    }
    crypto_hasher_final(&h, out);
}
