/* test_digest_set.c: the node's set of digests (chain/digest_set.h). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest_set.h"

static void test_added_digest_is_there_until_removed(void) {
    digest_set s;
    CHECK_ERR(digest_set_init(&s, 16), SLQ_OK);
    bool full = true;
    CHECK(!digest_set_has(&s, 42));
    CHECK(digest_set_add(&s, 42, &full));
    CHECK(!full);
    CHECK(digest_set_has(&s, 42));
    CHECK(!digest_set_add(&s, 42, &full)); /* already there */
    CHECK(!full);
    CHECK_EQ_INT(s.count, 1);
    digest_set_remove(&s, 42);
    CHECK(!digest_set_has(&s, 42));
    CHECK_EQ_INT(s.count, 0);
    digest_set_remove(&s, 42); /* absent: no-op */
    CHECK_EQ_INT(s.count, 0);
    digest_set_free(&s);
}

static void test_set_refuses_past_half_full(void) {
    digest_set s;
    CHECK_ERR(digest_set_init(&s, 8), SLQ_OK);
    bool full = false;
    for (uint64_t d = 1; d <= 4; d++) CHECK(digest_set_add(&s, d * 8, &full)); /* one chain */
    CHECK(!digest_set_add(&s, 99, &full));
    CHECK(full);
    CHECK(!digest_set_has(&s, 99));
    digest_set_remove(&s, 16);
    CHECK(digest_set_add(&s, 99, &full));
    CHECK(!full);
    for (uint64_t d = 1; d <= 4; d++) CHECK(digest_set_has(&s, d * 8) == (d != 2));
    digest_set_free(&s);
}

/* Removing from the middle of a probe chain that wraps around the end of the table keeps
 * every other member findable. */
static void test_remove_keeps_a_wrapping_chain_intact(void) {
    digest_set s;
    CHECK_ERR(digest_set_init(&s, 16), SLQ_OK);
    bool full;
    const uint64_t ds[] = {14, 30, 46, 15, 62, 31}; /* homes 14, 14, 14, 15, 14, 15 */
    for (size_t i = 0; i < 6; i++) CHECK(digest_set_add(&s, ds[i], &full));
    for (size_t k = 0; k < 6; k++) {
        digest_set_remove(&s, ds[k]);
        for (size_t i = 0; i < 6; i++) CHECK(digest_set_has(&s, ds[i]) == (i > k));
    }
    CHECK_EQ_INT(s.count, 0);
    digest_set_free(&s);
}

static void test_digest_of_reads_eight_bytes_big_endian_and_avoids_zero(void) {
    uint8_t h[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(digest_of(h) == 0x0102030405060708ull);
    memset(h, 0, 8);
    CHECK(digest_of(h) == 1);
}

/* Random adds and removes over few distinct values in a small table, their home slots the
 * last three (long chains that wrap around the end), checked against a plain array. */
static void test_matches_a_reference_model_under_random_operations(void) {
    enum { CAP = 64, VALUES = 48 };
    digest_set s;
    CHECK_ERR(digest_set_init(&s, CAP), SLQ_OK);
    bool in[VALUES + 1] = {false};
    size_t count = 0;
    srand(7);
    for (int step = 0; step < 200000; step++) {
        uint64_t v = 1 + (uint64_t) rand() % VALUES;
        uint64_t d = v * 64 + 61 + v % 3; /* homes 61..63 only: chains wrap to 0.. */
        bool full;
        if (rand() % 2 == 0) {
            bool added = digest_set_add(&s, d, &full);
            if (in[v]) {
                CHECK(!added && !full);
            } else if (count + 1 > CAP / 2) {
                CHECK(!added && full);
            } else {
                CHECK(added);
                in[v] = true;
                count++;
            }
        } else {
            digest_set_remove(&s, d);
            if (in[v]) count--;
            in[v] = false;
        }
        CHECK_EQ_INT(s.count, count);
        if (step % 1000 == 0)
            for (uint64_t w = 1; w <= VALUES; w++)
                CHECK(digest_set_has(&s, w * 64 + 61 + w % 3) == in[w]);
    }
    digest_set_free(&s);
}

TEST_MAIN("digest_set", TEST(test_added_digest_is_there_until_removed),
          TEST(test_set_refuses_past_half_full), TEST(test_remove_keeps_a_wrapping_chain_intact),
          TEST(test_digest_of_reads_eight_bytes_big_endian_and_avoids_zero),
          TEST(test_matches_a_reference_model_under_random_operations))
