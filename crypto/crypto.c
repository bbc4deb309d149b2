/* crypto.c: the two crypto suites of slq (crypto.h) on OpenSSL 3 EVP; the only file of slq
 * that includes OpenSSL. All functions are thread-safe (OpenSSL's error queue is per
 * thread). Its only state: the two digests, fetched once for the process (an implicit fetch
 * on every hash costs more than hashing a transaction), and, per thread, a cache of
 * verification contexts prepared for recently seen public keys (see crypto_verify). Bad
 * input (a signature that does not verify, a malformed key or key file, a wrong passphrase)
 * clears the error queue and returns an slq_err without logging; a failure of OpenSSL itself
 * on good input is logged once and returned as SLQ_CRYPTO_INTERNAL, or, in the void hashing
 * functions that cannot return it, logged and turned into an abort. The SM2 distinguishing
 * ID is always set explicitly, on signing and on verifying: OpenSSL 3.0 does not default to
 * the standard ID (`openssl pkeyutl` signs with the standard ID only given
 * `-pkeyopt distid:1234567812345678`). */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "slq/assert.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "slq/why.h"

#define SM2_ID               "1234567812345678" /* GB/T 32918 default distinguishing ID */
#define SM2_ID_BYTES         16u
#define ED25519_PUBKEY_BYTES 32u
#define ED25519_SIG_BYTES    64u
#define SM2_PUBKEY_BYTES     65u
#define SM2_COORD_BYTES      32u
#define SM2_SIG_BYTES_MAX    72u   /* DER SEQUENCE of two INTEGERs of at most 33 bytes */
#define PASSPHRASE_BYTES_MAX 1023u /* OpenSSL's decoders read at most 1024 bytes */
#define MERKLE_STACK_MAX     65u   /* one complete subtree per bit of a size_t, plus one */

_Static_assert(ED25519_SIG_BYTES <= CRYPTO_SIG_BYTES_MAX, "an Ed25519 signature fits");
_Static_assert(SM2_SIG_BYTES_MAX <= CRYPTO_SIG_BYTES_MAX, "an SM2 signature fits");
_Static_assert(SM2_PUBKEY_BYTES <= CRYPTO_PUBKEY_BYTES_MAX, "an SM2 public key fits");
_Static_assert(sizeof(EVP_MD_CTX *) <= sizeof(((crypto_hasher *) 0)->state),
               "a hasher holds a context pointer");

struct crypto_key {
    crypto_suite suite;
    EVP_PKEY *pkey; /* a key pair: ED25519, or SM2 on the SM2 curve */
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len;
};

/* ---- failures ---- */

/* A library failure on good input: logs OpenSSL's reason once, clears the queue. */
static slq_err crypto_fail(const char *what) {
    char reason[256];
    ERR_error_string_n(ERR_peek_last_error(), reason, sizeof reason);
    log_warn("crypto: %s: openssl failed reason=%s", what, reason);
    ERR_clear_error();
    return SLQ_CRYPTO_INTERNAL;
}

/* Bad input: OpenSSL may have queued errors about it; they are expected, not logged. */
static slq_err crypto_reject(slq_err err) {
    ERR_clear_error();
    return err;
}

/* A library failure in a function that cannot return one (hashing): nothing sane remains,
 * as with a broken invariant. */
__attribute__((noreturn)) static void crypto_die(const char *what) {
    (void) crypto_fail(what); /* logs; the returned code has nowhere to go */
    abort();
}

/* ---- suites ---- */

static int suite_valid(crypto_suite suite) {
    return suite == CRYPTO_SUITE_ED25519_SHA256 || suite == CRYPTO_SUITE_SM2_SM3;
}

slq_err crypto_suite_parse(crypto_suite *out, const char *name) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(name != NULL);
    if (strcmp(name, "ed25519-sha256") == 0) {
        *out = CRYPTO_SUITE_ED25519_SHA256;
        return SLQ_OK;
    }
    if (strcmp(name, "sm2-sm3") == 0) {
        *out = CRYPTO_SUITE_SM2_SM3;
        return SLQ_OK;
    }
    return SLQ_SUITE_UNKNOWN;
}

const char *crypto_suite_name(crypto_suite suite) {
    switch (suite) {
        case CRYPTO_SUITE_ED25519_SHA256:
            return "ed25519-sha256";
        case CRYPTO_SUITE_SM2_SM3:
            return "sm2-sm3";
    }
    return "unknown";
}

