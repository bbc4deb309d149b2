/* intake.c: transactions in. For POST /v1/txs, the body's transactions are decoded and
 * their signatures verified on libuv's thread pool, in chunks so that a large batch uses
 * every worker; then, back on the loop thread, each is checked against the committed nonce
 * and put into the mempool, and the request is answered with one result per transaction.
 * Transactions peers relay take the same way, gathered a few milliseconds into one job, with
 * no answer (one that does not verify disconnects its peer). The ledger's rules run when a
 * block is built (engine.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "codec.h"
#include "node.h"
#include "slq/limits.h"
#include "slq/log.h"

#define CHUNK_TXS        64u
#define WORKER_NICE      10   /* workers yield the CPU to the loop thread */
#define GOSSIP_BATCH_MAX 256u /* relayed transactions gathered into one job */
#define GOSSIP_FLUSH_MS  10u  /* ... for at most this long */

typedef struct submit_job submit_job;

typedef struct {
    uv_work_t work;
    submit_job *job;
    size_t from, to;
} submit_chunk;

struct submit_job {
    node *n;
    http_req_ref ref; /* the request to answer, unless from_peer */
    bool single;
    bool from_peer;    /* relayed by peers; nothing to answer */
    uint32_t *peers;   /* from_peer: who relayed each */
    uint64_t *digests; /* from_peer: each one's entry in n->gossip_checking, 0 if none */
    size_t count, chunks_left;
    uint8_t **bytes;
    size_t *lens;
    ledger_tx *txs;
    slq_err *errs;
    uint8_t (*hashes)[CRYPTO_HASH_BYTES];
    submit_chunk *chunks;
};

static void job_free(submit_job *j) {
    for (size_t i = 0; i < j->count; i++) {
        free(j->bytes[i]);
        if (j->errs[i] == SLQ_OK) ledger_tx_free(&j->txs[i]);
    }
    free(j->bytes);
    free(j->lens);
    free(j->txs);
    free(j->errs);
    free(j->hashes);
    free(j->peers);
    free(j->digests);
    free(j->chunks);
    free(j);
}

static submit_job *job_new(node *n, size_t count) {
    submit_job *j = calloc(1, sizeof *j);
    if (j == NULL) return NULL;
    size_t chunks = (count + CHUNK_TXS - 1) / CHUNK_TXS;
    j->n = n;
    j->count = count;
    j->bytes = calloc(count, sizeof *j->bytes);
    j->lens = calloc(count, sizeof *j->lens);
    j->txs = calloc(count, sizeof *j->txs);
    j->errs = calloc(count, sizeof *j->errs);
    j->hashes = calloc(count, sizeof *j->hashes);
    j->peers = calloc(count, sizeof *j->peers);
    j->digests = calloc(count, sizeof *j->digests);
    j->chunks = calloc(chunks, sizeof *j->chunks);
    if (!j->bytes || !j->lens || !j->txs || !j->errs || !j->hashes || !j->peers || !j->digests ||
        !j->chunks) {
        for (size_t i = 0; i < count && j->errs; i++) j->errs[i] = SLQ_TX_MALFORMED;
        job_free(j);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) j->errs[i] = SLQ_TX_MALFORMED; /* until decoded */
    j->chunks_left = chunks;
    return j;
}

/* Fills transaction i of the job from its hex text. */
static void take_hex(submit_job *j, size_t i, const cJSON *v) {
    if (!cJSON_IsString(v)) return;
    size_t hex_len = strlen(v->valuestring);
    if (hex_len % 2 != 0 || hex_len == 0) return;
    if (hex_len > 2 * SLQ_TX_BYTES_MAX) {
        j->errs[i] = SLQ_TX_TOO_LARGE;
        return;
    }
    j->bytes[i] = malloc(hex_len / 2);
    if (j->bytes[i] == NULL) return;
    if (codec_hex_decode(j->bytes[i], hex_len / 2, v->valuestring) != SLQ_OK) return;
    j->lens[i] = hex_len / 2;
    j->errs[i] = SLQ_OK; /* decodable so far: the worker decides */
}

/* Parses {"tx": HEX} or {"txs": [HEX, ...]}; NULL (and an answer sent) when malformed. */
static submit_job *parse_body(node *n, const http_request *req) {
    cJSON *root = cJSON_ParseWithLength((const char *) req->body, req->body_len);
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(root, "tx");
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(root, "txs");
    int keys = cJSON_GetArraySize(root);
    submit_job *j = NULL;
    const char *bad = NULL;
    if (!cJSON_IsObject(root) || keys != 1 || (tx == NULL) == (txs == NULL))
        bad = "body must be {\"tx\": HEX} or {\"txs\": [HEX, ...]}";
    else if (txs != NULL && (!cJSON_IsArray(txs) || cJSON_GetArraySize(txs) == 0))
        bad = "\"txs\" must be a non-empty array";
    else if (txs != NULL && cJSON_GetArraySize(txs) > (int) SLQ_HTTP_BATCH_MAX)
        bad = "too many transactions in one batch";
    if (bad != NULL) {
        node_api_error(n, req->ref, 400, SLQ_JSON_INVALID, bad);
    } else {
        size_t count = tx != NULL ? 1 : (size_t) cJSON_GetArraySize(txs);
        j = job_new(n, count);
        if (j == NULL) node_api_error(n, req->ref, 500, SLQ_NO_MEMORY, "out of memory");
    }
    if (j != NULL) {
        j->ref = req->ref;
        j->single = tx != NULL;
        if (tx != NULL) take_hex(j, 0, tx);
        size_t i = 0;
        const cJSON *v;
        if (txs != NULL) cJSON_ArrayForEach(v, txs) take_hex(j, i++, v);
    }
    cJSON_Delete(root);
    return j;
}

