/* test_signer.c: the validator's persisted signing guard (replica/signer.h). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert.h"
#include "check.h"
#include "crypto.h"
#include "guard.h"
#include "signer.h"

#define CHAIN "chengdu-test"

typedef struct {
    char dir[64];
    char path[96];
    crypto_key *key;
} fixture;

static void fixture_init(fixture *f, crypto_suite suite) {
    snprintf(f->dir, sizeof f->dir, "/tmp/slq-signer-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->path, sizeof f->path, "%s/signer.state", f->dir);
    CHECK_ERR(crypto_key_generate(&f->key, suite), SLQ_OK);
}

static void fixture_free(fixture *f) {
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", f->path);
    unlink(tmp);
    unlink(f->path);
    rmdir(f->dir);
    crypto_key_destroy(f->key);
}

static const uint8_t block_a[32] = {0xaa}, block_b[32] = {0xbb};

static consensus_vote_fields prevote(uint64_t h, uint32_t r, const uint8_t *block) {
    return (consensus_vote_fields){
        .type = CONSENSUS_PREVOTE, .height = h, .round = r, .pol_round = -1, .block_hash = block};
}

typedef struct {
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t len;
} sig_t_;

static slq_err sign(signer *s, consensus_vote_fields f, sig_t_ *out) {
    return signer_sign(s, CHAIN, &f, out->sig, &out->len);
}

/* The signature verifies under the key over the canonical bytes of the fields. */
static bool verifies(const fixture *f, consensus_vote_fields v, const sig_t_ *sig) {
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX], msg[CONSENSUS_VOTE_BYTES_MAX];
    size_t pub_len = 0;
    if (crypto_key_public(f->key, pub, sizeof pub, &pub_len) != SLQ_OK) return false;
    size_t n = consensus_vote_bytes(msg, CHAIN, &v);
    return crypto_verify(crypto_key_suite(f->key), pub, pub_len, msg, n, sig->sig, sig->len) ==
           SLQ_OK;
}

static void check_signs_refuses_and_repeats(crypto_suite suite) {
    fixture f;
    fixture_init(&f, suite);
    signer *s = NULL;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    sig_t_ a, again, other;
    CHECK_ERR(sign(s, prevote(5, 0, block_a), &a), SLQ_OK);
    CHECK(verifies(&f, prevote(5, 0, block_a), &a));
    /* the same request: the stored signature, byte for byte (SM2 would otherwise differ) */
    CHECK_ERR(sign(s, prevote(5, 0, block_a), &again), SLQ_OK);
    CHECK_EQ_INT(again.len, a.len);
    CHECK_MEM(again.sig, a.sig, a.len);
    /* another block, or nil, at the same height/round/step: refused */
    CHECK_ERR(sign(s, prevote(5, 0, block_b), &other), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(5, 0, NULL), &other), SLQ_ROLE_FORBIDDEN);
    /* the precommit of that round, then its prevote again with other content: refused */
    consensus_vote_fields pc = prevote(5, 0, block_a);
    pc.type = CONSENSUS_PRECOMMIT;
    CHECK_ERR(sign(s, pc, &other), SLQ_OK);
    CHECK(verifies(&f, pc, &other));
    CHECK_ERR(sign(s, prevote(5, 0, block_b), &other), SLQ_ROLE_FORBIDDEN);
    /* an earlier height: refused; a later round: signed */
    CHECK_ERR(sign(s, prevote(4, 3, block_b), &other), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(5, 1, block_b), &other), SLQ_OK);
    CHECK(verifies(&f, prevote(5, 1, block_b), &other));
    signer_close(s);
    fixture_free(&f);
}

static void test_ed25519_signer_signs_refuses_conflicts_and_repeats(void) {
    check_signs_refuses_and_repeats(CRYPTO_SUITE_ED25519_SHA256);
}
static void test_sm2_signer_signs_refuses_conflicts_and_repeats(void) {
    check_signs_refuses_and_repeats(CRYPTO_SUITE_SM2_SM3);
}

/* What was signed survives closing (a crash after signer_sign returned is the same: the
 * record was synced before it returned). */
