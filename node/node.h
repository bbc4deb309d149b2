/* node.h: the slqd process: one libuv loop that owns the chain, the mempool, the HTTP API
 * and the block producer. Shared by node.c (wiring, producer, submission) and api.c (the
 * HTTP handlers). Loop thread only, except the verification work in submit.c. */
#ifndef SLQ_NODE_NODE_H
#define SLQ_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chain.h"
#include "http.h"
#include "mempool.h"
#include "slq/limits.h"

/* config.json of a node home (docs/node.md). */
typedef struct {
    char chain_id[SLQ_CHAIN_ID_BYTES_MAX + 1];
    char api_host[64];
    uint16_t api_port;
    char p2p_host[64];
    uint16_t p2p_port;
    char key_file[256];
    uint32_t block_interval_ms;       /* how often the producer looks at the mempool */
    uint32_t empty_block_interval_ms; /* an empty block at most this often */
    char peers[SLQ_PEERS_MAX][72];
    size_t peers_count;
} node_config;

/* Reads DIR/config.json. On failure `why` says which file and what is wrong. */
SLQ_MUST_USE slq_err node_config_load(node_config *cfg, const char *home, char *why,
                                      size_t why_cap);

/* Reads a small file into a NUL-terminated malloc'd buffer (free()); `why` names the file. */
SLQ_MUST_USE slq_err node_read_file(const char *path, size_t max, char **out, size_t *len,
                                    char *why, size_t why_cap);

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

typedef struct node {
    uv_loop_t *loop;
    node_config cfg;
    chain *chain;
    mempool *mp;
    crypto_key *key;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    bool validator;
    http_server *http;
    uv_timer_t producer;
    uv_signal_t sigint, sigterm;
    uint64_t last_block_mono_ms;
    node_result *results; /* ring of SLQ_RESULTS_MAX */
    size_t results_next;
    node_metrics metrics;
    unsigned jobs_in_flight; /* submission batches being verified */
    bool stopping;
    int exit_code;
} node;

/* Remembers a rejection (and counts it). */
void node_result_record(node *n, const uint8_t hash[CRYPTO_HASH_BYTES], slq_err code,
                        const char *message);
/* The remembered rejection of hash, or NULL. */
const node_result *node_result_find(const node *n, const uint8_t hash[CRYPTO_HASH_BYTES]);

/* The HTTP handler (api.c). */
void node_api_handle(void *arg, const http_request *req);
/* POST /v1/txs (submit.c): verifies off the loop, admits, answers. */
void node_submit(node *n, const http_request *req);
/* Answers with a JSON error object. */
void node_api_error(node *n, http_req_ref ref, int status, slq_err code, const char *message);
/* Answers with a JSON text (taken: freed here). */
void node_api_json(node *n, http_req_ref ref, int status, char *json);

#endif
