/* test_crypto_oom.c: crypto/ when OpenSSL runs out of memory. OpenSSL's allocator is
 * replaced (CRYPTO_set_mem_functions, before its first allocation) by one that fails the Nth
 * allocation; every operation that can fail is run with N = 1, 2, ... until it completes
 * without meeting the failure. At each N it must return an error or succeed, never crash,
 * never leak (the ASan build checks), leave nothing behind that breaks the next call, and a
 * signature that does not verify must never be accepted. Hashing is left out: a hash cannot
 * return an error and aborts (crypto_die), as a broken invariant does. */
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "crypto.h"
#include "slq/assert.h"
#include "slq/log.h"

#define STEPS_MAX 100000

static long fail_at = -1; /* the allocation to fail, counted from arming; -1: never */
static long allocations;
static bool failed;

static void *oom_malloc(size_t n, const char *file, int line) {
    (void) file;
    (void) line;
    if (fail_at >= 0 && allocations++ == fail_at) {
        failed = true;
        return NULL;
    }
    return malloc(n);
}

static void *oom_realloc(void *p, size_t n, const char *file, int line) {
    (void) file;
    (void) line;
    if (fail_at >= 0 && allocations++ == fail_at) {
        failed = true;
        return NULL;
    }
    return realloc(p, n);
}

static void oom_free(void *p, const char *file, int line) {
    (void) file;
    (void) line;
    free(p);
}

typedef struct {
    crypto_suite suite;
    crypto_key *key;
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len;
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len;
    char pem[4096], pem_enc[4096];
} ctx;

static const uint8_t msg[] = "transfer 100.00 yuan";

typedef slq_err (*op_fn)(ctx *c);

static slq_err op_generate(ctx *c) {
    crypto_key *k = NULL;
    slq_err err = crypto_key_generate(&k, c->suite);
    crypto_key_destroy(k);
    return err;
}

static slq_err op_sign(ctx *c) {
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t n = 0;
    return crypto_sign(c->key, sig, sizeof sig, &n, msg, sizeof msg);
}

static slq_err op_verify(ctx *c) {
    return crypto_verify(c->suite, c->pub, c->pub_len, msg, sizeof msg, c->sig, c->sig_len);
}

/* A key this thread's verification cache has not seen: the cold path. */
static slq_err op_verify_fresh_key(ctx *c) {
    c->pub[c->pub_len - 1] ^= 1; /* another key; its point may not even be valid */
    slq_err err = op_verify(c);
    c->pub[c->pub_len - 1] ^= 1;
    return err == SLQ_PUBKEY_INVALID || err == SLQ_SIG_INVALID ? SLQ_OK : err;
}

static slq_err op_write_pem(ctx *c) {
    char out[4096];
    size_t n = 0;
    return crypto_key_write_pem(c->key, out, sizeof out, &n, NULL);
}

static slq_err op_write_pem_encrypted(ctx *c) {
    char out[4096];
    size_t n = 0;
    return crypto_key_write_pem(c->key, out, sizeof out, &n, "correct horse");
}

static slq_err op_load_pem(ctx *c) {
    crypto_key *k = NULL;
    slq_err err = crypto_key_load_pem(&k, c->pem, strlen(c->pem), NULL);
    crypto_key_destroy(k);
    return err;
}

static slq_err op_load_pem_encrypted(ctx *c) {
    crypto_key *k = NULL;
    slq_err err = crypto_key_load_pem(&k, c->pem_enc, strlen(c->pem_enc), "correct horse");
    crypto_key_destroy(k);
    return err;
}

/* The failure point after n: every one of the first 256, then one in 64 more (OpenSSL's PEM
 * decoders allocate ~12,000 times per key; trying each would take a minute). */
static long next_point(long n) {
    return n < 256 ? n + 1 : n + n / 64;
}

/* Runs op failing allocation N for N = 0, 1, ... (next_point) until a run meets no failure.
 * Returns the number of failure points tried. */
