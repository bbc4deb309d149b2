/* cert.h: canonical vote bytes, validator-set hash and commit certificates (CONSENSUS.md
 * §1, §5). Pure: no I/O, no clock; thread-safe.
 *
 * A vote is signed over fixed-width bytes, never over protobuf output:
 *   0x01 (consensus tag) | u8 len | chain_id | u8 type (prevote 1, precommit 2, proposal 0x20)
 *   | u64 height | u32 round | u32 pol_round (0xffffffff for -1) | block id [32] (zeros: nil)
 * all big-endian. The leading 0x01 is not a printable byte, so a vote can never be read as a
 * transaction preimage (which starts with the chain id). */
#ifndef SLQ_CONSENSUS_CERT_H
#define SLQ_CONSENSUS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq.pb-c.h"
#include "slq/err.h"

#define CONSENSUS_VOTE_BYTES_MAX (1 + 1 + 64 + 1 + 8 + 4 + 4 + 32)

typedef enum {
    CONSENSUS_PREVOTE = 1,
    CONSENSUS_PRECOMMIT = 2,
    CONSENSUS_PROPOSAL = 0x20,
} consensus_msg_type;

typedef struct {
    consensus_msg_type type;
    uint64_t height;
    uint32_t round;
    int32_t pol_round;         /* -1: none */
    const uint8_t *block_hash; /* 32 bytes, or NULL for nil */
} consensus_vote_fields;

/* Writes the canonical bytes into out (CONSENSUS_VOTE_BYTES_MAX) and returns their length. */
size_t consensus_vote_bytes(uint8_t out[CONSENSUS_VOTE_BYTES_MAX], const char *chain_id,
                            const consensus_vote_fields *v);

/* H(u32 count || each: u32 pubkey_len || pubkey || u64 power), in genesis order. */
void consensus_validators_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                               Slq__Validator *const *validators, size_t n);

/* Builds a certificate for (height, round, block_hash) carrying `count` precommit signatures;
 * sigs[i] belongs to validators[i] (NULL: absent). On SLQ_OK *out is malloc'd (free()). */
typedef struct {
    const uint8_t *signature; /* NULL: absent */
    size_t signature_len;
} consensus_sig;
SLQ_MUST_USE slq_err consensus_cert_encode(uint8_t **out, size_t *out_len, crypto_suite suite,
                                           const char *chain_id, uint64_t height, uint32_t round,
                                           const uint8_t block_hash[CRYPTO_HASH_BYTES],
                                           Slq__Validator *const *validators, size_t n,
                                           const consensus_sig *sigs);

/* Verifies an encoded certificate against the validator set: chain id, height and block hash
 * as expected, one entry per validator in set order, every present signature valid (all of
 * them, not only a quorum), each validator counted once, and commit power > 2/3 of the total.
 * Returns SLQ_OK or SLQ_CERT_INVALID with `why` (if not NULL) saying what is wrong. */
SLQ_MUST_USE slq_err consensus_cert_verify(crypto_suite suite, const char *chain_id,
                                           Slq__Validator *const *validators, size_t n,
                                           const uint8_t *cert, size_t cert_len, uint64_t height,
                                           const uint8_t block_hash[CRYPTO_HASH_BYTES], char *why,
                                           size_t why_cap);

/* True when an encoded certificate carries a precommit, for its block or nil, in the name of
 * the validator with address `addr`: evidence that this validator signed at the
 * certificate's height. Meant for certificates the store holds (verified when their block
 * was committed): the signature is not checked again. A certificate that does not decode
 * proves nothing (false). */
bool consensus_cert_signed_by(const uint8_t *cert, size_t cert_len,
                              const uint8_t addr[CRYPTO_ADDRESS_BYTES]);

#endif
