/* verify.h: `slqd verify`: the regulator's offline audit of a node's store (issue 5,
 * docs/audit.md). It trusts nothing the node computed: from the genesis and the blocks
 * alone it checks the header chain, every transaction signature, every commit certificate
 * against the genesis validators, the Merkle roots and block times, replays every
 * transaction into a fresh in-memory state, compares the app hash of every block and of
 * the tip, and then every stored state row with what the replay produced (both ways). Every
 * difference is one failure line naming the height, the transaction or the row (family and
 * hex key). The store is opened through a snapshot (snapshot.h), so the data directory is
 * never written. Single-threaded. */
#ifndef SLQ_NODE_VERIFY_H
#define SLQ_NODE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"

/* Receives each failure as one line (no newline). */
typedef void (*verify_failure_cb)(void *arg, const char *line);

typedef struct {
    verify_failure_cb on_failure; /* NULL: failures are only counted */
    void *arg;
    bool progress; /* a single updating progress line on stderr (for a terminal) */
} verify_opts;

/* What a run found. */
typedef struct {
    uint64_t height;                     /* the last block walked (the tip when all is well) */
    uint8_t tip_hash[CRYPTO_HASH_BYTES]; /* its hash (zeros at height 0) */
    int64_t tip_time_ms;                 /* its block time (genesis time at height 0) */
    uint8_t app_hash[CRYPTO_HASH_BYTES]; /* the replayed state digest after it */
    uint64_t txs, certs, rows;           /* transactions replayed, certificates checked,
                                            stored state rows compared */
    size_t failures;
} verify_summary;

typedef struct verify verify; /* opaque: a finished run and the state it replayed */

/* Audits the LevelDB store in data_dir against the genesis bytes (as codec_genesis_from_json
 * makes them). SLQ_OK means the audit ran to its end: verify_result()->failures says whether
 * anything differed; *out is then yours (verify_free). Any other return means it could not
 * run (no store, a genesis that does not decode, the snapshot failed, memory): `why` says
 * what, and nothing is allocated. */
SLQ_MUST_USE slq_err verify_run(verify **out, const uint8_t *genesis, size_t genesis_len,
                                const char *data_dir, const verify_opts *o, char *why,
                                size_t why_cap);
const verify_summary *verify_result(const verify *v);
/* The chain id of the genesis the store was audited against. */
const char *verify_chain_id(const verify *v);
/* The report (report.h) of the replayed state at the walked tip, for `year` or every year
 * (REPORT_ALL_YEARS). On SLQ_OK *out is malloc'd JSON text (free()). */
SLQ_MUST_USE slq_err verify_report(const verify *v, uint32_t year, char **out, size_t *len);
void verify_free(verify *v); /* NULL is a no-op */

/* `slqd verify --home DIR [--report] [--json|--csv] [--year Y] [--sign KEY]`: argv[0] is
 * "verify". Returns the process exit code: 0 verified, 1 a failure was found (or the store
 * cannot be read), 2 bad usage or a home that cannot be audited (no genesis.json, no data). */
int verify_main(int argc, char **argv);

#endif