static long run_until_clean(ctx *c, op_fn op, const char *name) {
    long tried = 0;
    for (long n = 0; n < STEPS_MAX; n = next_point(n), tried++) {
        allocations = 0;
        failed = false;
        fail_at = n;
        slq_err err = op(c);
        fail_at = -1;
        if (!failed) {
            if (err != SLQ_OK)
                fprintf(stderr, "  %s: %s with no failure\n", name, slq_err_name(err));
            CHECK_ERR(err, SLQ_OK);
            return tried;
        }
        if (err == SLQ_OK) continue; /* the failure was absorbed (a cache, a retry) */
        if (err != SLQ_CRYPTO_INTERNAL && err != SLQ_NO_MEMORY && err != SLQ_KEY_INVALID &&
            err != SLQ_PUBKEY_INVALID && err != SLQ_SIG_INVALID && err != SLQ_KEY_PASSPHRASE)
            fprintf(stderr, "  %s: allocation %ld: %s\n", name, n, slq_err_name(err));
        CHECK_ERR(op(c), SLQ_OK); /* nothing left broken for the next call */
    }
    fprintf(stderr, "  %s: still failing after %d allocations\n", name, STEPS_MAX);
    CHECK(false);
    return tried;
}

static void setup(ctx *c, crypto_suite suite) {
    memset(c, 0, sizeof *c);
    c->suite = suite;
    SLQ_ASSERT(crypto_key_generate(&c->key, suite) == SLQ_OK);
    SLQ_ASSERT(crypto_key_public(c->key, c->pub, sizeof c->pub, &c->pub_len) == SLQ_OK);
    SLQ_ASSERT(crypto_sign(c->key, c->sig, sizeof c->sig, &c->sig_len, msg, sizeof msg) == SLQ_OK);
    size_t n = 0;
    SLQ_ASSERT(crypto_key_write_pem(c->key, c->pem, sizeof c->pem, &n, NULL) == SLQ_OK);
    SLQ_ASSERT(crypto_key_write_pem(c->key, c->pem_enc, sizeof c->pem_enc, &n, "correct horse") ==
               SLQ_OK);
}

static void each_operation_survives_every_failed_allocation(crypto_suite suite) {
    ctx c;
    setup(&c, suite);
    static const struct {
        op_fn op;
        const char *name;
    } ops[] = {
        {op_generate, "generate"},   {op_sign, "sign"},
        {op_verify, "verify"},       {op_verify_fresh_key, "verify a fresh key"},
        {op_write_pem, "write pem"}, {op_write_pem_encrypted, "write encrypted pem"},
        {op_load_pem, "load pem"},   {op_load_pem_encrypted, "load encrypted pem"},
    };
    long points = 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        long k = run_until_clean(&c, ops[i].op, ops[i].name);
        points += k;
    }
    CHECK(points > 0); /* the allocator really was OpenSSL's */
    crypto_key_destroy(c.key);
}

static void test_ed25519_operations_survive_every_failed_allocation(void) {
    each_operation_survives_every_failed_allocation(CRYPTO_SUITE_ED25519_SHA256);
}

static void test_sm2_operations_survive_every_failed_allocation(void) {
    each_operation_survives_every_failed_allocation(CRYPTO_SUITE_SM2_SM3);
}

/* Out of memory is never a reason to accept: a forged signature fails at every N. */
static void test_a_forged_signature_is_refused_at_every_failed_allocation(void) {
    crypto_suite suites[2] = {CRYPTO_SUITE_ED25519_SHA256, CRYPTO_SUITE_SM2_SM3};
    for (int s = 0; s < 2; s++) {
        ctx c;
        setup(&c, suites[s]);
        c.sig[c.sig_len / 2] ^= 0x40;
        for (long n = 0; n < STEPS_MAX; n = next_point(n)) {
            allocations = 0;
            failed = false;
            fail_at = n;
            slq_err err = op_verify(&c);
            fail_at = -1;
            CHECK(err != SLQ_OK);
            if (!failed) break;
        }
        crypto_key_destroy(c.key);
    }
}

int main(void) {
    if (CRYPTO_set_mem_functions(oom_malloc, oom_realloc, oom_free) != 1) {
        fprintf(stderr, "OpenSSL allocated before main: cannot replace its allocator\n");
        return 1;
    }
    slq_log_threshold = SLQ_LOG_ERROR; /* each failure point logs a warning otherwise */
    static const check_test tests[] = {
        TEST(test_ed25519_operations_survive_every_failed_allocation),
        TEST(test_sm2_operations_survive_every_failed_allocation),
        TEST(test_a_forged_signature_is_refused_at_every_failed_allocation)};
    return check_run(tests, sizeof tests / sizeof tests[0], "crypto_oom");
}
