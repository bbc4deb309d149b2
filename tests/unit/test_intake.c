/* test_intake.c: transactions in (intake/intake.h) on a real libuv loop and thread pool, over
 * a real chain. A client's batch: one outcome per transaction, in order, the refusals
 * remembered, the mempool told once. Relayed transactions: admitted once however many peers
 * send them, a peer that relays one that does not verify reported, the mempool told only when
 * something entered. At stop: a batch in flight is answered with nothing. */
#define _XOPEN_SOURCE 700 /* nftw, in chain_fixture.h */
#include "chain_fixture.h"
#include "check.h"
#include "intake.h"
#include "slq/limits.h"

/* What the callbacks saw. */
typedef struct {
    cfx *e;
    int mempool_changed;
    int misbehaved;
    uint32_t misbehaved_peer[8];
    int relayed;
    int done;
    size_t outcomes_count;
    intake_outcome outcomes[200];
} seen;

typedef struct {
    cfx e;
    uv_loop_t loop;
    mempool *mp;
    results *res;
    intake *in;
    seen s;
} intake_env;

static void mempool_changed_cb(void *arg) {
    ((seen *) arg)->mempool_changed++;
}

static void peer_misbehaved_cb(void *arg, uint32_t peer, const char *why) {
    seen *s = arg;
    CHECK(why != NULL && why[0] != '\0');
    if (s->misbehaved < 8) s->misbehaved_peer[s->misbehaved] = peer;
    s->misbehaved++;
}

static void relay_cb(void *arg, const uint8_t *bytes, size_t len) {
    (void) bytes, (void) len;
    ((seen *) arg)->relayed++;
}

static void done_cb(void *arg, const intake_outcome *outcomes, size_t count) {
    seen *s = arg;
    s->done++;
    s->outcomes_count = count;
    SLQ_ASSERT(count <= sizeof s->outcomes / sizeof s->outcomes[0]);
    CHECK(count == 0 || outcomes != NULL);
    if (count > 0) memcpy(s->outcomes, outcomes, count * sizeof *outcomes);
}

/* A chain whose block 1 holds the issuer's nonce 1 (registering K_H1), an intake on a loop of
 * its own. */
static void intake_env_init(intake_env *t) {
    memset(t, 0, sizeof *t);
    cfx_init(&t->e);
    size_t len;
    uint8_t *tx = cfx_register(&t->e, K_H1, 1, &len);
    SLQ_ASSERT(cfx_commit(&t->e, &tx, &len, 1, cst_ms(2024, 6, 1, 0, 0), NULL) == SLQ_OK);
    free(tx);
    SLQ_ASSERT(uv_loop_init(&t->loop) == 0);
    SLQ_ASSERT(mempool_create(&t->mp, 512) == SLQ_OK);
    SLQ_ASSERT(results_create(&t->res, 256) == SLQ_OK);
    t->s.e = &t->e;
    intake_config cfg = {
        .loop = &t->loop,
        .adm = {.chain = t->e.c, .mp = t->mp, .res = t->res, .relay = relay_cb, .relay_arg = &t->s},
        .mempool_changed = mempool_changed_cb,
        .peer_misbehaved = peer_misbehaved_cb,
        .arg = &t->s,
    };
    SLQ_ASSERT(intake_create(&t->in, &cfg) == SLQ_OK);
}

static void intake_env_deinit(intake_env *t) {
    intake_stop(t->in);
    SLQ_ASSERT(uv_run(&t->loop, UV_RUN_DEFAULT) == 0); /* closes the flush timer */
    intake_free(t->in);
    SLQ_ASSERT(uv_loop_close(&t->loop) == 0);
    results_destroy(t->res);
    mempool_destroy(t->mp);
    cfx_deinit(&t->e);
}

/* Runs the loop until nothing is left to do (the workers' jobs, the flush timer). */
static void run(intake_env *t) {
    uv_run(&t->loop, UV_RUN_DEFAULT);
}