size_t crypto_pubkey_len(crypto_suite suite) {
    SLQ_ASSERT(suite_valid(suite));
    return suite == CRYPTO_SUITE_SM2_SM3 ? SM2_PUBKEY_BYTES : ED25519_PUBKEY_BYTES;
}

/* The length and, for SM2, the uncompressed-point prefix; whether it is a point is left to
 * OpenSSL. Hybrid encodings (0x06, 0x07) have the same length and are refused here. */
static int pubkey_shape_ok(crypto_suite suite, const uint8_t *pubkey, size_t pubkey_len) {
    if (pubkey_len != crypto_pubkey_len(suite)) return 0;
    return suite != CRYPTO_SUITE_SM2_SM3 || pubkey[0] == 0x04;
}

/* ---- hashing ---- */

/* The suites' digests, fetched once: EVP_sha256() and EVP_sm3() would make OpenSSL 3 look
 * the implementation up (locks and a hash table) at every use. Immutable once fetched; kept
 * for the life of the process. */
static pthread_once_t digests_once = PTHREAD_ONCE_INIT;
static EVP_MD *digest_sha256, *digest_sm3;

static void digests_fetch(void) {
    digest_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    digest_sm3 = EVP_MD_fetch(NULL, "SM3", NULL); /* may be missing: only SM2 chains need it */
    ERR_clear_error();
}

static const EVP_MD *suite_md(crypto_suite suite) {
    SLQ_ASSERT(suite_valid(suite));
    if (pthread_once(&digests_once, digests_fetch) != 0) abort();
    const EVP_MD *md = suite == CRYPTO_SUITE_SM2_SM3 ? digest_sm3 : digest_sha256;
    if (md == NULL) crypto_die(suite == CRYPTO_SUITE_SM2_SM3 ? "fetch SM3" : "fetch SHA256");
    return md;
}

void crypto_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES], const uint8_t *msg,
                 size_t len) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(msg != NULL || len == 0);
    unsigned int out_len = 0;
    if (EVP_Digest(msg, len, out, &out_len, suite_md(suite), NULL) != 1) crypto_die("hash");
    SLQ_ASSERT(out_len == CRYPTO_HASH_BYTES);
}

/* The hasher keeps an EVP_MD_CTX pointer in its state: OpenSSL 3 has no context that lives
 * in caller memory. crypto_hasher_init allocates it and crypto_hasher_final frees it, so
 * every init must be paired with a final, and a hasher must not be copied. */
static EVP_MD_CTX *hasher_ctx(const crypto_hasher *h) {
    EVP_MD_CTX *ctx = NULL;
    memcpy(&ctx, h->state, sizeof ctx);
    return ctx;
}

void crypto_hasher_init(crypto_hasher *h, crypto_suite suite) {
    SLQ_ASSERT(h != NULL);
    const EVP_MD *md = suite_md(suite);
    memset(h, 0, sizeof *h);
    h->suite = suite;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL) crypto_die("hasher_init: new");
    if (EVP_DigestInit_ex(ctx, md, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        crypto_die("hasher_init: init");
    }
    memcpy(h->state, &ctx, sizeof ctx);
}

void crypto_hasher_update(crypto_hasher *h, const uint8_t *p, size_t n) {
    SLQ_ASSERT(h != NULL);
    SLQ_ASSERT(p != NULL || n == 0);
    EVP_MD_CTX *ctx = hasher_ctx(h);
    SLQ_ASSERT(ctx != NULL); /* initialised and not yet finalised */
    if (EVP_DigestUpdate(ctx, p, n) != 1) crypto_die("hasher_update");
}

void crypto_hasher_final(crypto_hasher *h, uint8_t out[CRYPTO_HASH_BYTES]) {
    SLQ_ASSERT(h != NULL);
    SLQ_ASSERT(out != NULL);
    EVP_MD_CTX *ctx = hasher_ctx(h);
    SLQ_ASSERT(ctx != NULL); /* initialised and not yet finalised */
    unsigned int out_len = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &out_len);
    EVP_MD_CTX_free(ctx);
    memset(h->state, 0, sizeof h->state);
    if (ok != 1) crypto_die("hasher_final");
    SLQ_ASSERT(out_len == CRYPTO_HASH_BYTES);
}

/* ---- Merkle root ---- */

