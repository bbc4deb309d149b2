/* routes.c: the HTTP JSON API of docs/api.md: routing and the read-only handlers. Every
 * answer reads committed state from the store; nothing here writes. Integers (fen, ms,
 * heights, nonces) are written as exact JSON integers, never through a double. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "documents.h"
#include "internal.h"
#include "json.h"
#include "slq/cst.h"
#include "slq/keys.h"
#include "slq/log.h"

static void reply(api *a, http_req_ref ref, json_t *o) {
    api_send(a, ref, 200, codec_json_text(o, CODEC_JSON_COMPACT, NULL));
    json_decref(o);
}

#define U64_SAFE_DIGITS 19u /* every 19-digit number fits in uint64_t */

static bool parse_u64(const char *s, uint64_t *out) {
    if (*s == '\0' || strlen(s) > U64_SAFE_DIGITS) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        v = v * 10 + (uint64_t) (*s - '0');
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ status, blocks */

static void get_status(api *a, http_req_ref ref) {
    const ledger *l = chain_ledger(a->cfg.chain);
    const storage_tip *tip = chain_tip(a->cfg.chain);
    json_t *o = json_object();
    codec_json_set_str(o, "chain_id", ledger_chain_id(l));
    codec_json_set_str(o, "suite", crypto_suite_name(ledger_suite(l)));
    codec_json_set_hex(o, "genesis_hash", ledger_genesis_hash(l), CRYPTO_HASH_BYTES);
    codec_json_set_u64(o, "height", tip->height);
    codec_json_set_hex(o, "tip_hash", tip->hash, CRYPTO_HASH_BYTES);
    codec_json_set_hex(o, "app_hash", tip->app_hash, CRYPTO_HASH_BYTES);
    codec_json_set_i64(o, "time_ms", chain_tip_time_ms(a->cfg.chain));
    codec_json_set_u64(o, "mempool", mempool_count(a->cfg.mp));
    codec_json_set_address(o, "node", a->cfg.addr);
    codec_json_set_bool(o, "validator", a->cfg.validator);
    json_t *vs = codec_json_add_array(o, "validators");
    const Slq__Genesis *g = ledger_genesis(l);
    for (size_t i = 0; i < g->n_validators; i++) {
        json_t *v = json_object();
        uint8_t addr[CRYPTO_ADDRESS_BYTES];
        if (crypto_address(ledger_suite(l), addr, g->validators[i]->pubkey.data,
                           g->validators[i]->pubkey.len) == SLQ_OK)
            codec_json_set_address(v, "address", addr);
        codec_json_set_str(v, "name", g->validators[i]->name);
        codec_json_set_u64(v, "power", g->validators[i]->power);
        codec_json_set(vs, NULL, v);
    }
    reply(a, ref, o);
}

static void get_block(api *a, http_req_ref ref, const char *which) {
    uint64_t height = chain_tip(a->cfg.chain)->height;
    if (strcmp(which, "latest") != 0 && !parse_u64(which, &height)) {
        api_error(a, ref, SLQ_INVALID_ARGUMENT, "height must be a number or latest");
        return;
    }
    json_t *o = NULL;
    slq_err err = height == 0 ? SLQ_NOT_FOUND : api_block_json(a, height, &o);
    if (err == SLQ_NOT_FOUND)
        api_error(a, ref, err, "no block at that height");
    else if (err != SLQ_OK)
        api_error(a, ref, err, slq_err_str(err));
    else
        reply(a, ref, o);
}

/* ------------------------------------------------------------------ transactions */

static void get_tx(api *a, http_req_ref ref, const char *hex) {
    uint8_t hash[CRYPTO_HASH_BYTES];
    if (strlen(hex) != 2 * CRYPTO_HASH_BYTES ||
        codec_hex_decode(hash, sizeof hash, hex) != SLQ_OK) {
        api_error(a, ref, SLQ_FIELD_INVALID, "tx hash must be 64 lowercase hex digits");
        return;
    }
    json_t *o = NULL;
    slq_err err = api_tx_json(a, hash, &o);
    if (err == SLQ_OK) {
        reply(a, ref, o);
        return;
    }
    if (err != SLQ_NOT_FOUND) {
        api_error(a, ref, err, slq_err_str(err));
        return;
    }
    const result *r = results_find(a->cfg.res, hash);
    if (r == NULL) {
        api_error(a, ref, SLQ_NOT_FOUND, "unknown transaction");
        return;
    }
    o = json_object();
    codec_json_set_str(o, "tx", hex);
    codec_json_set_str(o, "status", "rejected");
    codec_json_set_str(o, "error", slq_err_name(r->code));
    codec_json_set_i64(o, "code", r->code);
    codec_json_set_str(o, "message", r->message);
    reply(a, ref, o);
}

/* ------------------------------------------------------------------ accounts, vouchers */

static void get_account(api *a, http_req_ref ref, const char *addr_text, const char *rest,
                        const char *query) {
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (crypto_address_parse(addr, addr_text) != SLQ_OK) {
        api_error(a, ref, SLQ_ADDRESS_INVALID, slq_err_str(SLQ_ADDRESS_INVALID));
        return;
    }
    if (rest != NULL && strcmp(rest, "vouchers") == 0) {
        api_doc_args args = {.kind = API_DOC_BALANCE, .all = strstr(query, "all=1") != NULL};
        memcpy(args.addr, addr, sizeof args.addr);
        api_doc(a, ref, &args);
        return;
    }
    json_t *o = NULL;
    slq_err err = rest == NULL ? api_account_json(a, addr, &o) : SLQ_INVALID_ARGUMENT;
    if (err == SLQ_OK)
        reply(a, ref, o);
    else if (err == SLQ_NOT_FOUND)
        api_error(a, ref, SLQ_ACCOUNT_UNKNOWN, "no such account");
    else if (err == SLQ_INVALID_ARGUMENT)
        api_error(a, ref, SLQ_NOT_FOUND, "unknown path");
    else
        api_error(a, ref, err, slq_err_str(err));
}

static void get_voucher(api *a, http_req_ref ref, const char *hex) {
    uint8_t id[CRYPTO_HASH_BYTES];
    if (strlen(hex) != 2 * CRYPTO_HASH_BYTES || codec_hex_decode(id, sizeof id, hex) != SLQ_OK) {
        api_error(a, ref, SLQ_FIELD_INVALID, "voucher id must be 64 lowercase hex digits");
        return;
    }
    api_doc_args args = {.kind = API_DOC_LINEAGE};
    memcpy(args.id, id, sizeof args.id);
    api_doc(a, ref, &args);
}

static void get_claims(api *a, http_req_ref ref, const char *query) {
    uint8_t centre[CRYPTO_ADDRESS_BYTES];
    const char *c = strstr(query, "centre=");
    char text[64] = "";
    if (c != NULL) {
        snprintf(text, sizeof text, "%.*s", (int) strcspn(c + 7, "&"), c + 7);
        if (crypto_address_parse(centre, text) != SLQ_OK) {
            api_error(a, ref, SLQ_ADDRESS_INVALID, "centre must be an slq1 address");
            return;
        }
    }
    api_doc_args args = {.kind = API_DOC_CLAIMS, .has_addr = c != NULL};
    if (c != NULL) memcpy(args.addr, centre, sizeof args.addr);
    api_doc(a, ref, &args);
}

/* GET /v1/applications[?holder=ADDR&status=open|issued|rejected] and /v1/applications/ID. */
static void get_applications(api *a, http_req_ref ref, const char *id, const char *query) {
    api_doc_args args = {.kind = id != NULL ? API_DOC_APPLICATION : API_DOC_APPLICATIONS};
    if (id != NULL) {
        if (strlen(id) != 2 * CRYPTO_HASH_BYTES ||
            codec_hex_decode(args.id, sizeof args.id, id) != SLQ_OK) {
            api_error(a, ref, SLQ_FIELD_INVALID, "application id must be 64 lowercase hex digits");
            return;
        }
        api_doc(a, ref, &args);
        return;
    }
    const char *h = strstr(query, "holder="), *s = strstr(query, "status=");
    char text[64] = "";
    if (h != NULL) {
        snprintf(text, sizeof text, "%.*s", (int) strcspn(h + 7, "&"), h + 7);
        if (crypto_address_parse(args.addr, text) != SLQ_OK) {
            api_error(a, ref, SLQ_ADDRESS_INVALID, "holder must be an slq1 address");
            return;
        }
        args.has_addr = true;
    }
    if (s != NULL) {
        snprintf(text, sizeof text, "%.*s", (int) strcspn(s + 7, "&"), s + 7);
        if (!api_application_status_parse(text, &args.status)) {
            api_error(a, ref, SLQ_INVALID_ARGUMENT, "status must be open, issued or rejected");
            return;
        }
    }
    api_doc(a, ref, &args);
}

/* ------------------------------------------------------------------ evidence */

static json_t *vote_json(const Slq__Vote *v) {
    json_t *o = json_object();
    codec_json_set_str(o, "type",
                       v->type == SLQ__VOTE_TYPE__VOTE_PREVOTE ? "prevote" : "precommit");
    codec_json_set_u64(o, "height", v->height);
    codec_json_set_u64(o, "round", v->round);
    if (v->block_hash.len > 0)
        codec_json_set_hex(o, "block_hash", v->block_hash.data, v->block_hash.len);
    else
        codec_json_set_null(o, "block_hash");
    if (v->validator.len == CRYPTO_ADDRESS_BYTES)
        codec_json_set_address(o, "validator", v->validator.data);
    codec_json_set_hex(o, "signature", v->signature.data, v->signature.len);
    return o;
}

/* Conflicting signed votes this node has seen (kept in memory since it started). */
static void get_evidence(api *a, http_req_ref ref) {
    json_t *o = json_object(), *list = codec_json_add_array(o, "evidence");
    for (size_t i = 0; i < engine_evidence_count(a->engine); i++) {
        const Slq__Evidence *ev = engine_evidence(a->engine, i);
        json_t *e = json_object();
        codec_json_set(e, "a", vote_json(ev->a));
        codec_json_set(e, "b", vote_json(ev->b));
        codec_json_set(list, NULL, e);
    }
    reply(a, ref, o);
}

/* ------------------------------------------------------------------ metrics */

#define METRICS_BYTES          16384u /* the metrics text */
#define METRICS_LINE_BYTES_MAX 128u   /* one rejected_total line */

static void get_metrics(api *a, http_req_ref ref) {
    size_t cap = METRICS_BYTES, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) {
        api_error(a, ref, SLQ_NO_MEMORY, "out of memory");
        return;
    }
#define OUT(...) len += (size_t) snprintf(buf + len, cap - len, __VA_ARGS__)
    OUT("# TYPE slq_height gauge\nslq_height %llu\n",
        (unsigned long long) chain_tip(a->cfg.chain)->height);
    OUT("# TYPE slq_mempool_txs gauge\nslq_mempool_txs %zu\n", mempool_count(a->cfg.mp));
    OUT("# TYPE slq_txs_committed_total counter\nslq_txs_committed_total %llu\n",
        (unsigned long long) engine_txs_committed(a->engine));
    OUT("# TYPE slq_blocks_committed_total counter\nslq_blocks_committed_total %llu\n",
        (unsigned long long) engine_blocks_committed(a->engine));
    OUT("# TYPE slq_http_requests_total counter\nslq_http_requests_total %llu\n",
        (unsigned long long) a->http_requests);
    OUT("# TYPE slq_peers gauge\nslq_peers %zu\n", engine_peers(a->engine));
    OUT("# TYPE slq_reports_building gauge\nslq_reports_building %zu\n", api_reports_building(a));
    OUT("# TYPE slq_evidence_total gauge\nslq_evidence_total %zu\n",
        engine_evidence_count(a->engine));
    OUT("# TYPE slq_txs_rejected_total counter\n");
    for (unsigned e = 0; e < RESULTS_CODES && len + METRICS_LINE_BYTES_MAX < cap; e++)
        if (results_count(a->cfg.res, (slq_err) e) > 0)
            OUT("slq_txs_rejected_total{reason=\"%s\"} %llu\n", slq_err_name((slq_err) e),
                (unsigned long long) results_count(a->cfg.res, (slq_err) e));
#undef OUT
    slq_err err = http_respond(a->http, ref, 200, "text/plain; version=0.0.4", buf, len);
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) log_warn("api: metrics: %s", slq_err_str(err));
    free(buf);
}

