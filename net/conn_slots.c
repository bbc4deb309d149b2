/* conn_slots.c: the listener, the spare handle and the slot count of conn_slots.h.
 *
 * Ownership: a conn_slots owns its listener and spare handle, embedded in it; each is freed
 * in its close callback, which then calls the owner's closed_fn. Slots are the owner's.
 * Threading: the loop thread only. */
#include "conn_slots.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/log.h"

/* Connections the kernel queues for the listener before they are accepted (listen(2)'s
 * backlog), for both servers. */
#define CONN_SLOTS_BACKLOG 128

static void slots_accept(conn_slots *cs);

void conn_slots_init(conn_slots *cs, uv_loop_t *loop, const conn_slots_config *cfg) {
    SLQ_ASSERT(cs != NULL);
    SLQ_ASSERT(cfg != NULL && cfg->take_fn != NULL && cfg->closed_fn != NULL);
    memset(cs, 0, sizeof *cs);
    cs->loop = loop;
    cs->cfg = *cfg;
    log_limit_init(&cs->refused_log, LOG_LIMIT_INTERVAL_MS);
}

bool conn_slots_addr_parse(struct sockaddr_storage *addr, const char *host, uint16_t port) {
    memset(addr, 0, sizeof *addr);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *) addr) == 0) return true;
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *) addr) == 0;
}

/* ------------------------------------------------------------------ accepting */

static void slots_spare_close_cb(uv_handle_t *h) {
    conn_slots *cs = h->data;
    cs->spare_busy = false;
    if (cs->closing) {
        cs->cfg.closed_fn(cs->cfg.arg);
    } else if (cs->accept_pending) {
        slots_accept(cs);
    }
}

/* Accepts the pending connection into the spare handle and closes it at once. If the spare
 * is still closing, the connection stays pending until a slot or the spare frees up. */
static void slots_refuse(conn_slots *cs) {
    const char *name = cs->cfg.name;
    if (cs->spare_busy) {
        cs->accept_pending = true;
        return;
    }
    int r = uv_tcp_init(cs->loop, &cs->spare);
    if (r < 0) {
        log_error("%s: accept: spare init err=%s", name, uv_err_name(r));
        cs->accept_pending = true;
        return;
    }
    cs->spare.data = cs;
    cs->spare_busy = true;
    r = uv_accept((uv_stream_t *) &cs->listener, (uv_stream_t *) &cs->spare);
    if (r < 0) log_warn("%s: accept: spare err=%s", name, uv_err_name(r));
    uv_close((uv_handle_t *) &cs->spare, slots_spare_close_cb);
    uint64_t suppressed = 0;
    if (r == 0 && log_limit_allow(&cs->refused_log, uv_now(cs->loop), &suppressed)) {
        log_warn("%s: accept: refused, no inbound slot free conns=%zu max=%zu suppressed=%" PRIu64,
                 name, cs->open, cs->cfg.inbound_max, suppressed);
    }
}

static void slots_accept(conn_slots *cs) {
    SLQ_ASSERT(!cs->closing);
    cs->accept_pending = false;
    conn_slots_take t = cs->cfg.take_fn(cs->cfg.arg);
    if (t == CONN_SLOTS_TAKEN) return;
    if (t == CONN_SLOTS_LATER) {
        cs->accept_pending = true; /* libuv stops accepting until conn_slots_retry */
        return;
    }
    SLQ_ASSERT(t == CONN_SLOTS_REFUSE);
    slots_refuse(cs);
}

static void slots_connection_cb(uv_stream_t *l, int status) {
    conn_slots *cs = l->data;
    if (status < 0) {
        log_warn("%s: accept: err=%s", cs->cfg.name, uv_err_name(status));
        return;
    }
    if (cs->closing) return;
    slots_accept(cs);
}

int conn_slots_accept(conn_slots *cs, uv_tcp_t *tcp) {
    SLQ_ASSERT(cs->listener_open);
    return uv_accept((uv_stream_t *) &cs->listener, (uv_stream_t *) tcp);
}

void conn_slots_retry(conn_slots *cs) {
    if (cs->closing || !cs->accept_pending) return;
    slots_accept(cs);
}

/* ------------------------------------------------------------------ counting */

void conn_slots_opened(conn_slots *cs) {
    cs->open++;
}

void conn_slots_released(conn_slots *cs) {
    SLQ_ASSERT(cs->open > 0);
    cs->open--;
}

size_t conn_slots_open(const conn_slots *cs) {
    return cs->open;
}

/* ------------------------------------------------------------------ listening and closing */