static void merkle_leaf(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                        const uint8_t leaf[CRYPTO_HASH_BYTES]) {
    uint8_t buf[1 + CRYPTO_HASH_BYTES];
    buf[0] = 0x00;
    memcpy(buf + 1, leaf, CRYPTO_HASH_BYTES);
    crypto_hash(suite, out, buf, sizeof buf);
}

/* out may alias left or right: both are copied before hashing. */
static void merkle_node(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                        const uint8_t left[CRYPTO_HASH_BYTES],
                        const uint8_t right[CRYPTO_HASH_BYTES]) {
    uint8_t buf[1 + 2 * CRYPTO_HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, left, CRYPTO_HASH_BYTES);
    memcpy(buf + 1 + CRYPTO_HASH_BYTES, right, CRYPTO_HASH_BYTES);
    crypto_hash(suite, out, buf, sizeof buf);
}

/* The RFC 6962 tree of n leaves is the complete subtrees of the binary digits of n, largest
 * first, each joined to the join of the ones after it. So the leaves are read left to right
 * onto a stack of complete subtrees, equal heights merging at once (the stack holds at most
 * one subtree per bit of n), and the stack is then folded from its top. */
void crypto_merkle_root(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                        const uint8_t (*leaves)[CRYPTO_HASH_BYTES], size_t n) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(leaves != NULL || n == 0);
    if (n == 0) {
        crypto_hash(suite, out, NULL, 0);
        return;
    }
    uint8_t stack[MERKLE_STACK_MAX][CRYPTO_HASH_BYTES];
    unsigned height[MERKLE_STACK_MAX];
    size_t top = 0;
    for (size_t i = 0; i < n; i++) {
        SLQ_ASSERT(top < MERKLE_STACK_MAX);
        merkle_leaf(suite, stack[top], leaves[i]);
        height[top++] = 0;
        while (top >= 2 && height[top - 1] == height[top - 2]) {
            merkle_node(suite, stack[top - 2], stack[top - 2], stack[top - 1]);
            height[top - 2]++;
            top--;
        }
    }
    for (; top >= 2; top--) merkle_node(suite, stack[top - 2], stack[top - 2], stack[top - 1]);
    memcpy(out, stack[0], CRYPTO_HASH_BYTES);
}

/* ---- addresses ---- */

#define ADDRESS_PREFIX       "slq1"
#define ADDRESS_PREFIX_BYTES 4u
_Static_assert(ADDRESS_PREFIX_BYTES + 2 * CRYPTO_ADDRESS_BYTES + 1 == CRYPTO_ADDRESS_TEXT_BYTES,
               "address text is prefix, hex and NUL");

slq_err crypto_address(crypto_suite suite, uint8_t out[CRYPTO_ADDRESS_BYTES], const uint8_t *pubkey,
                       size_t pubkey_len) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(pubkey != NULL || pubkey_len == 0);
    if (!pubkey_shape_ok(suite, pubkey, pubkey_len)) return SLQ_PUBKEY_INVALID;
    uint8_t hash[CRYPTO_HASH_BYTES];
    crypto_hash(suite, hash, pubkey, pubkey_len);
    memcpy(out, hash, CRYPTO_ADDRESS_BYTES);
    return SLQ_OK;
}

void crypto_address_format(char out[CRYPTO_ADDRESS_TEXT_BYTES],
                           const uint8_t addr[CRYPTO_ADDRESS_BYTES]) {
    static const char digits[] = "0123456789abcdef";
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(addr != NULL);
    memcpy(out, ADDRESS_PREFIX, ADDRESS_PREFIX_BYTES);
    char *hex = out + ADDRESS_PREFIX_BYTES;
    for (size_t i = 0; i < CRYPTO_ADDRESS_BYTES; i++) {
        hex[2 * i] = digits[addr[i] >> 4];
        hex[2 * i + 1] = digits[addr[i] & 0x0f];
    }
    out[CRYPTO_ADDRESS_TEXT_BYTES - 1] = '\0';
}

/* Returns the value of a lowercase hex digit, or -1. */
static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

