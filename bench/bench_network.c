/* bench_network.c: transfers per second finalized by a network of validators, and the
 * finality latency of each transfer, under a steady load. Prints one JSON object.
 *
 *   bench_network --net DIR --nodes URL0,URL1,... [--clients C] [--rate R] [--seconds D]
 *                 [--holders H]
 *
 * 1. Setup, not timed (bench_setup.c, through node 0): C*H fresh holders registered and
 *    funded, then each holder's chain of transfers signed offline; R*D transfers in all.
 * 2. Load: C client threads, client i talking to node i % N over one keep-alive connection,
 *    each sending its share of the transfers at R/C per second: every TICK_MS it posts the
 *    transfers its schedule has made due (about R/100/C), so the load is steady whatever the
 *    node answers; transactions gossip from the node that takes them to the others. The
 *    first POST carrying a transfer stamps its submit time (CLOCK_REALTIME, ms). Refused for
 *    now (MEMPOOL_FULL, TX_PENDING_TOO_MANY, HTTP 429/503): resent at the next tick, keeping
 *    the first submit time. Meanwhile a watcher thread records when node 0 shows each new
 *    height (bench_net_chain.c).
 * 3. After the load: wait for node 0 to commit every accepted transfer, walk node 0's blocks
 *    of the run, and compute the latencies (commit instant minus submit time), the finalized
 *    rate (committed / (last commit - first submit)), and check that every node holds the
 *    same block at the final height and that the holders' committed nonces add up.
 * Exits 1 unless every transfer was committed. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_net.h"
#include "slq/limits.h"

#define TICK_MS         10u
#define HOLDER_TXS      500u /* default holders: about this many transfers each */
#define HOLDERS_MIN     16u
#define RATE_MAX        100000u
#define SECONDS_MAX     600u
#define GIVE_UP_AFTER_S 60.0 /* past the schedule's end, a client stops resending */
#define URLS_BYTES_MAX  4096u
#define CLIENT_START_MS 100.0

/* ------------------------------------------------------------------ options */

static int usage(void) {
    fprintf(stderr,
            "usage: bench_network --net DIR --nodes URL0,URL1,... [--clients C] [--rate R]\n"
            "                     [--seconds D] [--holders H]\n"
            "  DIR as written by `slq testnet`, its nodes' APIs at URL0.. (node 0 first);\n"
            "  defaults C=4, R=2000 tx/s, D=10 s, H = transfers per client / %u (at least %u).\n"
            "  Prints one JSON object (see bench/README.md).\n",
            HOLDER_TXS, HOLDERS_MIN);
    return 2;
}

/* Splits "URL0,URL1,..." into nb->urls (pointing into buf). */
static bool parse_nodes(netbench *nb, char *buf, size_t cap, const char *text) {
    if (strlen(text) >= cap) return bench_fail("--nodes: too long");
    memcpy(buf, text, strlen(text) + 1);
    nb->nodes = 0;
    char *save = NULL;
    for (char *u = strtok_r(buf, ",", &save); u != NULL; u = strtok_r(NULL, ",", &save)) {
        if (nb->nodes == NET_NODES_MAX) return bench_fail("--nodes: at most %u", NET_NODES_MAX);
        nb->urls[nb->nodes++] = u;
    }
    return nb->nodes > 0 ? true : bench_fail("--nodes: no URL");
}

static bool parse_args(netbench *nb, char *urls, int argc, char **argv) {
    bench_opts *o = &nb->b.opt;
    *o = (bench_opts){.clients = 4, .batch = SLQ_HTTP_BATCH_MAX};
    nb->rate = 2000;
    nb->seconds = 10;
    bool ok = true;
    for (int i = 1; ok && i < argc; i += 2) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            ok = bench_fail("%s: missing value", f);
        else if (strcmp(f, "--net") == 0)
            o->net_dir = v;
        else if (strcmp(f, "--nodes") == 0)
            ok = parse_nodes(nb, urls, URLS_BYTES_MAX, v);
        else if (strcmp(f, "--clients") == 0)
            ok = bench_parse_uint(&o->clients, f, v, 1, BENCH_CLIENTS_MAX);
        else if (strcmp(f, "--rate") == 0)
            ok = bench_parse_uint(&nb->rate, f, v, 1, RATE_MAX);
        else if (strcmp(f, "--seconds") == 0)
            ok = bench_parse_uint(&nb->seconds, f, v, 1, SECONDS_MAX);
        else if (strcmp(f, "--holders") == 0)
            ok = bench_parse_uint(&o->holders, f, v, 1, BENCH_HOLDERS_MAX);
        else
            ok = bench_fail("unknown flag %s", f);
    }
    if (ok && (o->net_dir == NULL || nb->nodes == 0))
        ok = bench_fail("--net and --nodes are required");
    if (ok) o->node_url = nb->urls[0];
    return ok;
}

