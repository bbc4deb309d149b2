/* wal.h: the consensus write-ahead log of the current height (CONSENSUS.md §7, §10).
 *
 * Every input the Tendermint machine receives during a height (proposals with their block
 * and validity verdict, votes, fired timeouts, the value we built) is appended here, and the
 * log is synced before the validator signs anything. After a crash the engine replays the
 * log into a fresh machine, so a restarted validator keeps its lock and valid value: without
 * that, a validator that locked on a block and restarted could vote for another block in a
 * later round. The log is started afresh at every height.
 *
 * Format: records of u8 kind | u32 length | payload | 8 bytes of SHA-256(kind | length |
 * payload). A torn record at the end (short or failing its checksum, as a crash mid-write
 * leaves it) is cut off; a bad record followed by good ones is corruption and stops the
 * node. Loop thread only. */
#ifndef SLQ_NODE_WAL_H
#define SLQ_NODE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

#define WAL_RECORD_BYTES_MAX    (16u * 1024 * 1024) /* a proposal carries a whole block */
#define WAL_HEIGHT_RECORD_BYTES 8u                  /* the WAL_HEIGHT payload: u64 height */

typedef enum {
    WAL_HEIGHT = 1,   /* payload: u64 height; the first record */
    WAL_PROPOSAL = 2, /* tm_proposal fields, valid flag, signature, block bytes */
    WAL_VOTE = 3,     /* a tm_vote */
    WAL_TIMEOUT = 4,  /* step, height, round */
    WAL_VALUE = 5,    /* height, round, block bytes of the value we built */
} wal_kind;

typedef struct wal wal; /* opaque */

/* Opens the log at path (created if missing). */
SLQ_MUST_USE slq_err wal_open(wal **out, const char *path);
void wal_close(wal *w); /* NULL is a no-op */
/* The path the log was opened at (for messages); lives as long as w. */
const char *wal_path(const wal *w);

/* Called for each record of the log, in order, until it returns false. */
typedef bool (*wal_record_fn)(void *arg, wal_kind kind, const uint8_t *payload, size_t len);
/* Reads the log from the start: cuts a torn tail; SLQ_STORAGE_CORRUPT for damage before
 * the end (the caller stops: it cannot know what it saw). */
SLQ_MUST_USE slq_err wal_replay(wal *w, wal_record_fn fn, void *arg);

/* Starts the log afresh for a height (truncates, writes the height record, syncs). */
SLQ_MUST_USE slq_err wal_begin(wal *w, uint64_t height);
/* Appends a record (buffered by the OS; durable after wal_sync). SLQ_IO if it could not be
 * written whole; then every wal_sync fails until wal_begin starts the log afresh. */
SLQ_MUST_USE slq_err wal_append(wal *w, wal_kind kind, const uint8_t *payload, size_t len);
/* Makes every appended record durable (fdatasync) if any is new. SLQ_IO, and nothing may be
 * signed, when the sync fails or an append failed since wal_begin. */
SLQ_MUST_USE slq_err wal_sync(wal *w);

#endif
