/* test_admit.c: how a decoded, signature-checked transaction enters the node (chain/admit.h)
 * over a real chain, and the ring of remembered refusals (chain/results.h). What a caller
 * sees: the status, the error and its message, the relay callback, the refusal found by its
 * hash, the counts per error. */
#define _XOPEN_SOURCE 700 /* nftw, in chain_fixture.h */
#include "admit.h"
#include "chain_fixture.h"
#include "check.h"
#include "results.h"
#include "slq/limits.h"

/* ------------------------------------------------------------------ results */

/* One step of a script over a ring: record a refusal of hash {id...}, or find it. */
typedef struct {
    char op;         /* 'R' record, 'F' find */
    uint8_t id;      /* the hash is this byte 32 times */
    slq_err code;    /* R: the code; F: the code found (SLQ_OK: not found) */
    const char *msg; /* R: the message; F: the message found */
} rstep;

typedef struct {
    const char *name;
    size_t cap;
    rstep steps[8];
} rcase;

static const rcase rcases[] = {
    {"an empty ring finds nothing", 3, {{'F', 1, SLQ_OK, NULL}}},
    {"a refusal is found by its hash, another hash is not",
     3,
     {{'R', 1, SLQ_NONCE_INVALID, "nonce 1, last committed 1"},
      {'F', 1, SLQ_NONCE_INVALID, "nonce 1, last committed 1"},
      {'F', 2, SLQ_OK, NULL}}},
    {"the newest refusal of a hash wins",
     3,
     {{'R', 1, SLQ_MEMPOOL_FULL, "full"},
      {'R', 1, SLQ_NONCE_INVALID, "nonce"},
      {'F', 1, SLQ_NONCE_INVALID, "nonce"}}},
    {"the oldest is forgotten when the ring is full",
     3,
     {{'R', 1, SLQ_MEMPOOL_FULL, "a"},
      {'R', 2, SLQ_NONCE_INVALID, "b"},
      {'R', 3, SLQ_SIG_INVALID, "c"},
      {'R', 4, SLQ_TX_MALFORMED, "d"},
      {'F', 1, SLQ_OK, NULL},
      {'F', 2, SLQ_NONCE_INVALID, "b"},
      {'F', 3, SLQ_SIG_INVALID, "c"},
      {'F', 4, SLQ_TX_MALFORMED, "d"}}},
    /* Both refusals of hash 1 are in the wrapped ring, the newer one in an earlier slot. */
    {"the newest refusal of a hash wins across the wrap",
     3,
     {{'R', 9, SLQ_SIG_INVALID, "x"},
      {'R', 1, SLQ_MEMPOOL_FULL, "older"},
      {'R', 2, SLQ_SIG_INVALID, "y"},
      {'R', 1, SLQ_NONCE_INVALID, "newer"},
      {'F', 1, SLQ_NONCE_INVALID, "newer"},
      {'F', 9, SLQ_OK, NULL}}},
    {"a ring of one remembers the last refusal only",
     1,
     {{'R', 1, SLQ_MEMPOOL_FULL, "a"},
      {'R', 2, SLQ_SIG_INVALID, "b"},
      {'F', 1, SLQ_OK, NULL},
      {'F', 2, SLQ_SIG_INVALID, "b"}}},
};

static void run_rcase(const rcase *c) {
    results *r = NULL;
    CHECK_ERR(results_create(&r, c->cap), SLQ_OK);
    for (size_t k = 0; k < sizeof c->steps / sizeof c->steps[0] && c->steps[k].op != 0; k++) {
        const rstep *s = &c->steps[k];
        uint8_t hash[CRYPTO_HASH_BYTES];
        memset(hash, s->id, sizeof hash);
        if (s->op == 'R') {
            results_record(r, hash, s->code, s->msg);
            continue;
        }
        const result *got = results_find(r, hash);
        int failures = check_failures_;
        if (s->code == SLQ_OK) {
            CHECK(got == NULL);
        } else {
            CHECK(got != NULL);
            if (got != NULL) {
                CHECK_ERR(got->code, s->code);
                CHECK(strcmp(got->message, s->msg) == 0);
                CHECK_MEM(got->hash, hash, sizeof hash);
            }
        }
        if (check_failures_ != failures) fprintf(stderr, "  case \"%s\" step %zu\n", c->name, k);
    }
    results_destroy(r);
}

