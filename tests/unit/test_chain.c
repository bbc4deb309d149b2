/* test_chain.c: the node's chain executor over a real LevelDB, and the mempool. Forged blocks
 * (a header changed, then re-hashed and signed with the validator's key) show that each header
 * check refuses on its own, behind a valid certificate. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "ledger_fixture.h"
#include "mempool.h"
#include "slq/keys.h"
#include "slq/limits.h"

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

static void rm_rf(const char *dir) {
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

typedef struct {
    fx f;
    uint8_t *genesis;
    size_t genesis_len;
    char dir[64];
} env;

static void env_init(env *e) {
    fx_init(&e->f);
    fx_genesis_bytes(&e->f, &e->genesis, &e->genesis_len);
    snprintf(e->dir, sizeof e->dir, "/tmp/slq-chain-XXXXXX");
    SLQ_ASSERT(mkdtemp(e->dir) != NULL);
}

static void env_deinit(env *e) {
    rm_rf(e->dir);
    free(e->genesis);
    fx_deinit(&e->f);
}

/* Signs a REGISTER of `who` by the issuer with nonce, returns bytes (malloc'd). */
static uint8_t *register_tx(env *e, int who, uint64_t nonce, size_t *len) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){20, e->f.addr[who]};
    r.role = SLQ__ROLE__ROLE_ENTERPRISE;
    r.name = "holder";
    r.credit_code_hash = fx_credit_code(who);
    fx_sign(&e->f, K_ISSUER, &b, nonce);
    uint8_t *out = e->f.last_bytes;
    *len = e->f.last_len;
    e->f.last_bytes = NULL;
    return out;
}

/* Proposes the given txs on c at time t, certifies with the fixture's validator, commits. */
static slq_err make_block(env *e, chain *c, uint8_t **bytes, size_t *lens, size_t n, int64_t t,
                          size_t *included) {
    ledger_tx txs[8];
    const ledger_tx *tp[8];
    for (size_t i = 0; i < n; i++) {
        SLQ_ASSERT(ledger_tx_decode(&txs[i], chain_ledger(c), bytes[i], lens[i]) == SLQ_OK);
        tp[i] = &txs[i];
    }
    chain_candidates cand = {
        .bytes = (const uint8_t *const *) bytes, .lens = lens, .txs = tp, .count = n};
    chain_proposal p;
    slq_err err = chain_propose(c, &p, t, e->f.addr[K_REGULATOR], &cand, NULL, NULL);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (err == SLQ_OK) err = chain_certify_alone(c, &p, e->f.keys[K_REGULATOR], &cert, &cert_len);
    if (err == SLQ_OK) err = chain_commit(c, &p, cert, cert_len);
    if (included != NULL) *included = p.txs_count;
    free(cert);
    for (size_t i = 0; i < n; i++) ledger_tx_free(&txs[i]);
    return err;
}

