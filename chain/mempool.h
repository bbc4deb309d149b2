/* mempool.h: transactions waiting for a block: bounded, deduplicated by hash, ordered by
 * nonce per signer, signers served in the order they first arrived.
 *
 * A transaction that cannot run next (gapped: a nonce of its signer is missing before it) is
 * held within tighter bounds (per signer and in all), gives way to one that can run when the
 * mempool is full, and expires SLQ_MEMPOOL_GAP_TTL_MS after it arrived. The mempool has no
 * clock: callers pass the time (the loop's monotonic clock).
 *
 * Entries hold the signed bytes and the decoded, signature-checked transaction, so a
 * transaction is verified once, before it enters. All storage is allocated at creation
 * (SLQ_MEMPOOL_TXS_MAX entries); no allocation per transaction besides the bytes and the
 * decoded message. Loop thread only. */
#ifndef SLQ_NODE_MEMPOOL_H
#define SLQ_NODE_MEMPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

typedef struct mempool mempool; /* opaque */

typedef struct {
    uint8_t *bytes; /* the SignedTx bytes */
    size_t len;
    ledger_tx tx; /* decoded */
} mempool_tx;

SLQ_MUST_USE slq_err mempool_create(mempool **out, size_t cap);
void mempool_destroy(mempool *m); /* NULL is a no-op */
size_t mempool_count(const mempool *m);

/* Transactions waiting behind a gap: a transaction is gapped when its nonce neither follows
 * its signer's committed nonce (as last told: `committed` of mempool_add, or nonce_fn of
 * mempool_select) nor a pending transaction that runs. */
size_t mempool_gapped(const mempool *m);

/* Adds a transaction of a signer whose committed nonce is `committed`, arrived at now_ms (the
 * caller's monotonic clock, the same as mempool_expire's; the mempool has none), taking bytes
 * (malloc'd) and the decoded tx in every case (freed when refused). Refuses SLQ_TX_DUPLICATE (these
 * bytes are pending), SLQ_NONCE_INVALID (another pending transaction of the signer has this nonce),
 * SLQ_TX_PENDING_TOO_MANY (the signer holds SLQ_MEMPOOL_PER_ACCOUNT_MAX, or the transaction is
 * gapped and the signer holds SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX gapped ones, or the mempool
 * cap / SLQ_MEMPOOL_GAPPED_SHARE) or SLQ_MEMPOOL_FULL. A full mempool never refuses a
 * transaction that can run next while it holds a gapped one: it drops the gapped one with the
 * highest nonce of the signer that arrived last among those holding one, calling drop_fn (may
 * be NULL) with SLQ_TX_GAP_DROPPED. */
/* Called for a transaction the mempool drops: `why` is SLQ_NONCE_INVALID (its nonce is already
 * committed, or an earlier one of its signer was refused) or SLQ_TX_GAP_DROPPED (it waited
 * behind a gap: expired, or evicted for one that can run). */
typedef void (*mempool_drop_fn)(void *arg, const mempool_tx *t, slq_err why);

SLQ_MUST_USE slq_err mempool_add(mempool *m, uint8_t *bytes, size_t len, ledger_tx *tx,
                                 uint64_t committed, int64_t now_ms, mempool_drop_fn drop_fn,
                                 void *arg);
bool mempool_has(const mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]);
/* The pending transaction with this hash, or NULL; valid until the next mutation. */
const mempool_tx *mempool_get(const mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]);
/* What a signer whose committed nonce is `committed` has pending. */
typedef struct {
    /* The highest nonce n such that every nonce committed + 1 .. n is pending (committed when
     * committed + 1 is not): the nonce a client signs after. */
    uint64_t run_nonce;
    uint64_t max_nonce; /* the highest pending nonce; committed when none is higher */
    /* Behind a gap: the pending transactions above run_nonce + 1, the lowest of their nonces
     * (0 when none) and the earliest of their arrivals (on the caller's clock): the first of
     * them is dropped SLQ_MEMPOOL_GAP_TTL_MS after it, unless the gap fills. */
    uint32_t gapped;
    uint64_t gap_next;
    int64_t gap_since_ms;
} mempool_signer_view;

void mempool_signer(const mempool *m, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t committed,
                    mempool_signer_view *out);

/* The committed nonce of a signer, asked of the chain during selection. */
typedef slq_err (*mempool_nonce_fn)(void *arg, const uint8_t addr[CRYPTO_ADDRESS_BYTES],
                                    uint64_t *nonce);

/* Picks up to max transactions for the next block: for each signer in arrival order, its
 * pending transactions with consecutive nonces from committed + 1. Stale ones are dropped
 * (drop_fn). out[] points into the mempool until the next mutation. Returns the count. */
size_t mempool_select(mempool *m, const mempool_tx **out, size_t max, mempool_nonce_fn nonce_fn,
                      mempool_drop_fn drop_fn, void *arg);

/* Drops the gapped transactions that arrived SLQ_MEMPOOL_GAP_TTL_MS or more before now_ms
 * (after asking nonce_fn whether their gap was filled meanwhile), calling drop_fn (may be
 * NULL) for each with SLQ_TX_GAP_DROPPED. Stops at the first nonce_fn failure. Returns how many it
 * dropped. */
size_t mempool_expire(mempool *m, int64_t now_ms, mempool_nonce_fn nonce_fn,
                      mempool_drop_fn drop_fn, void *arg);

/* Removes the transaction with this hash (included in a block). */
void mempool_remove(mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]);
/* Removes a refused transaction and every pending one of its signer with a higher nonce
 * (they can no longer apply), calling drop_fn for each of the latter. */
void mempool_reject(mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES], mempool_drop_fn drop_fn,
                    void *arg);

#endif
