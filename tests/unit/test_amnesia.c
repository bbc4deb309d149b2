/* test_amnesia.c: what a validator that lost its signer.state reads from its write-ahead
 * log (replica/amnesia_rules.h). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "amnesia_rules.h"
#include "check.h"
#include "slq/assert.h"
#include "wal_records.h"

#define SELF  2u
#define OTHER 0u

typedef struct {
    char dir[64];
    char path[96];
    wal *w;
} fixture;

static void fixture_init(fixture *f) {
    check_mkdtemp(f->dir, sizeof f->dir, "amnesia");
    snprintf(f->path, sizeof f->path, "%s/consensus.wal", f->dir);
    SLQ_ASSERT(wal_open(&f->w, f->path) == SLQ_OK);
}

static void fixture_free(fixture *f) {
    wal_close(f->w);
    unlink(f->path);
    rmdir(f->dir);
}

static void append_vote(fixture *f, uint64_t h, uint32_t validator) {
    tm_vote v = {.type = TM_PREVOTE, .height = h, .round = 0, .validator = validator};
    uint8_t b[WAL_VOTE_RECORD_BYTES];
    SLQ_ASSERT(wal_append(f->w, WAL_VOTE, b, wal_vote_encode(b, sizeof b, &v)) == SLQ_OK);
}

static void append_timeout(fixture *f, uint64_t h) {
    wal_timeout t = {.step = TM_STEP_PROPOSE, .height = h, .round = 0};
    uint8_t b[WAL_TIMEOUT_RECORD_BYTES];
    SLQ_ASSERT(wal_append(f->w, WAL_TIMEOUT, b, wal_timeout_encode(b, sizeof b, &t)) == SLQ_OK);
}

/* A log damaged before its end is reported as the write-ahead log, by its own path (not the
 * signer's record, whose absence is why it was read). */
static void test_a_damaged_log_is_named_by_its_own_path(void) {
    fixture f;
    fixture_init(&f);
    SLQ_ASSERT(wal_begin(f.w, 5) == SLQ_OK);
    append_vote(&f, 5, OTHER);
    append_timeout(&f, 5);
    SLQ_ASSERT(wal_sync(f.w) == SLQ_OK);
    int fd = open(f.path, O_WRONLY);
    SLQ_ASSERT(fd >= 0);
    uint8_t junk = 0x5a;
    SLQ_ASSERT(pwrite(fd, &junk, 1, 20) == 1); /* inside the vote record: the timeout follows */
    close(fd);
    amnesia_log lg;
    char why[256] = "";
    CHECK_ERR(amnesia_log_read(&lg, f.w, SELF, why, sizeof why), SLQ_STORAGE_CORRUPT);
    char want[160];
    snprintf(want, sizeof want, "write-ahead log %s: ", f.path);
    CHECK(strncmp(why, want, strlen(want)) == 0);
    CHECK(strstr(why, "consensus.wal") != NULL);
    CHECK(strstr(why, "signer.state") == NULL);
    fixture_free(&f);
}

