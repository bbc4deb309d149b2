/* test_wal_records.c: the write-ahead log's record layouts (replica/wal_records.h): every
 * kind comes back as it was written, a vote and a proposal encode to the exact bytes the
 * engine wrote before the layouts had names (so a consensus.wal of an earlier version
 * replays), and a decoder refuses records that are truncated, too long or garbage. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "wal_records.h"

/* The vote of the known bytes: a precommit, every field distinct. */
static tm_vote sample_vote(void) {
    tm_vote v = {.type = TM_PRECOMMIT,
                 .height = 0x0102030405060708ull,
                 .round = 0x090a0b0c,
                 .validator = 3,
                 .sig_len = 5};
    for (int i = 0; i < 32; i++) v.block.hash[i] = (uint8_t) (0xa0 + i);
    for (int i = 0; i < 5; i++) v.sig[i] = (uint8_t) (0xf0 + i);
    return v;
}

/* sample_vote() as engine.c's log_vote wrote it before wal_records.c (122 bytes). */
static const uint8_t vote_bytes[WAL_VOTE_RECORD_BYTES] = {
    0x02,                                           /* type: precommit */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* height */
    0x09, 0x0a, 0x0b, 0x0c,                         /* round */
    0x00, 0x00, 0x00, 0x03,                         /* validator */
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
    0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5,
    0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, /* block hash */
    0x05,                                                       /* sig_len */
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4,                               /* sig, then zeros to 72 bytes */
};

static const uint8_t sample_block[4] = {0xde, 0xad, 0xbe, 0xef};

static wal_proposal sample_proposal(void) {
    wal_proposal pr = {.height = 0x2a,
                       .round = 2,
                       .pol_round = -1,
                       .proposer = 1,
                       .valid = true,
                       .sig = {0x11, 0x22, 0x33},
                       .sig_len = 3,
                       .block = sample_block,
                       .block_len = sizeof sample_block};
    return pr;
}

/* sample_proposal() as engine.c's log_proposal wrote it before wal_records.c: this head (94
 * bytes), then the block. */
static const uint8_t proposal_head[WAL_PROPOSAL_HEAD_BYTES] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* height */
    0x00, 0x00, 0x00, 0x02,                         /* round */
    0xff, 0xff, 0xff, 0xff,                         /* pol_round: -1 */
    0x00, 0x00, 0x00, 0x01,                         /* proposer */
    0x01,                                           /* valid */
    0x03,                                           /* sig_len */
    0x11, 0x22, 0x33,                               /* sig, then zeros to 72 bytes */
};

#define PROPOSAL_BYTES (WAL_PROPOSAL_HEAD_BYTES + sizeof sample_block)

/* The whole record of sample_proposal() as the old code wrote it. */
static void old_proposal(uint8_t out[PROPOSAL_BYTES]) {
    memcpy(out, proposal_head, sizeof proposal_head);
    memcpy(out + sizeof proposal_head, sample_block, sizeof sample_block);
}

static void test_a_vote_encodes_to_the_bytes_of_earlier_logs(void) {
    tm_vote v = sample_vote();
    uint8_t b[WAL_VOTE_RECORD_BYTES + 8];
    memset(b, 0x55, sizeof b); /* the encoder must write the zero padding itself */
    CHECK_EQ_INT(wal_vote_encode(b, sizeof b, &v), sizeof vote_bytes);
    CHECK_MEM(b, vote_bytes, sizeof vote_bytes);
    CHECK_EQ_INT(b[WAL_VOTE_RECORD_BYTES], 0x55); /* nothing past the record */
}

static void test_a_vote_of_earlier_logs_decodes(void) {
    tm_vote want = sample_vote(), got;
    CHECK(wal_vote_decode(vote_bytes, sizeof vote_bytes, &got));
    CHECK_EQ_INT(got.type, want.type);
    CHECK_EQ_INT(got.height, want.height);
    CHECK_EQ_INT(got.round, want.round);
    CHECK_EQ_INT(got.validator, want.validator);
    CHECK_MEM(got.block.hash, want.block.hash, 32);
    CHECK_EQ_INT(got.sig_len, want.sig_len);
    CHECK_MEM(got.sig, want.sig, sizeof want.sig); /* the padding reads as zeros */
}