slq_err crypto_address_parse(uint8_t out[CRYPTO_ADDRESS_BYTES], const char *text) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(text != NULL);
    if (strncmp(text, ADDRESS_PREFIX, ADDRESS_PREFIX_BYTES) != 0) return SLQ_ADDRESS_INVALID;
    const char *hex = text + ADDRESS_PREFIX_BYTES;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    for (size_t i = 0; i < CRYPTO_ADDRESS_BYTES; i++) {
        /* A NUL ends the loop here too: it is not a hex digit. */
        int hi = hex_digit(hex[2 * i]);
        if (hi < 0) return SLQ_ADDRESS_INVALID;
        int lo = hex_digit(hex[2 * i + 1]);
        if (lo < 0) return SLQ_ADDRESS_INVALID;
        addr[i] = (uint8_t) (hi << 4 | lo);
    }
    if (hex[2 * CRYPTO_ADDRESS_BYTES] != '\0') return SLQ_ADDRESS_INVALID;
    memcpy(out, addr, CRYPTO_ADDRESS_BYTES);
    return SLQ_OK;
}

/* ---- verification ---- */

/* Builds an SM2 public key from 04 || X || Y; OpenSSL checks that it is on the curve. */
static slq_err sm2_public_key(EVP_PKEY **out, const uint8_t *pubkey, size_t pubkey_len) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (ctx == NULL) return crypto_fail("verify: sm2 ctx");
    if (EVP_PKEY_fromdata_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return crypto_fail("verify: fromdata init");
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *) "SM2", 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *) pubkey, pubkey_len),
        OSSL_PARAM_construct_end(),
    };
    *out = NULL;
    int ok = EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    if (ok != 1 || *out == NULL) return crypto_reject(SLQ_PUBKEY_INVALID);
    return SLQ_OK;
}

static slq_err public_key(EVP_PKEY **out, crypto_suite suite, const uint8_t *pubkey,
                          size_t pubkey_len) {
    if (!pubkey_shape_ok(suite, pubkey, pubkey_len)) return SLQ_PUBKEY_INVALID;
    if (suite == CRYPTO_SUITE_SM2_SM3) return sm2_public_key(out, pubkey, pubkey_len);
    /* Any 32 bytes are accepted here; a non-point fails verification (SLQ_SIG_INVALID). */
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pubkey, pubkey_len);
    if (*out == NULL) return crypto_reject(SLQ_PUBKEY_INVALID);
    return SLQ_OK;
}

static int sig_len_ok(crypto_suite suite, size_t sig_len) {
    if (suite == CRYPTO_SUITE_SM2_SM3) return sig_len > 0 && sig_len <= SM2_SIG_BYTES_MAX;
    return sig_len == ED25519_SIG_BYTES;
}

/* Starts a sign or verify operation of the key's suite on md_ctx, with the SM2 ID set. */
static slq_err digest_init(EVP_MD_CTX *md_ctx, EVP_PKEY *pkey, crypto_suite suite, int signing) {
    EVP_PKEY_CTX *pkey_ctx = NULL;                                             /* owned by md_ctx */
    const EVP_MD *md = suite == CRYPTO_SUITE_SM2_SM3 ? suite_md(suite) : NULL; /* Ed25519: none */
    int ok = signing ? EVP_DigestSignInit(md_ctx, &pkey_ctx, md, NULL, pkey)
                     : EVP_DigestVerifyInit(md_ctx, &pkey_ctx, md, NULL, pkey);
    if (ok != 1) return crypto_fail(signing ? "sign: init" : "verify: init");
    if (suite != CRYPTO_SUITE_SM2_SM3) return SLQ_OK;
    /* The Z digest is computed at the first update, so the ID may be set after init. */
    if (EVP_PKEY_CTX_set1_id(pkey_ctx, SM2_ID, SM2_ID_BYTES) != 1)
        return crypto_fail(signing ? "sign: sm2 id" : "verify: sm2 id");
    return SLQ_OK;
}

/* A verification context prepared for one public key: the key parsed, the operation
 * initialised, SM2's ID set. Each verification works on a copy of it. Preparing costs
 * parsing and provider lookups, a few percent of an Ed25519 verification, and a node sees
 * the same signers again and again. */
static EVP_MD_CTX *verify_template(crypto_suite suite, const uint8_t *pubkey, size_t pubkey_len,
                                   slq_err *err) {
    EVP_PKEY *pkey = NULL;
    *err = public_key(&pkey, suite, pubkey, pubkey_len);
    if (*err != SLQ_OK) return NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    *err = ctx == NULL ? crypto_fail("verify: md ctx") : digest_init(ctx, pkey, suite, 0);
    EVP_PKEY_free(pkey); /* the context holds its own reference */
    if (*err == SLQ_OK) return ctx;
    EVP_MD_CTX_free(ctx);
    return NULL;
}

