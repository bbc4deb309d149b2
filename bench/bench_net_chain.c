/* bench_net_chain.c: what node 0 saw of the run.
 *
 * - The watcher thread polls node 0's /v1/status every POLL_MS and records, for each new
 *   height, the wall time at which the answer showing it arrived: that is the commit instant
 *   a client polling the node would see (late by at most one poll and one round trip).
 * - After the load, net_drain polls /metrics until node 0 has committed every transfer that
 *   was accepted (or nothing more commits for STALL_S).
 * - net_walk then reads each block of the run (GET /v1/blocks/H: time_ms, txs, certificate
 *   round), finds our transfers in it by hash, and computes the latencies: the watcher's
 *   arrival time of the block's height minus the transfer's submit time, and the same with
 *   the block's own time_ms (taken by the proposer when it built the block, so before the
 *   consensus rounds that made it final).
 * The watcher owns its net_watch (seen is its one shared, atomic field); everything else
 * runs on the main thread. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_net.h"
#include "codec.h"

#define POLL_MS       5L
#define DRAIN_POLL_MS 20L
#define STALL_S       15.0 /* nothing committed for this long: the rest will not come */
#define SEEN_WAIT_S   5.0  /* for the watcher to see the tip node 0 reported */
#define TIP_WAIT_S    10.0 /* for another node to reach node 0's tip */

/* ------------------------------------------------------------------ the watcher */

static bool status_height(bench_http *h, uint64_t *height, uint64_t *mempool) {
    json_t *st = NULL;
    if (!bench_http_get_json(h, &st, "/v1/status")) return false;
    int64_t hv = -1, mv = 0;
    bool ok = codec_json_get_int(st, "height", &hv) && hv >= 0;
    if (ok) *height = (uint64_t) hv;
    *mempool = codec_json_get_int(st, "mempool", &mv) && mv >= 0 ? (uint64_t) mv : 0;
    json_decref(st);
    return ok ? true : bench_fail("GET /v1/status: no integer \"height\"");
}

/* Every height up to `height` not seen before arrived now. */
static bool watch_note(net_watch *w, uint64_t height, double now) {
    while (w->base + w->count < height) {
        if (w->count == w->cap) {
            size_t cap = w->cap > 0 ? 2 * w->cap : 1024;
            double *a = realloc(w->arrival, cap * sizeof *a);
            if (a == NULL) return bench_fail("watcher: out of memory");
            w->arrival = a;
            w->cap = cap;
        }
        w->arrival[w->count++] = now;
    }
    atomic_store(&w->seen, w->count);
    return true;
}

static void *watch_main(void *arg) {
    net_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        uint64_t height = 0, mempool = 0;
        if (!status_height(w->http, &height, &mempool)) {
            w->failed = true;
            break;
        }
        double now = bench_wall_ms();
        if (w->polls > 0 && now - w->last_poll_ms > w->poll_gap_max_ms)
            w->poll_gap_max_ms = now - w->last_poll_ms;
        if (w->polls == 0) w->first_poll_ms = now;
        w->last_poll_ms = now;
        w->polls++;
        if (mempool > w->mempool_max) w->mempool_max = mempool;
        if (!watch_note(w, height, now)) {
            w->failed = true;
            break;
        }
        bench_sleep_ms(POLL_MS);
    }
    return NULL;
}

bool net_watch_start(netbench *nb, pthread_t *tid) {
    net_watch *w = &nb->watch;
    uint64_t mempool = 0;
    atomic_store(&w->stop, false);
    atomic_store(&w->seen, 0);
    if (!bench_http_open(&w->http, nb->urls[0]) || !status_height(w->http, &w->base, &mempool))
        return false;
    if (pthread_create(tid, NULL, watch_main, w) != 0)
        return bench_fail("cannot start the watcher thread");
    return true;
}

bool net_watch_stop(netbench *nb, pthread_t tid) {
    atomic_store(&nb->watch.stop, true);
    pthread_join(tid, NULL);
    bench_http_close(nb->watch.http);
    nb->watch.http = NULL;
    return nb->watch.failed ? bench_fail("the watcher could not follow node 0") : true;
}

/* ------------------------------------------------------------------ draining */

bool net_drain(netbench *nb, uint64_t want) {
    static const char *const names[2] = {"slq_txs_committed_total", "slq_height"};
    double last_growth = bench_now_s();
    uint64_t last = 0, m[2] = {0, 0};
    for (;;) {
        if (!bench_metrics(nb->b.http, m, names, 2)) return false;
        if (m[0] < nb->committed_base) return bench_fail("node 0's counter went back");
        uint64_t got = m[0] - nb->committed_base;
        double now = bench_now_s();
        if (got >= want) break;
        if (got > last) last = got, last_growth = now;
        if (now - last_growth > STALL_S) {
            nb->res.stalled = true;
            break;
        }
        bench_sleep_ms(DRAIN_POLL_MS);
    }
    nb->res.end_height = m[1];
    double deadline = bench_now_s() + SEEN_WAIT_S;
    while (nb->watch.base + atomic_load(&nb->watch.seen) < m[1]) {
        if (bench_now_s() > deadline || nb->watch.failed)
            return bench_fail("the watcher did not see height %llu", (unsigned long long) m[1]);
        bench_sleep_ms(1);
    }
    return true;
}