static void test_a_vote_with_a_full_signature_round_trips(void) {
    tm_vote v = {.type = TM_PREVOTE, .height = 1, .round = 0, .validator = 0};
    v.sig_len = TM_SIG_BYTES_MAX; /* nil block: all zero */
    for (size_t i = 0; i < v.sig_len; i++) v.sig[i] = (uint8_t) i;
    uint8_t b[WAL_VOTE_RECORD_BYTES];
    tm_vote got;
    CHECK(wal_vote_decode(b, wal_vote_encode(b, sizeof b, &v), &got));
    CHECK_EQ_INT(got.type, TM_PREVOTE);
    CHECK_EQ_INT(got.height, 1);
    CHECK_MEM(got.block.hash, v.block.hash, sizeof v.block.hash);
    CHECK_EQ_INT(got.sig_len, TM_SIG_BYTES_MAX);
    CHECK_MEM(got.sig, v.sig, sizeof v.sig);
}

static void test_a_vote_of_the_wrong_length_or_garbage_is_refused(void) {
    tm_vote v;
    CHECK(!wal_vote_decode(vote_bytes, sizeof vote_bytes - 1, &v)); /* truncated */
    uint8_t b[WAL_VOTE_RECORD_BYTES + 1] = {0};
    memcpy(b, vote_bytes, sizeof vote_bytes);
    CHECK(!wal_vote_decode(b, sizeof b, &v)); /* too long */
    CHECK(!wal_vote_decode(b, 0, &v));
    b[0] = 0; /* no such vote type */
    CHECK(!wal_vote_decode(b, WAL_VOTE_RECORD_BYTES, &v));
    b[0] = 3;
    CHECK(!wal_vote_decode(b, WAL_VOTE_RECORD_BYTES, &v));
    b[0] = TM_PREVOTE;
    b[49] = TM_SIG_BYTES_MAX + 1; /* sig_len past its field */
    CHECK(!wal_vote_decode(b, WAL_VOTE_RECORD_BYTES, &v));
    b[49] = TM_SIG_BYTES_MAX;
    CHECK(wal_vote_decode(b, WAL_VOTE_RECORD_BYTES, &v));
}

static void test_a_proposal_encodes_to_the_bytes_of_earlier_logs(void) {
    wal_proposal pr = sample_proposal();
    uint8_t want[PROPOSAL_BYTES], b[PROPOSAL_BYTES + 8];
    old_proposal(want);
    memset(b, 0x55, sizeof b);
    CHECK_EQ_INT(wal_proposal_bytes(pr.block_len), PROPOSAL_BYTES);
    CHECK_EQ_INT(wal_proposal_encode(b, sizeof b, &pr), PROPOSAL_BYTES);
    CHECK_MEM(b, want, PROPOSAL_BYTES);
    CHECK_EQ_INT(b[PROPOSAL_BYTES], 0x55);
}

static void test_a_proposal_of_earlier_logs_decodes(void) {
    wal_proposal want = sample_proposal(), got;
    uint8_t b[PROPOSAL_BYTES];
    old_proposal(b);
    CHECK(wal_proposal_decode(b, sizeof b, &got));
    CHECK_EQ_INT(got.height, want.height);
    CHECK_EQ_INT(got.round, want.round);
    CHECK_EQ_INT(got.pol_round, -1);
    CHECK_EQ_INT(got.proposer, want.proposer);
    CHECK(got.valid);
    CHECK_EQ_INT(got.sig_len, want.sig_len);
    CHECK_MEM(got.sig, want.sig, sizeof want.sig);
    CHECK_EQ_INT(got.block_len, sizeof sample_block);
    CHECK(got.block == b + WAL_PROPOSAL_HEAD_BYTES);
}

static void test_an_invalid_proposal_with_a_pol_round_round_trips(void) {
    wal_proposal pr = sample_proposal(), got;
    pr.valid = false;
    pr.pol_round = 7;
    pr.round = 9;
    uint8_t b[PROPOSAL_BYTES];
    CHECK(wal_proposal_decode(b, wal_proposal_encode(b, sizeof b, &pr), &got));
    CHECK(!got.valid);
    CHECK_EQ_INT(got.pol_round, 7);
    CHECK_EQ_INT(got.round, 9);
    CHECK_MEM(got.block, sample_block, sizeof sample_block);
}