/* A copy of bytes with one byte of the signature (at the end) flipped. */
static uint8_t *spoiled(const uint8_t *bytes, size_t len) {
    uint8_t *out = malloc(len);
    SLQ_ASSERT(out != NULL);
    memcpy(out, bytes, len);
    out[len - 1] ^= 1;
    return out;
}

static uint8_t *copy_of(const uint8_t *bytes, size_t len) {
    uint8_t *out = malloc(len);
    SLQ_ASSERT(out != NULL);
    memcpy(out, bytes, len);
    return out;
}

/* ------------------------------------------------------------------ a client's batch */

typedef enum {
    IN_SIGNED,     /* a REGISTER of `who` by the issuer with `nonce` */
    IN_SPOILED,    /* the same with its signature spoiled */
    IN_GARBAGE,    /* bytes that do not decode */
    IN_OVERSIZED,  /* SLQ_TX_BYTES_MAX + 1 bytes, offered as readable */
    IN_UNREADABLE, /* refused before intake (TX_TOO_LARGE), no bytes */
    IN_UNSET,      /* never set */
} in_kind;

typedef struct {
    const char *name;
    in_kind kind;
    int who;
    uint64_t nonce;
    admit_status status;
    slq_err err;
} brow;

/* In order, in one batch: the issuer's committed nonce is 1. */
static const brow brows[] = {
    {"next nonce: new", IN_SIGNED, K_H2, 2, ADMIT_NEW, SLQ_OK},
    {"the same bytes later in the batch: pending", IN_SIGNED, K_H2, 2, ADMIT_PENDING, SLQ_OK},
    {"committed bytes: committed", IN_SIGNED, K_H1, 1, ADMIT_COMMITTED, SLQ_OK},
    {"spoiled signature", IN_SPOILED, K_H3, 3, ADMIT_REJECTED, SLQ_SIG_INVALID},
    {"bytes that do not decode", IN_GARBAGE, 0, 0, ADMIT_REJECTED, SLQ_TX_MALFORMED},
    {"too large to decode", IN_OVERSIZED, 0, 0, ADMIT_REJECTED, SLQ_TX_TOO_LARGE},
    {"refused before intake", IN_UNREADABLE, 0, 0, ADMIT_REJECTED, SLQ_TX_TOO_LARGE},
    {"never set", IN_UNSET, 0, 0, ADMIT_REJECTED, SLQ_TX_MALFORMED},
    {"nonce past the window", IN_SIGNED, K_H3, 2 + SLQ_MEMPOOL_PER_ACCOUNT_MAX, ADMIT_REJECTED,
     SLQ_NONCE_INVALID},
    {"another nonce: new", IN_SIGNED, K_STRANGER, 3, ADMIT_NEW, SLQ_OK},
};
#define BROWS (sizeof brows / sizeof brows[0])

/* Fills slot i of b from row w; *hash gets the hash the outcome must carry (zero when there
 * are no bytes). */
static void fill(intake_env *t, intake_batch *b, size_t i, const brow *w,
                 uint8_t hash[CRYPTO_HASH_BYTES]) {
    size_t len = 0;
    uint8_t *bytes = NULL;
    memset(hash, 0, CRYPTO_HASH_BYTES);
    switch (w->kind) {
        case IN_SIGNED:
        case IN_SPOILED:
            bytes = cfx_register(&t->e, w->who, w->nonce, &len);
            if (w->kind == IN_SPOILED) bytes[len - 1] ^= 1;
            break;
        case IN_GARBAGE:
            bytes = copy_of((const uint8_t *) "\xff\xff\xff not a transaction", 22);
            len = 22;
            break;
        case IN_OVERSIZED:
            len = SLQ_TX_BYTES_MAX + 1;
            bytes = calloc(1, len);
            SLQ_ASSERT(bytes != NULL);
            break;
        case IN_UNREADABLE:
            intake_batch_set(b, i, NULL, 0, SLQ_TX_TOO_LARGE);
            return;
        case IN_UNSET:
            return;
    }
    cfx_hash(&t->e, hash, bytes, len);
    intake_batch_set(b, i, bytes, len, SLQ_OK);
}

