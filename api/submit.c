/* submit.c: POST /v1/txs (docs/api.md). The body's transactions go to intake (verified off
 * the loop, then admitted); the answer is one result per transaction, or, for a single
 * refused one, its error object with the error's status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "internal.h"
#include "slq/limits.h"

/* What intake needs back to answer: the API and the request. */
typedef struct {
    api *a;
    http_req_ref ref;
    bool single;
} submit_req;

/* Transaction i of the batch from its hex text. */
static void take_hex(intake_batch *b, size_t i, const json_t *v) {
    const char *hex = json_string_value(v); /* NULL unless a string */
    if (hex == NULL) return;
    size_t hex_len = strlen(hex);
    if (hex_len % 2 != 0 || hex_len == 0) return;
    if (hex_len > 2 * SLQ_TX_BYTES_MAX) {
        intake_batch_set(b, i, NULL, 0, SLQ_TX_TOO_LARGE);
        return;
    }
    uint8_t *bytes = malloc(hex_len / 2);
    if (bytes == NULL) return;
    if (codec_hex_decode(bytes, hex_len / 2, hex) != SLQ_OK) {
        free(bytes);
        return;
    }
    intake_batch_set(b, i, bytes, hex_len / 2, SLQ_OK);
}

/* The result object of one transaction. */
static json_t *outcome_json(const intake_outcome *o) {
    json_t *r = json_object();
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, o->hash, CRYPTO_HASH_BYTES);
    codec_json_set_str(r, "tx", hex);
    if (o->status == ADMIT_COMMITTED) {
        codec_json_set_str(r, "status", "committed");
        codec_json_set_u64(r, "height", o->res.height);
    } else if (o->status != ADMIT_REJECTED) {
        codec_json_set_str(r, "status", "pending");
    } else {
        codec_json_set_str(r, "status", "rejected");
        codec_json_set_str(r, "error", slq_err_name(o->res.err));
        codec_json_set_i64(r, "code", o->res.err);
        codec_json_set_str(r, "message", o->res.message);
    }
    return r;
}

static void answer(void *arg, const intake_outcome *outcomes, size_t count) {
    submit_req *q = arg;
    if (count == 0) { /* the node is stopping */
        free(q);
        return;
    }
    json_t *root;
    int status = 202;
    if (q->single && outcomes[0].status == ADMIT_REJECTED) {
        /* A single refused transaction answers the error object itself. */
        root = outcome_json(&outcomes[0]);
        status = slq_err_http_status(outcomes[0].res.err);
    } else {
        root = json_object();
        json_t *list = codec_json_add_array(root, "results");
        for (size_t i = 0; i < count; i++) codec_json_set(list, NULL, outcome_json(&outcomes[i]));
    }
    api_send(q->a, q->ref, status, codec_json_text(root, CODEC_JSON_COMPACT, NULL));
    json_decref(root);
    free(q);
}

void api_submit(api *a, const http_request *req) {
    json_t *root = codec_json_parse((const char *) req->body, req->body_len, NULL, 0);
    const json_t *tx = json_object_get(root, "tx");
    const json_t *txs = json_object_get(root, "txs");
    const char *bad = NULL;
    if (!json_is_object(root) || json_object_size(root) != 1 || (tx == NULL) == (txs == NULL))
        bad = "body must be {\"tx\": HEX} or {\"txs\": [HEX, ...]}";
    else if (txs != NULL && (!json_is_array(txs) || json_array_size(txs) == 0))
        bad = "\"txs\" must be a non-empty array";
    else if (txs != NULL && json_array_size(txs) > SLQ_HTTP_BATCH_MAX)
        bad = "too many transactions in one batch";
    if (bad != NULL) {
        api_error(a, req->ref, SLQ_JSON_INVALID, bad);
        json_decref(root);
        return;
    }
    size_t count = tx != NULL ? 1 : json_array_size(txs);
    intake_batch *b = intake_batch_new(count);
    submit_req *q = malloc(sizeof *q);
    if (b == NULL || q == NULL) {
        intake_batch_free(b);
        free(q);
        json_decref(root);
        api_error(a, req->ref, SLQ_NO_MEMORY, "out of memory");
        return;
    }
    *q = (submit_req){.a = a, .ref = req->ref, .single = tx != NULL};
    if (tx != NULL) take_hex(b, 0, tx);
    size_t i;
    const json_t *v;
    if (txs != NULL) json_array_foreach(txs, i, v) take_hex(b, i, v);
    json_decref(root);
    intake_batch_start(a->cfg.in, b, answer, q);
}
