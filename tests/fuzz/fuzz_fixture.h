/* fuzz_fixture.h: the unit tests' ledger fixture (tests/unit/ledger_fixture.h) made
 * repeatable for fuzzing. fx_init() draws fresh random keys, so a signed seed made in one
 * run would not verify in the next; here party i's Ed25519 key has the fixed seed of 32
 * bytes of value i + 1. Ed25519 signing is deterministic, so addresses, signatures, tx
 * hashes and voucher ids are the same in every run and a saved input replays exactly.
 *
 * fz_init() builds the fixture's genesis ledger and state; fz_history() then adds a short
 * history at height 1 so that every kind of transaction has something to act on. The fuzz
 * targets and gen_corpus.c (which writes the seeds) share this file and must agree on it:
 * changing the history changes the nonces and ids the seeds carry. */
#ifndef SLQ_FUZZ_FIXTURE_H
#define SLQ_FUZZ_FIXTURE_H

#include "ledger_fixture.h"

#define FZ_PEM_BYTES 160u

/* Loads the Ed25519 key whose 32-byte seed is all `b`, via its PKCS#8 PEM (the one way
 * into crypto/ without OpenSSL here). */
static inline crypto_key *fz_key(uint8_t b) {
    static const uint8_t prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                       0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char head[] = "-----BEGIN PRIVATE KEY-----\n";
    static const char tail[] = "\n-----END PRIVATE KEY-----\n";
    uint8_t der[48];
    memcpy(der, prefix, sizeof prefix);
    memset(der + sizeof prefix, b, sizeof der - sizeof prefix);
    char pem[FZ_PEM_BYTES];
    size_t n = 0;
    memcpy(pem, head, sizeof head - 1);
    n += sizeof head - 1;
    for (size_t i = 0; i < sizeof der; i += 3) { /* 48 bytes: no padding */
        uint32_t v = (uint32_t) der[i] << 16 | (uint32_t) der[i + 1] << 8 | der[i + 2];
        for (int j = 3; j >= 0; j--) pem[n++] = b64[(v >> (6 * j)) & 63];
    }
    SLQ_ASSERT(n + sizeof tail - 1 <= sizeof pem);
    memcpy(pem + n, tail, sizeof tail - 1);
    n += sizeof tail - 1;
    crypto_key *key = NULL;
    SLQ_ASSERT(crypto_key_load_pem(&key, pem, n, NULL) == SLQ_OK);
    return key;
}

/* As fx_init(), with the fixed keys. */
static inline void fz_init(fx *f) {
    memset(f, 0, sizeof *f);
    f->suite = CRYPTO_SUITE_ED25519_SHA256;
    for (int i = 0; i < K_COUNT; i++) {
        f->keys[i] = fz_key((uint8_t) (i + 1));
        uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(f->keys[i], pub, sizeof pub, &n) == SLQ_OK);
        SLQ_ASSERT(crypto_address(f->suite, f->addr[i], pub, n) == SLQ_OK);
    }
    uint8_t *g = NULL;
    size_t len = 0;
    fx_genesis_bytes(f, &g, &len);
    slq_err err = ledger_create(&f->l, g, len, NULL, 0);
    free(g);
    SLQ_ASSERT(err == SLQ_OK);
    SLQ_ASSERT(ledger_state_create(&f->st, NULL) == SLQ_OK);
    SLQ_ASSERT(ledger_genesis_state(f->l, f->st) == SLQ_OK);
    f->time_ms = cst_ms(2024, 6, 1, 12, 0);
    f->height = 1;
}

/* What fz_history() leaves behind, for seeds to point at. */
typedef struct {
    uint8_t h1_change[32]; /* H1's 70000 fen of the general program (left after a transfer) */
    uint8_t h2_change[32]; /* H2's 30000 fen of the shared program */
    uint8_t centre2_v[32]; /* CENTRE2's 20000 fen of the shared program, unredeemed */
    uint8_t claim[32];     /* CENTRE1's redemption of 30000 fen, unsettled */
} fz_ids;

/* Block time for transactions applied after the history. */
#define FZ_NEXT_TIME_MS (cst_ms(2024, 6, 1, 12, 0) + 60000)

/* Registers H1..H3; issues to H1 (general) and H2 (shared); H1 pays CENTRE1 and H2 pays
 * CENTRE2 part of theirs; CENTRE1 redeems. Afterwards the nonces are ISSUER 5, H1 1, H2 1,
 * CENTRE1 1, everyone else 0. */
static inline void fz_history(fx *f, fz_ids *ids) {
    SLQ_ASSERT(fx_register(f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(f, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(f, K_H3, SLQ__ROLE__ROLE_MAKER, "group-b") == SLQ_OK);
    uint8_t v1[32], v2[32], centre1_v[32];
    SLQ_ASSERT(fx_issue(f, v1, .to = K_H1, .program = P_GENERAL, .amount_fen = 100000,
                        .ref = "fz-app-1") == SLQ_OK);
    SLQ_ASSERT(fx_issue(f, v2, .to = K_H2, .program = P_SHARED, .amount_fen = 50000,
                        .ref = "fz-app-2") == SLQ_OK);
    SLQ_ASSERT(fx_transfer(f, K_H1, v1, K_CENTRE1, 30000) == SLQ_OK);
    memcpy(centre1_v, f->out.vouchers[0], 32);
    memcpy(ids->h1_change, f->out.vouchers[1], 32);
    SLQ_ASSERT(fx_transfer(f, K_H2, v2, K_CENTRE2, 20000) == SLQ_OK);
    memcpy(ids->centre2_v, f->out.vouchers[0], 32);
    memcpy(ids->h2_change, f->out.vouchers[1], 32);
    SLQ_ASSERT(fx_redeem(f, K_CENTRE1, (const uint8_t(*)[32]) centre1_v, 1, "fz-contract-1") ==
               SLQ_OK);
    SLQ_ASSERT(f->out.has_claim);
    memcpy(ids->claim, f->out.claim, 32);
}

/* ledger_view.get over a ledger_state (ctx): a malloc'd copy of the row, as the view's
 * contract asks. Lets a scratch state per input read the fixture's state unchanged. */
static inline slq_err fz_view_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                                  size_t *val_len) {
    const uint8_t *v = NULL;
    size_t n = 0;
    slq_err err = ledger_state_get(ctx, key, key_len, &v, &n);
    if (err != SLQ_OK) return err;
    uint8_t *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) return SLQ_NO_MEMORY;
    if (n > 0) memcpy(copy, v, n);
    *val = copy;
    *val_len = n;
    return SLQ_OK;
}

#endif
