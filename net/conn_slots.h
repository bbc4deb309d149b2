/* conn_slots.h: the listening half of a connection-slot server on libuv TCP, shared by
 * http_server.c and p2p.c.
 *
 * Both servers keep a fixed array of connection slots allocated at start and accept into a
 * free one; when none is free (or the free one cannot take the connection) the connection is
 * accepted into a spare handle and closed at once, so that libuv does not keep offering it.
 * If the spare is itself still closing, the connection stays pending in libuv (which stops
 * accepting meanwhile) and is taken by the next slot or spare that frees up. This module
 * holds that machinery: the listener, the spare, the pending flag, the count of open slots,
 * the closing flag, the listen/bind/port steps and one-shot timer helpers.
 *
 * What stays in each server, and why: the slot array itself and its search (the two `conn`
 * types and state machines share nothing but "free" and "closing"; p2p's array also holds
 * outbound slots, one per dialer, which are never accepted into), opening a slot's handles
 * (what a failure half-way leaves behind differs), the slot's close and release (p2p reports
 * the peer down, admits a waiting duplicate and re-dials from there), and freeing the server
 * (p2p also waits for its dialers' timers and lookups). So what is shared is smaller than
 * the two copies looked: the accept-or-refuse path, the counting and the "everything is
 * closed" test a server's free check builds on.
 *
 * Usage: embed a conn_slots in the server, conn_slots_init it, conn_slots_listen. take_fn
 * takes a pending connection into a free slot with conn_slots_accept and counts it with
 * conn_slots_opened (or answers CONN_SLOTS_LATER when no slot is free but one is closing: the
 * connection then waits in libuv for conn_slots_retry); the slot's release calls
 * conn_slots_released, then conn_slots_retry (an inbound slot freed up) unless the server is
 * closing. conn_slots_close stops listening; the server frees itself once conn_slots_done
 * holds (and its own handles are closed).
 *
 * Threading: the loop thread only. The listener and spare are freed in their close
 * callbacks, which call closed_fn: that is where the owner checks whether it can free
 * itself. */
#ifndef SLQ_NET_CONN_SLOTS_H
#define SLQ_NET_CONN_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "slq/err.h"

#include "log_limit.h"

/* Handles of one connection slot in both servers: its TCP handle and its one-shot timer. A
 * slot is released when the last of them has run its close callback. */
#define CONN_SLOT_HANDLES 2u

/* What take_fn did with the connection libuv holds. */
typedef enum {
    CONN_SLOTS_TAKEN = 0, /* accepted into a slot (the server may have closed it since) */
    CONN_SLOTS_REFUSE,    /* no slot can take it: accept it into the spare and close it */
    CONN_SLOTS_LATER,     /* a slot is closing: leave it pending until conn_slots_retry */
} conn_slots_take;

/* Takes the connection libuv holds into a free inbound slot (conn_slots_accept), or says
 * why not. A server that accepted a connection and then refuses it itself (its address is
 * over its limit) closes its slot and returns CONN_SLOTS_TAKEN. */
typedef conn_slots_take (*conn_slots_take_fn)(void *arg);

/* The listener's or the spare's close callback ran while closing: the owner checks
 * conn_slots_done (and its own handles) and frees itself if all is closed. */
typedef void (*conn_slots_closed_fn)(void *arg);

typedef struct {
    const char *name;     /* log prefix: "http", "p2p" (a static string) */
    const char *id_label; /* the connection id's key in logs: "conn", "peer" */
    size_t inbound_max;   /* inbound slots, for the refusal's log line */
    conn_slots_take_fn take_fn;
    conn_slots_closed_fn closed_fn;
    void *arg; /* passed to take_fn and closed_fn */
} conn_slots_config;

/* Embedded by value in its server; the fields are conn_slots.c's. */
typedef struct {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_tcp_t spare; /* accepts and closes a connection no slot takes */
    conn_slots_config cfg;
    size_t open; /* slots taken (inbound and outbound), closing ones included */
    uint16_t port;
    bool listener_open;  /* initialised, close callback not yet run */
    bool spare_busy;     /* spare is open or closing */
    bool accept_pending; /* libuv holds a connection nobody could accept yet */
    bool closing;
    log_limit refused_log; /* "refused, no inbound slot free" */
} conn_slots;

