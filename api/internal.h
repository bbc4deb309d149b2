/* internal.h: what the files of api/ share: the API's state and how an answer is sent.
 * Not included outside api/. Loop thread only. */
#ifndef SLQ_API_INTERNAL_H
#define SLQ_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "api.h"
#include "http_server.h"
#include "slq/limits.h"

struct api {
    api_config cfg;
    http_server *http; /* NULL once stopping */
    const engine *engine;
    uint64_t http_requests;
    /* Documents accepted to be built off the loop (documents.c): audits and reports first,
     * then balances, lineages and claim lists; one of each kind on the workers at a time,
     * the others waiting their turn. */
    struct doc_job *docs[SLQ_SCANS_MAX + SLQ_LOOKUPS_MAX];
    uint64_t docs_accepted; /* orders the waiting ones */
    bool stopping;
};

/* Answers with a JSON text (taken: freed here) and this status (a 503 says Retry-After).
 * json NULL (it could not be built: out of memory) answers 500 NO_MEMORY instead. */
void api_send(api *a, http_req_ref ref, int status, char *json);
/* Answers with the JSON error object of code, and code's status (slq/err.h). */
void api_error(api *a, http_req_ref ref, slq_err code, const char *message);

/* The route handlers outside routes.c. */
void api_submit(api *a, const http_request *req); /* POST /v1/txs (submit.c) */

#endif
