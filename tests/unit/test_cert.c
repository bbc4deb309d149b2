/* test_cert.c: commit certificates prove finality only with > 2/3 of the voting power in valid
 * precommits for the block. Thresholds are tested where "at least 2/3" and "more than 2/3"
 * differ (3 or 6 validators, unequal powers); nil precommits are made by re-flagging entries,
 * since consensus_cert_encode writes commits only. */
#include <stdbool.h>
#include <stdlib.h>

#include "cert.h"
#include "check.h"
#include "slq/assert.h"

#define N_MAX 6
#define SUITE CRYPTO_SUITE_ED25519_SHA256

typedef struct {
    size_t n;
    crypto_key *keys[N_MAX];
    Slq__Validator vals[N_MAX], *vp[N_MAX];
    uint8_t pubs[N_MAX][CRYPTO_PUBKEY_BYTES_MAX];
    uint8_t sigs[N_MAX][CRYPTO_SIG_BYTES_MAX]; /* precommits for block at (7, 1) */
    size_t sig_lens[N_MAX];
    uint8_t nil_sigs[N_MAX][CRYPTO_SIG_BYTES_MAX]; /* nil precommits at (7, 1) */
    size_t nil_sig_lens[N_MAX];
    uint8_t block[32];
} set;

/* Validator i's precommit at (7, 1) for `block` (NULL: nil) into sig. */
static void sign_precommit(const set *s, size_t i, const uint8_t *block, uint8_t *sig,
                           size_t *sig_len) {
    consensus_vote_fields f = {CONSENSUS_PRECOMMIT, 7, 1, -1, block};
    uint8_t msg[CONSENSUS_VOTE_BYTES_MAX];
    size_t len = consensus_vote_bytes(msg, "slq-test", &f);
    CHECK_ERR(crypto_sign(s->keys[i], sig, CRYPTO_SIG_BYTES_MAX, sig_len, msg, len), SLQ_OK);
}

/* n validators with these powers (NULL: all 1), each with a precommit for the block and a
 * nil precommit. */
static void set_init(set *s, size_t n, const uint64_t *powers) {
    SLQ_ASSERT(n <= N_MAX);
    memset(s, 0, sizeof *s);
    s->n = n;
    memset(s->block, 0xab, 32);
    for (size_t i = 0; i < n; i++) {
        CHECK_ERR(crypto_key_generate(&s->keys[i], SUITE), SLQ_OK);
        size_t len = 0;
        CHECK_ERR(crypto_key_public(s->keys[i], s->pubs[i], sizeof s->pubs[i], &len), SLQ_OK);
        slq__validator__init(&s->vals[i]);
        s->vals[i].pubkey = (ProtobufCBinaryData){len, s->pubs[i]};
        s->vals[i].name = "v";
        s->vals[i].power = powers != NULL ? powers[i] : 1;
        s->vp[i] = &s->vals[i];
        sign_precommit(s, i, s->block, s->sigs[i], &s->sig_lens[i]);
        sign_precommit(s, i, NULL, s->nil_sigs[i], &s->nil_sig_lens[i]);
    }
}

static void set_deinit(set *s) {
    for (size_t i = 0; i < s->n; i++) crypto_key_destroy(s->keys[i]);
}

/* Encodes a certificate for s->block at (7, 1) on `chain`. Entry i is kinds[i]: 'c' a commit,
 * 'n' a nil precommit, '-' absent; and two lies: 'N' flagged nil but carrying the block's
 * signature, 'C' flagged commit but carrying the nil signature. The caller frees *cert. */
static void encode(const set *s, const char *kinds, const char *chain, uint8_t **cert,
                   size_t *len) {
    SLQ_ASSERT(strlen(kinds) == s->n);
    consensus_sig sigs[N_MAX];
    for (size_t i = 0; i < s->n; i++) {
        bool block_sig = kinds[i] == 'c' || kinds[i] == 'N';
        bool nil_sig = kinds[i] == 'n' || kinds[i] == 'C';
        sigs[i] = block_sig ? (consensus_sig){s->sigs[i], s->sig_lens[i]}
                  : nil_sig ? (consensus_sig){s->nil_sigs[i], s->nil_sig_lens[i]}
                            : (consensus_sig){0};
    }
    SLQ_ASSERT(consensus_cert_encode(cert, len, SUITE, chain, 7, 1, s->block, s->vp, s->n, sigs) ==
               SLQ_OK);
    if (strpbrk(kinds, "nN") == NULL) return;
    Slq__Certificate *c = slq__certificate__unpack(NULL, *len, *cert);
    SLQ_ASSERT(c != NULL && c->n_sigs == s->n);
    for (size_t i = 0; i < s->n; i++)
        if (kinds[i] == 'n' || kinds[i] == 'N')
            c->sigs[i]->flag = SLQ__COMMIT_FLAG__COMMIT_FLAG_NIL;
    free(*cert);
    *len = slq__certificate__get_packed_size(c);
    *cert = malloc(*len);
    SLQ_ASSERT(*cert != NULL);
    slq__certificate__pack(c, *cert);
    slq__certificate__free_unpacked(c, NULL);
}