/* Per thread: the prepared contexts of recent keys, direct-mapped by the key's last byte (of
 * an Ed25519 key or an SM2 Y coordinate: uniformly distributed), and the context each
 * verification works in. A thread's cache is freed when the thread exits. */
#define VERIFY_CACHE_SLOTS 256u

typedef struct {
    crypto_suite suite;
    size_t pub_len; /* 0: empty */
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    EVP_MD_CTX *tpl;
} verify_slot;

typedef struct {
    EVP_MD_CTX *work;
    verify_slot slots[VERIFY_CACHE_SLOTS];
} verify_cache;

static pthread_once_t verify_cache_once = PTHREAD_ONCE_INIT;
static pthread_key_t verify_cache_key;
static bool verify_cache_ok;

static void verify_cache_free(void *p) {
    verify_cache *c = p;
    for (size_t i = 0; i < VERIFY_CACHE_SLOTS; i++) EVP_MD_CTX_free(c->slots[i].tpl);
    EVP_MD_CTX_free(c->work);
    free(c);
}

static void verify_cache_key_create(void) {
    verify_cache_ok = pthread_key_create(&verify_cache_key, verify_cache_free) == 0;
}

/* This thread's cache, made on first use; NULL if it cannot be (nothing is cached then). */
static verify_cache *verify_cache_get(void) {
    if (pthread_once(&verify_cache_once, verify_cache_key_create) != 0 || !verify_cache_ok)
        return NULL;
    verify_cache *c = pthread_getspecific(verify_cache_key);
    if (c != NULL) return c;
    c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->work = EVP_MD_CTX_new();
    if (c->work == NULL || pthread_setspecific(verify_cache_key, c) != 0) {
        verify_cache_free(c);
        return NULL;
    }
    return c;
}

/* The prepared context of a well-shaped key, from the cache or made and cached; NULL with
 * *err when the key is refused or OpenSSL fails. */
static const EVP_MD_CTX *verify_template_cached(verify_cache *c, crypto_suite suite,
                                                const uint8_t *pubkey, size_t pubkey_len,
                                                slq_err *err) {
    size_t i = pubkey[pubkey_len - 1] % VERIFY_CACHE_SLOTS;
    verify_slot *s = &c->slots[i];
    *err = SLQ_OK;
    if (s->pub_len == pubkey_len && s->suite == suite && memcmp(s->pub, pubkey, pubkey_len) == 0)
        return s->tpl;
    EVP_MD_CTX *tpl = verify_template(suite, pubkey, pubkey_len, err);
    if (tpl == NULL) return NULL;
    EVP_MD_CTX_free(s->tpl);
    s->tpl = tpl;
    s->suite = suite;
    s->pub_len = pubkey_len;
    memcpy(s->pub, pubkey, pubkey_len);
    return tpl;
}

slq_err crypto_verify(crypto_suite suite, const uint8_t *pubkey, size_t pubkey_len,
                      const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len) {
    SLQ_ASSERT(suite_valid(suite));
    SLQ_ASSERT(pubkey != NULL || pubkey_len == 0);
    SLQ_ASSERT(msg != NULL || msg_len == 0);
    SLQ_ASSERT(sig != NULL || sig_len == 0);
    if (!pubkey_shape_ok(suite, pubkey, pubkey_len)) return SLQ_PUBKEY_INVALID;
    slq_err err = SLQ_OK;
    verify_cache *c = verify_cache_get();
    EVP_MD_CTX *own = NULL, *work;
    if (c != NULL) {
        const EVP_MD_CTX *tpl = verify_template_cached(c, suite, pubkey, pubkey_len, &err);
        if (tpl == NULL) return err;
        if (!sig_len_ok(suite, sig_len)) return SLQ_SIG_INVALID;
        work = c->work;
        if (EVP_MD_CTX_copy_ex(work, tpl) != 1) return crypto_fail("verify: copy");
    } else {
        work = own = verify_template(suite, pubkey, pubkey_len, &err);
        if (own == NULL) return err;
        if (!sig_len_ok(suite, sig_len)) {
            EVP_MD_CTX_free(own);
            return SLQ_SIG_INVALID;
        }
    }
    /* 0 is a bad signature, < 0 a malformed one (bad DER): both are the signer's fault. */
    if (EVP_DigestVerify(work, sig, sig_len, msg, msg_len) != 1)
        err = crypto_reject(SLQ_SIG_INVALID);
    EVP_MD_CTX_free(own);
    return err;
}

