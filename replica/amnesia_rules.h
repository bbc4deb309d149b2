/* amnesia_rules.h: what a validator that lost its signer.state has left to go on
 * (CONSENSUS.md §10, the amnesia problem; amnesia.c acts on it at start): what its
 * write-ahead log holds. Loop thread only (the log is the engine's). */
#ifndef SLQ_REPLICA_AMNESIA_RULES_H
#define SLQ_REPLICA_AMNESIA_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"
#include "wal.h"

/* What the write-ahead log says about the height it was begun for. */
typedef struct {
    uint64_t height; /* of its WAL_HEIGHT record; 0: none (a new log, or one that was lost) */
    bool own;        /* a vote or proposal of this validator is in it */
} amnesia_log;

/* Reads the log w for validator self into *out. SLQ_OK, or the error of wal_replay (a log
 * damaged before its end), with `why` (may be NULL) naming the log by its path. */
SLQ_MUST_USE slq_err amnesia_log_read(amnesia_log *out, wal *w, uint32_t self, char *why,
                                      size_t why_cap);

#endif
