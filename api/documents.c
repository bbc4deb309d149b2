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
#include "slq/worker.h"

typedef struct doc_job {
    uv_work_t work;
    api *a;
    size_t slot;    /* in a->docs */
    uint64_t order; /* of acceptance: the waiting ones start in this order */
    bool started;   /* queued on the workers */
    const ledger *l;
    http_req_ref ref;
    api_doc_args args;
    storage_pin *pin;
    report_tip tip;
    unsigned hold_ms; /* test hook: SLQ_TEST_SCAN_HOLD_MS, how long the worker waits first */
    char *json;       /* the answer, built by the worker */
    slq_err err;
} doc_job;

#define SCAN_SLOTS (SLQ_SCANS_MAX + SLQ_LOOKUPS_MAX)

#define TEST_HOLD_MS_MAX 60000u /* SLQ_TEST_SCAN_HOLD_MS is taken modulo this */

/* Worker thread: touches only the job, the pin and the read-only ledger. */
static void scan_work(uv_work_t *w) {
    doc_job *j = w->data;
    slq_worker_yield_to_loop();
    if (j->hold_ms > 0) {
        struct timespec ts = {.tv_sec = j->hold_ms / 1000, .tv_nsec = j->hold_ms % 1000 * 1000000L};
        nanosleep(&ts, NULL);
    }
    const api_doc_args *args = &j->args;
    if (args->kind == API_DOC_REPORT) {
        report_source src = report_source_pin(j->pin);
        size_t len = 0;
        j->err = report_json(&j->json, &len, j->l, &src, &j->tip, args->year);
        return;
    }
    json_t *o = NULL;
    api_view view = {.l = j->l, .pin = j->pin, .time_ms = j->tip.time_ms};
    switch (args->kind) {
        case API_DOC_AUDIT:
            j->err = api_audit_json(&view, j->tip.height, args->year, &o);
            break;
        case API_DOC_BALANCE:
            j->err = api_balance_json(&view, args->addr, args->all, &o);
            break;
        case API_DOC_LINEAGE:
            j->err = api_voucher_lineage_json(&view, args->id, &o);
            break;
        case API_DOC_APPLICATIONS:
            j->err =
                api_applications_json(&view, args->has_addr ? args->addr : NULL, args->status, &o);
            break;
        case API_DOC_APPLICATION:
            j->err = api_application_json(&view, args->id, &o);
            break;
        default:
            j->err = api_claims_json(&view, args->has_addr ? args->addr : NULL, &o);
            break;
    }
    if (j->err != SLQ_OK) return;
    j->json = codec_json_text(o, CODEC_JSON_COMPACT, NULL);
    json_decref(o);
    if (j->json == NULL) j->err = SLQ_NO_MEMORY;
}

/* Loop thread: answers (unless the node is stopping) and lets go of the pin. */
static void start_waiting(api *a);

static void scan_done(uv_work_t *w, int status) {
    doc_job *j = w->data;
    api *a = j->a;
    a->docs[j->slot] = NULL;
    storage_pin_close(j->pin);
    if (!a->stopping) start_waiting(a);
    if (!a->stopping && status == 0) {
        if (j->err == SLQ_OK) {
            api_send(a, j->ref, 200, j->json); /* takes json */
            j->json = NULL;
        } else if (j->err == SLQ_NOT_FOUND && j->args.kind == API_DOC_LINEAGE) {
            api_error(a, j->ref, SLQ_VOUCHER_UNKNOWN, "no such voucher");
        } else if (j->err == SLQ_NOT_FOUND && j->args.kind == API_DOC_APPLICATION) {
            api_error(a, j->ref, SLQ_APPLICATION_UNKNOWN, "no such application");
        } else {
            api_error(a, j->ref, j->err, slq_err_str(j->err));
        }
    }
    free(j->json);
    free(j);
}

static bool is_report(api_doc_kind kind) {
    return kind == API_DOC_AUDIT || kind == API_DOC_REPORT;
}