static void test_record_survives_reopening(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_SM2_SM3);
    signer *s = NULL;
    sig_t_ a, b;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(9, 2, block_a), &a), SLQ_OK);
    signer_close(s);
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(9, 2, block_b), &b), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(9, 2, block_a), &b), SLQ_OK);
    CHECK_EQ_INT(b.len, a.len);
    CHECK_MEM(b.sig, a.sig, a.len);
    signer_close(s);
    fixture_free(&f);
}

/* The file's size, or -1. */
static off_t file_size(const char *path) {
    struct stat st = {0};
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Flips one byte of the file at off. */
static bool flip_byte(const char *path, off_t off) {
    FILE *f = fopen(path, "r+b");
    if (f == NULL) return false;
    bool ok = fseeko(f, off, SEEK_SET) == 0;
    int c = ok ? fgetc(f) : EOF;
    ok = c != EOF && fseeko(f, off, SEEK_SET) == 0 && fputc(c ^ 0x5a, f) != EOF;
    return fclose(f) == 0 && ok;
}

/* A record that does not read back stops the validator rather than let it guess. */
static void test_a_damaged_record_refuses_to_open(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    signer *s = NULL;
    sig_t_ a;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(3, 0, block_a), &a), SLQ_OK);
    signer_close(s);
    off_t size = file_size(f.path);
    CHECK_EQ_INT(size, 8192); /* two slots of 4 KiB */
    if (size != 8192) {
        fixture_free(&f);
        return;
    }
    CHECK(truncate(f.path, size - 1) == 0);
    s = NULL;
    char why[512] = "", want[512];
    CHECK_ERR(signer_open(&s, f.path, f.key, why, sizeof why), SLQ_STORAGE_CORRUPT);
    CHECK(s == NULL);
    snprintf(want, sizeof want, "signer state %s is corrupt: 8191 bytes, not 8192", f.path);
    CHECK(strcmp(why, want) == 0); /* the file is named, not the write-ahead log */
    FILE *w = fopen(f.path, "wb"); /* garbage of the right length */
    CHECK(w != NULL);
    for (off_t i = 0; w != NULL && i < size; i++) fputc(0xff, w);
    if (w != NULL) fclose(w);
    CHECK_ERR(signer_open(&s, f.path, f.key, why, sizeof why), SLQ_STORAGE_CORRUPT);
    CHECK(s == NULL);
    snprintf(want, sizeof want, "signer state %s is corrupt: neither of its two records reads back",
             f.path);
    CHECK(strcmp(why, want) == 0);
    fixture_free(&f);
}

/* signer_found tells a validator that never signed through this file from one that did. */
static void test_found_says_whether_a_record_was_there(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    signer *s = NULL;
    sig_t_ a;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK(!signer_found(s));
    CHECK_ERR(sign(s, prevote(2, 0, block_a), &a), SLQ_OK);
    signer_close(s);
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK(signer_found(s));
    signer_close(s);
    fixture_free(&f);
}

/* A fence at height h refuses every step of every round at h and below, lets h + 1 sign, and
 * survives reopening; a fence below the record changes nothing. */
static void test_a_fence_refuses_its_height_and_below_and_lets_the_next_sign(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_SM2_SM3);
    signer *s = NULL;
    sig_t_ a;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(signer_fence(s, CHAIN, 7), SLQ_OK);
    signer_close(s);
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK(signer_found(s));
    CHECK_ERR(sign(s, prevote(6, 0, block_a), &a), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(7, 0, block_a), &a), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(7, 1000000, NULL), &a), SLQ_ROLE_FORBIDDEN);
    consensus_vote_fields pc = prevote(7, 0, block_b);
    pc.type = CONSENSUS_PRECOMMIT;
    CHECK_ERR(sign(s, pc, &a), SLQ_ROLE_FORBIDDEN);
    consensus_vote_fields prop = {.type = CONSENSUS_PROPOSAL,
                                  .height = 7,
                                  .round = 3,
                                  .pol_round = -1,
                                  .block_hash = block_a};
    CHECK_ERR(sign(s, prop, &a), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(signer_fence(s, CHAIN, 5), SLQ_OK); /* below: no change */
    CHECK_ERR(sign(s, prevote(6, 9, block_a), &a), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(8, 0, block_a), &a), SLQ_OK);
    CHECK(verifies(&f, prevote(8, 0, block_a), &a));
    CHECK_ERR(signer_fence(s, CHAIN, 8), SLQ_OK); /* past the signed prevote of 8: fenced */
    CHECK_ERR(sign(s, prevote(8, 1, block_a), &a), SLQ_ROLE_FORBIDDEN);
    signer_close(s);
    fixture_free(&f);
}