/* Verifies a certificate of `kinds` made on `chain` as the one for s->block at `height`. */
static slq_err verify_at(const set *s, const char *kinds, uint64_t height, const char *chain) {
    uint8_t *cert;
    size_t len;
    encode(s, kinds, chain, &cert, &len);
    char why[128];
    slq_err err = consensus_cert_verify(SUITE, "slq-test", s->vp, s->n, cert, len, height, s->block,
                                        why, sizeof why);
    free(cert);
    return err;
}

static slq_err verify(const set *s, const char *kinds) {
    return verify_at(s, kinds, 7, "slq-test");
}

static void test_three_of_four_precommits_prove_finality(void) {
    set s;
    set_init(&s, 4, NULL);
    CHECK_ERR(verify(&s, "cccc"), SLQ_OK);
    CHECK_ERR(verify(&s, "ccc-"), SLQ_OK);
    CHECK_ERR(verify(&s, "-ccc"), SLQ_OK);
    set_deinit(&s);
}

static void test_two_of_four_or_none_do_not(void) {
    set s;
    set_init(&s, 4, NULL);
    CHECK_ERR(verify(&s, "cc--"), SLQ_CERT_INVALID);
    CHECK_ERR(verify(&s, "----"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_two_thirds_of_the_power_exactly_is_not_finality(void) {
    static const uint64_t unequal[4] = {2, 1, 1, 2};
    set s;
    set_init(&s, 3, NULL);
    CHECK_ERR(verify(&s, "cc-"), SLQ_CERT_INVALID); /* 2 of 3 */
    CHECK_ERR(verify(&s, "ccc"), SLQ_OK);
    set_deinit(&s);
    set_init(&s, 6, NULL);
    CHECK_ERR(verify(&s, "cccc--"), SLQ_CERT_INVALID); /* 4 of 6 */
    CHECK_ERR(verify(&s, "ccccc-"), SLQ_OK);
    set_deinit(&s);
    set_init(&s, 4, unequal);
    CHECK_ERR(verify(&s, "ccc-"), SLQ_CERT_INVALID); /* 3 of 4 validators, power 4 of 6 */
    CHECK_ERR(verify(&s, "cc-c"), SLQ_OK);           /* 3 of 4 validators, power 5 of 6 */
    set_deinit(&s);
}

static void test_nil_precommits_are_verified_but_never_count_for_the_block(void) {
    set s;
    set_init(&s, 4, NULL);
    CHECK_ERR(verify(&s, "cccn"), SLQ_OK);
    CHECK_ERR(verify(&s, "ccn-"), SLQ_CERT_INVALID); /* two for the block, one nil */
    CHECK_ERR(verify(&s, "ccnn"), SLQ_CERT_INVALID);
    CHECK_ERR(verify(&s, "nnnn"), SLQ_CERT_INVALID);
    CHECK_ERR(verify(&s, "cccN"), SLQ_CERT_INVALID); /* a nil entry must carry a nil vote */
    CHECK_ERR(verify(&s, "cccC"), SLQ_CERT_INVALID); /* a commit must carry the block's vote */
    s.nil_sigs[3][0] ^= 1;
    CHECK_ERR(verify(&s, "cccn"), SLQ_CERT_INVALID); /* a nil entry's signature is checked too */
    set_deinit(&s);
}

static void test_wrong_height_or_chain_is_refused(void) {
    set s;
    set_init(&s, 4, NULL);
    CHECK_ERR(verify_at(&s, "cccc", 8, "slq-test"), SLQ_CERT_INVALID);
    CHECK_ERR(verify_at(&s, "cccc", 7, "slq-other"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_precommits_for_another_block_do_not_prove_this_one(void) {
    set s;
    set_init(&s, 4, NULL);
    uint8_t other[32];
    memset(other, 0xcd, sizeof other);
    for (size_t i = 0; i < s.n; i++) sign_precommit(&s, i, other, s.sigs[i], &s.sig_lens[i]);
    CHECK_ERR(verify(&s, "cccc"), SLQ_CERT_INVALID); /* the certificate names s.block */
    set_deinit(&s);
}

static void test_every_signature_is_checked_not_only_a_quorum(void) {
    for (size_t bad = 0; bad < 4; bad++) {
        set s;
        set_init(&s, 4, NULL);
        s.sigs[bad][0] ^= 1; /* three good, one bad, in every position */
        CHECK_ERR(verify(&s, "cccc"), SLQ_CERT_INVALID);
        char kinds[] = "cccc";
        kinds[bad] = '-';
        CHECK_ERR(verify(&s, kinds), SLQ_OK);
        set_deinit(&s);
    }
}

static void test_a_signature_in_another_validators_slot_is_refused(void) {
    set s;
    set_init(&s, 4, NULL);
    /* Validator 0's signature placed in slot 1 (a repeated validator). */
    memcpy(s.sigs[1], s.sigs[0], sizeof s.sigs[0]);
    s.sig_lens[1] = s.sig_lens[0];
    CHECK_ERR(verify(&s, "ccc-"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_garbage_certificate_is_refused(void) {
    set s;
    set_init(&s, 4, NULL);
    char why[64];
    CHECK_ERR(consensus_cert_verify(SUITE, "slq-test", s.vp, s.n, (const uint8_t *) "\xff\xff", 2,
                                    7, s.block, why, sizeof why),
              SLQ_CERT_INVALID);
    CHECK_ERR(
        consensus_cert_verify(SUITE, "slq-test", s.vp, s.n, NULL, 0, 7, s.block, why, sizeof why),
        SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_vote_bytes_are_fixed_width_and_distinguish_nil(void) {
    uint8_t a[CONSENSUS_VOTE_BYTES_MAX], b[CONSENSUS_VOTE_BYTES_MAX], h[32], zero[32] = {0};
    memset(h, 0xab, sizeof h); /* a real block hash, not the all-zero nil id */
    consensus_vote_fields f = {CONSENSUS_PRECOMMIT, 1, 0, -1, h};
    size_t na = consensus_vote_bytes(a, "c", &f);
    f.block_hash = NULL;
    size_t nb = consensus_vote_bytes(b, "c", &f);
    CHECK_EQ_INT(na, 1 + 1 + 1 + 1 + 8 + 4 + 4 + 32);
    CHECK_EQ_INT(na, nb);
    CHECK_EQ_INT(a[0], 0x01);
    CHECK(memcmp(a, b, na) != 0);
    CHECK_MEM(a + na - 32, h, 32);
    CHECK_MEM(b + nb - 32, zero, 32);
    f.block_hash = h;
    f.type = CONSENSUS_PREVOTE;
    nb = consensus_vote_bytes(b, "c", &f);
    CHECK(memcmp(a, b, na) != 0);
}

/* A stored certificate shows which validators signed at its height: a commit or a nil
 * precommit in a validator's name is its signature; an absent entry, another validator's
 * entry or bytes that do not decode are not. */
static void test_signed_by_finds_commits_and_nil_precommits_of_that_validator(void) {
    set s;
    set_init(&s, 4, NULL);
    uint8_t addrs[4][CRYPTO_ADDRESS_BYTES], stranger[CRYPTO_ADDRESS_BYTES];
    for (size_t i = 0; i < 4; i++)
        CHECK_ERR(crypto_address(SUITE, addrs[i], s.pubs[i], s.vals[i].pubkey.len), SLQ_OK);
    memset(stranger, 0x5a, sizeof stranger);
    uint8_t *cert;
    size_t len;
    encode(&s, "cn-c", "slq-test", &cert, &len);
    CHECK(consensus_cert_signed_by(cert, len, addrs[0]));
    CHECK(consensus_cert_signed_by(cert, len, addrs[1])); /* a nil precommit is signed too */
    CHECK(!consensus_cert_signed_by(cert, len, addrs[2]));
    CHECK(consensus_cert_signed_by(cert, len, addrs[3]));
    CHECK(!consensus_cert_signed_by(cert, len, stranger));
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    CHECK(!consensus_cert_signed_by(junk, sizeof junk, addrs[0]));
    CHECK(!consensus_cert_signed_by(cert, 0, addrs[0]));
    free(cert);
    set_deinit(&s);
}

TEST_MAIN("consensus-cert", TEST(test_three_of_four_precommits_prove_finality),
          TEST(test_signed_by_finds_commits_and_nil_precommits_of_that_validator),
          TEST(test_two_of_four_or_none_do_not),
          TEST(test_two_thirds_of_the_power_exactly_is_not_finality),
          TEST(test_nil_precommits_are_verified_but_never_count_for_the_block),
          TEST(test_wrong_height_or_chain_is_refused),
          TEST(test_precommits_for_another_block_do_not_prove_this_one),
          TEST(test_every_signature_is_checked_not_only_a_quorum),
          TEST(test_a_signature_in_another_validators_slot_is_refused),
          TEST(test_garbage_certificate_is_refused),
          TEST(test_vote_bytes_are_fixed_width_and_distinguish_nil))
