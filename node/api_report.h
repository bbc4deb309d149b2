/* api_report.h: GET /v1/report/YEAR (docs/api.md, docs/audit.md): the regulator's report of
 * one budget year at the node's tip. report.c builds it over the committed rows of the
 * store, so it is byte for byte what `slqd verify --report --json --year YEAR` prints for
 * the same height on any node. Loop thread only. */
#ifndef SLQ_NODE_API_REPORT_H
#define SLQ_NODE_API_REPORT_H

#include "node.h"

/* Answers the request: 200 with the report, 400 for a year outside 2000..9999, 500 when a
 * stored row does not decode (SLQ_STORAGE_CORRUPT) or memory runs out. */
void node_api_report(node *n, http_req_ref ref, const char *year_text);

#endif
