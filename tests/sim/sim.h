/* sim.h: the deterministic simulator of issue 4, shared by its parts.
 *
 *   world.c  built once per process: deterministic keys, the fixture genesis and ledger, the
 *            validator set, a pool of pre-signed (valid and invalid) transactions; per seed:
 *            the block arena, block building and checking with the real ledger, signing and
 *            a cache of verified signatures and certificates;
 *   net.c    the fake clock (an event queue ordered by time, then sequence number) and the
 *            fake network (drop, delay, duplicate, reorder, partition, heal) and the faults;
 *   node.c   a node: a tendermint machine driven like the real node would drive it, the
 *            signer's guard, a write-ahead log of the current height replayed after a crash,
 *            relay and re-gossip, block fetch and block sync with certificates, and the
 *            Byzantine validator's equivocation;
 *   sim.c    runs seeds and checks the invariants.
 *
 * Everything a seed does follows from the seed: no clock, no randomness but sim_rng, keys
 * derived from fixed bytes. Single-threaded. */
#ifndef SLQ_SIM_H
#define SLQ_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "guard.h"
#include "ledger_fixture.h"
#include "tendermint.h"

#define SIM_VALIDATORS_MAX 7u
#define SIM_NODES_MAX      (SIM_VALIDATORS_MAX + 1u) /* plus one follower */
#define SIM_HEIGHTS_MAX    24u
#define SIM_POOL_MAX       48u
#define SIM_BLOCK_TXS_MAX  3u
#define SIM_NEXT_MAX       64u    /* messages buffered for the next height */
#define SIM_SYNC_AHEAD     4u     /* blocks sent per status answer */
#define SIM_CACHE_SLOTS    16384u /* verified signatures and certificates */
#define SIM_TICK_MS        1000   /* status and re-gossip period */
#define SIM_EVENTS_MAX     3000000u

typedef struct {
    uint64_t s;
} sim_rng;

uint64_t sim_rand(sim_rng *r);
uint64_t sim_below(sim_rng *r, uint64_t n); /* 0 .. n-1 */
bool sim_chance(sim_rng *r, uint32_t percent);

/* Built once: the fixture chain (keys, ledger), the validators and the transaction pool. */
typedef struct {
    fx f;
    crypto_key *vkeys[SIM_VALIDATORS_MAX];
    uint8_t vpub[SIM_VALIDATORS_MAX][32];
    Slq__Validator vals[SIM_VALIDATORS_MAX];
    Slq__Validator *vp[SIM_VALIDATORS_MAX];
    ledger_tx pool[SIM_POOL_MAX];
    size_t pool_n;
    int64_t base_time_ms; /* "block 0" time */
} sim_world;

/* A block: the values of consensus. Its id hashes every field. */
typedef struct {
    uint64_t height;
    int64_t time_ms;
    tm_block_id prev;
    uint32_t ntx;
    uint16_t tx[SIM_BLOCK_TXS_MAX]; /* pool indices */
    tm_block_id id;
} sim_block;

typedef enum {
    MSG_PROPOSAL = 1,
    MSG_VOTE,
    MSG_STATUS,    /* height: the sender's next height */
    MSG_BLOCK_REQ, /* height, id */
    MSG_BLOCK,     /* block */
    MSG_SYNC,      /* block and its certificate */
} sim_msg_kind;

typedef struct {
    sim_msg_kind kind;
    uint32_t from;
    uint32_t block; /* arena index: PROPOSAL, BLOCK, SYNC */
    uint64_t height;
    tm_block_id id;
    union {
        struct {
            tm_proposal p;
            uint8_t sig[TM_SIG_BYTES_MAX];
            size_t sig_len;
        } prop;
        tm_vote vote;
        struct {
            const uint8_t *cert; /* owned by the sender's chain, lives for the seed */
            size_t len;
        } sync;
    } u;
} sim_msg;

/* The write-ahead log of the current height: what the machine was fed, in order. */
typedef enum { WAL_MSG = 1, WAL_TIMEOUT, WAL_VALUE, WAL_BLOCK } sim_wal_kind;
typedef struct {
    sim_wal_kind kind;
    bool valid;
    tm_step step;
    uint32_t round;
    uint32_t block;
    sim_msg msg;
} sim_wal;

typedef struct {
    uint32_t block;
    bool valid;
} sim_known;

typedef struct {
    uint64_t height;
    uint32_t round;
    tm_step step;
    int32_t pol_round;
    tm_block_id id;
} sim_signed;

typedef struct {
    uint32_t idx; /* node index; validators first */
    int self;     /* validator index, -1 for the follower */
    bool byz;
    bool up;
    uint32_t incarnation;
    bool replaying;
    size_t replay_limit; /* while replaying: WAL entries fed so far, the current one included */
    bool halted;         /* reached the target height */
    tm *m;
    guard_record guard; /* durable */
    ledger_state *st;   /* durable: committed state */
    uint64_t tip;
    tm_block_id tip_id;
    int64_t tip_time_ms;
    uint32_t chain[SIM_HEIGHTS_MAX + 1];
    uint8_t *cert[SIM_HEIGHTS_MAX + 1];
    size_t cert_len[SIM_HEIGHTS_MAX + 1];
    bool tx_done[SIM_POOL_MAX];
    sim_wal *wal; /* durable up to wal_synced */
    size_t wal_n, wal_cap, wal_synced;
    sim_known *known; /* blocks held for the current height */
    size_t known_n, known_cap;
    sim_msg next[SIM_NEXT_MAX];
    size_t next_n;
    uint64_t last_tick[3];
    sim_signed *signed_log; /* omniscient: what this validator ever signed */
    size_t signed_n, signed_cap;
} sim_node;

