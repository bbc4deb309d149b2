/* node.h: the slqd process (main.c): one libuv loop and the rooms it wires together. The
 * node owns each room and holds it by pointer; what the rooms know of each other they were
 * given at creation (the callbacks below main.c's wiring), so no room reaches into another's
 * state. Loop thread only. */
#ifndef SLQ_NODE_NODE_H
#define SLQ_NODE_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "api.h"
#include "chain.h"
#include "config.h"
#include "engine.h"
#include "intake.h"
#include "mempool.h"
#include "results.h"

typedef struct node {
    uv_loop_t *loop;
    node_config *cfg;
    crypto_key *key;
    chain *chain;                       /* the committed chain (chain/) */
    mempool *mp;                        /* transactions waiting for a block (chain/) */
    results *res;                       /* refusals remembered (chain/) */
    intake *in;                         /* transactions in (intake/) */
    api *api;                           /* the HTTP API (api/) */
    engine *engine;                     /* consensus, peers, sync (replica/); NULL until started */
    uint8_t addr[CRYPTO_ADDRESS_BYTES]; /* this node's (its key's) */
    bool validator;                     /* its key is one of the genesis validators */
    uv_signal_t *sigint, *sigterm;
    bool stopping;
    int exit_code;
    char stop_why[256]; /* why the replica stopped the node (exit_code 1) */
} node;

#endif
