/* bench_verify.c: the raw signature-verify rate of this machine, the yardstick for the
 * node's committed rate.
 *
 * VERIFY_MSGS messages of the size of a real transfer preimage (chain id || body) are
 * signed with crypto_sign by VERIFY_KEYS keys of the chain's suite, then `threads` threads
 * run crypto_verify over them round-robin for the given time. Only crypto_verify is timed:
 * no decoding, no hashing of the tx, no I/O, so this is the ceiling that verification alone
 * would put on a node with that many cores. The set is built by the calling thread and only
 * read by the workers; each worker writes only its own slot. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "slq/assert.h"
#include "slq/limits.h"

#define VERIFY_MSGS        1024u
#define VERIFY_KEYS        64u
#define VERIFY_CHECK       32u /* verifications between two looks at the clock */
#define VERIFY_THREADS_MAX 256u

typedef struct {
    crypto_suite suite;
    size_t msg_len;
    uint8_t *msgs; /* VERIFY_MSGS * msg_len */
    uint8_t pubs[VERIFY_KEYS][CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len;
    uint8_t sigs[VERIFY_MSGS][CRYPTO_SIG_BYTES_MAX];
    size_t sig_lens[VERIFY_MSGS];
} verify_set;

typedef struct {
    const verify_set *set;
    atomic_int *go; /* 0: wait, 1: run, -1: give up */
    size_t first;   /* where in the set this worker starts */
    double seconds;
    uint64_t count; /* out: verifications done */
    double elapsed; /* out: seconds they took */
    bool bad;       /* out: a signature did not verify */
} verify_worker;

/* Deterministic, distinct message bytes: message i is H(i || j) for its 32-byte blocks j. */
static void fill_message(crypto_suite suite, uint8_t *msg, size_t len, size_t i) {
    for (size_t off = 0, j = 0; off < len; off += CRYPTO_HASH_BYTES, j++) {
        uint8_t seed[16], block[CRYPTO_HASH_BYTES];
        for (int k = 0; k < 8; k++) seed[k] = (uint8_t) (i >> (8 * k));
        for (int k = 0; k < 8; k++) seed[8 + k] = (uint8_t) (j >> (8 * k));
        crypto_hash(suite, block, seed, sizeof seed);
        size_t n = len - off < CRYPTO_HASH_BYTES ? len - off : CRYPTO_HASH_BYTES;
        memcpy(msg + off, block, n);
    }
}

/* Generates the keys and signs every message. */
static bool build_set(verify_set *s) {
    crypto_key *keys[VERIFY_KEYS] = {0};
    bool ok = true;
    for (size_t k = 0; ok && k < VERIFY_KEYS; k++) {
        ok = crypto_key_generate(&keys[k], s->suite) == SLQ_OK &&
             crypto_key_public(keys[k], s->pubs[k], sizeof s->pubs[k], &s->pub_len) == SLQ_OK;
    }
    for (size_t i = 0; ok && i < VERIFY_MSGS; i++) {
        uint8_t *msg = s->msgs + i * s->msg_len;
        fill_message(s->suite, msg, s->msg_len, i);
        ok = crypto_sign(keys[i % VERIFY_KEYS], s->sigs[i], sizeof s->sigs[i], &s->sig_lens[i], msg,
                         s->msg_len) == SLQ_OK;
    }
    for (size_t k = 0; k < VERIFY_KEYS; k++) crypto_key_destroy(keys[k]);
    return ok ? true : bench_fail("verify: cannot make keys or sign the messages");
}

static void *verify_main(void *arg) {
    verify_worker *w = arg;
    const verify_set *s = w->set;
    while (atomic_load(w->go) == 0) bench_sleep_ms(1);
    if (atomic_load(w->go) < 0) return NULL;
    double t0 = bench_now_s(), t = t0;
    size_t i = w->first;
    uint64_t n = 0;
    while (t - t0 < w->seconds) {
        for (unsigned k = 0; k < VERIFY_CHECK; k++) {
            slq_err e =
                crypto_verify(s->suite, s->pubs[i % VERIFY_KEYS], s->pub_len,
                              s->msgs + i * s->msg_len, s->msg_len, s->sigs[i], s->sig_lens[i]);
            if (e != SLQ_OK) w->bad = true;
            i = (i + 1) % VERIFY_MSGS;
        }
        n += VERIFY_CHECK;
        t = bench_now_s();
    }
    w->count = n;
    w->elapsed = t - t0;
    return NULL;
}

/* Starts the workers together, waits for them and sums their rates. */
static bool run_workers(double *per_sec, const verify_set *s, const bench_verify_cfg *cfg) {
    pthread_t tids[VERIFY_THREADS_MAX];
    verify_worker w[VERIFY_THREADS_MAX];
    atomic_int go = 0;
    unsigned started = 0;
    for (; started < cfg->threads; started++) {
        w[started] = (verify_worker){.set = s, .go = &go, .seconds = cfg->seconds};
        w[started].first = started * (VERIFY_MSGS / cfg->threads) % VERIFY_MSGS;
        if (pthread_create(&tids[started], NULL, verify_main, &w[started]) != 0) break;
    }
    atomic_store(&go, started == cfg->threads ? 1 : -1);
    for (unsigned t = 0; t < started; t++) pthread_join(tids[t], NULL);
    if (started != cfg->threads) return bench_fail("verify: cannot start thread %u", started);
    double rate = 0;
    for (unsigned t = 0; t < started; t++) {
        if (w[t].bad) return bench_fail("verify: a good signature failed to verify");
        if (w[t].elapsed <= 0) return bench_fail("verify: the clock did not move");
        rate += (double) w[t].count / w[t].elapsed;
    }
    *per_sec = rate;
    return true;
}

bool bench_verify_rate(double *per_sec, const bench_verify_cfg *cfg) {
    SLQ_ASSERT(cfg->threads >= 1 && cfg->threads <= VERIFY_THREADS_MAX);
    SLQ_ASSERT(cfg->msg_len > 0 && cfg->msg_len <= SLQ_CHAIN_ID_BYTES_MAX + SLQ_TX_BYTES_MAX);
    verify_set *s = calloc(1, sizeof *s);
    uint8_t *msgs = calloc(VERIFY_MSGS, cfg->msg_len);
    bool ok = s != NULL && msgs != NULL ? true : bench_fail("out of memory");
    if (ok) {
        s->suite = cfg->suite;
        s->msg_len = cfg->msg_len;
        s->msgs = msgs;
        ok = build_set(s) && run_workers(per_sec, s, cfg);
    }
    free(msgs);
    free(s);
    return ok;
}
