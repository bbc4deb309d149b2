/* p2p.c: the peer network of p2p.h on libuv TCP.
 *
 * Ownership. A p2p owns a conn_slots (conn_slots.h: the listener, a spare handle for refusing
 * inbound connections over SLQ_PEERS_MAX, the open count), one dialer per configured peer
 * address (a backoff timer and a getaddrinfo request for host names) and an array of
 * connection slots allocated at start: slot i < peers_count is dialer i's outbound
 * connection, the SLQ_PEERS_MAX + 1 slots after them take inbound connections (one more than
 * are kept: a new connection is accepted before inbound_admit decides, by its address and
 * the others' states, whether it stays and which connection in handshake gives way). A slot
 * keeps its read buffer (P2P_READ_BYTES, allocated on first use) and its write ring for the
 * p2p's lifetime. It also owns a copy of everything the config points to, the node key
 * included (copied through PKCS#8).
 *
 * Frames. The 4-byte big-endian length counts the Envelope bytes after it and is checked
 * before anything is read on: at most SLQ_P2P_HELLO_BYTES_MAX until the peer is admitted,
 * SLQ_FRAME_BYTES_MAX after. A frame that fits the read buffer is decoded in place; a larger
 * one is read into a second buffer that grows with the bytes that arrive (a declared length
 * costs nothing until it is sent) and is freed with the connection. Decoding is strict: an
 * Envelope, or the message in it, with unknown fields is refused, and so is an empty one.
 *
 * Writes. A message is encoded once, with its length prefix, into one reference-counted
 * buffer (one malloc per p2p_send or p2p_broadcast, none per peer); each connection's ring
 * holds references to what it has not written yet. At most one uv_write is in flight per
 * connection; it takes up to P2P_WRITE_BUFS queued messages, so what is queued meanwhile
 * goes out in one writev. A buffer is freed in the write callback of its last writer.
 *
 * Handshake and duplicates. Both sides send Hello at once; each answers the other's Hello
 * with its HelloAck; a side admits the other once its Hello passed the checks and its
 * HelloAck verifies (the preimage is in p2p.h; a self-connection is recognised only after
 * the signature verifies, so nobody can make us stop dialling an address by claiming our
 * key). Of two connections between the same nodes the one dialled by the node with the
 * smaller address (crypto_address of the node key) is kept, ties broken by the dialler's
 * challenge: both ends compute the same rank. The winner over an admitted duplicate waits,
 * reading paused, until the loser's handles are closed, so for one key peer_fn reports up
 * and down strictly alternating. peer_fn(up = false) runs from the close callback, never
 * from inside a p2p_* call; after p2p_close no callback runs but closed_fn.
 *
 * Dialling. A dialer waits a jittered backoff (100 ms doubling to 5 s; reset once a
 * connection stayed up for P2P_STABLE_MS) after each failed or closed connection. A dialer
 * whose address led to ourselves, or to a node we are already connected to another way, is
 * parked: it dials again only when that node's connection goes down. The handshake must
 * finish within handshake_ms of the dial or accept, a whole deadline that no byte received
 * pushes back; admitted peers have no idle timeout (TCP keepalive notices a dead one).
 * height_fn is called with p2p_start's arg.
 *
 * Threading: the loop thread only. Handles are freed only in their close callbacks; the
 * p2p is freed by the last of them (p2p_free_if_done). */
#include "p2p.h"

#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/limits.h"
#include "slq/log.h"

#include "conn_slots.h"
#include "log_limit.h"

#define P2P_CHALLENGE_BYTES 32u   /* a Hello's random challenge */
#define P2P_PREIMAGE_TAG    0x02u /* first byte of a HelloAck's signed preimage (p2p.h) */
#define P2P_PREIMAGE_BYTES_MAX                                               \
    (2u + SLQ_CHAIN_ID_BYTES_MAX + CRYPTO_HASH_BYTES + P2P_CHALLENGE_BYTES + \
     CRYPTO_PUBKEY_BYTES_MAX)
#define P2P_HEADER_BYTES    4u           /* a frame's big-endian length prefix */
#define P2P_READ_BYTES      (64u * 1024) /* read buffer of one connection */
#define P2P_RING_MIN        64u          /* first write ring of a connection, in messages */
#define P2P_QUEUE_MSGS_MAX  65536u       /* queued messages per peer, besides the byte limit */
#define P2P_WRITE_BUFS      64u          /* messages handed to one uv_write */
#define P2P_HANDSHAKE_MS    5000u        /* dial or accept to admission, when the config says 0 */
#define P2P_EVICT_AGE_DIV   2u           /* in handshake, gives way after deadline / this */
#define P2P_BACKOFF_MIN_MS  100u         /* a dialer's first wait after a failure */
#define P2P_BACKOFF_MAX_MS  5000u        /* ... doubling up to this */
#define P2P_STABLE_MS       10000u       /* a connection up this long resets its dialer's backoff */
#define P2P_KEEPALIVE_S     30u          /* TCP keepalive idle time of an admitted peer, seconds */
#define P2P_ALLOWED_MAX     1024u        /* allow-list entries */
#define P2P_HOST_BYTES_MAX  255u         /* a configured peer's host name (DNS's limit) */
#define P2P_PORT_DIGITS_MAX 5u           /* "65535" */
#define P2P_ADDR_BYTES      (P2P_HOST_BYTES_MAX + 16u) /* "[host]:port" and NUL */
/* First size of the buffer of a frame larger than the read buffer; it then doubles. */
#define P2P_BIG_FIRST_BYTES (2u * P2P_READ_BYTES)
#define P2P_KEY_PEM_BYTES   2048u /* PKCS#8 PEM of a node key */

_Static_assert(SLQ_P2P_HELLO_BYTES_MAX < P2P_READ_BYTES, "a handshake frame fits the buffer");
_Static_assert(SLQ_FRAME_BYTES_MAX <= UINT32_MAX - P2P_HEADER_BYTES, "a frame fits uint32");
_Static_assert(SLQ_CHAIN_ID_BYTES_MAX <= UINT8_MAX, "the chain id length fits its byte");
_Static_assert(P2P_HOST_BYTES_MAX + sizeof "[]:" + P2P_PORT_DIGITS_MAX <= P2P_ADDR_BYTES,
               "\"[host]:port\" and its NUL fit an address");
_Static_assert(INET6_ADDRSTRLEN <= P2P_HOST_BYTES_MAX, "an IP address text fits a host name");
_Static_assert(P2P_BIG_FIRST_BYTES > P2P_READ_BYTES, "a big frame's buffer is bigger");

/* One encoded frame shared by every connection that queued it. */
typedef struct {
    uint32_t refs;
    uint32_t len;    /* bytes[0..len): length prefix and Envelope */
    uint8_t bytes[]; /* uint8_t: no alignment needs beyond the header */
} msg;

typedef enum {
    CONN_FREE = 0,
    CONN_CONNECTING, /* outbound: uv_tcp_connect in flight */
    CONN_HANDSHAKE,  /* connected: Hello and HelloAck only */
    CONN_WAITING,    /* handshake done; waits for a replaced duplicate to finish closing */
    CONN_ADMITTED,
    CONN_CLOSING, /* uv_close called, waiting for the close callbacks */
} conn_state;

typedef enum {
    DIAL_IDLE = 0,  /* backoff timer running */
    DIAL_RESOLVING, /* getaddrinfo in flight */
    DIAL_CONNECTED, /* its slot holds a connection */
    DIAL_PARKED,    /* its address leads to ourselves or to a node connected otherwise */
} dial_state;

struct conn;

typedef struct dialer {
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct p2p *p;
    struct conn *conn; /* its slot */
    dial_state state;
    uint32_t backoff_ms; /* the next delay, before jitter */
    uint16_t port;
    char port_text[P2P_PORT_DIGITS_MAX + 1];
    char host[P2P_HOST_BYTES_MAX + 1];
    char addr[P2P_ADDR_BYTES]; /* as configured, for logs */
    size_t key_len;            /* 0: no handshake finished yet */
    uint8_t key[CRYPTO_PUBKEY_BYTES_MAX];
} dialer;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* handshake deadline */
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct p2p *p;
    dialer *d; /* NULL: inbound */
    conn_state state;
    uint32_t id; /* the peer id of p2p.h; also in logs before admission */
    unsigned handles_open;
    bool reading;
    bool writing;
    bool was_admitted; /* closing an admitted connection: peer_fn(down) is due */
    bool hello_got;
    bool in_frame; /* the length of the next frame has been read */
    bool in_big;   /* the frame is read into big */
    uint64_t admitted_ms;
    uint64_t accepted_ms; /* inbound: when full, an old handshake gives way (inbound_victim) */
    conn_addr addr;       /* inbound: the remote's, for SLQ_P2P_HANDSHAKES_PER_ADDR_MAX */
    uint64_t peer_height;
    uint32_t frame_len;
    uint8_t *rbuf; /* P2P_READ_BYTES; [roff, rlen) read but not decoded */
    size_t roff, rlen;
    uint8_t *big; /* a frame larger than rbuf; [0, big_got) read */
    size_t big_cap, big_got;
    msg **ring; /* queued messages: [ring_head, +inflight) in the uv_write, then pending */
    size_t ring_cap, ring_head, ring_count, inflight;
    size_t queued_bytes;
    uint8_t challenge[P2P_CHALLENGE_BYTES]; /* ours, for the peer to sign */
    uint8_t peer_challenge[P2P_CHALLENGE_BYTES];
    uint8_t peer_addr[CRYPTO_ADDRESS_BYTES];
    size_t peer_key_len;
    uint8_t peer_key[CRYPTO_PUBKEY_BYTES_MAX];
    char key_text[CRYPTO_ADDRESS_TEXT_BYTES]; /* "-" until the peer's Hello */
    char remote[P2P_ADDR_BYTES];
} conn;

