/* engine_internal.h: the replica room's private header: the engine's state (struct engine),
 * shared by its files, and the functions they call of each other. Nothing outside replica/
 * includes it (node/ has engine.h, api/ engine_view.h).
 *
 * The files and who calls whom (no call cycle: each arrow points down):
 *   engine.c   the driver: the machine's actions (run), timers, start and stop, peer
 *              messages, evidence, restart from the log; calls all below
 *   propose.c  building and signing our value, proposal storage; answers the driver with
 *              the machine's actions instead of running them
 *   sync.c     status, block requests and responses, peer heights; tells the driver that a
 *              synced block was applied instead of starting the next height itself
 *   journal.c  the machine's inputs into the write-ahead log
 *   amnesia.c  at start, a validator whose signer.state is missing (--reset-signer)
 *   wal_records.c, wal.c, signer.c   below them all
 * Loop thread only. */
#ifndef SLQ_REPLICA_ENGINE_INTERNAL_H
#define SLQ_REPLICA_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "engine.h"
#include "p2p.h"
#include "signer.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "tendermint.h"
#include "wal.h"

#define PROPOSALS_MAX    16u
#define TIMERS_MAX       8u
#define SEEN_MAX         4096u
#define EVIDENCE_MAX     64u
#define PEER_HEIGHTS_MAX 64u
#define VOTES_KEPT       1024u /* signature-checked votes of the current height, for NEED_POL */
#define WHY_BYTES        256u  /* why the chain refused a block (chain.h's why), one log line */

typedef struct {
    bool used, valid;
    uint32_t round, proposer;
    int32_t pol_round;
    uint8_t hash[CRYPTO_HASH_BYTES];
    uint8_t *block;
    size_t len;
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len;
} proposal_slot;

typedef struct {
    uv_timer_t t;
    engine *e;
    tm_step step;
    uint64_t h;
    uint32_t r;
} step_timer;

/* A peer as block sync sees it (sync.c). */
typedef struct {
    uint32_t peer;   /* the peer's id + 1; 0: a free slot */
    uint64_t height; /* of its last Status */
    uint64_t asked;  /* the height we asked it for and it has not answered; 0: none */
    uint32_t misses; /* our requests it let time out since a block of its last applied */
} peer_height;

struct engine {
    engine_config cfg; /* lists and strings: NULL after engine_start */
    uint64_t blocks_committed, txs_committed;
    tm *m;
    int self;
    size_t nvals;
    uint8_t addrs[SLQ_VALIDATORS_MAX][CRYPTO_ADDRESS_BYTES];
    p2p *net;
    signer *sg;
    wal *log;       /* the machine's inputs of this height (wal.h) */
    bool replaying; /* feeding the log back after a restart: nothing is logged again */
    proposal_slot props[PROPOSALS_MAX];
    uint64_t props_height;
    step_timer timers[TIMERS_MAX];
    size_t next_timer;
    uv_timer_t build, tick;
    bool want_value;
    uint64_t want_h;
    uint32_t want_r;
    tm_vote votes[VOTES_KEPT]; /* votes of this height we fed in (ours included) */
    size_t votes_count;
    peer_height heights[PEER_HEIGHTS_MAX];
    bool syncing;     /* a block request is out, to heights[sync_slot] */
    size_t sync_slot; /* the peer asked last: the next request starts looking after it */
    uint64_t sync_asked_ms;
    uint64_t seen[SEEN_MAX]; /* digests of relayed votes and proposals */
    size_t seen_next;
    Slq__Evidence *evidence[EVIDENCE_MAX];
    size_t evidence_count;
    uint64_t last_block_mono_ms;
    /* Refusal hints (TxRefusals) for height hints_height, not yet committed: tried again
     * here once it is (propose_recheck_hints). */
    uint64_t hints_height;
    size_t hints_count;
    uint8_t hints[SLQ_BLOCK_TXS_MAX][CRYPTO_HASH_BYTES];
    unsigned open_handles;
    bool stopping;
};

/* ------------------------------------------------------------------ every file */

static inline const char *engine_chain_id(const engine *e) {
    return ledger_chain_id(chain_ledger(e->cfg.chain));
}

static inline crypto_suite engine_suite(const engine *e) {
    return ledger_suite(chain_ledger(e->cfg.chain));
}

/* The wall clock in ms since the epoch (block times). */
static inline int64_t engine_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The replica cannot go on: logs why and tells the node (engine_config.fatal). */
static inline void engine_fatal(engine *e, const char *what, slq_err err) {
    char why[160];
    snprintf(why, sizeof why, "engine: %s: %s", what, slq_err_str(err));
    log_error("%s; stopping", why);
    e->cfg.fatal(e->cfg.fatal_arg, why);
}

