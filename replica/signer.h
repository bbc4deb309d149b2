/* signer.h: the validator's signing guard, persisted. Before a consensus message is sent,
 * what is signed (height, round, step, block id, the signature) is written to a file and
 * synced (in place, into the older of two checksummed slots: one fdatasync), so
 * that after a crash or kill -9 the validator never signs two different messages for one
 * height/round/step. The same request again returns the stored signature (SM2 signatures
 * are randomized: signing twice would make two different messages). CONSENSUS.md §10.
 * Loop thread only. */
#ifndef SLQ_NODE_SIGNER_H
#define SLQ_NODE_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "crypto.h"
#include "slq/err.h"

typedef struct signer signer; /* opaque */

/* Opens (or creates) the record at path; key is borrowed. SLQ_STORAGE_CORRUPT for a record
 * that does not read back (the node must not guess: it stops). */
SLQ_MUST_USE slq_err signer_open(signer **out, const char *path, const crypto_key *key);
void signer_close(signer *s); /* NULL is a no-op */

/* Signs the canonical bytes of f (consensus/cert.h) for chain_id, unless that conflicts
 * with something signed before: SLQ_OK with the signature (the stored one for a repeat),
 * or SLQ_ROLE_FORBIDDEN when refused, or SLQ_IO if the record could not be made durable
 * (nothing may be sent then). */
SLQ_MUST_USE slq_err signer_sign(signer *s, const char *chain_id, const consensus_vote_fields *f,
                                 uint8_t sig[CRYPTO_SIG_BYTES_MAX], size_t *sig_len);

#endif