static void test_a_committed_block_survives_reopening(void) {
    env e;
    env_init(&e);
    chain *c;
    char why[256];
    CHECK_ERR(chain_open(&c, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_EQ_INT(chain_tip(c)->height, 0);
    size_t lens[2];
    uint8_t *txs[2] = {register_tx(&e, K_H1, 1, &lens[0]), register_tx(&e, K_H2, 3, &lens[1])};
    size_t included = 0;
    int64_t t = cst_ms(2024, 6, 1, 0, 0);
    CHECK_ERR(make_block(&e, c, txs, lens, 2, t, &included), SLQ_OK);
    CHECK_EQ_INT(included, 1); /* the second has a nonce gap and is left out */
    uint8_t tip[32];
    memcpy(tip, chain_tip(c)->hash, 32);
    uint64_t nonce = 0;
    CHECK_ERR(chain_account_nonce(c, e.f.addr[K_ISSUER], &nonce), SLQ_OK);
    CHECK_EQ_INT(nonce, 1);
    chain_close(c);
    CHECK_ERR(chain_open(&c, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_EQ_INT(chain_tip(c)->height, 1);
    CHECK_MEM(chain_tip(c)->hash, tip, 32);
    CHECK_EQ_INT(chain_tip_time_ms(c), t);
    uint8_t hash[32], *stored = NULL;
    size_t stored_len = 0;
    uint64_t height = 0;
    uint32_t index = 9;
    crypto_hash(e.f.suite, hash, txs[0], lens[0]);
    CHECK_ERR(storage_tx_by_hash(chain_storage(c), hash, &height, &index, &stored, &stored_len),
              SLQ_OK);
    CHECK_EQ_INT(height, 1);
    CHECK_EQ_INT(index, 0);
    free(stored);
    chain_close(c);
    free(txs[0]);
    free(txs[1]);
    env_deinit(&e);
}

static void test_a_store_of_another_genesis_is_refused(void) {
    env e;
    env_init(&e);
    chain *c;
    char why[256] = "";
    CHECK_ERR(chain_open(&c, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    chain_close(c);
    fx other;
    fx_init(&other);
    uint8_t *g;
    size_t len;
    fx_genesis_bytes(&other, &g, &len);
    CHECK_ERR(chain_open(&c, e.dir, g, len, why, sizeof why), SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "another genesis") != NULL);
    free(g);
    fx_deinit(&other);
    env_deinit(&e);
}

static void test_another_node_replays_blocks_to_the_same_tip(void) {
    env e;
    env_init(&e);
    char dir2[256], why[256] = "";
    check_mkdtemp(dir2, sizeof dir2, "chain2");
    chain *a, *b;
    CHECK_ERR(chain_open(&a, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    int64_t t = cst_ms(2024, 6, 1, 0, 0);
    for (uint64_t h = 1; h <= 3; h++) {
        size_t len;
        uint8_t *tx = register_tx(&e, (int) (K_H1 + h - 1), h, &len);
        CHECK_ERR(make_block(&e, a, &tx, &len, 1, t + (int64_t) h, NULL), SLQ_OK);
        free(tx);
        uint8_t *blk, *cert;
        size_t blk_len, cert_len;
        CHECK_ERR(storage_block_by_height(chain_storage(a), h, &blk, &blk_len), SLQ_OK);
        CHECK_ERR(storage_cert_by_height(chain_storage(a), h, &cert, &cert_len), SLQ_OK);
        /* A flipped byte anywhere is refused and writes nothing. */
        blk[blk_len / 2] ^= 1;
        CHECK(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why) != SLQ_OK);
        CHECK_EQ_INT(chain_tip(b)->height, h - 1);
        blk[blk_len / 2] ^= 1;
        cert[cert_len - 1] ^= 1;
        CHECK_ERR(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why),
                  SLQ_CERT_INVALID);
        CHECK(why[0] != '\0'); /* the sync log says why, never an empty reason */
        cert[cert_len - 1] ^= 1;
        /* Refusals that no check explains in its own words still say what they are. */
        CHECK_ERR(
            chain_apply_block(b, blk, SLQ_BLOCK_BYTES_MAX + 1, cert, cert_len, why, sizeof why),
            SLQ_BLOCK_TOO_LARGE);
        CHECK(strstr(why, "BLOCK_TOO_LARGE") != NULL);
        CHECK_ERR(chain_apply_block(b, blk, blk_len, NULL, 0, why, sizeof why), SLQ_CERT_INVALID);
        CHECK(strstr(why, "CERT_INVALID") != NULL);
        /* As a proposal: valid, its hash is the tip-to-be, a time too far ahead is refused,
         * and checking writes nothing. */
        uint8_t hash[32];
        CHECK_ERR(chain_check_block(b, blk, blk_len, 0, hash, why, sizeof why), SLQ_OK);
        CHECK_MEM(hash, chain_tip(a)->hash, 32);
        CHECK_ERR(chain_check_block(b, blk, blk_len, t, hash, why, sizeof why), SLQ_BLOCK_INVALID);
        CHECK_EQ_INT(chain_tip(b)->height, h - 1);
        CHECK_ERR(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why), SLQ_OK);
        CHECK_MEM(chain_tip(b)->hash, chain_tip(a)->hash, 32);
        CHECK_MEM(chain_tip(b)->app_hash, chain_tip(a)->app_hash, 32);
        /* The same block twice does not follow the tip any more. */
        CHECK_ERR(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why),
                  SLQ_BLOCK_INVALID);
        free(blk);
        free(cert);
    }
    chain_close(a);
    chain_close(b);
    rm_rf(dir2);
    env_deinit(&e);
}

/* Each validator stores the certificate it collected; the next block carries the proposer's.
 * They differ (other precommits, randomized SM2 signatures of other lengths), and the next
 * block must still be accepted. */
static void test_a_block_with_another_valid_last_commit_is_accepted(void) {
    env e;
    memset(&e, 0, sizeof e);
    fx_init_suite(&e.f, CRYPTO_SUITE_SM2_SM3);
    fx_genesis_bytes(&e.f, &e.genesis, &e.genesis_len);
    snprintf(e.dir, sizeof e.dir, "/tmp/slq-chain-XXXXXX");
    SLQ_ASSERT(mkdtemp(e.dir) != NULL);
    char dir2[64] = "/tmp/slq-chain3-XXXXXX", why[256] = "";
    SLQ_ASSERT(mkdtemp(dir2) != NULL);
    chain *a, *b;
    CHECK_ERR(chain_open(&a, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    int64_t t = cst_ms(2024, 6, 1, 0, 0);
    size_t len;
    uint8_t *tx = register_tx(&e, K_H1, 1, &len);
    CHECK_ERR(make_block(&e, a, &tx, &len, 1, t, NULL), SLQ_OK);
    free(tx);
    uint8_t *blk, *cert_a, *cert_b = NULL;
    size_t blk_len, cert_a_len, cert_b_len = 0;
    CHECK_ERR(storage_block_by_height(chain_storage(a), 1, &blk, &blk_len), SLQ_OK);
    CHECK_ERR(storage_cert_by_height(chain_storage(a), 1, &cert_a, &cert_a_len), SLQ_OK);
    chain_proposal p = {.height = 1};
    memcpy(p.hash, chain_tip(a)->hash, 32);
    for (int i = 0; i < 64 && (cert_b == NULL || cert_b_len == cert_a_len); i++) {
        free(cert_b); /* SM2 signs randomly: re-sign until the length differs */
        CHECK_ERR(chain_certify_alone(b, &p, e.f.keys[K_REGULATOR], &cert_b, &cert_b_len), SLQ_OK);
    }
    CHECK(cert_b_len != cert_a_len);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, cert_b, cert_b_len, why, sizeof why), SLQ_OK);
    tx = register_tx(&e, K_H2, 2, &len);
    CHECK_ERR(make_block(&e, a, &tx, &len, 1, t + 1, NULL), SLQ_OK); /* carries cert_a */
    free(tx);
    free(blk);
    free(cert_a);
    CHECK_ERR(storage_block_by_height(chain_storage(a), 2, &blk, &blk_len), SLQ_OK);
    CHECK_ERR(storage_cert_by_height(chain_storage(a), 2, &cert_a, &cert_a_len), SLQ_OK);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, cert_a, cert_a_len, why, sizeof why), SLQ_OK);
    CHECK_MEM(chain_tip(b)->hash, chain_tip(a)->hash, 32);
    free(blk);
    free(cert_a);
    free(cert_b);
    chain_close(a);
    chain_close(b);
    rm_rf(dir2);
    env_deinit(&e);
}

/* ------------------------------------------------------------------ forged blocks
 *
 * A block that the validators signed although its header is wrong: the producer proposes a
 * genuine block, the forge changes its header, the block is re-hashed and the new hash is
 * certified with the validator's key. Only the check that defends the changed field can
 * refuse it. */

typedef struct {
    int64_t tip_time_ms;       /* the follower's tip time */
    const uint8_t *other_cert; /* a valid certificate of another block at tip */
    size_t other_cert_len;
    uint8_t other_cert_hash[CRYPTO_HASH_BYTES];
} forge_ctx;

/* Changes the decoded header (scalars, bytes in place, or pointers to the context's). */
typedef void (*forge_fn)(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x);

static void forge_nothing(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) h, (void) b, (void) x;
}

