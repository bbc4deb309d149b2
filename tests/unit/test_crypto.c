/* test_crypto.c: unit tests of crypto/ through crypto.h only. Known-answer vectors (RFC 8032
 * Ed25519, FIPS 180-2 SHA-256, GB/T 32905 SM3, an SM2 signature with the standard ID),
 * interoperability with the `openssl` command line in both directions, exact error codes for
 * tampered input in both suites, PKCS#8 PEM keys (and keys of other kinds refused), the RFC
 * 6962 Merkle shape and the address text form. The command-line tests work in a mkdtemp
 * directory under /tmp and remove it. Single-threaded. */
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "crypto.h"

#define ED            CRYPTO_SUITE_ED25519_SHA256
#define SM            CRYPTO_SUITE_SM2_SM3
#define PEM_BYTES_MAX 4096u

/* ---- helpers ---- */

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decodes lowercase hex into out; returns the byte count. The vectors are ours: abort on junk. */
static size_t unhex(uint8_t *out, size_t cap, const char *hex) {
    size_t n = strlen(hex) / 2;
    if (strlen(hex) % 2 != 0 || n > cap) abort();
    for (size_t i = 0; i < n; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) abort();
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return n;
}

static void check_hash(crypto_suite suite, const char *msg, const char *want_hex) {
    uint8_t want[CRYPTO_HASH_BYTES], got[CRYPTO_HASH_BYTES];
    CHECK_EQ_INT(unhex(want, sizeof want, want_hex), CRYPTO_HASH_BYTES);
    crypto_hash(suite, got, (const uint8_t *) msg, strlen(msg));
    CHECK_MEM(got, want, CRYPTO_HASH_BYTES);
}

/* Standard base64 with padding, NUL-terminated; out needs 4 * ceil(n / 3) + 1 bytes. */
static void base64(char *out, const uint8_t *in, size_t n) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16;
        if (i + 1 < n) v |= (uint32_t) in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
}

/* An Ed25519 key from an RFC 8032 secret (the 32-byte seed), through a PKCS#8 PEM. */
static crypto_key *ed25519_key_from_seed(const uint8_t seed[32]) {
    static const char prefix_hex[] = "302e020100300506032b657004220420";
    uint8_t der[48];
    size_t prefix_len = unhex(der, sizeof der, prefix_hex);
    memcpy(der + prefix_len, seed, 32);
    char b64[65], pem[256];
    base64(b64, der, sizeof der);
    int n = snprintf(pem, sizeof pem,
                     "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n", b64);
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_load_pem(&key, pem, (size_t) n, NULL), SLQ_OK);
    memset(der, 0, sizeof der); /* test secrets, but wipe them all the same */
    memset(pem, 0, sizeof pem);
    return key;
}

static crypto_key *generate(crypto_suite suite) {
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_generate(&key, suite), SLQ_OK);
    if (key == NULL) abort(); /* every later step would crash less helpfully */
    return key;
}

/* ---- suites ---- */

static void test_suite_parse_accepts_both_names(void) {
    crypto_suite s = 0;
    CHECK_ERR(crypto_suite_parse(&s, "ed25519-sha256"), SLQ_OK);
    CHECK_EQ_INT(s, ED);
    CHECK_ERR(crypto_suite_parse(&s, "sm2-sm3"), SLQ_OK);
    CHECK_EQ_INT(s, SM);
}

static void test_suite_parse_rejects_other_names(void) {
    static const char *const rows[] = {"", "ed25519", "SM2-SM3", "sm2-sm3 ", "ed25519-sha256x"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        crypto_suite s = ED;
        CHECK_ERR(crypto_suite_parse(&s, rows[i]), SLQ_SUITE_UNKNOWN);
    }
}

static void test_suite_name_round_trips_through_parse(void) {
    crypto_suite s = 0;
    CHECK_ERR(crypto_suite_parse(&s, crypto_suite_name(ED)), SLQ_OK);
    CHECK_EQ_INT(s, ED);
    CHECK_ERR(crypto_suite_parse(&s, crypto_suite_name(SM)), SLQ_OK);
    CHECK_EQ_INT(s, SM);
    CHECK(crypto_suite_name((crypto_suite) 99) != NULL);
}

static void test_pubkey_len_is_32_for_ed25519_and_65_for_sm2(void) {
    CHECK_EQ_INT(crypto_pubkey_len(ED), 32);
    CHECK_EQ_INT(crypto_pubkey_len(SM), 65);
}

/* ---- hashing ---- */

