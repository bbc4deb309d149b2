/* bench_node.c: how many signed transfers per second one running slqd commits, next to
 * how many signatures per second this machine can verify. Prints one JSON object.
 *
 *   bench_node --net DIR --node URL [--clients C] [--holders H] [--transfers M]
 *              [--batch B] [--verify-threads T] [--verify-seconds S] [--trace]
 *
 * 1. Verify rate: crypto_verify over pre-signed messages of a transfer preimage's size, in
 *    T threads (default: the number of cores) and in one (bench_verify.c); measured before
 *    the setup and again after the timed phase, the better of the two reported.
 * 2. Setup, not timed (bench_setup.c): C*H fresh holders registered and funded through the
 *    API, then M chained transfers per holder signed offline.
 * 3. Timed: C client threads, each owning H holders and one keep-alive connection, POST
 *    batches of up to B transfers as fast as the node accepts them (MEMPOOL_FULL and
 *    TX_PENDING_TOO_MANY, or HTTP 429/503, are resubmitted after RETRY_MS). The main thread
 *    polls /metrics; the clock stops when slq_txs_committed_total has grown by C*H*M. The
 *    committed count reported is read back from the holders' committed nonces. --trace
 *    prints a line on stderr each time the node's counters move.
 *
 * The client threads share only read-only setup data and two atomics (stop, done). */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "slq/assert.h"
#include "slq/limits.h"

#define RETRY_MS       20L
#define POLL_MS        5L
#define STALL_S        10.0  /* clients done and nothing committed for this long: give up */
#define RUN_TIMEOUT_S  600.0 /* hard bound on the timed phase */
#define VERIFY_SECONDS 2.0
#define WHY_BYTES      320u

/* ------------------------------------------------------------------ options */

static int usage(void) {
    fprintf(stderr,
            "usage: bench_node --net DIR --node URL [--clients C] [--holders H] "
            "[--transfers M]\n"
            "                  [--batch B] [--verify-threads T] [--verify-seconds S] [--trace]\n"
            "  DIR as written by `slq testnet`, its node running at URL; defaults C=4 "
            "H=16 M=250 B=256,\n"
            "  T = number of cores, S = 2. Prints one JSON object (see bench/README.md).\n");
    return 2;
}

static bool parse_args(bench_opts *o, int argc, char **argv) {
    *o = (bench_opts){.clients = 4,
                      .holders = 16,
                      .transfers = 250,
                      .batch = 256,
                      .verify_threads = bench_cores(),
                      .verify_seconds = VERIFY_SECONDS};
    bool ok = true;
    for (int i = 1; ok && i < argc; i += 2) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned secs = 0;
        if (strcmp(f, "--trace") == 0) {
            o->trace = true;
            i--; /* takes no value */
        } else if (v == NULL)
            ok = bench_fail("%s: missing value", f);
        else if (strcmp(f, "--net") == 0)
            o->net_dir = v;
        else if (strcmp(f, "--node") == 0)
            o->node_url = v;
        else if (strcmp(f, "--clients") == 0)
            ok = bench_parse_uint(&o->clients, f, v, 1, BENCH_CLIENTS_MAX);
        else if (strcmp(f, "--holders") == 0)
            ok = bench_parse_uint(&o->holders, f, v, 1, BENCH_HOLDERS_MAX);
        else if (strcmp(f, "--transfers") == 0)
            ok = bench_parse_uint(&o->transfers, f, v, 1, BENCH_TRANSFERS_MAX);
        else if (strcmp(f, "--batch") == 0)
            ok = bench_parse_uint(&o->batch, f, v, 1, SLQ_HTTP_BATCH_MAX);
        else if (strcmp(f, "--verify-threads") == 0)
            ok = bench_parse_uint(&o->verify_threads, f, v, 1, 256);
        else if (strcmp(f, "--verify-seconds") == 0) {
            ok = bench_parse_uint(&secs, f, v, 1, 60);
            o->verify_seconds = secs;
        } else
            ok = bench_fail("unknown flag %s", f);
    }
    if (ok && (o->net_dir == NULL || o->node_url == NULL))
        ok = bench_fail("--net and --node are required");
    return ok;
}

/* ------------------------------------------------------------------ clients */

typedef struct {
    const bench *b;
    size_t first_holder; /* owns holders [first_holder, first_holder + opt.holders) */
    atomic_bool *stop;
    atomic_uint *done;
    uint64_t accepted, refused, retried, posts; /* out */
    double finished_s;                          /* out: when its last tx was accepted */
    bool failed;                                /* out: could not go on (why says) */
    char why[WHY_BYTES];                        /* out: first refusal or failure */
} bench_client;