typedef enum {
    EV_DELIVER = 1,
    EV_TIMEOUT,
    EV_TICK,
    EV_CRASH,
    EV_RESTART,
    EV_PARTITION,
    EV_HEAL,
} sim_ev_kind;

typedef struct {
    int64_t at;
    uint64_t seq;
    sim_ev_kind kind;
    uint32_t node;
    uint32_t inc; /* the node's incarnation for timers */
    tm_step step;
    uint64_t height;
    uint32_t round;
    uint32_t mask; /* partition: one side */
    sim_msg msg;
} sim_event;

typedef struct {
    uint8_t key[32];
    uint32_t gen;
} sim_cache_slot;

typedef struct {
    uint64_t evidence_seen, evidence_by_correct, equivocations, commits, syncs, fetches;
    uint64_t refused, reused, events, delivered, restarts, max_round, invalid_proposals;
    uint64_t pol_refeeds;
    int64_t liveness_ms; /* time from heal to every correct node at the target */
} sim_stats;

typedef struct sim sim;
/* A scripted network: returns true to drop the message. */
typedef bool (*sim_filter)(const sim *s, uint32_t from, uint32_t to, const sim_msg *m);

/* What a seed may not choose for itself (tests pin some of it). */
typedef struct {
    bool verbose;
    size_t n;                 /* validators; 0: the seed picks 4 (or 7 one time in eight) */
    int byz;                  /* -2: the seed picks; -1: none; else that validator */
    bool calm;                /* no faults at all */
    uint32_t byz_pct;         /* how often the Byzantine validator equivocates; 0: seed picks */
    bool byz_ignores_locks;   /* it never equivocates, but prevotes any proposal */
    bool no_follower;         /* no follower */
    sim_filter filter;        /* NULL: none */
    uint32_t crash_on_commit; /* nodes (bits) that crash right after committing height 1 */
} sim_opts;

struct sim {
    sim_world *w;
    uint64_t seed;
    bool verbose;
    sim_opts opts;
    sim_rng rng;
    int64_t now;
    uint64_t seq;
    sim_event *ev;
    size_t ev_n, ev_cap;
    size_t n;       /* validators */
    size_t nodes_n; /* validators and the follower, if any */
    int byz;        /* validator index, or -1 */
    uint64_t powers[SIM_VALIDATORS_MAX];
    sim_node nodes[SIM_NODES_MAX];
    sim_block *blocks;
    size_t blocks_n, blocks_cap;
    /* faults, all before heal_at */
    int64_t heal_at;
    bool harsh;      /* heavy loss; the first node to decide a height may crash at once */
    int64_t live_by; /* liveness deadline */
    uint32_t drop_pct, drop_precommit_pct, dup_pct, byz_pct;
    bool byz_attack; /* the Byzantine validator splits every vote for a block */
    int64_t delay_max_ms;
    uint32_t part_mask; /* 0: no partition */
    /* invariants */
    uint64_t target;
    bool decided_set[SIM_HEIGHTS_MAX + 1];
    bool digest_set[SIM_HEIGHTS_MAX + 1];
    tm_block_id decided[SIM_HEIGHTS_MAX + 1];
    uint8_t digest[SIM_HEIGHTS_MAX + 1][32];
    int violations;
    uint64_t trace; /* FNV-1a of everything that happened */
    sim_cache_slot *cache;
    uint32_t cache_gen;
    size_t cache_used;
    sim_stats st;
};

/* world.c */
void sim_world_init(sim_world *w);
void sim_world_deinit(sim_world *w);
size_t sim_sign_bytes(uint8_t out[CONSENSUS_VOTE_BYTES_MAX], const sim_world *w,
                      consensus_msg_type type, uint64_t h, uint32_t round, int32_t pol_round,
                      const tm_block_id *id);
void sim_sign(const sim_world *w, uint32_t validator, const uint8_t *msg, size_t len,
              uint8_t sig[TM_SIG_BYTES_MAX], size_t *sig_len);
bool sim_verify_sig(sim *s, uint32_t validator, const uint8_t *msg, size_t len, const uint8_t *sig,
                    size_t sig_len);
bool sim_verify_cert(sim *s, uint64_t h, const tm_block_id *id, const uint8_t *cert, size_t len);
uint32_t sim_block_add(sim *s, const sim_block *b);
uint32_t sim_block_build(sim *s, const sim_node *nd, uint32_t round, bool invalid);
bool sim_block_check(sim *s, const sim_node *nd, uint32_t bi);
slq_err sim_block_apply(sim *s, ledger_state *st, const sim_block *b);

/* net.c */
void sim_push(sim *s, const sim_event *e);
bool sim_pop(sim *s, sim_event *out);
void sim_send(sim *s, uint32_t from, uint32_t to, const sim_msg *m);
void sim_send_self(sim *s, const sim_node *nd, const sim_msg *m);
void sim_broadcast(sim *s, uint32_t from, uint32_t except, const sim_msg *m);
void sim_schedule_faults(sim *s);
void sim_push_at(sim *s, int64_t at, sim_ev_kind kind, uint32_t node, uint32_t mask);
void sim_trace(sim *s, uint64_t v);
void sim_log(const sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_violation(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* node.c */
void sim_node_start(sim *s, sim_node *nd);
void sim_node_crash(sim *s, sim_node *nd);
void sim_node_restart(sim *s, sim_node *nd);
void sim_node_deliver(sim *s, sim_node *nd, const sim_msg *m);
void sim_node_timeout(sim *s, sim_node *nd, const sim_event *e);
void sim_node_tick(sim *s, sim_node *nd);

/* sim.c: called by node.c after every commit. */
void sim_check_commit(sim *s, sim_node *nd, uint64_t h);
bool sim_is_correct(const sim *s, const sim_node *nd);

#endif