static void forge_txs_root(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) b, (void) x;
    h->txs_root.data[0] ^= 1;
}

static void forge_app_hash(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) b, (void) x;
    h->app_hash.data[31] ^= 1;
}

static void forge_prev_hash(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) b, (void) x;
    h->prev_hash.data[0] ^= 0x80;
}

static void forge_time_of_tip(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) b;
    h->time_ms = x->tip_time_ms;
}

static void forge_time_before_tip(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    (void) b;
    h->time_ms = x->tip_time_ms - 1;
}

/* last_commit: a certificate of another block at the tip's height (its hash matches). */
static void forge_last_commit(Slq__BlockHeader *h, Slq__Block *b, const forge_ctx *x) {
    b->last_commit = (ProtobufCBinaryData){x->other_cert_len, (uint8_t *) x->other_cert};
    h->last_commit_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) x->other_cert_hash};
}

/* Re-encodes blk with its header changed by forge; *hash gets the new block hash. */
static uint8_t *forge_block(crypto_suite suite, const uint8_t *blk, size_t len, forge_fn forge,
                            const forge_ctx *x, size_t *out_len, uint8_t hash[CRYPTO_HASH_BYTES]) {
    Slq__Block *b = slq__block__unpack(NULL, len, blk);
    SLQ_ASSERT(b != NULL);
    Slq__BlockHeader *h = slq__block_header__unpack(NULL, b->header.len, b->header.data);
    SLQ_ASSERT(h != NULL);
    Slq__Block saved_b = *b; /* the forge may point fields at the context's bytes */
    Slq__BlockHeader saved_h = *h;
    forge(h, b, x);
    uint8_t header[512];
    SLQ_ASSERT(slq__block_header__get_packed_size(h) <= sizeof header);
    size_t header_len = slq__block_header__pack(h, header);
    crypto_hash(suite, hash, header, header_len);
    b->header = (ProtobufCBinaryData){header_len, header};
    *out_len = slq__block__get_packed_size(b);
    uint8_t *out = malloc(*out_len);
    SLQ_ASSERT(out != NULL);
    slq__block__pack(b, out);
    *b = saved_b;
    *h = saved_h;
    slq__block_header__free_unpacked(h, NULL);
    slq__block__free_unpacked(b, NULL);
    return out;
}

/* A certificate, signed by the validator, of block `hash` at `height`. */
static uint8_t *certify(env *e, chain *c, uint64_t height, const uint8_t hash[32], size_t *len) {
    chain_proposal p = {.height = height};
    memcpy(p.hash, hash, 32);
    uint8_t *cert = NULL;
    SLQ_ASSERT(chain_certify_alone(c, &p, e->f.keys[K_REGULATOR], &cert, len) == SLQ_OK);
    return cert;
}

/* Copies block h and its certificate from a to b. */
static void follow(chain *a, chain *b, uint64_t h) {
    uint8_t *blk, *cert;
    size_t blk_len, cert_len;
    char why[256] = "";
    SLQ_ASSERT(storage_block_by_height(chain_storage(a), h, &blk, &blk_len) == SLQ_OK);
    SLQ_ASSERT(storage_cert_by_height(chain_storage(a), h, &cert, &cert_len) == SLQ_OK);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why), SLQ_OK);
    free(blk);
    free(cert);
}

typedef struct {
    const char *name;
    forge_fn forge;
    const char *why; /* NULL: the block is valid */
} forge_case;

/* Offers the forged block to b, as a proposal and with its certificate; b must refuse it
 * with SLQ_BLOCK_INVALID and `why`, and stay at its tip. */
static void offer_forged(env *e, chain *b, const chain_proposal *p, const forge_case *fc,
                         const forge_ctx *x) {
    uint8_t hash[32], got[32];
    size_t len = 0, cert_len = 0;
    uint8_t *blk = forge_block(e->f.suite, p->block, p->block_len, fc->forge, x, &len, hash);
    uint8_t *cert = certify(e, b, p->height, hash, &cert_len);
    char why[256] = "";
    slq_err want = fc->why == NULL ? SLQ_OK : SLQ_BLOCK_INVALID;
    uint64_t tip = chain_tip(b)->height;
    CHECK_ERR(chain_check_block(b, blk, len, 0, got, why, sizeof why), want);
    if (fc->why == NULL) CHECK_MEM(got, p->hash, 32); /* re-encoding changed nothing */
    if (fc->why != NULL) {
        why[0] = '\0';
        CHECK_ERR(chain_apply_block(b, blk, len, cert, cert_len, why, sizeof why), want);
        if (strstr(why, fc->why) == NULL)
            fprintf(stderr, "  %s: why \"%s\", want \"%s\"\n", fc->name, why, fc->why);
        CHECK(strstr(why, fc->why) != NULL);
        CHECK_EQ_INT(chain_tip(b)->height, tip);
    }
    free(cert);
    free(blk);
}

static const forge_case forge_cases[] = {
    {"unchanged", forge_nothing, NULL},
    {"txs_root", forge_txs_root, "txs_root does not match"},
    {"app_hash", forge_app_hash, "app_hash differs"},
    {"prev_hash", forge_prev_hash, "prev_hash does not link"},
    {"time of the tip", forge_time_of_tip, "is not after the tip's"},
    {"time before the tip", forge_time_before_tip, "is not after the tip's"},
    {"last_commit of another block", forge_last_commit, "another block or height"},
};

