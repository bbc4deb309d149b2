/* admit.c: how a decoded, signature-checked transaction enters the node, whether it came
 * from the API or from a peer: already committed (idempotent: the first result), already
 * pending, refused (nonce window, mempool limits), or new: relayed to peers and queued. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node.h"

node_admit_status node_admit(node *n, uint8_t *bytes, size_t len, ledger_tx *tx,
                             node_admit_result *r) {
    r->err = SLQ_OK;
    r->message[0] = '\0';
    r->height = 0;
    uint64_t committed = 0;
    uint32_t index = 0;
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    node_admit_status st = NODE_ADMIT_REJECTED;
    /* Committed bytes carry a nonce at or below the signer's committed one; only those are
     * looked up in the tx index (most offered transactions are new: one read saved). */
    r->err = chain_account_nonce(n->chain, tx->signer, &committed);
    uint64_t nonce = tx->body->nonce;
    if (r->err == SLQ_OK && nonce <= committed &&
        storage_tx_by_hash(chain_storage(n->chain), tx->hash, &r->height, &index, &stored,
                           &stored_len) == SLQ_OK) {
        free(stored);
        st = NODE_ADMIT_COMMITTED;
    } else if (r->err == SLQ_OK && mempool_has(n->mp, tx->hash)) {
        st = NODE_ADMIT_PENDING;
    } else if (r->err == SLQ_OK &&
               (nonce <= committed || nonce > committed + SLQ_MEMPOOL_PER_ACCOUNT_MAX)) {
        r->err = SLQ_NONCE_INVALID;
        snprintf(r->message, sizeof r->message, "nonce %llu, last committed %llu",
                 (unsigned long long) nonce, (unsigned long long) committed);
    }
    if (st == NODE_ADMIT_REJECTED && r->err == SLQ_OK) {
        uint8_t hash[CRYPTO_HASH_BYTES];
        memcpy(hash, tx->hash, sizeof hash);
        if (n->engine != NULL) engine_relay_tx(n->engine, bytes, len);
        r->err = mempool_add(n->mp, bytes, len, tx); /* takes bytes and tx */
        bytes = NULL;
        if (r->err == SLQ_OK) return NODE_ADMIT_NEW;
        if (r->err == SLQ_TX_DUPLICATE) return NODE_ADMIT_PENDING;
        snprintf(r->message, sizeof r->message, "%s", slq_err_str(r->err));
        node_result_record(n, hash, r->err, r->message);
        return NODE_ADMIT_REJECTED;
    }
    if (st == NODE_ADMIT_REJECTED) {
        if (r->message[0] == '\0')
            snprintf(r->message, sizeof r->message, "%s", slq_err_str(r->err));
        node_result_record(n, tx->hash, r->err, r->message);
    }
    free(bytes);
    ledger_tx_free(tx);
    return st;
}
