/* main.c: slqd: loads a node home, opens the chain, serves the API and, on a validator,
 * produces blocks. `slqd --home DIR` runs in the foreground until SIGINT or SIGTERM; a
 * block being written is finished first (the commit runs on the loop thread, signals are
 * handled between callbacks), then LevelDB is closed.
 *
 * Producer (one validator; the consensus engine will replace the certification step):
 * every block_interval_ms, if the mempool holds transactions, or empty_block_interval_ms
 * passed since the last block, build block tip+1 from the mempool, sign its certificate,
 * commit it in one synced write, and settle each candidate: included ones leave the
 * mempool, refused ones leave it with their reason recorded. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "codec.h"
#include "node.h"
#include "slq/limits.h"
#include "slq/log.h"

/* ------------------------------------------------------------------ results */

void node_result_record(node *n, const uint8_t hash[CRYPTO_HASH_BYTES], slq_err code,
                        const char *message) {
    node_result *r = &n->results[n->results_next];
    n->results_next = (n->results_next + 1) % SLQ_RESULTS_MAX;
    memcpy(r->hash, hash, CRYPTO_HASH_BYTES);
    r->code = code;
    snprintf(r->message, sizeof r->message, "%s", message);
    if ((unsigned) code < 256) n->metrics.rejected[code]++;
}