static void test_a_block_the_validators_signed_is_refused_when_its_header_is_wrong(void) {
    env e;
    env_init(&e);
    char dir2[64] = "/tmp/slq-chain4-XXXXXX", why[256] = "";
    SLQ_ASSERT(mkdtemp(dir2) != NULL);
    chain *a, *b;
    CHECK_ERR(chain_open(&a, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    int64_t t = cst_ms(2024, 6, 1, 0, 0);
    size_t len;
    uint8_t *tx = register_tx(&e, K_H1, 1, &len);
    CHECK_ERR(make_block(&e, a, &tx, &len, 1, t, NULL), SLQ_OK);
    free(tx);
    follow(a, b, 1);
    /* Block 2, with a transaction (so that its txs_root is not the empty root). */
    tx = register_tx(&e, K_H2, 2, &len);
    ledger_tx dec;
    SLQ_ASSERT(ledger_tx_decode(&dec, chain_ledger(a), tx, len) == SLQ_OK);
    const ledger_tx *tp = &dec;
    chain_candidates cand = {
        .bytes = (const uint8_t *const *) &tx, .lens = &len, .txs = &tp, .count = 1};
    chain_proposal p;
    CHECK_ERR(chain_propose(a, &p, t + 1000, e.f.addr[K_REGULATOR], &cand, NULL, NULL), SLQ_OK);
    CHECK_EQ_INT(p.txs_count, 1);
    uint8_t other[32];
    memset(other, 0x77, sizeof other);
    forge_ctx x = {.tip_time_ms = t};
    uint8_t *other_cert = certify(&e, a, 1, other, &x.other_cert_len);
    x.other_cert = other_cert;
    crypto_hash(e.f.suite, x.other_cert_hash, other_cert, x.other_cert_len);
    for (size_t i = 0; i < sizeof forge_cases / sizeof forge_cases[0]; i++)
        offer_forged(&e, b, &p, &forge_cases[i], &x);
    /* The genuine block, with its certificate, is accepted after all of that. */
    size_t cert_len = 0;
    uint8_t *cert = certify(&e, a, 2, p.hash, &cert_len);
    CHECK_ERR(chain_apply_block(b, p.block, p.block_len, cert, cert_len, why, sizeof why), SLQ_OK);
    CHECK_EQ_INT(chain_tip(b)->height, 2);
    CHECK_MEM(chain_tip(b)->hash, p.hash, 32);
    chain_abandon(a, &p);
    ledger_tx_free(&dec);
    free(cert);
    free(other_cert);
    free(tx);
    chain_close(a);
    chain_close(b);
    rm_rf(dir2);
    env_deinit(&e);
}

/* A certificate must prove this block final: one of another block, or of this block at
 * another height, is refused even though the validator signed it. */
static void test_a_block_is_refused_with_a_certificate_of_another_block(void) {
    env e;
    env_init(&e);
    char dir2[64] = "/tmp/slq-chain5-XXXXXX", why[256] = "";
    SLQ_ASSERT(mkdtemp(dir2) != NULL);
    chain *a, *b;
    CHECK_ERR(chain_open(&a, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    size_t len;
    uint8_t *tx = register_tx(&e, K_H1, 1, &len);
    CHECK_ERR(make_block(&e, a, &tx, &len, 1, cst_ms(2024, 6, 1, 0, 0), NULL), SLQ_OK);
    free(tx);
    uint8_t *blk, other[32];
    size_t blk_len, n1 = 0, n2 = 0;
    SLQ_ASSERT(storage_block_by_height(chain_storage(a), 1, &blk, &blk_len) == SLQ_OK);
    memset(other, 0x42, sizeof other);
    uint8_t *of_other = certify(&e, a, 1, other, &n1);
    uint8_t *of_height2 = certify(&e, a, 2, chain_tip(a)->hash, &n2);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, of_other, n1, why, sizeof why), SLQ_CERT_INVALID);
    CHECK(strstr(why, "another block or height") != NULL);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, of_height2, n2, why, sizeof why),
              SLQ_CERT_INVALID);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, NULL, 0, why, sizeof why), SLQ_CERT_INVALID);
    CHECK_EQ_INT(chain_tip(b)->height, 0);
    follow(a, b, 1);
    CHECK_EQ_INT(chain_tip(b)->height, 1);
    free(of_other);
    free(of_height2);
    free(blk);
    chain_close(a);
    chain_close(b);
    rm_rf(dir2);
    env_deinit(&e);
}

/* ------------------------------------------------------------------ mempool */

static void add(env *e, mempool *m, int who_new, uint64_t nonce, slq_err want) {
    size_t len;
    uint8_t *bytes = register_tx(e, who_new, nonce, &len);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, e->f.l, bytes, len) == SLQ_OK);
    CHECK_ERR(mempool_add(m, bytes, len, &tx, 1, 0, NULL, NULL),
              want); /* committed: 1, at time 0 */
}

static slq_err committed_is_one(void *arg, const uint8_t addr[20], uint64_t *nonce) {
    (void) arg, (void) addr;
    *nonce = 1;
    return SLQ_OK;
}

static void count_drop(void *arg, const mempool_tx *t, slq_err why) {
    (void) t;
    CHECK_ERR(why, SLQ_NONCE_INVALID);
    (*(int *) arg)++;
}

/* Overwrites the account row of addr in the (closed) store at dir with bytes that do not
 * decode as an Account: a field 1 whose length runs past the end. */
static void corrupt_account_row(const char *dir, const uint8_t addr[20]) {
    char *err = NULL;
    leveldb_options_t *o = leveldb_options_create();
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_t *db = leveldb_open(o, dir, &err);
    SLQ_ASSERT(err == NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, 20);
    leveldb_put(db, wo, (const char *) k.bytes, k.len, "\x0a\x7f", 2, &err);
    SLQ_ASSERT(err == NULL);
    leveldb_close(db);
    leveldb_writeoptions_destroy(wo);
    leveldb_options_destroy(o);
}

