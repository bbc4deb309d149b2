/* sync.c: block sync: this node's height to peers (Status, on connect and every tick), the
 * heights peers report, a request for our next block to the most advanced peer when one is
 * ahead (one at a time, asked again after SYNC_RETRY_MS), the blocks we hold for peers that
 * ask, and the answers to our requests, applied only if their certificate proves them final
 * for our validator set (chain_apply_block). Starting the next height after a synced block
 * is the driver's (engine.c). Loop thread only. */
#include <stdlib.h>

#include "engine_internal.h"
#include "slq/assert.h"

#define SYNC_RETRY_MS 3000u /* a request unanswered this long goes to a peer again */

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

static void note_height(engine *e, uint32_t peer, uint64_t height) {
    SLQ_ASSERT(peer != UINT32_MAX); /* peers are kept as peer + 1: 0 marks a free slot */
    size_t free_slot = PEER_HEIGHTS_MAX;
    for (size_t i = 0; i < PEER_HEIGHTS_MAX; i++) {
        if (e->heights[i].peer == peer + 1) {
            e->heights[i].height = height;
            return;
        }
        if (e->heights[i].peer == 0 && free_slot == PEER_HEIGHTS_MAX) free_slot = i;
    }
    if (free_slot < PEER_HEIGHTS_MAX) e->heights[free_slot] = (peer_height){peer + 1, height};
}

void sync_maybe(engine *e) {
    uint64_t tip = chain_tip(e->cfg.chain)->height, now = uv_now(e->cfg.loop);
    if (e->syncing && now - e->sync_asked_ms < SYNC_RETRY_MS) return;
    e->syncing = false;
    size_t best = PEER_HEIGHTS_MAX;
    for (size_t i = 0; i < PEER_HEIGHTS_MAX; i++)
        if (e->heights[i].peer != 0 && e->heights[i].height > tip &&
            (best == PEER_HEIGHTS_MAX || e->heights[i].height > e->heights[best].height))
            best = i;
    if (best == PEER_HEIGHTS_MAX) return;
    Slq__BlockRequest br = SLQ__BLOCK_REQUEST__INIT;
    br.height = tip + 1;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_BLOCK_REQUEST;
    env.block_request = &br;
    if (p2p_send(e->net, e->heights[best].peer - 1, &env) != SLQ_OK) return;
    e->syncing = true;
    e->sync_peer = e->heights[best].peer - 1;
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
    if (!e->syncing || peer != e->sync_peer || r->height != chain_tip(e->cfg.chain)->height + 1)
        return false; /* not asked for, or overtaken by consensus */
    e->syncing = false;
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
    log_info("engine: sync: height=%llu applied", (unsigned long long) r->height);
    return true;
}

void sync_peer_down(engine *e, uint32_t peer) {
    SLQ_ASSERT(peer != UINT32_MAX);
    for (size_t i = 0; i < PEER_HEIGHTS_MAX; i++)
        if (e->heights[i].peer == peer + 1) e->heights[i].peer = 0;
    if (e->syncing && e->sync_peer == peer) e->syncing = false;
}