/* ------------------------------------------------------------------ the block walk */

typedef struct {
    net_tx **slots;
    size_t mask;
} tx_table;

static size_t slot_of(const tx_table *t, const uint8_t *hash) {
    uint64_t k;
    memcpy(&k, hash, sizeof k);
    return (size_t) k & t->mask;
}

static bool table_build(tx_table *t, net_tx *txs, size_t count) {
    size_t cap = 1024;
    while (cap < 2 * count) cap *= 2;
    t->slots = calloc(cap, sizeof *t->slots);
    t->mask = cap - 1;
    if (t->slots == NULL) return bench_fail("out of memory");
    for (size_t i = 0; i < count; i++) {
        size_t s = slot_of(t, txs[i].tx->hash);
        while (t->slots[s] != NULL) s = (s + 1) & t->mask;
        t->slots[s] = &txs[i];
    }
    return true;
}

static net_tx *table_find(const tx_table *t, const uint8_t *hash) {
    for (size_t s = slot_of(t, hash); t->slots[s] != NULL; s = (s + 1) & t->mask)
        if (memcmp(t->slots[s]->tx->hash, hash, CRYPTO_HASH_BYTES) == 0) return t->slots[s];
    return NULL;
}

/* Reads block `height` of node 0 into *out and marks the transfers it holds. */
static bool walk_block(netbench *nb, const tx_table *t, uint64_t height, net_block *out) {
    char path[64];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long) height);
    json_t *blk = NULL;
    if (!bench_http_get_json(nb->b.http, &blk, path)) return false;
    const json_t *txs = json_object_get(blk, "txs");
    int64_t tm = 0, round = 0;
    bool ok = codec_json_get_int(blk, "time_ms", &tm) && json_is_array(txs) &&
              codec_json_get_int(json_object_get(blk, "certificate"), "round", &round);
    size_t i;
    const json_t *h;
    if (ok) json_array_foreach(txs, i, h) {
            uint8_t hash[CRYPTO_HASH_BYTES];
            const char *hex = json_string_value(h); /* NULL unless a string */
            ok = ok && hex != NULL && codec_hex_decode(hash, CRYPTO_HASH_BYTES, hex) == SLQ_OK;
            net_tx *x = ok ? table_find(t, hash) : NULL;
            if (x != NULL && x->height == 0) {
                x->height = height;
                nb->res.committed++;
                nb->res.last_height = height;
            } else if (ok)
                nb->res.foreign++;
            out->txs++;
        }
    if (ok) out->time_ms = (double) tm;
    if (ok) out->round = (unsigned) round;
    json_decref(blk);
    return ok ? true : bench_fail("GET %s: no time_ms, txs or certificate round", path);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* Sorts v[0..n) and takes its nearest-rank percentiles. */
static net_pct percentiles(double *v, size_t n) {
    net_pct p = {0, 0, 0, 0};
    if (n == 0) return p;
    qsort(v, n, sizeof *v, cmp_double);
    double q[3] = {0.50, 0.90, 0.99}, *out[3] = {&p.p50, &p.p90, &p.p99};
    for (size_t i = 0; i < 3; i++) {
        size_t rank = (size_t) ceil(q[i] * (double) n);
        *out[i] = v[rank > 0 ? rank - 1 : 0];
    }
    p.max = v[n - 1];
    return p;
}

/* Latencies of the committed transfers, from the watcher's arrival times and from the
 * blocks' time_ms; the first submit and the last commit. */
static bool latencies(netbench *nb) {
    net_result *r = &nb->res;
    double *arr = calloc(r->committed + 1, sizeof *arr);
    double *blk = calloc(r->committed + 1, sizeof *blk);
    if (arr == NULL || blk == NULL) {
        free(arr);
        free(blk);
        return bench_fail("out of memory");
    }
    size_t n = 0;
    r->first_submit_ms = 0;
    r->last_commit_ms = 0;
    for (size_t i = 0; i < nb->total; i++) {
        const net_tx *x = &nb->txs[i];
        if (x->submit_ms > 0 && (r->first_submit_ms == 0 || x->submit_ms < r->first_submit_ms))
            r->first_submit_ms = x->submit_ms;
        if (x->height == 0) continue;
        size_t at = (size_t) (x->height - nb->watch.base - 1);
        double commit = nb->watch.arrival[at];
        arr[n] = commit - x->submit_ms;
        blk[n] = nb->blocks[at].time_ms - x->submit_ms;
        n++;
        if (commit > r->last_commit_ms) r->last_commit_ms = commit;
    }
    r->latency = percentiles(arr, n);
    r->latency_block = percentiles(blk, n);
    free(arr);
    free(blk);
    return true;
}

