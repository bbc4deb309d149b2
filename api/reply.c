/* reply.c: how the API answers (internal.h): a JSON text with its status, or the error object
 * of an slq_err with the one status the error table gives it. */
#include <stdlib.h>
#include <string.h>

#include "codec_json.h"
#include "internal.h"
#include "slq/log.h"

void api_send(api *a, http_req_ref ref, int status, char *json) {
    /* The answer when the answer cannot be built: memory ran out. */
    static const char no_memory[] =
        "{\"error\":\"NO_MEMORY\",\"code\":2,\"message\":\"out of memory\"}";
    if (a->http == NULL) {
        free(json);
        return;
    }
    const char *body = json != NULL ? json : no_memory;
    if (json == NULL) status = slq_err_http_status(SLQ_NO_MEMORY);
    slq_err err = http_respond(a->http, ref, status, "application/json", body, strlen(body));
    if (err != SLQ_OK && err != SLQ_NOT_FOUND) log_warn("api: respond: %s", slq_err_str(err));
    free(json);
}

void api_error(api *a, http_req_ref ref, slq_err code, const char *message) {
    json_t *o = json_object();
    codec_json_set_str(o, "error", slq_err_name(code));
    codec_json_set_i64(o, "code", code);
    codec_json_set_str(o, "message", message);
    api_send(a, ref, slq_err_http_status(code), codec_json_text(o, CODEC_JSON_COMPACT, NULL));
    json_decref(o);
}
