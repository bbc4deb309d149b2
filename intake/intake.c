/* intake.c: transactions in (intake.h). A job is a batch of transactions: a client's, or the
 * relayed ones gathered for GOSSIP_FLUSH_MS; its chunks of CHUNK_TXS go to libuv's workers,
 * and the last chunk back on the loop admits them all. */
#include "intake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest_set.h"
#include "slq/assert.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "slq/worker.h"

#define CHUNK_TXS        64u  /* transactions a worker verifies in one go */
#define GOSSIP_BATCH_MAX 256u /* relayed transactions gathered into one job */
#define GOSSIP_FLUSH_MS  10u  /* ... for at most this long */

typedef struct {
    uv_work_t work;
    intake_batch *job;
    size_t from, to;
} chunk;

struct intake_batch {
    intake *in;
    intake_done_fn done; /* a client's batch: whom to tell */
    void *done_arg;
    bool from_peer;    /* relayed by peers; nothing to answer */
    uint32_t *peers;   /* from_peer: who relayed each */
    uint64_t *digests; /* from_peer: each one's entry in in->checking, 0 if none */
    size_t count, chunks_left;
    uint8_t **bytes;
    size_t *lens;
    ledger_tx *txs;
    slq_err *errs;
    uint8_t (*hashes)[CRYPTO_HASH_BYTES];
    chunk *chunks;
};

struct intake {
    intake_config cfg;
    const ledger *l;      /* read-only: the workers decode against it */
    digest_set checking;  /* relayed transactions being verified */
    intake_batch *gossip; /* relayed transactions not yet sent to the workers */
    uv_timer_t flush;     /* sends them a little later, together */
    unsigned in_flight;   /* jobs on the workers */
    bool stopping;
};

void intake_batch_free(intake_batch *j) {
    if (j == NULL) return;
    for (size_t i = 0; i < j->count; i++) {
        free(j->bytes[i]);
        if (j->errs[i] == SLQ_OK) ledger_tx_free(&j->txs[i]);
    }
    free(j->bytes);
    free(j->lens);
    free(j->txs);
    free(j->errs);
    free(j->hashes);
    free(j->peers);
    free(j->digests);
    free(j->chunks);
    free(j);
}

intake_batch *intake_batch_new(size_t count) {
    SLQ_ASSERT(count > 0);
    intake_batch *j = calloc(1, sizeof *j);
    if (j == NULL) return NULL;
    size_t chunks = (count + CHUNK_TXS - 1) / CHUNK_TXS;
    j->count = count;
    j->bytes = calloc(count, sizeof *j->bytes);
    j->lens = calloc(count, sizeof *j->lens);
    j->txs = calloc(count, sizeof *j->txs);
    j->errs = calloc(count, sizeof *j->errs);
    j->hashes = calloc(count, sizeof *j->hashes);
    j->peers = calloc(count, sizeof *j->peers);
    j->digests = calloc(count, sizeof *j->digests);
    j->chunks = calloc(chunks, sizeof *j->chunks);
    if (!j->bytes || !j->lens || !j->txs || !j->errs || !j->hashes || !j->peers || !j->digests ||
        !j->chunks) {
        j->count = 0; /* nothing to free inside */
        intake_batch_free(j);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) j->errs[i] = SLQ_TX_MALFORMED; /* until set */
    return j;
}

void intake_batch_set(intake_batch *j, size_t i, uint8_t *bytes, size_t len, slq_err err) {
    SLQ_ASSERT(i < j->count);
    SLQ_ASSERT(j->bytes[i] == NULL);
    SLQ_ASSERT(err != SLQ_OK || bytes != NULL);
    j->bytes[i] = bytes;
    j->lens[i] = len;
    j->errs[i] = err; /* SLQ_OK: decodable so far, the worker decides */
}

/* Worker thread: decode and verify one chunk. Touches only the chunk's own slots and the
 * read-only ledger. */
static void verify_work(uv_work_t *w) {
    chunk *c = w->data;
    intake_batch *j = c->job;
    const ledger *l = j->in->l;
    slq_worker_yield_to_loop();
    for (size_t i = c->from; i < c->to; i++) {
        if (j->errs[i] == SLQ_OK)
            j->errs[i] = ledger_tx_decode(&j->txs[i], l, j->bytes[i], j->lens[i]);
        if (j->errs[i] == SLQ_OK) /* decoding hashed it */
            memcpy(j->hashes[i], j->txs[i].hash, CRYPTO_HASH_BYTES);
        else if (j->bytes[i] != NULL)
            crypto_hash(ledger_suite(l), j->hashes[i], j->bytes[i], j->lens[i]);
    }
}