/* ------------------------------------------------------------------ routing */

#define PATH_BYTES_MAX 256u /* a longer path is no route: 404 */
#define PATH_SEGS_MAX  4u   /* "/v1/a/b/c" */

/* Splits "/v1/a/b/c" into at most PATH_SEGS_MAX segments (in place in buf). */
static size_t split_path(char *buf, const char *path, const char *seg[PATH_SEGS_MAX]) {
    snprintf(buf, PATH_BYTES_MAX, "%s", path);
    size_t n = 0;
    for (char *p = buf; *p == '/' && n < PATH_SEGS_MAX;) {
        *p++ = '\0';
        seg[n++] = p;
        p = strchr(p, '/');
        if (p == NULL) break;
    }
    return n;
}

static void route_get(api *a, const http_request *req) {
    char buf[PATH_BYTES_MAX];
    const char *s[PATH_SEGS_MAX] = {0};
    size_t k = strlen(req->path) < PATH_BYTES_MAX ? split_path(buf, req->path, s) : 0;
    http_req_ref ref = req->ref;
    if (k == 1 && strcmp(s[0], "metrics") == 0) {
        get_metrics(a, ref);
        return;
    }
    if (k < 2 || strcmp(s[0], "v1") != 0) {
        api_error(a, ref, SLQ_NOT_FOUND, "unknown path");
        return;
    }
    if (k == 2 && strcmp(s[1], "status") == 0) {
        get_status(a, ref);
        return;
    }
    if (k == 3 && strcmp(s[1], "blocks") == 0) {
        get_block(a, ref, s[2]);
        return;
    }
    if (k == 3 && strcmp(s[1], "txs") == 0) {
        get_tx(a, ref, s[2]);
        return;
    }
    if ((k == 3 || k == 4) && strcmp(s[1], "accounts") == 0) {
        get_account(a, ref, s[2], k == 4 ? s[3] : NULL, req->query);
        return;
    }
    if (k == 3 && strcmp(s[1], "vouchers") == 0) {
        get_voucher(a, ref, s[2]);
        return;
    }
    if (k == 2 && strcmp(s[1], "claims") == 0) {
        get_claims(a, ref, req->query);
        return;
    }
    if ((k == 2 || k == 3) && strcmp(s[1], "applications") == 0) {
        get_applications(a, ref, k == 3 ? s[2] : NULL, req->query);
        return;
    }
    if (k == 2 && strcmp(s[1], "evidence") == 0) {
        get_evidence(a, ref);
        return;
    }
    if (k == 3 && strcmp(s[1], "audit") == 0) {
        api_doc_year(a, ref, API_DOC_AUDIT, s[2]);
        return;
    }
    if (k == 3 && strcmp(s[1], "report") == 0) {
        api_doc_year(a, ref, API_DOC_REPORT, s[2]);
        return;
    }
    api_error(a, ref, SLQ_NOT_FOUND, "unknown path");
}

