/* admit.c: admission of admit.h. */
#include "admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/limits.h"

/* A gapped transaction evicted to make room: its hash answers why. */
static void evicted_cb(void *arg, const mempool_tx *t, slq_err why) {
    const admission *a = arg;
    results_record(a->res, t->tx.hash, why,
                   "the mempool was full: dropped for a transaction that can run, while it "
                   "waited behind a missing nonce of its signer");
}

admit_status admit_tx(const admission *a, uint8_t *bytes, size_t len, ledger_tx *tx, int64_t now_ms,
                      admit_result *r) {
    SLQ_ASSERT(bytes != NULL);
    SLQ_ASSERT(tx->body != NULL);
    r->err = SLQ_OK;
    r->message[0] = '\0';
    r->height = 0;
    uint64_t committed = 0;
    uint32_t index = 0;
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    admit_status st = ADMIT_REJECTED;
    /* Committed bytes carry a nonce at or below the signer's committed one; only those are
     * looked up in the tx index (most offered transactions are new: one read saved). */
    /* Only a registered party signs a valid transaction (the issuer of the first REGISTER is
     * in genesis): a key without an account may not park anything here, nor be relayed. */
    r->err = chain_signer_nonce(a->chain, tx->signer, &committed);
    if (r->err == SLQ_SIGNER_UNKNOWN)
        snprintf(r->message, sizeof r->message, "signer has no account");
    uint64_t nonce = tx->body->nonce;
    if (r->err == SLQ_OK && nonce <= committed &&
        storage_tx_by_hash(chain_storage(a->chain), tx->hash, &r->height, &index, &stored,
                           &stored_len) == SLQ_OK) {
        free(stored);
        st = ADMIT_COMMITTED;
    } else if (r->err == SLQ_OK && mempool_has(a->mp, tx->hash)) {
        st = ADMIT_PENDING;
    } else if (r->err == SLQ_OK &&
               (nonce <= committed || nonce > committed + SLQ_MEMPOOL_PER_ACCOUNT_MAX)) {
        r->err = SLQ_NONCE_INVALID;
        snprintf(r->message, sizeof r->message, "nonce %llu, last committed %llu",
                 (unsigned long long) nonce, (unsigned long long) committed);
    }
    if (st == ADMIT_REJECTED && r->err == SLQ_OK) {
        uint8_t hash[CRYPTO_HASH_BYTES];
        memcpy(hash, tx->hash, sizeof hash);
        r->err = mempool_add(a->mp, bytes, len, tx, committed, now_ms, evicted_cb,
                             (void *) a); /* takes bytes and tx */
        /* Only what entered is relayed: the bytes are the mempool's now, and stay until its
         * next change. A refused transaction relayed would reach peers as if accepted. */
        if (r->err == SLQ_OK && a->relay != NULL) a->relay(a->relay_arg, bytes, len);
        bytes = NULL;
        if (r->err == SLQ_OK) return ADMIT_NEW;
        if (r->err == SLQ_TX_DUPLICATE) return ADMIT_PENDING;
        snprintf(r->message, sizeof r->message, "%s", slq_err_str(r->err));
        results_record(a->res, hash, r->err, r->message);
        return ADMIT_REJECTED;
    }
    if (st == ADMIT_REJECTED) {
        if (r->message[0] == '\0')
            snprintf(r->message, sizeof r->message, "%s", slq_err_str(r->err));
        results_record(a->res, tx->hash, r->err, r->message);
    }
    free(bytes);
    ledger_tx_free(tx);
    return st;
}
