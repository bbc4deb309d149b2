/* documents.c: the documents of documents.h. Each reads rows in proportion to the chain
 * (an audit or report every voucher and claim: seconds on a large chain; a busy centre's
 * vouchers, 64,000 of them, over a second), which the loop thread cannot spend: it votes,
 * builds blocks and admits transactions. So the request pins the store (a LevelDB
 * snapshot) together with the tip on the loop thread, a libuv worker builds the JSON
 * through the pin, and the loop answers. Blocks committed meanwhile are not seen: the
 * document is exactly that of the pinned height. At most SLQ_SCANS_MAX audits and reports,
 * and SLQ_LOOKUPS_MAX lookups, are accepted (beyond, 503 BUSY); one audit or report and one
 * lookup are on the workers at a time, the others wait their turn in the order they came.
 * So a report never delays a balance, and transactions to verify always find at least two
 * of libuv's four workers. For the cluster tests,
 * SLQ_TEST_SCAN_HOLD_MS in the environment makes the worker wait that long before building
 * an audit or report (so that "two are being built" can be arranged without a huge chain). */
#include "documents.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "report.h"
#include "slq/assert.h"
#include "slq/limits.h"

typedef struct scan_job {
    uv_work_t work;
    node *n;
    size_t slot;    /* in n->scans */
    uint64_t order; /* of acceptance: the waiting ones start in this order */
    bool started;   /* queued on the workers */
    const ledger *l;
    http_req_ref ref;
    node_scan_args args;
    storage_pin *pin;
    report_tip tip;
    unsigned hold_ms; /* test hook: SLQ_TEST_SCAN_HOLD_MS, how long the worker waits first */
    char *json;       /* the answer, built by the worker */
    slq_err err;
} scan_job;

#define SCAN_SLOTS (SLQ_SCANS_MAX + SLQ_LOOKUPS_MAX)

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

/* Worker thread: touches only the job, the pin and the read-only ledger. */
static void scan_work(uv_work_t *w) {
    scan_job *j = w->data;
    node_worker_yield_to_loop();
    if (j->hold_ms > 0) {
        struct timespec ts = {.tv_sec = j->hold_ms / 1000, .tv_nsec = j->hold_ms % 1000 * 1000000L};
        nanosleep(&ts, NULL);
    }
    const node_scan_args *a = &j->args;
    if (a->kind == NODE_SCAN_REPORT) {
        report_source src = report_source_pin(j->pin);
        size_t len = 0;
        j->err = report_json(&j->json, &len, j->l, &src, &j->tip, a->year);
        return;
    }
    cJSON *o = NULL;
    api_view view = {.l = j->l, .pin = j->pin, .time_ms = j->tip.time_ms};
    switch (a->kind) {
        case NODE_SCAN_AUDIT:
            j->err = api_audit_json(&view, j->tip.height, a->year, &o);
            break;
        case NODE_SCAN_BALANCE:
            j->err = api_balance_json(&view, a->addr, a->all, &o);
            break;
        case NODE_SCAN_LINEAGE:
            j->err = api_voucher_lineage_json(&view, a->id, &o);
            break;
        default:
            j->err = api_claims_json(&view, a->has_addr ? a->addr : NULL, &o);
            break;
    }
    if (j->err != SLQ_OK) return;
    j->json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (j->json == NULL) j->err = SLQ_NO_MEMORY;
}

/* Loop thread: answers (unless the node is stopping) and lets go of the pin. */
static void start_waiting(node *n);

static void scan_done(uv_work_t *w, int status) {
    scan_job *j = w->data;
    node *n = j->n;
    n->scans[j->slot] = NULL;
    storage_pin_close(j->pin);
    if (!n->stopping) start_waiting(n);
    if (!n->stopping && status == 0) {
        if (j->err == SLQ_OK) {
            node_api_json(n, j->ref, 200, j->json); /* takes json */
            j->json = NULL;
        } else if (j->err == SLQ_NOT_FOUND && j->args.kind == NODE_SCAN_LINEAGE) {
            node_api_error(n, j->ref, 404, SLQ_VOUCHER_UNKNOWN, "no such voucher");
        } else {
            node_api_error(n, j->ref, 500, j->err, slq_err_str(j->err));
        }
    }
    free(j->json);
    free(j);
}

static bool is_report(node_scan kind) {
    return kind == NODE_SCAN_AUDIT || kind == NODE_SCAN_REPORT;
}

