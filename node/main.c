/* main.c: slqd: loads a node home, opens the chain (chain/), and wires the rooms on one libuv
 * loop: intake (transactions in), the API (api/) and the replica (replica/: consensus with
 * its peers). `slqd --home DIR` runs in the foreground until SIGINT
 * or SIGTERM; a block being written is finished first (commits run on the loop thread,
 * signals are handled between callbacks), then LevelDB is closed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "node.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "slq/why.h"
#include "verify.h"

/* A start failure's reason: it may name a file of the home twice (the key's chmod hint). */
#define SLQD_WHY_BYTES (2u * 4096u + 512u)

/* ------------------------------------------------------------------ wiring */

/* What a lower room calls of a higher one, through the node: admission relays a new
 * transaction to peers, intake wakes the proposer and reports a peer, the replica stops the
 * node. Before the engine starts (and after it stops) there is no one to tell. */
static void relay_tx(void *arg, const uint8_t *bytes, size_t len) {
    node *n = arg;
    if (n->engine != NULL) engine_relay_tx(n->engine, bytes, len);
}

static void mempool_changed(void *arg) {
    node *n = arg;
    if (n->engine != NULL) engine_mempool_changed(n->engine);
}

static void peer_misbehaved(void *arg, uint32_t peer, const char *why) {
    node *n = arg;
    if (n->engine != NULL) engine_peer_misbehaved(n->engine, peer, why);
}

static void replica_fatal(void *arg, const char *why) {
    node *n = arg;
    if (n->exit_code == 0) snprintf(n->stop_why, sizeof n->stop_why, "%s", why);
    n->exit_code = 1;
    uv_stop(n->loop);
}

/* ------------------------------------------------------------------ start and stop */