/* ---- private keys ---- */

/* Which suite a decoded or generated key belongs to; 0 for any other kind of key. */
static crypto_suite key_kind(const EVP_PKEY *pkey) {
    if (EVP_PKEY_is_a(pkey, "ED25519")) return CRYPTO_SUITE_ED25519_SHA256;
    if (!EVP_PKEY_is_a(pkey, "SM2")) return 0;
    /* OpenSSL 3.0 decodes id-ecPublicKey keys on the SM2 curve as SM2; be sure of the curve. */
    char group[32];
    size_t group_len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &group_len) != 1)
        return 0;
    return strcmp(group, "SM2") == 0 ? CRYPTO_SUITE_SM2_SM3 : 0;
}

/* 04 || X || Y from the key's coordinates, whatever point format the key file used. */
static int sm2_raw_public(uint8_t out[SM2_PUBKEY_BYTES], const EVP_PKEY *pkey) {
    BIGNUM *x = NULL, *y = NULL;
    int ok = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
             EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 &&
             BN_bn2binpad(x, out + 1, SM2_COORD_BYTES) == (int) SM2_COORD_BYTES &&
             BN_bn2binpad(y, out + 1 + SM2_COORD_BYTES, SM2_COORD_BYTES) == (int) SM2_COORD_BYTES;
    out[0] = 0x04;
    BN_free(x);
    BN_free(y);
    return ok;
}

/* The raw public key of a key of `suite`, as crypto_verify takes it. */
static int key_raw_public(uint8_t *out, size_t *len, const EVP_PKEY *pkey, crypto_suite suite) {
    if (suite == CRYPTO_SUITE_SM2_SM3) {
        *len = SM2_PUBKEY_BYTES;
        return sm2_raw_public(out, pkey);
    }
    *len = ED25519_PUBKEY_BYTES;
    return EVP_PKEY_get_raw_public_key(pkey, out, len) == 1 && *len == ED25519_PUBKEY_BYTES;
}

/* Whether the public key matches the private one. OpenSSL's decoders take the public key a
 * PKCS#8 file carries as it is; a mismatch would make every signature fail to verify. */
static int key_pair_matches(EVP_PKEY *pkey) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    int ok = ctx != NULL && EVP_PKEY_pairwise_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/* Wraps pkey, which it takes over (freeing it on failure). Returns SLQ_KEY_INVALID for a
 * key of neither suite, or whose public key is missing or does not match. */
static slq_err key_wrap(crypto_key **out, EVP_PKEY *pkey) {
    crypto_suite suite = key_kind(pkey);
    if (suite == 0 || !key_pair_matches(pkey)) {
        EVP_PKEY_free(pkey);
        return crypto_reject(SLQ_KEY_INVALID);
    }
    crypto_key *key = calloc(1, sizeof *key);
    if (key == NULL) {
        EVP_PKEY_free(pkey);
        return SLQ_NO_MEMORY;
    }
    key->suite = suite;
    key->pkey = pkey;
    if (!key_raw_public(key->pub, &key->pub_len, pkey, suite)) {
        crypto_key_destroy(key);
        return crypto_reject(SLQ_KEY_INVALID);
    }
    *out = key;
    return SLQ_OK;
}

slq_err crypto_key_generate(crypto_key **out, crypto_suite suite) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(suite_valid(suite));
    const char *type = suite == CRYPTO_SUITE_SM2_SM3 ? "SM2" : "ED25519";
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (ctx == NULL) return crypto_fail("generate: ctx");
    EVP_PKEY *pkey = NULL;
    int ok = EVP_PKEY_keygen_init(ctx) == 1 && EVP_PKEY_generate(ctx, &pkey) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        EVP_PKEY_free(pkey);
        return crypto_fail("generate: keygen");
    }
    slq_err err = key_wrap(out, pkey);
    if (err == SLQ_KEY_INVALID) return crypto_fail("generate: wrap"); /* our own key */
    return err;
}

typedef struct {
    const char *passphrase; /* NULL: none given */
    int asked;              /* set when the key turned out to be encrypted */
} load_passphrase;