/* Records alternate between the two slots; after many, reopening knows the last one. */
static void test_the_last_of_many_records_is_read_back(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    signer *s = NULL;
    sig_t_ a, b;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    for (uint64_t h = 1; h <= 8; h++) /* the last in slot 0 */
        CHECK_ERR(sign(s, prevote(h, 0, block_a), &a), SLQ_OK);
    signer_close(s);
    CHECK_EQ_INT(file_size(f.path), 8192);
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(8, 0, block_b), &b), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(7, 0, block_a), &b), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(sign(s, prevote(8, 0, block_a), &b), SLQ_OK);
    CHECK_EQ_INT(b.len, a.len);
    CHECK_MEM(b.sig, a.sig, a.len);
    signer_close(s);
    fixture_free(&f);
}

/* A crash while a record is written can damage only that record's slot, and its signature
 * never left: the other slot, the one before, is what was signed. Both damaged: refused. */
static void test_a_torn_last_record_falls_back_to_the_one_before(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    signer *s = NULL;
    sig_t_ a, b;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(3, 0, block_a), &a), SLQ_OK); /* record 1: slot 1 */
    CHECK_ERR(sign(s, prevote(4, 0, block_a), &b), SLQ_OK); /* record 2: slot 0 */
    signer_close(s);
    CHECK(flip_byte(f.path, 20)); /* inside record 2 */
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    if (s != NULL) {
        CHECK_ERR(sign(s, prevote(3, 0, block_b), &b), SLQ_ROLE_FORBIDDEN);
        CHECK_ERR(sign(s, prevote(3, 0, block_a), &b), SLQ_OK);
        CHECK_EQ_INT(b.len, a.len);
        CHECK_MEM(b.sig, a.sig, a.len);
        CHECK_ERR(sign(s, prevote(4, 0, block_b), &b), SLQ_OK); /* record 2 never left */
        CHECK(verifies(&f, prevote(4, 0, block_b), &b));
        signer_close(s);
    }
    s = NULL;
    CHECK(flip_byte(f.path, 4096 + 20)); /* now record 3 (slot 1) is damaged too: ... */
    CHECK(flip_byte(f.path, 20));        /* ... and record 2's slot again */
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_STORAGE_CORRUPT);
    CHECK(s == NULL);
    fixture_free(&f);
}

/* A record of the earlier layout (one record, replaced by rename) is read, and rewritten in
 * the two-slot layout by the next signature. */
static void test_a_record_of_the_earlier_layout_is_read_and_converted(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    guard_record old = {0};
    const uint8_t stored[64] = {1, 2, 3};
    guard_record_set(&old,
                     &(guard_request){.height = 8,
                                      .round = 1,
                                      .step = TM_STEP_PREVOTE,
                                      .pol_round = -1,
                                      .block.hash = {0xaa}},
                     stored, sizeof stored);
    uint8_t bytes[GUARD_RECORD_BYTES];
    guard_record_encode(bytes, &old);
    FILE *w = fopen(f.path, "wb");
    CHECK(w != NULL && fwrite(bytes, 1, sizeof bytes, w) == sizeof bytes);
    if (w != NULL) fclose(w);
    signer *s = NULL;
    sig_t_ b;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    if (s != NULL) {
        CHECK_ERR(sign(s, prevote(8, 1, block_b), &b), SLQ_ROLE_FORBIDDEN);
        CHECK_ERR(sign(s, prevote(8, 1, block_a), &b), SLQ_OK); /* the stored signature */
        CHECK_EQ_INT(b.len, sizeof stored);
        CHECK_MEM(b.sig, stored, sizeof stored);
        CHECK_EQ_INT(file_size(f.path), (off_t) GUARD_RECORD_BYTES); /* nothing new signed */
        CHECK_ERR(sign(s, prevote(8, 2, block_b), &b), SLQ_OK);
        signer_close(s);
    }
    CHECK_EQ_INT(file_size(f.path), 8192);
    s = NULL;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    if (s != NULL) {
        CHECK_ERR(sign(s, prevote(8, 1, block_a), &b), SLQ_ROLE_FORBIDDEN);
        signer_close(s);
    }
    fixture_free(&f);
}

