/* documents.h: the documents built off the loop thread, over a pinned view of the store:
 * GET /v1/audit/YEAR and GET /v1/report/YEAR (docs/api.md, docs/audit.md), and the lookups
 * whose size grows with the chain: an account's vouchers, a voucher's lineage, the claims.
 * The report is report.c's over the committed rows, so it is byte for byte what
 * `slqd verify --report --json --year YEAR` prints for the same height on any node. Loop
 * thread only. */
#ifndef SLQ_NODE_API_REPORT_H
#define SLQ_NODE_API_REPORT_H

#include <stdbool.h>

#include "internal.h"

typedef enum {
    API_DOC_AUDIT,        /* the audit summary of a year */
    API_DOC_REPORT,       /* the regulator's report of a year (report.h) */
    API_DOC_BALANCE,      /* GET /v1/accounts/ADDR/vouchers */
    API_DOC_LINEAGE,      /* GET /v1/vouchers/ID */
    API_DOC_CLAIMS,       /* GET /v1/claims */
    API_DOC_APPLICATIONS, /* GET /v1/applications */
    API_DOC_APPLICATION,  /* GET /v1/applications/ID */
} api_doc_kind;

typedef struct {
    api_doc_kind kind;
    uint32_t year;                      /* AUDIT, REPORT: 2000..9999 */
    uint8_t addr[CRYPTO_ADDRESS_BYTES]; /* BALANCE: the holder; CLAIMS: the centre, if has_addr */
    bool has_addr;
    bool all;                      /* BALANCE: expired vouchers too */
    uint8_t id[CRYPTO_HASH_BYTES]; /* LINEAGE, APPLICATION */
    int status;                    /* APPLICATIONS: an Slq__ApplicationStatus, 0: any */
} api_doc_args;

/* Answers the request, later: 200 with the document at the tip's height when asked; 404
 * VOUCHER_UNKNOWN for a lineage of no voucher, APPLICATION_UNKNOWN for no application; 503 BUSY
 * while SLQ_SCANS_MAX audits and reports (or SLQ_LOOKUPS_MAX lookups) are being built; 500 when a
 * stored row does not decode (SLQ_STORAGE_CORRUPT) or memory runs out. */
void api_doc(api *a, http_req_ref ref, const api_doc_args *args);
/* The same for an audit or report whose year is still text: 400 unless 2000..9999. */
void api_doc_year(api *a, http_req_ref ref, api_doc_kind kind, const char *year_text);
/* At stop: cancels those not started yet (their requests get no answer); those being built
 * finish, and the loop must run until they have. */
void api_docs_cancel(api *a);
/* Audits and reports being built now. */
size_t api_reports_building(const api *a);

#endif
