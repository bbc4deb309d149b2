/* chain.h: the node's chain executor: the ledger rules over the LevelDB store.
 *
 * It builds the next block from candidate transactions (keeping those the ledger accepts),
 * checks and applies blocks made elsewhere, and commits a block with its certificate and
 * every state change in one synced write. It knows nothing of sockets or timers, so the
 * single-validator producer of today and the consensus engine of tomorrow drive it the
 * same way: propose (or receive) a block, get it certified, commit it. Loop thread only. */
#ifndef SLQ_NODE_CHAIN_H
#define SLQ_NODE_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "storage.h"

typedef struct chain chain; /* opaque */

/* Opens data_dir (created if missing) for the chain of `genesis`. A fresh store gets the
 * genesis state; a store of another genesis is refused. On failure `why` says what. */
SLQ_MUST_USE slq_err chain_open(chain **out, const char *data_dir, const uint8_t *genesis,
                                size_t genesis_len, char *why, size_t why_cap);
void chain_close(chain *c); /* NULL is a no-op */

const ledger *chain_ledger(const chain *c);
storage *chain_storage(chain *c);
/* The committed tip (height 0: genesis only) and its block time (genesis time at 0). */
const storage_tip *chain_tip(const chain *c);
int64_t chain_tip_time_ms(const chain *c);
/* The committed nonce of an account (0 if unknown). */
SLQ_MUST_USE slq_err chain_account_nonce(chain *c, const uint8_t addr[CRYPTO_ADDRESS_BYTES],
                                         uint64_t *nonce);
/* The committed nonce of a registered account, or SLQ_SIGNER_UNKNOWN (*nonce 0) when the
 * address has no account: every valid transaction is signed by a registered party. */
SLQ_MUST_USE slq_err chain_signer_nonce(chain *c, const uint8_t addr[CRYPTO_ADDRESS_BYTES],
                                        uint64_t *nonce);

/* A block built by chain_propose, not yet committed. */
typedef struct {
    uint64_t height;
    int64_t time_ms;
    uint8_t hash[CRYPTO_HASH_BYTES];
    uint8_t *block; /* encoded Block (owned) */
    size_t block_len;
    size_t txs_count;
} chain_proposal;

/* Called for each candidate with what the ledger said of it. */
typedef void (*chain_result_cb)(void *arg, size_t index, const ledger_outcome *out);

/* Candidates for a block, in the order they are tried. */
typedef struct {
    const uint8_t *const *bytes; /* encoded SignedTx of each candidate */
    const size_t *lens;
    const ledger_tx *const *txs; /* the same, decoded and signature-checked */
    size_t count;
} chain_candidates;

/* Builds block tip+1 at time_ms (> tip time) proposed by `proposer` (an address), applying
 * the candidates in order on the pending state and keeping those that apply (at most
 * SLQ_BLOCK_TXS_MAX and SLQ_BLOCK_BYTES_MAX). The pending state is kept: chain_commit
 * commits it, chain_apply_block of this same block commits it without replaying, and
 * checking or building another block drops it. */
SLQ_MUST_USE slq_err chain_propose(chain *c, chain_proposal *p, int64_t time_ms,
                                   const uint8_t proposer[CRYPTO_ADDRESS_BYTES],
                                   const chain_candidates *cand, chain_result_cb cb, void *arg);
/* Commits the proposal and its certificate in one synced write. */
SLQ_MUST_USE slq_err chain_commit(chain *c, chain_proposal *p, const uint8_t *cert,
                                  size_t cert_len);
/* Drops a proposal and the pending state it made. */
void chain_abandon(chain *c, chain_proposal *p);

/* Checks a block made elsewhere against the tip (header links, time, roots, previous
 * certificate, every signature, every rule) and, with a valid certificate for it, commits
 * it. Nothing is written on any failure; `why` says what failed. A fault of our own (a store
 * read that fails, a stored row that does not decode, memory) is SLQ_STORAGE_IO,
 * SLQ_STORAGE_CORRUPT or SLQ_NO_MEMORY, never SLQ_BLOCK_INVALID: it is not the sender's. */
SLQ_MUST_USE slq_err chain_apply_block(chain *c, const uint8_t *block, size_t len,
                                       const uint8_t *cert, size_t cert_len, char *why,
                                       size_t why_cap);

/* A fault of ours, not of a transaction or of a block: a store read that failed, a stored row
 * that does not decode, memory. The functions here return it as it is, never as
 * SLQ_BLOCK_INVALID, so that nobody blames (and disconnects) the peer that sent the block
 * for our own disk. */
bool chain_local_fault(slq_err err);

/* Checks a proposed block as chain_apply_block does, without a certificate, and rejects a
 * block time after max_time_ms (0: no bound). Writes nothing; *hash gets the block hash.
 * The replay is kept, so that applying this block once it is decided does not replay it. */
SLQ_MUST_USE slq_err chain_check_block(chain *c, const uint8_t *block, size_t len,
                                       int64_t max_time_ms, uint8_t hash[CRYPTO_HASH_BYTES],
                                       char *why, size_t why_cap);

/* Tells the chain which transactions' signatures are already verified (by tx hash), so that
 * checking or applying a block does not verify them again. fn may be NULL (verify all). */
typedef bool (*chain_verified_fn)(void *arg, const uint8_t hash[CRYPTO_HASH_BYTES]);
void chain_set_verified(chain *c, chain_verified_fn fn, void *arg);

/* Signs a one-signature certificate for a proposal with the node key (enough when the node
 * holds more than 2/3 of the power, e.g. a one-validator network). On SLQ_OK *cert is
 * malloc'd (free()). SLQ_ROLE_FORBIDDEN if the key is not a validator. */
SLQ_MUST_USE slq_err chain_certify_alone(chain *c, const chain_proposal *p, const crypto_key *key,
                                         uint8_t **cert, size_t *cert_len);

#endif