/* ------------------------------------------------------------------ setup */

/* Client i's share of the run's transfers. */
static size_t client_count(const netbench *nb, unsigned i) {
    unsigned c = nb->b.opt.clients;
    return nb->total / c + (i < nb->total % c ? 1 : 0);
}

/* Holders per client and transfers per holder for R*D transfers. */
static bool size_run(netbench *nb) {
    bench_opts *o = &nb->b.opt;
    nb->total = (size_t) nb->rate * nb->seconds;
    size_t most = client_count(nb, 0);
    if (most == 0) return bench_fail("--rate x --seconds is less than --clients");
    if (o->holders == 0) {
        size_t h = (most + HOLDER_TXS - 1) / HOLDER_TXS;
        o->holders = (unsigned) (h < HOLDERS_MIN ? HOLDERS_MIN : h);
        if (o->holders > BENCH_HOLDERS_MAX) return bench_fail("the run is too long");
    }
    size_t m = (most + o->holders - 1) / o->holders;
    if (m > BENCH_TRANSFERS_MAX)
        return bench_fail("%zu transfers per holder (at most %u): use more --holders", m,
                          BENCH_TRANSFERS_MAX);
    o->transfers = (unsigned) m;
    return true;
}

/* The validators node 0 lists; every node must run the chain of DIR. */
static bool check_nodes(netbench *nb) {
    json_t *st = NULL;
    if (!bench_http_get_json(nb->b.http, &st, "/v1/status")) return false;
    /* json_array_size is 0 for anything but an array */
    nb->res.validators = (uint64_t) json_array_size(json_object_get(st, "validators"));
    json_decref(st);
    for (unsigned i = 1; i < nb->nodes; i++) {
        bench_http *h = NULL;
        bool ok = bench_http_open(&h, nb->urls[i]) && bench_check_chain(&nb->b, h, nb->urls[i]);
        bench_http_close(h);
        if (!ok) return false;
    }
    return true;
}

/* Lays out the run: client i's k-th transfer is transfer k / H of its holder k % H, so a
 * batch carries consecutive nonces of every holder the client owns. */
static bool layout(netbench *nb) {
    unsigned holders = nb->b.opt.holders;
    nb->txs = calloc(nb->total, sizeof *nb->txs);
    nb->clients = calloc(nb->b.opt.clients, sizeof *nb->clients);
    if (nb->txs == NULL || nb->clients == NULL) return bench_fail("out of memory");
    size_t at = 0;
    for (unsigned i = 0; i < nb->b.opt.clients; i++) {
        net_client *c = &nb->clients[i];
        *c = (net_client){.nb = nb, .id = i, .url = nb->urls[i % nb->nodes]};
        c->txs = &nb->txs[at];
        c->count = client_count(nb, i);
        c->rate = (double) c->count / nb->seconds;
        const bench_holder *mine = &nb->b.holders[(size_t) i * holders];
        for (size_t k = 0; k < c->count; k++)
            c->txs[k].tx = &mine[k % holders].transfers[k / holders];
        at += c->count;
    }
    return true;
}

static bool setup(netbench *nb) {
    if (!size_run(nb) || !bench_open(&nb->b) || !check_nodes(nb)) return false;
    double t = bench_now_s();
    if (!bench_fund_holders(&nb->b)) return false;
    fprintf(stderr, "bench_network: setup: %zu holders registered and funded in %.1f s\n",
            nb->b.holders_count, bench_now_s() - t);
    t = bench_now_s();
    if (!bench_presign(&nb->b)) return false;
    fprintf(stderr, "bench_network: setup: %zu transfers signed in %.1f s\n",
            nb->b.holders_count * nb->b.opt.transfers, bench_now_s() - t);
    return layout(nb);
}

/* ------------------------------------------------------------------ clients */