static void test_results_find_the_newest_remembered_refusal_of_a_hash(void) {
    for (size_t i = 0; i < sizeof rcases / sizeof rcases[0]; i++) run_rcase(&rcases[i]);
}

static void test_results_count_every_refusal_per_error_even_when_forgotten(void) {
    results *r = NULL;
    CHECK_ERR(results_create(&r, 2), SLQ_OK);
    uint8_t hash[CRYPTO_HASH_BYTES];
    static const slq_err codes[] = {SLQ_NONCE_INVALID, SLQ_MEMPOOL_FULL, SLQ_NONCE_INVALID,
                                    SLQ_NONCE_INVALID, SLQ_SIG_INVALID};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        memset(hash, (int) i + 1, sizeof hash);
        results_record(r, hash, codes[i], slq_err_str(codes[i]));
    }
    static const struct {
        slq_err code;
        uint64_t count;
    } want[] = {
        {SLQ_NONCE_INVALID, 3}, {SLQ_MEMPOOL_FULL, 1}, {SLQ_SIG_INVALID, 1},
        {SLQ_TX_MALFORMED, 0},  {SLQ_OK, 0},           {(slq_err) RESULTS_CODES, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (results_count(r, want[i].code) != want[i].count)
            fprintf(stderr, "  count of %d\n", (int) want[i].code);
        CHECK_EQ_INT(results_count(r, want[i].code), want[i].count);
    }
    /* A code past the table is remembered but not counted (and does not write past it). */
    memset(hash, 0xee, sizeof hash);
    results_record(r, hash, (slq_err) (RESULTS_CODES + 7), "odd");
    CHECK_EQ_INT(results_count(r, (slq_err) (RESULTS_CODES + 7)), 0);
    CHECK(results_find(r, hash) != NULL);
    results_destroy(r);
}

static void test_results_cut_a_long_message_to_the_slot(void) {
    results *r = NULL;
    CHECK_ERR(results_create(&r, 4), SLQ_OK);
    char msg[400];
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    uint8_t hash[CRYPTO_HASH_BYTES] = {7};
    results_record(r, hash, SLQ_TX_MALFORMED, msg);
    const result *got = results_find(r, hash);
    CHECK(got != NULL);
    if (got != NULL) {
        CHECK_EQ_INT(strlen(got->message), sizeof got->message - 1);
        CHECK(strncmp(got->message, msg, sizeof got->message - 1) == 0);
    }
    results_destroy(r);
}

/* ------------------------------------------------------------------ admission */

/* What the relay callback saw. */
typedef struct {
    cfx *e;
    int count;
    uint8_t last[CRYPTO_HASH_BYTES]; /* hash of the bytes last relayed */
} relayed;

static void relay_cb(void *arg, const uint8_t *bytes, size_t len) {
    relayed *r = arg;
    r->count++;
    cfx_hash(r->e, r->last, bytes, len);
}

/* A chain whose block 1 holds the issuer's nonce 1 (registering K_H1), a mempool of mp_cap,
 * a ring of refusals and a counting relay. */
typedef struct {
    cfx e;
    mempool *mp;
    results *res;
    relayed rel;
    admission adm;
} admit_env;

