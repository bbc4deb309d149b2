/* engine.h: this node as a replica: consensus (Tendermint, consensus/tendermint.h) over the
 * peer network (net/p2p.h), the blocks it proposes from the mempool, the votes it signs
 * (signer.h) and logs (wal.h), and block sync from peers when it falls behind. The node
 * (node/main.c) starts it; what it needs from outside its room it is given here. Loop thread
 * only. The read-only getters for the API are in engine_view.h. */
#ifndef SLQ_REPLICA_ENGINE_H
#define SLQ_REPLICA_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "chain.h"
#include "crypto.h"
#include "engine_view.h"
#include "intake.h"
#include "mempool.h"
#include "results.h"

typedef struct {
    uv_loop_t *loop;
    chain *chain;
    mempool *mp;
    results *res;          /* transactions refused when a block is built are remembered here */
    intake *in;            /* transactions peers relay go here */
    const crypto_key *key; /* this node's */
    const char *home;      /* the node home: signer.state and consensus.wal */
    const char *p2p_host;  /* listen here */
    uint16_t p2p_port;
    const char *const *peers; /* "host:port" to dial */
    size_t peers_count;
    const uint8_t *const *observers; /* public keys of read-only nodes admitted */
    size_t observers_count;
    uint32_t block_interval_ms;       /* pending txs wait this long after the last block */
    uint32_t empty_block_interval_ms; /* an empty block at most this often */
    /* A validator whose signer.state is missing resumes above the heights it may have
     * signed instead of refusing to start (slqd --reset-signer; amnesia.c). */
    bool reset_signer;
    /* Called when the replica cannot go on (a decided block does not apply, the WAL cannot be
     * written): the node must stop, with a failure exit code. `why` is one line (valid
     * during the call only). */
    void (*fatal)(void *arg, const char *why);
    void *fatal_arg;
} engine_config;

/* Starts the engine: peers, and consensus at the tip's next height. The strings and lists of
 * cfg are read during the call only. *out is set even on failure (engine_free it); then
 * `why` (may be NULL) says what stopped it, naming the file at fault, e.g. "signer state
 * /x/signer.state is corrupt: ...". */
SLQ_MUST_USE slq_err engine_start(engine **out, const engine_config *cfg, char *why,
                                  size_t why_cap);
/* Stops it; the loop must run on until the close callbacks have run. */
void engine_stop(engine *e);
void engine_free(engine *e); /* NULL is a no-op */
/* A peer sent something that does not verify: it is disconnected. */
void engine_peer_misbehaved(engine *e, uint32_t peer, const char *why);
/* Relays a newly admitted transaction to peers. */
void engine_relay_tx(engine *e, const uint8_t *bytes, size_t len);
/* The mempool gained transactions (wakes a proposer waiting for some). */
void engine_mempool_changed(engine *e);

#endif