/* Scratch of one client. */
typedef struct {
    size_t idx[SLQ_HTTP_BATCH_MAX], retry[SLQ_HTTP_BATCH_MAX];
    const bench_tx *sel[SLQ_HTTP_BATCH_MAX];
    bench_verdict v[SLQ_HTTP_BATCH_MAX];
    size_t retry_n, next;
    char *body;
    size_t body_cap;
    bench_http *http;
} client_io;

static void sleep_until(double mono_s) {
    struct timespec ts = {(time_t) mono_s, (long) ((mono_s - floor(mono_s)) * 1e9)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) continue;
}

/* Stamps the batch's new transfers and notes how late the oldest of them goes out. */
static void stamp(net_client *c, client_io *io, size_t n, size_t first_new) {
    double wall = bench_wall_ms();
    if (first_new < io->next) {
        double due_s = c->start_s + (double) (first_new + 1) / c->rate;
        double lag = (bench_now_s() - due_s) * 1e3;
        if (lag > c->lag_max_ms) c->lag_max_ms = lag;
    }
    for (size_t k = 0; k < n; k++) {
        net_tx *x = &c->txs[io->idx[k]];
        io->sel[k] = x->tx;
        if (x->submit_ms == 0) x->submit_ms = wall;
    }
}

/* POSTs the transfers to resend and then those due, up to a batch; false when the client
 * cannot go on (c->why says why). */
static bool client_post(net_client *c, client_io *io, size_t due) {
    size_t n = 0, first_new = io->next;
    for (size_t k = 0; k < io->retry_n; k++) io->idx[n++] = io->retry[k];
    while (n < SLQ_HTTP_BATCH_MAX && io->next < due) io->idx[n++] = io->next++;
    if (n == 0) return true;
    stamp(c, io, n, first_new);
    size_t len = bench_batch_body(io->body, io->body_cap, io->sel, n);
    bench_reply r;
    char why[NET_WHY_BYTES] = "";
    c->posts++;
    double t0 = bench_now_s();
    if (!bench_http_do(io->http, &r, "/v1/txs", io->body, len)) {
        snprintf(c->why, sizeof c->why, "POST /v1/txs to %s: node unreachable", c->url);
        return false;
    }
    double took_ms = (bench_now_s() - t0) * 1e3;
    c->post_ms_sum += took_ms;
    if (took_ms > c->post_ms_max) c->post_ms_max = took_ms;
    if (!bench_batch_verdicts(io->v, n, &r, why, sizeof why)) {
        snprintf(c->why, sizeof c->why, "%s", why);
        return false;
    }
    io->retry_n = 0;
    for (size_t k = 0; k < n; k++) {
        if (io->v[k] == BENCH_ACCEPTED) c->accepted++;
        if (io->v[k] == BENCH_REFUSED) c->refused++;
        if (io->v[k] == BENCH_RETRY) io->retry[io->retry_n++] = io->idx[k];
    }
    c->retried += io->retry_n;
    if (why[0] != '\0' && c->why[0] == '\0') snprintf(c->why, sizeof c->why, "%s", why);
    return true;
}

/* Every tick: what the schedule made due; a transfer refused for now waits a tick. */
static bool client_loop(net_client *c, client_io *io) {
    double end_s = c->start_s + c->nb->seconds + GIVE_UP_AFTER_S;
    for (unsigned long tick = 1; io->next < c->count || io->retry_n > 0; tick++) {
        sleep_until(c->start_s + (double) tick * TICK_MS / 1e3);
        double now = bench_now_s();
        if (now > end_s) {
            snprintf(c->why, sizeof c->why, "%zu transfers still refused for now after %.0f s",
                     io->retry_n + (c->count - io->next), now - c->start_s);
            return false;
        }
        double due_f = ceil((now - c->start_s) * c->rate);
        size_t due = due_f >= (double) c->count ? c->count : (size_t) due_f;
        do {
            if (!client_post(c, io, due)) return false;
        } while (io->retry_n == 0 && io->next < due);
    }
    return true;
}

static void *client_main(void *arg) {
    net_client *c = arg;
    client_io *io = calloc(1, sizeof *io);
    bool ok = io != NULL;
    if (ok) {
        io->body_cap = bench_batch_body_cap(SLQ_HTTP_BATCH_MAX, c->nb->b.tx_hex_max);
        io->body = malloc(io->body_cap);
        ok = io->body != NULL && bench_http_open(&io->http, c->url);
    }
    if (ok) sleep_until(c->start_s);
    ok = ok && client_loop(c, io);
    if (!ok) {
        c->failed = true;
        if (c->why[0] == '\0') snprintf(c->why, sizeof c->why, "could not start");
    }
    if (io != NULL) {
        free(io->body);
        bench_http_close(io->http);
    }
    free(io);
    return NULL;
}

