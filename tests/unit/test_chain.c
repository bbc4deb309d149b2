/* test_chain.c: the node's chain executor over a real LevelDB, and the mempool. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "ledger_fixture.h"
#include "mempool.h"

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
    char dir2[64] = "/tmp/slq-chain2-XXXXXX", why[256] = "";
    SLQ_ASSERT(mkdtemp(dir2) != NULL);
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
        cert[cert_len - 1] ^= 1;
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

/* ------------------------------------------------------------------ mempool */

static void add(env *e, mempool *m, int who_new, uint64_t nonce, slq_err want) {
    size_t len;
    uint8_t *bytes = register_tx(e, who_new, nonce, &len);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, e->f.l, bytes, len) == SLQ_OK);
    CHECK_ERR(mempool_add(m, bytes, len, &tx), want);
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
    CHECK_EQ_INT(mempool_pending_nonce(m, e.f.addr[K_ISSUER]), 5);
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
    CHECK_EQ_INT(mempool_pending_nonce(m, e.f.addr[K_ISSUER]), 0);
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

TEST_MAIN("chain", TEST(test_a_committed_block_survives_reopening),
          TEST(test_a_store_of_another_genesis_is_refused),
          TEST(test_another_node_replays_blocks_to_the_same_tip),
          TEST(test_a_block_with_another_valid_last_commit_is_accepted),
          TEST(test_mempool_orders_by_nonce_and_waits_for_gaps),
          TEST(test_mempool_refuses_when_full))
