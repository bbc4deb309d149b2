/* amnesia.c: a validator that lost its signer.state (CONSENSUS.md §10, the amnesia problem).
 * The record of what it signed last is what keeps a restarted validator from signing a
 * second, different vote at a height/round/step it already signed; without it the validator
 * could equivocate at the height it was working on. So at start, when signer.state is
 * missing, the engine looks for evidence that this validator has signed before
 * (amnesia_rules.h, which also argues why the log is evidence):
 *   - its precommit (for the block or nil) in the certificate of one of the last
 *     AMNESIA_CERTS_SCANNED committed blocks of its own store, or
 *   - its own vote or proposal in the write-ahead log, or
 *   - any input logged at a height above the tip (the input that led to a signature is
 *     synced before it; the signature itself may be lost with the power), or a log begun
 *     above tip + 1.
 * With evidence it refuses to start unless the operator says --reset-signer; without, it
 * starts as a fresh validator (nothing signed yet) as before. --reset-signer, when
 * signer.state is missing, writes a record that refuses every height up to the fence
 * (amnesia_fence): max(tip + 1, the log's height), or the tip when the log of tip + 1 holds
 * nothing but its height record (nothing was signed there). Heights up to the tip are
 * committed and never signed again; tip + 1 is the one height the validator may have signed
 * at before it stopped without committing it (the engine signs only at tip + 1, and commits a
 * block before it signs at the next). A fence above the tip is for good: where the others
 * hold no quorum without this validator, it would stop the chain, and the reset is refused.
 * Loop thread only, during engine_start. */
#include <stdio.h>
#include <stdlib.h>

#include "amnesia_rules.h"
#include "cert.h"
#include "engine_internal.h"
#include "slq/assert.h"
#include "slq/why.h"
#include "storage.h"

/* Certificates read back from the tip, at most: a validator that stopped while signing has
 * its precommit in the last few; the bound keeps the start of a long chain short. */
#define AMNESIA_CERTS_SCANNED 10000u

/* The highest of the last AMNESIA_CERTS_SCANNED heights whose stored certificate carries
 * our precommit, in *at; 0 if none does. */
static slq_err store_signed_at(engine *e, uint64_t *at) {
    storage *st = chain_storage(e->cfg.chain);
    uint64_t tip = chain_tip(e->cfg.chain)->height;
    *at = 0;
    for (uint64_t h = tip; h > 0 && tip - h < AMNESIA_CERTS_SCANNED && *at == 0; h--) {
        uint8_t *cert = NULL;
        size_t len = 0;
        slq_err err = storage_cert_by_height(st, h, &cert, &len);
        if (err == SLQ_NOT_FOUND) continue;
        if (err != SLQ_OK) return err;
        if (consensus_cert_signed_by(cert, len, e->addrs[e->self])) *at = h;
        free(cert);
    }
    return SLQ_OK;
}

/* The evidence, in words, for the refusal. */
static void describe(char *out, size_t cap, amnesia_evidence ev, const amnesia_facts *f) {
    unsigned long long at = f->store_signed_at, h = f->log.height, tip = f->tip;
    if (ev == AMNESIA_STORE)
        snprintf(out, cap, "its precommit is in the certificate of height %llu", at);
    else if (ev == AMNESIA_LOG_OWN)
        snprintf(out, cap, "its votes are in the write-ahead log");
    else if (ev == AMNESIA_LOG_INPUTS)
        snprintf(out, cap, "its write-ahead log shows it working on height %llu", h);
    else
        snprintf(out, cap, "its write-ahead log is of height %llu, above its store's tip %llu", h,
                 tip);
}

/* This validator's voting power and the genesis's total. */
static amnesia_power power_of(const engine *e) {
    const Slq__Genesis *g = ledger_genesis(chain_ledger(e->cfg.chain));
    amnesia_power p = {.own = 0, .total = 0};
    for (size_t i = 0; i < g->n_validators; i++) p.total += g->validators[i]->power;
    p.own = g->validators[e->self]->power;
    return p;
}

/* --reset-signer with signer.state missing: a record fenced at amnesia_fence, unless that
 * would stop the chain for good. */
static slq_err reset_signer(engine *e, const char *path, const amnesia_facts *f, char *why,
                            size_t why_cap) {
    uint64_t fence = amnesia_fence(f);
    amnesia_power p = power_of(e);
    if (amnesia_reset_halts(f, p)) {
        SLQ_WHY("--reset-signer refused: signer state %s is missing and the write-ahead log "
                "does not show that nothing was signed at height %llu; fenced there, this "
                "validator (voting power %llu of %llu) would never sign it again, and the "
                "others make no quorum without it: the chain would stop at %llu for good. "
                "Restore this node's signer.state (docs/node.md, \"Lost or corrupt "
                "signer.state\")",
                path, (unsigned long long) fence, (unsigned long long) p.own,
                (unsigned long long) p.total, (unsigned long long) fence);
        return SLQ_SIGNER_STATE_MISSING;
    }
    slq_err err = signer_fence(e->sg, engine_chain_id(e), fence);
    if (err != SLQ_OK) SLQ_WHY("signer state %s cannot be written: %s", path, slq_err_str(err));
    if (err == SLQ_OK)
        log_warn("engine: start: --reset-signer: %s made anew; nothing at height <= %llu "
                 "will be signed",
                 path, (unsigned long long) fence);
    return err;
}

slq_err amnesia_check(engine *e, const char *path, bool reset, char *why, size_t why_cap) {
    SLQ_ASSERT(e->self >= 0);
    SLQ_ASSERT(e->sg != NULL);
    if (signer_found(e->sg)) {
        if (reset) log_info("engine: start: %s is present; --reset-signer changes nothing", path);
        return SLQ_OK;
    }
    amnesia_log ls;
    slq_err err = amnesia_log_read(&ls, e->log, (uint32_t) e->self, why, why_cap);
    if (err != SLQ_OK) return err;
    amnesia_facts facts = {.tip = chain_tip(e->cfg.chain)->height, .log = ls};
    uint64_t fence = amnesia_fence(&facts);
    if (reset) return reset_signer(e, path, &facts, why, why_cap);
    err = store_signed_at(e, &facts.store_signed_at);
    if (err != SLQ_OK) {
        SLQ_WHY("data/: reading the certificates: %s", slq_err_str(err));
        return err;
    }
    amnesia_evidence ev = amnesia_evidence_of(&facts);
    if (ev == AMNESIA_NONE) return SLQ_OK; /* nothing says it signed: a fresh validator */
    char evidence[128];
    describe(evidence, sizeof evidence, ev, &facts);
    SLQ_WHY("signer state %s is missing, but this validator has signed before (%s): it could "
            "sign twice at one height; if data/ is this node's own and current, start it once "
            "with --reset-signer (nothing at height <= %llu is signed then%s; docs/node.md)",
            path, evidence, (unsigned long long) fence,
            fence > facts.tip ? ": if validators with a third of the voting power or more are "
                                "fenced at one height, the chain stops there for good, so "
                                "restore signer.state instead where you can"
                              : "");
    return SLQ_SIGNER_STATE_MISSING;
}
