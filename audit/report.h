/* report.h: the regulator's report of budget years (issue 5, docs/audit.md).
 *
 * The report is a pure function of the genesis, the state rows of one height (vouchers,
 * claims, accounts, tx locations, year totals, holder quotas, applications, contracts), two
 * facts of the committed blocks (an APPLY's block time, a REVOKE's reason) and that height's
 * tip (height, hash, block time). The same rows give the same bytes, so the report of one height is
 * byte-identical on every node: the node's API builds it over its store (GET
 * /v1/report/YEAR) and `slqd verify --report` over the state it replayed from the blocks,
 * with this one function. No clock: expiry is measured at the tip's block time. The output
 * is JSON text (integers exact, members in a fixed order, lists sorted by id or address).
 * Single-threaded; reads the source only. */
#ifndef SLQ_NODE_REPORT_H
#define SLQ_NODE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "slq/limits.h"
#include "storage.h"

/* Called for each row of a scan; returns false to stop. Key and value are borrowed. */
typedef bool (*report_row_cb)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                              size_t val_len);

/* Where the state rows come from. */
typedef struct {
    void *ctx;
    /* Calls cb for every row whose key starts with the byte `family`, in any order. */
    slq_err (*scan)(void *ctx, uint8_t family, report_row_cb cb, void *arg);
    /* Reads one row: SLQ_OK with *val malloc'd (free()), SLQ_NOT_FOUND, or an error. */
    slq_err (*get)(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val, size_t *val_len);
    /* What the committed blocks say and no state row keeps (an application's time, a
     * revocation's reason), over chain_ctx. The storage sources read the block rows; `slqd
     * verify` answers from the blocks it walked (verify.c). NULL on report_source_state:
     * report_json then refuses a chain with applications or revocations (SLQ_NOT_FOUND). */
    void *chain_ctx;
    /* *time_ms = the block time of `height` (1..tip): SLQ_OK, SLQ_NOT_FOUND, or an error. */
    slq_err (*block_time)(void *chain_ctx, uint64_t height, int64_t *time_ms);
    /* The reason of the committed REVOKE whose tx hash is tx_hash (32 bytes): SLQ_OK with
     * *reason malloc'd (free()), SLQ_NOT_FOUND, or an error. */
    slq_err (*revoke_reason)(void *chain_ctx, const uint8_t *tx_hash, char **reason);
} report_source;

/* A source over a node's store (reads committed rows) or over an in-memory state without
 * base (the replay of `slqd verify`). Both borrow their argument. */
report_source report_source_storage(storage *s);
report_source report_source_pin(storage_pin *p); /* usable on any thread */
report_source report_source_state(ledger_state *st);

/* The height the rows belong to. */
typedef struct {
    uint64_t height;
    uint8_t hash[CRYPTO_HASH_BYTES]; /* zeros at height 0 */
    int64_t time_ms;                 /* block time of the tip; genesis time at height 0 */
} report_tip;

#define REPORT_ALL_YEARS 0u
#define REPORT_YEAR_MIN  2000u /* budget years are four digits from 2000 */
#define REPORT_YEAR_MAX  9999u

/* A budget year as written in a path or an argument: exactly four digits,
 * REPORT_YEAR_MIN..REPORT_YEAR_MAX. */
bool report_year_parse(const char *s, uint32_t *out);

/* Amounts of one budget year (the city's, or one program's), recomputed from the vouchers and
 * claims with overflow-checked sums. */
typedef struct {
    int64_t issued, cap_used, cap_peak, redeemed, settled, open, revoked, expired, active,
        transferred;
    uint64_t count; /* vouchers issued */
    /* Claims (report.c, "claims reviewed"): the parts of rejected claims, back in the pool
     * (redeemed = settled + open + clawed_back; cap_used is net of them), and how many. */
    int64_t clawed_back;
    uint64_t rejected;
} report_totals;

/* The figures of the audit summary (GET /v1/audit/YEAR) of one year. cap_peak is not
 * computed here (it needs the timeline of the whole report). */
typedef struct {
    report_totals city, prog[SLQ_PROGRAMS_MAX]; /* recomputed */
    Slq__YearTotals stored_city;                /* the stored rows; zero when there is none */
    Slq__YearTotals stored_prog[SLQ_PROGRAMS_MAX];
} report_figures;

/* Fills *out for budget year `year` (REPORT_YEAR_MIN..REPORT_YEAR_MAX) with the report's own
 * loading and sums. The errors of report_json. */
SLQ_MUST_USE slq_err report_year_figures(report_figures *out, const ledger *l,
                                         const report_source *src, const report_tip *tip,
                                         uint32_t year);

/* Builds the report of budget year `year` (REPORT_YEAR_MIN..REPORT_YEAR_MAX), or of every year that
 * has vouchers or totals (REPORT_ALL_YEARS). On SLQ_OK *out is malloc'd JSON text without a newline
 * (free()), *len its length. SLQ_STORAGE_CORRUPT when a row does not decode or a reference
 * between rows is broken, SLQ_AMOUNT_OVERFLOW, SLQ_NO_MEMORY, or the source's error. */
SLQ_MUST_USE slq_err report_json(char **out, size_t *len, const ledger *l, const report_source *src,
                                 const report_tip *tip, uint32_t year);

#endif
