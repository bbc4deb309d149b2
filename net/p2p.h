/* p2p.h: the node's peer network on libuv TCP (DESIGN.md §7, issue 4).
 *
 * Frames: a 4-byte big-endian length, then one protobuf Envelope (proto/slq.proto). A frame
 * over the limit (SLQ_FRAME_BYTES_MAX; SLQ_P2P_HELLO_BYTES_MAX before the handshake), a
 * frame that does not decode, or a message out of place closes that connection only.
 *
 * Handshake, both directions at once: each side sends Hello {chain_id, genesis_hash,
 * node_pubkey, a fresh 32-byte challenge, height} and answers the other's Hello with
 * HelloAck {signature over 0x02 | u8 len | chain_id | genesis_hash | the other's challenge |
 * own node_pubkey}. A peer is admitted only if its chain id and genesis hash match, its key
 * is in the allow list (genesis validators plus the config's observers), the signature
 * verifies, and it is not ourselves nor already connected (a duplicate connection between
 * two nodes keeps the one dialled by the node with the smaller address). Anything else is
 * logged and dropped. Until admitted, a peer gets nothing but the handshake.
 *
 * Dialling: each configured peer address is dialled and re-dialled after a failure or a
 * disconnect with exponential backoff (100 ms doubling to 5 s, with jitter). Inbound
 * connections are accepted up to SLQ_PEERS_MAX: at most SLQ_P2P_HANDSHAKES_PER_ADDR_MAX of one
 * address still in their handshake (one more is closed at accept); when all are taken, a new
 * one closes the oldest still in its handshake (admitted peers are never closed for it), or
 * is closed at once if every one is admitted. Warnings about inbound connections not yet
 * admitted (refusals, bad frames, deadlines) are written at most once per 10 s per kind.
 *
 * Messages of admitted peers are handed to msg_fn; the caller validates them (signatures,
 * rules) and calls p2p_disconnect for a peer that sent invalid data. Writes are queued per
 * peer up to SLQ_P2P_QUEUE_BYTES_MAX; a peer that does not read is disconnected rather than
 * let the queue grow. Loop thread only. */
#ifndef SLQ_NODE_P2P_H
#define SLQ_NODE_P2P_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto.h"
#include "slq.pb-c.h"
#include "slq/err.h"

typedef struct p2p p2p; /* opaque */

typedef struct {
    crypto_suite suite;
    const char *chain_id;
    const uint8_t *genesis_hash;   /* 32 bytes */
    const crypto_key *key;         /* the node key: signs our HelloAck */
    const uint8_t *const *allowed; /* raw public keys admitted (validators + observers) */
    size_t allowed_count;
    const char *listen_host;  /* "127.0.0.1", "::1", ... */
    uint16_t listen_port;     /* 0: ephemeral (tests) */
    const char *const *peers; /* "host:port" to dial */
    size_t peers_count;
    uint64_t (*height_fn)(void *arg); /* our tip height, for Hello; arg: p2p_start's */
    uint32_t handshake_ms; /* deadline from dial or accept to admission; 0: 5000 (tests) */
} p2p_config;

/* A peer finished its handshake (up = true) or went away (up = false). */
typedef void (*p2p_peer_fn)(void *arg, uint32_t peer, bool up, const uint8_t *pubkey,
                            size_t pubkey_len);
/* A message from an admitted peer; env is valid during the call only. */
typedef void (*p2p_msg_fn)(void *arg, uint32_t peer, const Slq__Envelope *env);
/* Called once after p2p_close finished (every handle closed, memory freed). */
typedef void (*p2p_closed_fn)(void *arg);

/* Starts listening and dialling. cfg and what it points to are copied. */
SLQ_MUST_USE slq_err p2p_start(p2p **out, uv_loop_t *loop, const p2p_config *cfg,
                               p2p_peer_fn peer_fn, p2p_msg_fn msg_fn, void *arg);
uint16_t p2p_port(const p2p *p);
/* Admitted peers now. */
size_t p2p_peers_count(const p2p *p);
/* Queues env for one admitted peer. SLQ_NOT_FOUND if it is gone; SLQ_NET if its queue is
 * full (it is then disconnected); SLQ_INVALID_ARGUMENT if env encodes to more than
 * SLQ_FRAME_BYTES_MAX (nothing sent, the peer stays); SLQ_NO_MEMORY. */
SLQ_MUST_USE slq_err p2p_send(p2p *p, uint32_t peer, const Slq__Envelope *env);
/* Queues env for every admitted peer except `except` (UINT32_MAX: none). Encodes once. */
void p2p_broadcast(p2p *p, const Slq__Envelope *env, uint32_t except);
/* Closes a peer's connection (it sent invalid data); logs why. Dialled peers are re-dialled
 * with backoff. */
void p2p_disconnect(p2p *p, uint32_t peer, const char *why);
/* Stops everything; closed_fn runs when done. NULL is a no-op. */
void p2p_close(p2p *p, p2p_closed_fn closed_fn, void *arg);

#endif