/* A local row that does not decode is our fault, not the block's: checking, applying or
 * building a block over it says SLQ_STORAGE_CORRUPT (stop, repair), never SLQ_BLOCK_INVALID
 * (which blames and disconnects the peer that sent a good block). */
static void test_a_corrupt_local_row_is_a_local_fault_not_an_invalid_block(void) {
    env e;
    env_init(&e);
    char dir2[256], why[256] = "";
    check_mkdtemp(dir2, sizeof dir2, "chain2");
    chain *a, *b;
    CHECK_ERR(chain_open(&a, e.dir, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    size_t len;
    uint8_t *tx = register_tx(&e, K_H1, 1, &len);
    int64_t t = cst_ms(2024, 6, 1, 0, 0);
    CHECK_ERR(make_block(&e, a, &tx, &len, 1, t, NULL), SLQ_OK);
    uint8_t *blk, *cert, hash[32];
    size_t blk_len, cert_len;
    CHECK_ERR(storage_block_by_height(chain_storage(a), 1, &blk, &blk_len), SLQ_OK);
    CHECK_ERR(storage_cert_by_height(chain_storage(a), 1, &cert, &cert_len), SLQ_OK);
    chain_close(b);
    corrupt_account_row(dir2, e.f.addr[K_ISSUER]); /* the signer of the block's one tx */
    CHECK_ERR(chain_open(&b, dir2, e.genesis, e.genesis_len, why, sizeof why), SLQ_OK);
    CHECK_ERR(chain_check_block(b, blk, blk_len, 0, hash, why, sizeof why), SLQ_STORAGE_CORRUPT);
    CHECK_ERR(chain_apply_block(b, blk, blk_len, cert, cert_len, why, sizeof why),
              SLQ_STORAGE_CORRUPT);
    CHECK_EQ_INT(chain_tip(b)->height, 0);
    CHECK_ERR(make_block(&e, b, &tx, &len, 1, t, NULL), SLQ_STORAGE_CORRUPT);
    CHECK_EQ_INT(chain_tip(b)->height, 0);
    free(blk);
    free(cert);
    free(tx);
    chain_close(a);
    chain_close(b);
    rm_rf(dir2);
    env_deinit(&e);
}

static void test_mempool_orders_by_nonce_and_waits_for_gaps(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 8), SLQ_OK);
    add(&e, m, K_H3, 3, SLQ_OK);
    add(&e, m, K_H1, 1, SLQ_OK); /* stale: committed nonce is 1 */
    add(&e, m, K_H2, 2, SLQ_OK);
    add(&e, m, K_H2, 2, SLQ_TX_DUPLICATE);
    add(&e, m, K_STRANGER, 2, SLQ_NONCE_INVALID); /* same nonce, other bytes */
    add(&e, m, K_H1, 5, SLQ_OK);                  /* after a gap at 4 */
    CHECK_EQ_INT(mempool_count(m), 4);
    /* A client signs after 3: 4 is missing, so 5 waits behind a gap. */
    mempool_signer_view v;
    mempool_signer(m, e.f.addr[K_ISSUER], 1, &v);
    CHECK_EQ_INT(v.run_nonce, 3);
    CHECK_EQ_INT(v.max_nonce, 5);
    CHECK_EQ_INT(v.gapped, 1);
    CHECK_EQ_INT(v.gap_next, 5);
    mempool_signer(m, e.f.addr[K_ISSUER], 5, &v); /* 4 and 5 committed meanwhile */
    CHECK_EQ_INT(v.run_nonce, 5);
    CHECK_EQ_INT(v.max_nonce, 5);
    CHECK_EQ_INT(v.gapped, 0);
    mempool_signer(m, e.f.addr[K_H1], 7, &v); /* nothing pending */
    CHECK_EQ_INT(v.run_nonce, 7);
    CHECK_EQ_INT(v.max_nonce, 7);
    CHECK_EQ_INT(v.gapped, 0);
    const mempool_tx *sel[8];
    int dropped = 0;
    size_t n = mempool_select(m, sel, 8, committed_is_one, count_drop, &dropped);
    CHECK_EQ_INT(dropped, 1);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(sel[0]->tx.body->nonce, 2);
    CHECK_EQ_INT(sel[1]->tx.body->nonce, 3);
    uint8_t h2[32];
    memcpy(h2, sel[0]->tx.hash, 32);
    dropped = 0;
    mempool_reject(m, h2, count_drop, &dropped); /* 3 and 5 can no longer apply */
    CHECK_EQ_INT(dropped, 2);
    CHECK_EQ_INT(mempool_count(m), 0);
    mempool_signer(m, e.f.addr[K_ISSUER], 1, &v);
    CHECK_EQ_INT(v.run_nonce, 1);
    CHECK_EQ_INT(v.max_nonce, 1);
    CHECK_EQ_INT(v.gapped, 0);
    mempool_destroy(m);
    env_deinit(&e);
}

static void test_mempool_refuses_when_full(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 2), SLQ_OK);
    add(&e, m, K_H1, 1, SLQ_OK);
    add(&e, m, K_H2, 2, SLQ_OK);
    add(&e, m, K_H3, 3, SLQ_MEMPOOL_FULL);
    const mempool_tx *sel[2];
    size_t n = mempool_select(m, sel, 2, committed_is_one, NULL, NULL);
    CHECK_EQ_INT(n, 1);
    uint8_t h[32];
    memcpy(h, sel[0]->tx.hash, 32);
    mempool_remove(m, h);
    add(&e, m, K_H3, 3, SLQ_OK);
    mempool_destroy(m);
    env_deinit(&e);
}

/* What the mempool dropped to make room during add_at (its drop_fn). */
static struct {
    int n;
    uint8_t last[32];
    slq_err why;
} evicted;

static void record_eviction(void *arg, const mempool_tx *t, slq_err why) {
    (void) arg;
    evicted.n++;
    memcpy(evicted.last, t->tx.hash, 32);
    evicted.why = why;
}