/* The client's k-th transaction: holders take turns, so a batch carries consecutive nonces
 * of every holder the client owns. */
static const bench_tx *client_tx(const bench_client *c, size_t k) {
    unsigned holders = c->b->opt.holders;
    return &c->b->holders[c->first_holder + k % holders].transfers[k / holders];
}

/* Scratch of one client, allocated once before it starts sending. */
typedef struct {
    size_t *idx, *retry;
    const bench_tx **sel;
    bench_verdict *v;
    char *body;
    size_t body_cap;
    bench_http *http;
} client_io;

static void client_io_free(client_io *io) {
    free(io->idx);
    free(io->retry);
    free(io->sel);
    free(io->v);
    free(io->body);
    bench_http_close(io->http);
}

static bool client_io_init(client_io *io, const bench_client *c) {
    size_t batch = c->b->opt.batch;
    *io = (client_io){0};
    io->idx = calloc(batch, sizeof *io->idx);
    io->retry = calloc(batch, sizeof *io->retry);
    io->sel = calloc(batch, sizeof *io->sel);
    io->v = calloc(batch, sizeof *io->v);
    io->body_cap = bench_batch_body_cap(batch, c->b->tx_hex_max);
    io->body = malloc(io->body_cap);
    if (!io->idx || !io->retry || !io->sel || !io->v || !io->body)
        return bench_fail("client: out of memory");
    return bench_http_open(&io->http, c->b->opt.node_url);
}

/* Sends one batch: the transactions to resubmit first, then new ones from *next. false when
 * the client cannot go on (c->why says why). */
static bool client_post(bench_client *c, client_io *io, size_t *retry_n, size_t *next,
                        size_t total) {
    size_t n = 0;
    for (size_t k = 0; k < *retry_n; k++) io->idx[n++] = io->retry[k];
    while (n < c->b->opt.batch && *next < total) io->idx[n++] = (*next)++;
    SLQ_ASSERT(n >= 1);
    for (size_t k = 0; k < n; k++) io->sel[k] = client_tx(c, io->idx[k]);
    size_t len = bench_batch_body(io->body, io->body_cap, io->sel, n);
    bench_reply r;
    char why[WHY_BYTES] = "";
    c->posts++;
    if (!bench_http_do(io->http, &r, "/v1/txs", io->body, len)) {
        snprintf(c->why, sizeof c->why, "POST /v1/txs: node unreachable");
        return false;
    }
    if (!bench_batch_verdicts(io->v, n, &r, why, sizeof why)) {
        snprintf(c->why, sizeof c->why, "%s", why);
        return false;
    }
    *retry_n = 0;
    for (size_t k = 0; k < n; k++) {
        if (io->v[k] == BENCH_ACCEPTED) c->accepted++;
        if (io->v[k] == BENCH_REFUSED) c->refused++;
        if (io->v[k] == BENCH_RETRY) io->retry[(*retry_n)++] = io->idx[k];
    }
    if (why[0] != '\0' && c->why[0] == '\0') snprintf(c->why, sizeof c->why, "%s", why);
    if (*retry_n > 0) {
        c->retried += *retry_n;
        bench_sleep_ms(RETRY_MS);
    }
    return true;
}

static void *client_main(void *arg) {
    bench_client *c = arg;
    client_io io;
    size_t total = (size_t) c->b->opt.holders * c->b->opt.transfers, next = 0, retry_n = 0;
    bool ok = client_io_init(&io, c);
    while (ok && !atomic_load(c->stop) && (next < total || retry_n > 0))
        ok = client_post(c, &io, &retry_n, &next, total);
    if (!ok) {
        c->failed = true;
        if (c->why[0] == '\0') snprintf(c->why, sizeof c->why, "could not start");
    }
    c->finished_s = bench_now_s();
    client_io_free(&io);
    atomic_fetch_add(c->done, 1u);
    return NULL;
}

/* ------------------------------------------------------------------ timed phase */

typedef struct {
    double verify, verify_1;   /* signatures verified per second: T threads, 1 thread */
    double t0, end_s;          /* the clock */
    double accepted_s;         /* when the last client had every tx accepted */
    uint64_t committed_metric; /* growth of slq_txs_committed_total */
    uint64_t blocks;           /* growth of slq_blocks_committed_total */
    uint64_t committed;        /* sum of the holders' committed nonces */
    uint64_t refused, retried, posts;
    double client_cpu_s; /* CPU of this process in the timed phase: it shares the machine */
    bool stalled, client_failed;
} bench_result;