/* A record that cannot be written in place (the disk refuses: here the file size limit
 * stops a write at the second slot): no signature; the slot before is intact; a later
 * request, even another one at the same step (the failed one never left), is signed. */
static void test_a_failed_write_in_place_yields_no_signature_and_keeps_the_record(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    signer *s = NULL;
    sig_t_ a, b;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    CHECK_ERR(sign(s, prevote(3, 0, block_a), &a), SLQ_OK); /* record 1: creates the file */
    CHECK_ERR(sign(s, prevote(4, 0, block_a), &a), SLQ_OK); /* record 2: slot 0, offset 0 */
    struct rlimit old, small = {.rlim_cur = 4096, .rlim_max = RLIM_INFINITY};
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small.rlim_max = old.rlim_max;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    b.len = 0;
    slq_err err = sign(s, prevote(5, 0, block_a), &b); /* record 3: slot 1, offset 4096 */
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    CHECK_ERR(err, SLQ_IO);
    CHECK_EQ_INT(b.len, 0);
    CHECK_ERR(sign(s, prevote(4, 0, block_b), &b), SLQ_ROLE_FORBIDDEN); /* record 2 holds */
    CHECK_ERR(sign(s, prevote(5, 0, block_b), &b), SLQ_OK);
    signer_close(s);
    s = NULL;
    CHECK_ERR(signer_open(&s, f.path, f.key, NULL, 0), SLQ_OK);
    if (s != NULL) {
        sig_t_ c;
        CHECK_ERR(sign(s, prevote(5, 0, block_a), &c), SLQ_ROLE_FORBIDDEN);
        CHECK_ERR(sign(s, prevote(5, 0, block_b), &c), SLQ_OK);
        CHECK_EQ_INT(c.len, b.len);
        CHECK_MEM(c.sig, b.sig, b.len);
        signer_close(s);
    }
    fixture_free(&f);
}

/* A record that cannot be written: nothing is returned to send, and nothing is remembered
 * (a later, different request may still be signed once the disk works). */
static void test_a_record_that_cannot_be_written_yields_no_signature(void) {
    fixture f;
    fixture_init(&f, CRYPTO_SUITE_ED25519_SHA256);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/gone/signer.state", f.dir);
    signer *s = NULL;
    sig_t_ a;
    CHECK_ERR(signer_open(&s, missing, f.key, NULL, 0), SLQ_OK); /* no record yet: nothing signed */
    a.len = 0;
    CHECK_ERR(sign(s, prevote(2, 0, block_a), &a), SLQ_IO);
    CHECK_EQ_INT(a.len, 0);
    char gone[96];
    snprintf(gone, sizeof gone, "%s/gone", f.dir);
    CHECK(mkdir(gone, 0700) == 0);
    CHECK_ERR(sign(s, prevote(2, 0, block_b), &a), SLQ_OK);
    CHECK(verifies(&f, prevote(2, 0, block_b), &a));
    signer_close(s);
    unlink(missing);
    rmdir(gone);
    fixture_free(&f);
}

TEST_MAIN("signer", TEST(test_ed25519_signer_signs_refuses_conflicts_and_repeats),
          TEST(test_sm2_signer_signs_refuses_conflicts_and_repeats),
          TEST(test_record_survives_reopening), TEST(test_a_damaged_record_refuses_to_open),
          TEST(test_found_says_whether_a_record_was_there),
          TEST(test_a_fence_refuses_its_height_and_below_and_lets_the_next_sign),
          TEST(test_the_last_of_many_records_is_read_back),
          TEST(test_a_torn_last_record_falls_back_to_the_one_before),
          TEST(test_a_record_of_the_earlier_layout_is_read_and_converted),
          TEST(test_a_failed_write_in_place_yields_no_signature_and_keeps_the_record),
          TEST(test_a_record_that_cannot_be_written_yields_no_signature))
