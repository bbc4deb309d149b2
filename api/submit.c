/* submit.c: POST /v1/txs (docs/api.md). The body's transactions go to intake (verified off
 * the loop, then admitted); the answer is one result per transaction, or, for a single
 * refused one, its error object with the error's status. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "internal.h"
#include "slq/limits.h"

/* What intake needs back to answer: the API and the request. */
typedef struct {
    api *a;
    http_req_ref ref;
    bool single;
} submit_req;

/* Transaction i of the batch from its hex text. */
static void take_hex(intake_batch *b, size_t i, const cJSON *v) {
    if (!cJSON_IsString(v)) return;
    size_t hex_len = strlen(v->valuestring);
    if (hex_len % 2 != 0 || hex_len == 0) return;
    if (hex_len > 2 * SLQ_TX_BYTES_MAX) {
        intake_batch_set(b, i, NULL, 0, SLQ_TX_TOO_LARGE);
        return;
    }
    uint8_t *bytes = malloc(hex_len / 2);
    if (bytes == NULL) return;
    if (codec_hex_decode(bytes, hex_len / 2, v->valuestring) != SLQ_OK) {
        free(bytes);
        return;
    }
    intake_batch_set(b, i, bytes, hex_len / 2, SLQ_OK);
}

/* The result object of one transaction. */
static cJSON *outcome_json(const intake_outcome *o) {
    cJSON *r = cJSON_CreateObject();
    char hex[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(hex, o->hash, CRYPTO_HASH_BYTES);
    cJSON_AddStringToObject(r, "tx", hex);
    if (o->status == ADMIT_COMMITTED) {
        cJSON_AddStringToObject(r, "status", "committed");
        char h[24];
        snprintf(h, sizeof h, "%llu", (unsigned long long) o->res.height);
        cJSON_AddRawToObject(r, "height", h);
    } else if (o->status != ADMIT_REJECTED) {
        cJSON_AddStringToObject(r, "status", "pending");
    } else {
        cJSON_AddStringToObject(r, "status", "rejected");
        cJSON_AddStringToObject(r, "error", slq_err_name(o->res.err));
        cJSON_AddNumberToObject(r, "code", o->res.err);
        cJSON_AddStringToObject(r, "message", o->res.message);
    }
    return r;
}

static void answer(void *arg, const intake_outcome *outcomes, size_t count) {
    submit_req *q = arg;
    if (count == 0) { /* the node is stopping */
        free(q);
        return;
    }
    cJSON *root;
    int status = 202;
    if (q->single && outcomes[0].status == ADMIT_REJECTED) {
        /* A single refused transaction answers the error object itself. */
        root = outcome_json(&outcomes[0]);
        status = slq_err_http_status(outcomes[0].res.err);
    } else {
        root = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(root, "results");
        for (size_t i = 0; i < count; i++) cJSON_AddItemToArray(list, outcome_json(&outcomes[i]));
    }
    api_send(q->a, q->ref, status, cJSON_PrintUnformatted(root));
    cJSON_Delete(root);
    free(q);
}

void api_submit(api *a, const http_request *req) {
    cJSON *root = cJSON_ParseWithLength((const char *) req->body, req->body_len);
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(root, "tx");
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(root, "txs");
    int keys = cJSON_GetArraySize(root);
    const char *bad = NULL;
    if (!cJSON_IsObject(root) || keys != 1 || (tx == NULL) == (txs == NULL))
        bad = "body must be {\"tx\": HEX} or {\"txs\": [HEX, ...]}";
    else if (txs != NULL && (!cJSON_IsArray(txs) || cJSON_GetArraySize(txs) == 0))
        bad = "\"txs\" must be a non-empty array";
    else if (txs != NULL && cJSON_GetArraySize(txs) > (int) SLQ_HTTP_BATCH_MAX)
        bad = "too many transactions in one batch";
    if (bad != NULL) {
        api_error(a, req->ref, SLQ_JSON_INVALID, bad);
        cJSON_Delete(root);
        return;
    }
    size_t count = tx != NULL ? 1 : (size_t) cJSON_GetArraySize(txs);
    intake_batch *b = intake_batch_new(count);
    submit_req *q = malloc(sizeof *q);
    if (b == NULL || q == NULL) {
        intake_batch_free(b);
        free(q);
        cJSON_Delete(root);
        api_error(a, req->ref, SLQ_NO_MEMORY, "out of memory");
        return;
    }
    *q = (submit_req){.a = a, .ref = req->ref, .single = tx != NULL};
    if (tx != NULL) take_hex(b, 0, tx);
    size_t i = 0;
    const cJSON *v;
    if (txs != NULL) cJSON_ArrayForEach(v, txs) take_hex(b, i++, v);
    cJSON_Delete(root);
    intake_batch_start(a->cfg.in, b, answer, q);
}