static const char *const metric_names[3] = {"slq_txs_committed_total", "slq_blocks_committed_total",
                                            "slq_mempool_txs"};

/* --trace: one line per change of the node's counters, to see how blocks follow. */
static void trace(const bench *b, const bench_result *res, const uint64_t m[3],
                  const uint64_t base[3], double now) {
    if (b->opt.trace)
        fprintf(stderr, "bench_node: trace: t=%.3f s committed=%llu blocks=%llu mempool=%llu\n",
                now - res->t0, (unsigned long long) (m[0] - base[0]),
                (unsigned long long) (m[1] - base[1]), (unsigned long long) m[2]);
}

/* Polls /metrics until every transfer is committed, or nothing more is coming. */
static bool wait_commits(const bench *b, atomic_uint *done, const uint64_t base[3],
                         bench_result *res) {
    uint64_t want = (uint64_t) b->holders_count * b->opt.transfers, last = 0;
    double last_growth = res->t0, done_at = 0;
    for (;;) {
        uint64_t m[3];
        if (!bench_metrics(b->http, m, metric_names, 3)) return false;
        double now = bench_now_s();
        if (m[0] < base[0] || m[1] < base[1]) return bench_fail("the node's counters went back");
        uint64_t delta = m[0] - base[0];
        if (delta > last || m[1] - base[1] > res->blocks) trace(b, res, m, base, now);
        if (delta > last) last = delta, last_growth = now;
        res->committed_metric = delta;
        res->blocks = m[1] - base[1];
        res->end_s = now;
        if (delta >= want) return true;
        bool all_done = atomic_load(done) == b->opt.clients;
        if (all_done && done_at == 0) done_at = now;
        double quiet_since = last_growth > done_at ? last_growth : done_at;
        if ((all_done && now - quiet_since > STALL_S) || now - res->t0 > RUN_TIMEOUT_S) {
            res->end_s = last_growth;
            res->stalled = true;
            return true;
        }
        bench_sleep_ms(POLL_MS);
    }
}

/* Collects what the clients did; reports their first refusal or failure. */
static void clients_sum(const bench *b, const bench_client *cl, bench_result *res) {
    res->accepted_s = res->t0;
    for (unsigned i = 0; i < b->opt.clients; i++) {
        res->refused += cl[i].refused;
        res->retried += cl[i].retried;
        res->posts += cl[i].posts;
        res->client_failed = res->client_failed || cl[i].failed;
        if (cl[i].finished_s > res->accepted_s) res->accepted_s = cl[i].finished_s;
        if (cl[i].why[0] != '\0') bench_fail("client %u: %s", i, cl[i].why);
    }
}

static bool run_clients(const bench *b, bench_result *res) {
    bench_client *cl = calloc(b->opt.clients, sizeof *cl);
    pthread_t *tids = calloc(b->opt.clients, sizeof *tids);
    atomic_bool stop = false;
    atomic_uint done = 0;
    uint64_t base[3];
    bool ok = cl != NULL && tids != NULL ? true : bench_fail("out of memory");
    ok = ok && bench_metrics(b->http, base, metric_names, 3);
    unsigned started = 0;
    res->t0 = bench_now_s();
    while (ok && started < b->opt.clients) {
        cl[started] = (bench_client){.b = b, .stop = &stop, .done = &done};
        cl[started].first_holder = (size_t) started * b->opt.holders;
        if (pthread_create(&tids[started], NULL, client_main, &cl[started]) != 0)
            ok = bench_fail("cannot start client thread %u", started);
        else
            started++;
    }
    ok = ok && wait_commits(b, &done, base, res);
    atomic_store(&stop, true);
    for (unsigned i = 0; i < started; i++) pthread_join(tids[i], NULL);
    if (ok) clients_sum(b, cl, res);
    free(cl);
    free(tids);
    return ok;
}

/* Reads back how many transfers the chain holds: each one moved its holder's nonce by 1. */
static bool count_committed(const bench *b, bench_result *res) {
    res->committed = 0;
    for (size_t i = 0; i < b->holders_count; i++) {
        uint64_t nonce = 0;
        if (!bench_account_nonce(b->http, &nonce, b->holders[i].addr_text, "nonce")) return false;
        res->committed += nonce;
    }
    if (res->committed != res->committed_metric)
        bench_fail("warning: holders' nonces say %llu committed, /metrics %llu",
                   (unsigned long long) res->committed, (unsigned long long) res->committed_metric);
    return true;
}

