/* amnesia_rules.h: what a validator that lost its signer.state can still prove about what it
 * signed (CONSENSUS.md §10, the amnesia problem; amnesia.c acts on it at start): the facts
 * (its log, its store) and the rules that judge them. Pure but for amnesia_log_read; loop
 * thread only (the log is the engine's).
 *
 * Why the log proves what it does. The engine signs only at tip + 1 of its store, and only in
 * answer to an input of that height: starting a height signs nothing (engine.c asserts it,
 * test_tendermint checks it). Every input of the height (the value we built, a proposal, a
 * vote, a fired timeout) is appended to the log, begun for that height by its height record,
 * before the machine hears of it; during a replay the inputs are the log's own. And the log
 * is synced before every signature (journal_sync), a sync after a failed append fails
 * (wal.h), so the input that led to a signature is on disk before the signature exists. Our
 * own vote or proposal is logged only after it is sent and may be lost with the power, but
 * not the input behind it. Hence:
 *   - a log of height >= tip + 1 with any record past its height record: the validator was
 *     working on that height and may have signed there (evidence, AMNESIA_LOG_INPUTS);
 *   - a log begun above tip + 1: the store lost blocks this node ran (data/ restored or
 *     replaced), it may have signed at any height from tip + 1 up (AMNESIA_LOG_AHEAD);
 *   - a log of tip + 1 that holds nothing but its height record: nothing was signed at
 *     tip + 1, so --reset-signer may fence at the tip and the validator signs tip + 1.
 * A log that is missing (height 0), or of a height at or below the tip, proves nothing about
 * tip + 1: the fence then covers tip + 1. */
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
    size_t inputs;   /* records past the height record */
    bool own;        /* a vote or proposal of this validator is among them */
} amnesia_log;

/* Reads the log w for validator self into *out. SLQ_OK, or the error of wal_replay (a log
 * damaged before its end), with `why` (may be NULL) naming the log by its path. */
SLQ_MUST_USE slq_err amnesia_log_read(amnesia_log *out, wal *w, uint32_t self, char *why,
                                      size_t why_cap);

/* What a validator without its signer.state knows at start. */
typedef struct {
    uint64_t tip;             /* of its store */
    uint64_t store_signed_at; /* the highest recent height whose certificate has its
                                 precommit; 0: none */
    amnesia_log log;
} amnesia_facts;

/* The evidence that it signed before, the first that holds in this order. */
typedef enum {
    AMNESIA_NONE = 0,   /* none: a fresh validator, it may start */
    AMNESIA_STORE,      /* its precommit is in a stored certificate (store_signed_at) */
    AMNESIA_LOG_OWN,    /* its own vote or proposal is in the log */
    AMNESIA_LOG_INPUTS, /* the log of a height above the tip holds inputs */
    AMNESIA_LOG_AHEAD,  /* the log was begun above tip + 1 */
} amnesia_evidence;

amnesia_evidence amnesia_evidence_of(const amnesia_facts *f);

/* The fence of --reset-signer: the highest height at which the validator may have signed
 * (the record made anew refuses it and every height below). The tip when the log of tip + 1
 * holds nothing but its height record; else max(tip + 1, the log's height). */
uint64_t amnesia_fence(const amnesia_facts *f);

/* Voting power, the validator's own and the genesis's total. */
typedef struct {
    uint64_t own;
    uint64_t total;
} amnesia_power;

/* True when fencing above the tip would stop the chain for good: the fence covers tip + 1,
 * which the validator then never signs, and the others alone hold no quorum (more than two
 * thirds of the power), as on a chain of one validator. --reset-signer is refused then. */
bool amnesia_reset_halts(const amnesia_facts *f, amnesia_power p);

#endif
