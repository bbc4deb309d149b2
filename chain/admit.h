/* admit.h: how a decoded, signature-checked transaction enters the node, whether it came
 * from the API or from a peer: already committed (idempotent: the first result), already
 * pending, refused (a signer without an account, the nonce window, the mempool's limits on
 * pending and gapped transactions: the refusal is remembered in results), or new: relayed
 * to peers and queued. Loop thread only. */
#ifndef SLQ_CHAIN_ADMIT_H
#define SLQ_CHAIN_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "mempool.h"
#include "results.h"

/* Hands a new transaction's bytes to whoever relays them to peers (the replica). */
typedef void (*admit_relay_fn)(void *arg, const uint8_t *bytes, size_t len);

typedef struct {
    chain *chain;
    mempool *mp;
    results *res;
    admit_relay_fn relay; /* may be NULL: nothing relayed */
    void *relay_arg;
} admission;

typedef enum {
    ADMIT_NEW,       /* queued in the mempool and relayed to peers */
    ADMIT_PENDING,   /* these bytes were already pending */
    ADMIT_COMMITTED, /* these bytes are already in a block (height set) */
    ADMIT_REJECTED,  /* refused: err and message set, result recorded */
} admit_status;

typedef struct {
    slq_err err;
    char message[160];
    uint64_t height;
} admit_result;

/* Offers a decoded, signature-checked transaction arrived at now_ms (the loop's monotonic
 * clock, uv_now: how long a gapped one waits is counted from it); takes bytes (malloc'd) and
 * tx always. */
admit_status admit_tx(const admission *a, uint8_t *bytes, size_t len, ledger_tx *tx, int64_t now_ms,
                      admit_result *r);

#endif
