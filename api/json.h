/* json.h: JSON documents of the API (docs/api.md) built from committed state, with the
 * helpers of codec_json.h: integers go out as exact JSON integers, never through a double. */
#ifndef SLQ_NODE_API_JSON_H
#define SLQ_NODE_API_JSON_H

#include <stdbool.h>

#include "codec_json.h"
#include "internal.h"

/* What a document built off the loop thread reads: the read-only ledger and a pinned view of
 * the store (documents.c makes these), with the pinned tip's block time. */
typedef struct {
    const ledger *l;
    storage_pin *pin;
    int64_t time_ms;
} api_view;

/* Each fills *out (json_decref it) or returns SLQ_NOT_FOUND / a storage error. Those taking
 * the API run on the loop thread; those taking a view on any thread. */
SLQ_MUST_USE slq_err api_block_json(api *a, uint64_t height, json_t **out);
SLQ_MUST_USE slq_err api_tx_json(api *a, const uint8_t hash[CRYPTO_HASH_BYTES], json_t **out);
/* Sets o's "gap": null when v has nothing behind a gap, else {"missing_from", "missing_to"
 * (the nonces a transaction must fill), "waiting" (how many wait behind them),
 * "expires_in_ms" (when the first of them is dropped unless the gap fills)}. */
void api_gap_json(api *a, json_t *o, const mempool_signer_view *v);
SLQ_MUST_USE slq_err api_account_json(api *a, const uint8_t addr[CRYPTO_ADDRESS_BYTES],
                                      json_t **out);
SLQ_MUST_USE slq_err api_balance_json(const api_view *view,
                                      const uint8_t addr[CRYPTO_ADDRESS_BYTES], bool all,
                                      json_t **out);
SLQ_MUST_USE slq_err api_voucher_lineage_json(const api_view *view,
                                              const uint8_t id[CRYPTO_HASH_BYTES], json_t **out);
SLQ_MUST_USE slq_err api_claims_json(const api_view *view, const uint8_t *centre, json_t **out);
/* GET /v1/applications: every application, of one applicant (holder not NULL) and in one
 * status (an Slq__ApplicationStatus; 0: any). */
SLQ_MUST_USE slq_err api_applications_json(const api_view *view, const uint8_t *holder, int status,
                                           json_t **out);
/* GET /v1/applications/ID: one application with its contract's figures; SLQ_NOT_FOUND. */
SLQ_MUST_USE slq_err api_application_json(const api_view *view, const uint8_t id[CRYPTO_HASH_BYTES],
                                          json_t **out);
/* "open", "issued", "rejected" -> *status; false for any other text. */
bool api_application_status_parse(const char *text, int *status);
/* The audit summary of a budget year over the view, whose tip is at `height`. */
SLQ_MUST_USE slq_err api_audit_json(const api_view *view, uint64_t height, uint32_t year,
                                    json_t **out);

#endif