struct p2p {
    uv_loop_t *loop;
    conn_slots slots; /* listener, spare, open count, closing */
    crypto_suite suite;
    crypto_key *key;
    size_t key_len;
    uint8_t key_pub[CRYPTO_PUBKEY_BYTES_MAX];
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    size_t chain_id_len;
    char chain_id[SLQ_CHAIN_ID_BYTES_MAX + 1];
    uint8_t genesis[CRYPTO_HASH_BYTES];
    uint8_t *allowed; /* allowed_count keys of key_len bytes */
    size_t allowed_count;
    uint64_t (*height_fn)(void *arg);
    p2p_peer_fn peer_fn;
    p2p_msg_fn msg_fn;
    void *arg;
    p2p_closed_fn closed_fn;
    void *closed_arg;
    dialer *dialers;
    size_t dialers_count;
    conn *conns; /* dialers_count outbound slots, then SLQ_PEERS_MAX + 1 inbound */
    size_t conns_count;
    log_limit per_addr_log; /* inbound refused: its address has too many in handshake */
    log_limit full_log;     /* inbound refused: every inbound slot admitted */
    log_limit evict_log;    /* the oldest inbound in handshake closed for a new one */
    log_limit refuse_log;   /* handshakes refused (conn_refuse) */
    log_limit frame_log;    /* bad frames before admission */
    log_limit timeout_log;  /* handshake deadlines passed */
    size_t admitted_count;
    unsigned handles_open; /* dialer timers */
    unsigned gai_pending;
    uint32_t handshake_ms;
    uint32_t id_seq;
    uint64_t rng;
};

static void conn_close(conn *c);
static void conn_process(conn *c);
static void conn_write_cb(uv_write_t *req, int status);
static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void conn_timer_cb(uv_timer_t *t);
static void dialer_timer_cb(uv_timer_t *t);
static void p2p_free_if_done(p2p *p);

/* ------------------------------------------------------------------ small helpers */

static bool p2p_closing(const p2p *p) {
    return conn_slots_closing(&p->slots);
}

static uint32_t be32_read(const uint8_t *b) {
    return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

static void be32_write(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t) (v >> 24);
    b[1] = (uint8_t) (v >> 16);
    b[2] = (uint8_t) (v >> 8);
    b[3] = (uint8_t) v;
}