/* Starts the clients staggered over one tick, waits for them; *accepted out. */
static bool run_clients(netbench *nb, uint64_t *accepted) {
    unsigned n = nb->b.opt.clients, started = 0;
    pthread_t *tids = calloc(n, sizeof *tids);
    if (tids == NULL) return bench_fail("out of memory");
    double start = bench_now_s() + CLIENT_START_MS / 1e3;
    for (; started < n; started++) {
        nb->clients[started].start_s = start + (double) started * TICK_MS / 1e3 / n;
        if (pthread_create(&tids[started], NULL, client_main, &nb->clients[started]) != 0) break;
    }
    for (unsigned i = 0; i < started; i++) pthread_join(tids[i], NULL);
    free(tids);
    if (started < n) return bench_fail("cannot start client thread %u", started);
    bool ok = true;
    *accepted = 0;
    for (unsigned i = 0; i < n; i++) {
        const net_client *c = &nb->clients[i];
        *accepted += c->accepted;
        ok = ok && !c->failed;
        if (c->why[0] != '\0') bench_fail("client %u (%s): %s", i, c->url, c->why);
    }
    return ok;
}

/* ------------------------------------------------------------------ checks and report */

/* The holders' committed nonces at node 0 must add up to what the walk found. */
static bool check_nonces(const netbench *nb) {
    uint64_t sum = 0;
    for (size_t i = 0; i < nb->b.holders_count; i++) {
        uint64_t nonce = 0;
        if (!bench_account_nonce(nb->b.http, &nonce, nb->b.holders[i].addr_text, "nonce"))
            return false;
        sum += nonce;
    }
    if (sum != nb->res.committed)
        return bench_fail("the holders' nonces say %llu committed, the blocks %llu",
                          (unsigned long long) sum, (unsigned long long) nb->res.committed);
    return true;
}

typedef struct {
    uint64_t posts, retried, refused, evidence;
    double lag_max_ms, post_ms_sum, post_ms_max, submit_s, client_cpu_s;
} net_totals;

static net_totals totals(const netbench *nb) {
    net_totals t = {0};
    double first = 0, last = 0;
    for (unsigned i = 0; i < nb->b.opt.clients; i++) {
        const net_client *c = &nb->clients[i];
        t.posts += c->posts;
        t.retried += c->retried;
        t.refused += c->refused;
        t.post_ms_sum += c->post_ms_sum;
        if (c->lag_max_ms > t.lag_max_ms) t.lag_max_ms = c->lag_max_ms;
        if (c->post_ms_max > t.post_ms_max) t.post_ms_max = c->post_ms_max;
    }
    for (size_t i = 0; i < nb->total; i++) {
        double s = nb->txs[i].submit_ms;
        if (s > 0 && (first == 0 || s < first)) first = s;
        if (s > last) last = s;
    }
    t.submit_s = (last - first) / 1e3;
    return t;
}

static void print_pct(const char *name, const net_pct *p) {
    printf("\"%s\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f}, ", name, p->p50,
           p->p90, p->p99, p->max);
}

/* The fields after the ones issue 4 asks for: how the load went and what the nodes did. */
static void print_details(const netbench *nb, const net_totals *t) {
    const net_result *r = &nb->res;
    const net_watch *w = &nb->watch;
    uint64_t sent = nb->total - t->refused;
    printf("\"blocks_round_above_0\": %llu, \"submit_tps\": %.1f, \"submit_lag_ms_max\": %.1f, "
           "\"post_ms\": {\"mean\": %.1f, \"max\": %.1f}, ",
           (unsigned long long) r->rounds_above_0,
           t->submit_s > 0 ? (double) sent / t->submit_s : 0, t->lag_max_ms,
           t->posts > 0 ? t->post_ms_sum / (double) t->posts : 0, t->post_ms_max);
    printf("\"status_poll_ms\": {\"mean\": %.1f, \"max\": %.1f}, "
           "\"holders_per_client\": %u, \"posts\": %llu, \"retried\": %llu, "
           "\"refused\": %llu, \"node0_mempool_max\": %llu, \"evidence\": %llu, "
           "\"tips_agree\": %s, \"client_cpu_seconds\": %.3f}\n",
           w->polls > 1 ? (w->last_poll_ms - w->first_poll_ms) / (double) (w->polls - 1) : 0,
           w->poll_gap_max_ms, nb->b.opt.holders, (unsigned long long) t->posts,
           (unsigned long long) t->retried, (unsigned long long) t->refused,
           (unsigned long long) w->mempool_max, (unsigned long long) t->evidence,
           r->tips_agree ? "true" : "false", t->client_cpu_s);
}

