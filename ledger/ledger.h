/* ledger.h: the voucher rules (DESIGN.md §4) as a pure state machine.
 *
 * Given the chain's genesis, a state view, the block context (height, block time, index)
 * and a decoded signed transaction, ledger_apply either applies the transaction to the
 * state or returns a precise rejection (an slq_err code plus text) and changes nothing.
 * No I/O, no clock, no randomness: time arrives as the block time, state through a
 * ledger_state over whatever base the caller has. Single-threaded per state;
 * ledger_tx_decode (decoding + signature check) is thread-safe and may run on workers.
 *
 * Signature preimage: chain_id || body bytes, exactly as received. A chain id is 1..64
 * bytes of [a-z0-9._-] and a valid body starts with the tag byte 0x08 (field 1, `kind`),
 * so the boundary between the two is unambiguous. */
#ifndef SLQ_LEDGER_H
#define SLQ_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "contract_ref.h"
#include "crypto.h"
#include "slq.pb-c.h"
#include "slq/err.h"
#include "state.h"

typedef struct ledger ledger; /* opaque: the decoded, validated genesis */

/* Decodes and validates genesis bytes (suite, chain id, policy, programs, validators,
 * accounts). On SLQ_OK *out is yours (ledger_destroy). On SLQ_GENESIS_INVALID, `why`
 * (if not NULL) gets a one-line reason. */
SLQ_MUST_USE slq_err ledger_create(ledger **out, const uint8_t *genesis, size_t len, char *why,
                                   size_t why_cap);
void ledger_destroy(ledger *l); /* NULL is a no-op */

crypto_suite ledger_suite(const ledger *l);
const char *ledger_chain_id(const ledger *l);
const Slq__Genesis *ledger_genesis(const ledger *l);
/* Hash of the genesis bytes. */
const uint8_t *ledger_genesis_hash(const ledger *l);
/* Index of a program by name, or -1. */
int ledger_program_index(const ledger *l, const char *name);
/* The payer a policy that lists none has: the city alone. */
#define LEDGER_PAYER_DEFAULT "city"
/* Whether name may pay a settled claim: one of the policy's payers, or LEDGER_PAYER_DEFAULT
 * when it lists none. */
bool ledger_payer_listed(const ledger *l, const char *name);

/* Writes the genesis state (the genesis accounts) into st. */
SLQ_MUST_USE slq_err ledger_genesis_state(const ledger *l, ledger_state *st);

/* A decoded, signature-checked transaction. */
typedef struct {
    Slq__SignedTx *signed_tx; /* owned */
    Slq__TxBody *body;        /* owned */
    uint8_t hash[CRYPTO_HASH_BYTES];
    uint8_t signer[CRYPTO_ADDRESS_BYTES];
} ledger_tx;

/* Decodes bytes[0..len) as a SignedTx, checks size, canonical encoding, no unknown fields,
 * kind/payload agreement and field shapes, and verifies the signature over
 * chain_id || body. On SLQ_OK *tx holds what it decoded: ledger_tx_free() it. */
SLQ_MUST_USE slq_err ledger_tx_decode(ledger_tx *tx, const ledger *l, const uint8_t *bytes,
                                      size_t len);
void ledger_tx_free(ledger_tx *tx);
/* The same without the signature check, for bytes whose signature the caller has already
 * verified (the same bytes, so the same tx hash: e.g. a transaction in a node's mempool). */
SLQ_MUST_USE slq_err ledger_tx_decode_verified(ledger_tx *tx, const ledger *l, const uint8_t *bytes,
                                               size_t len);

/* Encodes body, signs chain_id || body with key and encodes the SignedTx. On SLQ_OK *out is
 * malloc'd (free()). */
SLQ_MUST_USE slq_err ledger_tx_sign(const ledger *l, const crypto_key *key, const Slq__TxBody *body,
                                    uint8_t **out, size_t *out_len);
