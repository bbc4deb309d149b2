/* main.c: slqd: loads a node home, opens the chain, serves the API and runs the consensus
 * engine (engine.c) with its peers. `slqd --home DIR` runs in the foreground until SIGINT
 * or SIGTERM; a block being written is finished first (commits run on the loop thread,
 * signals are handled between callbacks), then LevelDB is closed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "documents.h"
#include "codec.h"
#include "node.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "verify.h"

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

/* ------------------------------------------------------------------ start and stop */

static void stop(node *n) {
    if (n->stopping) return;
    n->stopping = true;
    log_info("node: stop: closing (height=%llu)", (unsigned long long) chain_tip(n->chain)->height);
    engine_stop(n->engine);
    node_submit_stop(n);
    node_api_scans_cancel(n);
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

static slq_err start_loop(node *n, const char *home) {
    http_limits lim = http_limits_default();
    slq_err err = http_server_start(&n->http, n->loop, n->cfg.api_host, n->cfg.api_port, &lim,
                                    node_api_handle, n);
    if (err != SLQ_OK) return err;
    int r = uv_signal_init(n->loop, &n->sigint);
    if (r == 0) r = uv_signal_init(n->loop, &n->sigterm);
    n->sigint.data = n->sigterm.data = n;
    if (r == 0) r = uv_signal_start(&n->sigint, signal_cb, SIGINT);
    if (r == 0) r = uv_signal_start(&n->sigterm, signal_cb, SIGTERM);
    if (r != 0) {
        log_error("node: start: %s", uv_strerror(r));
        return SLQ_NET;
    }
    err = node_submit_start(n);
    return err == SLQ_OK ? engine_start(n, home) : err;
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
    if (err == SLQ_OK) err = digest_set_init(&n->gossip_checking, 2 * SLQ_GOSSIP_CHECKING_MAX);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd: %s\n", why[0] ? why : slq_err_str(err));
        return 1;
    }
    n->loop = uv_default_loop();
    err = start_loop(n, home);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd: cannot serve the API on %s:%u: %s\n", n->cfg.api_host,
                n->cfg.api_port, slq_err_str(err));
        return 1;
    }
    log_info("node: start: chain=%s height=%llu api=%s:%u validator=%s",
             ledger_chain_id(chain_ledger(n->chain)),
             (unsigned long long) chain_tip(n->chain)->height, n->cfg.api_host,
             http_server_port(n->http), n->validator ? "yes" : "no");
    uv_run(n->loop, UV_RUN_DEFAULT);
    if (!n->stopping) stop(n);
    /* Let close callbacks, verification and report work finish (until nothing is active,
     * even if something calls uv_stop meanwhile): LevelDB is closed after this. */
    while (uv_run(n->loop, UV_RUN_DEFAULT) != 0) {
    }
    return n->exit_code;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "verify") == 0) return verify_main(argc - 1, argv + 1);
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
    engine_free(n.engine);
    mempool_destroy(n.mp);
    chain_close(n.chain);
    crypto_key_destroy(n.key);
    free(n.results);
    digest_set_free(&n.gossip_checking);
    if (n.loop != NULL) uv_loop_close(n.loop);
    /* Join libuv's workers now: left to libuv's own destructor they would exit (and free
     * their cached verification contexts) after OpenSSL's atexit cleanup. */
    uv_library_shutdown();
    return rc;
}