static void admit_env_init(admit_env *a, size_t mp_cap) {
    memset(a, 0, sizeof *a);
    cfx_init(&a->e);
    size_t len;
    uint8_t *tx = cfx_register(&a->e, K_H1, 1, &len);
    size_t included = 0;
    SLQ_ASSERT(cfx_commit(&a->e, &tx, &len, 1, cst_ms(2024, 6, 1, 0, 0), &included) == SLQ_OK);
    SLQ_ASSERT(included == 1);
    free(tx);
    SLQ_ASSERT(mempool_create(&a->mp, mp_cap) == SLQ_OK);
    SLQ_ASSERT(results_create(&a->res, 16) == SLQ_OK);
    a->rel.e = &a->e;
    a->adm = (admission){
        .chain = a->e.c, .mp = a->mp, .res = a->res, .relay = relay_cb, .relay_arg = &a->rel};
}

static void admit_env_deinit(admit_env *a) {
    results_destroy(a->res);
    mempool_destroy(a->mp);
    cfx_deinit(&a->e);
}

/* One transaction offered, and what the caller must see. */
typedef struct {
    const char *name;
    int who; /* registered by the issuer */
    uint64_t nonce;
    const char *variant; /* the registered name: other names, other bytes */
    admit_status status;
    slq_err err;
    const char *message; /* REJECTED: the exact message */
    uint64_t height;     /* COMMITTED: the block */
    int signer;          /* who signs (0: K_ISSUER) */
} arow;

#define WINDOW SLQ_MEMPOOL_PER_ACCOUNT_MAX

/* In order, on one node: the issuer's committed nonce is 1. */
static const arow arows[] = {
    {"the committed bytes again are committed at their height", K_H1, 1, "holder", ADMIT_COMMITTED,
     SLQ_OK, "", 1, K_ISSUER},
    {"other bytes with the committed nonce are refused", K_H2, 1, "holder", ADMIT_REJECTED,
     SLQ_NONCE_INVALID, "nonce 1, last committed 1", 0, K_ISSUER},
    {"the next nonce is new", K_H2, 2, "holder", ADMIT_NEW, SLQ_OK, "", 0, K_ISSUER},
    {"the same bytes again are pending", K_H2, 2, "holder", ADMIT_PENDING, SLQ_OK, "", 0, K_ISSUER},
    {"other bytes with a pending nonce are refused by the mempool", K_H3, 2, "holder",
     ADMIT_REJECTED, SLQ_NONCE_INVALID, "nonce is not the signer's last nonce + 1", 0, K_ISSUER},
    {"the last nonce of the window is new", K_H3, 1 + WINDOW, "holder", ADMIT_NEW, SLQ_OK, "", 0,
     K_ISSUER},
    {"the first nonce past the window is refused", K_H3, 2 + WINDOW, "holder", ADMIT_REJECTED,
     SLQ_NONCE_INVALID, "nonce 1026, last committed 1", 0, K_ISSUER},
    {"the same committed bytes once more are still committed", K_H1, 1, "holder", ADMIT_COMMITTED,
     SLQ_OK, "", 1, K_ISSUER},
};
_Static_assert(WINDOW == 1024u, "the messages above name the window's nonces");

/* Offers a row's transaction; checks what the caller sees, the relay (exactly for a new one)
 * and the refusal remembered under its hash. */