/* splitmix64: backoff jitter only, seeded from crypto_random. */
static uint64_t rng_next(p2p *p) {
    uint64_t z = (p->rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* A delay in [ms / 2, ms], so that nodes that failed together do not retry in lockstep. */
static uint32_t jitter_ms(p2p *p, uint32_t ms) {
    uint32_t half = ms / 2;
    return half + (uint32_t) (rng_next(p) % ((uint64_t) (ms - half) + 1));
}

static uint32_t p2p_next_id(p2p *p) {
    p->id_seq++;
    if (p->id_seq == 0 || p->id_seq == UINT32_MAX) p->id_seq = 1; /* UINT32_MAX means none */
    return p->id_seq;
}

static bool key_is_self(const p2p *p, const uint8_t *key, size_t len) {
    return len == p->key_len && memcmp(key, p->key_pub, len) == 0;
}

static bool key_allowed(const p2p *p, const uint8_t *key, size_t len) {
    if (len != p->key_len) return false;
    for (size_t i = 0; i < p->allowed_count; i++) {
        if (memcmp(p->allowed + i * p->key_len, key, len) == 0) return true;
    }
    return false;
}

static bool conn_has_key(const conn *c, const uint8_t *key, size_t len) {
    return c->peer_key_len == len && memcmp(c->peer_key, key, len) == 0;
}

/* The first connection other than `skip` to the node `key` in `state`, or NULL. */
static conn *conn_find_key(p2p *p, const conn *skip, const uint8_t *key, size_t len,
                           conn_state state) {
    for (size_t i = 0; i < p->conns_count; i++) {
        conn *c = &p->conns[i];
        if (c != skip && c->state == state && conn_has_key(c, key, len)) return c;
    }
    return NULL;
}

/* An admitted connection to `key` is closing and its peer_fn(down) has not run yet. */
static bool key_down_pending(p2p *p, const conn *skip, const uint8_t *key, size_t len) {
    for (size_t i = 0; i < p->conns_count; i++) {
        const conn *c = &p->conns[i];
        if (c != skip && c->state == CONN_CLOSING && c->was_admitted && conn_has_key(c, key, len)) {
            return true;
        }
    }
    return false;
}

/* The admitted (or about to be) connection to `key`, other than `skip`. */
static conn *key_holder(p2p *p, const conn *skip, const uint8_t *key, size_t len) {
    conn *h = conn_find_key(p, skip, key, len, CONN_ADMITTED);
    return h != NULL ? h : conn_find_key(p, skip, key, len, CONN_WAITING);
}

static conn *conn_find_admitted(p2p *p, uint32_t id) {
    for (size_t i = 0; i < p->conns_count; i++) {
        if (p->conns[i].state == CONN_ADMITTED && p->conns[i].id == id) return &p->conns[i];
    }
    return NULL;
}

/* Writes "ip:port" or "[ip]:port" of a socket address into out. */
static void addr_format(char out[P2P_ADDR_BYTES], const struct sockaddr_storage *sa) {
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    int r = UV_EAI_FAMILY;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        r = uv_ip4_name(in, ip, sizeof ip);
        port = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        r = uv_ip6_name(in6, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
    }
    if (r < 0) memcpy(ip, "?", 2);
    /* (void): an address and a port always fit */
    if (sa->ss_family == AF_INET6) {
        (void) snprintf(out, P2P_ADDR_BYTES, "[%s]:%u", ip, port);
    } else {
        (void) snprintf(out, P2P_ADDR_BYTES, "%s:%u", ip, port);
    }
}

/* ------------------------------------------------------------------ writing */

static void msg_unref(msg *m) {
    SLQ_ASSERT(m->refs > 0);
    if (--m->refs == 0) free(m);
}

/* Encodes env with its length prefix into a new buffer holding one reference (the
 * caller's). SLQ_INVALID_ARGUMENT if it is over the frame limit. */
static slq_err msg_encode(msg **out, const Slq__Envelope *env) {
    size_t n = slq__envelope__get_packed_size(env);
    if (n > SLQ_FRAME_BYTES_MAX) {
        log_warn("p2p: send: frame too large bytes=%zu max=%u", n, SLQ_FRAME_BYTES_MAX);
        return SLQ_INVALID_ARGUMENT;
    }
    msg *m = malloc(sizeof *m + P2P_HEADER_BYTES + n);
    if (m == NULL) {
        log_warn("p2p: send: no memory bytes=%zu", n);
        return SLQ_NO_MEMORY;
    }
    m->refs = 1;
    m->len = (uint32_t) (P2P_HEADER_BYTES + n);
    be32_write(m->bytes, (uint32_t) n);
    size_t packed = slq__envelope__pack(env, m->bytes + P2P_HEADER_BYTES);
    SLQ_ASSERT(packed == n);
    *out = m;
    return SLQ_OK;
}

/* Drops the first n queued messages (written, or the connection is gone). */
static void ring_release(conn *c, size_t n) {
    SLQ_ASSERT(n <= c->ring_count);
    for (size_t i = 0; i < n; i++) {
        msg *m = c->ring[c->ring_head];
        c->ring[c->ring_head] = NULL;
        c->ring_head = (c->ring_head + 1) % c->ring_cap;
        c->ring_count--;
        SLQ_ASSERT(c->queued_bytes >= m->len);
        c->queued_bytes -= m->len;
        msg_unref(m);
    }
}

/* Doubles the ring, keeping the queued messages in order from index 0. */
static slq_err ring_grow(conn *c) {
    size_t cap = c->ring_cap == 0 ? P2P_RING_MIN : c->ring_cap * 2;
    msg **r = malloc(cap * sizeof *r);
    if (r == NULL) return SLQ_NO_MEMORY;
    for (size_t i = 0; i < c->ring_count; i++) r[i] = c->ring[(c->ring_head + i) % c->ring_cap];
    free(c->ring);
    c->ring = r;
    c->ring_cap = cap;
    c->ring_head = 0;
    return SLQ_OK;
}

/* Hands up to P2P_WRITE_BUFS queued messages to one uv_write, unless one is in flight. */
static void conn_write_start(conn *c) {
    if (c->writing || c->ring_count == 0) return;
    uv_buf_t bufs[P2P_WRITE_BUFS];
    size_t n = c->ring_count < P2P_WRITE_BUFS ? c->ring_count : P2P_WRITE_BUFS;
    for (size_t i = 0; i < n; i++) {
        msg *m = c->ring[(c->ring_head + i) % c->ring_cap];
        bufs[i] = uv_buf_init((char *) m->bytes, m->len);
    }
    c->write_req.data = c;
    int r = uv_write(&c->write_req, (uv_stream_t *) &c->tcp, bufs, (unsigned) n, conn_write_cb);
    if (r < 0) {
        log_info("p2p: write: peer=%u key=%s err=%s", c->id, c->key_text, uv_err_name(r));
        conn_close(c);
        return;
    }
    c->writing = true;
    c->inflight = n;
}

static void conn_write_cb(uv_write_t *req, int status) {
    conn *c = req->data;
    SLQ_ASSERT(c->writing);
    ring_release(c, c->inflight);
    c->writing = false;
    c->inflight = 0;
    if (c->state == CONN_CLOSING) return; /* cancelled by uv_close */
    if (status < 0) {
        log_info("p2p: write: failed peer=%u key=%s err=%s", c->id, c->key_text,
                 uv_err_name(status));
        conn_close(c);
        return;
    }
    conn_write_start(c);
}

/* Queues m on c (taking a reference) and starts writing. A queue over its limit closes
 * the connection (SLQ_NET), and so does a ring that cannot grow (SLQ_NO_MEMORY). */
static slq_err conn_enqueue(conn *c, msg *m) {
    SLQ_ASSERT(c->state == CONN_HANDSHAKE || c->state == CONN_ADMITTED);
    SLQ_ASSERT(c->queued_bytes <= SLQ_P2P_QUEUE_BYTES_MAX);
    if (m->len > SLQ_P2P_QUEUE_BYTES_MAX - c->queued_bytes || c->ring_count == P2P_QUEUE_MSGS_MAX) {
        log_warn("p2p: send: queue full, disconnecting peer=%u key=%s bytes=%zu msgs=%zu "
                 "max=%u",
                 c->id, c->key_text, c->queued_bytes, c->ring_count, SLQ_P2P_QUEUE_BYTES_MAX);
        conn_close(c);
        return SLQ_NET;
    }
    if (c->ring_count == c->ring_cap && ring_grow(c) != SLQ_OK) {
        log_warn("p2p: send: no memory for the queue peer=%u msgs=%zu", c->id, c->ring_count);
        conn_close(c);
        return SLQ_NO_MEMORY;
    }
    c->ring[(c->ring_head + c->ring_count) % c->ring_cap] = m;
    c->ring_count++;
    c->queued_bytes += m->len;
    m->refs++;
    conn_write_start(c);
    return SLQ_OK;
}

static slq_err conn_send_env(conn *c, const Slq__Envelope *env) {
    msg *m = NULL;
    slq_err e = msg_encode(&m, env);
    if (e != SLQ_OK) {
        conn_close(c);
        return e;
    }
    e = conn_enqueue(c, m);
    msg_unref(m);
    return e;
}

/* ------------------------------------------------------------------ closing */

static void conn_timer_start(conn *c, uint32_t ms) {
    if (!conn_slots_timer_start(&c->p->slots, &c->timer, conn_timer_cb, ms, c->id)) {
        conn_close(c); /* a handshake without its deadline could hang forever */
    }
}

static void conn_timer_stop(conn *c) {
    conn_slots_timer_stop(&c->p->slots, &c->timer, c->id);
}

static void conn_read_start(conn *c) {
    if (c->reading) return;
    int r = uv_read_start((uv_stream_t *) &c->tcp, conn_alloc_cb, conn_read_cb);
    if (r < 0) {
        log_warn("p2p: read: start peer=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void conn_read_stop(conn *c) {
    if (!c->reading) return;
    int r = uv_read_stop((uv_stream_t *) &c->tcp);
    if (r < 0) log_warn("p2p: read: stop peer=%u err=%s", c->id, uv_err_name(r));
    c->reading = false;
}

static void conn_close_cb(uv_handle_t *h);

/* Closes the connection's handles; the slot is released in the last close callback, which
 * also reports the peer down. Pending writes are cancelled (their callbacks run first).
 * Idempotent; never calls out. */
static void conn_close(conn *c) {
    if (c->state == CONN_CLOSING) return;
    SLQ_ASSERT(c->state != CONN_FREE);
    p2p *p = c->p;
    if (c->state == CONN_ADMITTED) {
        SLQ_ASSERT(p->admitted_count > 0);
        p->admitted_count--;
        c->was_admitted = true;
    }
    c->state = CONN_CLOSING;
    c->reading = false;
    uv_close((uv_handle_t *) &c->tcp, conn_close_cb);
    uv_close((uv_handle_t *) &c->timer, conn_close_cb);
}

/* Whether a warning about c may be written now: always for an admitted peer (a validator
 * misbehaving is news) and for our own dials (their backoff bounds them), at most once per
 * interval of `l` for an inbound connection before admission (anyone can open those by the
 * thousand). Sets *suppressed to the count held back. */
static bool conn_warn_ok(conn *c, log_limit *l, uint64_t *suppressed) {
    *suppressed = 0;
    if (c->state == CONN_ADMITTED || c->d != NULL) return true;
    return log_limit_allow(l, uv_now(c->p->loop), suppressed);
}

/* Logs why the handshake failed and closes. */
static void conn_refuse(conn *c, const char *why) {
    uint64_t suppressed = 0;
    if (conn_warn_ok(c, &c->p->refuse_log, &suppressed)) {
        log_warn("p2p: handshake: refused peer=%u remote=%s key=%s reason=%s suppressed=%" PRIu64,
                 c->id, c->remote, c->key_text, why, suppressed);
    }
    conn_close(c);
}

/* ------------------------------------------------------------------ dialling */

static void dialer_schedule(dialer *d, uint32_t ms) {
    d->state = DIAL_IDLE;
    int r = uv_timer_start(&d->timer, dialer_timer_cb, ms, 0);
    if (r < 0) log_error("p2p: dial: timer addr=%s err=%s", d->addr, uv_err_name(r));
}

/* Waits the jittered backoff, then dials again; the next wait doubles. */
static void dialer_backoff(dialer *d) {
    uint32_t ms = jitter_ms(d->p, d->backoff_ms);
    d->backoff_ms = d->backoff_ms > P2P_BACKOFF_MAX_MS / 2 ? P2P_BACKOFF_MAX_MS : d->backoff_ms * 2;
    log_debug("p2p: dial: retry addr=%s in_ms=%u", d->addr, ms);
    dialer_schedule(d, ms);
}

/* Its connection is gone: park the dialer if it leads to ourselves or to a node connected
 * another way, else dial again after the backoff. */
static void dialer_after_conn(dialer *d, bool stable) {
    p2p *p = d->p;
    SLQ_ASSERT(d->state == DIAL_CONNECTED);
    bool self = key_is_self(p, d->key, d->key_len);
    if (d->key_len > 0 && (self || key_holder(p, NULL, d->key, d->key_len) != NULL)) {
        d->state = DIAL_PARKED;
        log_info("p2p: dial: parked addr=%s reason=%s", d->addr, self ? "self" : "connected");
        return;
    }
    if (stable) d->backoff_ms = P2P_BACKOFF_MIN_MS;
    dialer_backoff(d);
}

/* The connection to `key` is gone for good: dialers parked on it dial again soon. */
static void dialers_unpark(p2p *p, const uint8_t *key, size_t len) {
    for (size_t i = 0; i < p->dialers_count; i++) {
        dialer *d = &p->dialers[i];
        if (d->state != DIAL_PARKED || d->key_len != len || memcmp(d->key, key, len) != 0) {
            continue;
        }
        d->backoff_ms = P2P_BACKOFF_MIN_MS;
        dialer_backoff(d);
    }
}

/* Clears a free slot for a new connection, keeping its buffers, dialer and ring. */
static void conn_reset(conn *c) {
    conn keep = *c;
    SLQ_ASSERT(keep.ring_count == 0);
    memset(c, 0, sizeof *c);
    c->p = keep.p;
    c->d = keep.d;
    c->rbuf = keep.rbuf;
    c->ring = keep.ring;
    c->ring_cap = keep.ring_cap;
    memcpy(c->key_text, "-", sizeof "-");
}

/* Takes the free slot c for a new connection: handles initialised, state CONNECTING.
 * Returns false if the slot stays free; true with c->state CLOSING if it failed after
 * taking the slot (its release does the rest). */
static bool conn_take(p2p *p, conn *c) {
    SLQ_ASSERT(c->state == CONN_FREE);
    if (c->rbuf == NULL) {
        c->rbuf = malloc(P2P_READ_BYTES);
        if (c->rbuf == NULL) {
            log_warn("p2p: conn: no memory for the read buffer");
            return false;
        }
    }
    conn_reset(c);
    int r = uv_tcp_init(p->loop, &c->tcp);
    if (r < 0) {
        log_warn("p2p: conn: tcp init err=%s", uv_err_name(r));
        return false;
    }
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = CONN_SLOT_HANDLES;
    c->state = CONN_CONNECTING;
    c->id = p2p_next_id(p);
    conn_slots_opened(&p->slots);
    r = uv_timer_init(p->loop, &c->timer);
    if (r < 0) { /* close the tcp handle alone */
        log_warn("p2p: conn: timer init err=%s", uv_err_name(r));
        c->handles_open = 1;
        c->state = CONN_CLOSING;
        uv_close((uv_handle_t *) &c->tcp, conn_close_cb);
    }
    return true;
}

static void conn_send_hello(conn *c);

/* TCP is up (accepted or connected): send our Hello and read theirs. */
static void conn_established(conn *c) {
    SLQ_ASSERT(c->state == CONN_CONNECTING);
    c->state = CONN_HANDSHAKE;
    int r = uv_tcp_nodelay(&c->tcp, 1); /* votes are small and urgent */
    if (r < 0) log_debug("p2p: conn: nodelay peer=%u err=%s", c->id, uv_err_name(r));
    conn_send_hello(c);
    if (c->state == CONN_HANDSHAKE) conn_read_start(c);
}

static void conn_connect_cb(uv_connect_t *req, int status) {
    conn *c = req->data;
    if (c->state == CONN_CLOSING) return; /* cancelled by uv_close */
    SLQ_ASSERT(c->state == CONN_CONNECTING);
    if (status < 0) {
        log_info("p2p: dial: failed addr=%s err=%s", c->remote, uv_err_name(status));
        conn_close(c); /* its release schedules the next try */
        return;
    }
    log_debug("p2p: dial: connected peer=%u addr=%s", c->id, c->remote);
    conn_established(c);
}

static void dialer_connect(dialer *d, const struct sockaddr *sa) {
    p2p *p = d->p;
    conn *c = d->conn;
    if (!conn_take(p, c)) {
        dialer_backoff(d);
        return;
    }
    d->state = DIAL_CONNECTED;
    if (c->state != CONN_CONNECTING) return; /* failed: its release retries */
    memcpy(c->remote, d->addr, sizeof c->remote);
    c->connect_req.data = c;
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, sa, conn_connect_cb);
    if (r < 0) {
        log_info("p2p: dial: failed addr=%s err=%s", d->addr, uv_err_name(r));
        conn_close(c);
        return;
    }
    conn_timer_start(c, p->handshake_ms);
}

static void dialer_resolved_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    dialer *d = req->data;
    p2p *p = d->p;
    SLQ_ASSERT(p->gai_pending > 0);
    p->gai_pending--;
    if (p2p_closing(p)) {
        uv_freeaddrinfo(res);
        p2p_free_if_done(p);
        return;
    }
    if (status < 0 || res == NULL) {
        log_info("p2p: dial: resolve addr=%s err=%s", d->addr, uv_err_name(status));
        uv_freeaddrinfo(res);
        dialer_backoff(d);
        return;
    }
    dialer_connect(d, res->ai_addr); /* the first address; the backoff retries */
    uv_freeaddrinfo(res);
}

static void dialer_timer_cb(uv_timer_t *t) {
    dialer *d = t->data;
    p2p *p = d->p;
    if (p2p_closing(p) || d->state != DIAL_IDLE) return;
    struct sockaddr_storage sa;
    if (conn_slots_addr_parse(&sa, d->host, d->port)) {
        dialer_connect(d, (const struct sockaddr *) &sa);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    d->gai.data = d;
    int r = uv_getaddrinfo(p->loop, &d->gai, dialer_resolved_cb, d->host, d->port_text, &hints);
    if (r < 0) {
        log_info("p2p: dial: resolve addr=%s err=%s", d->addr, uv_err_name(r));
        dialer_backoff(d);
        return;
    }
    d->state = DIAL_RESOLVING;
    p->gai_pending++;
}

/* ------------------------------------------------------------------ admission */

static void conn_admit(conn *c) {
    p2p *p = c->p;
    SLQ_ASSERT(c->state == CONN_HANDSHAKE || c->state == CONN_WAITING);
    c->state = CONN_ADMITTED;
    c->admitted_ms = uv_now(p->loop);
    p->admitted_count++;
    int r = uv_tcp_keepalive(&c->tcp, 1, P2P_KEEPALIVE_S);
    if (r < 0) log_debug("p2p: conn: keepalive peer=%u err=%s", c->id, uv_err_name(r));
    log_info("p2p: handshake: admitted peer=%u remote=%s key=%s dir=%s height=%" PRIu64
             " peers=%zu",
             c->id, c->remote, c->key_text, c->d != NULL ? "out" : "in", c->peer_height,
             p->admitted_count);
    p->peer_fn(p->arg, c->id, true, c->peer_key, c->peer_key_len);
}

/* Rank of a connection among duplicates, the same at both of its ends: 0 if the node with
 * the smaller address dialled it, else 1; then the dialler's challenge. The smaller wins. */
static void conn_rank(const conn *c, uint8_t out[1 + P2P_CHALLENGE_BYTES]) {
    bool we_dialled = c->d != NULL;
    bool we_smaller = memcmp(c->p->addr, c->peer_addr, CRYPTO_ADDRESS_BYTES) < 0;
    out[0] = we_dialled == we_smaller ? 0 : 1;
    memcpy(out + 1, we_dialled ? c->challenge : c->peer_challenge, P2P_CHALLENGE_BYTES);
}

static bool conn_beats(const conn *a, const conn *b) {
    uint8_t ra[1 + P2P_CHALLENGE_BYTES], rb[1 + P2P_CHALLENGE_BYTES];
    conn_rank(a, ra);
    conn_rank(b, rb);
    return memcmp(ra, rb, sizeof ra) < 0;
}

/* Both proofs are in: refuse ourselves and the loser of a duplicate, else admit now or
 * once the replaced duplicate has reported down. */
static void conn_handshake_done(conn *c) {
    p2p *p = c->p;
    conn_timer_stop(c);
    if (c->d != NULL) { /* the dialer learns who is behind its address */
        memcpy(c->d->key, c->peer_key, c->peer_key_len);
        c->d->key_len = c->peer_key_len;
    }
    if (key_is_self(p, c->peer_key, c->peer_key_len)) {
        conn_refuse(c, "self");
        return;
    }
    conn *h = key_holder(p, c, c->peer_key, c->peer_key_len);
    if (h != NULL && conn_beats(h, c)) {
        log_info("p2p: handshake: duplicate closed peer=%u kept=%u key=%s", c->id, h->id,
                 c->key_text);
        conn_close(c);
        return;
    }
    if (h != NULL) {
        log_info("p2p: handshake: duplicate replaced peer=%u by=%u key=%s", h->id, c->id,
                 c->key_text);
        conn_close(h);
    }
    if (key_down_pending(p, c, c->peer_key, c->peer_key_len)) {
        c->state = CONN_WAITING; /* conn_process stops reading */
        return;
    }
    conn_admit(c);
}

/* The preimage signed in a HelloAck: 0x02 | u8 len | chain_id | genesis_hash | challenge |
 * signer's node key. Returns its length. */
static size_t preimage_build(const p2p *p, uint8_t out[P2P_PREIMAGE_BYTES_MAX],
                             const uint8_t challenge[P2P_CHALLENGE_BYTES], const uint8_t *signer,
                             size_t signer_len) {
    SLQ_ASSERT(p->chain_id_len <= SLQ_CHAIN_ID_BYTES_MAX);
    SLQ_ASSERT(signer_len <= CRYPTO_PUBKEY_BYTES_MAX);
    size_t n = 0;
    out[n++] = P2P_PREIMAGE_TAG;
    out[n++] = (uint8_t) p->chain_id_len;
    memcpy(out + n, p->chain_id, p->chain_id_len);
    n += p->chain_id_len;
    memcpy(out + n, p->genesis, CRYPTO_HASH_BYTES);
    n += CRYPTO_HASH_BYTES;
    memcpy(out + n, challenge, P2P_CHALLENGE_BYTES);
    n += P2P_CHALLENGE_BYTES;
    memcpy(out + n, signer, signer_len);
    return n + signer_len;
}

static void conn_send_hello(conn *c) {
    p2p *p = c->p;
    if (crypto_random(c->challenge, sizeof c->challenge) != SLQ_OK) {
        log_warn("p2p: handshake: no random challenge peer=%u", c->id);
        conn_close(c);
        return;
    }
    Slq__Hello hello = SLQ__HELLO__INIT;
    hello.chain_id = p->chain_id;
    hello.genesis_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, p->genesis};
    hello.node_pubkey = (ProtobufCBinaryData){p->key_len, p->key_pub};
    hello.challenge = (ProtobufCBinaryData){P2P_CHALLENGE_BYTES, c->challenge};
    hello.height = p->height_fn != NULL ? p->height_fn(p->arg) : 0;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO;
    env.hello = &hello;
    slq_err e = conn_send_env(c, &env);
    if (e != SLQ_OK) return; /* logged, and the connection is closed */
}

static void conn_send_ack(conn *c) {
    p2p *p = c->p;
    uint8_t pre[P2P_PREIMAGE_BYTES_MAX];
    size_t n = preimage_build(p, pre, c->peer_challenge, p->key_pub, p->key_len);
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    slq_err e = crypto_sign(p->key, sig, sizeof sig, &sig_len, pre, n);
    if (e != SLQ_OK) {
        log_warn("p2p: handshake: sign peer=%u err=%s", c->id, slq_err_name(e));
        conn_close(c);
        return;
    }
    Slq__HelloAck ack = SLQ__HELLO_ACK__INIT;
    ack.signature = (ProtobufCBinaryData){sig_len, sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO_ACK;
    env.hello_ack = &ack;
    e = conn_send_env(c, &env);
    if (e != SLQ_OK) return; /* logged, and the connection is closed */
}

/* Why a Hello (whose key has the suite's length) is refused, or NULL. */
static const char *hello_check(const p2p *p, const Slq__Hello *h) {
    if (strlen(h->chain_id) != p->chain_id_len ||
        memcmp(h->chain_id, p->chain_id, p->chain_id_len) != 0) {
        return "chain id mismatch";
    }
    if (h->genesis_hash.len != CRYPTO_HASH_BYTES ||
        !crypto_equal(h->genesis_hash.data, p->genesis, CRYPTO_HASH_BYTES)) {
        return "genesis hash mismatch";
    }
    const uint8_t *key = h->node_pubkey.data;
    size_t len = h->node_pubkey.len;
    /* Our own key passes here: a self-connection is refused once its signature verifies. */
    if (!key_allowed(p, key, len) && !key_is_self(p, key, len)) return "unknown key";
    return NULL;
}

static void conn_on_hello(conn *c, const Slq__Hello *h) {
    p2p *p = c->p;
    if (c->hello_got) {
        conn_refuse(c, "second hello");
        return;
    }
    if (h->node_pubkey.len != p->key_len || h->challenge.len != P2P_CHALLENGE_BYTES ||
        crypto_address(p->suite, c->peer_addr, h->node_pubkey.data, h->node_pubkey.len) != SLQ_OK) {
        conn_refuse(c, "malformed hello");
        return;
    }
    crypto_address_format(c->key_text, c->peer_addr);
    const char *why = hello_check(p, h);
    if (why != NULL) {
        conn_refuse(c, why);
        return;
    }
    c->hello_got = true;
    memcpy(c->peer_key, h->node_pubkey.data, h->node_pubkey.len);
    c->peer_key_len = h->node_pubkey.len;
    memcpy(c->peer_challenge, h->challenge.data, P2P_CHALLENGE_BYTES);
    c->peer_height = h->height;
    conn_send_ack(c);
}

static void conn_on_ack(conn *c, const Slq__HelloAck *a) {
    p2p *p = c->p;
    if (!c->hello_got) {
        conn_refuse(c, "ack before hello");
        return;
    }
    if (a->signature.len == 0 || a->signature.len > CRYPTO_SIG_BYTES_MAX) {
        conn_refuse(c, "bad signature");
        return;
    }
    uint8_t pre[P2P_PREIMAGE_BYTES_MAX];
    size_t n = preimage_build(p, pre, c->challenge, c->peer_key, c->peer_key_len);
    slq_err e = crypto_verify(p->suite, c->peer_key, c->peer_key_len, pre, n, a->signature.data,
                              a->signature.len);
    if (e != SLQ_OK) {
        conn_refuse(c, "bad signature");
        return;
    }
    conn_handshake_done(c);
}

/* ------------------------------------------------------------------ reading */

/* The message inside env, or NULL for bytes (tx) and for none. */
static const ProtobufCMessage *envelope_inner(const Slq__Envelope *env) {
    switch (env->msg_case) {
        case SLQ__ENVELOPE__MSG_HELLO:
            return &env->hello->base;
        case SLQ__ENVELOPE__MSG_HELLO_ACK:
            return &env->hello_ack->base;
        case SLQ__ENVELOPE__MSG_PROPOSAL:
            return &env->proposal->base;
        case SLQ__ENVELOPE__MSG_VOTE:
            return &env->vote->base;
        case SLQ__ENVELOPE__MSG_EVIDENCE:
            return &env->evidence->base;
        case SLQ__ENVELOPE__MSG_STATUS:
            return &env->status->base;
        case SLQ__ENVELOPE__MSG_BLOCK_REQUEST:
            return &env->block_request->base;
        case SLQ__ENVELOPE__MSG_BLOCK_RESPONSE:
            return &env->block_response->base;
        case SLQ__ENVELOPE__MSG_REFUSALS:
            return &env->refusals->base;
        default:
            return NULL;
    }
}

/* Why a decoded Envelope is refused whatever the state, or NULL. */
static const char *envelope_check(const Slq__Envelope *env) {
    if (env->msg_case == SLQ__ENVELOPE__MSG__NOT_SET) return "empty envelope";
    const ProtobufCMessage *inner = envelope_inner(env);
    if (env->base.n_unknown_fields != 0 || (inner != NULL && inner->n_unknown_fields != 0)) {
        return "unknown fields";
    }
    return NULL;
}

static bool env_is_handshake(const Slq__Envelope *env) {
    return env->msg_case == SLQ__ENVELOPE__MSG_HELLO ||
           env->msg_case == SLQ__ENVELOPE__MSG_HELLO_ACK;
}

/* Decodes and dispatches one frame. The callee may close c, or the whole p2p. */
static void conn_frame(conn *c, const uint8_t *data, size_t len) {
    p2p *p = c->p;
    Slq__Envelope *env = slq__envelope__unpack(NULL, len, data);
    const char *bad = env == NULL ? "frame does not decode" : envelope_check(env);
    if (bad == NULL && c->state == CONN_HANDSHAKE && !env_is_handshake(env)) {
        bad = "message before the handshake";
    } else if (bad == NULL && c->state == CONN_ADMITTED && env_is_handshake(env)) {
        bad = "handshake message after the handshake";
    }
    uint64_t suppressed = 0;
    if (bad != NULL && conn_warn_ok(c, &p->frame_log, &suppressed)) {
        log_warn("p2p: read: %s, disconnecting peer=%u remote=%s key=%s bytes=%zu "
                 "suppressed=%" PRIu64,
                 bad, c->id, c->remote, c->key_text, len, suppressed);
    }
    if (bad != NULL) {
        conn_close(c);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_HELLO) {
        conn_on_hello(c, env->hello);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_HELLO_ACK) {
        conn_on_ack(c, env->hello_ack);
    } else {
        p->msg_fn(p->arg, c->id, env);
    }
    if (env != NULL) slq__envelope__free_unpacked(env, NULL);
}

/* Grows big (doubling, at most to the frame's length) to hold at least `need` bytes. */
static slq_err conn_big_reserve(conn *c, size_t need) {
    SLQ_ASSERT(need <= c->frame_len);
    if (need <= c->big_cap) return SLQ_OK;
    size_t cap = c->big_cap < P2P_BIG_FIRST_BYTES ? P2P_BIG_FIRST_BYTES : c->big_cap;
    while (cap < need) cap *= 2;
    if (cap > c->frame_len) cap = c->frame_len;
    uint8_t *b = realloc(c->big, cap);
    if (b == NULL) return SLQ_NO_MEMORY;
    c->big = b;
    c->big_cap = cap;
    return SLQ_OK;
}

/* A frame larger than the read buffer: move its first bytes to big and read the rest
 * there. */
static void conn_big_begin(conn *c) {
    size_t avail = c->rlen - c->roff;
    SLQ_ASSERT(avail < c->frame_len);
    if (conn_big_reserve(c, avail) != SLQ_OK) {
        log_warn("p2p: read: no memory for a frame peer=%u bytes=%u", c->id, c->frame_len);
        conn_close(c);
        return;
    }
    if (avail > 0) memcpy(c->big, c->rbuf + c->roff, avail);
    c->big_got = avail;
    c->roff = 0;
    c->rlen = 0;
    c->in_big = true;
}

/* Takes one step over the read buffer: a length prefix, a frame, or a large frame's move
 * to big. Returns false when it needs more bytes or the connection closed. */
static bool conn_step(conn *c) {
    size_t avail = c->rlen - c->roff;
    if (!c->in_frame) {
        if (avail < P2P_HEADER_BYTES) return false;
        uint32_t len = be32_read(c->rbuf + c->roff);
        uint32_t max = c->state == CONN_ADMITTED ? SLQ_FRAME_BYTES_MAX : SLQ_P2P_HELLO_BYTES_MAX;
        if (len > max) {
            uint64_t suppressed = 0;
            if (conn_warn_ok(c, &c->p->frame_log, &suppressed)) {
                log_warn("p2p: read: frame too large, disconnecting peer=%u remote=%s key=%s "
                         "bytes=%u max=%u suppressed=%" PRIu64,
                         c->id, c->remote, c->key_text, len, max, suppressed);
            }
            conn_close(c);
            return false;
        }
        c->roff += P2P_HEADER_BYTES;
        c->frame_len = len;
        c->in_frame = true;
        return true;
    }
    if (avail >= c->frame_len) {
        const uint8_t *data = c->rbuf + c->roff;
        c->roff += c->frame_len;
        c->in_frame = false;
        conn_frame(c, data, c->frame_len); /* may close c: the caller checks its state */
        return true;
    }
    if (c->frame_len > P2P_READ_BYTES) conn_big_begin(c);
    return false;
}

/* Decodes the complete frames read, one at a time, while the connection is live; keeps a
 * partial frame at the front of the buffer; reads on unless waiting or closed. */
static void conn_process(conn *c) {
    while ((c->state == CONN_HANDSHAKE || c->state == CONN_ADMITTED) && !c->in_big &&
           conn_step(c)) {
    }
    if (c->state == CONN_CLOSING) return;
    if (!c->in_big && c->roff > 0) {
        memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
        c->rlen -= c->roff;
        c->roff = 0;
    }
    SLQ_ASSERT(c->in_big || c->rlen < P2P_READ_BYTES);
    if (c->state == CONN_WAITING) {
        conn_read_stop(c);
    } else {
        conn_read_start(c);
    }
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void) suggested; /* the frame decides */
    conn *c = h->data;
    if (!c->in_big) {
        SLQ_ASSERT(c->rlen < P2P_READ_BYTES);
        *buf = uv_buf_init((char *) c->rbuf + c->rlen, (unsigned) (P2P_READ_BYTES - c->rlen));
        return;
    }
    size_t end = c->big_cap < c->frame_len ? c->big_cap : c->frame_len;
    if (c->big_got == end && conn_big_reserve(c, c->big_got + 1) != SLQ_OK) {
        *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
        return;
    }
    end = c->big_cap < c->frame_len ? c->big_cap : c->frame_len;
    *buf = uv_buf_init((char *) c->big + c->big_got, (unsigned) (end - c->big_got));
}

static void conn_big_read(conn *c, size_t n) {
    c->big_got += n;
    SLQ_ASSERT(c->big_got <= c->frame_len);
    if (c->big_got < c->frame_len) return;
    c->in_big = false;
    c->in_frame = false;
    c->big_got = 0;
    conn_frame(c, c->big, c->frame_len);
    conn_process(c);
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    (void) buf; /* always the tail of rbuf or big */
    conn *c = st->data;
    if (nread == 0) return; /* EAGAIN */
    if (c->state == CONN_CLOSING) return;
    if (nread < 0) {
        const char *what = nread == UV_EOF ? "closed by peer" : uv_err_name((int) nread);
        log_info("p2p: read: %s peer=%u remote=%s key=%s", what, c->id, c->remote, c->key_text);
        conn_close(c);
        return;
    }
    if (c->in_big) {
        conn_big_read(c, (size_t) nread);
        return;
    }
    c->rlen += (size_t) nread;
    SLQ_ASSERT(c->rlen <= P2P_READ_BYTES);
    conn_process(c);
}

static void conn_timer_cb(uv_timer_t *t) {
    conn *c = t->data;
    uint64_t suppressed = 0;
    if (conn_warn_ok(c, &c->p->timeout_log, &suppressed)) {
        log_info("p2p: handshake: timeout peer=%u remote=%s key=%s ms=%u suppressed=%" PRIu64,
                 c->id, c->remote, c->key_text, c->p->handshake_ms, suppressed);
    }
    conn_close(c);
}

/* ------------------------------------------------------------------ release */

/* A connection to `key` reported down: admit the one that waited for it, or let the
 * dialers parked on `key` dial again. */
static void key_released(p2p *p, const uint8_t *key, size_t len) {
    if (key_down_pending(p, NULL, key, len)) return;
    conn *w = conn_find_key(p, NULL, key, len, CONN_WAITING);
    if (w != NULL) {
        conn_admit(w);
        if (w->state == CONN_ADMITTED) conn_process(w); /* what it read meanwhile */
        return;
    }
    if (conn_find_key(p, NULL, key, len, CONN_ADMITTED) == NULL) dialers_unpark(p, key, len);
}

/* The last handle of c closed: free the slot, then report down, admit a waiting duplicate
 * and re-dial. A callback may close p; nothing runs after that but the free check. */
static void conn_release(conn *c) {
    p2p *p = c->p;
    SLQ_ASSERT(c->state == CONN_CLOSING);
    SLQ_ASSERT(!c->writing);
    ring_release(c, c->ring_count);
    free(c->big);
    c->big = NULL;
    c->big_cap = 0;
    bool was = c->was_admitted;
    bool stable = was && uv_now(p->loop) - c->admitted_ms >= P2P_STABLE_MS;
    uint32_t id = c->id;
    size_t key_len = c->peer_key_len;
    uint8_t key[CRYPTO_PUBKEY_BYTES_MAX];
    memcpy(key, c->peer_key, key_len);
    c->state = CONN_FREE;
    c->peer_key_len = 0;
    conn_slots_released(&p->slots);
    if (was && !p2p_closing(p)) {
        log_info("p2p: peer: down peer=%u key=%s peers=%zu", id, c->key_text, p->admitted_count);
        p->peer_fn(p->arg, id, false, key, key_len);
    }
    if (was && !p2p_closing(p)) key_released(p, key, key_len);
    if (c->d != NULL && !p2p_closing(p)) dialer_after_conn(c->d, stable);
    if (p2p_closing(p)) {
        p2p_free_if_done(p);
    } else if (c->d == NULL) {
        conn_slots_retry(&p->slots); /* an inbound connection may wait for this slot */
    }
}

static void conn_close_cb(uv_handle_t *h) {
    conn *c = h->data;
    SLQ_ASSERT(c->handles_open > 0);
    if (--c->handles_open == 0) conn_release(c);
}

/* ------------------------------------------------------------------ accepting */

static conn *inbound_slot_free(p2p *p) {
    for (size_t i = p->dialers_count; i < p->conns_count; i++) {
        if (p->conns[i].state == CONN_FREE) return &p->conns[i];
    }
    return NULL;
}

static bool inbound_slot_closing(const p2p *p) {
    for (size_t i = p->dialers_count; i < p->conns_count; i++) {
        if (p->conns[i].state == CONN_CLOSING) return true;
    }
    return false;
}

static bool conn_in_handshake(const conn *c) {
    return c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE;
}

/* The inbound connections besides `c`, as admission sees them. */
typedef struct {
    size_t kept;      /* not closing */
    size_t same_addr; /* in handshake, from c's address */
} inbound_census;

static inbound_census inbound_count(p2p *p, const conn *c) {
    inbound_census n = {0};
    for (size_t i = p->dialers_count; i < p->conns_count; i++) {
        conn *o = &p->conns[i];
        if (o == c || o->state == CONN_FREE || o->state == CONN_CLOSING) continue;
        n.kept++;
        if (!conn_in_handshake(o)) continue;
        if (conn_addr_equal(&o->addr, &c->addr)) n.same_addr++;
    }
    SLQ_ASSERT(n.same_addr <= n.kept);
    return n;
}

/* Inbound connections in handshake from o's address, c excluded. */
static size_t inbound_handshakes_of(const p2p *p, const conn *o, const conn *c) {
    size_t n = 0;
    for (size_t i = p->dialers_count; i < p->conns_count; i++) {
        const conn *x = &p->conns[i];
        if (x != c && conn_in_handshake(x) && conn_addr_equal(&x->addr, &o->addr)) n++;
    }
    return n;
}

static bool conn_accepted_before(const conn *a, const conn *b) {
    return a->accepted_ms < b->accepted_ms || (a->accepted_ms == b->accepted_ms && a->id < b->id);
}

/* The inbound connection closed for the newcomer c, whose address has `mine` others in
 * handshake, when every inbound slot is taken: one in handshake for at least
 * handshake_ms / P2P_EVICT_AGE_DIV (a younger one may be a peer about to finish, and
 * closing it for each newcomer kept a slow peer out for ever under a flood), from the
 * address holding the most connections in handshake, at least mine + 2 (a flood's, not a
 * lone peer's; and a flood's newcomers do not close each other's once their addresses
 * are even, so its handshakes age and a peer's newcomer finds one to close), the one
 * accepted first. NULL if there is none. O(n^2) in the SLQ_PEERS_MAX + 1 inbound slots,
 * once per accept when full. */
static conn *inbound_victim(p2p *p, const conn *c, size_t mine, uint64_t now) {
    uint64_t age_min = p->handshake_ms / P2P_EVICT_AGE_DIV;
    conn *v = NULL;
    size_t v_count = 0;
    for (size_t i = p->dialers_count; i < p->conns_count; i++) {
        conn *o = &p->conns[i];
        if (o == c || !conn_in_handshake(o)) continue; /* admitted peers never give way */
        if (now - o->accepted_ms < age_min) continue;  /* young: may be a peer */
        size_t count = inbound_handshakes_of(p, o, c);
        if (count < mine + 2) continue; /* its address holds not enough more than c's */
        if (v == NULL || count > v_count || (count == v_count && conn_accepted_before(o, v))) {
            v = o;
            v_count = count;
        }
    }
    SLQ_ASSERT(v == NULL || conn_in_handshake(v));
    return v;
}

/* Decides whether the inbound connection just accepted into c stays: not if its address
 * has SLQ_P2P_HANDSHAKES_PER_ADDR_MAX connections in handshake already. When all
 * SLQ_PEERS_MAX inbound slots are taken, inbound_victim's connection is closed for it; if
 * there is none (every slot holds an admitted peer, a handshake younger than half the
 * deadline or one of an address holding fewer than c's + 2), c is closed. So a peer whose
 * handshake takes less than half the deadline is never closed for a newcomer once accepted;
 * under a flood it may be refused at accept while every handshake is young, and gets a slot
 * when its dial comes back (its backoff is at most 5 s): the flood's own newcomers cannot
 * keep closing each other's, so its handshakes age. Admitted peers are never closed for a
 * newcomer. Returns false (c closed, logged at most once per
 * interval) if c does not stay. */
static bool inbound_admit(p2p *p, conn *c) {
    inbound_census n = inbound_count(p, c);
    uint64_t now = uv_now(p->loop);
    uint64_t suppressed = 0;
    char addr[CONN_ADDR_TEXT_BYTES];
    if (n.same_addr >= SLQ_P2P_HANDSHAKES_PER_ADDR_MAX) {
        if (log_limit_allow(&p->per_addr_log, now, &suppressed)) {
            conn_addr_format(addr, &c->addr);
            log_warn("p2p: accept: refused, address has too many handshakes addr=%s max=%u "
                     "suppressed=%" PRIu64,
                     addr, SLQ_P2P_HANDSHAKES_PER_ADDR_MAX, suppressed);
        }
        conn_close(c);
        return false;
    }
    if (n.kept < SLQ_PEERS_MAX) return true;
    SLQ_ASSERT(n.kept == SLQ_PEERS_MAX);
    conn *v = inbound_victim(p, c, n.same_addr, now);
    if (v == NULL) {
        if (log_limit_allow(&p->full_log, now, &suppressed)) {
            log_warn("p2p: accept: refused, every inbound slot admitted or in a young handshake "
                     "max=%u suppressed=%" PRIu64,
                     SLQ_PEERS_MAX, suppressed);
        }
        conn_close(c);
        return false;
    }
    if (log_limit_allow(&p->evict_log, now, &suppressed)) {
        log_info("p2p: accept: inbound slots full, closing one in handshake peer=%u "
                 "remote=%s for peer=%u suppressed=%" PRIu64,
                 v->id, v->remote, c->id, suppressed);
    }
    conn_close(v);
    return true;
}

/* Accepts the pending connection into the free slot c. Returns false if the connection is
 * still pending; true once accepted, even if it failed afterwards. */
static bool conn_accept(p2p *p, conn *c) {
    if (!conn_take(p, c)) return false;
    if (c->state != CONN_CONNECTING) return false; /* the slot is closing, not accepted */
    int r = conn_slots_accept(&p->slots, &c->tcp);
    if (r < 0) {
        log_warn("p2p: accept: err=%s", uv_err_name(r));
        conn_close(c);
        return true;
    }
    struct sockaddr_storage sa;
    int sa_len = (int) sizeof sa;
    r = uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &sa, &sa_len);
    if (r == 0) addr_format(c->remote, &sa);
    if (r != 0) memcpy(c->remote, "?", 2);
    (void) conn_addr_of(&c->addr, &c->tcp); /* unknown (counted with no other) on failure */
    c->accepted_ms = uv_now(p->loop);
    log_debug("p2p: accept: peer=%u remote=%s", c->id, c->remote);
    if (!inbound_admit(p, c)) return true;
    conn_timer_start(c, p->handshake_ms);
    if (c->state == CONN_CONNECTING) conn_established(c);
    return true;
}

/* conn_slots' take_fn: the pending connection into a free inbound slot, if there is one. */
static conn_slots_take p2p_take(void *arg) {
    p2p *p = arg;
    conn *c = inbound_slot_free(p);
    if (c == NULL) return inbound_slot_closing(p) ? CONN_SLOTS_LATER : CONN_SLOTS_REFUSE;
    return conn_accept(p, c) ? CONN_SLOTS_TAKEN : CONN_SLOTS_REFUSE;
}

/* ------------------------------------------------------------------ start and close */

static void p2p_free_if_done(p2p *p) {
    if (!conn_slots_done(&p->slots) || p->handles_open > 0 || p->gai_pending > 0) return;
    p2p_closed_fn fn = p->closed_fn;
    void *arg = p->closed_arg;
    for (size_t i = 0; i < p->conns_count; i++) {
        SLQ_ASSERT(p->conns[i].state == CONN_FREE);
        SLQ_ASSERT(p->conns[i].big == NULL);
        free(p->conns[i].rbuf);
        free(p->conns[i].ring);
    }
    free(p->conns);
    free(p->dialers);
    free(p->allowed);
    crypto_key_destroy(p->key);
    free(p);
    if (fn != NULL) fn(arg);
}

static void p2p_handle_closed(p2p *p) {
    SLQ_ASSERT(p->handles_open > 0);
    p->handles_open--;
    p2p_free_if_done(p);
}

/* conn_slots' closed_fn: the listener or the spare closed. */
static void p2p_slots_closed(void *arg) {
    p2p_free_if_done(arg);
}

static void dialer_close_cb(uv_handle_t *h) {
    dialer *d = h->data;
    p2p_handle_closed(d->p);
}

/* Closes every handle and cancels the lookups; the last callback frees p. */
static void p2p_shutdown(p2p *p) {
    conn_slots_close(&p->slots);
    for (size_t i = 0; i < p->dialers_count; i++) {
        dialer *d = &p->dialers[i];
        if (d->p == NULL) continue; /* timer not initialised */
        uv_close((uv_handle_t *) &d->timer, dialer_close_cb);
        /* A lookup already running cannot be cancelled; its callback comes either way. */
        if (d->state == DIAL_RESOLVING) (void) uv_cancel((uv_req_t *) &d->gai);
    }
    for (size_t i = 0; i < p->conns_count; i++) {
        conn *c = &p->conns[i];
        if (c->state != CONN_FREE && c->state != CONN_CLOSING) conn_close(c);
    }
    p2p_free_if_done(p);
}

/* Parses "host:port" or "[host]:port" into d. */
static bool dialer_parse(dialer *d, const char *text) {
    size_t len = strnlen(text, sizeof d->addr);
    const char *colon = strrchr(text, ':');
    if (len == 0 || len == sizeof d->addr || colon == NULL) return false;
    const char *host = text;
    size_t host_len = (size_t) (colon - text);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    const char *digits = colon + 1;
    size_t digits_len = strlen(digits);
    if (host_len == 0 || host_len > P2P_HOST_BYTES_MAX || digits_len == 0 ||
        digits_len > P2P_PORT_DIGITS_MAX) {
        return false;
    }
    unsigned port = 0;
    for (size_t i = 0; i < digits_len; i++) {
        if (digits[i] < '0' || digits[i] > '9') return false;
        port = port * 10 + (unsigned) (digits[i] - '0');
    }
    if (port == 0 || port > UINT16_MAX) return false;
    memcpy(d->addr, text, len + 1);
    memcpy(d->host, host, host_len);
    d->host[host_len] = '\0';
    memcpy(d->port_text, digits, digits_len + 1);
    d->port = (uint16_t) port;
    return true;
}

static bool config_valid(const p2p_config *cfg) {
    size_t key_len = crypto_pubkey_len(cfg->suite);
    if (cfg->chain_id == NULL || cfg->genesis_hash == NULL || cfg->key == NULL ||
        cfg->listen_host == NULL || key_len == 0 || key_len > CRYPTO_PUBKEY_BYTES_MAX) {
        return false;
    }
    size_t id_len = strnlen(cfg->chain_id, SLQ_CHAIN_ID_BYTES_MAX + 1);
    if (id_len == 0 || id_len > SLQ_CHAIN_ID_BYTES_MAX) return false;
    if (cfg->allowed_count > P2P_ALLOWED_MAX || cfg->peers_count > SLQ_PEERS_MAX) return false;
    if (cfg->allowed_count > 0 && cfg->allowed == NULL) return false;
    if (cfg->peers_count > 0 && cfg->peers == NULL) return false;
    for (size_t i = 0; i < cfg->allowed_count; i++) {
        if (cfg->allowed[i] == NULL) return false;
    }
    for (size_t i = 0; i < cfg->peers_count; i++) {
        if (cfg->peers[i] == NULL) return false;
    }
    return true;
}

/* Copies the node key through its PKCS#8 PEM, wiping the text after. */
static slq_err key_copy(crypto_key **out, const crypto_key *key) {
    char pem[P2P_KEY_PEM_BYTES];
    size_t len = 0;
    slq_err e = crypto_key_write_pem(key, pem, sizeof pem, &len, NULL);
    if (e == SLQ_OK) e = crypto_key_load_pem(out, pem, len, NULL);
    volatile char *v = pem;
    for (size_t i = 0; i < sizeof pem; i++) v[i] = 0;
    return e;
}

/* Copies the node key, its public key and address, chain id, genesis hash and allow list. */
static slq_err p2p_copy_identity(p2p *p, const p2p_config *cfg) {
    if (crypto_key_suite(cfg->key) != cfg->suite) return SLQ_KEY_SUITE_MISMATCH;
    p->suite = cfg->suite;
    slq_err e = key_copy(&p->key, cfg->key);
    if (e != SLQ_OK) return e;
    e = crypto_key_public(p->key, p->key_pub, sizeof p->key_pub, &p->key_len);
    if (e != SLQ_OK) return e;
    if (p->key_len != crypto_pubkey_len(p->suite)) return SLQ_PUBKEY_INVALID;
    e = crypto_address(p->suite, p->addr, p->key_pub, p->key_len);
    if (e != SLQ_OK) return e;
    p->chain_id_len = strlen(cfg->chain_id); /* checked by config_valid */
    memcpy(p->chain_id, cfg->chain_id, p->chain_id_len + 1);
    memcpy(p->genesis, cfg->genesis_hash, CRYPTO_HASH_BYTES);
    if (cfg->allowed_count > 0) {
        p->allowed = malloc(cfg->allowed_count * p->key_len);
        if (p->allowed == NULL) return SLQ_NO_MEMORY;
    }
    for (size_t i = 0; i < cfg->allowed_count; i++) {
        memcpy(p->allowed + i * p->key_len, cfg->allowed[i], p->key_len);
    }
    p->allowed_count = cfg->allowed_count;
    return SLQ_OK;
}

/* Allocates p with its slots and dialers and copies the config. Nothing is started. */
static slq_err p2p_alloc(p2p **out, uv_loop_t *loop, const p2p_config *cfg) {
    p2p *p = calloc(1, sizeof *p);
    if (p == NULL) return SLQ_NO_MEMORY;
    p->loop = loop;
    conn_slots_config slots_cfg = {
        .name = "p2p",
        .id_label = "peer",
        .inbound_max = SLQ_PEERS_MAX,
        .take_fn = p2p_take,
        .closed_fn = p2p_slots_closed,
        .arg = p,
    };
    conn_slots_init(&p->slots, loop, &slots_cfg);
    p->dialers_count = cfg->peers_count;
    p->conns_count = cfg->peers_count + SLQ_PEERS_MAX + 1; /* + the one being admitted */
    log_limit *limits[] = {&p->per_addr_log, &p->full_log,  &p->evict_log,
                           &p->refuse_log,   &p->frame_log, &p->timeout_log};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        log_limit_init(limits[i], LOG_LIMIT_INTERVAL_MS);
    }
    p->conns = calloc(p->conns_count, sizeof *p->conns);
    p->dialers = calloc(p->dialers_count > 0 ? p->dialers_count : 1, sizeof *p->dialers);
    slq_err e = p->conns == NULL || p->dialers == NULL ? SLQ_NO_MEMORY : SLQ_OK;
    if (e == SLQ_OK) e = p2p_copy_identity(p, cfg);
    for (size_t i = 0; e == SLQ_OK && i < p->dialers_count; i++) {
        if (!dialer_parse(&p->dialers[i], cfg->peers[i])) {
            log_warn("p2p: start: bad peer address index=%zu", i);
            e = SLQ_INVALID_ARGUMENT;
        }
    }
    if (e == SLQ_OK) e = crypto_random((uint8_t *) &p->rng, sizeof p->rng);
    if (e != SLQ_OK) {
        crypto_key_destroy(p->key);
        free(p->allowed);
        free(p->dialers);
        free(p->conns);
        free(p);
        return e;
    }
    for (size_t i = 0; i < p->conns_count; i++) {
        p->conns[i].p = p;
        p->conns[i].d = i < p->dialers_count ? &p->dialers[i] : NULL;
        if (i < p->dialers_count) p->dialers[i].conn = &p->conns[i];
    }
    p->handshake_ms = cfg->handshake_ms > 0 ? cfg->handshake_ms : P2P_HANDSHAKE_MS;
    *out = p;
    return SLQ_OK;
}

