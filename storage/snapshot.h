/* snapshot.h: a private, disposable view of a LevelDB directory for `slqd verify`.
 *
 * LevelDB has no read-only open: opening a database takes its LOCK, replays its log into a
 * new table, writes a new MANIFEST and deletes obsolete files. The audit must not change the
 * store it audits, so it opens a snapshot instead: a fresh temporary directory holding hard
 * links to the immutable table files (*.ldb, *.sst; a plain copy when the link is refused,
 * e.g. across file systems) and copies of the mutable files (CURRENT, MANIFEST-*, *.log).
 * LevelDB then writes only into the snapshot, and unlinking a hard link there leaves the
 * original's link alone. LOCK and the info logs (LOG, LOG.old) are not taken. The original
 * directory is only read (opendir, stat, link(2) reads the source, open O_RDONLY). */
#ifndef SLQ_NODE_SNAPSHOT_H
#define SLQ_NODE_SNAPSHOT_H

#include <stddef.h>

#include "slq/err.h"

#define SNAPSHOT_PATH_BYTES_MAX 4096u

/* Makes the snapshot of the LevelDB directory src in a new directory under $TMPDIR (else
 * /tmp), whose path is written to out[0..out_cap). SLQ_NOT_FOUND if src is not a LevelDB
 * directory (no CURRENT file); SLQ_IO otherwise, with `why` saying what failed (nothing is
 * left behind on failure). */
SLQ_MUST_USE slq_err snapshot_create(char *out, size_t out_cap, const char *src, char *why,
                                     size_t why_cap);

/* Removes a snapshot directory and everything in it (LevelDB writes no subdirectories).
 * Returns SLQ_IO if something could not be removed. */
SLQ_MUST_USE slq_err snapshot_remove(const char *dir);

#endif