static void test_a_proposal_truncated_or_garbage_is_refused(void) {
    wal_proposal pr;
    uint8_t b[PROPOSAL_BYTES];
    old_proposal(b);
    CHECK(!wal_proposal_decode(b, WAL_PROPOSAL_HEAD_BYTES, &pr)); /* no block */
    CHECK(!wal_proposal_decode(b, 21, &pr));
    CHECK(!wal_proposal_decode(b, 0, &pr));
    CHECK(wal_proposal_decode(b, WAL_PROPOSAL_HEAD_BYTES + 1, &pr)); /* a 1-byte block */
    b[20] = 2;                                                       /* valid is a flag */
    CHECK(!wal_proposal_decode(b, sizeof b, &pr));
    b[20] = 0;
    b[21] = CRYPTO_SIG_BYTES_MAX + 1; /* sig_len past its field */
    CHECK(!wal_proposal_decode(b, sizeof b, &pr));
    b[21] = 3;
    b[15] = 0xfe; /* pol_round -2 */
    CHECK(!wal_proposal_decode(b, sizeof b, &pr));
    b[15] = 0xff;
    CHECK(wal_proposal_decode(b, sizeof b, &pr));
}

static void test_a_value_round_trips_and_needs_a_block(void) {
    wal_value v = {.height = 7, .round = 1, .block = sample_block, .block_len = 4}, got;
    const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef};
    uint8_t b[16];
    CHECK_EQ_INT(wal_value_bytes(4), sizeof b);
    CHECK_EQ_INT(wal_value_encode(b, sizeof b, &v), sizeof b);
    CHECK_MEM(b, want, sizeof want);
    CHECK(wal_value_decode(b, sizeof b, &got));
    CHECK_EQ_INT(got.height, 7);
    CHECK_EQ_INT(got.round, 1);
    CHECK_EQ_INT(got.block_len, 4);
    CHECK(got.block == b + WAL_VALUE_HEAD_BYTES);
    CHECK(!wal_value_decode(b, WAL_VALUE_HEAD_BYTES, &got)); /* no block */
    CHECK(!wal_value_decode(b, 5, &got));
}

static void test_a_timeout_round_trips_and_refuses_garbage(void) {
    wal_timeout t = {.step = TM_STEP_PREVOTE, .height = 7, .round = 9}, got;
    const uint8_t want[13] = {1, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9};
    uint8_t b[14] = {0};
    CHECK_EQ_INT(wal_timeout_encode(b, sizeof b, &t), 13);
    CHECK_MEM(b, want, sizeof want);
    CHECK(wal_timeout_decode(b, 13, &got));
    CHECK_EQ_INT(got.step, TM_STEP_PREVOTE);
    CHECK_EQ_INT(got.height, 7);
    CHECK_EQ_INT(got.round, 9);
    CHECK(!wal_timeout_decode(b, 12, &got)); /* truncated */
    CHECK(!wal_timeout_decode(b, 14, &got)); /* too long */
    b[0] = TM_STEP_PRECOMMIT + 1;            /* no such step */
    CHECK(!wal_timeout_decode(b, 13, &got));
}

static void test_a_height_record_is_eight_bytes(void) {
    const uint8_t p[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    uint64_t h = 0;
    CHECK(wal_height_decode(p, 8, &h));
    CHECK_EQ_INT(h, 0x0102030405060708ll);
    h = 5;
    CHECK(!wal_height_decode(p, 7, &h));
    CHECK(!wal_height_decode(p, 9, &h));
    CHECK_EQ_INT(h, 5); /* untouched when refused */
}

TEST_MAIN("wal_records", TEST(test_a_vote_encodes_to_the_bytes_of_earlier_logs),
          TEST(test_a_vote_of_earlier_logs_decodes),
          TEST(test_a_vote_with_a_full_signature_round_trips),
          TEST(test_a_vote_of_the_wrong_length_or_garbage_is_refused),
          TEST(test_a_proposal_encodes_to_the_bytes_of_earlier_logs),
          TEST(test_a_proposal_of_earlier_logs_decodes),
          TEST(test_an_invalid_proposal_with_a_pol_round_round_trips),
          TEST(test_a_proposal_truncated_or_garbage_is_refused),
          TEST(test_a_value_round_trips_and_needs_a_block),
          TEST(test_a_timeout_round_trips_and_refuses_garbage),
          TEST(test_a_height_record_is_eight_bytes))