/* The log's height, and whether a vote of this validator is in it. */
static void test_the_log_tells_its_height_and_our_votes(void) {
    fixture f;
    fixture_init(&f);
    amnesia_log lg;
    CHECK_ERR(amnesia_log_read(&lg, f.w, SELF, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(lg.height, 0); /* a new log */
    CHECK(!lg.own);
    SLQ_ASSERT(wal_begin(f.w, 5) == SLQ_OK);
    append_vote(&f, 5, OTHER);
    CHECK_ERR(amnesia_log_read(&lg, f.w, SELF, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(lg.height, 5);
    CHECK(!lg.own);
    append_vote(&f, 5, SELF);
    CHECK_ERR(amnesia_log_read(&lg, f.w, SELF, NULL, 0), SLQ_OK);
    CHECK(lg.own);
    fixture_free(&f);
}

/* The case the log's inputs are for: a power loss right after our vote at tip + 1, which is
 * logged only after it is sent, so only the input behind it (here another validator's vote)
 * is in the log; no certificate carries our precommit (the blocks came by sync). */
static void test_an_input_at_tip_plus_one_is_evidence_without_our_vote(void) {
    fixture f;
    fixture_init(&f);
    SLQ_ASSERT(wal_begin(f.w, 11) == SLQ_OK);
    append_vote(&f, 11, OTHER);
    amnesia_facts facts = {.tip = 10};
    CHECK_ERR(amnesia_log_read(&facts.log, f.w, SELF, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(facts.log.inputs, 1);
    CHECK(!facts.log.own);
    CHECK_EQ_INT(amnesia_evidence_of(&facts), AMNESIA_LOG_INPUTS);
    SLQ_ASSERT(wal_begin(f.w, 11) == SLQ_OK); /* its height record alone: nothing signed */
    CHECK_ERR(amnesia_log_read(&facts.log, f.w, SELF, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(facts.log.inputs, 0);
    CHECK_EQ_INT(amnesia_evidence_of(&facts), AMNESIA_NONE);
    fixture_free(&f);
}

/* Each piece of evidence, and its absence, at the boundaries. */
static void test_the_evidence_of_each_fact(void) {
    static const struct {
        uint64_t tip, store_at, log_height;
        size_t inputs;
        bool own;
        amnesia_evidence want;
    } rows[] = {
        {0, 0, 0, 0, false, AMNESIA_NONE},         /* a new validator */
        {10, 0, 0, 0, false, AMNESIA_NONE},        /* no log: proves nothing */
        {10, 0, 11, 0, false, AMNESIA_NONE},       /* tip + 1 begun, nothing in it */
        {10, 0, 10, 2, false, AMNESIA_NONE},       /* a log of the tip: committed */
        {10, 0, 11, 1, false, AMNESIA_LOG_INPUTS}, /* an input at tip + 1 */
        {10, 0, 12, 1, false, AMNESIA_LOG_INPUTS}, /* above it */
        {10, 0, 12, 0, false, AMNESIA_LOG_AHEAD},  /* begun above tip + 1 */
        {0, 0, 5, 0, false, AMNESIA_LOG_AHEAD},    /* data/ with no blocks */
        {10, 0, 11, 3, true, AMNESIA_LOG_OWN},     /* our vote */
        {10, 0, 10, 1, true, AMNESIA_LOG_OWN},     /* our vote in a log of the tip */
        {10, 9, 11, 0, false, AMNESIA_STORE},      /* our precommit in a certificate */
        {10, 10, 11, 3, true, AMNESIA_STORE},      /* the store first */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        amnesia_facts f = {
            .tip = rows[i].tip,
            .store_signed_at = rows[i].store_at,
            .log = {.height = rows[i].log_height, .inputs = rows[i].inputs, .own = rows[i].own}};
        CHECK_EQ_INT(amnesia_evidence_of(&f), rows[i].want);
    }
}

/* The fence: the tip when the log of tip + 1 holds only its height record (nothing was
 * signed there), else the highest height it may have signed at. */
static void test_the_fence_is_the_highest_height_it_may_have_signed(void) {
    static const struct {
        uint64_t tip, log_height;
        size_t inputs;
        uint64_t want;
    } rows[] = {
        {10, 11, 0, 10},                  /* tip + 1 begun, nothing in it: resumes at tip + 1 */
        {10, 11, 1, 11},                  /* an input at tip + 1: it may have signed there */
        {10, 0, 0, 11},                   /* no log: proves nothing */
        {10, 10, 0, 11},                  /* a log of the tip: proves nothing about tip + 1 */
        {10, 9, 3, 11},  {10, 12, 0, 12}, /* begun above tip + 1 */
        {10, 12, 2, 12}, {0, 1, 0, 0},    /* a new chain, height 1 begun and nothing in it */
        {0, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        amnesia_facts f = {.tip = rows[i].tip,
                           .log = {.height = rows[i].log_height, .inputs = rows[i].inputs}};
        CHECK_EQ_INT(amnesia_fence(&f), rows[i].want);
    }
}

/* --reset-signer is refused where its fence would stop the chain for good: tip + 1 fenced and
 * the others without a quorum (more than two thirds of the power) of their own. */
static void test_a_reset_that_would_stop_the_chain_for_good_is_refused(void) {
    amnesia_facts open = {.tip = 10, .log = {.height = 11, .inputs = 1}};
    amnesia_facts empty = {.tip = 10, .log = {.height = 11, .inputs = 0}};
    amnesia_facts none = {.tip = 10};
    static const struct {
        uint64_t own, total;
        bool halts_open;
    } rows[] = {
        {1, 1, true},    /* one validator */
        {1, 2, true},    /* two: the other alone is half */
        {1, 3, true},    /* three: two of three are not more than two thirds */
        {1, 4, false},   /* four: three of four are */
        {2, 5, true},    /* 3 of 5 */
        {1, 5, false},   /* 4 of 5 */
        {10, 30, true},  /* a third exactly: the others hold two thirds, not more */
        {10, 31, false}, /* less than a third */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        amnesia_power p = {.own = rows[i].own, .total = rows[i].total};
        CHECK(amnesia_reset_halts(&open, p) == rows[i].halts_open);
        CHECK(amnesia_reset_halts(&none, p) == rows[i].halts_open);
        CHECK(!amnesia_reset_halts(&empty, p)); /* fenced at the tip: it signs tip + 1 */
    }
}

TEST_MAIN("amnesia", TEST(test_a_damaged_log_is_named_by_its_own_path),
          TEST(test_the_log_tells_its_height_and_our_votes),
          TEST(test_an_input_at_tip_plus_one_is_evidence_without_our_vote),
          TEST(test_the_evidence_of_each_fact),
          TEST(test_the_fence_is_the_highest_height_it_may_have_signed),
          TEST(test_a_reset_that_would_stop_the_chain_for_good_is_refused))