/* Hands OpenSSL the caller's passphrase; never prompts. Returning 0 fails the decoding. */
static int load_passphrase_cb(char *pass, size_t pass_size, size_t *pass_len,
                              const OSSL_PARAM params[], void *arg) {
    (void) params;
    load_passphrase *lp = arg;
    lp->asked = 1;
    if (lp->passphrase == NULL) return 0;
    size_t n = strlen(lp->passphrase);
    if (n > pass_size) return 0;
    memcpy(pass, lp->passphrase, n);
    *pass_len = n;
    return 1;
}

slq_err crypto_key_load_pem(crypto_key **out, const char *pem, size_t len, const char *passphrase) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(pem != NULL || len == 0);
    if (len == 0 || len > SLQ_KEY_FILE_BYTES_MAX) return SLQ_KEY_INVALID;
    EVP_PKEY *pkey = NULL;
    /* PEM input, private keys only. No input structure is named: "PrivateKeyInfo" refuses
     * encrypted PKCS#8 in OpenSSL 3.0 yet lets traditional keys through, so it filters
     * nothing useful; the key type check in key_wrap() is what keeps other keys out. */
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
    if (dctx == NULL) return crypto_fail("load: decoder");
    load_passphrase lp = {.passphrase = passphrase, .asked = 0};
    if (OSSL_DECODER_CTX_set_passphrase_cb(dctx, load_passphrase_cb, &lp) != 1) {
        OSSL_DECODER_CTX_free(dctx);
        return crypto_fail("load: passphrase cb");
    }
    const unsigned char *data = (const unsigned char *) pem;
    size_t data_len = len;
    int ok = OSSL_DECODER_from_data(dctx, &data, &data_len);
    OSSL_DECODER_CTX_free(dctx);
    if (ok != 1 || pkey == NULL) {
        EVP_PKEY_free(pkey);
        /* A corrupt encrypted key also lands here: it cannot be told from a wrong passphrase. */
        return crypto_reject(lp.asked ? SLQ_KEY_PASSPHRASE : SLQ_KEY_INVALID);
    }
    return key_wrap(out, pkey);
}

/* What group and others may do with a file of mode m (m & 077 != 0), in words. */
static const char *key_file_access(mode_t m) {
    bool r = (m & 044) != 0, w = (m & 022) != 0;
    return r && w ? "readable and writable" : r ? "readable" : w ? "writable" : "accessible";
}

/* Reads the open key file fd into buf[0..cap): SLQ_OK with *len, SLQ_IO on a read error,
 * SLQ_KEY_INVALID when there is more than cap - 1 bytes (cap is one over the limit). */
static slq_err key_file_read(int fd, char *buf, size_t cap, size_t *len) {
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return SLQ_IO;
        if (r == 0) break;
        n += (size_t) r;
    }
    *len = n;
    return n < cap ? SLQ_OK : SLQ_KEY_INVALID;
}

slq_err crypto_key_load_file(crypto_key **out, const char *path, const char *passphrase, char *why,
                             size_t why_cap) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(path != NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        SLQ_WHY("%s: %s", path, strerror(errno));
        return SLQ_IO;
    }
    /* The mode of the file we read, not of a path that could change meanwhile: like ssh, a
     * private key that group or others may read (or write) is refused, not used. */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        SLQ_WHY("%s: %s", path, strerror(errno));
        close(fd);
        return SLQ_IO;
    }
    if ((st.st_mode & 077) != 0) {
        SLQ_WHY("key file %s is %s by group or others (mode %04o): run chmod 600 %s", path,
                key_file_access(st.st_mode), (unsigned) (st.st_mode & 07777), path);
        close(fd);
        return SLQ_KEY_FILE_MODE;
    }
    char buf[SLQ_KEY_FILE_BYTES_MAX + 1];
    size_t len = 0;
    slq_err err = key_file_read(fd, buf, sizeof buf, &len);
    int read_errno = errno;
    close(fd);
    if (err == SLQ_IO) SLQ_WHY("%s: read failed: %s", path, strerror(read_errno));
    if (err == SLQ_KEY_INVALID)
        SLQ_WHY("%s: larger than %u bytes", path, (unsigned) SLQ_KEY_FILE_BYTES_MAX);
    if (err == SLQ_OK) {
        err = crypto_key_load_pem(out, buf, len, passphrase);
        if (err != SLQ_OK) SLQ_WHY("%s: %s", path, slq_err_str(err));
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return err;
}

/* Given instead of a passphrase when there is none, so that OpenSSL never prompts for one.
 * (With both, OpenSSL 3.0 uses the callback and ignores the passphrase.) */