/* Binds, listens and reads back the bound port. */
static slq_err p2p_listen(p2p *p, const char *host, uint16_t port) {
    struct sockaddr_storage addr;
    if (!conn_slots_addr_parse(&addr, host, port)) {
        log_warn("p2p: start: listen host is not an IP address host=%s", host);
        return SLQ_INVALID_ARGUMENT;
    }
    return conn_slots_listen(&p->slots, &addr, host);
}

/* Initialises the dialers' timers and starts each after a jitter below the first backoff,
 * so that nodes started together do not all dial at the same instant. */
static slq_err p2p_dialers_start(p2p *p) {
    for (size_t i = 0; i < p->dialers_count; i++) {
        dialer *d = &p->dialers[i];
        int r = uv_timer_init(p->loop, &d->timer);
        if (r < 0) {
            log_warn("p2p: start: timer init err=%s", uv_err_name(r));
            return SLQ_NET;
        }
        d->timer.data = d;
        d->p = p; /* marks the timer initialised */
        p->handles_open++;
        d->backoff_ms = P2P_BACKOFF_MIN_MS;
        dialer_schedule(d, (uint32_t) (rng_next(p) % P2P_BACKOFF_MIN_MS));
    }
    return SLQ_OK;
}

slq_err p2p_start(p2p **out, uv_loop_t *loop, const p2p_config *cfg, p2p_peer_fn peer_fn,
                  p2p_msg_fn msg_fn, void *arg) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(loop != NULL);
    SLQ_ASSERT(cfg != NULL);
    SLQ_ASSERT(peer_fn != NULL);
    SLQ_ASSERT(msg_fn != NULL);
    *out = NULL;
    if (!config_valid(cfg)) return SLQ_INVALID_ARGUMENT;
    p2p *p = NULL;
    slq_err e = p2p_alloc(&p, loop, cfg);
    if (e != SLQ_OK) return e;
    p->peer_fn = peer_fn;
    p->msg_fn = msg_fn;
    p->arg = arg;
    p->height_fn = cfg->height_fn;
    e = p2p_listen(p, cfg->listen_host, cfg->listen_port);
    if (e == SLQ_OK) e = p2p_dialers_start(p);
    if (e != SLQ_OK) {
        p2p_shutdown(p); /* p is freed now or by the close callbacks */
        return e;
    }
    char addr_text[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(addr_text, p->addr);
    log_info("p2p: start: listening host=%s port=%u key=%s peers=%zu allowed=%zu", cfg->listen_host,
             conn_slots_port(&p->slots), addr_text, p->dialers_count, p->allowed_count);
    *out = p;
    return SLQ_OK;
}