/* ------------------------------------------------------------------ amnesia.c */

/* After signer_open of the validator's record at path (e->sg) and wal_open (e->log): with
 * the record missing, refuses to go on (SLQ_SIGNER_STATE_MISSING, `why` saying why and how
 * to override) if the store's recent certificates or the log show this validator signed
 * before; with `reset`, fences the record above the heights it may have signed instead.
 * SLQ_OK when the engine may start. */
SLQ_MUST_USE slq_err amnesia_check(engine *e, const char *path, bool reset, char *why,
                                   size_t why_cap);

/* ------------------------------------------------------------------ journal.c */

/* Vote layout: type u8 | height u64 | round u32 | validator u32 | block [32] | sig_len u8 |
 * sig [72]. */
#define WAL_VOTE_BYTES    (1 + 8 + 4 + 4 + 32 + 1 + TM_SIG_BYTES_MAX)
/* Proposal layout: height u64 | round u32 | pol_round u32 | proposer u32 | valid u8 |
 * sig_len u8 | sig [72] | block bytes. */
#define WAL_PROPOSAL_HEAD (8 + 4 + 4 + 4 + 1 + 1 + CRYPTO_SIG_BYTES_MAX)

/* Each appends one input of the machine to the write-ahead log (nothing while replaying
 * it); a failed write is fatal. */
void journal_vote(engine *e, const tm_vote *v);
void journal_proposal(engine *e, const proposal_slot *s, uint64_t height);
void journal_value(engine *e, uint64_t h, uint32_t r, const uint8_t *block, size_t len);
void journal_timeout(engine *e, tm_step step, uint64_t h, uint32_t r);
/* Makes the log durable (before we sign: a restart replays it to recover our lock). False,
 * and fatal, if it cannot. */
bool journal_sync(engine *e);

/* ------------------------------------------------------------------ propose.c */

/* Forgets the proposals (and kept votes) of the last height: a fresh height tip+1. */
void propose_clear(engine *e);
/* Drops the mempool's gapped transactions that waited SLQ_MEMPOOL_GAP_TTL_MS, each with a
 * TX_GAP_DROPPED result: on every commit and before building a block. */
void propose_expire_gaps(engine *e);
/* A proposer's TxRefusals from peer: kept for its height, or tried at once when that height
 * is committed already. Malformed (too many, a hash of the wrong length): the peer is
 * disconnected. */
void propose_on_refusals(engine *e, uint32_t peer, const Slq__TxRefusals *r);
/* After a commit: the kept hints of a committed height are tried again on the new state;
 * those that still fail leave the mempool with their reason (and their signer's later ones). */
void propose_recheck_hints(engine *e);
/* The proposal of this height with that block hash, or NULL. */
proposal_slot *propose_find(engine *e, const uint8_t *hash);
/* Holds a block (malloc'd; taken) in a slot, the one it has if any; the oldest round is
 * evicted when full. */
proposal_slot *propose_store(engine *e, const uint8_t *hash, uint8_t *block, size_t len);
/* Sends a held proposal to every peer but `except`. */
void propose_broadcast(engine *e, const proposal_slot *s, uint32_t except);

/* What propose_try did. */
typedef struct {
    bool wait;        /* nothing built yet: try again in wait_ms (the driver's build timer) */
    uint64_t wait_ms; /* with wait */
    tm_actions acts;  /* the machine's answer to a value built, for the driver to run */
} propose_outcome;
/* Builds our value for the round the machine asked one for (e->want_*) if it is due, logs
 * it and hands it to the machine. A block that cannot be built is fatal. */
void propose_try(engine *e, propose_outcome *out);
/* Signs the proposal of the machine's PROPOSE action, sends it, logs it and hands it to the
 * machine: out gets the machine's answer (nothing if the block is not here, the signer
 * refused, or it failed: that is fatal). */
void propose_sign(engine *e, const tm_action *a, tm_actions *out);

/* ------------------------------------------------------------------ sync.c */

/* Our height to one peer, or to all (UINT32_MAX). */
void sync_send_status(engine *e, uint32_t peer);
/* Asks a peer ahead of us for our next block, one request at a time; a request that timed
 * out counts against its peer, and the next goes to the peer with the fewest misses. */
void sync_maybe(engine *e);
void sync_on_status(engine *e, uint32_t peer, const Slq__Status *st);
void sync_on_block_request(engine *e, uint32_t peer, const Slq__BlockRequest *br);
/* True if the answer was our next block and it applied: the tip moved, the driver settles
 * the block and starts the next height. */
bool sync_on_block_response(engine *e, uint32_t peer, const Slq__BlockResponse *r);
/* A peer went away: its height and standing are forgotten, and a request to it. */
void sync_peer_down(engine *e, uint32_t peer);

#endif