static void stop(node *n) {
    if (n->stopping) return;
    n->stopping = true;
    log_info("node: stop: closing (height=%llu)", (unsigned long long) chain_tip(n->chain)->height);
    engine_stop(n->engine);
    intake_stop(n->in);
    api_stop(n->api);
    uv_close((uv_handle_t *) n->sigint, NULL);
    uv_close((uv_handle_t *) n->sigterm, NULL);
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
    slq_err err = node_config_load(n->cfg, home, why, why_cap);
    if (err != SLQ_OK) return err;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    err = node_read_file(path, CODEC_GENESIS_JSON_BYTES_MAX, &text, &len, why, why_cap);
    if (err != SLQ_OK) return err;
    char reason[256] = "";
    err = codec_genesis_from_json(genesis, genesis_len, text, len, reason, sizeof reason);
    free(text);
    if (err != SLQ_OK) {
        SLQ_WHY("%.256s: %s", path, reason[0] ? reason : slq_err_str(err));
        return err;
    }
    snprintf(path, sizeof path, "%s/%s", home, n->cfg->key_file);
    return crypto_key_load_file(&n->key, path, getenv("SLQ_KEY_PASSPHRASE"), why, why_cap);
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
        SLQ_WHY("%s/%s: key is not a %s key", home, n->cfg->key_file, crypto_suite_name(suite));
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

/* The rooms on the loop: the API, signals, intake, then the replica. On failure `why` says
 * which and what stopped it. */
static slq_err start_loop(node *n, const char *home, bool reset_signer, char *why, size_t why_cap) {
    intake_config ic = {
        .loop = n->loop,
        .adm = {.chain = n->chain, .mp = n->mp, .res = n->res, .relay = relay_tx, .relay_arg = n},
        .mempool_changed = mempool_changed,
        .peer_misbehaved = peer_misbehaved,
        .arg = n};
    slq_err err = intake_create(&n->in, &ic);
    if (err != SLQ_OK) {
        SLQ_WHY("intake: %s", slq_err_str(err));
        return err;
    }
    api_config ac = {.loop = n->loop,
                     .chain = n->chain,
                     .mp = n->mp,
                     .res = n->res,
                     .in = n->in,
                     .addr = n->addr,
                     .validator = n->validator,
                     .host = n->cfg->api_host,
                     .port = n->cfg->api_port};
    err = api_start(&n->api, &ac);
    if (err != SLQ_OK) {
        SLQ_WHY("cannot serve the API on %s:%u: %s", n->cfg->api_host, n->cfg->api_port,
                slq_err_str(err));
        return err;
    }
    int r = uv_signal_init(n->loop, n->sigint);
    if (r == 0) r = uv_signal_init(n->loop, n->sigterm);
    n->sigint->data = n->sigterm->data = n;
    if (r == 0) r = uv_signal_start(n->sigint, signal_cb, SIGINT);
    if (r == 0) r = uv_signal_start(n->sigterm, signal_cb, SIGTERM);
    if (r != 0) {
        SLQ_WHY("signals: %s", uv_strerror(r));
        return SLQ_NET;
    }
    const char *peers[SLQ_PEERS_MAX];
    const uint8_t *observers[SLQ_PEERS_MAX];
    for (size_t i = 0; i < n->cfg->peers_count; i++) peers[i] = n->cfg->peers[i];
    for (size_t i = 0; i < n->cfg->observers_count; i++) observers[i] = n->cfg->observers[i];
    engine_config ec = {.loop = n->loop,
                        .chain = n->chain,
                        .mp = n->mp,
                        .res = n->res,
                        .in = n->in,
                        .key = n->key,
                        .home = home,
                        .p2p_host = n->cfg->p2p_host,
                        .p2p_port = n->cfg->p2p_port,
                        .peers = peers,
                        .peers_count = n->cfg->peers_count,
                        .observers = observers,
                        .observers_count = n->cfg->observers_count,
                        .block_interval_ms = n->cfg->block_interval_ms,
                        .empty_block_interval_ms = n->cfg->empty_block_interval_ms,
                        .reset_signer = reset_signer,
                        .fatal = replica_fatal,
                        .fatal_arg = n};
    err = engine_start(&n->engine, &ec, why, why_cap);
    if (err != SLQ_OK && why[0] == '\0') SLQ_WHY("replica: %s", slq_err_str(err));
    api_set_engine(n->api, n->engine);
    return err;
}

static int usage(void) {
    fprintf(stderr, "usage: slqd --home DIR [--log debug|info|warn|error] [--reset-signer]\n");
    return 1;
}

static int run(node *n, const char *home, bool reset_signer) {
    char why[SLQD_WHY_BYTES] = "";
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    slq_err err = load_home(n, home, &genesis, &genesis_len, why, sizeof why);
    if (err == SLQ_OK) err = open_chain(n, home, genesis, genesis_len, why, sizeof why);
    free(genesis);
    if (err == SLQ_OK) err = mempool_create(&n->mp, SLQ_MEMPOOL_TXS_MAX);
    if (err == SLQ_OK) err = results_create(&n->res, SLQ_RESULTS_MAX);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd: %s\n", why[0] ? why : slq_err_str(err));
        return 1;
    }
    n->loop = uv_default_loop();
    err = start_loop(n, home, reset_signer, why, sizeof why);
    if (err != SLQ_OK) {
        /* The last line says why, whatever the rooms logged before it. */
        fprintf(stderr, "slqd: stopped: %s\n", why[0] ? why : slq_err_str(err));
        return 1;
    }
    log_info("node: start: chain=%s height=%llu api=%s:%u validator=%s",
             ledger_chain_id(chain_ledger(n->chain)),
             (unsigned long long) chain_tip(n->chain)->height, n->cfg->api_host, api_port(n->api),
             n->validator ? "yes" : "no");
    uv_run(n->loop, UV_RUN_DEFAULT);
    if (!n->stopping) stop(n);
    /* Let close callbacks, verification and report work finish (until nothing is active,
     * even if something calls uv_stop meanwhile): LevelDB is closed after this. */
    while (uv_run(n->loop, UV_RUN_DEFAULT) != 0) {
    }
    if (n->exit_code != 0) fprintf(stderr, "slqd: stopped: %s\n", n->stop_why);
    return n->exit_code;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "verify") == 0) return verify_main(argc - 1, argv + 1);
    const char *home = NULL;
    bool reset_signer = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(argv[i], "--reset-signer") == 0)
            reset_signer = true;
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
    static node_config cfg; /* static: large, and lives as long as the process */
    static uv_signal_t sigint, sigterm;
    node n = {.cfg = &cfg, .sigint = &sigint, .sigterm = &sigterm};
    int rc = run(&n, home, reset_signer);
    engine_free(n.engine);
    api_free(n.api);
    intake_free(n.in);
    mempool_destroy(n.mp);
    results_destroy(n.res);
    chain_close(n.chain);
    crypto_key_destroy(n.key);
    if (n.loop != NULL) uv_loop_close(n.loop);
    /* Join libuv's workers now: left to libuv's own destructor they would exit (and free
     * their cached verification contexts) after OpenSSL's atexit cleanup. */
    uv_library_shutdown();
    return rc;
}