void api_doc(api *a, http_req_ref ref, const api_doc_args *args) {
    size_t from = is_report(args->kind) ? 0 : SLQ_SCANS_MAX;
    size_t to = is_report(args->kind) ? SLQ_SCANS_MAX : SCAN_SLOTS;
    size_t slot = from;
    while (slot < to && a->docs[slot] != NULL) slot++;
    if (slot == to) {
        api_error(a, ref, SLQ_BUSY, slq_err_str(SLQ_BUSY));
        return;
    }
    doc_job *j = calloc(1, sizeof *j);
    slq_err err =
        j != NULL ? storage_pin_open(chain_storage(a->cfg.chain), !is_report(args->kind), &j->pin)
                  : SLQ_NO_MEMORY;
    if (err == SLQ_OK) {
        const storage_tip *t = chain_tip(a->cfg.chain); /* read with the pin: the same height */
        j->tip = (report_tip){.height = t->height, .time_ms = chain_tip_time_ms(a->cfg.chain)};
        memcpy(j->tip.hash, t->hash, CRYPTO_HASH_BYTES);
        const char *hold = is_report(args->kind) ? getenv("SLQ_TEST_SCAN_HOLD_MS") : NULL;
        j->hold_ms = hold != NULL ? (unsigned) strtoul(hold, NULL, 10) % TEST_HOLD_MS_MAX : 0;
        j->a = a;
        j->slot = slot;
        j->order = a->docs_accepted++;
        j->l = chain_ledger(a->cfg.chain);
        j->ref = ref;
        j->args = *args;
        j->work.data = j;
    }
    if (err != SLQ_OK) {
        if (j != NULL) storage_pin_close(j->pin);
        free(j);
        api_error(a, ref, err, slq_err_str(err));
        return;
    }
    a->docs[slot] = j;
    start_waiting(a);
}

/* Fails a job that could not start: answers 500, frees it. */
static void drop(api *a, doc_job *j, slq_err err) {
    a->docs[j->slot] = NULL;
    storage_pin_close(j->pin);
    if (err != SLQ_OK) api_error(a, j->ref, err, slq_err_str(err));
    free(j);
}

/* The oldest job waiting in slots [first, end), or NULL if none waits or one of them is
 * already on the workers. */
static doc_job *next_to_start(api *a, size_t first, size_t end) {
    doc_job *next = NULL;
    for (size_t i = first; i < end; i++) {
        doc_job *j = a->docs[i];
        if (j != NULL && j->started) return NULL;
        if (j != NULL && (next == NULL || j->order < next->order)) next = j;
    }
    return next;
}

/* Queues on the workers, for each kind (audits and reports; lookups) that has none there,
 * the oldest of that kind waiting. */
static void start_waiting(api *a) {
    static const size_t first[2] = {0, SLQ_SCANS_MAX}, end[2] = {SLQ_SCANS_MAX, SCAN_SLOTS};
    for (size_t kind = 0; kind < 2; kind++) {
        doc_job *j;
        while ((j = next_to_start(a, first[kind], end[kind])) != NULL) {
            j->started = true;
            if (uv_queue_work(a->cfg.loop, &j->work, scan_work, scan_done) == 0) break;
            drop(a, j, SLQ_NO_MEMORY);
        }
    }
}

void api_doc_year(api *a, http_req_ref ref, api_doc_kind kind, const char *year_text) {
    SLQ_ASSERT(is_report(kind));
    api_doc_args args = {.kind = kind};
    if (!report_year_parse(year_text, &args.year)) {
        api_error(a, ref, SLQ_INVALID_ARGUMENT, "year must be 2000..9999");
        return;
    }
    api_doc(a, ref, &args);
}

size_t api_reports_building(const api *a) {
    size_t count = 0;
    for (size_t i = 0; i < SLQ_SCANS_MAX; i++) count += a->docs[i] != NULL;
    return count;
}

void api_docs_cancel(api *a) {
    for (size_t i = 0; i < SCAN_SLOTS; i++) {
        doc_job *j = a->docs[i];
        if (j == NULL) continue;
        if (!j->started)
            drop(a, j, SLQ_OK); /* the request gets no answer: the server is closing */
        else
            (void) uv_cancel((uv_req_t *) &j->work); /* EBUSY if running: it finishes */
    }
}
