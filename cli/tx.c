/* tx.c: how a transaction command talks to the node: learn the chain (GET /v1/status) and
 * the signer's nonce (GET /v1/accounts/ADDR), sign locally, submit (POST /v1/txs), wait for
 * the block (GET /v1/txs/HASH every CLI_POLL_MS, at most CLI_WAIT_MS), print the outcome.
 * The key never leaves the process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "codec.h"
#include "ledger.h"
#include "slq/limits.h"

typedef struct {
    char tx[CLI_ID_HEX_BYTES];
    char status[16]; /* "pending", "committed" or "rejected" */
    int64_t height;  /* -1: not in a block */
    char error[64];  /* stable error name when rejected */
    char message[320];
    char vouchers[2][CLI_ID_HEX_BYTES];
    size_t vouchers_count;
    char claim[CLI_ID_HEX_BYTES];
    char application[CLI_ID_HEX_BYTES];
    Slq__TxKind kind;
} tx_outcome;

/* wait_tx(): the transaction is still pending after CLI_WAIT_MS (exit 3, after printing). */
#define WAIT_TIMED_OUT (-2)

static int fetch_chain(cli *c, cli_signer *s) {
    cli_response r;
    int rc = cli_get(c, "/v1/status", &r);
    if (rc != CLI_PROCEED) return rc;
    const char *id = cli_json_str(r.json, "chain_id");
    const char *suite = cli_json_str(r.json, "suite");
    bool ok = id != NULL && strlen(id) >= 1 && strlen(id) <= SLQ_CHAIN_ID_BYTES_MAX &&
              suite != NULL && crypto_suite_parse(&s->suite, suite) == SLQ_OK;
    if (ok) snprintf(s->chain_id, sizeof s->chain_id, "%s", id);
    cli_response_free(&r);
    if (!ok)
        return cli_fail(CLI_EXIT_UNREACHABLE, "node at %s: /v1/status lacks chain_id or suite",
                        c->node);
    return CLI_PROCEED;
}

static int fetch_nonce(cli *c, cli_signer *s) {
    char path[96];
    snprintf(path, sizeof path, "/v1/accounts/%s", s->address_text);
    cli_response r;
    int rc = cli_http(c, path, NULL, &r);
    if (rc != CLI_PROCEED) return rc;
    if (r.status == 404) {
        s->nonce = 1; /* unknown signer: the ledger will say SIGNER_UNKNOWN */
        cli_response_free(&r);
        return CLI_PROCEED;
    }
    rc = cli_response_check(c, &r);
    int64_t pending = -1;
    if (rc == CLI_PROCEED && !cli_json_int(r.json, "pending_nonce", &pending) &&
        !cli_json_int(r.json, "nonce", &pending))
        pending = -1;
    cli_response_free(&r);
    if (rc != CLI_PROCEED) return rc;
    if (pending < 0)
        return cli_fail(CLI_EXIT_UNREACHABLE, "node at %s: %s lacks pending_nonce", c->node, path);
    s->nonce = (uint64_t) pending + 1;
    return CLI_PROCEED;
}

int cli_signer_open(cli *c, cli_signer *s, const char *key_path, const char *passphrase_env) {
    memset(s, 0, sizeof *s);
    int rc = cli_key_load(key_path, passphrase_env, &s->key);
    if (rc != CLI_PROCEED) return rc;
    rc = fetch_chain(c, s);
    if (rc == CLI_PROCEED && crypto_key_suite(s->key) != s->suite)
        rc = cli_fail(CLI_EXIT_USAGE, "key %s is a %s key but chain %s uses %s", key_path,
                      crypto_suite_name(crypto_key_suite(s->key)), s->chain_id,
                      crypto_suite_name(s->suite));
    if (rc == CLI_PROCEED) rc = cli_key_address(s->key, s->suite, s->address, s->address_text);
    if (rc == CLI_PROCEED) rc = fetch_nonce(c, s);
    if (rc != CLI_PROCEED) cli_signer_close(s);
    return rc;
}

void cli_signer_close(cli_signer *s) {
    crypto_key_destroy(s->key);
    s->key = NULL;
}

