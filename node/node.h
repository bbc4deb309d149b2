/* node.h: the slqd process: one libuv loop that owns the chain, the mempool, the HTTP API
 * and the consensus engine with its peers. Shared by main.c (wiring), submit.c and admit.c
 * (transactions in), api*.c (the HTTP handlers) and engine.c (consensus, peers, sync).
 * Loop thread only, except the verification work in submit.c. */
#ifndef SLQ_NODE_NODE_H
#define SLQ_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chain.h"
#include "config.h"
#include "digest_set.h"
#include "http_server.h"
#include "mempool.h"
#include "slq/limits.h"

/* A rejection remembered for GET /v1/txs/HASH. */
typedef struct {
    uint8_t hash[CRYPTO_HASH_BYTES];
    slq_err code;
    char message[256];
} node_result;

typedef struct {
    uint64_t txs_committed;
    uint64_t blocks_committed;
    uint64_t http_requests;
    uint64_t rejected[256]; /* by slq_err number */
} node_metrics;

typedef struct engine engine; /* consensus and peers (engine.c) */

typedef struct node {
    uv_loop_t *loop;
    node_config cfg;
    chain *chain;
    mempool *mp;
    crypto_key *key;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    bool validator;
    http_server *http;
    engine *engine; /* NULL until started */
    uv_signal_t sigint, sigterm;
    node_result *results; /* ring of SLQ_RESULTS_MAX */
    size_t results_next;
    node_metrics metrics;
    unsigned jobs_in_flight; /* submission batches being verified */
    /* Documents accepted to be built off the loop (api_report.c): audits and reports first,
     * then balances, lineages and claim lists; one of each kind on the workers at a time,
     * the others waiting their turn. */
    struct scan_job *scans[SLQ_SCANS_MAX + SLQ_LOOKUPS_MAX];
    uint64_t scans_accepted;         /* orders the waiting ones */
    digest_set gossip_checking;      /* relayed transactions being verified (submit.c) */
    struct submit_job *gossip_batch; /* relayed transactions not yet sent to the pool */
    uv_timer_t gossip_flush;         /* sends them to the pool a little later, together */
    bool stopping;
    int exit_code;
} node;

/* Remembers a rejection (and counts it). */
void node_result_record(node *n, const uint8_t hash[CRYPTO_HASH_BYTES], slq_err code,
                        const char *message);
/* The remembered rejection of hash, or NULL. */
const node_result *node_result_find(const node *n, const uint8_t hash[CRYPTO_HASH_BYTES]);

/* What became of a transaction offered to the node (admit.c). */
typedef enum {
    NODE_ADMIT_NEW,       /* queued in the mempool and relayed to peers */
    NODE_ADMIT_PENDING,   /* these bytes were already pending */
    NODE_ADMIT_COMMITTED, /* these bytes are already in a block (height set) */
    NODE_ADMIT_REJECTED,  /* refused: err and message set, result recorded */
} node_admit_status;

typedef struct {
    slq_err err;
    char message[160];
    uint64_t height;
} node_admit_result;

/* Offers a decoded, signature-checked transaction; takes bytes (malloc'd) and tx always. */
node_admit_status node_admit(node *n, uint8_t *bytes, size_t len, ledger_tx *tx,
                             node_admit_result *r);

/* The HTTP handler (api.c). */
void node_api_handle(void *arg, const http_request *req);
/* POST /v1/txs (submit.c): verifies off the loop, admits, answers. */
void node_submit(node *n, const http_request *req);
/* A transaction a peer relayed (submit.c): verified off the loop like the API's, then
 * admitted; one that does not verify disconnects the peer. A copy already pending, or being
 * verified, costs only a hash. */
void node_submit_gossip(node *n, uint32_t peer, const uint8_t *bytes, size_t len);
/* The loop handle node_submit_gossip uses; node_submit_stop closes it. */
SLQ_MUST_USE slq_err node_submit_start(node *n);
void node_submit_stop(node *n);
/* Lowers the calling libuv worker's priority below the loop thread's (once per thread). */
void node_worker_yield_to_loop(void);
/* Answers with a JSON error object. */
void node_api_error(node *n, http_req_ref ref, int status, slq_err code, const char *message);
/* Answers with a JSON text (taken: freed here). */
void node_api_json(node *n, http_req_ref ref, int status, char *json);

/* ---- engine.c: consensus (Tendermint), peers, block sync ---- */

/* Starts the engine: peers, and consensus at the tip's next height. */
SLQ_MUST_USE slq_err engine_start(node *n, const char *home);
/* Stops it; the loop must run on until the close callbacks have run. */
void engine_stop(engine *e);
void engine_free(engine *e);
/* A peer sent something that does not verify: it is disconnected. */
void engine_peer_misbehaved(engine *e, uint32_t peer, const char *why);
/* Relays a newly admitted transaction to peers. */
void engine_relay_tx(engine *e, const uint8_t *bytes, size_t len);
/* The mempool gained transactions (wakes a proposer waiting for some). */
void engine_mempool_changed(engine *e);
size_t engine_peers(const engine *e);
/* Equivocation evidence seen so far (for the API and metrics). */
size_t engine_evidence_count(const engine *e);
const Slq__Evidence *engine_evidence(const engine *e, size_t i);

#endif