/* Lowers the calling worker thread's priority, once per thread. The loop thread admits what
 * the workers verified, answers the clients and builds blocks; if it shared the cores evenly
 * with four busy workers, it would get a fifth of them, fall behind, and the clients (waiting
 * for its answers) would leave the workers without work. With the workers niced, the loop
 * runs whenever it has something to do and the workers take the rest. */
void node_worker_yield_to_loop(void) {
    static _Thread_local bool done;
    if (done) return;
    done = true;
    if (setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), WORKER_NICE) != 0)
        log_debug("node: submit: cannot lower a worker's priority");
}

/* Worker thread: decode and verify one chunk. Touches only the chunk's own slots and the
 * read-only ledger. */
static void verify_work(uv_work_t *w) {
    submit_chunk *c = w->data;
    submit_job *j = c->job;
    const ledger *l = chain_ledger(j->n->chain);
    node_worker_yield_to_loop();
    for (size_t i = c->from; i < c->to; i++) {
        if (j->errs[i] == SLQ_OK)
            j->errs[i] = ledger_tx_decode(&j->txs[i], l, j->bytes[i], j->lens[i]);
        if (j->errs[i] == SLQ_OK) /* decoding hashed it */
            memcpy(j->hashes[i], j->txs[i].hash, CRYPTO_HASH_BYTES);
        else if (j->bytes[i] != NULL)
            crypto_hash(ledger_suite(l), j->hashes[i], j->bytes[i], j->lens[i]);
    }
}

/* Admits transaction i; fills its result object. */
static void admit_one(submit_job *j, size_t i, cJSON *r) {
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, j->hashes[i], CRYPTO_HASH_BYTES);
    cJSON_AddStringToObject(r, "tx", hex);
    node_admit_result res = {.err = j->errs[i]};
    node_admit_status st = NODE_ADMIT_REJECTED;
    if (res.err == SLQ_OK) {
        st = node_admit(j->n, j->bytes[i], j->lens[i], &j->txs[i], &res);
        j->bytes[i] = NULL;            /* taken, whatever became of it */
        j->errs[i] = SLQ_TX_MALFORMED; /* the decoded tx is gone too */
    } else {
        snprintf(res.message, sizeof res.message, "%s", slq_err_str(res.err));
        node_result_record(j->n, j->hashes[i], res.err, res.message);
    }
    if (st == NODE_ADMIT_COMMITTED) {
        cJSON_AddStringToObject(r, "status", "committed");
        char h[24];
        snprintf(h, sizeof h, "%llu", (unsigned long long) res.height);
        cJSON_AddRawToObject(r, "height", h);
    } else if (st != NODE_ADMIT_REJECTED) {
        cJSON_AddStringToObject(r, "status", "pending");
    } else {
        cJSON_AddStringToObject(r, "status", "rejected");
        cJSON_AddStringToObject(r, "error", slq_err_name(res.err));
        cJSON_AddNumberToObject(r, "code", res.err);
        cJSON_AddStringToObject(r, "message", res.message);
    }
}

static void answer(submit_job *j) {
    cJSON *root = cJSON_CreateObject(), *results = cJSON_AddArrayToObject(root, "results");
    int status = 202;
    for (size_t i = 0; i < j->count; i++) {
        cJSON *r = cJSON_CreateObject();
        admit_one(j, i, r);
        cJSON_AddItemToArray(results, r);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
        if (j->single && strcmp(st->valuestring, "rejected") == 0) status = 422;
    }
    if (status == 422) {
        /* A single refused transaction answers the error object itself. */
        cJSON *r = cJSON_DetachItemFromArray(results, 0);
        cJSON_Delete(root);
        root = r;
    }
    node_api_json(j->n, j->ref, status, cJSON_PrintUnformatted(root));
    cJSON_Delete(root);
}

/* Relayed transactions, verified: each admitted, or its peer disconnected. */
static void gossip_admit(submit_job *j) {
    node *n = j->n;
    bool added = false;
    for (size_t i = 0; i < j->count; i++) {
        if (j->errs[i] != SLQ_OK) {
            engine_peer_misbehaved(n->engine, j->peers[i],
                                   "sent a transaction that does not verify");
            continue;
        }
        node_admit_result r;
        added |= node_admit(n, j->bytes[i], j->lens[i], &j->txs[i], &r) == NODE_ADMIT_NEW;
        j->bytes[i] = NULL;            /* taken, whatever became of it */
        j->errs[i] = SLQ_TX_MALFORMED; /* the decoded tx is gone too */
    }
    if (added) engine_mempool_changed(n->engine);
}

