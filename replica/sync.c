/* sync.c: block sync: this node's height to peers (Status, on connect and every tick), the
 * heights peers report, a request for our next block to a peer that announced a height above
 * ours (one request at a time), the blocks we hold for peers that ask, and the answers to our
 * requests, applied only if their certificate proves them final for our validator set
 * (chain_apply_block). Starting the next height after a synced block is the driver's
 * (engine.c). Loop thread only.
 *
 * No one peer holds sync hostage by announcing a height it does not have:
 * - A request not answered within SYNC_REQUEST_TIMEOUT_MS is a miss of that peer, and the
 *   next request goes to another peer: of those ahead of us, the one with the fewest misses,
 *   round-robin among equals (the first after the peer asked last). Honest peers share the
 *   requests; one that let a request time out is asked again only when no better peer is
 *   ahead.
 * - A peer's misses count its timed-out requests since it last delivered a block that
 *   applied. An answer for the height we asked, in time, is no miss even if consensus gave
 *   us that block first; a late answer is still applied if we still need the block.
 * - A peer that reaches SYNC_MISSES_MAX misses is disconnected ("announced a height it does
 *   not serve"): it answered none of SYNC_MISSES_MAX requests for blocks below the height it
 *   announced, over at least SYNC_MISSES_MAX * SYNC_REQUEST_TIMEOUT_MS (10 s), and applied
 *   nothing meanwhile. An honest peer, if slow, answers one of them (late answers count); if
 *   it is disconnected all the same, it is re-dialled and starts afresh.
 * - A block that does not verify gets its sender disconnected at once (chain_apply_block
 *   proved it is no final block); a failure of our own (memory) blames no one. */
#include <stdlib.h>

#include "engine_internal.h"
#include "slq/assert.h"

#define SYNC_REQUEST_TIMEOUT_MS 2000u /* a request unanswered this long is a miss */
#define SYNC_MISSES_MAX         5u    /* misses (none applied since) that disconnect a peer */

void sync_send_status(engine *e, uint32_t peer) {
    Slq__Status st = SLQ__STATUS__INIT;
    st.height = chain_tip(e->cfg.chain)->height;
    st.tip_hash =
        (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) chain_tip(e->cfg.chain)->hash};
    st.round = tm_round(e->m);
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_STATUS;
    env.status = &st;
    if (peer == UINT32_MAX)
        p2p_broadcast(e->net, &env, UINT32_MAX);
    else if (p2p_send(e->net, peer, &env) != SLQ_OK)
        log_debug("engine: status: peer gone");
}

/* The slot of a peer, or PEER_HEIGHTS_MAX. */
static size_t slot_of(const engine *e, uint32_t peer) {
    SLQ_ASSERT(peer != UINT32_MAX); /* peers are kept as peer + 1: 0 marks a free slot */
    for (size_t i = 0; i < PEER_HEIGHTS_MAX; i++)
        if (e->heights[i].peer == peer + 1) return i;
    return PEER_HEIGHTS_MAX;
}

static void note_height(engine *e, uint32_t peer, uint64_t height) {
    size_t i = slot_of(e, peer);
    if (i < PEER_HEIGHTS_MAX) {
        e->heights[i].height = height;
        return;
    }
    for (i = 0; i < PEER_HEIGHTS_MAX; i++)
        if (e->heights[i].peer == 0) {
            e->heights[i] = (peer_height){.peer = peer + 1, .height = height};
            return;
        }
}

/* The request out to heights[sync_slot] timed out: a miss of that peer, unless it answered
 * meanwhile; at SYNC_MISSES_MAX it is disconnected (and forgotten at once). */
static void request_timed_out(engine *e) {
    peer_height *p = &e->heights[e->sync_slot];
    e->syncing = false;
    SLQ_ASSERT(p->peer != 0);  /* sync_peer_down ends the request with its peer */
    if (p->asked == 0) return; /* it answered in time; we just had not asked again yet */
    p->misses++;
    log_warn("engine: sync: peer=%u did not send height=%llu within %u ms misses=%u", p->peer - 1,
             (unsigned long long) p->asked, SYNC_REQUEST_TIMEOUT_MS, p->misses);
    if (p->misses < SYNC_MISSES_MAX) return;
    uint32_t peer = p->peer - 1;
    *p = (peer_height){.peer = 0};
    p2p_disconnect(e->net, peer, "announced a height it does not serve");
}

/* The peer to ask for block tip+1: of those that announced a height above tip, the one with
 * the fewest misses; among equals the first after the peer asked last (round-robin). */