/* Admits transaction i of a client's batch into *o. */
static void admit_one(intake_batch *j, size_t i, intake_outcome *o) {
    memcpy(o->hash, j->hashes[i], CRYPTO_HASH_BYTES);
    o->res = (admit_result){.err = j->errs[i]};
    o->status = ADMIT_REJECTED;
    if (o->res.err == SLQ_OK) {
        o->status = admit_tx(&j->in->cfg.adm, j->bytes[i], j->lens[i], &j->txs[i],
                             (int64_t) uv_now(j->in->cfg.loop), &o->res);
        j->bytes[i] = NULL;            /* taken, whatever became of it */
        j->errs[i] = SLQ_TX_MALFORMED; /* the decoded tx is gone too */
    } else {
        snprintf(o->res.message, sizeof o->res.message, "%s", slq_err_str(o->res.err));
        /* Remembered under its hash; bytes never read have none to be asked by. */
        if (j->bytes[i] != NULL)
            results_record(j->in->cfg.adm.res, j->hashes[i], o->res.err, o->res.message);
    }
}

/* A client's batch, verified: each admitted, then the client told. */
static void client_admit(intake_batch *j) {
    intake_outcome *out = calloc(j->count, sizeof *out);
    if (out == NULL) {
        /* Nothing admitted: the client hears that memory ran out and may send again. */
        intake_outcome oom = {.status = ADMIT_REJECTED, .res = {.err = SLQ_NO_MEMORY}};
        snprintf(oom.res.message, sizeof oom.res.message, "%s", slq_err_str(SLQ_NO_MEMORY));
        j->done(j->done_arg, &oom, 1);
        return;
    }
    for (size_t i = 0; i < j->count; i++) admit_one(j, i, &out[i]);
    j->done(j->done_arg, out, j->count);
    free(out);
}

/* Relayed transactions, verified: each admitted, or its peer told it misbehaved. True when
 * one of them is new in the mempool. */
static bool gossip_admit(intake_batch *j) {
    intake *in = j->in;
    bool added = false;
    for (size_t i = 0; i < j->count; i++) {
        if (j->errs[i] != SLQ_OK) {
            in->cfg.peer_misbehaved(in->cfg.arg, j->peers[i],
                                    "sent a transaction that does not verify");
            continue;
        }
        admit_result r;
        added |= admit_tx(&in->cfg.adm, j->bytes[i], j->lens[i], &j->txs[i],
                          (int64_t) uv_now(in->cfg.loop), &r) == ADMIT_NEW;
        j->bytes[i] = NULL;            /* taken, whatever became of it */
        j->errs[i] = SLQ_TX_MALFORMED; /* the decoded tx is gone too */
    }
    return added;
}

static void verify_done(uv_work_t *w, int status) {
    chunk *c = w->data;
    intake_batch *j = c->job;
    intake *in = j->in;
    (void) status; /* a cancelled chunk (shutdown) leaves its txs undecoded */
    SLQ_ASSERT(j->chunks_left > 0);
    if (--j->chunks_left > 0) return;
    SLQ_ASSERT(in->in_flight > 0);
    in->in_flight--;
    if (j->from_peer)
        for (size_t i = 0; i < j->count; i++) digest_set_remove(&in->checking, j->digests[i]);
    if (!in->stopping && j->from_peer) {
        if (gossip_admit(j)) in->cfg.mempool_changed(in->cfg.arg);
    } else if (!in->stopping) {
        client_admit(j);
        in->cfg.mempool_changed(in->cfg.arg);
    } else if (!j->from_peer) {
        j->done(j->done_arg, NULL, 0);
    }
    intake_batch_free(j);
}

/* Queues the job's chunks on the thread pool. */
static void job_start(intake *in, intake_batch *j) {
    size_t chunks = (j->count + CHUNK_TXS - 1) / CHUNK_TXS;
    j->in = in;
    j->chunks_left = chunks;
    in->in_flight++;
    for (size_t k = 0; k < chunks; k++) {
        chunk *c = &j->chunks[k];
        c->job = j;
        c->from = k * CHUNK_TXS;
        c->to = c->from + CHUNK_TXS < j->count ? c->from + CHUNK_TXS : j->count;
        c->work.data = c;
        int r = uv_queue_work(in->cfg.loop, &c->work, verify_work, verify_done);
        if (r != 0) {
            log_warn("intake: queue work: %s", uv_strerror(r));
            verify_work(&c->work); /* do it here rather than lose it */
            verify_done(&c->work, 0);
        }
    }
}