static void verify_done(uv_work_t *w, int status) {
    submit_chunk *c = w->data;
    submit_job *j = c->job;
    node *n = j->n;
    (void) status; /* a cancelled chunk (shutdown) leaves its txs undecoded */
    if (--j->chunks_left > 0) return;
    n->jobs_in_flight--;
    if (j->from_peer) {
        for (size_t i = 0; i < j->count; i++) digest_set_remove(&n->gossip_checking, j->digests[i]);
        if (!n->stopping) gossip_admit(j);
    } else {
        if (!n->stopping) answer(j);
        if (!n->stopping && n->engine != NULL) engine_mempool_changed(n->engine);
    }
    job_free(j);
}

/* Queues the job's chunks on the thread pool. */
static void job_start(node *n, submit_job *j) {
    size_t chunks = (j->count + CHUNK_TXS - 1) / CHUNK_TXS;
    j->chunks_left = chunks;
    n->jobs_in_flight++;
    for (size_t k = 0; k < chunks; k++) {
        submit_chunk *c = &j->chunks[k];
        c->job = j;
        c->from = k * CHUNK_TXS;
        c->to = c->from + CHUNK_TXS < j->count ? c->from + CHUNK_TXS : j->count;
        c->work.data = c;
        int r = uv_queue_work(n->loop, &c->work, verify_work, verify_done);
        if (r != 0) {
            log_warn("node: submit: queue work: %s", uv_strerror(r));
            verify_work(&c->work); /* do it here rather than lose it */
            verify_done(&c->work, 0);
        }
    }
}

void node_submit(node *n, const http_request *req) {
    submit_job *j = parse_body(n, req);
    if (j != NULL) job_start(n, j);
}

/* GOSSIP_FLUSH_MS after the first of them (or at GOSSIP_BATCH_MAX), the relayed
 * transactions gathered go to the thread pool as one job. Relayed transactions come a few at
 * a time; a job for each few cost every validator of a 4-node network on one 2-vCPU VM about
 * 20% more CPU in thread wake-ups than verifying them on the loop (bench/README.md). */
static void gossip_flush_cb(uv_timer_t *h) {
    node *n = h->data;
    uv_timer_stop(h);
    submit_job *j = n->gossip_batch;
    n->gossip_batch = NULL;
    if (j != NULL && j->count == 0)
        job_free(j); /* its only copy could not be allocated */
    else if (j != NULL)
        job_start(n, j);
}

slq_err node_submit_start(node *n) {
    int r = uv_timer_init(n->loop, &n->gossip_flush);
    n->gossip_flush.data = n;
    return r == 0 ? SLQ_OK : SLQ_NET;
}

void node_submit_stop(node *n) {
    uv_timer_stop(&n->gossip_flush);
    uv_close((uv_handle_t *) &n->gossip_flush, NULL);
    if (n->gossip_batch != NULL) job_free(n->gossip_batch);
    n->gossip_batch = NULL;
}

void node_submit_gossip(node *n, uint32_t peer, const uint8_t *bytes, size_t len) {
    /* Every peer relays a new transaction: a copy already pending, or already being
     * verified, costs a hash and no signature check. With SLQ_GOSSIP_CHECKING_MAX being
     * verified, relayed transactions are dropped: the peers that sent them still hold them
     * (and propose them in their turn), and the node does not queue without bound. */
    uint8_t hash[CRYPTO_HASH_BYTES];
    crypto_hash(ledger_suite(chain_ledger(n->chain)), hash, bytes, len);
    if (n->stopping || mempool_has(n->mp, hash)) return;
    uint64_t digest = digest_of(hash);
    bool full = false;
    if (!digest_set_add(&n->gossip_checking, digest, &full)) {
        if (full)
            log_debug("node: gossip: %u relayed transactions being verified; one dropped",
                      SLQ_GOSSIP_CHECKING_MAX);
        return;
    }
    submit_job *j = n->gossip_batch;
    if (j == NULL) {
        j = n->gossip_batch = job_new(n, GOSSIP_BATCH_MAX);
        if (j != NULL) {
            j->from_peer = true;
            j->count = 0; /* filled below, up to GOSSIP_BATCH_MAX */
            uv_timer_start(&n->gossip_flush, gossip_flush_cb, GOSSIP_FLUSH_MS, 0);
        }
    }
    uint8_t *copy = j == NULL ? NULL : malloc(len == 0 ? 1 : len);
    if (copy == NULL) {
        digest_set_remove(&n->gossip_checking, digest);
        log_warn("node: gossip: out of memory; a relayed transaction is dropped");
        return;
    }
    if (len > 0) memcpy(copy, bytes, len);
    size_t i = j->count++;
    j->peers[i] = peer;
    j->digests[i] = digest;
    j->bytes[i] = copy;
    j->lens[i] = len;
    j->errs[i] = len > SLQ_TX_BYTES_MAX ? SLQ_TX_TOO_LARGE : SLQ_OK;
    if (j->count == GOSSIP_BATCH_MAX) gossip_flush_cb(&n->gossip_flush);
}