static void offer(admit_env *a, const arow *w) {
    size_t len;
    uint8_t *bytes = cfx_register_by(&a->e, w->signer, w->who, w->nonce, w->variant, &len);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, chain_ledger(a->e.c), bytes, len) == SLQ_OK);
    uint8_t hash[CRYPTO_HASH_BYTES];
    memcpy(hash, tx.hash, sizeof hash);
    int relays = a->rel.count, failures = check_failures_;
    uint64_t refused = results_count(a->res, w->err == SLQ_OK ? SLQ_NONCE_INVALID : w->err);
    admit_result r;
    memset(&r, 0xa5, sizeof r);
    admit_status st = admit_tx(&a->adm, bytes, len, &tx, 0, &r); /* takes bytes and tx */
    CHECK_EQ_INT(st, w->status);
    CHECK_ERR(r.err, w->err);
    CHECK(strcmp(r.message, w->message) == 0);
    CHECK_EQ_INT(r.height, w->height);
    CHECK_EQ_INT(a->rel.count - relays, w->status == ADMIT_NEW ? 1 : 0);
    if (w->status == ADMIT_NEW) CHECK_MEM(a->rel.last, hash, sizeof hash);
    CHECK(mempool_has(a->mp, hash) == (w->status == ADMIT_NEW || w->status == ADMIT_PENDING));
    const result *found = results_find(a->res, hash);
    if (w->status == ADMIT_REJECTED) {
        CHECK(found != NULL);
        if (found != NULL) {
            CHECK_ERR(found->code, w->err);
            CHECK(strcmp(found->message, w->message) == 0);
        }
        CHECK_EQ_INT(results_count(a->res, w->err), refused + 1);
    } else {
        CHECK(found == NULL);
        CHECK_EQ_INT(results_count(a->res, SLQ_NONCE_INVALID), refused);
    }
    if (check_failures_ != failures)
        fprintf(stderr, "  row \"%s\": status %d err %s message \"%s\"\n", w->name, (int) st,
                slq_err_name(r.err), r.message);
}

static void test_admission_answers_committed_pending_new_or_refused(void) {
    admit_env a;
    admit_env_init(&a, 16);
    for (size_t i = 0; i < sizeof arows / sizeof arows[0]; i++) offer(&a, &arows[i]);
    CHECK_EQ_INT(mempool_count(a.mp), 2);
    CHECK_EQ_INT(a.rel.count, 2);
    admit_env_deinit(&a);
}

static void test_a_full_mempool_refuses_and_relays_nothing(void) {
    admit_env a;
    admit_env_init(&a, 1);
    static const arow rows[] = {
        {"the first fills the mempool", K_H2, 2, "holder", ADMIT_NEW, SLQ_OK, "", 0, K_ISSUER},
        {"the next finds it full", K_H3, 3, "holder", ADMIT_REJECTED, SLQ_MEMPOOL_FULL,
         "mempool is full; retry later", 0, K_ISSUER},
        {"the pending one is still pending", K_H2, 2, "holder", ADMIT_PENDING, SLQ_OK, "", 0,
         K_ISSUER},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) offer(&a, &rows[i]);
    CHECK_EQ_INT(mempool_count(a.mp), 1);
    CHECK_EQ_INT(a.rel.count, 1);
    admit_env_deinit(&a);
}