static void test_a_client_batch_gets_one_outcome_per_transaction_in_order(void) {
    intake_env t;
    intake_env_init(&t);
    intake_batch *b = intake_batch_new(BROWS);
    SLQ_ASSERT(b != NULL);
    uint8_t hashes[BROWS][CRYPTO_HASH_BYTES];
    for (size_t i = 0; i < BROWS; i++) fill(&t, b, i, &brows[i], hashes[i]);
    intake_batch_start(t.in, b, done_cb, &t.s);
    run(&t);
    CHECK_EQ_INT(t.s.done, 1);
    CHECK_EQ_INT(t.s.outcomes_count, BROWS);
    static const uint8_t zero[CRYPTO_HASH_BYTES];
    for (size_t i = 0; i < BROWS && i < t.s.outcomes_count; i++) {
        const brow *w = &brows[i];
        const intake_outcome *o = &t.s.outcomes[i];
        int failures = check_failures_;
        CHECK_EQ_INT(o->status, w->status);
        CHECK_ERR(o->res.err, w->err);
        CHECK_MEM(o->hash, hashes[i], CRYPTO_HASH_BYTES);
        if (w->status == ADMIT_COMMITTED) CHECK_EQ_INT(o->res.height, 1);
        if (w->status == ADMIT_REJECTED) {
            CHECK(o->res.message[0] != '\0');
            /* Remembered under its hash, unless it had no bytes to hash. */
            const result *found = results_find(t.res, hashes[i]);
            if (memcmp(hashes[i], zero, sizeof zero) != 0) {
                CHECK(found != NULL);
                if (found != NULL) CHECK_ERR(found->code, w->err);
            }
        }
        if (check_failures_ != failures)
            fprintf(stderr, "  row %zu \"%s\": status %d err %s \"%s\"\n", i, w->name,
                    (int) o->status, slq_err_name(o->res.err), o->res.message);
    }
    CHECK_EQ_INT(mempool_count(t.mp), 2);
    CHECK_EQ_INT(t.s.relayed, 2);
    CHECK_EQ_INT(t.s.mempool_changed, 1);
    CHECK_EQ_INT(t.s.misbehaved, 0); /* a client is not a peer */
    intake_env_deinit(&t);
}

/* More transactions than one worker's chunk: the outcomes still come back in order. */
static void test_a_batch_of_several_chunks_answers_in_order(void) {
    intake_env t;
    intake_env_init(&t);
    enum { N = 150 };
    intake_batch *b = intake_batch_new(N);
    SLQ_ASSERT(b != NULL);
    static uint8_t hashes[N][CRYPTO_HASH_BYTES];
    uint64_t nonce = 2; /* the good ones follow each other: none waits behind a gap */
    for (size_t i = 0; i < N; i++) {
        size_t len;
        bool bad = i % 37 == 5; /* a few spoiled ones, in every chunk */
        uint8_t *bytes =
            cfx_register_named(&t.e, K_H2, bad ? 1 : nonce++, bad ? "bad" : "holder", &len);
        if (bad) bytes[len - 1] ^= 1;
        cfx_hash(&t.e, hashes[i], bytes, len);
        intake_batch_set(b, i, bytes, len, SLQ_OK);
    }
    intake_batch_start(t.in, b, done_cb, &t.s);
    run(&t);
    CHECK_EQ_INT(t.s.done, 1);
    CHECK_EQ_INT(t.s.outcomes_count, N);
    size_t fresh = 0;
    for (size_t i = 0; i < N && i < t.s.outcomes_count; i++) {
        const intake_outcome *o = &t.s.outcomes[i];
        bool bad = i % 37 == 5;
        CHECK_MEM(o->hash, hashes[i], CRYPTO_HASH_BYTES);
        CHECK_EQ_INT(o->status, bad ? ADMIT_REJECTED : ADMIT_NEW);
        CHECK_ERR(o->res.err, bad ? SLQ_SIG_INVALID : SLQ_OK);
        fresh += !bad;
    }
    CHECK_EQ_INT(mempool_count(t.mp), fresh);
    CHECK_EQ_INT(t.s.relayed, (int) fresh);
    CHECK_EQ_INT(t.s.mempool_changed, 1);
    intake_env_deinit(&t);
}