slq_err conn_slots_listen(conn_slots *cs, const struct sockaddr_storage *addr, const char *host) {
    SLQ_ASSERT(!cs->listener_open);
    SLQ_ASSERT(!cs->closing);
    const char *what = "tcp init";
    int r = uv_tcp_init(cs->loop, &cs->listener);
    if (r == 0) {
        cs->listener.data = cs;
        cs->listener_open = true;
        what = "bind";
        r = uv_tcp_bind(&cs->listener, (const struct sockaddr *) addr, 0);
    }
    if (r == 0) {
        what = "listen";
        r = uv_listen((uv_stream_t *) &cs->listener, CONN_SLOTS_BACKLOG, slots_connection_cb);
    }
    struct sockaddr_storage bound;
    int len = (int) sizeof bound;
    if (r == 0) {
        what = "getsockname";
        r = uv_tcp_getsockname(&cs->listener, (struct sockaddr *) &bound, &len);
    }
    if (r < 0) {
        log_warn("%s: start: %s host=%s err=%s", cs->cfg.name, what, host, uv_err_name(r));
        return SLQ_NET;
    }
    if (bound.ss_family == AF_INET6) {
        cs->port = ntohs(((const struct sockaddr_in6 *) &bound)->sin6_port);
    } else {
        cs->port = ntohs(((const struct sockaddr_in *) &bound)->sin_port);
    }
    return SLQ_OK;
}

uint16_t conn_slots_port(const conn_slots *cs) {
    return cs->port;
}

static void slots_listener_close_cb(uv_handle_t *h) {
    conn_slots *cs = h->data;
    cs->listener_open = false;
    cs->cfg.closed_fn(cs->cfg.arg);
}

void conn_slots_close(conn_slots *cs) {
    if (cs->closing) return;
    cs->closing = true;
    if (cs->listener_open) uv_close((uv_handle_t *) &cs->listener, slots_listener_close_cb);
}

bool conn_slots_closing(const conn_slots *cs) {
    return cs->closing;
}

bool conn_slots_done(const conn_slots *cs) {
    return cs->closing && !cs->listener_open && !cs->spare_busy && cs->open == 0;
}

/* ------------------------------------------------------------------ addresses */

bool conn_addr_of(conn_addr *out, const uv_tcp_t *tcp) {
    memset(out, 0, sizeof *out);
    struct sockaddr_storage sa;
    int len = (int) sizeof sa;
    if (uv_tcp_getpeername(tcp, (struct sockaddr *) &sa, &len) != 0) return false;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) &sa;
        out->family = AF_INET;
        memcpy(out->bytes, &in->sin_addr, 4);
        return true;
    }
    if (sa.ss_family != AF_INET6) return false;
    const uint8_t *b = ((const struct sockaddr_in6 *) &sa)->sin6_addr.s6_addr;
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, v4_mapped, sizeof v4_mapped) == 0) {
        out->family = AF_INET;
        memcpy(out->bytes, b + 12, 4);
        return true;
    }
    out->family = AF_INET6;
    memcpy(out->bytes, b, sizeof out->bytes); /* the /64 */
    return true;
}

bool conn_addr_equal(const conn_addr *a, const conn_addr *b) {
    return a->family != 0 && a->family == b->family &&
           memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

void conn_addr_format(char out[CONN_ADDR_TEXT_BYTES], const conn_addr *a) {
    char ip[INET6_ADDRSTRLEN] = "?";
    if (a->family == AF_INET) {
        struct sockaddr_in in;
        memset(&in, 0, sizeof in);
        in.sin_family = AF_INET;
        memcpy(&in.sin_addr, a->bytes, 4);
        if (uv_ip4_name(&in, ip, sizeof ip) != 0) memcpy(ip, "?", 2);
        (void) snprintf(out, CONN_ADDR_TEXT_BYTES, "%s", ip); /* always fits */
    } else if (a->family == AF_INET6) {
        struct sockaddr_in6 in6;
        memset(&in6, 0, sizeof in6);
        in6.sin6_family = AF_INET6;
        memcpy(in6.sin6_addr.s6_addr, a->bytes, sizeof a->bytes);
        if (uv_ip6_name(&in6, ip, sizeof ip) != 0) memcpy(ip, "?", 2);
        (void) snprintf(out, CONN_ADDR_TEXT_BYTES, "%s/64", ip); /* always fits */
    } else {
        memcpy(out, "?", 2);
    }
}

/* ------------------------------------------------------------------ timers */

bool conn_slots_timer_start(const conn_slots *cs, uv_timer_t *t, uv_timer_cb cb, uint64_t ms,
                            uint32_t id) {
    int r = uv_timer_start(t, cb, ms, 0);
    if (r == 0) return true;
    log_warn("%s: timer: start %s=%u err=%s", cs->cfg.name, cs->cfg.id_label, id, uv_err_name(r));
    return false;
}

void conn_slots_timer_stop(const conn_slots *cs, uv_timer_t *t, uint32_t id) {
    int r = uv_timer_stop(t);
    if (r < 0) {
        log_warn("%s: timer: stop %s=%u err=%s", cs->cfg.name, cs->cfg.id_label, id,
                 uv_err_name(r));
    }
}