static size_t pick_peer(const engine *e, uint64_t tip) {
    size_t best = PEER_HEIGHTS_MAX;
    for (size_t k = 1; k <= PEER_HEIGHTS_MAX; k++) {
        size_t i = (e->sync_slot + k) % PEER_HEIGHTS_MAX;
        const peer_height *c = &e->heights[i];
        if (c->peer == 0 || c->height <= tip) continue;
        if (best == PEER_HEIGHTS_MAX || c->misses < e->heights[best].misses) best = i;
    }
    return best;
}

void sync_maybe(engine *e) {
    uint64_t tip = chain_tip(e->cfg.chain)->height, now = uv_now(e->cfg.loop);
    if (e->syncing) {
        if (now - e->sync_asked_ms < SYNC_REQUEST_TIMEOUT_MS) return;
        request_timed_out(e);
    }
    size_t next = pick_peer(e, tip);
    if (next == PEER_HEIGHTS_MAX) return;
    SLQ_ASSERT(e->heights[next].height > tip);
    Slq__BlockRequest br = SLQ__BLOCK_REQUEST__INIT;
    br.height = tip + 1;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_BLOCK_REQUEST;
    env.block_request = &br;
    if (p2p_send(e->net, e->heights[next].peer - 1, &env) != SLQ_OK) return;
    e->heights[next].asked = br.height;
    e->syncing = true;
    e->sync_slot = next;
    e->sync_asked_ms = now;
}

void sync_on_status(engine *e, uint32_t peer, const Slq__Status *st) {
    note_height(e, peer, st->height);
    if (st->height > chain_tip(e->cfg.chain)->height) sync_maybe(e);
}

void sync_on_block_request(engine *e, uint32_t peer, const Slq__BlockRequest *br) {
    storage *s = chain_storage(e->cfg.chain);
    if (br->height == 0 || br->height > chain_tip(e->cfg.chain)->height) return;
    uint8_t *block = NULL, *cert = NULL;
    size_t block_len = 0, cert_len = 0;
    if (storage_block_by_height(s, br->height, &block, &block_len) == SLQ_OK &&
        storage_cert_by_height(s, br->height, &cert, &cert_len) == SLQ_OK) {
        Slq__BlockResponse r = SLQ__BLOCK_RESPONSE__INIT;
        r.height = br->height;
        r.block = (ProtobufCBinaryData){block_len, block};
        r.cert = (ProtobufCBinaryData){cert_len, cert};
        Slq__Envelope env = SLQ__ENVELOPE__INIT;
        env.msg_case = SLQ__ENVELOPE__MSG_BLOCK_RESPONSE;
        env.block_response = &r;
        if (p2p_send(e->net, peer, &env) != SLQ_OK) log_debug("engine: sync: peer gone");
    }
    free(block);
    free(cert);
}

bool sync_on_block_response(engine *e, uint32_t peer, const Slq__BlockResponse *r) {
    size_t i = slot_of(e, peer);
    if (i == PEER_HEIGHTS_MAX || e->heights[i].asked == 0 || r->height != e->heights[i].asked)
        return false; /* not asked for */
    e->heights[i].asked = 0;
    if (e->syncing && e->sync_slot == i) e->syncing = false;
    if (r->height != chain_tip(e->cfg.chain)->height + 1) return false; /* overtaken */
    char why[WHY_BYTES] = "";
    slq_err err = chain_apply_block(e->cfg.chain, r->block.data, r->block.len, r->cert.data,
                                    r->cert.len, why, sizeof why);
    if (err == SLQ_STORAGE_IO || err == SLQ_STORAGE_CORRUPT) {
        /* Our own store failed us: the peer is not to blame, and we cannot go on. */
        engine_fatal(e, "sync: our store", err);
        return false;
    }
    if (chain_local_fault(err)) { /* out of memory: not the peer's fault; asked again later */
        log_warn("engine: sync: height=%llu not applied: %s", (unsigned long long) r->height,
                 slq_err_str(err));
        return false;
    }
    if (err != SLQ_OK) {
        log_warn("engine: sync: height=%llu refused: %s", (unsigned long long) r->height, why);
        p2p_disconnect(e->net, peer, "sent a block that does not verify");
        return false;
    }
    e->heights[i].misses = 0;
    log_info("engine: sync: height=%llu applied", (unsigned long long) r->height);
    return true;
}

void sync_peer_down(engine *e, uint32_t peer) {
    size_t i = slot_of(e, peer);
    if (i == PEER_HEIGHTS_MAX) return; /* never sent a Status, or disconnected by us */
    e->heights[i] = (peer_height){.peer = 0};
    if (e->syncing && e->sync_slot == i) e->syncing = false;
}