/* Blocks of the run (base + 1 .. the last that holds ours), their rounds and intervals. */
static bool block_stats(netbench *nb) {
    net_result *r = &nb->res;
    uint64_t base = nb->watch.base;
    r->blocks = r->last_height > base ? r->last_height - base : 0;
    double *gaps = calloc(r->blocks + 1, sizeof *gaps);
    if (gaps == NULL) return bench_fail("out of memory");
    size_t n = 0;
    for (uint64_t i = 0; i < r->blocks; i++) {
        if (nb->blocks[i].round > 0) r->rounds_above_0++;
        if (i > 0) gaps[n++] = nb->watch.arrival[i] - nb->watch.arrival[i - 1];
    }
    r->interval = percentiles(gaps, n);
    free(gaps);
    return true;
}

bool net_walk(netbench *nb) {
    tx_table t = {NULL, 0};
    uint64_t base = nb->watch.base, n = nb->res.end_height - base;
    if (nb->res.end_height < base || n > nb->watch.count)
        return bench_fail("node 0's height %llu is not what the watcher saw",
                          (unsigned long long) nb->res.end_height);
    nb->blocks = calloc(n + 1, sizeof *nb->blocks);
    bool ok = nb->blocks != NULL ? true : bench_fail("out of memory");
    ok = ok && table_build(&t, nb->txs, nb->total);
    for (uint64_t i = 0; ok && i < n; i++) ok = walk_block(nb, &t, base + 1 + i, &nb->blocks[i]);
    free(t.slots);
    return ok && latencies(nb) && block_stats(nb);
}

/* ------------------------------------------------------------------ agreement */

/* The hash of block `height` at the node behind h, waiting up to TIP_WAIT_S for the node to
 * get there (*found false if it does not). false when the node cannot be asked. */
static bool block_hash(bench_http *h, char out[2 * CRYPTO_HASH_BYTES + 1], bool *found,
                       uint64_t height) {
    char path[64];
    snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long) height);
    double deadline = bench_now_s() + TIP_WAIT_S;
    bench_reply r;
    for (;;) {
        if (!bench_http_do(h, &r, path, NULL, 0)) return false;
        if (r.status != 404 || bench_now_s() > deadline) break;
        bench_sleep_ms(50);
    }
    *found = r.status == 200;
    if (r.status == 404) return true;
    if (r.status != 200) return bench_fail("GET %s: HTTP %ld", path, r.status);
    json_t *blk = codec_json_parse(r.body, r.len, NULL, 0);
    const char *hv = codec_json_get_str(blk, "hash");
    bool ok = hv != NULL && strlen(hv) == 2 * CRYPTO_HASH_BYTES;
    if (ok) memcpy(out, hv, 2 * CRYPTO_HASH_BYTES + 1);
    json_decref(blk);
    return ok ? true : bench_fail("GET %s: no \"hash\"", path);
}

/* Says how far behind node i is (its /v1/status height). */
static void report_behind(const netbench *nb, bench_http *h, unsigned i, uint64_t height) {
    uint64_t at = 0, mempool = 0;
    if (status_height(h, &at, &mempool))
        bench_fail("node %u (%s) is at height %llu, %.0f s after node 0 reached %llu", i,
                   nb->urls[i], (unsigned long long) at, TIP_WAIT_S, (unsigned long long) height);
}

bool net_tips(netbench *nb) {
    char want[2 * CRYPTO_HASH_BYTES + 1], got[2 * CRYPTO_HASH_BYTES + 1];
    uint64_t height = nb->res.end_height;
    bool found = false;
    if (!block_hash(nb->b.http, want, &found, height)) return false;
    if (!found) return bench_fail("node 0 lost block %llu", (unsigned long long) height);
    nb->res.tips_agree = true;
    for (unsigned i = 1; i < nb->nodes; i++) {
        bench_http *h = NULL;
        bool ok = bench_http_open(&h, nb->urls[i]) && block_hash(h, got, &found, height);
        if (ok && !found) report_behind(nb, h, i, height);
        bench_http_close(h);
        if (!ok) return false;
        if (found && strcmp(got, want) == 0) continue;
        nb->res.tips_agree = false;
        if (found)
            bench_fail("node %u holds another block at height %llu", i,
                       (unsigned long long) height);
    }
    return true;
}