static void print_json(const netbench *nb, const net_totals *t) {
    const net_result *r = &nb->res;
    double span_s = (r->last_commit_ms - r->first_submit_ms) / 1e3;
    printf("{\"validators\": %llu, \"suite\": \"%s\", \"clients\": %u, \"rate_target_tps\": %u, "
           "\"duration_s\": %u, \"txs\": %zu, \"committed\": %llu, \"finalized_tps\": %.1f, ",
           (unsigned long long) r->validators, crypto_suite_name(nb->b.suite), nb->b.opt.clients,
           nb->rate, nb->seconds, nb->total, (unsigned long long) r->committed,
           span_s > 0 ? (double) r->committed / span_s : 0);
    print_pct("latency_ms", &r->latency);
    printf("\"blocks\": %llu, \"avg_txs_per_block\": %.1f, \"cores\": %u, ",
           (unsigned long long) r->blocks,
           r->blocks > 0 ? (double) r->committed / (double) r->blocks : 0, bench_cores());
    print_pct("latency_from_block_time_ms", &r->latency_block);
    print_pct("block_interval_ms", &r->interval);
    printf("\"seconds_to_last_commit\": %.3f, ", span_s);
    print_details(nb, t);
    fflush(stdout);
}

/* ------------------------------------------------------------------ main */

/* The load, the wait for the last commits and the walk; false on a failure to measure. */
static bool measure(netbench *nb, net_totals *t) {
    static const char *const names[1] = {"slq_txs_committed_total"};
    static const char *const evidence[1] = {"slq_evidence_total"};
    pthread_t watcher;
    uint64_t accepted = 0;
    if (!bench_metrics(nb->b.http, &nb->committed_base, names, 1) || !net_watch_start(nb, &watcher))
        return false;
    double cpu = bench_cpu_seconds();
    nb->res.client_failed = !run_clients(nb, &accepted);
    fprintf(stderr,
            "bench_network: load done: %llu of %zu transfers accepted; waiting for "
            "their blocks\n",
            (unsigned long long) accepted, nb->total);
    bool ok = net_drain(nb, accepted);
    *t = totals(nb);
    t->client_cpu_s = bench_cpu_seconds() - cpu;
    ok = net_watch_stop(nb, watcher) && ok;
    ok = ok && net_walk(nb) && net_tips(nb) && check_nonces(nb) &&
         bench_metrics(nb->b.http, &t->evidence, evidence, 1);
    return ok;
}

static int run(netbench *nb) {
    net_totals t;
    if (!setup(nb) || !measure(nb, &t)) return 1;
    print_json(nb, &t);
    const net_result *r = &nb->res;
    if (r->foreign > 0)
        bench_fail("warning: %llu transactions in the run's blocks are not the benchmark's",
                   (unsigned long long) r->foreign);
    if (r->committed != nb->total || r->client_failed) {
        bench_fail("FAILED: %llu of %zu transfers committed (%llu refused%s%s)",
                   (unsigned long long) r->committed, nb->total, (unsigned long long) t.refused,
                   r->client_failed ? "; a client gave up" : "",
                   r->stalled ? "; node 0 stopped committing" : "");
        return 1;
    }
    if (!r->tips_agree)
        return bench_fail("FAILED: not every node holds node 0's block %llu",
                          (unsigned long long) r->end_height),
               1;
    return 0;
}

static void netbench_free(netbench *nb) {
    bench_close(&nb->b);
    free(nb->txs);
    free(nb->clients);
    free(nb->watch.arrival);
    free(nb->blocks);
}

int main(int argc, char **argv) {
    static netbench nb;
    static char urls[URLS_BYTES_MAX];
    bench_set_prog("bench_network");
    if (!parse_args(&nb, urls, argc, argv)) return usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bench_fail("cannot initialise libcurl");
        return 1;
    }
    int rc = run(&nb);
    netbench_free(&nb);
    curl_global_cleanup();
    return rc;
}
