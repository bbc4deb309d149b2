/* test_cert.c: commit certificates prove finality only with > 2/3 valid precommits. */
#include <stdlib.h>

#include "cert.h"
#include "check.h"
#include "slq/assert.h"

#define N 4

typedef struct {
    crypto_key *keys[N];
    Slq__Validator vals[N], *vp[N];
    uint8_t pubs[N][CRYPTO_PUBKEY_BYTES_MAX];
    uint8_t sigs[N][CRYPTO_SIG_BYTES_MAX];
    size_t sig_lens[N];
    uint8_t block[32];
} set;

static void set_init(set *s, crypto_suite suite) {
    memset(s, 0, sizeof *s);
    memset(s->block, 0xab, 32);
    for (int i = 0; i < N; i++) {
        CHECK_ERR(crypto_key_generate(&s->keys[i], suite), SLQ_OK);
        size_t n = 0;
        CHECK_ERR(crypto_key_public(s->keys[i], s->pubs[i], sizeof s->pubs[i], &n), SLQ_OK);
        slq__validator__init(&s->vals[i]);
        s->vals[i].pubkey = (ProtobufCBinaryData){n, s->pubs[i]};
        s->vals[i].name = "v";
        s->vals[i].power = 1;
        s->vp[i] = &s->vals[i];
        consensus_vote_fields f = {CONSENSUS_PRECOMMIT, 7, 1, -1, s->block};
        uint8_t msg[CONSENSUS_VOTE_BYTES_MAX];
        size_t len = consensus_vote_bytes(msg, "slq-test", &f);
        CHECK_ERR(crypto_sign(s->keys[i], s->sigs[i], sizeof s->sigs[i], &s->sig_lens[i], msg, len),
                  SLQ_OK);
    }
}

static void set_deinit(set *s) {
    for (int i = 0; i < N; i++) crypto_key_destroy(s->keys[i]);
}

/* Encodes a certificate with signatures from the validators whose bit is set in `who`. */
static slq_err verify_with(set *s, unsigned who, uint64_t height, const char *chain) {
    consensus_sig sigs[N];
    for (int i = 0; i < N; i++)
        sigs[i] = (who >> i) & 1 ? (consensus_sig){s->sigs[i], s->sig_lens[i]} : (consensus_sig){0};
    uint8_t *cert;
    size_t len;
    SLQ_ASSERT(consensus_cert_encode(&cert, &len, CRYPTO_SUITE_ED25519_SHA256, chain, 7, 1,
                                     s->block, s->vp, N, sigs) == SLQ_OK);
    char why[128];
    slq_err err = consensus_cert_verify(CRYPTO_SUITE_ED25519_SHA256, "slq-test", s->vp, N, cert,
                                        len, height, s->block, why, sizeof why);
    free(cert);
    return err;
}

static void test_three_of_four_precommits_prove_finality(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    CHECK_ERR(verify_with(&s, 0xf, 7, "slq-test"), SLQ_OK);
    CHECK_ERR(verify_with(&s, 0x7, 7, "slq-test"), SLQ_OK);
    CHECK_ERR(verify_with(&s, 0xe, 7, "slq-test"), SLQ_OK);
    set_deinit(&s);
}

static void test_two_of_four_or_none_do_not(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    CHECK_ERR(verify_with(&s, 0x3, 7, "slq-test"), SLQ_CERT_INVALID);
    CHECK_ERR(verify_with(&s, 0x0, 7, "slq-test"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_wrong_height_or_chain_is_refused(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    CHECK_ERR(verify_with(&s, 0xf, 8, "slq-test"), SLQ_CERT_INVALID);
    CHECK_ERR(verify_with(&s, 0xf, 7, "slq-other"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_every_signature_is_checked_not_only_a_quorum(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    s.sigs[3][0] ^= 1; /* three good, the fourth bad */
    CHECK_ERR(verify_with(&s, 0xf, 7, "slq-test"), SLQ_CERT_INVALID);
    CHECK_ERR(verify_with(&s, 0x7, 7, "slq-test"), SLQ_OK);
    set_deinit(&s);
}

static void test_a_signature_in_another_validators_slot_is_refused(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    /* Validator 0's signature placed in slot 1 (a repeated validator). */
    memcpy(s.sigs[1], s.sigs[0], sizeof s.sigs[0]);
    s.sig_lens[1] = s.sig_lens[0];
    CHECK_ERR(verify_with(&s, 0x7, 7, "slq-test"), SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_garbage_certificate_is_refused(void) {
    set s;
    set_init(&s, CRYPTO_SUITE_ED25519_SHA256);
    char why[64];
    CHECK_ERR(consensus_cert_verify(CRYPTO_SUITE_ED25519_SHA256, "slq-test", s.vp, N,
                                    (const uint8_t *) "\xff\xff", 2, 7, s.block, why, sizeof why),
              SLQ_CERT_INVALID);
    CHECK_ERR(consensus_cert_verify(CRYPTO_SUITE_ED25519_SHA256, "slq-test", s.vp, N, NULL, 0, 7,
                                    s.block, why, sizeof why),
              SLQ_CERT_INVALID);
    set_deinit(&s);
}

static void test_vote_bytes_are_fixed_width_and_distinguish_nil(void) {
    uint8_t a[CONSENSUS_VOTE_BYTES_MAX], b[CONSENSUS_VOTE_BYTES_MAX], h[32] = {0};
    consensus_vote_fields f = {CONSENSUS_PRECOMMIT, 1, 0, -1, h};
    size_t na = consensus_vote_bytes(a, "c", &f);
    f.block_hash = NULL;
    size_t nb = consensus_vote_bytes(b, "c", &f);
    CHECK_EQ_INT(na, 1 + 1 + 1 + 1 + 8 + 4 + 4 + 32);
    CHECK_EQ_INT(na, nb);
    CHECK_EQ_INT(a[0], 0x01);
    f.type = CONSENSUS_PREVOTE;
    nb = consensus_vote_bytes(b, "c", &f);
    CHECK(memcmp(a, b, na) != 0);
}

TEST_MAIN("consensus-cert", TEST(test_three_of_four_precommits_prove_finality),
          TEST(test_two_of_four_or_none_do_not), TEST(test_wrong_height_or_chain_is_refused),
          TEST(test_every_signature_is_checked_not_only_a_quorum),
          TEST(test_a_signature_in_another_validators_slot_is_refused),
          TEST(test_garbage_certificate_is_refused),
          TEST(test_vote_bytes_are_fixed_width_and_distinguish_nil))