/* The same for a signer that knows the chain only by its id and suite (a client).
 * SLQ_KEY_SUITE_MISMATCH if the key is of another suite; SLQ_TX_TOO_LARGE. */
SLQ_MUST_USE slq_err ledger_tx_sign_for(crypto_suite suite, const char *chain_id,
                                        const crypto_key *key, const Slq__TxBody *body,
                                        uint8_t **out, size_t *out_len);

typedef struct {
    uint64_t height; /* height of the block being built or replayed */
    int64_t time_ms; /* its block time, UTC ms */
    uint32_t index;  /* position of the transaction in the block */
} ledger_block_ctx;

/* What a transaction did, or why it was refused. */
typedef struct {
    slq_err code;                           /* SLQ_OK or the rejection */
    char reason[256];                       /* one line with the specifics */
    uint8_t vouchers[2][CRYPTO_HASH_BYTES]; /* vouchers created, recipient's first */
    size_t vouchers_count;
    uint8_t claim[CRYPTO_HASH_BYTES]; /* claim opened by REDEEM */
    bool has_claim;
    uint8_t application[CRYPTO_HASH_BYTES]; /* application opened by APPLY */
    bool has_application;
} ledger_outcome;

/* Applies tx to st, or leaves st unchanged and explains why not. Returns out->code.
 * Errors of the base view (e.g. SLQ_STORAGE_IO) are returned the same way. */
SLQ_MUST_USE slq_err ledger_apply(const ledger *l, ledger_state *st, const ledger_block_ctx *ctx,
                                  const ledger_tx *tx, ledger_outcome *out);

/* app_hash after a block: H("slq/app" || prev || each change in key order as
 * u32 key_len || key || u8 present || u32 value_len || value). Deterministic for the same
 * sequence of blocks, so replay recomputes it exactly. */
void ledger_app_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                     const uint8_t prev[CRYPTO_HASH_BYTES], const ledger_change *changes,
                     size_t count);

/* Derived identifiers. */
void ledger_voucher_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                       const uint8_t tx_hash[CRYPTO_HASH_BYTES], uint32_t index);
void ledger_claim_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                     const uint8_t tx_hash[CRYPTO_HASH_BYTES]);
/* H("slq/application" || tx hash): the id of the application an APPLY opens. */
void ledger_application_id(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                           const uint8_t tx_hash[CRYPTO_HASH_BYTES]);

/* True for the holder-class roles (enterprise, maker, research, university, intermediary):
 * those that may hold vouchers, and so must be registered with their credit code hash, one
 * account per code (CREDIT_CODE_REQUIRED, CREDIT_CODE_USED). */
bool ledger_role_needs_credit_code(Slq__Role role);

/* True when a voucher is expired at block time t (t >= expires_at_ms). */
static inline bool ledger_voucher_expired(const Slq__Voucher *v, int64_t time_ms) {
    return time_ms >= v->expires_at_ms;
}

/* The end of a voucher's redemption grace: expires_at_ms + grace_ms (Program.redeem_grace_ms,
 * >= 0), or INT64_MAX when the sum overflows (no block time reaches it). A centre holding the
 * voucher may REDEEM it while block time < this instant; nobody may do anything else with it
 * once block time >= expires_at_ms. */
static inline int64_t ledger_redeem_grace_end_ms(const Slq__Voucher *v, int64_t grace_ms) {
    int64_t end = 0;
    if (__builtin_add_overflow(v->expires_at_ms, grace_ms, &end)) return INT64_MAX;
    return end;
}

/* True when a voucher held by a centre can no longer be redeemed at block time t: its grace
 * (grace_ms after its expiry) has ended. With grace 0 this is ledger_voucher_expired. */
static inline bool ledger_voucher_grace_over(const Slq__Voucher *v, int64_t grace_ms,
                                             int64_t time_ms) {
    return time_ms >= ledger_redeem_grace_end_ms(v, grace_ms);
}

#endif