/* ------------------------------------------------------------------ report */

static void print_json(const bench *b, const bench_result *r) {
    uint64_t txs = (uint64_t) b->holders_count * b->opt.transfers;
    double secs = r->end_s - r->t0;
    double tps = secs > 0 ? (double) r->committed / secs : 0;
    printf("{\"suite\": \"%s\", \"clients\": %u, \"txs\": %llu, \"committed\": %llu, "
           "\"seconds\": %.3f, \"committed_tps\": %.1f, \"verify_threads\": %u, "
           "\"verify_per_sec\": %.1f, \"verify_per_sec_1_thread\": %.1f, "
           "\"ratio_to_verify\": %.3f, \"cores\": %u, ",
           crypto_suite_name(b->suite), b->opt.clients, (unsigned long long) txs,
           (unsigned long long) r->committed, secs, tps, b->opt.verify_threads, r->verify,
           r->verify_1, r->verify > 0 ? tps / r->verify : 0, bench_cores());
    printf("\"holders_per_client\": %u, \"transfers_per_holder\": %u, \"batch\": %u, "
           "\"blocks\": %llu, \"accepted_seconds\": %.3f, \"posts\": %llu, "
           "\"retried\": %llu, \"refused\": %llu, \"client_cpu_seconds\": %.3f}\n",
           b->opt.holders, b->opt.transfers, b->opt.batch, (unsigned long long) r->blocks,
           r->accepted_s - r->t0, (unsigned long long) r->posts, (unsigned long long) r->retried,
           (unsigned long long) r->refused, r->client_cpu_s);
    fflush(stdout);
}

/* Measures both verify rates and keeps the best seen so far: run once before the setup and
 * once after the timed phase, so that another job briefly taking a core does not lower the
 * yardstick (and so flatter the ratio). */
static bool measure_verify(const bench *b, bench_result *res) {
    bench_verify_cfg vc = {.suite = b->suite,
                           .msg_len = bench_transfer_preimage_len(b),
                           .threads = b->opt.verify_threads,
                           .seconds = b->opt.verify_seconds};
    double many = 0, one = 0;
    if (!bench_verify_rate(&many, &vc)) return false;
    vc.threads = 1;
    if (!bench_verify_rate(&one, &vc)) return false;
    fprintf(stderr, "bench_node: verify: %zu-byte messages, %.0f/s in %u threads, %.0f/s in 1\n",
            vc.msg_len, many, b->opt.verify_threads, one);
    if (many > res->verify) res->verify = many;
    if (one > res->verify_1) res->verify_1 = one;
    return true;
}

static int run(bench *b) {
    bench_result res = {0};
    if (!bench_open(b) || !measure_verify(b, &res)) return 1;
    double t = bench_now_s();
    if (!bench_fund_holders(b)) return 1;
    fprintf(stderr, "bench_node: setup: %zu holders registered and funded in %.1f s\n",
            b->holders_count, bench_now_s() - t);
    t = bench_now_s();
    if (!bench_presign(b)) return 1;
    fprintf(stderr, "bench_node: setup: %zu transfers signed in %.1f s\n",
            b->holders_count * b->opt.transfers, bench_now_s() - t);
    double cpu = bench_cpu_seconds();
    if (!run_clients(b, &res)) return 1;
    res.client_cpu_s = bench_cpu_seconds() - cpu;
    if (!count_committed(b, &res) || !measure_verify(b, &res)) return 1;
    print_json(b, &res);
    uint64_t txs = (uint64_t) b->holders_count * b->opt.transfers;
    if (res.stalled) bench_fail("the node stopped committing before every transfer was in");
    if (res.committed != txs || res.client_failed || res.refused > 0)
        return bench_fail("only %llu of %llu transfers committed",
                          (unsigned long long) res.committed, (unsigned long long) txs),
               1;
    return 0;
}

int main(int argc, char **argv) {
    bench b = {0};
    if (!parse_args(&b.opt, argc, argv)) return usage();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        bench_fail("cannot initialise libcurl");
        return 1;
    }
    int rc = run(&b);
    bench_close(&b);
    curl_global_cleanup();
    return rc;
}
