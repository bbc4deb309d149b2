/* guard.h: the signer's guard against double signing (CONSENSUS.md §1, §10.1-2), pure.
 *
 * A validator keeps one record: the last (height, round, step) it signed, what it signed
 * (block id and POL round) and the signature bytes. Before signing a proposal or vote it
 * asks guard_check:
 *   GUARD_SIGN    the request is strictly later in (height, round, step): sign it, set the
 *                 record with guard_record_set, persist it (fsync) and only then send;
 *   GUARD_REUSE   the very same request as the record: send the stored signature again (SM2
 *                 is randomised, so signing twice would give a second, different signature);
 *   GUARD_REFUSE  the same or an earlier (height, round, step) with other content: never sign.
 * Steps order proposal < prevote < precommit within a round (tm_step). The node persists the
 * record with guard_record_encode / guard_record_decode (fixed layout, checked on load); the
 * guard itself does no I/O and keeps no state of its own. Thread-safe (no shared state). */
#ifndef SLQ_CONSENSUS_GUARD_H
#define SLQ_CONSENSUS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"
#include "tendermint.h"

typedef struct {
    uint64_t height;
    uint32_t round;
    tm_step step;      /* TM_STEP_PROPOSE for a proposal */
    int32_t pol_round; /* a proposal's POL round; -1 for votes */
    tm_block_id block; /* zero: nil */
} guard_request;

typedef struct {
    bool has;           /* false: nothing signed yet */
    guard_request last; /* what was signed last */
    uint8_t sig[TM_SIG_BYTES_MAX];
    size_t sig_len;
} guard_record;

typedef enum { GUARD_SIGN = 1, GUARD_REUSE, GUARD_REFUSE } guard_verdict;

/* Bytes of an encoded record: version, has, height, round, step, pol_round, block, sig_len,
 * sig (zero-padded), all big-endian. */
#define GUARD_RECORD_BYTES (1u + 1u + 8u + 4u + 1u + 4u + 32u + 1u + TM_SIG_BYTES_MAX)

/* The verdict for signing `req` after `rec` (a record with has = false allows anything). */
guard_verdict guard_check(const guard_record *rec, const guard_request *req);
/* Records that `req` was signed with sig[0..sig_len) (sig_len <= TM_SIG_BYTES_MAX). Call
 * only after GUARD_SIGN. */
void guard_record_set(guard_record *rec, const guard_request *req, const uint8_t *sig,
                      size_t sig_len);

/* Fixed-layout persistence. decode returns SLQ_STORAGE_CORRUPT for a wrong length, version,
 * flag, step or signature length, or non-zero padding, and leaves *rec unchanged then. */
void guard_record_encode(uint8_t out[GUARD_RECORD_BYTES], const guard_record *rec);
SLQ_MUST_USE slq_err guard_record_decode(guard_record *rec, const uint8_t *in, size_t len);

#endif