static void count_gap_drop(void *arg, const mempool_tx *t, slq_err why) {
    (void) t;
    CHECK_ERR(why, SLQ_TX_GAP_DROPPED);
    (*(int *) arg)++;
}

/* A REGISTER signed by `signer` with nonce, offered to m at at_ms with the signer's committed
 * nonce 1; the bytes' hash goes to hash (if not NULL). */
static void add_at(env *e, mempool *m, int signer, uint64_t nonce, int64_t at_ms, slq_err want,
                   uint8_t hash[32]) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){20, e->f.addr[K_STRANGER]};
    r.role = SLQ__ROLE__ROLE_ENTERPRISE;
    r.name = "holder";
    r.credit_code_hash = fx_credit_code(K_STRANGER);
    fx_sign(&e->f, signer, &b, nonce);
    uint8_t *bytes = e->f.last_bytes;
    size_t len = e->f.last_len;
    e->f.last_bytes = NULL;
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, e->f.l, bytes, len) == SLQ_OK);
    if (hash != NULL) memcpy(hash, tx.hash, 32);
    slq_err got = mempool_add(m, bytes, len, &tx, 1, at_ms, record_eviction, NULL);
    if (got != want)
        fprintf(stderr, "  signer %d nonce %llu\n", signer, (unsigned long long) nonce);
    CHECK_ERR(got, want);
}

static void add_by(env *e, mempool *m, int signer, uint64_t nonce, slq_err want, uint8_t hash[32]) {
    add_at(e, m, signer, nonce, 0, want, hash);
}

static slq_err committed_is_two(void *arg, const uint8_t addr[20], uint64_t *nonce) {
    (void) arg, (void) addr;
    *nonce = 2;
    return SLQ_OK;
}

/* A gapped transaction is dropped SLQ_MEMPOOL_GAP_TTL_MS after it arrived, on the caller's
 * clock; one that can run is not, nor one whose gap the chain filled meanwhile. */
static void test_mempool_drops_gapped_transactions_after_their_time(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 64), SLQ_OK);
    const int64_t ttl = SLQ_MEMPOOL_GAP_TTL_MS, t0 = 1000;
    uint8_t a2[32], a5[32], b3[32];
    add_at(&e, m, K_ISSUER, 2, t0, SLQ_OK, a2);           /* can run */
    add_at(&e, m, K_H1, 3, t0, SLQ_OK, b3);               /* waits for 2 */
    add_at(&e, m, K_ISSUER, 5, t0 + ttl / 2, SLQ_OK, a5); /* waits for 3, 4 */
    int dropped = 0;
    CHECK_EQ_INT(mempool_expire(m, t0 + ttl - 1, committed_is_one, count_gap_drop, &dropped), 0);
    CHECK_EQ_INT(mempool_expire(m, t0 + ttl, committed_is_one, count_gap_drop, &dropped), 1);
    CHECK_EQ_INT(dropped, 1);
    CHECK(!mempool_has(m, b3));
    CHECK(mempool_has(m, a2));
    CHECK(mempool_has(m, a5));
    CHECK_EQ_INT(mempool_gapped(m), 1);
    mempool_signer_view v; /* what GET /v1/accounts says: 3 and 4 missing, 5 waits */
    mempool_signer(m, e.f.addr[K_ISSUER], 1, &v);
    CHECK_EQ_INT(v.run_nonce, 2);
    CHECK_EQ_INT(v.max_nonce, 5);
    CHECK_EQ_INT(v.gapped, 1);
    CHECK_EQ_INT(v.gap_next, 5);
    CHECK_EQ_INT(v.gap_since_ms, t0 + ttl / 2);
    CHECK_EQ_INT(mempool_expire(m, t0 + ttl + ttl / 2, committed_is_one, NULL, NULL), 1);
    CHECK(!mempool_has(m, a5));
    CHECK(mempool_has(m, a2));
    CHECK_EQ_INT(mempool_gapped(m), 0);
    /* K_H2's 3 waits for 2, which a block from elsewhere commits: it can run, and stays. */
    add_at(&e, m, K_H2, 3, t0, SLQ_OK, b3);
    CHECK_EQ_INT(mempool_gapped(m), 1);
    CHECK_EQ_INT(mempool_expire(m, t0 + 10 * ttl, committed_is_two, NULL, NULL), 0);
    CHECK(mempool_has(m, b3));
    CHECK_EQ_INT(mempool_gapped(m), 0);
    CHECK_EQ_INT(mempool_count(m), 2);
    mempool_destroy(m);
    env_deinit(&e);
}

/* A signer holds at most SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX transactions behind a gap; one
 * that can run is still taken, and once the gap is filled the signer may wait again. */
static void test_mempool_bounds_what_one_signer_holds_behind_a_gap(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 4 * SLQ_MEMPOOL_GAPPED_SHARE * SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX),
              SLQ_OK);
    uint64_t last = 2 + SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX; /* committed 1: 3.. wait for 2 */
    for (uint64_t n = 3; n <= last; n++) add_by(&e, m, K_ISSUER, n, SLQ_OK, NULL);
    CHECK_EQ_INT(mempool_gapped(m), SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX);
    add_by(&e, m, K_ISSUER, last + 2, SLQ_TX_PENDING_TOO_MANY, NULL);
    add_by(&e, m, K_ISSUER, last + 1, SLQ_TX_PENDING_TOO_MANY, NULL); /* follows a gapped one */
    add_by(&e, m, K_H1, 3, SLQ_OK, NULL);                             /* another signer's own */
    CHECK_EQ_INT(mempool_gapped(m), SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX + 1);
    add_by(&e, m, K_ISSUER, 2, SLQ_OK, NULL); /* fills the gap: all of them can run */
    CHECK_EQ_INT(mempool_gapped(m), 1);
    add_by(&e, m, K_ISSUER, last + 2, SLQ_OK, NULL);
    CHECK_EQ_INT(mempool_count(m), SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX + 3);
    CHECK_EQ_INT(mempool_gapped(m), 2);
    mempool_destroy(m);
    env_deinit(&e);
}

