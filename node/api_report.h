/* api_report.h: GET /v1/audit/YEAR and GET /v1/report/YEAR (docs/api.md, docs/audit.md),
 * built off the loop thread over a pinned view of the store. The report is report.c's over
 * the committed rows, so it is byte for byte what `slqd verify --report --json --year YEAR`
 * prints for the same height on any node. Loop thread only. */
#ifndef SLQ_NODE_API_REPORT_H
#define SLQ_NODE_API_REPORT_H

#include "node.h"

typedef enum {
    NODE_SCAN_AUDIT,  /* the audit summary (api_json.h) */
    NODE_SCAN_REPORT, /* the regulator's report (report.h) */
} node_scan;

/* Answers the request, later: 200 with the document at the tip's height when asked, 400 for
 * a year outside 2000..9999, 503 BUSY while SLQ_SCANS_MAX others are being built, 500 when a
 * stored row does not decode (SLQ_STORAGE_CORRUPT) or memory runs out. */
void node_api_scan(node *n, http_req_ref ref, node_scan kind, const char *year_text);
/* At stop: cancels those not started yet (their requests get no answer); those being built
 * finish, and the loop must run until they have. */
void node_api_scans_cancel(node *n);

#endif
