/* signer.h: the validator's signing guard, persisted. Before a consensus message is sent,
 * what is signed (height, round, step, block id, the signature) is written to a file and
 * synced (in place, into the older of two checksummed slots: one fdatasync), so
 * that after a crash or kill -9 the validator never signs two different messages for one
 * height/round/step. The same request again returns the stored signature (SM2 signatures
 * are randomized: signing twice would make two different messages). CONSENSUS.md §10.
 * Loop thread only. */
#ifndef SLQ_NODE_SIGNER_H
#define SLQ_NODE_SIGNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "crypto.h"
#include "slq/err.h"

typedef struct signer signer; /* opaque */

/* Opens the record at path (made on the first signature if there is none); key is
 * borrowed. SLQ_STORAGE_CORRUPT for a record that does not read back (the node must not
 * guess: it stops), SLQ_IO if it cannot be read; then `why` (may be NULL) names the file and
 * what is wrong with it. */
SLQ_MUST_USE slq_err signer_open(signer **out, const char *path, const crypto_key *key, char *why,
                                 size_t why_cap);
void signer_close(signer *s); /* NULL is a no-op */

/* True when signer_open found a record at its path (false: nothing was signed through it, or
 * the file was lost). */
bool signer_found(const signer *s);

/* Makes the record refuse every signature at heights <= height, whatever the round and step:
 * signs a nil precommit at (height, UINT32_MAX), the last position of that height, and
 * persists it as the record; it is never sent. For a validator that lost its record and
 * resumes above the heights it may have signed (slqd --reset-signer, docs/node.md). SLQ_OK
 * also when the record is already at or past that position (nothing changes); SLQ_IO if it
 * could not be made durable. */
SLQ_MUST_USE slq_err signer_fence(signer *s, const char *chain_id, uint64_t height);

/* Signs the canonical bytes of f (consensus/cert.h) for chain_id, unless that conflicts
 * with something signed before: SLQ_OK with the signature (the stored one for a repeat),
 * or SLQ_ROLE_FORBIDDEN when refused, or SLQ_IO if the record could not be made durable
 * (nothing may be sent then). */
SLQ_MUST_USE slq_err signer_sign(signer *s, const char *chain_id, const consensus_vote_fields *f,
                                 uint8_t sig[CRYPTO_SIG_BYTES_MAX], size_t *sig_len);

#endif
