/* chain_fixture.h: a chain over a real LevelDB in a temporary directory, with the fixture's
 * genesis (ledger_fixture.h), for tests of what sits on the chain (admission, intake): sign a
 * REGISTER by the issuer with a chosen nonce, and commit a block of transactions certified by
 * the fixture's one validator. The same steps as test_chain.c's helpers. */
#ifndef SLQ_CHAIN_FIXTURE_H
#define SLQ_CHAIN_FIXTURE_H

/* Needs _XOPEN_SOURCE 700 (nftw) defined before the first system header. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "ledger_fixture.h"

typedef struct {
    fx f;
    uint8_t *genesis;
    size_t genesis_len;
    char dir[256];
    chain *c;
} cfx;

static inline int cfx_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

/* A fresh chain at genesis (height 0), in a new directory under $TMPDIR (or /tmp). */
static inline void cfx_init(cfx *e) {
    memset(e, 0, sizeof *e);
    fx_init(&e->f);
    fx_genesis_bytes(&e->f, &e->genesis, &e->genesis_len);
    check_mkdtemp(e->dir, sizeof e->dir, "cfx");
    char why[256] = "";
    slq_err err = chain_open(&e->c, e->dir, e->genesis, e->genesis_len, why, sizeof why);
    if (err != SLQ_OK) fprintf(stderr, "chain_open: %s\n", why);
    SLQ_ASSERT(err == SLQ_OK);
}

static inline void cfx_deinit(cfx *e) {
    chain_close(e->c);
    nftw(e->dir, cfx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(e->genesis);
    fx_deinit(&e->f);
}

/* A REGISTER of `who` (named `name`) signed by `signer` with `nonce`; the bytes are malloc'd
 * and yours. Other names give other bytes with the same nonce. */
static inline uint8_t *cfx_register_by(cfx *e, int signer, int who, uint64_t nonce,
                                       const char *name, size_t *len) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, e->f.addr[who]};
    r.role = SLQ__ROLE__ROLE_ENTERPRISE;
    r.name = (char *) name;
    r.credit_code_hash = fx_credit_code(who);
    fx_sign(&e->f, signer, &b, nonce);
    uint8_t *out = e->f.last_bytes;
    *len = e->f.last_len;
    e->f.last_bytes = NULL;
    return out;
}

/* The same signed by the issuer. */
static inline uint8_t *cfx_register_named(cfx *e, int who, uint64_t nonce, const char *name,
                                          size_t *len) {
    return cfx_register_by(e, K_ISSUER, who, nonce, name, len);
}

static inline uint8_t *cfx_register(cfx *e, int who, uint64_t nonce, size_t *len) {
    return cfx_register_named(e, who, nonce, "holder", len);
}

/* The hash of bytes in the fixture's suite. */
static inline void cfx_hash(cfx *e, uint8_t hash[CRYPTO_HASH_BYTES], const uint8_t *bytes,
                            size_t len) {
    crypto_hash(e->f.suite, hash, bytes, len);
}

/* Proposes txs (at most 8) at time t, certifies with the validator and commits; *included
 * (if not NULL) gets how many the block kept. */
static inline slq_err cfx_commit(cfx *e, uint8_t **bytes, size_t *lens, size_t n, int64_t t,
                                 size_t *included) {
    ledger_tx txs[8];
    const ledger_tx *tp[8];
    SLQ_ASSERT(n <= 8);
    for (size_t i = 0; i < n; i++) {
        SLQ_ASSERT(ledger_tx_decode(&txs[i], chain_ledger(e->c), bytes[i], lens[i]) == SLQ_OK);
        tp[i] = &txs[i];
    }
    chain_candidates cand = {
        .bytes = (const uint8_t *const *) bytes, .lens = lens, .txs = tp, .count = n};
    chain_proposal p;
    slq_err err = chain_propose(e->c, &p, t, e->f.addr[K_REGULATOR], &cand, NULL, NULL);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (err == SLQ_OK)
        err = chain_certify_alone(e->c, &p, e->f.keys[K_REGULATOR], &cert, &cert_len);
    if (err == SLQ_OK) err = chain_commit(e->c, &p, cert, cert_len);
    if (included != NULL) *included = p.txs_count;
    free(cert);
    for (size_t i = 0; i < n; i++) ledger_tx_free(&txs[i]);
    return err;
}

#endif