void intake_batch_start(intake *in, intake_batch *j, intake_done_fn done, void *arg) {
    j->done = done;
    j->done_arg = arg;
    job_start(in, j);
}

/* GOSSIP_FLUSH_MS after the first of them (or at GOSSIP_BATCH_MAX), the relayed
 * transactions gathered go to the thread pool as one job. Relayed transactions come a few at
 * a time; a job for each few cost every validator of a 4-node network on one 2-vCPU VM about
 * 20% more CPU in thread wake-ups than verifying them on the loop (bench/README.md). */
static void flush_cb(uv_timer_t *h) {
    intake *in = h->data;
    uv_timer_stop(h);
    intake_batch *j = in->gossip;
    in->gossip = NULL;
    if (j != NULL && j->count == 0)
        intake_batch_free(j); /* its only copy could not be allocated */
    else if (j != NULL)
        job_start(in, j);
}

slq_err intake_create(intake **out, const intake_config *cfg) {
    SLQ_ASSERT(cfg->mempool_changed != NULL);
    SLQ_ASSERT(cfg->peer_misbehaved != NULL);
    intake *in = calloc(1, sizeof *in);
    if (in == NULL) return SLQ_NO_MEMORY;
    in->cfg = *cfg;
    in->l = chain_ledger(cfg->adm.chain);
    slq_err err = digest_set_init(&in->checking, 2 * SLQ_GOSSIP_CHECKING_MAX);
    if (err == SLQ_OK && uv_timer_init(cfg->loop, &in->flush) != 0) {
        digest_set_free(&in->checking);
        err = SLQ_NET;
    }
    if (err != SLQ_OK) {
        free(in);
        return err;
    }
    in->flush.data = in;
    *out = in;
    return SLQ_OK;
}

void intake_stop(intake *in) {
    if (in == NULL || in->stopping) return;
    in->stopping = true;
    uv_timer_stop(&in->flush);
    uv_close((uv_handle_t *) &in->flush, NULL);
    intake_batch_free(in->gossip);
    in->gossip = NULL;
}

void intake_free(intake *in) {
    if (in == NULL) return;
    SLQ_ASSERT(in->in_flight == 0);
    digest_set_free(&in->checking);
    free(in);
}

void intake_gossip(intake *in, uint32_t peer, const uint8_t *bytes, size_t len) {
    /* Every peer relays a new transaction: a copy already pending, or already being
     * verified, costs a hash and no signature check. With SLQ_GOSSIP_CHECKING_MAX being
     * verified, relayed transactions are dropped: the peers that sent them still hold them
     * (and propose them in their turn), and the node does not queue without bound. */
    uint8_t hash[CRYPTO_HASH_BYTES];
    crypto_hash(ledger_suite(in->l), hash, bytes, len);
    if (in->stopping || mempool_has(in->cfg.adm.mp, hash)) return;
    uint64_t digest = digest_of(hash);
    bool full = false;
    if (!digest_set_add(&in->checking, digest, &full)) {
        if (full)
            log_debug("intake: gossip: %u relayed transactions being verified; one dropped",
                      SLQ_GOSSIP_CHECKING_MAX);
        return;
    }
    intake_batch *j = in->gossip;
    if (j == NULL) {
        j = in->gossip = intake_batch_new(GOSSIP_BATCH_MAX);
        if (j != NULL) {
            j->in = in;
            j->from_peer = true;
            j->count = 0; /* filled below, up to GOSSIP_BATCH_MAX */
            uv_timer_start(&in->flush, flush_cb, GOSSIP_FLUSH_MS, 0);
        }
    }
    uint8_t *copy = j == NULL ? NULL : malloc(len == 0 ? 1 : len);
    if (copy == NULL) {
        digest_set_remove(&in->checking, digest);
        log_warn("intake: gossip: out of memory; a relayed transaction is dropped");
        return;
    }
    if (len > 0) memcpy(copy, bytes, len);
    size_t i = j->count++;
    j->peers[i] = peer;
    j->digests[i] = digest;
    j->bytes[i] = copy;
    j->lens[i] = len;
    j->errs[i] = len > SLQ_TX_BYTES_MAX ? SLQ_TX_TOO_LARGE : SLQ_OK;
    if (j->count == GOSSIP_BATCH_MAX) flush_cb(&in->flush);
}