/* Stopped while the batch is on the workers: answered with nothing, nothing admitted. */
static void test_a_batch_in_flight_at_stop_is_answered_with_nothing(void) {
    intake_env t;
    intake_env_init(&t);
    intake_batch *b = intake_batch_new(2);
    SLQ_ASSERT(b != NULL);
    uint8_t hashes[2][CRYPTO_HASH_BYTES];
    fill(&t, b, 0, &brows[0], hashes[0]);
    fill(&t, b, 1, &brows[3], hashes[1]);
    intake_batch_start(t.in, b, done_cb, &t.s);
    intake_stop(t.in);
    run(&t);
    CHECK_EQ_INT(t.s.done, 1);
    CHECK_EQ_INT(t.s.outcomes_count, 0);
    CHECK_EQ_INT(mempool_count(t.mp), 0);
    CHECK_EQ_INT(t.s.relayed, 0);
    CHECK_EQ_INT(t.s.mempool_changed, 0);
    CHECK(results_find(t.res, hashes[1]) == NULL); /* nothing refused either */
    intake_env_deinit(&t);
}

/* ------------------------------------------------------------------ relayed transactions */

/* One relayed copy: who sent what. */
typedef enum { G_VALID, G_SPOILED, G_OVERSIZED, G_COMMITTED, G_PAST_WINDOW } g_kind;

typedef struct {
    uint32_t peer;
    g_kind kind;
    int tx; /* copies with the same tx number are the same bytes */
} gcopy;

typedef struct {
    const char *name;
    gcopy copies[4];
    size_t copies_n;
    size_t pending;       /* then in the mempool */
    int relayed;          /* relayed on to the other peers */
    int changed;          /* mempool_changed calls */
    uint32_t reported[4]; /* peers reported, in order */
    int reported_n;
} gcase;

static const gcase gcases[] = {
    {"a valid transaction enters and is relayed on", {{7, G_VALID, 0}}, 1, 1, 1, 1, {0}, 0},
    {"copies from three peers enter once",
     {{1, G_VALID, 0}, {2, G_VALID, 0}, {3, G_VALID, 0}},
     3,
     1,
     1,
     1,
     {0},
     0},
    {"one that does not verify reports its peer", {{9, G_SPOILED, 0}}, 1, 0, 0, 0, {9}, 1},
    {"an oversized one reports its peer", {{4, G_OVERSIZED, 0}}, 1, 0, 0, 0, {4}, 1},
    {"copies of a bad one being verified are not checked again",
     {{5, G_SPOILED, 0}, {6, G_SPOILED, 0}},
     2,
     0,
     0,
     0,
     {5},
     1},
    {"only the bad one of two reports its peer",
     {{2, G_VALID, 0}, {3, G_SPOILED, 1}},
     2,
     1,
     1,
     1,
     {3},
     1},
    {"a committed one changes nothing", {{8, G_COMMITTED, 0}}, 1, 0, 0, 0, {0}, 0},
    {"one refused by the nonce window changes nothing, blames nobody",
     {{8, G_PAST_WINDOW, 0}},
     1,
     0,
     0,
     0,
     {0},
     0},
};

/* The bytes of copy c (malloc'd). */
static uint8_t *gbytes(intake_env *t, const gcopy *c, size_t *len) {
    switch (c->kind) {
        case G_VALID:
            return cfx_register(&t->e, c->tx == 0 ? K_H2 : K_H3, 2 + (uint64_t) c->tx, len);
        case G_SPOILED: {
            uint8_t *good =
                cfx_register(&t->e, c->tx == 0 ? K_H2 : K_H3, 2 + (uint64_t) c->tx, len);
            uint8_t *bad = spoiled(good, *len);
            free(good);
            return bad;
        }
        case G_OVERSIZED:
            *len = SLQ_TX_BYTES_MAX + 1;
            return calloc(1, *len);
        case G_COMMITTED:
            return cfx_register(&t->e, K_H1, 1, len);
        case G_PAST_WINDOW:
            return cfx_register(&t->e, K_H2, 2 + SLQ_MEMPOOL_PER_ACCOUNT_MAX, len);
    }
    return NULL;
}