const node_result *node_result_find(const node *n, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    /* Newest first, so a resubmission refused again answers its latest reason. */
    for (size_t k = 0; k < SLQ_RESULTS_MAX; k++) {
        size_t i = (n->results_next + SLQ_RESULTS_MAX - 1 - k) % SLQ_RESULTS_MAX;
        if (n->results[i].code == SLQ_OK) return NULL; /* never written: older ones neither */
        if (memcmp(n->results[i].hash, hash, CRYPTO_HASH_BYTES) == 0) return &n->results[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------ producer */

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    node *n;
    slq_err *codes;
    char (*reasons)[256];
    bool *tried;
} produce_ctx;

static slq_err nonce_cb(void *arg, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t *nonce) {
    return chain_account_nonce(((node *) arg)->chain, addr, nonce);
}

static void drop_cb(void *arg, const mempool_tx *t, slq_err why) {
    node_result_record(arg, t->tx.hash, why,
                       "nonce is already used, or an earlier transaction of the signer was "
                       "rejected");
}

static void result_cb(void *arg, size_t i, const ledger_outcome *out) {
    produce_ctx *pc = arg;
    pc->tried[i] = true;
    pc->codes[i] = out->code;
    snprintf(pc->reasons[i], sizeof pc->reasons[i], "%s", out->reason);
}

/* Builds, certifies and commits one block from the candidates. */
static slq_err produce_from(node *n, const mempool_tx **sel, size_t count, produce_ctx *pc,
                            chain_proposal *p) {
    const uint8_t **bytes = malloc((count + 1) * sizeof *bytes);
    size_t *lens = malloc((count + 1) * sizeof *lens);
    const ledger_tx **txs = malloc((count + 1) * sizeof *txs);
    slq_err err = bytes && lens && txs ? SLQ_OK : SLQ_NO_MEMORY;
    for (size_t i = 0; err == SLQ_OK && i < count; i++) {
        bytes[i] = sel[i]->bytes;
        lens[i] = sel[i]->len;
        txs[i] = &sel[i]->tx;
    }
    chain_candidates cand = {.bytes = bytes, .lens = lens, .txs = txs, .count = count};
    int64_t t = wall_ms();
    if (t <= chain_tip_time_ms(n->chain)) t = chain_tip_time_ms(n->chain) + 1;
    if (err == SLQ_OK) err = chain_propose(n->chain, p, t, n->addr, &cand, result_cb, pc);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (err == SLQ_OK) {
        err = chain_certify_alone(n->chain, p, n->key, &cert, &cert_len);
        if (err == SLQ_OK)
            err = chain_commit(n->chain, p, cert, cert_len);
        else
            chain_abandon(n->chain, p);
    }
    free(cert);
    free(bytes);
    free(lens);
    free(txs);
    return err;
}

/* Takes committed and refused candidates out of the mempool. */
static void settle_candidates(node *n, const mempool_tx **sel, size_t count, produce_ctx *pc) {
    uint8_t(*hashes)[CRYPTO_HASH_BYTES] = malloc((count + 1) * CRYPTO_HASH_BYTES);
    if (hashes == NULL) return; /* they stay pending and are tried again */
    for (size_t i = 0; i < count; i++) memcpy(hashes[i], sel[i]->tx.hash, CRYPTO_HASH_BYTES);
    /* sel[] points into the mempool: from here on only the copied hashes are used. */
    for (size_t i = 0; i < count; i++) {
        if (!pc->tried[i]) continue;
        if (pc->codes[i] == SLQ_OK) {
            mempool_remove(n->mp, hashes[i]);
            n->metrics.txs_committed++;
        } else {
            node_result_record(n, hashes[i], pc->codes[i], pc->reasons[i]);
            mempool_reject(n->mp, hashes[i], drop_cb, n);
        }
    }
    free(hashes);
}

/* Scratch for one block: the candidates and what the ledger said of each. */
typedef struct {
    const mempool_tx *sel[SLQ_BLOCK_TXS_MAX];
    slq_err codes[SLQ_BLOCK_TXS_MAX];
    char reasons[SLQ_BLOCK_TXS_MAX][256];
    bool tried[SLQ_BLOCK_TXS_MAX];
} produce_scratch;

static void produce(node *n) {
    produce_scratch *s = calloc(1, sizeof *s);
    if (s == NULL) return; /* tried again at the next tick */
    const mempool_tx **sel = s->sel;
    size_t count = mempool_select(n->mp, sel, SLQ_BLOCK_TXS_MAX, nonce_cb, drop_cb, n);
    produce_ctx pc = {.n = n, .codes = s->codes, .reasons = s->reasons, .tried = s->tried};
    chain_proposal p;
    slq_err err = produce_from(n, sel, count, &pc, &p);
    if (err != SLQ_OK) {
        log_error("node: produce: height=%llu failed: %s; stopping",
                  (unsigned long long) chain_tip(n->chain)->height + 1, slq_err_str(err));
        free(s);
        n->exit_code = 1;
        uv_stop(n->loop); /* a node that cannot write its chain must not go on */
        return;
    }
    settle_candidates(n, sel, count, &pc);
    free(s);
    n->metrics.blocks_committed++;
    n->last_block_mono_ms = uv_now(n->loop);
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, chain_tip(n->chain)->hash, 16);
    log_info("node: block: height=%llu txs=%zu hash=%s mempool=%zu", (unsigned long long) p.height,
             p.txs_count, hex, mempool_count(n->mp));
}

static void producer_cb(uv_timer_t *t) {
    node *n = t->data;
    if (n->stopping || !n->validator) return;
    bool due = uv_now(n->loop) - n->last_block_mono_ms >= n->cfg.empty_block_interval_ms;
    if (mempool_count(n->mp) > 0 || due) produce(n);
    /* A full block's worth still waiting: build the next one at once (after the loop has
     * polled for I/O, so the API stays responsive), else wait for the next tick. */
    uint64_t next = mempool_count(n->mp) >= SLQ_BLOCK_TXS_MAX ? 0 : n->cfg.block_interval_ms;
    if (!n->stopping && uv_timer_start(t, producer_cb, next, n->cfg.block_interval_ms) != 0)
        log_warn("node: producer: cannot rearm the timer");
}

/* ------------------------------------------------------------------ start and stop */

static void stop(node *n) {
    if (n->stopping) return;
    n->stopping = true;
    log_info("node: stop: closing (height=%llu)", (unsigned long long) chain_tip(n->chain)->height);
    uv_timer_stop(&n->producer);
    uv_close((uv_handle_t *) &n->producer, NULL);
    uv_close((uv_handle_t *) &n->sigint, NULL);
    uv_close((uv_handle_t *) &n->sigterm, NULL);
    http_server_close(n->http, NULL, NULL);
    n->http = NULL;
}

static void signal_cb(uv_signal_t *s, int signum) {
    log_info("node: signal: %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
    stop(s->data);
}

/* Loads genesis.json, config.json and the node key of `home`. */
static slq_err load_home(node *n, const char *home, uint8_t **genesis, size_t *genesis_len,
                         char *why, size_t why_cap) {
    char path[4096], *text = NULL;
    size_t len = 0;
    slq_err err = node_config_load(&n->cfg, home, why, why_cap);
    if (err != SLQ_OK) return err;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    err = node_read_file(path, CODEC_GENESIS_JSON_BYTES_MAX, &text, &len, why, why_cap);
    if (err != SLQ_OK) return err;
    char reason[256] = "";
    err = codec_genesis_from_json(genesis, genesis_len, text, len, reason, sizeof reason);
    free(text);
    if (err != SLQ_OK) {
        snprintf(why, why_cap, "%.256s: %s", path, reason[0] ? reason : slq_err_str(err));
        return err;
    }
    snprintf(path, sizeof path, "%s/%s", home, n->cfg.key_file);
    err = node_read_file(path, SLQ_KEY_FILE_BYTES_MAX, &text, &len, why, why_cap);
    if (err != SLQ_OK) return err;
    err = crypto_key_load_pem(&n->key, text, len, getenv("SLQ_KEY_PASSPHRASE"));
    free(text);
    if (err != SLQ_OK) snprintf(why, why_cap, "%.256s: %s", path, slq_err_str(err));
    return err;
}

/* Opens the chain and checks the node key against it. */
static slq_err open_chain(node *n, const char *home, const uint8_t *genesis, size_t len, char *why,
                          size_t why_cap) {
    char path[4096];
    snprintf(path, sizeof path, "%s/data", home);
    slq_err err = chain_open(&n->chain, path, genesis, len, why, why_cap);
    if (err != SLQ_OK) return err;
    crypto_suite suite = ledger_suite(chain_ledger(n->chain));
    if (crypto_key_suite(n->key) != suite) {
        snprintf(why, why_cap, "%s/%s: key is not a %s key", home, n->cfg.key_file,
                 crypto_suite_name(suite));
        return SLQ_KEY_SUITE_MISMATCH;
    }
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len = 0;
    err = crypto_key_public(n->key, pub, sizeof pub, &pub_len);
    if (err == SLQ_OK) err = crypto_address(suite, n->addr, pub, pub_len);
    const Slq__Genesis *g = ledger_genesis(chain_ledger(n->chain));
    for (size_t i = 0; err == SLQ_OK && i < g->n_validators; i++)
        if (g->validators[i]->pubkey.len == pub_len &&
            memcmp(g->validators[i]->pubkey.data, pub, pub_len) == 0)
            n->validator = true;
    return err;
}

static slq_err start_loop(node *n) {
    http_limits lim = http_limits_default();
    slq_err err = http_server_start(&n->http, n->loop, n->cfg.api_host, n->cfg.api_port, &lim,
                                    node_api_handle, n);
    if (err != SLQ_OK) return err;
    int r = uv_timer_init(n->loop, &n->producer);
    if (r == 0) r = uv_signal_init(n->loop, &n->sigint);
    if (r == 0) r = uv_signal_init(n->loop, &n->sigterm);
    n->producer.data = n->sigint.data = n->sigterm.data = n;
    if (r == 0)
        r = uv_timer_start(&n->producer, producer_cb, n->cfg.block_interval_ms,
                           n->cfg.block_interval_ms);
    if (r == 0) r = uv_signal_start(&n->sigint, signal_cb, SIGINT);
    if (r == 0) r = uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
    if (r != 0) {
        log_error("node: start: %s", uv_strerror(r));
        return SLQ_NET;
    }
    return SLQ_OK;
}

static int usage(void) {
    fprintf(stderr, "usage: slqd --home DIR [--log debug|info|warn|error]\n");
    return 1;
}

static int run(node *n, const char *home) {
    char why[512] = "";
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    slq_err err = load_home(n, home, &genesis, &genesis_len, why, sizeof why);
    if (err == SLQ_OK) err = open_chain(n, home, genesis, genesis_len, why, sizeof why);
    free(genesis);
    if (err == SLQ_OK) err = mempool_create(&n->mp, SLQ_MEMPOOL_TXS_MAX);
    n->results = err == SLQ_OK ? calloc(SLQ_RESULTS_MAX, sizeof *n->results) : NULL;
    if (err == SLQ_OK && n->results == NULL) err = SLQ_NO_MEMORY;
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd: %s\n", why[0] ? why : slq_err_str(err));
        return 1;
    }
    n->loop = uv_default_loop();
    err = start_loop(n);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd: cannot serve the API on %s:%u: %s\n", n->cfg.api_host,
                n->cfg.api_port, slq_err_str(err));
        return 1;
    }
    n->last_block_mono_ms = uv_now(n->loop);
    log_info("node: start: chain=%s height=%llu api=%s:%u validator=%s",
             ledger_chain_id(chain_ledger(n->chain)),
             (unsigned long long) chain_tip(n->chain)->height, n->cfg.api_host,
             http_server_port(n->http), n->validator ? "yes" : "no");
    uv_run(n->loop, UV_RUN_DEFAULT);
    if (!n->stopping) stop(n);
    uv_run(n->loop, UV_RUN_DEFAULT); /* let close callbacks and verification work finish */
    return n->exit_code;
}

int main(int argc, char **argv) {
    const char *home = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(argv[i], "--log") == 0 && i + 1 < argc) {
            const char *l = argv[++i];
            slq_log_threshold = strcmp(l, "debug") == 0   ? SLQ_LOG_DEBUG
                                : strcmp(l, "warn") == 0  ? SLQ_LOG_WARN
                                : strcmp(l, "error") == 0 ? SLQ_LOG_ERROR
                                                          : SLQ_LOG_INFO;
        } else
            return usage();
    }
    if (home == NULL) return usage();
    /* libuv writes with write(2): a peer that resets its connection must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    static node n; /* owns everything; static only to keep a large struct off the stack */
    int rc = run(&n, home);
    mempool_destroy(n.mp);
    chain_close(n.chain);
    crypto_key_destroy(n.key);
    free(n.results);
    if (n.loop != NULL) uv_loop_close(n.loop);
    return rc;
}
