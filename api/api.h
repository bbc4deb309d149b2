/* api.h: the HTTP JSON API of docs/api.md, as the node (node/main.c) starts it: its server,
 * the read-only handlers, POST /v1/txs through intake, and the documents built off the loop
 * thread (documents.h). Loop thread only. */
#ifndef SLQ_API_API_H
#define SLQ_API_API_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chain.h"
#include "engine_view.h"
#include "intake.h"
#include "mempool.h"
#include "results.h"

typedef struct api api; /* opaque */

typedef struct {
    uv_loop_t *loop;
    chain *chain;
    mempool *mp;
    results *res;        /* refusals, for GET /v1/txs/HASH and the metrics */
    intake *in;          /* POST /v1/txs */
    const uint8_t *addr; /* this node's address (CRYPTO_ADDRESS_BYTES) */
    bool validator;
    const char *host; /* listen here */
    uint16_t port;    /* 0: any free port */
} api_config;

/* Serves the API on cfg's host and port. *out is set even on failure (api_free it). */
SLQ_MUST_USE slq_err api_start(api **out, const api_config *cfg);
/* The port it listens on. */
uint16_t api_port(const api *a);
/* The replica, once started, for the status, metrics and evidence (may stay NULL). */
void api_set_engine(api *a, const engine *e);
/* At stop: closes the server; documents not started yet are dropped; those being built
 * finish, and the loop must run until they have. */
void api_stop(api *a);
void api_free(api *a); /* NULL is a no-op */

#endif