/* Signs body for the chain the node reported; *out is malloc'd. */
static int sign_tx(const cli_signer *s, const Slq__TxBody *body, uint8_t **out, size_t *out_len) {
    slq_err err = ledger_tx_sign_for(s->suite, s->chain_id, s->key, body, out, out_len);
    if (err == SLQ_TX_TOO_LARGE)
        return cli_fail(CLI_EXIT_USAGE, "transaction too large (at most %u bytes)",
                        SLQ_TX_BYTES_MAX);
    if (err != SLQ_OK) return cli_fail(CLI_EXIT_USAGE, "signing failed: %s", slq_err_str(err));
    return CLI_PROCEED;
}

/* Copies what a tx result object says (POST result or GET /v1/txs/HASH) into o. */
static void read_result(tx_outcome *o, const json_t *j) {
    const char *status = cli_json_str(j, "status");
    if (status != NULL) snprintf(o->status, sizeof o->status, "%s", status);
    if (!cli_json_int(j, "height", &o->height) || o->height <= 0) o->height = -1;
    const char *error = cli_json_str(j, "error"), *message = cli_json_str(j, "message");
    if (error != NULL) snprintf(o->error, sizeof o->error, "%s", error);
    if (message != NULL) snprintf(o->message, sizeof o->message, "%s", message);
    const json_t *v = json_object_get(j, "vouchers"), *e;
    o->vouchers_count = 0;
    for (size_t i = 0; (e = json_array_get(v, i)) != NULL && o->vouchers_count < 2; i++)
        if (json_is_string(e))
            snprintf(o->vouchers[o->vouchers_count++], CLI_ID_HEX_BYTES, "%s",
                     json_string_value(e));
    const char *claim = cli_json_str(j, "claim");
    if (claim != NULL) snprintf(o->claim, sizeof o->claim, "%s", claim);
    const char *app = cli_json_str(j, "application");
    if (app != NULL) snprintf(o->application, sizeof o->application, "%s", app);
}