static void test_a_signer_without_an_account_is_refused(void) {
    admit_env a;
    admit_env_init(&a, 16);
    static const arow rows[] = {
        {"a key without an account is refused", K_H3, 1, "holder", ADMIT_REJECTED,
         SLQ_SIGNER_UNKNOWN, "signer has no account", 0, K_H2},
        {"whatever its nonce", K_H3, 2, "holder", ADMIT_REJECTED, SLQ_SIGNER_UNKNOWN,
         "signer has no account", 0, K_H2},
        {"a registered party's first transaction is new", K_H3, 1, "holder", ADMIT_NEW, SLQ_OK, "",
         0, K_H1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) offer(&a, &rows[i]);
    CHECK_EQ_INT(mempool_count(a.mp), 1);
    CHECK_EQ_INT(a.rel.count, 1);
    admit_env_deinit(&a);
}

/* The issuer's committed nonce is 1: nonces from 3 on wait behind a gap, up to the bound per
 * signer; past it the refusal is TX_PENDING_TOO_MANY (503: retry), and nonce 2 still enters. */
static void test_a_signer_waiting_behind_a_gap_is_bounded(void) {
    admit_env a;
    admit_env_init(&a, 4 * SLQ_MEMPOOL_GAPPED_SHARE * SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX);
    arow w = {"a gapped one within the bound is new",
              K_H2,
              0,
              "holder",
              ADMIT_NEW,
              SLQ_OK,
              "",
              0,
              K_ISSUER};
    for (uint64_t n = 3; n < 3 + SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX; n++) {
        w.nonce = n;
        offer(&a, &w);
    }
    w = (arow){"one more gapped one is refused",
               K_H2,
               3 + SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX,
               "holder",
               ADMIT_REJECTED,
               SLQ_TX_PENDING_TOO_MANY,
               "too many pending transactions for this account",
               0,
               K_ISSUER};
    offer(&a, &w);
    w = (arow){
        "the one that can run is new", K_H2, 2, "holder", ADMIT_NEW, SLQ_OK, "", 0, K_ISSUER};
    offer(&a, &w);
    CHECK_EQ_INT(mempool_count(a.mp), SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX + 1);
    CHECK_EQ_INT(mempool_gapped(a.mp), 0);
    admit_env_deinit(&a);
}

/* A full mempool drops a gapped transaction for one that can run, and the dropped one's hash
 * tells why (GET /v1/txs/HASH), instead of being forgotten. */
static void test_a_gapped_one_dropped_for_room_is_told_why(void) {
    admit_env a;
    admit_env_init(&a, SLQ_MEMPOOL_GAPPED_SHARE); /* one gapped at most */
    size_t len;
    uint8_t *bytes = cfx_register_by(&a.e, K_ISSUER, K_H2, 3, "holder", &len);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, chain_ledger(a.e.c), bytes, len) == SLQ_OK);
    uint8_t gapped[CRYPTO_HASH_BYTES];
    memcpy(gapped, tx.hash, sizeof gapped);
    admit_result r;
    CHECK_EQ_INT(admit_tx(&a.adm, bytes, len, &tx, 0, &r), ADMIT_NEW); /* waits for 2 */
    arow w = {"K_H1 can run", K_H3, 0, "holder", ADMIT_NEW, SLQ_OK, "", 0, K_H1};
    for (w.nonce = 1; w.nonce < SLQ_MEMPOOL_GAPPED_SHARE; w.nonce++) offer(&a, &w);
    CHECK_EQ_INT(mempool_count(a.mp), SLQ_MEMPOOL_GAPPED_SHARE);
    CHECK(results_find(a.res, gapped) == NULL);
    offer(&a, &w); /* full: the gapped one goes */
    CHECK(!mempool_has(a.mp, gapped));
    const result *got = results_find(a.res, gapped);
    CHECK(got != NULL);
    if (got != NULL) {
        CHECK_ERR(got->code, SLQ_TX_GAP_DROPPED);
        CHECK(strstr(got->message, "mempool was full") != NULL);
    }
    admit_env_deinit(&a);
}

static void test_admission_without_a_relay_still_queues(void) {
    admit_env a;
    admit_env_init(&a, 4);
    a.adm.relay = NULL;
    size_t len;
    uint8_t *bytes = cfx_register(&a.e, K_H2, 2, &len);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, chain_ledger(a.e.c), bytes, len) == SLQ_OK);
    admit_result r;
    CHECK_EQ_INT(admit_tx(&a.adm, bytes, len, &tx, 0, &r), ADMIT_NEW);
    CHECK_ERR(r.err, SLQ_OK);
    CHECK_EQ_INT(mempool_count(a.mp), 1);
    CHECK_EQ_INT(a.rel.count, 0);
    admit_env_deinit(&a);
}

TEST_MAIN("admit", TEST(test_results_find_the_newest_remembered_refusal_of_a_hash),
          TEST(test_results_count_every_refusal_per_error_even_when_forgotten),
          TEST(test_results_cut_a_long_message_to_the_slot),
          TEST(test_admission_answers_committed_pending_new_or_refused),
          TEST(test_a_full_mempool_refuses_and_relays_nothing),
          TEST(test_a_signer_without_an_account_is_refused),
          TEST(test_a_signer_waiting_behind_a_gap_is_bounded),
          TEST(test_a_gapped_one_dropped_for_room_is_told_why),
          TEST(test_admission_without_a_relay_still_queues))