static const char sha_448_bit[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_sha256_of_abc_matches_fips_180_2(void) {
    check_hash(ED, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha256_of_empty_string_matches_known_value(void) {
    check_hash(ED, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_sha256_of_448_bit_message_matches_fips_180_2(void) {
    check_hash(ED, sha_448_bit, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sm3_of_abc_matches_gbt_32905(void) {
    check_hash(SM, "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

static void test_sm3_of_abcd_sixteen_times_matches_gbt_32905(void) {
    char msg[65] = {0};
    for (int i = 0; i < 16; i++) memcpy(msg + 4 * i, "abcd", 4);
    check_hash(SM, msg, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
}

/* Feeds sha_448_bit in pieces of 0, 1, 2, ... bytes and compares with the one-shot hash. */
static void check_hasher_in_pieces(crypto_suite suite) {
    const uint8_t *msg = (const uint8_t *) sha_448_bit;
    size_t len = strlen(sha_448_bit);
    uint8_t want[CRYPTO_HASH_BYTES], got[CRYPTO_HASH_BYTES];
    crypto_hash(suite, want, msg, len);
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    for (size_t off = 0, piece = 0; off < len; off += piece, piece++) {
        size_t n = piece < len - off ? piece : len - off;
        crypto_hasher_update(&h, msg + off, n);
    }
    crypto_hasher_final(&h, got);
    CHECK_MEM(got, want, CRYPTO_HASH_BYTES);
}

static void test_sha256_hasher_in_pieces_equals_one_shot(void) {
    check_hasher_in_pieces(ED);
}

static void test_sm3_hasher_in_pieces_equals_one_shot(void) {
    check_hasher_in_pieces(SM);
}

static void test_hasher_without_updates_hashes_the_empty_string(void) {
    uint8_t want[CRYPTO_HASH_BYTES], got[CRYPTO_HASH_BYTES];
    crypto_hash(SM, want, NULL, 0);
    crypto_hasher h;
    crypto_hasher_init(&h, SM);
    crypto_hasher_update(&h, NULL, 0);
    crypto_hasher_final(&h, got);
    CHECK_MEM(got, want, CRYPTO_HASH_BYTES);
}

/* ---- Ed25519 known answers (RFC 8032 §7.1) ---- */

typedef struct {
    const char *seed, *pub, *msg, *sig;
} rfc8032_vector;

static const rfc8032_vector rfc8032[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf"
     "9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f"
     "11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984"
     "dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

static void check_rfc8032(const rfc8032_vector *v) {
    uint8_t seed[32], want_pub[32], msg[8], want_sig[64];
    CHECK_EQ_INT(unhex(seed, sizeof seed, v->seed), 32);
    CHECK_EQ_INT(unhex(want_pub, sizeof want_pub, v->pub), 32);
    size_t msg_len = unhex(msg, sizeof msg, v->msg);
    CHECK_EQ_INT(unhex(want_sig, sizeof want_sig, v->sig), 64);
    crypto_key *key = ed25519_key_from_seed(seed);
    if (key == NULL) return;
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX], sig[CRYPTO_SIG_BYTES_MAX];
    size_t pub_len = 0, sig_len = 0;
    CHECK_ERR(crypto_key_public(key, pub, sizeof pub, &pub_len), SLQ_OK);
    CHECK_EQ_INT(pub_len, 32);
    CHECK_MEM(pub, want_pub, 32);
    CHECK_ERR(crypto_sign(key, sig, sizeof sig, &sig_len, msg, msg_len), SLQ_OK);
    CHECK_EQ_INT(sig_len, 64);
    CHECK_MEM(sig, want_sig, 64);
    CHECK_ERR(crypto_verify(ED, want_pub, 32, msg, msg_len, want_sig, 64), SLQ_OK);
    crypto_key_destroy(key);
}

static void test_ed25519_signs_rfc8032_test_1(void) {
    check_rfc8032(&rfc8032[0]);
}
static void test_ed25519_signs_rfc8032_test_2(void) {
    check_rfc8032(&rfc8032[1]);
}
static void test_ed25519_signs_rfc8032_test_3(void) {
    check_rfc8032(&rfc8032[2]);
}

/* ---- SM2 known answer ---- */

/* Made once by `openssl pkeyutl -sign -rawin -digest sm3 -pkeyopt distid:1234567812345678`
 * (OpenSSL 3.0.19): it verifies only with the GB/T 32918 default ID, not with OpenSSL's
 * empty one, and needs no openssl command at test time. */
static const char sm2_kat_msg[] = "slq: an SM2 signature made by openssl with the standard ID";
static const char sm2_kat_pub[] =
    "04edb515e3382fea699b602dc37774775b0d678453c5053214abdc3cc766070a1012a43b7bedb745c25babf9a"
    "8232e7aa65bd022c88d09e89e102d392bcb046eaa";
static const char sm2_kat_sig[] =
    "3046022100daad9df64491ddda7eafbd2b638f730fe7a6d5ddbcae715db7ae7b24117c36d4022100f9b6d241e7"
    "f6951c28ce66ece028aa38eebcfb604714ce9ee2879f070edb5bee";

static void test_sm2_verifies_a_known_signature_made_with_the_standard_id(void) {
    uint8_t pub[65], sig[72];
    CHECK_EQ_INT(unhex(pub, sizeof pub, sm2_kat_pub), 65);
    CHECK_EQ_INT(unhex(sig, sizeof sig, sm2_kat_sig), 72);
    const uint8_t *msg = (const uint8_t *) sm2_kat_msg;
    CHECK_ERR(crypto_verify(SM, pub, 65, msg, strlen(sm2_kat_msg), sig, 72), SLQ_OK);
    CHECK_ERR(crypto_verify(SM, pub, 65, msg, strlen(sm2_kat_msg) - 1, sig, 72), SLQ_SIG_INVALID);
}

/* ---- signing and verifying ---- */

static const uint8_t message[] = "transfer 1234.56 yuan to slq1...";

/* A fresh key of `suite`, its public key and its signature over `message`. */
typedef struct {
    crypto_key *key;
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len;
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len;
} signed_message;

static signed_message sign_message(crypto_suite suite) {
    signed_message s = {.key = generate(suite)};
    CHECK_EQ_INT(crypto_key_suite(s.key), suite);
    CHECK_ERR(crypto_key_public(s.key, s.pub, sizeof s.pub, &s.pub_len), SLQ_OK);
    CHECK_EQ_INT(s.pub_len, crypto_pubkey_len(suite));
    CHECK_ERR(crypto_sign(s.key, s.sig, sizeof s.sig, &s.sig_len, message, sizeof message), SLQ_OK);
    return s;
}

static slq_err verify_message(crypto_suite suite, const signed_message *s) {
    return crypto_verify(suite, s->pub, s->pub_len, message, sizeof message, s->sig, s->sig_len);
}

static void check_round_trip(crypto_suite suite) {
    signed_message s = sign_message(suite);
    CHECK_ERR(verify_message(suite, &s), SLQ_OK);
    CHECK(s.sig_len <= CRYPTO_SIG_BYTES_MAX);
    crypto_key_destroy(s.key);
}

static void test_ed25519_signature_verifies(void) {
    check_round_trip(ED);
}
static void test_sm2_signature_verifies(void) {
    check_round_trip(SM);
}

static void test_sm2_signature_is_der_of_at_most_72_bytes(void) {
    signed_message s = sign_message(SM);
    CHECK(s.sig_len <= 72);
    CHECK_EQ_INT(s.sig[0], 0x30); /* SEQUENCE */
    CHECK_EQ_INT(s.sig[1], s.sig_len - 2);
    CHECK_EQ_INT(s.pub[0], 0x04);
    crypto_key_destroy(s.key);
}

static void test_sm2_signatures_are_randomized_and_both_verify(void) {
    signed_message a = sign_message(SM);
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    CHECK_ERR(crypto_sign(a.key, sig, sizeof sig, &sig_len, message, sizeof message), SLQ_OK);
    CHECK(sig_len != a.sig_len || memcmp(sig, a.sig, sig_len) != 0);
    CHECK_ERR(crypto_verify(SM, a.pub, a.pub_len, message, sizeof message, sig, sig_len), SLQ_OK);
    crypto_key_destroy(a.key);
}

static void test_ed25519_signing_is_deterministic(void) {
    signed_message a = sign_message(ED);
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    CHECK_ERR(crypto_sign(a.key, sig, sizeof sig, &sig_len, message, sizeof message), SLQ_OK);
    CHECK_EQ_INT(sig_len, a.sig_len);
    CHECK_MEM(sig, a.sig, sig_len);
    crypto_key_destroy(a.key);
}

static void test_sign_rejects_a_too_small_buffer(void) {
    crypto_key *key = generate(ED);
    uint8_t sig[63];
    size_t sig_len = 0;
    CHECK_ERR(crypto_sign(key, sig, sizeof sig, &sig_len, message, sizeof message),
              SLQ_INVALID_ARGUMENT);
    crypto_key_destroy(key);
}

static void check_rejects_wrong_key(crypto_suite suite) {
    signed_message s = sign_message(suite), other = sign_message(suite);
    memcpy(s.pub, other.pub, other.pub_len);
    CHECK_ERR(verify_message(suite, &s), SLQ_SIG_INVALID);
    crypto_key_destroy(s.key);
    crypto_key_destroy(other.key);
}

static void check_rejects_flipped_message_bit(crypto_suite suite) {
    signed_message s = sign_message(suite);
    for (size_t bit = 0; bit < 8 * sizeof message; bit += 37) {
        uint8_t msg[sizeof message];
        memcpy(msg, message, sizeof msg);
        msg[bit / 8] ^= (uint8_t) (1u << bit % 8);
        CHECK_ERR(crypto_verify(suite, s.pub, s.pub_len, msg, sizeof msg, s.sig, s.sig_len),
                  SLQ_SIG_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void check_rejects_flipped_signature_bit(crypto_suite suite) {
    signed_message s = sign_message(suite);
    for (size_t bit = 0; bit < 8 * s.sig_len; bit++) {
        signed_message t = s;
        t.sig[bit / 8] ^= (uint8_t) (1u << bit % 8);
        CHECK_ERR(verify_message(suite, &t), SLQ_SIG_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void check_rejects_truncated_signature(crypto_suite suite) {
    signed_message s = sign_message(suite);
    for (size_t len = 0; len < s.sig_len; len++) {
        signed_message t = s;
        t.sig_len = len;
        CHECK_ERR(verify_message(suite, &t), SLQ_SIG_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void check_rejects_wrong_length_pubkey(crypto_suite suite) {
    signed_message s = sign_message(suite);
    size_t lens[] = {0, 1, 31, 32, 33, 64, 65, 66};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        if (lens[i] == s.pub_len) continue;
        uint8_t pub[80] = {0};
        memcpy(pub, s.pub, s.pub_len);
        CHECK_ERR(crypto_verify(suite, pub, lens[i], message, sizeof message, s.sig, s.sig_len),
                  SLQ_PUBKEY_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void test_ed25519_rejects_signature_of_another_key(void) {
    check_rejects_wrong_key(ED);
}
static void test_sm2_rejects_signature_of_another_key(void) {
    check_rejects_wrong_key(SM);
}
static void test_ed25519_rejects_flipped_message_bit(void) {
    check_rejects_flipped_message_bit(ED);
}
static void test_sm2_rejects_flipped_message_bit(void) {
    check_rejects_flipped_message_bit(SM);
}
static void test_ed25519_rejects_flipped_signature_bit(void) {
    check_rejects_flipped_signature_bit(ED);
}
static void test_sm2_rejects_flipped_signature_bit(void) {
    check_rejects_flipped_signature_bit(SM);
}
static void test_ed25519_rejects_truncated_signature(void) {
    check_rejects_truncated_signature(ED);
}
static void test_sm2_rejects_truncated_signature(void) {
    check_rejects_truncated_signature(SM);
}
static void test_ed25519_rejects_wrong_length_pubkey(void) {
    check_rejects_wrong_length_pubkey(ED);
}
static void test_sm2_rejects_wrong_length_pubkey(void) {
    check_rejects_wrong_length_pubkey(SM);
}

static void test_ed25519_rejects_signature_with_trailing_byte(void) {
    signed_message s = sign_message(ED);
    s.sig_len++;
    CHECK_ERR(verify_message(ED, &s), SLQ_SIG_INVALID);
    crypto_key_destroy(s.key);
}

static void test_sm2_rejects_signature_longer_than_72_bytes(void) {
    signed_message s = sign_message(SM);
    uint8_t sig[80] = {0};
    memcpy(sig, s.sig, s.sig_len);
    CHECK_ERR(crypto_verify(SM, s.pub, s.pub_len, message, sizeof message, sig, 73),
              SLQ_SIG_INVALID);
    CHECK_ERR(crypto_verify(SM, s.pub, s.pub_len, message, sizeof message, sig, s.sig_len + 1),
              SLQ_SIG_INVALID); /* trailing garbage after the DER */
    crypto_key_destroy(s.key);
}

static void test_sm2_rejects_pubkey_that_is_not_on_the_curve(void) {
    signed_message s = sign_message(SM);
    s.pub[64] ^= 1; /* y no longer matches x */
    CHECK_ERR(verify_message(SM, &s), SLQ_PUBKEY_INVALID);
    crypto_key_destroy(s.key);
}

static void test_sm2_rejects_pubkey_not_in_uncompressed_form(void) {
    signed_message s = sign_message(SM);
    static const uint8_t prefixes[] = {0x00, 0x02, 0x03, 0x06, 0x07};
    for (size_t i = 0; i < sizeof prefixes; i++) {
        signed_message t = s;
        t.pub[0] = prefixes[i];
        CHECK_ERR(verify_message(SM, &t), SLQ_PUBKEY_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void test_verify_rejects_pubkey_of_the_other_suite(void) {
    signed_message ed = sign_message(ED), sm = sign_message(SM);
    CHECK_ERR(verify_message(SM, &ed), SLQ_PUBKEY_INVALID);
    CHECK_ERR(verify_message(ED, &sm), SLQ_PUBKEY_INVALID);
    crypto_key_destroy(ed.key);
    crypto_key_destroy(sm.key);
}

/* ---- the per-thread cache of prepared verification contexts ---- */

/* Keys whose cache slot (the last byte of the public key: 256 slots) is the same: verifying
 * with one must never answer for the other. */
#define SLOT_KEYS_MAX 160 /* 160 keys in 256 slots all apart: probability below 1e-20 */

static size_t cache_slot(const signed_message *k) {
    return k->pub[k->pub_len - 1];
}

static void check_keys_sharing_a_slot_do_not_answer_for_each_other(crypto_suite suite) {
    signed_message keys[SLOT_KEYS_MAX];
    size_t n = 0, a = 0, b = 0;
    bool found = false;
    while (!found && n < SLOT_KEYS_MAX) {
        keys[n] = sign_message(suite);
        for (size_t i = 0; i < n && !found; i++) {
            if (cache_slot(&keys[i]) == cache_slot(&keys[n])) {
                a = i;
                b = n;
                found = true;
            }
        }
        n++;
    }
    CHECK(found);
    for (int round = 0; round < 3 && found; round++) {
        CHECK_ERR(verify_message(suite, &keys[a]), SLQ_OK);
        CHECK_ERR(verify_message(suite, &keys[b]), SLQ_OK);
        /* a's signature under b's key, and the reverse */
        signed_message t = keys[b];
        memcpy(t.sig, keys[a].sig, keys[a].sig_len);
        t.sig_len = keys[a].sig_len;
        CHECK_ERR(verify_message(suite, &t), SLQ_SIG_INVALID);
        t = keys[a];
        memcpy(t.sig, keys[b].sig, keys[b].sig_len);
        t.sig_len = keys[b].sig_len;
        CHECK_ERR(verify_message(suite, &t), SLQ_SIG_INVALID);
    }
    for (size_t i = 0; i < n; i++) crypto_key_destroy(keys[i].key);
}

static void test_ed25519_keys_sharing_a_cache_slot_stay_apart(void) {
    check_keys_sharing_a_slot_do_not_answer_for_each_other(ED);
}
static void test_sm2_keys_sharing_a_cache_slot_stay_apart(void) {
    check_keys_sharing_a_slot_do_not_answer_for_each_other(SM);
}

/* A refused signature leaves nothing behind: the same key verifies a good one next. */
static void check_good_and_bad_signatures_alternate(crypto_suite suite) {
    signed_message s = sign_message(suite);
    for (int i = 0; i < 20; i++) {
        signed_message t = s;
        t.sig[i % t.sig_len] ^= 0x40;
        CHECK_ERR(verify_message(suite, &t), SLQ_SIG_INVALID);
        CHECK_ERR(verify_message(suite, &s), SLQ_OK);
        CHECK_ERR(
            crypto_verify(suite, s.pub, s.pub_len, message, sizeof message - 1, s.sig, s.sig_len),
            SLQ_SIG_INVALID);
    }
    crypto_key_destroy(s.key);
}

static void test_ed25519_good_and_bad_signatures_alternate_under_one_key(void) {
    check_good_and_bad_signatures_alternate(ED);
}
static void test_sm2_good_and_bad_signatures_alternate_under_one_key(void) {
    check_good_and_bad_signatures_alternate(SM);
}

/* Threads verify the same keys at once, each with its own cache; threads that exit free
 * theirs (LeakSanitizer checks that under ASan). */
#define VERIFY_THREADS 4
#define VERIFY_KEYS    8

typedef struct {
    const signed_message *keys;
    size_t good, bad;
} verify_thread_arg;

static void *verify_thread(void *p) {
    verify_thread_arg *a = p;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < VERIFY_KEYS; i++) {
            const signed_message *k = &a->keys[i];
            crypto_suite suite = i % 2 == 0 ? ED : SM;
            if (verify_message(suite, k) == SLQ_OK) a->good++;
            signed_message t = a->keys[(i + 2) % VERIFY_KEYS]; /* same suite, other key */
            memcpy(t.pub, k->pub, k->pub_len);
            if (verify_message(suite, &t) == SLQ_SIG_INVALID) a->bad++;
        }
    }
    return NULL;
}

static void test_threads_verify_at_once_with_their_own_caches(void) {
    signed_message keys[VERIFY_KEYS];
    for (size_t i = 0; i < VERIFY_KEYS; i++) keys[i] = sign_message(i % 2 == 0 ? ED : SM);
    pthread_t t[VERIFY_THREADS];
    verify_thread_arg args[VERIFY_THREADS];
    for (size_t i = 0; i < VERIFY_THREADS; i++) {
        args[i] = (verify_thread_arg){.keys = keys};
        CHECK_EQ_INT(pthread_create(&t[i], NULL, verify_thread, &args[i]), 0);
    }
    for (size_t i = 0; i < VERIFY_THREADS; i++) {
        CHECK_EQ_INT(pthread_join(t[i], NULL), 0);
        CHECK_EQ_INT(args[i].good, 50 * VERIFY_KEYS);
        CHECK_EQ_INT(args[i].bad, 50 * VERIFY_KEYS);
    }
    for (size_t i = 0; i < VERIFY_KEYS; i++) crypto_key_destroy(keys[i].key);
}

/* ---- the openssl command line ---- */

/* A scratch directory under /tmp with the fixed file names the tests use. */
typedef struct {
    char dir[32];
} scratch;

static const char *const scratch_files[] = {"key.pem", "enc.pem", "msg",   "sig",
                                            "a.der",   "b.der",   "c.der", "out.pem"};

static int scratch_open(scratch *s) {
    snprintf(s->dir, sizeof s->dir, "/tmp/slq-crypto-XXXXXX");
    if (mkdtemp(s->dir) == NULL) {
        fprintf(stderr, "  mkdtemp failed\n");
        return 0;
    }
    return 1;
}

static void scratch_close(scratch *s) {
    char path[64];
    for (size_t i = 0; i < sizeof scratch_files / sizeof scratch_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", s->dir, scratch_files[i]);
        (void) unlink(path); /* most tests create only some of the files */
    }
    CHECK_EQ_INT(rmdir(s->dir), 0);
}

static void scratch_path(char *out, size_t cap, const scratch *s, const char *name) {
    snprintf(out, cap, "%s/%s", s->dir, name);
}

/* Runs a shell command in the scratch directory; returns 1 when it exits with 0. */
__attribute__((format(printf, 2, 3))) static int sh(const scratch *s, const char *fmt, ...) {
    char cmd[512], body[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd '%s' && ( %s ) >/dev/null 2>&1", s->dir, body);
    int r = system(cmd);
    if (r != 0) fprintf(stderr, "  command failed (%d): %s\n", r, body);
    return r == 0;
}

static size_t read_file(const scratch *s, const char *name, void *buf, size_t cap) {
    char path[64];
    scratch_path(path, sizeof path, s, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static int write_file(const scratch *s, const char *name, const void *buf, size_t n) {
    char path[64];
    scratch_path(path, sizeof path, s, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return 0;
    int ok = fwrite(buf, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static crypto_key *load_file(const scratch *s, const char *name, const char *passphrase) {
    char pem[PEM_BYTES_MAX];
    size_t len = read_file(s, name, pem, sizeof pem);
    CHECK(len > 0);
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_load_pem(&key, pem, len, passphrase), SLQ_OK);
    return key;
}

/* openssl signs `message` with a key it generated; we load the key and verify. */
static void check_verifies_openssl_signature(crypto_suite suite, const char *genpkey,
                                             const char *sign) {
    scratch s;
    if (!scratch_open(&s)) return;
    CHECK(write_file(&s, "msg", message, sizeof message));
    CHECK(sh(&s, "openssl genpkey %s -out key.pem", genpkey));
    CHECK(sh(&s, "openssl pkeyutl -sign -rawin -in msg -inkey key.pem %s -out sig", sign));
    crypto_key *key = load_file(&s, "key.pem", NULL);
    uint8_t sig[128], pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t sig_len = read_file(&s, "sig", sig, sizeof sig), pub_len = 0;
    if (key != NULL) {
        CHECK_EQ_INT(crypto_key_suite(key), suite);
        CHECK_ERR(crypto_key_public(key, pub, sizeof pub, &pub_len), SLQ_OK);
        CHECK_ERR(crypto_verify(suite, pub, pub_len, message, sizeof message, sig, sig_len),
                  SLQ_OK);
    }
    crypto_key_destroy(key);
    scratch_close(&s);
}

/* We sign with a key openssl generated; openssl verifies. */
static void check_openssl_verifies_our_signature(const char *genpkey, const char *verify) {
    scratch s;
    if (!scratch_open(&s)) return;
    CHECK(write_file(&s, "msg", message, sizeof message));
    CHECK(sh(&s, "openssl genpkey %s -out key.pem", genpkey));
    crypto_key *key = load_file(&s, "key.pem", NULL);
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    if (key != NULL) {
        CHECK_ERR(crypto_sign(key, sig, sizeof sig, &sig_len, message, sizeof message), SLQ_OK);
        CHECK(write_file(&s, "sig", sig, sig_len));
        CHECK(sh(&s, "openssl pkeyutl -verify -rawin -in msg -inkey key.pem -sigfile sig %s",
                 verify));
    }
    crypto_key_destroy(key);
    scratch_close(&s);
}

/* OpenSSL 3.0's pkeyutl uses an empty SM2 ID unless told the default one. */
#define SM2_CLI_OPTS "-digest sm3 -pkeyopt distid:1234567812345678"

static void test_verify_accepts_openssl_cli_ed25519_signature(void) {
    check_verifies_openssl_signature(ED, "-algorithm ed25519", "");
}

static void test_verify_accepts_openssl_cli_sm2_signature_with_default_id(void) {
    check_verifies_openssl_signature(SM, "-algorithm SM2", SM2_CLI_OPTS);
}

static void test_openssl_cli_verifies_our_ed25519_signature(void) {
    check_openssl_verifies_our_signature("-algorithm ed25519", "");
}

static void test_openssl_cli_verifies_our_sm2_signature_with_default_id(void) {
    check_openssl_verifies_our_signature("-algorithm SM2", SM2_CLI_OPTS);
}

static void test_load_accepts_key_encrypted_by_openssl_pkcs8(void) {
    scratch s;
    if (!scratch_open(&s)) return;
    CHECK(sh(&s, "openssl genpkey -algorithm SM2 -out key.pem"));
    CHECK(sh(&s, "openssl pkcs8 -topk8 -in key.pem -v2 aes-256-cbc -passout pass:sesame "
                 "-out enc.pem"));
    crypto_key *plain = load_file(&s, "key.pem", NULL), *enc = load_file(&s, "enc.pem", "sesame");
    uint8_t a[CRYPTO_PUBKEY_BYTES_MAX], b[CRYPTO_PUBKEY_BYTES_MAX];
    size_t a_len = 0, b_len = 0;
    if (plain != NULL && enc != NULL) {
        CHECK_ERR(crypto_key_public(plain, a, sizeof a, &a_len), SLQ_OK);
        CHECK_ERR(crypto_key_public(enc, b, sizeof b, &b_len), SLQ_OK);
        CHECK_EQ_INT(a_len, b_len);
        CHECK_MEM(a, b, a_len);
    }
    crypto_key_destroy(plain);
    crypto_key_destroy(enc);
    scratch_close(&s);
}

static void test_openssl_cli_reads_our_encrypted_pem_as_aes_256_cbc(void) {
    scratch s;
    if (!scratch_open(&s)) return;
    crypto_key *key = generate(SM);
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, "sesame"), SLQ_OK);
    CHECK(write_file(&s, "enc.pem", pem, pem_len));
    CHECK(sh(&s, "openssl asn1parse -in enc.pem | grep -q aes-256-cbc"));
    CHECK(sh(&s, "openssl pkey -in enc.pem -passin pass:sesame -out key.pem"));
    crypto_key *back = load_file(&s, "key.pem", NULL);
    uint8_t a[CRYPTO_PUBKEY_BYTES_MAX], b[CRYPTO_PUBKEY_BYTES_MAX];
    size_t a_len = 0, b_len = 0;
    if (back != NULL) {
        CHECK_ERR(crypto_key_public(key, a, sizeof a, &a_len), SLQ_OK);
        CHECK_ERR(crypto_key_public(back, b, sizeof b, &b_len), SLQ_OK);
        CHECK_EQ_INT(a_len, b_len);
        CHECK_MEM(a, b, a_len);
    }
    crypto_key_destroy(key);
    crypto_key_destroy(back);
    scratch_close(&s);
}

/* Splices the private part of key.pem's DER with the last 65 bytes (the public point: an SM2
 * PKCS#8 file from openssl ends with it) of `point_from`'s, and loads the result. */
static slq_err load_spliced_sm2_key(const scratch *s, const char *point_from) {
    CHECK(sh(s, "{ head -c -65 a.der; tail -c 65 %s; } > c.der", point_from));
    CHECK(sh(s, "{ echo '-----BEGIN PRIVATE KEY-----'; openssl base64 -in c.der; "
                "echo '-----END PRIVATE KEY-----'; } > out.pem"));
    char pem[PEM_BYTES_MAX];
    size_t len = read_file(s, "out.pem", pem, sizeof pem);
    CHECK(len > 0);
    crypto_key *key = NULL;
    slq_err err = crypto_key_load_pem(&key, pem, len, NULL);
    CHECK((err == SLQ_OK) == (key != NULL));
    crypto_key_destroy(key);
    return err;
}

static void test_load_rejects_sm2_key_whose_public_key_does_not_match(void) {
    scratch s;
    if (!scratch_open(&s)) return;
    CHECK(sh(&s, "openssl genpkey -algorithm SM2 -out key.pem"));
    CHECK(sh(&s, "openssl genpkey -algorithm SM2 -out enc.pem"));
    CHECK(sh(&s, "sed '1d;$d' key.pem | openssl base64 -d > a.der"));
    CHECK(sh(&s, "sed '1d;$d' enc.pem | openssl base64 -d > b.der"));
    CHECK_ERR(load_spliced_sm2_key(&s, "a.der"), SLQ_OK); /* the splice itself is sound */
    CHECK_ERR(load_spliced_sm2_key(&s, "b.der"), SLQ_KEY_INVALID);
    scratch_close(&s);
}

static void check_load_rejects_openssl_key(const char *genpkey) {
    scratch s;
    if (!scratch_open(&s)) return;
    CHECK(sh(&s, "openssl genpkey %s -out key.pem", genpkey));
    char pem[PEM_BYTES_MAX];
    size_t len = read_file(&s, "key.pem", pem, sizeof pem);
    CHECK(len > 0);
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_load_pem(&key, pem, len, NULL), SLQ_KEY_INVALID);
    CHECK(key == NULL);
    scratch_close(&s);
}

static void test_load_rejects_rsa_key(void) {
    check_load_rejects_openssl_key("-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
}

static void test_load_rejects_p256_key(void) {
    check_load_rejects_openssl_key("-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
}

/* An X25519 key has a 32-byte public key like Ed25519's, but it cannot sign. */
static void test_load_rejects_x25519_key(void) {
    check_load_rejects_openssl_key("-algorithm X25519");
}

/* ---- key files ---- */

/* Writes a fresh Ed25519 key as PEM into path, then gives it mode `mode`. */
static void write_key_file(const char *path, mode_t mode) {
    crypto_key *key = generate(ED);
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, NULL), SLQ_OK);
    crypto_key_destroy(key);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f == NULL) return;
    CHECK_EQ_INT(fwrite(pem, 1, pem_len, f), pem_len);
    CHECK(fclose(f) == 0);
    CHECK(chmod(path, mode) == 0);
}

/* Like ssh with private keys: any permission for group or others refuses the file, with a
 * reason naming the file, its mode and the chmod that fixes it; owner-only modes load. */
static void test_key_file_open_to_group_or_others_is_refused_with_the_fix(void) {
    static const struct {
        mode_t mode;
        slq_err want;
        const char *access; /* in the refusal */
    } rows[] = {
        {0600, SLQ_OK, NULL},
        {0400, SLQ_OK, NULL},
        {0700, SLQ_OK, NULL},
        {0644, SLQ_KEY_FILE_MODE, "readable"},
        {0640, SLQ_KEY_FILE_MODE, "readable"},
        {0604, SLQ_KEY_FILE_MODE, "readable"},
        {0620, SLQ_KEY_FILE_MODE, "writable"},
        {0602, SLQ_KEY_FILE_MODE, "writable"},
        {0666, SLQ_KEY_FILE_MODE, "readable and writable"},
        {0610, SLQ_KEY_FILE_MODE, "accessible"},
        {0601, SLQ_KEY_FILE_MODE, "accessible"},
    };
    char dir[256], path[320];
    check_mkdtemp(dir, sizeof dir, "keyfile");
    snprintf(path, sizeof path, "%s/node.pem", dir);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        write_key_file(path, rows[i].mode);
        crypto_key *key = NULL;
        char why[1024] = "";
        slq_err err = crypto_key_load_file(&key, path, NULL, why, sizeof why);
        CHECK_ERR(err, rows[i].want);
        CHECK_EQ_INT(key != NULL, rows[i].want == SLQ_OK);
        crypto_key_destroy(key);
        if (rows[i].want != SLQ_OK) {
            char want[1024];
            snprintf(want, sizeof want,
                     "key file %s is %s by group or others (mode %04o): run chmod 600 %s", path,
                     rows[i].access, (unsigned) rows[i].mode, path);
            if (strcmp(why, want) != 0) fprintf(stderr, "  got: %s\n  want: %s\n", why, want);
            CHECK(strcmp(why, want) == 0);
        }
        CHECK(unlink(path) == 0);
    }
    CHECK(rmdir(dir) == 0);
}

/* A file that cannot be opened, or holds no key, is refused with its path in the reason. */
static void test_key_file_missing_or_garbage_names_the_file(void) {
    char dir[256], path[320], why[1024] = "";
    check_mkdtemp(dir, sizeof dir, "keyfile");
    snprintf(path, sizeof path, "%s/none.pem", dir);
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_load_file(&key, path, NULL, why, sizeof why), SLQ_IO);
    CHECK(strstr(why, path) != NULL && strstr(why, "No such file") != NULL);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs("junk\n", f);
        fclose(f);
    }
    CHECK(chmod(path, 0600) == 0);
    CHECK_ERR(crypto_key_load_file(&key, path, NULL, why, sizeof why), SLQ_KEY_INVALID);
    CHECK(strncmp(why, path, strlen(path)) == 0);
    CHECK(key == NULL);
    CHECK(unlink(path) == 0);
    CHECK(rmdir(dir) == 0);
}

/* ---- PEM ---- */

static void check_pem_round_trip(crypto_suite suite, const char *passphrase) {
    crypto_key *key = generate(suite), *back = NULL;
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, passphrase), SLQ_OK);
    CHECK_EQ_INT(strlen(pem), pem_len);
    const char *want = passphrase != NULL ? "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                                          : "-----BEGIN PRIVATE KEY-----\n";
    CHECK(strncmp(pem, want, strlen(want)) == 0);
    CHECK_ERR(crypto_key_load_pem(&back, pem, pem_len, passphrase), SLQ_OK);
    if (back != NULL) {
        CHECK_EQ_INT(crypto_key_suite(back), suite);
        uint8_t sig[CRYPTO_SIG_BYTES_MAX], pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t sig_len = 0, pub_len = 0;
        CHECK_ERR(crypto_sign(back, sig, sizeof sig, &sig_len, message, sizeof message), SLQ_OK);
        CHECK_ERR(crypto_key_public(key, pub, sizeof pub, &pub_len), SLQ_OK);
        CHECK_ERR(crypto_verify(suite, pub, pub_len, message, sizeof message, sig, sig_len),
                  SLQ_OK);
    }
    memset(pem, 0, sizeof pem);
    crypto_key_destroy(key);
    crypto_key_destroy(back);
}

static void test_ed25519_plain_pem_round_trips(void) {
    check_pem_round_trip(ED, NULL);
}
static void test_sm2_plain_pem_round_trips(void) {
    check_pem_round_trip(SM, NULL);
}
static void test_ed25519_encrypted_pem_round_trips(void) {
    check_pem_round_trip(ED, "sesame");
}
static void test_sm2_encrypted_pem_round_trips(void) {
    check_pem_round_trip(SM, "sesame");
}

/* Writes a fresh key of `suite` encrypted with `passphrase` and loads it with `attempt`. */
static slq_err load_encrypted(crypto_suite suite, const char *passphrase, const char *attempt) {
    crypto_key *key = generate(suite), *back = NULL;
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, passphrase), SLQ_OK);
    slq_err err = crypto_key_load_pem(&back, pem, pem_len, attempt);
    CHECK((err == SLQ_OK) == (back != NULL));
    crypto_key_destroy(key);
    crypto_key_destroy(back);
    return err;
}

static void test_load_rejects_wrong_passphrase(void) {
    CHECK_ERR(load_encrypted(ED, "sesame", "sesam"), SLQ_KEY_PASSPHRASE);
    CHECK_ERR(load_encrypted(SM, "sesame", "open sesame"), SLQ_KEY_PASSPHRASE);
}

static void test_load_rejects_missing_passphrase_for_encrypted_key(void) {
    CHECK_ERR(load_encrypted(ED, "sesame", NULL), SLQ_KEY_PASSPHRASE);
    CHECK_ERR(load_encrypted(SM, "sesame", NULL), SLQ_KEY_PASSPHRASE);
}

static void test_write_rejects_empty_passphrase(void) {
    crypto_key *key = generate(ED);
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, ""), SLQ_KEY_PASSPHRASE);
    crypto_key_destroy(key);
}

static void test_write_rejects_a_too_small_buffer(void) {
    crypto_key *key = generate(SM);
    char pem[64];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, NULL), SLQ_INVALID_ARGUMENT);
    crypto_key_destroy(key);
}

static void test_load_rejects_garbage(void) {
    static const char *const rows[] = {
        "hello",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        ("-----BEGIN PUBLIC "
         "KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPaYiMlrwIaaPcHURo=\n"
         "-----END PUBLIC KEY-----\n"),
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        crypto_key *key = NULL;
        CHECK_ERR(crypto_key_load_pem(&key, rows[i], strlen(rows[i]), NULL), SLQ_KEY_INVALID);
        CHECK(key == NULL);
    }
    crypto_key *key = NULL;
    CHECK_ERR(crypto_key_load_pem(&key, "", 0, NULL), SLQ_KEY_INVALID);
}

static void test_load_rejects_truncated_pem(void) {
    crypto_key *key = generate(ED), *back = NULL;
    char pem[PEM_BYTES_MAX];
    size_t pem_len = 0;
    CHECK_ERR(crypto_key_write_pem(key, pem, sizeof pem, &pem_len, NULL), SLQ_OK);
    CHECK_ERR(crypto_key_load_pem(&back, pem, pem_len / 2, NULL), SLQ_KEY_INVALID);
    CHECK(back == NULL);
    crypto_key_destroy(key);
}

static void test_key_destroy_of_null_is_a_no_op(void) {
    crypto_key_destroy(NULL);
}

static void test_key_public_rejects_a_too_small_buffer(void) {
    crypto_key *key = generate(SM);
    uint8_t pub[64];
    size_t pub_len = 0;
    CHECK_ERR(crypto_key_public(key, pub, sizeof pub, &pub_len), SLQ_INVALID_ARGUMENT);
    crypto_key_destroy(key);
}

/* ---- Merkle ---- */

typedef uint8_t hash_t[CRYPTO_HASH_BYTES];

static void leaf_of(crypto_suite suite, hash_t out, const hash_t leaf) {
    uint8_t buf[33] = {0x00};
    memcpy(buf + 1, leaf, 32);
    crypto_hash(suite, out, buf, sizeof buf);
}

static void node_of(crypto_suite suite, hash_t out, const hash_t l, const hash_t r) {
    uint8_t buf[65] = {0x01};
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    crypto_hash(suite, out, buf, sizeof buf);
}

/* Leaves are the hashes of "0", "1", ...; lh[i] are their leaf hashes. */
static void make_leaves(crypto_suite suite, hash_t *leaves, hash_t *lh, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t) ('0' + i);
        crypto_hash(suite, leaves[i], &c, 1);
        leaf_of(suite, lh[i], leaves[i]);
    }
}

static void check_root(crypto_suite suite, const hash_t *leaves, size_t n, const hash_t want) {
    hash_t got;
    crypto_merkle_root(suite, got, (const uint8_t(*)[CRYPTO_HASH_BYTES]) leaves, n);
    CHECK_MEM(got, want, CRYPTO_HASH_BYTES);
}

static void test_merkle_root_of_no_leaves_is_hash_of_empty_string(void) {
    hash_t want;
    crypto_hash(ED, want, NULL, 0);
    check_root(ED, NULL, 0, want);
    crypto_hash(SM, want, NULL, 0);
    check_root(SM, NULL, 0, want);
}

static void test_merkle_root_of_one_leaf_is_its_leaf_hash(void) {
    hash_t leaves[1], lh[1];
    make_leaves(ED, leaves, lh, 1);
    check_root(ED, leaves, 1, lh[0]);
}

static void test_merkle_root_of_two_leaves_joins_them(void) {
    hash_t leaves[2], lh[2], want;
    make_leaves(ED, leaves, lh, 2);
    node_of(ED, want, lh[0], lh[1]);
    check_root(ED, leaves, 2, want);
}

static void test_merkle_root_of_three_leaves_promotes_the_third(void) {
    hash_t leaves[3], lh[3], n01, want;
    make_leaves(ED, leaves, lh, 3);
    node_of(ED, n01, lh[0], lh[1]);
    node_of(ED, want, n01, lh[2]);
    check_root(ED, leaves, 3, want);
}

static void test_merkle_root_of_five_leaves_splits_at_four(void) {
    hash_t leaves[5], lh[5], n01, n23, n0123, want;
    make_leaves(SM, leaves, lh, 5);
    node_of(SM, n01, lh[0], lh[1]);
    node_of(SM, n23, lh[2], lh[3]);
    node_of(SM, n0123, n01, n23);
    node_of(SM, want, n0123, lh[4]);
    check_root(SM, leaves, 5, want);
}

static void test_merkle_root_of_seven_leaves_splits_at_four_then_two(void) {
    hash_t leaves[7], lh[7], n01, n23, n45, n0123, n456, want;
    make_leaves(ED, leaves, lh, 7);
    node_of(ED, n01, lh[0], lh[1]);
    node_of(ED, n23, lh[2], lh[3]);
    node_of(ED, n45, lh[4], lh[5]);
    node_of(ED, n0123, n01, n23);
    node_of(ED, n456, n45, lh[6]);
    node_of(ED, want, n0123, n456);
    check_root(ED, leaves, 7, want);
}

static void root_of(hash_t out, const hash_t *leaves, size_t n) {
    crypto_merkle_root(ED, out, (const uint8_t(*)[CRYPTO_HASH_BYTES]) leaves, n);
}

static void test_merkle_root_changes_with_a_leaf(void) {
    hash_t leaves[5], lh[5], before, after;
    make_leaves(ED, leaves, lh, 5);
    root_of(before, leaves, 5);
    for (size_t i = 0; i < 5; i++) {
        leaves[i][31] ^= 1;
        root_of(after, leaves, 5);
        CHECK(memcmp(before, after, 32) != 0);
        leaves[i][31] ^= 1;
    }
}

static void test_merkle_root_changes_with_leaf_order(void) {
    hash_t leaves[4], lh[4], before, after, tmp;
    make_leaves(ED, leaves, lh, 4);
    root_of(before, leaves, 4);
    memcpy(tmp, leaves[1], 32);
    memcpy(leaves[1], leaves[2], 32);
    memcpy(leaves[2], tmp, 32);
    root_of(after, leaves, 4);
    CHECK(memcmp(before, after, 32) != 0);
}

static void test_merkle_root_of_three_leaves_differs_from_last_duplicated(void) {
    hash_t leaves[4], lh[4], three, four;
    make_leaves(ED, leaves, lh, 3);
    memcpy(leaves[3], leaves[2], 32);
    root_of(three, leaves, 3);
    root_of(four, leaves, 4);
    CHECK(memcmp(three, four, 32) != 0);
}

static void test_merkle_root_of_a_leaf_differs_from_the_leaf(void) {
    hash_t leaves[1], lh[1], root;
    make_leaves(ED, leaves, lh, 1);
    root_of(root, leaves, 1);
    CHECK(memcmp(root, leaves[0], 32) != 0); /* leaves are domain-separated */
}

/* ---- addresses ---- */

static void test_address_is_first_20_bytes_of_pubkey_hash(void) {
    signed_message ed = sign_message(ED), sm = sign_message(SM);
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    hash_t h;
    CHECK_ERR(crypto_address(ED, addr, ed.pub, ed.pub_len), SLQ_OK);
    crypto_hash(ED, h, ed.pub, ed.pub_len);
    CHECK_MEM(addr, h, CRYPTO_ADDRESS_BYTES);
    CHECK_ERR(crypto_address(SM, addr, sm.pub, sm.pub_len), SLQ_OK);
    crypto_hash(SM, h, sm.pub, sm.pub_len);
    CHECK_MEM(addr, h, CRYPTO_ADDRESS_BYTES);
    crypto_key_destroy(ed.key);
    crypto_key_destroy(sm.key);
}

static void test_address_rejects_pubkey_of_wrong_length(void) {
    uint8_t pub[65] = {0x04}, addr[CRYPTO_ADDRESS_BYTES];
    CHECK_ERR(crypto_address(ED, addr, pub, 65), SLQ_PUBKEY_INVALID);
    CHECK_ERR(crypto_address(ED, addr, pub, 31), SLQ_PUBKEY_INVALID);
    CHECK_ERR(crypto_address(SM, addr, pub, 32), SLQ_PUBKEY_INVALID);
    CHECK_ERR(crypto_address(SM, addr, pub, 0), SLQ_PUBKEY_INVALID);
}

static void test_address_format_writes_slq1_and_lowercase_hex(void) {
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    for (size_t i = 0; i < sizeof addr; i++) addr[i] = (uint8_t) (0xa0 + i * 3);
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    memset(text, 'x', sizeof text);
    crypto_address_format(text, addr);
    CHECK(strcmp(text, "slq1a0a3a6a9acafb2b5b8bbbec1c4c7cacdd0d3d6d9") == 0);
}

static void test_address_parse_round_trips_format(void) {
    uint8_t addr[CRYPTO_ADDRESS_BYTES], back[CRYPTO_ADDRESS_BYTES] = {0};
    for (size_t i = 0; i < sizeof addr; i++) addr[i] = (uint8_t) (i * 13 + 7);
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(text, addr);
    CHECK_ERR(crypto_address_parse(back, text), SLQ_OK);
    CHECK_MEM(back, addr, sizeof addr);
}

static void test_address_parse_rejects_malformed_text(void) {
    static const char *const rows[] = {
        "",
        "slq1",
        "slq10123456789abcdef0123456789abcdef0123456",   /* 39 digits */
        "slq10123456789abcdef0123456789abcdef012345678", /* 41 digits */
        "slq10123456789abcdef0123456789abcdef01234567 ", /* trailing space */
        " slq10123456789abcdef0123456789abcdef01234567",
        "slq10123456789ABCDEF0123456789abcdef01234567", /* uppercase */
        "SLQ10123456789abcdef0123456789abcdef01234567",
        "slq20123456789abcdef0123456789abcdef01234567", /* wrong prefix */
        "slqx0123456789abcdef0123456789abcdef01234567",
        "0123456789abcdef0123456789abcdef01234567",
        "slq10123456789abcdeg0123456789abcdef01234567", /* non-hex */
        "slq1-123456789abcdef0123456789abcdef01234567",
        "slq10x23456789abcdef0123456789abcdef01234567",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        uint8_t out[CRYPTO_ADDRESS_BYTES];
        CHECK_ERR(crypto_address_parse(out, rows[i]), SLQ_ADDRESS_INVALID);
    }
    uint8_t out[CRYPTO_ADDRESS_BYTES];
    CHECK_ERR(crypto_address_parse(out, "slq10123456789abcdef0123456789abcdef01234567"), SLQ_OK);
}

/* ---- comparison ---- */

static void test_equal_compares_all_bytes(void) {
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK_EQ_INT(crypto_equal(a, b, sizeof a), 1);
    b[31] = 1;
    CHECK_EQ_INT(crypto_equal(a, b, sizeof a), 0);
    CHECK_EQ_INT(crypto_equal(a, b, 31), 1);
    CHECK_EQ_INT(crypto_equal(a, b, 0), 1);
}

TEST_MAIN(
    "crypto", TEST(test_suite_parse_accepts_both_names), TEST(test_suite_parse_rejects_other_names),
    TEST(test_suite_name_round_trips_through_parse),
    TEST(test_pubkey_len_is_32_for_ed25519_and_65_for_sm2),
    TEST(test_sha256_of_abc_matches_fips_180_2),
    TEST(test_sha256_of_empty_string_matches_known_value),
    TEST(test_sha256_of_448_bit_message_matches_fips_180_2),
    TEST(test_sm3_of_abc_matches_gbt_32905), TEST(test_sm3_of_abcd_sixteen_times_matches_gbt_32905),
    TEST(test_sha256_hasher_in_pieces_equals_one_shot),
    TEST(test_sm3_hasher_in_pieces_equals_one_shot),
    TEST(test_hasher_without_updates_hashes_the_empty_string),
    TEST(test_ed25519_signs_rfc8032_test_1), TEST(test_ed25519_signs_rfc8032_test_2),
    TEST(test_ed25519_signs_rfc8032_test_3),
    TEST(test_sm2_verifies_a_known_signature_made_with_the_standard_id),
    TEST(test_ed25519_signature_verifies), TEST(test_sm2_signature_verifies),
    TEST(test_sm2_signature_is_der_of_at_most_72_bytes),
    TEST(test_sm2_signatures_are_randomized_and_both_verify),
    TEST(test_ed25519_signing_is_deterministic), TEST(test_sign_rejects_a_too_small_buffer),
    TEST(test_ed25519_rejects_signature_of_another_key),
    TEST(test_sm2_rejects_signature_of_another_key), TEST(test_ed25519_rejects_flipped_message_bit),
    TEST(test_sm2_rejects_flipped_message_bit), TEST(test_ed25519_rejects_flipped_signature_bit),
    TEST(test_sm2_rejects_flipped_signature_bit), TEST(test_ed25519_rejects_truncated_signature),
    TEST(test_sm2_rejects_truncated_signature), TEST(test_ed25519_rejects_wrong_length_pubkey),
    TEST(test_sm2_rejects_wrong_length_pubkey),
    TEST(test_ed25519_rejects_signature_with_trailing_byte),
    TEST(test_sm2_rejects_signature_longer_than_72_bytes),
    TEST(test_sm2_rejects_pubkey_that_is_not_on_the_curve),
    TEST(test_sm2_rejects_pubkey_not_in_uncompressed_form),
    TEST(test_verify_rejects_pubkey_of_the_other_suite),
    TEST(test_ed25519_keys_sharing_a_cache_slot_stay_apart),
    TEST(test_sm2_keys_sharing_a_cache_slot_stay_apart),
    TEST(test_ed25519_good_and_bad_signatures_alternate_under_one_key),
    TEST(test_sm2_good_and_bad_signatures_alternate_under_one_key),
    TEST(test_threads_verify_at_once_with_their_own_caches),
    TEST(test_verify_accepts_openssl_cli_ed25519_signature),
    TEST(test_verify_accepts_openssl_cli_sm2_signature_with_default_id),
    TEST(test_openssl_cli_verifies_our_ed25519_signature),
    TEST(test_openssl_cli_verifies_our_sm2_signature_with_default_id),
    TEST(test_load_accepts_key_encrypted_by_openssl_pkcs8),
    TEST(test_openssl_cli_reads_our_encrypted_pem_as_aes_256_cbc), TEST(test_load_rejects_rsa_key),
    TEST(test_load_rejects_sm2_key_whose_public_key_does_not_match),
    TEST(test_load_rejects_p256_key), TEST(test_load_rejects_x25519_key),
    TEST(test_ed25519_plain_pem_round_trips), TEST(test_sm2_plain_pem_round_trips),
    TEST(test_ed25519_encrypted_pem_round_trips), TEST(test_sm2_encrypted_pem_round_trips),
    TEST(test_load_rejects_wrong_passphrase),
    TEST(test_load_rejects_missing_passphrase_for_encrypted_key),
    TEST(test_write_rejects_empty_passphrase), TEST(test_write_rejects_a_too_small_buffer),
    TEST(test_load_rejects_garbage), TEST(test_load_rejects_truncated_pem),
    TEST(test_key_file_open_to_group_or_others_is_refused_with_the_fix),
    TEST(test_key_file_missing_or_garbage_names_the_file),
    TEST(test_key_destroy_of_null_is_a_no_op), TEST(test_key_public_rejects_a_too_small_buffer),
    TEST(test_merkle_root_of_no_leaves_is_hash_of_empty_string),
    TEST(test_merkle_root_of_one_leaf_is_its_leaf_hash),
    TEST(test_merkle_root_of_two_leaves_joins_them),
    TEST(test_merkle_root_of_three_leaves_promotes_the_third),
    TEST(test_merkle_root_of_five_leaves_splits_at_four),
    TEST(test_merkle_root_of_seven_leaves_splits_at_four_then_two),
    TEST(test_merkle_root_changes_with_a_leaf), TEST(test_merkle_root_changes_with_leaf_order),
    TEST(test_merkle_root_of_three_leaves_differs_from_last_duplicated),
    TEST(test_merkle_root_of_a_leaf_differs_from_the_leaf),
    TEST(test_address_is_first_20_bytes_of_pubkey_hash),
    TEST(test_address_rejects_pubkey_of_wrong_length),
    TEST(test_address_format_writes_slq1_and_lowercase_hex),
    TEST(test_address_parse_round_trips_format), TEST(test_address_parse_rejects_malformed_text),
    TEST(test_equal_compares_all_bytes))