/* Gapped transactions of all signers fill at most cap / SLQ_MEMPOOL_GAPPED_SHARE. */
static void test_mempool_bounds_what_all_signers_hold_behind_gaps(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 2 * SLQ_MEMPOOL_GAPPED_SHARE), SLQ_OK); /* 2 gapped at most */
    add_by(&e, m, K_ISSUER, 3, SLQ_OK, NULL);
    add_by(&e, m, K_H1, 5, SLQ_OK, NULL);
    add_by(&e, m, K_H2, 4, SLQ_TX_PENDING_TOO_MANY, NULL);
    add_by(&e, m, K_H2, 2, SLQ_OK, NULL); /* can run: not gapped */
    add_by(&e, m, K_ISSUER, 2, SLQ_OK, NULL);
    CHECK_EQ_INT(mempool_gapped(m), 1);
    add_by(&e, m, K_H2, 4, SLQ_OK, NULL); /* room again; waits for 3 */
    CHECK_EQ_INT(mempool_gapped(m), 2);
    /* Selection learns the committed nonce: K_H1's 5 and K_H2's 4 still wait. */
    const mempool_tx *sel[8];
    CHECK_EQ_INT(mempool_select(m, sel, 8, committed_is_one, NULL, NULL), 3);
    CHECK_EQ_INT(mempool_gapped(m), 2);
    mempool_destroy(m);
    env_deinit(&e);
}

/* A full mempool makes room for a transaction that can run by dropping a gapped one: the
 * highest nonce of the signer that arrived last among those holding one. */
static void test_mempool_full_drops_a_gapped_one_for_one_that_can_run(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 3 * SLQ_MEMPOOL_GAPPED_SHARE), SLQ_OK); /* 12, 3 gapped */
    for (uint64_t n = 2; n <= 9; n++) add_by(&e, m, K_ISSUER, n, SLQ_OK, NULL);
    uint8_t a20[32], b5[32], b7[32], b2[32];
    add_by(&e, m, K_ISSUER, 20, SLQ_OK, a20);
    add_by(&e, m, K_H1, 5, SLQ_OK, b5);
    add_by(&e, m, K_H1, 7, SLQ_OK, b7);
    add_by(&e, m, K_ISSUER, 10, SLQ_OK, NULL);
    CHECK_EQ_INT(mempool_count(m), 12);
    evicted.n = 0;
    add_by(&e, m, K_ISSUER, 11, SLQ_OK, NULL); /* can run: K_H1's 7 goes */
    CHECK(!mempool_has(m, b7));
    CHECK_EQ_INT(evicted.n, 1); /* and its hash is told why (GET /v1/txs/HASH) */
    CHECK(memcmp(evicted.last, b7, 32) == 0);
    CHECK_ERR(evicted.why, SLQ_TX_GAP_DROPPED);
    add_by(&e, m, K_H2, 4, SLQ_MEMPOOL_FULL, NULL); /* gapped: never drops another */
    CHECK(mempool_has(m, b5));
    CHECK(mempool_has(m, a20));
    add_by(&e, m, K_H1, 2, SLQ_OK, b2); /* K_H1's 5 goes */
    CHECK(!mempool_has(m, b5));
    add_by(&e, m, K_ISSUER, 12, SLQ_OK, NULL); /* K_H1 waits for nothing now: the issuer's 20 */
    CHECK(!mempool_has(m, a20));
    CHECK(mempool_has(m, b2));
    CHECK_EQ_INT(mempool_gapped(m), 0);
    add_by(&e, m, K_ISSUER, 13, SLQ_MEMPOOL_FULL, NULL); /* nothing gapped left to drop */
    CHECK_EQ_INT(mempool_count(m), 12);
    mempool_destroy(m);
    env_deinit(&e);
}

/* ------------------------------------------------------------------ mempool model */

#define RM_SIGNERS 4
#define RM_TXS     512

/* What the mempool should hold: every transaction offered, whether it is still in, and each
 * signer's committed nonce (the chain's, as a block from anywhere leaves it). */
typedef struct {
    env *e;
    int signers[RM_SIGNERS];
    uint64_t committed[RM_SIGNERS];
    struct {
        int s;
        uint64_t nonce;
        uint8_t hash[32];
        bool in;
    } txs[RM_TXS];
    size_t n;
} rmodel;

static slq_err rmodel_nonce(void *arg, const uint8_t addr[20], uint64_t *nonce) {
    rmodel *r = arg;
    for (int s = 0; s < RM_SIGNERS; s++)
        if (memcmp(addr, r->e->f.addr[r->signers[s]], 20) == 0) *nonce = r->committed[s];
    return SLQ_OK;
}

/* After a selection (which tells every signer's committed nonce): nothing stale is left, and
 * what runs and what waits behind a gap are what the model says. */
static void rmodel_check(rmodel *r, mempool *m, size_t step) {
    const mempool_tx *sel[32];
    size_t picked = mempool_select(m, sel, 32, rmodel_nonce, NULL, r);
    size_t count = 0, ready = 0;
    for (int s = 0; s < RM_SIGNERS; s++) {
        bool in[64] = {false}; /* nonce committed + 1 + i */
        for (size_t i = 0; i < r->n; i++) {
            if (r->txs[i].s != s) continue;
            r->txs[i].in = mempool_has(m, r->txs[i].hash);
            if (!r->txs[i].in) continue;
            CHECK(r->txs[i].nonce > r->committed[s]); /* stale ones were dropped */
            if (r->txs[i].nonce > r->committed[s] && r->txs[i].nonce - r->committed[s] <= 64)
                in[r->txs[i].nonce - r->committed[s] - 1] = true;
            count++;
        }
        for (size_t i = 0; i < 64 && in[i]; i++) ready++;
    }
    int failures = check_failures_;
    CHECK_EQ_INT(mempool_count(m), count);
    CHECK_EQ_INT(picked, ready);
    CHECK_EQ_INT(mempool_gapped(m), count - ready);
    if (check_failures_ != failures) fprintf(stderr, "  after step %zu\n", step);
}

