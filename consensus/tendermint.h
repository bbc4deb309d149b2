/* tendermint.h: the Tendermint BFT state machine (CONSENSUS.md; Buchman, Kwon, Milosevic,
 * arXiv:1807.04938, Algorithm 1), pure: no sockets, no clock, no storage, no signing.
 *
 * The driver (the node, or the simulator in tests/sim) feeds events and carries out the
 * actions the machine returns:
 *
 *   events                                   actions
 *   tm_start_height(h)                       TM_ACT_NEED_VALUE      build a block, then
 *   tm_on_value(hash)        <-------------                          call tm_on_value
 *   tm_on_proposal(p, valid)                 TM_ACT_PROPOSE         sign + broadcast proposal,
 *   tm_on_vote(v)                                                    then feed it back
 *   tm_on_timeout(step, h, r)                                        (on_proposal, valid)
 *   tm_on_block(h, block, valid)             TM_ACT_VOTE            sign + broadcast the vote,
 *                                                                    then feed it back (on_vote)
 *                                            TM_ACT_TIMEOUT         call on_timeout after ms
 *                                            TM_ACT_COMMIT          the block is final: build
 *                                                                    its certificate with
 *                                                                    tm_commit_votes, persist,
 *                                                                    then tm_start_height(h+1)
 *                                            TM_ACT_EVIDENCE        two conflicting votes
 *                                            TM_ACT_NEED_BLOCK      2f+1 precommits for a block
 *                                                                    we lack: fetch it by id,
 *                                                                    check it, call on_block
 *                                            TM_ACT_NEED_POL        the proposal's POL is
 *                                                                    missing: feed again the
 *                                                                    prevotes of that round
 *
 * The machine never records what it asked the driver to sign: only what comes back through
 * on_vote / on_proposal counts, so a message the signer's guard refused is never counted.
 *
 * Values are blocks, named by their 32-byte hash; the driver keeps the bytes and checks a
 * proposed block against its chain before it calls tm_on_proposal (valid = the check's
 * verdict). Votes arrive already signature-checked; the machine keeps their signatures so
 * that the certificate and evidence can be built from them.
 *
 * Quorums are by voting power: 2f+1 means 3 * power > 2 * total, f+1 means 3 * power >
 * total. Each validator counts once per (round, type); a second, different vote is
 * evidence, never a second count (and never hides the vote that completes a quorum: the
 * tally is per block id). The lock changes only in rule 4 and is never cleared within a
 * height (follow the paper: no unlock on a nil polka). Proposer of (h, r): validator
 * (h + r) mod n in the given order (equal powers; CONSENSUS.md §2). Timeouts grow:
 * timeout(r) = init + r * delta, per step. The proposer schedules its propose timeout too,
 * so a proposal it could not build or sign costs one timeout, not the round.
 *
 * Rule 8 (round skip) keeps, per validator, the highest round of this height it sent any
 * message for (vote or proposal, even one too far ahead to keep), and moves to the highest
 * round r' > round such that validators at r' or beyond hold more than 1/3 of the power:
 * one of them is correct and really is there. One validator alone never makes us skip.
 *
 * Rule 2 needs the prevotes of the proposal's POL round, which may be older than the kept
 * window (their votes were dropped, or evicted, when they arrived). Once the proposal is the
 * current round's, its POL round is kept again, and TM_ACT_NEED_POL asks the driver (once per
 * round) to feed every prevote of that round it holds again, and to ask peers for them.
 *
 * Rule 7 decides on 2f+1 precommits of any kept round for a block known to be valid: one
 * proposed with valid = true at this height, or one the driver fetched and checked
 * (tm_on_block; CONSENSUS.md §7: the block may be from a round or proposal we never saw).
 *
 * Restart: the machine is volatile, and a validator that forgets its lock (amnesia) can
 * help a Byzantine one to decide a second block. A restarted node starts a fresh machine at
 * its next height and replays into it, in order, what it fed the old one at that height (a
 * WAL, synced before each signature); the signer's guard then refuses everything but the
 * very last signed message, whose stored signature it re-sends. tests/sim does exactly this.
 *
 * Memory: everything is in the tm struct (caller's memory, fixed size): no allocation.
 * Rounds beyond round + TM_ROUNDS_AHEAD are ignored (bounded buffers). Single-threaded. */
#ifndef SLQ_CONSENSUS_TENDERMINT_H
#define SLQ_CONSENSUS_TENDERMINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

#define TM_VALIDATORS_MAX 64u
#define TM_ROUNDS_KEPT    8u /* vote logs kept for rounds round-3 .. round+TM_ROUNDS_AHEAD, */
                             /* plus lockedRound, validRound and the proposal's POL round */
#define TM_ROUNDS_AHEAD   4u /* votes for rounds further ahead are dropped (rule 8 sees them) */
#define TM_SIG_BYTES_MAX  72u
#define TM_ACTIONS_MAX    16u /* actions one event can produce */

typedef enum { TM_STEP_PROPOSE = 0, TM_STEP_PREVOTE = 1, TM_STEP_PRECOMMIT = 2 } tm_step;
typedef enum { TM_PREVOTE = 1, TM_PRECOMMIT = 2 } tm_vote_type; /* = consensus_msg_type */

