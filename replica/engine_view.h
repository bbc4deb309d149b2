/* engine_view.h: what the API may read of the replica (replica/engine.h): the one header of
 * replica/ that api/ includes. Each takes NULL (no engine yet) and answers zero then. */
#ifndef SLQ_REPLICA_ENGINE_VIEW_H
#define SLQ_REPLICA_ENGINE_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "slq.pb-c.h"

typedef struct engine engine; /* opaque */

/* Peers connected now. */
size_t engine_peers(const engine *e);
/* Blocks and transactions this node committed since it started (by consensus or sync). */
uint64_t engine_blocks_committed(const engine *e);
uint64_t engine_txs_committed(const engine *e);
/* Equivocation evidence seen so far. */
size_t engine_evidence_count(const engine *e);
const Slq__Evidence *engine_evidence(const engine *e, size_t i); /* i < the count */

#endif
