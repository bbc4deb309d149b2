/* crypto.h: the two crypto suites of slq behind one interface (DESIGN.md §3).
 *
 *   ed25519-sha256: Ed25519 signatures (RFC 8032), SHA-256 hashes;
 *   sm2-sm3:        SM2 signatures with SM3 and the default user ID "1234567812345678"
 *                   (GB/T 32918), SM3 hashes (GB/T 32905).
 *
 * The suite is chosen once, in genesis. This is the only module that includes OpenSSL.
 * All functions are thread-safe (no shared mutable state); verification may run on
 * worker threads. Raw public keys: Ed25519 32 bytes; SM2 65 bytes (0x04 || X || Y). */
#ifndef SLQ_CRYPTO_H
#define SLQ_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

typedef enum {
    CRYPTO_SUITE_ED25519_SHA256 = 1,
    CRYPTO_SUITE_SM2_SM3 = 2,
} crypto_suite;

#define CRYPTO_HASH_BYTES         32u
#define CRYPTO_ADDRESS_BYTES      20u
#define CRYPTO_PUBKEY_BYTES_MAX   65u
#define CRYPTO_SIG_BYTES_MAX      72u
#define CRYPTO_ADDRESS_TEXT_BYTES 45u /* "slq1" + 40 hex + NUL */

/* Parses "ed25519-sha256" or "sm2-sm3". Returns SLQ_SUITE_UNKNOWN otherwise. */
SLQ_MUST_USE slq_err crypto_suite_parse(crypto_suite *out, const char *name);
/* Returns the suite's name; never NULL. */
const char *crypto_suite_name(crypto_suite suite);
/* Returns the raw public key length of the suite (32 or 65). */
size_t crypto_pubkey_len(crypto_suite suite);

/* ---- hashing ---- */

/* out = H(msg[0..len)) with the suite's hash. */
void crypto_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES], const uint8_t *msg,
                 size_t len);

/* Incremental hashing, caller's memory. The state is big enough for SHA-256 and SM3. */
typedef struct {
    crypto_suite suite;
    _Alignas(16) uint8_t state[256];
} crypto_hasher;
void crypto_hasher_init(crypto_hasher *h, crypto_suite suite);
void crypto_hasher_update(crypto_hasher *h, const uint8_t *p, size_t n);
void crypto_hasher_final(crypto_hasher *h, uint8_t out[CRYPTO_HASH_BYTES]);

/* Merkle root of n leaf hashes (RFC 6962 shape). Leaves are domain-separated from inner
 * nodes: leaf = H(0x00 || hash), node = H(0x01 || left || right). The tree splits n at
 * the largest power of two below n, so an odd leaf is never duplicated (no
 * CVE-2012-2459 ambiguity). The root of zero leaves is H(""). */
void crypto_merkle_root(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                        const uint8_t (*leaves)[CRYPTO_HASH_BYTES], size_t n);

/* ---- addresses ---- */

/* out = first 20 bytes of H(pubkey). Returns SLQ_PUBKEY_INVALID if the length is not the
 * suite's. */
SLQ_MUST_USE slq_err crypto_address(crypto_suite suite, uint8_t out[CRYPTO_ADDRESS_BYTES],
                                    const uint8_t *pubkey, size_t pubkey_len);
/* Writes "slq1" + 40 lowercase hex digits and a NUL into out. */
void crypto_address_format(char out[CRYPTO_ADDRESS_TEXT_BYTES],
                           const uint8_t addr[CRYPTO_ADDRESS_BYTES]);
/* Parses the text form exactly (no whitespace, lowercase only). SLQ_ADDRESS_INVALID else. */
SLQ_MUST_USE slq_err crypto_address_parse(uint8_t out[CRYPTO_ADDRESS_BYTES], const char *text);

/* ---- verification ---- */

/* Verifies `sig` over msg with a raw public key of `suite`. Returns SLQ_OK,
 * SLQ_PUBKEY_INVALID (bad length or not a point) or SLQ_SIG_INVALID. */
SLQ_MUST_USE slq_err crypto_verify(crypto_suite suite, const uint8_t *pubkey, size_t pubkey_len,
                                   const uint8_t *msg, size_t msg_len, const uint8_t *sig,
                                   size_t sig_len);

/* ---- private keys ---- */

typedef struct crypto_key crypto_key; /* opaque; owns an OpenSSL key */

/* Makes a fresh key of `suite`. On SLQ_OK *out is yours: crypto_key_destroy() it. */
SLQ_MUST_USE slq_err crypto_key_generate(crypto_key **out, crypto_suite suite);
/* Loads a PKCS#8 PEM private key (plain, or encrypted when passphrase != NULL) from
 * pem[0..len), as written by `openssl genpkey -algorithm ed25519|SM2` or by
 * crypto_key_write_pem. Returns SLQ_KEY_INVALID, SLQ_KEY_PASSPHRASE (encrypted and the
 * passphrase is missing or wrong), or SLQ_OK with *out yours. */
SLQ_MUST_USE slq_err crypto_key_load_pem(crypto_key **out, const char *pem, size_t len,
                                         const char *passphrase);
/* Loads a private key file (PEM as crypto_key_load_pem takes it) for slqd and slq alike.
 * The file is opened once and its mode read from the open descriptor (fstat): a file that
 * group or others may read, write or execute (mode & 077, as ssh refuses private keys) is
 * refused with SLQ_KEY_FILE_MODE before a byte is read. Returns SLQ_IO (cannot open or read
 * it), SLQ_KEY_FILE_MODE, SLQ_KEY_INVALID (also: over SLQ_KEY_FILE_BYTES_MAX),
 * SLQ_KEY_PASSPHRASE, or SLQ_OK with *out yours. On failure `why` (may be NULL) names the
 * file and what to do, e.g. "key file /x/node.pem is readable by group or others (mode
 * 0644): run chmod 600 /x/node.pem". The bytes read are wiped. */
SLQ_MUST_USE slq_err crypto_key_load_file(crypto_key **out, const char *path,
                                          const char *passphrase, char *why, size_t why_cap);
/* Writes the key as PKCS#8 PEM (encrypted with AES-256-CBC when passphrase != NULL) into
 * out[0..cap), NUL-terminated; sets *len (without the NUL). */
SLQ_MUST_USE slq_err crypto_key_write_pem(const crypto_key *key, char *out, size_t cap, size_t *len,
                                          const char *passphrase);
/* Wipes and frees. NULL is a no-op. */
void crypto_key_destroy(crypto_key *key);
crypto_suite crypto_key_suite(const crypto_key *key);
/* Copies the raw public key into out[0..cap); sets *len. */
SLQ_MUST_USE slq_err crypto_key_public(const crypto_key *key, uint8_t *out, size_t cap,
                                       size_t *len);
/* Signs msg; writes the signature into sig[0..cap) and sets *sig_len. Ed25519 is
 * deterministic; SM2 is randomized (callers that must not sign twice store the bytes). */
SLQ_MUST_USE slq_err crypto_sign(const crypto_key *key, uint8_t *sig, size_t cap, size_t *sig_len,
                                 const uint8_t *msg, size_t msg_len);

/* Fills buf with n cryptographically random bytes (handshake challenges). */
SLQ_MUST_USE slq_err crypto_random(uint8_t *buf, size_t n);

/* Constant-time comparison; returns 1 when equal. */
int crypto_equal(const void *a, const void *b, size_t n);

#endif