/* Finds a transaction in the mempool of signer s with the given nonce (0: any nonce above the
 * signer's lowest pending one); returns its index or SIZE_MAX. */
static size_t rmodel_find(const rmodel *r, int s, uint64_t nonce) {
    uint64_t lowest = UINT64_MAX;
    for (size_t i = 0; i < r->n; i++)
        if (r->txs[i].in && r->txs[i].s == s && r->txs[i].nonce < lowest) lowest = r->txs[i].nonce;
    for (size_t i = 0; i < r->n; i++) {
        if (!r->txs[i].in || r->txs[i].s != s) continue;
        if (nonce != 0 ? r->txs[i].nonce == nonce : r->txs[i].nonce > lowest) return i;
    }
    return SIZE_MAX;
}

/* Random adds, commits (of our blocks and of others'), refusals and removals against the
 * model: the count of gapped transactions, kept step by step, never drifts. */
static void test_mempool_keeps_its_count_of_gapped_transactions_under_random_steps(void) {
    env e;
    env_init(&e);
    mempool *m;
    CHECK_ERR(mempool_create(&m, 32), SLQ_OK);
    rmodel r = {.e = &e, .signers = {K_ISSUER, K_H1, K_H2, K_H3}, .committed = {1, 1, 1, 1}};
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (size_t step = 0; step < 3000 && r.n < RM_TXS; step++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint32_t x = (uint32_t) (seed >> 33);
        int s = (int) (x % RM_SIGNERS);
        uint32_t op = (x >> 8) % 20;
        size_t i;
        if (op < 10) { /* offer */
            uint64_t nonce = r.committed[s] + 1 + (x >> 16) % 10;
            Slq__TxBody b = SLQ__TX_BODY__INIT;
            Slq__Register reg = SLQ__REGISTER__INIT;
            b.kind = SLQ__TX_KIND__TX_REGISTER;
            b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
            b.register_ = &reg;
            reg.address = (ProtobufCBinaryData){20, e.f.addr[K_STRANGER]};
            reg.role = SLQ__ROLE__ROLE_ENTERPRISE;
            reg.name = "holder";
            reg.credit_code_hash = fx_credit_code(K_STRANGER);
            fx_sign(&e.f, r.signers[s], &b, nonce);
            ledger_tx tx;
            SLQ_ASSERT(ledger_tx_decode(&tx, e.f.l, e.f.last_bytes, e.f.last_len) == SLQ_OK);
            bool known = false; /* signatures are deterministic: the same bytes again */
            for (i = 0; i < r.n && !known; i++) known = memcmp(r.txs[i].hash, tx.hash, 32) == 0;
            if (!known) {
                r.txs[r.n].s = s;
                r.txs[r.n].nonce = nonce;
                memcpy(r.txs[r.n].hash, tx.hash, 32);
                r.n++;
            }
            slq_err err =
                mempool_add(m, e.f.last_bytes, e.f.last_len, &tx, r.committed[s], 0, NULL, NULL);
            CHECK(err != SLQ_NO_MEMORY); /* any refusal is fine: the model asks what is in */
            e.f.last_bytes = NULL;
        } else if (op < 14) { /* our block holds the signer's next one */
            if ((i = rmodel_find(&r, s, r.committed[s] + 1)) == SIZE_MAX) continue;
            mempool_remove(m, r.txs[i].hash);
            r.committed[s]++;
        } else if (op < 15) { /* a block from elsewhere holds other bytes of that nonce */
            r.committed[s]++;
        } else if (op < 17) { /* the ledger refuses one: it goes with all after it */
            if ((i = rmodel_find(&r, s, 0)) == SIZE_MAX) continue;
            mempool_reject(m, r.txs[i].hash, NULL, NULL);
        } else { /* one above the lowest leaves */
            if ((i = rmodel_find(&r, s, 0)) == SIZE_MAX) continue;
            mempool_remove(m, r.txs[i].hash);
        }
        rmodel_check(&r, m, step);
    }
    CHECK(r.n > 100);
    mempool_destroy(m);
    env_deinit(&e);
}

/* What the replica must not blame a peer for. */
static void test_local_faults_are_ours(void) {
    CHECK(chain_local_fault(SLQ_STORAGE_IO));
    CHECK(chain_local_fault(SLQ_STORAGE_CORRUPT));
    CHECK(chain_local_fault(SLQ_NO_MEMORY));
    CHECK(!chain_local_fault(SLQ_BLOCK_INVALID));
    CHECK(!chain_local_fault(SLQ_CERT_INVALID));
    CHECK(!chain_local_fault(SLQ_BLOCK_MALFORMED));
}

TEST_MAIN("chain", TEST(test_local_faults_are_ours),
          TEST(test_a_committed_block_survives_reopening),
          TEST(test_a_store_of_another_genesis_is_refused),
          TEST(test_another_node_replays_blocks_to_the_same_tip),
          TEST(test_a_block_with_another_valid_last_commit_is_accepted),
          TEST(test_a_block_the_validators_signed_is_refused_when_its_header_is_wrong),
          TEST(test_a_block_is_refused_with_a_certificate_of_another_block),
          TEST(test_a_corrupt_local_row_is_a_local_fault_not_an_invalid_block),
          TEST(test_mempool_orders_by_nonce_and_waits_for_gaps),
          TEST(test_mempool_refuses_when_full),
          TEST(test_mempool_bounds_what_one_signer_holds_behind_a_gap),
          TEST(test_mempool_bounds_what_all_signers_hold_behind_gaps),
          TEST(test_mempool_full_drops_a_gapped_one_for_one_that_can_run),
          TEST(test_mempool_drops_gapped_transactions_after_their_time),
          TEST(test_mempool_keeps_its_count_of_gapped_transactions_under_random_steps))