static void handle(void *arg, const http_request *req) {
    api *a = arg;
    a->http_requests++;
    if (strcmp(req->method, "GET") == 0) return route_get(a, req);
    if (strcmp(req->method, "POST") == 0 && strcmp(req->path, "/v1/txs") == 0) {
        api_submit(a, req);
        return;
    }
    if (strcmp(req->path, "/v1/txs") == 0) {
        api_error(a, req->ref, SLQ_METHOD_NOT_ALLOWED, "use POST");
        return;
    }
    api_error(a, req->ref, SLQ_METHOD_NOT_ALLOWED, "method not allowed");
}

/* ------------------------------------------------------------------ start and stop */

slq_err api_start(api **out, const api_config *cfg) {
    api *a = *out = calloc(1, sizeof *a);
    if (a == NULL) return SLQ_NO_MEMORY;
    a->cfg = *cfg;
    a->cfg.host = NULL; /* read during this call only */
    http_limits lim = http_limits_default();
    return http_server_start(&a->http, cfg->loop, cfg->host, cfg->port, &lim, handle, a);
}

uint16_t api_port(const api *a) {
    return http_server_port(a->http);
}

void api_set_engine(api *a, const engine *e) {
    a->engine = e;
}

void api_stop(api *a) {
    if (a == NULL || a->stopping) return;
    a->stopping = true;
    api_docs_cancel(a);
    http_server_close(a->http, NULL, NULL);
    a->http = NULL;
}

void api_free(api *a) {
    free(a);
}