typedef struct {
    uint8_t hash[32];
} tm_block_id; /* all zero: nil */

typedef struct {
    tm_vote_type type;
    uint64_t height;
    uint32_t round;
    tm_block_id block;  /* zero = nil */
    uint32_t validator; /* index in the validator set */
    uint8_t sig[TM_SIG_BYTES_MAX];
    size_t sig_len;
} tm_vote;

typedef struct {
    uint64_t height;
    uint32_t round;
    int32_t pol_round; /* -1: none */
    tm_block_id block;
    uint32_t proposer; /* index; the driver checked the signature */
} tm_proposal;

typedef struct {
    uint32_t propose_ms, propose_delta_ms;
    uint32_t prevote_ms, prevote_delta_ms;
    uint32_t precommit_ms, precommit_delta_ms;
} tm_timeouts; /* CometBFT defaults: 3000/500, 1000/500, 1000/500 */

typedef enum {
    TM_ACT_NEED_VALUE = 1, /* h, round */
    TM_ACT_PROPOSE,        /* h, round, block, pol_round */
    TM_ACT_VOTE,           /* vote_type, h, round, block (zero = nil) */
    TM_ACT_TIMEOUT,        /* step, h, round, ms */
    TM_ACT_COMMIT,         /* h, round (of the deciding precommits), block */
    TM_ACT_EVIDENCE,       /* evidence[0] (kept first), evidence[1] (the conflicting one) */
    TM_ACT_NEED_BLOCK,     /* h, round, block: 2f+1 precommits for a block not known valid */
    TM_ACT_NEED_POL,       /* h, round (the POL round), block: rule 2 waits for that POL */
} tm_action_kind;

typedef struct {
    tm_action_kind kind;
    uint64_t height;
    uint32_t round;
    int32_t pol_round;
    tm_block_id block;
    tm_vote_type vote_type;
    tm_step step;
    uint32_t ms;
    tm_vote evidence[2];
} tm_action;

typedef struct {
    tm_action a[TM_ACTIONS_MAX];
    size_t n;
} tm_actions;

typedef struct tm tm; /* defined in tendermint.c; size from tm_size() */

/* Bytes the caller allocates for a machine (fixed; no allocation inside). */
size_t tm_size(void);
/* Sets up a machine for a validator set with these powers (n <= TM_VALIDATORS_MAX, each >
 * 0). self is our index, or -1 for a non-validator that only follows (it never votes or
 * proposes, but decides on 2f+1 precommits it sees). */
void tm_init(tm *m, const uint64_t *powers, size_t n, int self, const tm_timeouts *t);

/* Begins height h at round 0 (after genesis or a commit). */
void tm_start_height(tm *m, uint64_t h, tm_actions *out);
/* The block the driver built after TM_ACT_NEED_VALUE for (h, round). */
void tm_on_value(tm *m, uint64_t h, uint32_t round, const tm_block_id *block, tm_actions *out);
/* A signature-checked proposal (including our own, fed back after TM_ACT_PROPOSE), and
 * whether its block is valid. Ignored unless it is from the proposer of (h, round), names a
 * block (not nil) and has -1 <= pol_round < round; only the first per round is kept. */
void tm_on_proposal(tm *m, const tm_proposal *p, bool valid, tm_actions *out);
/* A signature-checked vote (including our own, fed back). */
void tm_on_vote(tm *m, const tm_vote *v, tm_actions *out);
/* A timeout scheduled by TM_ACT_TIMEOUT has fired. */
void tm_on_timeout(tm *m, tm_step step, uint64_t h, uint32_t round, tm_actions *out);
/* The driver has the bytes of block `block` of height h (fetched after TM_ACT_NEED_BLOCK, or
 * otherwise) and checked it against its chain. A valid block can then be decided by rule 7. */
void tm_on_block(tm *m, uint64_t h, const tm_block_id *block, bool valid, tm_actions *out);

/* The precommits for `block` at (h, round) (after TM_ACT_COMMIT, before tm_start_height of
 * the next height, which forgets them): out[i] is validator i's vote or has sig_len 0 when
 * absent (all TM_VALIDATORS_MAX entries are written). Precommits that arrive after the
 * decision are still kept, so a later call may return more. Returns how many are present. */
size_t tm_commit_votes(const tm *m, uint64_t h, uint32_t round, const tm_block_id *block,
                       tm_vote out[TM_VALIDATORS_MAX]);

/* Where the machine is (for status, logs and the signer's guard). */
uint64_t tm_height(const tm *m);
uint32_t tm_round(const tm *m);
tm_step tm_current_step(const tm *m);
int32_t tm_locked_round(const tm *m); /* -1: not locked */
int32_t tm_valid_round(const tm *m);  /* -1: no valid value */
/* True once height tm_height() is decided; then *block and *round say what and where. */
bool tm_decision(const tm *m, tm_block_id *block, uint32_t *round);
/* Proposer index of (h, round). */
uint32_t tm_proposer(const tm *m, uint64_t h, uint32_t round);

#endif
