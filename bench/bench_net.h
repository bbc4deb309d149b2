/* bench_net.h: the pieces of bench_network, the steady-load benchmark of a network of
 * validators (issue 4).
 *
 * bench_network.c reads the options, prepares the accounts and pre-signed transfers with
 * bench_setup.c, runs the paced client threads (each talks to one node's API) and prints the
 * JSON. bench_net_chain.c watches node 0's height while the load runs, waits for the last
 * transfers to commit, walks the blocks of the run and computes the latencies.
 *
 * Threading: each client thread writes only its own net_client and the net_tx of its own
 * slice; the watcher thread writes only the net_watch. The main thread reads them after
 * joining the threads. */
#ifndef SLQ_BENCH_NET_H
#define SLQ_BENCH_NET_H

#include <pthread.h>
#include <stdatomic.h>

#include "bench.h"

#define NET_NODES_MAX 16u
#define NET_WHY_BYTES 320u

/* One pre-signed transfer of the run and what became of it. */
typedef struct {
    const bench_tx *tx;
    double submit_ms; /* wall clock of the first POST that carried it; 0: never sent */
    uint64_t height;  /* the block of node 0 that holds it; 0: not found */
} net_tx;

typedef struct netbench netbench;

typedef struct {
    const netbench *nb;
    unsigned id;
    const char *url; /* the API this client talks to: node id % nodes */
    net_tx *txs;     /* its slice, in sending order */
    size_t count;
    double rate;    /* transactions per second */
    double start_s; /* CLOCK_MONOTONIC: when its schedule starts */
    /* Out: what it did; the worst delay of a POST behind the schedule; how long the node
     * took to answer its POSTs; whether it had to stop early (why says why). */
    uint64_t posts, accepted, retried, refused;
    double lag_max_ms, post_ms_sum, post_ms_max;
    bool failed;
    char why[NET_WHY_BYTES];
} net_client;

/* The watcher: the wall time at which node 0's /v1/status first showed each height. */
typedef struct {
    bench_http *http;
    atomic_bool stop;
    uint64_t base;   /* height before the load */
    double *arrival; /* arrival[i]: wall ms when height base + 1 + i was first seen */
    size_t count, cap;
    atomic_size_t seen; /* count, for the main thread to read while the watcher runs */
    uint64_t polls, mempool_max;
    double first_poll_ms, last_poll_ms, poll_gap_max_ms; /* wall clock of the answers */
    bool failed;
} net_watch;

/* What the block walk found at one height. */
typedef struct {
    double time_ms; /* the block's time_ms */
    unsigned round; /* its certificate's round */
    size_t txs;     /* transactions it holds */
} net_block;

typedef struct {
    double p50, p90, p99, max;
} net_pct;

typedef struct {
    uint64_t committed, foreign; /* ours found in blocks; txs in blocks that are not ours */
    uint64_t end_height;         /* node 0's height once every transfer is in */
    uint64_t last_height;        /* the block that holds the last of ours */
    uint64_t blocks, rounds_above_0, validators;
    double first_submit_ms, last_commit_ms;
    net_pct latency, latency_block, interval;
    bool stalled, tips_agree, client_failed;
} net_result;

struct netbench {
    bench b; /* b.opt.node_url is node 0 */
    const char *urls[NET_NODES_MAX];
    unsigned nodes, rate, seconds;
    net_tx *txs; /* every transfer of the run; the clients' slices follow each other */
    size_t total;
    net_client *clients;
    net_watch watch;
    net_block *blocks;       /* heights watch.base + 1 .. res.end_height */
    uint64_t committed_base; /* node 0's slq_txs_committed_total before the load */
    net_result res;
};

/* bench_net_chain.c */

/* Starts the watcher thread on node 0 (records the current height as the base). */
bool net_watch_start(netbench *nb, pthread_t *tid);
/* Stops and joins it. */
bool net_watch_stop(netbench *nb, pthread_t tid);
/* Waits until node 0 has committed `want` transactions more than at the start (or nothing
 * more commits for a while: res.stalled), then until the watcher has seen the tip. */
bool net_drain(netbench *nb, uint64_t want);
/* Walks node 0's blocks of the run, marks the transfers they hold and fills nb->res. */
bool net_walk(netbench *nb);
/* Checks that every node holds node 0's block at res.end_height (res.tips_agree). */
bool net_tips(netbench *nb);

#endif
