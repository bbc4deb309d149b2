/* intake.h: transactions in. A client's batch (POST /v1/txs) and the transactions peers relay
 * are decoded and their signatures verified on libuv's thread pool, in chunks so that a large
 * batch uses every worker; then, back on the loop thread, each is admitted (admit.h: nonce
 * window, mempool). Relayed transactions are gathered a few milliseconds into one job; one
 * that does not verify makes its peer misbehave. The ledger's rules run when a block is built
 * (replica/). Loop thread only, except the verification itself. */
#ifndef SLQ_INTAKE_INTAKE_H
#define SLQ_INTAKE_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "admit.h"

typedef struct intake intake; /* opaque */

typedef struct {
    uv_loop_t *loop;
    admission adm; /* where verified transactions go */
    /* Called on the loop thread after transactions entered the mempool. */
    void (*mempool_changed)(void *arg);
    /* A peer relayed a transaction that does not verify. */
    void (*peer_misbehaved)(void *arg, uint32_t peer, const char *why);
    void *arg;
} intake_config;

SLQ_MUST_USE slq_err intake_create(intake **out, const intake_config *cfg);
/* At stop: nothing more is admitted or answered; batches being verified finish on the
 * workers (the loop must run until they have), then intake_free. */
void intake_stop(intake *in);
void intake_free(intake *in); /* NULL is a no-op */

/* A transaction a peer relayed. A copy already pending, or being verified, costs a hash. */
void intake_gossip(intake *in, uint32_t peer, const uint8_t *bytes, size_t len);

/* What became of one transaction of a client's batch. */
typedef struct {
    uint8_t hash[CRYPTO_HASH_BYTES]; /* all zero when its bytes could not be read at all */
    admit_status status;
    admit_result res; /* REJECTED: err and message; COMMITTED: height */
} intake_outcome;

/* Called once on the loop thread with one outcome per transaction, in order; with none
 * (count 0) when the node stopped first: nothing was admitted, nothing is to be answered. */
typedef void (*intake_done_fn)(void *arg, const intake_outcome *outcomes, size_t count);

typedef struct intake_batch intake_batch; /* opaque */

/* A batch of `count` transactions to fill, or NULL when memory runs out. */
intake_batch *intake_batch_new(size_t count);
/* Transaction i: its bytes (taken), or the reason it cannot be read (err != SLQ_OK: bytes
 * may be NULL or its raw bytes, which are hashed for the outcome). Unset ones are
 * SLQ_TX_MALFORMED. */
void intake_batch_set(intake_batch *b, size_t i, uint8_t *bytes, size_t len, slq_err err);
/* Verifies and admits the batch (taken), then calls done. */
void intake_batch_start(intake *in, intake_batch *b, intake_done_fn done, void *arg);
void intake_batch_free(intake_batch *b); /* only for a batch never started */

#endif