static void run_gcase(const gcase *g) {
    intake_env t;
    intake_env_init(&t);
    for (size_t k = 0; k < g->copies_n; k++) {
        size_t len = 0;
        uint8_t *bytes = gbytes(&t, &g->copies[k], &len);
        SLQ_ASSERT(bytes != NULL);
        intake_gossip(t.in, g->copies[k].peer, bytes, len); /* copies them */
        free(bytes);
    }
    run(&t); /* the flush timer, the workers, the admission */
    int failures = check_failures_;
    CHECK_EQ_INT(mempool_count(t.mp), g->pending);
    CHECK_EQ_INT(t.s.relayed, g->relayed);
    CHECK_EQ_INT(t.s.mempool_changed, g->changed);
    CHECK_EQ_INT(t.s.misbehaved, g->reported_n);
    for (int k = 0; k < g->reported_n && k < t.s.misbehaved; k++)
        CHECK_EQ_INT(t.s.misbehaved_peer[k], g->reported[k]);
    if (check_failures_ != failures) fprintf(stderr, "  case \"%s\"\n", g->name);
    intake_env_deinit(&t);
}

static void test_relayed_transactions_enter_once_and_bad_ones_report_their_peer(void) {
    for (size_t i = 0; i < sizeof gcases / sizeof gcases[0]; i++) run_gcase(&gcases[i]);
}

/* A copy relayed once the transaction is pending costs a hash: no job, no timer, nothing for
 * the loop to do. */
static void test_a_relayed_copy_of_a_pending_transaction_starts_no_work(void) {
    intake_env t;
    intake_env_init(&t);
    size_t len;
    uint8_t *bytes = cfx_register(&t.e, K_H2, 2, &len);
    intake_gossip(t.in, 1, bytes, len);
    CHECK(uv_loop_alive(&t.loop));
    run(&t);
    CHECK_EQ_INT(mempool_count(t.mp), 1);
    intake_gossip(t.in, 2, bytes, len);
    CHECK(!uv_loop_alive(&t.loop));
    run(&t);
    CHECK_EQ_INT(mempool_count(t.mp), 1);
    CHECK_EQ_INT(t.s.relayed, 1);
    CHECK_EQ_INT(t.s.mempool_changed, 1);
    CHECK_EQ_INT(t.s.misbehaved, 0);
    free(bytes);
    intake_env_deinit(&t);
}

/* Relayed transactions gathered but not yet verified are dropped at stop; later ones are
 * ignored. */
static void test_relayed_transactions_are_dropped_at_stop(void) {
    intake_env t;
    intake_env_init(&t);
    size_t len;
    uint8_t *bytes = cfx_register(&t.e, K_H2, 2, &len);
    intake_gossip(t.in, 1, bytes, len);
    intake_stop(t.in);
    uint8_t *bad = spoiled(bytes, len);
    intake_gossip(t.in, 2, bad, len);
    run(&t);
    CHECK_EQ_INT(mempool_count(t.mp), 0);
    CHECK_EQ_INT(t.s.relayed, 0);
    CHECK_EQ_INT(t.s.mempool_changed, 0);
    CHECK_EQ_INT(t.s.misbehaved, 0);
    free(bad);
    free(bytes);
    intake_env_deinit(&t);
}

TEST_MAIN("intake", TEST(test_a_client_batch_gets_one_outcome_per_transaction_in_order),
          TEST(test_a_batch_of_several_chunks_answers_in_order),
          TEST(test_a_batch_in_flight_at_stop_is_answered_with_nothing),
          TEST(test_relayed_transactions_enter_once_and_bad_ones_report_their_peer),
          TEST(test_a_relayed_copy_of_a_pending_transaction_starts_no_work),
          TEST(test_relayed_transactions_are_dropped_at_stop))