/* A client's address as the per-address limits count it: an IPv4 address (also one that
 * arrives IPv4-mapped on an IPv6 socket) or the /64 prefix of an IPv6 address, the block
 * one host is commonly given (counting single IPv6 addresses would limit nothing). */
typedef struct {
    uint8_t family;   /* AF_INET, AF_INET6; 0: unknown (getpeername failed) */
    uint8_t bytes[8]; /* IPv4: 4 bytes then zeros; IPv6: the first 8 */
} conn_addr;

/* The bytes of "2001:db8:1:2::/64" or "255.255.255.255", with the NUL. */
#define CONN_ADDR_TEXT_BYTES 64u

/* Initialises cs (the caller's memory); nothing is opened. cfg is copied. */
void conn_slots_init(conn_slots *cs, uv_loop_t *loop, const conn_slots_config *cfg);

/* Fills *addr from a literal IPv4 or IPv6 address ("127.0.0.1", "::1"); false if `host` is
 * not one (host names are not resolved). */
bool conn_slots_addr_parse(struct sockaddr_storage *addr, const char *host, uint16_t port);

/* Initialises the listener, binds it to addr, listens and reads back the bound port (see
 * conn_slots_port). Returns SLQ_NET (logged with `host`) on any failure; the listener, if it
 * was initialised, is closed by conn_slots_close as usual. Call once. */
SLQ_MUST_USE slq_err conn_slots_listen(conn_slots *cs, const struct sockaddr_storage *addr,
                                       const char *host);

/* The bound port (the ephemeral one when listening on port 0); 0 before listening. */
uint16_t conn_slots_port(const conn_slots *cs);

/* From take_fn: accepts the pending connection into `tcp` (initialised by the caller).
 * Returns libuv's code (0 or a negative error). */
int conn_slots_accept(conn_slots *cs, uv_tcp_t *tcp);

/* A slot was taken (its handles are initialised; it counts until conn_slots_released). */
void conn_slots_opened(conn_slots *cs);

/* A slot was released (its last close callback ran). */
void conn_slots_released(conn_slots *cs);

/* Slots taken now, closing ones included. */
size_t conn_slots_open(const conn_slots *cs);

/* An inbound slot or the spare freed up: take the connection libuv still holds, if any.
 * A no-op while closing. */
void conn_slots_retry(conn_slots *cs);

/* Stops listening: closes the listener (if it was initialised); from now on
 * conn_slots_closing is true and nothing more is accepted. Idempotent. The owner closes its
 * slots itself. */
void conn_slots_close(conn_slots *cs);

bool conn_slots_closing(const conn_slots *cs);

/* Closing, and the listener, the spare and every slot are closed: the owner may free. */
bool conn_slots_done(const conn_slots *cs);

/* Fills *out with the peer address of a connected tcp handle. Returns false (and an
 * unknown *out, which equals no other) if getpeername fails. */
bool conn_addr_of(conn_addr *out, const uv_tcp_t *tcp);

/* True when a and b are known and the same address (IPv6: the same /64). */
bool conn_addr_equal(const conn_addr *a, const conn_addr *b);

/* Writes a for logs: "127.0.0.2", "2001:db8:1:2::/64", "?". */
void conn_addr_format(char out[CONN_ADDR_TEXT_BYTES], const conn_addr *a);

/* Starts a connection's one-shot timer. Returns false (logged with the connection's `id`)
 * if libuv refused: the caller closes the connection, which could otherwise wait forever. */
SLQ_MUST_USE bool conn_slots_timer_start(const conn_slots *cs, uv_timer_t *t, uv_timer_cb cb,
                                         uint64_t ms, uint32_t id);

/* Stops a connection's timer; a failure is logged. */
void conn_slots_timer_stop(const conn_slots *cs, uv_timer_t *t, uint32_t id);

#endif