void node_api_scan(node *n, http_req_ref ref, const node_scan_args *a) {
    size_t from = is_report(a->kind) ? 0 : SLQ_SCANS_MAX;
    size_t to = is_report(a->kind) ? SLQ_SCANS_MAX : SCAN_SLOTS;
    size_t slot = from;
    while (slot < to && n->scans[slot] != NULL) slot++;
    if (slot == to) {
        node_api_error(n, ref, 503, SLQ_BUSY, slq_err_str(SLQ_BUSY));
        return;
    }
    scan_job *j = calloc(1, sizeof *j);
    slq_err err = j != NULL
                      ? storage_pin_open(chain_storage(n->chain), !is_report(a->kind), &j->pin)
                      : SLQ_NO_MEMORY;
    if (err == SLQ_OK) {
        const storage_tip *t = chain_tip(n->chain); /* read with the pin: the same height */
        j->tip = (report_tip){.height = t->height, .time_ms = chain_tip_time_ms(n->chain)};
        memcpy(j->tip.hash, t->hash, CRYPTO_HASH_BYTES);
        const char *hold = is_report(a->kind) ? getenv("SLQ_TEST_SCAN_HOLD_MS") : NULL;
        j->hold_ms = hold != NULL ? (unsigned) strtoul(hold, NULL, 10) % 60000u : 0;
        j->n = n;
        j->slot = slot;
        j->order = n->scans_accepted++;
        j->l = chain_ledger(n->chain);
        j->ref = ref;
        j->args = *a;
        j->work.data = j;
    }
    if (err != SLQ_OK) {
        if (j != NULL) storage_pin_close(j->pin);
        free(j);
        node_api_error(n, ref, 500, err, slq_err_str(err));
        return;
    }
    n->scans[slot] = j;
    start_waiting(n);
}

/* Fails a job that could not start: answers 500, frees it. */
static void drop(node *n, scan_job *j, slq_err err) {
    n->scans[j->slot] = NULL;
    storage_pin_close(j->pin);
    if (err != SLQ_OK) node_api_error(n, j->ref, 500, err, slq_err_str(err));
    free(j);
}

/* The oldest job waiting in slots [first, end), or NULL if none waits or one of them is
 * already on the workers. */
static scan_job *next_to_start(node *n, size_t first, size_t end) {
    scan_job *next = NULL;
    for (size_t i = first; i < end; i++) {
        scan_job *j = n->scans[i];
        if (j != NULL && j->started) return NULL;
        if (j != NULL && (next == NULL || j->order < next->order)) next = j;
    }
    return next;
}

/* Queues on the workers, for each kind (audits and reports; lookups) that has none there,
 * the oldest of that kind waiting. */
static void start_waiting(node *n) {
    static const size_t first[2] = {0, SLQ_SCANS_MAX}, end[2] = {SLQ_SCANS_MAX, SCAN_SLOTS};
    for (size_t kind = 0; kind < 2; kind++) {
        scan_job *j;
        while ((j = next_to_start(n, first[kind], end[kind])) != NULL) {
            j->started = true;
            if (uv_queue_work(n->loop, &j->work, scan_work, scan_done) == 0) break;
            drop(n, j, SLQ_NO_MEMORY);
        }
    }
}

void node_api_scan_year(node *n, http_req_ref ref, node_scan kind, const char *year_text) {
    SLQ_ASSERT(is_report(kind));
    node_scan_args a = {.kind = kind};
    if (!parse_year(year_text, &a.year)) {
        node_api_error(n, ref, 400, SLQ_INVALID_ARGUMENT, "year must be 2000..9999");
        return;
    }
    node_api_scan(n, ref, &a);
}

size_t node_api_reports_building(const node *n) {
    size_t count = 0;
    for (size_t i = 0; i < SLQ_SCANS_MAX; i++) count += n->scans[i] != NULL;
    return count;
}

void node_api_scans_cancel(node *n) {
    for (size_t i = 0; i < SCAN_SLOTS; i++) {
        scan_job *j = n->scans[i];
        if (j == NULL) continue;
        if (!j->started)
            drop(n, j, SLQ_OK); /* the request gets no answer: the server is closing */
        else
            (void) uv_cancel((uv_req_t *) &j->work); /* EBUSY if running: it finishes */
    }
}
