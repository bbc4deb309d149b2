/* fuzz_pem.c: feeds crypto_key_load_pem() (OpenSSL's PEM/PKCS#8 decoders behind our key
 * type and key-pair checks) twice per input: without a passphrase and with "pw", the one
 * the encrypted seed was written with. A key that loads must work: it signs a fixed
 * message and crypto_verify() accepts the signature under crypto_key_public().
 *
 * Asserts: no crash, leak or UB; load returns SLQ_OK, SLQ_KEY_INVALID or
 * SLQ_KEY_PASSPHRASE; a loaded key signs, exports its public key and verifies. */
#include "crypto.h"
#include "fuzz.h"

static void check_key(const crypto_key *key) {
    static const uint8_t msg[] = "slq fuzz_pem: a loaded key must sign and verify";
    uint8_t sig[CRYPTO_SIG_BYTES_MAX], pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t sig_len = 0, pub_len = 0;
    crypto_suite suite = crypto_key_suite(key);
    SLQ_ASSERT(suite == CRYPTO_SUITE_ED25519_SHA256 || suite == CRYPTO_SUITE_SM2_SM3);
    SLQ_ASSERT(crypto_sign(key, sig, sizeof sig, &sig_len, msg, sizeof msg) == SLQ_OK);
    SLQ_ASSERT(crypto_key_public(key, pub, sizeof pub, &pub_len) == SLQ_OK);
    SLQ_ASSERT(pub_len == crypto_pubkey_len(suite));
    SLQ_ASSERT(crypto_verify(suite, pub, pub_len, msg, sizeof msg, sig, sig_len) == SLQ_OK);
}

static void load(const uint8_t *data, size_t size, const char *passphrase) {
    crypto_key *key = NULL;
    slq_err err = crypto_key_load_pem(&key, (const char *) data, size, passphrase);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_KEY_INVALID || err == SLQ_KEY_PASSPHRASE);
    if (err != SLQ_OK) return;
    SLQ_ASSERT(key != NULL);
    check_key(key);
    crypto_key_destroy(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_quiet();
    load(data, size, NULL);
    load(data, size, "pw");
    return 0;
}