static int write_no_prompt_cb(char *buf, int size, int rwflag, void *u) {
    (void) buf, (void) size, (void) rwflag, (void) u;
    return -1;
}

slq_err crypto_key_write_pem(const crypto_key *key, char *out, size_t cap, size_t *len,
                             const char *passphrase) {
    SLQ_ASSERT(key != NULL);
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(len != NULL);
    size_t pass_len = passphrase != NULL ? strlen(passphrase) : 0;
    if (passphrase != NULL && (pass_len == 0 || pass_len > PASSPHRASE_BYTES_MAX))
        return SLQ_KEY_PASSPHRASE;
    const EVP_CIPHER *cipher = passphrase != NULL ? EVP_aes_256_cbc() : NULL;
    /* A secure memory BIO: its buffer is wiped when freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    if (bio == NULL) return crypto_fail("write: bio");
    slq_err err = SLQ_OK;
    pem_password_cb *cb = passphrase != NULL ? NULL : write_no_prompt_cb;
    if (PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, cipher, passphrase, (int) pass_len, cb,
                                      NULL) != 1) {
        err = crypto_fail("write: pkcs8");
    } else {
        char *data = NULL;
        long data_len = BIO_get_mem_data(bio, &data);
        if (data_len <= 0 || data == NULL) {
            err = crypto_fail("write: mem data");
        } else if ((size_t) data_len >= cap) {
            err = SLQ_INVALID_ARGUMENT; /* out is too small */
        } else {
            memcpy(out, data, (size_t) data_len);
            out[data_len] = '\0';
            *len = (size_t) data_len;
        }
    }
    BIO_free(bio);
    return err;
}

void crypto_key_destroy(crypto_key *key) {
    if (key == NULL) return;
    EVP_PKEY_free(key->pkey); /* OpenSSL wipes the private key as it frees it */
    OPENSSL_cleanse(key, sizeof *key);
    free(key);
}

crypto_suite crypto_key_suite(const crypto_key *key) {
    SLQ_ASSERT(key != NULL);
    return key->suite;
}

slq_err crypto_key_public(const crypto_key *key, uint8_t *out, size_t cap, size_t *len) {
    SLQ_ASSERT(key != NULL);
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(len != NULL);
    SLQ_ASSERT(key->pub_len == crypto_pubkey_len(key->suite));
    if (cap < key->pub_len) return SLQ_INVALID_ARGUMENT;
    memcpy(out, key->pub, key->pub_len);
    *len = key->pub_len;
    return SLQ_OK;
}

slq_err crypto_sign(const crypto_key *key, uint8_t *sig, size_t cap, size_t *sig_len,
                    const uint8_t *msg, size_t msg_len) {
    SLQ_ASSERT(key != NULL);
    SLQ_ASSERT(sig != NULL);
    SLQ_ASSERT(sig_len != NULL);
    SLQ_ASSERT(msg != NULL || msg_len == 0);
    EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
    if (md_ctx == NULL) return crypto_fail("sign: md ctx");
    slq_err err = digest_init(md_ctx, key->pkey, key->suite, 1);
    uint8_t buf[CRYPTO_SIG_BYTES_MAX];
    size_t buf_len = sizeof buf;
    if (err == SLQ_OK && EVP_DigestSign(md_ctx, buf, &buf_len, msg, msg_len) != 1)
        err = crypto_fail("sign: sign");
    EVP_MD_CTX_free(md_ctx);
    if (err != SLQ_OK) return err;
    SLQ_ASSERT(sig_len_ok(key->suite, buf_len));
    if (buf_len > cap) return SLQ_INVALID_ARGUMENT; /* sig is too small */
    memcpy(sig, buf, buf_len);
    *sig_len = buf_len;
    return SLQ_OK;
}

slq_err crypto_random(uint8_t *buf, size_t n) {
    SLQ_ASSERT(buf != NULL || n == 0);
    if (n > INT32_MAX) return SLQ_INVALID_ARGUMENT;
    if (RAND_bytes(buf, (int) n) != 1) return crypto_fail("random");
    return SLQ_OK;
}

int crypto_equal(const void *a, const void *b, size_t n) {
    SLQ_ASSERT(a != NULL || n == 0);
    SLQ_ASSERT(b != NULL || n == 0);
    return CRYPTO_memcmp(a, b, n) == 0;
}