static int post_tx(cli *c, const uint8_t *tx, size_t len, tx_outcome *o) {
    size_t cap = 2 * len + 16;
    char *body = malloc(cap);
    if (body == NULL) return cli_fail(CLI_EXIT_USAGE, "out of memory");
    memcpy(body, "{\"tx\":\"", 7);
    codec_hex_encode(body + 7, tx, len);
    memcpy(body + 7 + 2 * len, "\"}", 3);
    cli_response r;
    int rc = cli_http(c, "/v1/txs", body, &r);
    free(body);
    if (rc != CLI_PROCEED) return rc;
    const json_t *first = json_array_get(json_object_get(r.json, "results"), 0);
    if (r.status == 422 && cli_json_str(r.json, "error") != NULL) {
        snprintf(o->status, sizeof o->status, "rejected");
        read_result(o, r.json);
    } else if (r.status >= 200 && r.status < 300 && json_is_object(first)) {
        read_result(o, first);
    } else {
        rc = cli_response_check(c, &r);
        if (rc == CLI_PROCEED)
            rc = cli_fail(CLI_EXIT_UNREACHABLE, "node at %s: /v1/txs answered without results",
                          c->node);
    }
    cli_response_free(&r);
    return rc;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Polls GET /v1/txs/HASH until the transaction is committed or rejected, or CLI_WAIT_MS. */
static int wait_tx(cli *c, tx_outcome *o) {
    char path[96];
    snprintf(path, sizeof path, "/v1/txs/%s", o->tx);
    int64_t deadline = now_ms() + CLI_WAIT_MS;
    for (;;) {
        cli_response r;
        int rc = cli_http(c, path, NULL, &r);
        if (rc != CLI_PROCEED) return rc;
        if (r.status == 200 && json_is_object(r.json))
            read_result(o, r.json);
        else if (r.status != 404)
            rc = cli_response_check(c, &r); /* 404: not seen yet */
        cli_response_free(&r);
        if (rc != CLI_PROCEED) return rc;
        if (strcmp(o->status, "pending") != 0) return CLI_PROCEED;
        if (now_ms() >= deadline) return WAIT_TIMED_OUT;
        struct timespec pause = {0, CLI_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
}

/* The text, or null when it is empty. */
static bool set_text_or_null(json_t *j, const char *key, const char *text) {
    return text[0] != '\0' ? codec_json_set_str(j, key, text) : codec_json_set_null(j, key);
}

static int print_json(const tx_outcome *o) {
    json_t *j = json_object();
    bool ok = codec_json_set_str(j, "tx", o->tx) && codec_json_set_str(j, "status", o->status);
    ok = ok && (o->height > 0 ? codec_json_set_i64(j, "height", o->height)
                              : codec_json_set_null(j, "height"));
    ok = ok && set_text_or_null(j, "error", o->error);
    json_t *v = ok ? codec_json_add_array(j, "vouchers") : NULL;
    ok = v != NULL;
    for (size_t i = 0; ok && i < o->vouchers_count; i++)
        ok = codec_json_set_str(v, NULL, o->vouchers[i]);
    ok = ok && set_text_or_null(j, "claim", o->claim);
    if (o->application[0] != '\0') /* only an APPLY opens one */
        ok = ok && codec_json_set_str(j, "application", o->application);
    int rc = ok ? cli_print_json(j) : cli_fail(CLI_EXIT_USAGE, "out of memory");
    json_decref(j);
    return rc;
}

static void print_human(const tx_outcome *o) {
    if (strcmp(o->status, "committed") == 0)
        printf("committed at height %lld\n", (long long) o->height);
    else if (strcmp(o->status, "pending") == 0)
        printf("submitted, pending\n");
    printf("tx       %s\n", o->tx);
    bool transfer = o->kind == SLQ__TX_KIND__TX_TRANSFER;
    for (size_t i = 0; i < o->vouchers_count; i++)
        printf("%-8s %s\n", transfer && i == 1 ? "change" : "voucher", o->vouchers[i]);
    if (o->claim[0] != '\0') printf("claim    %s\n", o->claim);
    if (o->application[0] != '\0') printf("application %s\n", o->application);
}

/* Prints the outcome; returns the command's exit code. */
static int finish(const cli *c, const tx_outcome *o, bool timed_out) {
    bool rejected = strcmp(o->status, "rejected") == 0;
    int print_rc = c->json ? print_json(o) : CLI_EXIT_OK;
    if (!c->json && !rejected) print_human(o);
    if (rejected)
        return cli_fail(CLI_EXIT_REJECTED, "rejected: %s: %s (tx %s)",
                        o->error[0] != '\0' ? o->error : "UNKNOWN", o->message, o->tx);
    if (timed_out)
        return cli_fail(CLI_EXIT_UNREACHABLE,
                        "tx %s not in a block after %ld s; it may still commit: slq tx %s", o->tx,
                        CLI_WAIT_MS / 1000, o->tx);
    return print_rc;
}

int cli_tx_submit(cli *c, const cli_signer *s, Slq__TxBody *body, bool no_wait) {
    body->nonce = s->nonce;
    uint8_t *tx = NULL;
    size_t len = 0;
    int rc = sign_tx(s, body, &tx, &len);
    if (rc != CLI_PROCEED) return rc;
    tx_outcome o = {.height = -1, .kind = body->kind};
    snprintf(o.status, sizeof o.status, "pending");
    uint8_t hash[CRYPTO_HASH_BYTES];
    crypto_hash(s->suite, hash, tx, len);
    codec_hex_encode(o.tx, hash, sizeof hash);
    rc = post_tx(c, tx, len, &o);
    free(tx);
    if (rc != CLI_PROCEED) return rc;
    bool committed = strcmp(o.status, "committed") == 0;
    if (strcmp(o.status, "rejected") != 0 && (committed || !no_wait)) {
        rc = wait_tx(c, &o); /* for a committed resubmission: fetches its result once */
        if (rc != CLI_PROCEED && rc != WAIT_TIMED_OUT) return rc;
    }
    return finish(c, &o, rc == WAIT_TIMED_OUT);
}
