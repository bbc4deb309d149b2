/* api_report.c: the handler of api_report.h. The report reads committed rows only (never
 * the pending state of a block being built), at the tip's height, hash and block time. */
#include "api_report.h"

#include <string.h>

#include "report.h"

/* Exactly four digits, 2000..9999. */
static bool parse_year(const char *s, uint32_t *out) {
    if (strlen(s) != 4) return false;
    uint32_t y = 0;
    for (size_t i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        y = y * 10 + (uint32_t) (s[i] - '0');
    }
    *out = y;
    return y >= 2000;
}

void node_api_report(node *n, http_req_ref ref, const char *year_text) {
    uint32_t year = 0;
    if (!parse_year(year_text, &year)) {
        node_api_error(n, ref, 400, SLQ_INVALID_ARGUMENT, "year must be 2000..9999");
        return;
    }
    report_source src = report_source_storage(chain_storage(n->chain));
    const storage_tip *t = chain_tip(n->chain);
    report_tip tip = {.height = t->height, .time_ms = chain_tip_time_ms(n->chain)};
    memcpy(tip.hash, t->hash, CRYPTO_HASH_BYTES);
    char *json = NULL;
    size_t len = 0;
    slq_err err = report_json(&json, &len, chain_ledger(n->chain), &src, &tip, year);
    if (err != SLQ_OK) {
        node_api_error(n, ref, 500, err, slq_err_str(err));
        return;
    }
    node_api_json(n, ref, 200, json); /* takes json */
}