uint16_t p2p_port(const p2p *p) {
    SLQ_ASSERT(p != NULL);
    return conn_slots_port(&p->slots);
}

size_t p2p_peers_count(const p2p *p) {
    SLQ_ASSERT(p != NULL);
    return p->admitted_count;
}

slq_err p2p_send(p2p *p, uint32_t peer, const Slq__Envelope *env) {
    SLQ_ASSERT(p != NULL);
    SLQ_ASSERT(env != NULL);
    SLQ_ASSERT(!env_is_handshake(env)); /* the handshake is ours */
    if (p2p_closing(p)) return SLQ_NOT_FOUND;
    conn *c = conn_find_admitted(p, peer);
    if (c == NULL) return SLQ_NOT_FOUND;
    msg *m = NULL;
    slq_err e = msg_encode(&m, env);
    if (e != SLQ_OK) return e;
    e = conn_enqueue(c, m);
    msg_unref(m);
    return e;
}

void p2p_broadcast(p2p *p, const Slq__Envelope *env, uint32_t except) {
    SLQ_ASSERT(p != NULL);
    SLQ_ASSERT(env != NULL);
    SLQ_ASSERT(!env_is_handshake(env));
    if (p2p_closing(p) || p->admitted_count == 0) return;
    msg *m = NULL;
    if (msg_encode(&m, env) != SLQ_OK) return; /* logged */
    for (size_t i = 0; i < p->conns_count; i++) {
        conn *c = &p->conns[i];
        if (c->state != CONN_ADMITTED || c->id == except) continue;
        slq_err e = conn_enqueue(c, m);
        if (e != SLQ_OK) continue; /* logged, and that peer is disconnected */
    }
    msg_unref(m);
}

void p2p_disconnect(p2p *p, uint32_t peer, const char *why) {
    SLQ_ASSERT(p != NULL);
    if (p2p_closing(p)) return;
    conn *c = conn_find_admitted(p, peer);
    if (c == NULL) {
        log_debug("p2p: disconnect: no such peer peer=%u", peer);
        return;
    }
    log_warn("p2p: disconnect: peer=%u remote=%s key=%s reason=%s", c->id, c->remote, c->key_text,
             why != NULL ? why : "-");
    conn_close(c);
}

void p2p_close(p2p *p, p2p_closed_fn closed_fn, void *arg) {
    if (p == NULL) return;
    SLQ_ASSERT(!p2p_closing(p));
    p->closed_fn = closed_fn;
    p->closed_arg = arg;
    log_info("p2p: close: port=%u peers=%zu conns=%zu", conn_slots_port(&p->slots),
             p->admitted_count, conn_slots_open(&p->slots));
    p2p_shutdown(p);
}
