/* http_server.c: the generic HTTP/1.1 server of http_server.h on libuv and http-parser.
 *
 * The server owns a conn_slots (conn_slots.h: the listener, a spare handle for refusing
 * connections over the limit, the open count) and an array of conns_max + 1 connection slots
 * allocated at start: a new connection is accepted into the spare slot, so that its address
 * is known, before the server decides to keep it (at most conns_per_addr_max of one address;
 * at most conns_max kept, the longest idle one closed to make room). A slot's timer counts
 * one deadline at a time (conn_wait): the request's headers, its body, the writing of its
 * answer, the idle time between requests, the linger after the last answer. The handler
 * alone has no deadline (it answers or the client goes). Each is started once per phase and never
 * pushed back by the bytes that arrive, so a client trickling a byte at a time keeps its
 * slot no longer than one that sends nothing. A slot keeps its read buffer and URL buffer
 * (allocated on first use) for the server's lifetime; a body buffer grows to the request's body and
 * is freed after the request when it is larger than HTTP_BODY_KEEP_BYTES. An answer is one malloc'd
 * buffer (headers and body) written with one uv_write and freed in its write callback.
 *
 * A connection reads into its slot's buffer; http-parser is paused on every complete request
 * (on_message_complete), so bytes after it stay unparsed in the buffer. The handler is called
 * after http_parser_execute returned, never from inside a parser callback. While a request
 * is in flight (handed to the handler, or its answer being written) the connection keeps
 * reading only while the buffer has room: that notices a client that goes away (EOF) and
 * still bounds memory. Parsing resumes in the answer's write callback. After an answer with
 * "Connection: close" the connection shuts down its write side and discards input until the
 * client closes or HTTP_LINGER_MS pass, so the client reads the answer instead of a reset.
 *
 * Threading: the loop thread only. Handles are freed only in their close callbacks; the
 * server is freed by the last of them (server_free_if_done). */
#include "http_server.h"

#include <http_parser.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "slq/assert.h"
#include "slq/limits.h"
#include "slq/log.h"

#include "conn_slots.h"
#include "log_limit.h"

#define HTTP_READ_BYTES             (16u * 1024)   /* read buffer of one connection */
#define HTTP_LINGER_MS              1000u          /* wait for the client's EOF after closing */
#define HTTP_DRAIN_BYTES_MAX        (1024u * 1024) /* discarded while lingering, at most */
#define HTTP_BODY_KEEP_BYTES        (64u * 1024)   /* a larger body buffer is freed after use */
#define HTTP_BODY_FIRST_BYTES       4096u /* a body buffer's first size, in bytes; it then doubles */
#define HTTP_HEAD_BYTES_MAX         192u  /* answer status line and headers besides Content-Type */
#define HTTP_RETRY_AFTER_HARD_MAX_S 3600u /* the longest Retry-After a server may say */
#define HTTP_CTYPE_BYTES_MAX        128u  /* Content-Type of an answer */
#define HTTP_ERROR_BYTES_MAX        256u  /* JSON body of an error the server answers itself */
#define HTTP_MESSAGE_BYTES_MAX      128u  /* its "message" text, in bytes with the NUL */
#define HTTP_RATE_WINDOW_MS         1000u /* requests_per_sec counts in fixed windows this long */
/* A connection is closed for a newcomer only after this long in its phase: a keep-alive one
 * idle for less may have its next request in the kernel's buffer already (the listener's
 * event can be handled before that connection's read in the same loop turn). */
#define HTTP_EVICT_AFTER_MS         1000u
#define HTTP_HNAME_BYTES            8u  /* kept of a header name: enough for "Expect" */
#define HTTP_HVALUE_BYTES           16u /* kept of the Expect value: enough for "100-continue" */
/* Sanity bounds on http_limits, far above any useful setting. */
#define HTTP_CONNS_HARD_MAX         65536u
#define HTTP_HEADER_HARD_MAX        (1024u * 1024)
#define HTTP_BODY_HARD_MAX          (1024u * 1024 * 1024)

#define HTTP_DEADLINE_HARD_MS 3600000u /* any of the deadlines: an hour */
_Static_assert(SLQ_HTTP_HEADER_BYTES_MAX <= HTTP_HEADER_HARD_MAX, "default header limit");
_Static_assert(SLQ_HTTP_CONNS_MAX < HTTP_CONNS_HARD_MAX, "default connection limit");
_Static_assert(SLQ_HTTP_HEADER_MS <= SLQ_HTTP_IDLE_MS,
               "a request's headers take no longer than idling");
_Static_assert(SLQ_HTTP_BODY_BYTES_MAX <= HTTP_BODY_HARD_MAX, "default body limit");
_Static_assert(HTTP_BODY_FIRST_BYTES <= HTTP_BODY_KEEP_BYTES, "a first-size body buffer is kept");
_Static_assert(2 * HTTP_MESSAGE_BYTES_MAX <= HTTP_ERROR_BYTES_MAX,
               "an error's message leaves its JSON room for the name and code");

static const char http_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";

/* The answer sent when an answer cannot be allocated: fixed text, so that a request is
 * answered even then. Its "code" is SLQ_NO_MEMORY's, as in conn_send_error's 500. */
#define HTTP_OOM_BODY       "{\"error\":\"NO_MEMORY\",\"code\":2,\"message\":\"out of memory\"}"
#define HTTP_OOM_BODY_BYTES 56 /* strlen(HTTP_OOM_BODY); a bare number: it is spelled below */
#define HTTP_STR(x)         HTTP_STR_(x)
#define HTTP_STR_(x)        #x
#define HTTP_OOM_HEAD                                                          \
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n" \
    "Content-Length: " HTTP_STR(HTTP_OOM_BODY_BYTES) "\r\nConnection: close\r\n\r\n"
static const char http_oom_answer[] = HTTP_OOM_HEAD HTTP_OOM_BODY;
_Static_assert(sizeof HTTP_OOM_BODY - 1 == HTTP_OOM_BODY_BYTES, "Content-Length of the 500");
_Static_assert(SLQ_NO_MEMORY == 2, "the fixed 500 answer's \"code\" is SLQ_NO_MEMORY");

typedef enum {
    CONN_FREE = 0, /* slot unused, handles closed */
    CONN_OPEN,     /* reading requests or serving one */
    CONN_DRAINING, /* final answer written, write side shut down, input discarded */
    CONN_CLOSING,  /* uv_close called, waiting for the close callbacks */
} conn_state;

/* What the slot's timer counts down while it runs. */
typedef enum {
    WAIT_NONE = 0, /* timer stopped: the request is with the handler or being answered */
    WAIT_HEADERS,  /* header_ms: the request line and headers, from accept or first byte */
    WAIT_BODY,     /* body_ms: the body, from the end of the headers */
    WAIT_IDLE,     /* idle_ms: kept alive between two requests, no byte of the next yet */
    WAIT_WRITE,    /* body_ms: an answer being written, from the moment it is queued */
    WAIT_LINGER,   /* after the last answer: the client's EOF (CONN_DRAINING) */
} conn_wait;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the deadline `wait` names */
    uv_shutdown_t shutdown_req;
    uv_write_t continue_req; /* the "100 Continue" interim answer */
    uv_write_t oom_req;      /* http_oom_answer, when an answer could not be allocated */
    http_parser parser;
    struct http_server *server;
    conn_state state;
    conn_wait wait;
    conn_addr addr;          /* the client's, for conns_per_addr_max */
    uint64_t phase_since_ms; /* `wait` began: the longest idle one is closed first */
    uint32_t slot;
    uint32_t gen; /* generation of the request in flight: http_req_ref.gen */
    uint32_t id;  /* connection number, for logs */
    unsigned handles_open;
    bool tcp_inited;
    bool reading;          /* uv_read_start in effect */
    bool awaiting;         /* a request is with the handler, not answered */
    bool writing;          /* an answer is being written */
    bool continue_writing; /* continue_req is in flight */
    bool close_after;      /* close once the answer is written; later input is discarded */
    bool in_headers;       /* parsing a request line or headers: header_bytes counts */
    bool message_done;     /* the parser paused on a complete request */
    bool head;             /* the request in flight is HEAD: answer without body */
    bool expect_continue;
    bool hdr_in_value; /* the parser's last header callback was a value */
    slq_err fail;      /* set by a parser callback: answer this error and close */
    uint64_t fail_bytes;
    uint8_t *rbuf; /* HTTP_READ_BYTES; [roff, rlen) read but not parsed */
    size_t roff, rlen;
    char *url; /* header_bytes_max + 1 */
    size_t url_len;
    uint8_t *body;
    size_t body_len, body_cap;
    size_t header_bytes;
    size_t drained_bytes;
    uint64_t rate_window_ms;
    unsigned rate_count;
    char hname[HTTP_HNAME_BYTES];
    size_t hname_len; /* full length; only the first HTTP_HNAME_BYTES are kept */
    char hvalue[HTTP_HVALUE_BYTES];
    size_t hvalue_len;
} conn;

struct http_server {
    uv_loop_t *loop;
    conn_slots slots; /* listener, spare, open count, closing */
    http_limits lim;
    http_handler_fn fn;
    void *arg;
    http_closed_fn closed_fn;
    void *closed_arg;
    conn *conns;    /* conns_count = lim.conns_max + 1 slots */
    conn **by_addr; /* conns_count: scratch for server_fair_victim, sorted by address */
    size_t conns_count;
    uint32_t conn_seq;
    log_limit per_addr_log; /* refusals over conns_per_addr_max */
    log_limit full_log;     /* refusals with every slot in a request */
    log_limit fair_log;     /* closed for a newcomer from an address holding fewer */
    log_limit deadline_log; /* header and body deadlines passed */
};

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t len);
static int on_header_field(http_parser *p, const char *at, size_t len);
static int on_header_value(http_parser *p, const char *at, size_t len);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t len);
static int on_message_complete(http_parser *p);

static const http_parser_settings http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_process(conn *c);
static void conn_close(conn *c);

static void conn_timer_cb(uv_timer_t *t);
static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

/* ------------------------------------------------------------------ small helpers */

static bool conn_busy(const conn *c) {
    return c->awaiting || c->writing;
}

static unsigned wait_ms(const http_limits *lim, conn_wait w) {
    switch (w) {
        case WAIT_HEADERS:
            return lim->header_ms;
        case WAIT_BODY:
        case WAIT_WRITE:
            return lim->body_ms;
        case WAIT_IDLE:
            return lim->idle_ms;
        default:
            break;
    }
    SLQ_ASSERT(w == WAIT_LINGER);
    return lim->idle_ms < HTTP_LINGER_MS ? lim->idle_ms : HTTP_LINGER_MS;
}

/* Starts the deadline of phase w; it runs until the next phase starts its own or the
 * request is dispatched, whatever arrives meanwhile. */
static void conn_timer_start(conn *c, conn_wait w) {
    SLQ_ASSERT(w != WAIT_NONE);
    c->wait = w;
    c->phase_since_ms = uv_now(c->server->loop);
    unsigned ms = wait_ms(&c->server->lim, w);
    if (!conn_slots_timer_start(&c->server->slots, &c->timer, conn_timer_cb, ms, c->id)) {
        conn_close(c); /* a connection without its timer could idle forever */
    }
}

static void conn_timer_stop(conn *c) {
    c->wait = WAIT_NONE;
    conn_slots_timer_stop(&c->server->slots, &c->timer, c->id);
}

static void conn_read_start(conn *c) {
    if (c->reading) return;
    int r = uv_read_start((uv_stream_t *) &c->tcp, conn_alloc_cb, conn_read_cb);
    if (r < 0) {
        log_warn("http: read: start conn=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return;
    }
    c->reading = true;
}

static void conn_read_stop(conn *c) {
    if (!c->reading) return;
    int r = uv_read_stop((uv_stream_t *) &c->tcp);
    if (r < 0) log_warn("http: read: stop conn=%u err=%s", c->id, uv_err_name(r));
    c->reading = false;
}

/* Grows the body buffer to hold `need` bytes (need <= body_bytes_max), doubling, so a
 * chunked body costs O(log n) reallocations. */
static slq_err conn_body_reserve(conn *c, size_t need) {
    size_t max = c->server->lim.body_bytes_max;
    SLQ_ASSERT(need <= max);
    if (need <= c->body_cap) return SLQ_OK;
    size_t cap = c->body_cap < HTTP_BODY_FIRST_BYTES ? HTTP_BODY_FIRST_BYTES : c->body_cap;
    while (cap < need) cap = cap > max / 2 ? max : cap * 2;
    if (cap > max) cap = max;
    uint8_t *b = realloc(c->body, cap);
    if (b == NULL) return SLQ_NO_MEMORY;
    c->body = b;
    c->body_cap = cap;
    SLQ_ASSERT(c->body_cap >= need);
    return SLQ_OK;
}

static void conn_body_trim(conn *c) {
    if (c->body_cap <= HTTP_BODY_KEEP_BYTES) return;
    free(c->body);
    c->body = NULL;
    c->body_cap = 0;
}

/* Appends the piece at[0..len) of a header name or value whose total length is *total,
 * keeping at most cap bytes of it in dst. */
static void header_piece_add(char *dst, size_t cap, size_t *total, const char *at, size_t len) {
    if (*total < cap) {
        size_t n = cap - *total < len ? cap - *total : len;
        memcpy(dst + *total, at, n);
    }
    *total += len; /* bounded by the header limit */
}

static bool header_is(const char *kept, size_t len, const char *want) {
    size_t n = strlen(want);
    return len == n && strncasecmp(kept, want, n) == 0;
}

/* Called when a header (name and value) is complete. */
static void conn_header_done(conn *c) {
    if (!header_is(c->hname, c->hname_len, "expect")) return;
    if (header_is(c->hvalue, c->hvalue_len, "100-continue")) c->expect_continue = true;
}

/* ------------------------------------------------------------------ answers */

typedef struct {
    uv_write_t req; /* first member: the write callback casts back */
    char data[];    /* status line, headers, body */
} answer;

static void conn_drain_start(conn *c);

/* Resumes a kept-alive connection after its answer went out: reset the request state, start
 * the idle time (or, if the client already sent bytes of its next request, that request's
 * header deadline) and parse what the client already sent. */
static void conn_request_done(conn *c) {
    c->in_headers = true;
    c->header_bytes = 0;
    c->body_len = 0;
    c->head = false;
    conn_body_trim(c);
    conn_timer_start(c, c->roff < c->rlen ? WAIT_HEADERS : WAIT_IDLE);
    if (c->state == CONN_OPEN) conn_process(c);
}

/* An answer was written (or its write failed or was cancelled). */
static void conn_written(conn *c, int status) {
    SLQ_ASSERT(c->writing);
    c->writing = false;
    if (c->state != CONN_OPEN) return; /* closing: the write was cancelled */
    if (status < 0) {
        log_info("http: write: failed conn=%u err=%s", c->id, uv_err_name(status));
        conn_close(c);
        return;
    }
    if (c->close_after) {
        conn_drain_start(c);
        return;
    }
    conn_request_done(c);
}

static void conn_write_cb(uv_write_t *req, int status) {
    conn *c = req->data;
    free((answer *) req);
    conn_written(c, status);
}

static void conn_oom_write_cb(uv_write_t *req, int status) {
    conn_written(req->data, status); /* the answer is static */
}

/* An answer was queued: the request is no longer with the handler, and the answer must be
 * written within the write deadline. A client that does not read (pipelining requests into
 * a small receive buffer, say) would otherwise hold its slot for ever: no read deadline runs
 * while an answer is being written, and reading stops once the buffer is full. */
static void conn_writing(conn *c) {
    c->awaiting = false;
    c->writing = true;
    conn_timer_start(c, WAIT_WRITE); /* may close c */
}

/* Answers the request in flight with http_oom_answer (headers only for HEAD) and closes
 * after it: the answer the handler gave could not be allocated. Allocates nothing. */
static void conn_send_oom(conn *c) {
    SLQ_ASSERT(c->state == CONN_OPEN);
    SLQ_ASSERT(!c->writing);
    c->close_after = true;
    size_t len = sizeof http_oom_answer - 1 - (c->head ? HTTP_OOM_BODY_BYTES : 0);
    uv_buf_t buf = uv_buf_init((char *) http_oom_answer, (unsigned) len);
    c->oom_req.data = c;
    int r = uv_write(&c->oom_req, (uv_stream_t *) &c->tcp, &buf, 1, conn_oom_write_cb);
    if (r < 0) {
        log_warn("http: write: 500 answer conn=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return;
    }
    conn_writing(c);
}

/* Writes one answer on c (which must not be writing) with Connection: close if
 * c->close_after. If the answer cannot be allocated, the client gets http_oom_answer
 * instead (SLQ_NO_MEMORY); on any other error the connection is closed. */
static slq_err conn_send(conn *c, int status, const char *ctype, const char *body, size_t len) {
    SLQ_ASSERT(c->state == CONN_OPEN);
    SLQ_ASSERT(!c->writing);
    size_t sent = c->head ? 0 : len;
    size_t cap = HTTP_HEAD_BYTES_MAX + strlen(ctype) + sent;
    if (cap > UINT32_MAX) {
        log_warn("http: write: answer too large conn=%u bytes=%zu", c->id, len);
        conn_close(c);
        return SLQ_INVALID_ARGUMENT;
    }
    answer *a = malloc(sizeof *a + cap);
    if (a == NULL) {
        log_warn("http: write: no memory, answering 500 conn=%u bytes=%zu", c->id, cap);
        conn_send_oom(c);
        return SLQ_NO_MEMORY;
    }
    /* A 503 (the node cannot take it now: mempool full, reports being built) says when to
     * come back. */
    char retry[32] = "";
    unsigned retry_s = c->server->lim.retry_after_s;
    if (status == 503 && retry_s > 0) snprintf(retry, sizeof retry, "Retry-After: %u\r\n", retry_s);
    int n = snprintf(a->data, cap,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "%sConnection: %s\r\n\r\n",
                     status, http_status_str((enum http_status) status), ctype, len, retry,
                     c->close_after ? "close" : "keep-alive");
    SLQ_ASSERT(n > 0);
    SLQ_ASSERT((size_t) n + sent < cap); /* not truncated */
    if (sent > 0) memcpy(a->data + n, body, sent);
    uv_buf_t buf = uv_buf_init(a->data, (unsigned) ((size_t) n + sent));
    a->req.data = c;
    int r = uv_write(&a->req, (uv_stream_t *) &c->tcp, &buf, 1, conn_write_cb);
    if (r < 0) {
        free(a);
        log_warn("http: write: conn=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return SLQ_NET;
    }
    conn_writing(c);
    return c->state == CONN_OPEN ? SLQ_OK : SLQ_NET; /* closed if its deadline did not start */
}

/* Answers an error the server found itself, in the JSON of docs/api.md. */
/* The error object of err (slq/err.h: its name, its number, its one HTTP status). */
static void conn_send_error(conn *c, slq_err err, const char *message) {
    char json[HTTP_ERROR_BYTES_MAX];
    int n = snprintf(json, sizeof json, "{\"error\":\"%s\",\"code\":%d,\"message\":\"%s\"}",
                     slq_err_name(err), (int) err, message);
    SLQ_ASSERT(n > 0 && (size_t) n < sizeof json);
    slq_err e = conn_send(c, slq_err_http_status(err), "application/json", json, (size_t) n);
    if (e != SLQ_OK) return; /* logged, and the connection is closed */
}

static void conn_continue_cb(uv_write_t *req, int status) {
    conn *c = req->data;
    c->continue_writing = false;
    if (status < 0 && c->state == CONN_OPEN) {
        log_info("http: write: continue failed conn=%u err=%s", c->id, uv_err_name(status));
        conn_close(c);
    }
}

/* Sends "100 Continue" from inside the parser; the buffer is static. A failure closes the
 * connection once the parser returned (conn_close only marks and closes handles). Its write
 * needs no deadline of its own: the body deadline, started just before, runs meanwhile and
 * the body cannot arrive before the client reads this. */
static void conn_send_continue(conn *c) {
    SLQ_ASSERT(!c->continue_writing);
    uv_buf_t buf = uv_buf_init((char *) http_continue, (unsigned) (sizeof http_continue - 1));
    c->continue_req.data = c;
    int r = uv_write(&c->continue_req, (uv_stream_t *) &c->tcp, &buf, 1, conn_continue_cb);
    if (r < 0) {
        log_warn("http: write: continue conn=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return;
    }
    c->continue_writing = true;
}

/* ------------------------------------------------------------------ closing */

static void server_free_if_done(http_server *s);

static void conn_release(conn *c) {
    http_server *s = c->server;
    SLQ_ASSERT(c->state == CONN_CLOSING);
    SLQ_ASSERT(!c->writing);
    SLQ_ASSERT(!c->continue_writing);
    c->state = CONN_FREE;
    c->gen++; /* any ref into the old connection stays stale */
    conn_body_trim(c);
    conn_slots_released(&s->slots);
    log_debug("http: close: conn=%u open=%zu", c->id, conn_slots_open(&s->slots));
    if (conn_slots_closing(&s->slots)) {
        server_free_if_done(s);
    } else {
        conn_slots_retry(&s->slots); /* a connection may wait for this slot */
    }
}

static void conn_close_cb(uv_handle_t *h) {
    conn *c = h->data;
    SLQ_ASSERT(c->handles_open > 0);
    if (--c->handles_open == 0) conn_release(c);
}

/* Closes the connection's handles; the slot is released in the last close callback. Pending
 * writes are cancelled (their callbacks run first). Idempotent. */
static void conn_close(conn *c) {
    if (c->state == CONN_CLOSING) return;
    SLQ_ASSERT(c->state != CONN_FREE);
    c->state = CONN_CLOSING;
    c->awaiting = false;
    c->reading = false;
    if (c->tcp_inited) uv_close((uv_handle_t *) &c->tcp, conn_close_cb);
    uv_close((uv_handle_t *) &c->timer, conn_close_cb);
}

static void conn_shutdown_cb(uv_shutdown_t *req, int status) {
    conn *c = req->handle->data;
    if (status < 0 && c->state == CONN_DRAINING) {
        log_debug("http: shutdown: conn=%u err=%s", c->id, uv_err_name(status));
        conn_close(c);
    }
}

/* After the last answer: send FIN, then discard input until the client's EOF, the linger
 * timer or HTTP_DRAIN_BYTES_MAX, whichever comes first. */
static void conn_drain_start(conn *c) {
    SLQ_ASSERT(c->state == CONN_OPEN);
    c->state = CONN_DRAINING;
    c->roff = 0;
    c->rlen = 0;
    int r = uv_shutdown(&c->shutdown_req, (uv_stream_t *) &c->tcp, conn_shutdown_cb);
    if (r < 0) {
        log_debug("http: shutdown: conn=%u err=%s", c->id, uv_err_name(r));
        conn_close(c);
        return;
    }
    conn_timer_start(c, WAIT_LINGER);
    if (c->state == CONN_DRAINING) conn_read_start(c);
}

static void conn_timer_cb(uv_timer_t *t) {
    conn *c = t->data;
    http_server *s = c->server;
    char addr[CONN_ADDR_TEXT_BYTES];
    uint64_t suppressed = 0;
    if (c->wait == WAIT_IDLE) {
        log_info("http: idle: closing conn=%u idle_ms=%u", c->id, s->lim.idle_ms);
    } else if (c->wait == WAIT_WRITE &&
               log_limit_allow(&s->deadline_log, uv_now(s->loop), &suppressed)) {
        conn_addr_format(addr, &c->addr);
        log_warn("http: write: deadline passed, the client does not read, closing conn=%u "
                 "addr=%s ms=%u suppressed=%" PRIu64,
                 c->id, addr, wait_ms(&s->lim, c->wait), suppressed);
    } else if (c->wait != WAIT_LINGER && c->wait != WAIT_WRITE &&
               log_limit_allow(&s->deadline_log, uv_now(s->loop), &suppressed)) {
        conn_addr_format(addr, &c->addr);
        log_warn("http: read: %s deadline passed, closing conn=%u addr=%s ms=%u "
                 "suppressed=%" PRIu64,
                 c->wait == WAIT_BODY ? "body" : "header", c->id, addr, wait_ms(&s->lim, c->wait),
                 suppressed);
    }
    conn_close(c);
}

/* ------------------------------------------------------------------ parser callbacks */

/* Marks the request as failed with `status`; the parser stops (callbacks return -1) and
 * conn_parse answers it. */
static int conn_reject(conn *c, slq_err err, uint64_t bytes) {
    c->fail = err;
    c->fail_bytes = bytes;
    return -1;
}

static int on_message_begin(http_parser *p) {
    conn *c = p->data;
    c->url_len = 0;
    c->body_len = 0;
    c->expect_continue = false;
    c->hdr_in_value = false;
    c->hname_len = 0;
    c->hvalue_len = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    size_t cap = c->server->lim.header_bytes_max;
    if (len > cap - c->url_len) return conn_reject(c, SLQ_HEADERS_TOO_LARGE, c->url_len + len);
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    if (c->hdr_in_value) {
        conn_header_done(c);
        c->hdr_in_value = false;
        c->hname_len = 0;
        c->hvalue_len = 0;
    }
    header_piece_add(c->hname, sizeof c->hname, &c->hname_len, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    c->hdr_in_value = true;
    if (header_is(c->hname, c->hname_len, "expect")) {
        header_piece_add(c->hvalue, sizeof c->hvalue, &c->hvalue_len, at, len);
    }
    return 0;
}

static int on_headers_complete(http_parser *p) {
    conn *c = p->data;
    const http_limits *lim = &c->server->lim;
    if (c->hdr_in_value) conn_header_done(c);
    c->in_headers = false;
    /* http-parser takes a request line without a version as HTTP/0.9 and any digits as one. */
    if (p->http_major == 0 && p->http_minor == 9) return conn_reject(c, SLQ_HTTP_MALFORMED, 0);
    if (p->http_major != 1 || p->http_minor > 1) {
        return conn_reject(c, SLQ_HTTP_VERSION_UNSUPPORTED, 0);
    }
    bool has_length = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_length && p->content_length > lim->body_bytes_max) {
        return conn_reject(c, SLQ_BODY_TOO_LARGE, p->content_length);
    }
    /* Reserve up front only a little: the buffer grows with the bytes that arrive, so a
     * declared length costs nothing until it is sent. */
    size_t first = p->content_length < HTTP_BODY_KEEP_BYTES ? (size_t) p->content_length
                                                            : HTTP_BODY_KEEP_BYTES;
    if (has_length && first > 0 && conn_body_reserve(c, first) != SLQ_OK) {
        return conn_reject(c, SLQ_NO_MEMORY, p->content_length);
    }
    bool has_body = (p->flags & F_CHUNKED) != 0 || (has_length && p->content_length > 0);
    if (has_body) conn_timer_start(c, WAIT_BODY); /* may close c: conn_parse checks */
    if (c->state == CONN_OPEN && c->expect_continue && has_body && p->http_minor >= 1) {
        conn_send_continue(c);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
    conn *c = p->data;
    size_t max = c->server->lim.body_bytes_max;
    if (len > max - c->body_len)
        return conn_reject(c, SLQ_BODY_TOO_LARGE, (uint64_t) c->body_len + len);
    if (conn_body_reserve(c, c->body_len + len) != SLQ_OK) {
        return conn_reject(c, SLQ_NO_MEMORY, (uint64_t) c->body_len + len);
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

/* Pauses the parser: http_parser_execute returns right after this request's last byte. */
static int on_message_complete(http_parser *p) {
    conn *c = p->data;
    c->message_done = true;
    http_parser_pause(p, 1);
    return 0;
}

/* ------------------------------------------------------------------ requests */

/* Answers the failure a parser callback (or the header count) found, and closes. */
static void conn_fail(conn *c) {
    const http_limits *lim = &c->server->lim;
    char msg[HTTP_MESSAGE_BYTES_MAX];
    c->close_after = true;
    c->head = false;
    conn_timer_stop(c);
    switch (c->fail) {
        case SLQ_BODY_TOO_LARGE:
            log_warn("http: read: body too large conn=%u bytes=%" PRIu64 " max=%zu", c->id,
                     c->fail_bytes, lim->body_bytes_max);
            /* (void) here and below: a short fixed text with one number always fits */
            (void) snprintf(msg, sizeof msg, "request body over %zu bytes", lim->body_bytes_max);
            conn_send_error(c, SLQ_BODY_TOO_LARGE, msg);
            break;
        case SLQ_HEADERS_TOO_LARGE:
            log_warn("http: read: headers too large conn=%u bytes=%" PRIu64 " max=%zu", c->id,
                     c->fail_bytes, lim->header_bytes_max);
            (void) snprintf(msg, sizeof msg, "request line and headers over %zu bytes",
                            lim->header_bytes_max);
            conn_send_error(c, SLQ_HEADERS_TOO_LARGE, msg);
            break;
        case SLQ_NO_MEMORY:
            log_warn("http: read: no memory for body conn=%u bytes=%" PRIu64, c->id, c->fail_bytes);
            conn_send_error(c, SLQ_NO_MEMORY, "no memory for the request body");
            break;
        case SLQ_HTTP_VERSION_UNSUPPORTED:
            log_info("http: read: HTTP version unsupported conn=%u version=%u.%u", c->id,
                     c->parser.http_major, c->parser.http_minor);
            conn_send_error(c, SLQ_HTTP_VERSION_UNSUPPORTED, "only HTTP/1.0 and HTTP/1.1");
            break;
        default:
            SLQ_ASSERT(c->fail == SLQ_HTTP_MALFORMED);
            conn_send_error(c, SLQ_HTTP_MALFORMED, "malformed HTTP request");
            break;
    }
}

/* Counts a request against the connection's rate; returns false if it is over. */
static bool conn_rate_ok(conn *c) {
    const http_server *s = c->server;
    uint64_t now = uv_now(s->loop);
    if (now - c->rate_window_ms >= HTTP_RATE_WINDOW_MS) {
        c->rate_window_ms = now;
        c->rate_count = 0;
    }
    if (c->rate_count < UINT32_MAX) c->rate_count++;
    if (c->rate_count <= s->lim.requests_per_sec) return true;
    if (c->rate_count == s->lim.requests_per_sec + 1) { /* once per window */
        log_warn("http: read: rate limited conn=%u max=%u", c->id, s->lim.requests_per_sec);
    }
    return false;
}

/* Hands the complete request to the handler (or answers 429). The handler may answer, close
 * the connection or close the server before it returns. */
static void conn_dispatch(conn *c) {
    http_server *s = c->server;
    c->message_done = false;
    c->awaiting = true;
    c->gen++;
    c->head = c->parser.method == HTTP_HEAD;
    c->close_after = !http_should_keep_alive(&c->parser) || c->parser.upgrade;
    conn_timer_stop(c);
    if (!conn_rate_ok(c)) {
        char msg[HTTP_MESSAGE_BYTES_MAX];
        (void) snprintf(msg, sizeof msg, "over %u requests per second", /* always fits */
                        s->lim.requests_per_sec);
        conn_send_error(c, SLQ_RATE_LIMITED, msg);
        return;
    }
    SLQ_ASSERT(c->url_len <= s->lim.header_bytes_max);
    c->url[c->url_len] = '\0';
    const char *query = "";
    char *q = memchr(c->url, '?', c->url_len);
    if (q != NULL) {
        *q = '\0';
        query = q + 1;
    }
    http_request req = {
        .ref = {.slot = c->slot, .gen = c->gen},
        .method = http_method_str((enum http_method) c->parser.method),
        .path = c->url,
        .query = query,
        .body = c->body_len > 0 ? c->body : (const uint8_t *) "",
        .body_len = c->body_len,
    };
    s->fn(s->arg, &req);
}

/* Feeds unparsed bytes to http-parser: all of them, or while in the request line and
 * headers at most the header budget left. If the headers end within that slice they fit;
 * if they are still going on when the budget is used up, they are over the limit. So the
 * count is exact without knowing where in a slice the headers ended. Returns false if the
 * connection failed (an error answer is on its way). */
static bool conn_parse(conn *c) {
    const http_limits *lim = &c->server->lim;
    size_t avail = c->rlen - c->roff;
    bool counting = c->in_headers;
    SLQ_ASSERT(c->header_bytes < lim->header_bytes_max);
    if (counting && avail > lim->header_bytes_max - c->header_bytes) {
        avail = lim->header_bytes_max - c->header_bytes;
    }
    const char *at = (const char *) c->rbuf + c->roff;
    size_t n = http_parser_execute(&c->parser, &http_settings, at, avail);
    SLQ_ASSERT(n <= avail);
    c->roff += n;
    if (counting && c->in_headers) c->header_bytes += n;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->state != CONN_OPEN) return false; /* a failed 100 Continue write closed it */
    bool over = counting && c->in_headers && c->header_bytes == lim->header_bytes_max;
    if (c->fail == SLQ_OK && (over || e == HPE_HEADER_OVERFLOW)) {
        conn_reject(c, SLQ_HEADERS_TOO_LARGE, (uint64_t) c->header_bytes + 1); /* at least */
    }
    if (c->fail == SLQ_OK && e == HPE_OK && n < avail) {
        e = HPE_UNKNOWN; /* stopped early without a reason: do not loop on it */
    }
    if (c->fail == SLQ_OK && e != HPE_OK && e != HPE_PAUSED) {
        log_warn("http: read: malformed request conn=%u err=%s", c->id, http_errno_name(e));
        conn_reject(c, SLQ_HTTP_MALFORMED, 0);
    }
    if (c->fail != SLQ_OK) {
        conn_fail(c);
        return false;
    }
    if (e == HPE_PAUSED) http_parser_pause(&c->parser, 0);
    return true;
}

/* Parses what was read, dispatching complete requests one at a time, then decides whether
 * to keep reading: always when idle or discarding, while the buffer has room when busy. */
static void conn_process(conn *c) {
    while (c->state == CONN_OPEN && !c->close_after && !conn_busy(c) && c->roff < c->rlen) {
        if (!conn_parse(c)) break;
        if (c->message_done) conn_dispatch(c);
    }
    if (c->state != CONN_OPEN) return;
    if (c->close_after) {
        c->roff = 0; /* nothing after a closing request is parsed */
        c->rlen = 0;
    }
    if (c->roff > 0) { /* keep unparsed bytes at the front: room for more behind them */
        memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
        c->rlen -= c->roff;
        c->roff = 0;
    }
    if (c->rlen < HTTP_READ_BYTES) {
        conn_read_start(c);
    } else {
        conn_read_stop(c); /* busy and full: the client waits for the answer */
    }
}

/* ------------------------------------------------------------------ reading */

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void) suggested; /* the slot's buffer has a fixed size */
    conn *c = h->data;
    if (c->state != CONN_OPEN || c->close_after) {
        c->roff = 0; /* discarding: reuse the whole buffer */
        c->rlen = 0;
    }
    SLQ_ASSERT(c->rlen < HTTP_READ_BYTES);
    buf->base = (char *) c->rbuf + c->rlen;
    buf->len = HTTP_READ_BYTES - c->rlen;
}

static void conn_read_end(conn *c, ssize_t nread) {
    if (nread != UV_EOF) {
        log_info("http: read: conn=%u err=%s", c->id, uv_err_name((int) nread));
    } else if (conn_busy(c) && c->state == CONN_OPEN) {
        log_info("http: read: client gone with a request in flight conn=%u", c->id);
    }
    conn_close(c);
}

static void conn_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    (void) buf; /* always the tail of c->rbuf */
    conn *c = st->data;
    if (nread == 0) return; /* EAGAIN */
    if (nread < 0) {
        conn_read_end(c, nread);
        return;
    }
    if (c->state != CONN_OPEN || c->close_after) {
        c->drained_bytes += (size_t) nread;
        if (c->drained_bytes > HTTP_DRAIN_BYTES_MAX) conn_close(c);
        return;
    }
    c->rlen += (size_t) nread;
    SLQ_ASSERT(c->rlen <= HTTP_READ_BYTES);
    if (c->wait == WAIT_IDLE) conn_timer_start(c, WAIT_HEADERS); /* the next request began */
    conn_process(c);
}

/* ------------------------------------------------------------------ accepting */

static conn *server_slot_free(http_server *s) {
    for (size_t i = 0; i < s->conns_count; i++) {
        if (s->conns[i].state == CONN_FREE) return &s->conns[i];
    }
    return NULL;
}

static bool server_slot_closing(const http_server *s) {
    for (size_t i = 0; i < s->conns_count; i++) {
        if (s->conns[i].state == CONN_CLOSING) return true;
    }
    return false;
}

/* The open connections besides `c`, as admission sees them. */
typedef struct {
    size_t kept;        /* OPEN or DRAINING */
    size_t same_addr;   /* of those, from c's address */
    conn *longest_idle; /* idle (WAIT_IDLE) since the earliest time, >= 1 s ago; or NULL */
} conn_census;

static conn_census server_census(http_server *s, const conn *c, uint64_t now) {
    conn_census n = {0};
    for (size_t i = 0; i < s->conns_count; i++) {
        conn *o = &s->conns[i];
        if (o == c || (o->state != CONN_OPEN && o->state != CONN_DRAINING)) continue;
        n.kept++;
        if (conn_addr_equal(&o->addr, &c->addr)) n.same_addr++;
        if (o->state != CONN_OPEN || o->wait != WAIT_IDLE) continue;
        if (now - o->phase_since_ms < HTTP_EVICT_AFTER_MS) continue; /* may have a request */
        if (n.longest_idle == NULL || o->phase_since_ms < n.longest_idle->phase_since_ms) {
            n.longest_idle = o;
        }
    }
    SLQ_ASSERT(n.same_addr <= n.kept);
    return n;
}

static int conn_by_addr_cmp(const void *a, const void *b) {
    const conn *x = *(conn *const *) a;
    const conn *y = *(conn *const *) b;
    if (x->addr.family != y->addr.family) return x->addr.family < y->addr.family ? -1 : 1;
    return memcmp(x->addr.bytes, y->addr.bytes, sizeof x->addr.bytes);
}

/* May o be closed for a newcomer of a smaller address? Only while it waits on its client
 * (its request's line and headers, its body, the client taking its answer, or idle), and only
 * once it has waited so for HTTP_EVICT_AFTER_MS; never while the handler has its request. */
static bool conn_evictable(const conn *o, uint64_t now) {
    bool waits_on_client = o->wait == WAIT_HEADERS || o->wait == WAIT_BODY ||
                           o->wait == WAIT_WRITE || o->wait == WAIT_IDLE;
    return o->state == CONN_OPEN && waits_on_client &&
           now - o->phase_since_ms >= HTTP_EVICT_AFTER_MS;
}

/* One address's share, as server_fair_victim counts it. */
typedef struct {
    size_t held;  /* its connections, OPEN or DRAINING */
    conn *victim; /* its evictable one waiting longest in its phase, or NULL */
} addr_share;

/* The connection closed for the newcomer c, whose address holds `mine` others, when every
 * slot is taken and none has idled long enough: of the addresses holding at least mine + 2
 * (so that after the swap each still holds no fewer than c's), the one holding the most
 * that has an evictable connection gives its one waiting longest. NULL if no address does.
 * Sorting by address keeps this O(n log n) in the connections, once per accept when full. */
static conn *server_fair_victim(http_server *s, const conn *c, size_t mine, uint64_t now) {
    size_t k = 0;
    for (size_t i = 0; i < s->conns_count; i++) {
        conn *o = &s->conns[i];
        if (o != c && (o->state == CONN_OPEN || o->state == CONN_DRAINING)) s->by_addr[k++] = o;
    }
    qsort(s->by_addr, k, sizeof *s->by_addr, conn_by_addr_cmp);
    addr_share best = {0};
    for (size_t i = 0; i < k;) {
        addr_share run = {0};
        size_t j = i;
        do { /* an unknown address equals no other: a run of one */
            conn *o = s->by_addr[j++];
            run.held++;
            if (!conn_evictable(o, now)) continue;
            if (run.victim == NULL || o->phase_since_ms < run.victim->phase_since_ms)
                run.victim = o;
        } while (j < k && conn_addr_equal(&s->by_addr[j]->addr, &s->by_addr[i]->addr));
        i = j;
        if (run.victim == NULL || run.held < mine + 2 || run.held < best.held) continue;
        if (run.held > best.held || run.victim->phase_since_ms < best.victim->phase_since_ms) {
            best = run;
        }
    }
    SLQ_ASSERT(best.victim == NULL || best.held >= mine + 2);
    return best.victim;
}

/* Decides whether the connection just accepted into c stays: not if its address has
 * conns_per_addr_max open already. When conns_max are open, the one idle longest between
 * requests, if for HTTP_EVICT_AFTER_MS, is closed for it; if none is, a connection of the
 * address holding the most (server_fair_victim); if that finds none either, c is closed.
 * Returns false (c closed, logged at most once per interval) if it does not stay. */
static bool conn_admit(http_server *s, conn *c) {
    uint64_t now = uv_now(s->loop);
    conn_census n = server_census(s, c, now);
    uint64_t suppressed = 0;
    char addr[CONN_ADDR_TEXT_BYTES];
    if (n.same_addr >= s->lim.conns_per_addr_max) {
        if (log_limit_allow(&s->per_addr_log, now, &suppressed)) {
            conn_addr_format(addr, &c->addr);
            log_warn("http: accept: refused, address over its limit addr=%s max=%zu "
                     "suppressed=%" PRIu64,
                     addr, s->lim.conns_per_addr_max, suppressed);
        }
        conn_close(c);
        return false;
    }
    if (n.kept < s->lim.conns_max) return true;
    SLQ_ASSERT(n.kept == s->lim.conns_max);
    if (n.longest_idle == NULL) {
        conn *v = server_fair_victim(s, c, n.same_addr, now);
        if (v == NULL) {
            if (log_limit_allow(&s->full_log, now, &suppressed)) {
                log_warn("http: accept: refused, every connection busy conns=%zu "
                         "suppressed=%" PRIu64,
                         n.kept, suppressed);
            }
            conn_close(c);
            return false;
        }
        if (log_limit_allow(&s->fair_log, now, &suppressed)) {
            conn_addr_format(addr, &v->addr);
            log_info("http: accept: full, closing conn=%u of the address holding the most "
                     "addr=%s for conn=%u suppressed=%" PRIu64,
                     v->id, addr, c->id, suppressed);
        }
        conn_close(v);
        return true;
    }
    log_info("http: accept: closing the longest idle conn=%u for conn=%u idle_ms=%" PRIu64,
             n.longest_idle->id, c->id, now - n.longest_idle->phase_since_ms);
    conn_close(n.longest_idle);
    return true;
}

/* Clears a free slot for a new connection, keeping its buffers, slot number and gen. */
static void conn_reset(conn *c) {
    conn keep = *c;
    memset(c, 0, sizeof *c);
    c->server = keep.server;
    c->slot = keep.slot;
    c->gen = keep.gen;
    c->rbuf = keep.rbuf;
    c->url = keep.url;
    c->body = keep.body;
    c->body_cap = keep.body_cap;
}

/* Accepts the pending connection into the free slot c. Returns false if the connection is
 * still pending (the slot stays free); true once accepted, even if it failed afterwards. */
static bool conn_open(http_server *s, conn *c) {
    if (c->rbuf == NULL) {
        c->rbuf = malloc(HTTP_READ_BYTES + s->lim.header_bytes_max + 1);
        if (c->rbuf == NULL) return false;
        c->url = (char *) c->rbuf + HTTP_READ_BYTES;
    }
    conn_reset(c);
    int r = uv_timer_init(s->loop, &c->timer);
    if (r < 0) {
        log_warn("http: accept: timer init err=%s", uv_err_name(r));
        return false;
    }
    c->timer.data = c;
    c->tcp.data = c;
    c->handles_open = 1;
    c->state = CONN_OPEN;
    c->id = ++s->conn_seq;
    conn_slots_opened(&s->slots);
    r = uv_tcp_init(s->loop, &c->tcp);
    if (r < 0) {
        log_warn("http: accept: tcp init err=%s", uv_err_name(r));
        conn_close(c);
        return false;
    }
    c->tcp_inited = true;
    c->handles_open = CONN_SLOT_HANDLES;
    r = conn_slots_accept(&s->slots, &c->tcp);
    if (r < 0) {
        log_warn("http: accept: err=%s", uv_err_name(r));
        conn_close(c);
        return true;
    }
    if (!conn_addr_of(&c->addr, &c->tcp)) log_debug("http: accept: no peer address conn=%u", c->id);
    if (!conn_admit(s, c)) return true;
    r = uv_tcp_nodelay(&c->tcp, 1); /* an answer is one write: send it at once */
    if (r < 0) log_debug("http: accept: nodelay conn=%u err=%s", c->id, uv_err_name(r));
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->in_headers = true;
    c->rate_window_ms = uv_now(s->loop);
    log_debug("http: accept: conn=%u slot=%u open=%zu", c->id, c->slot, conn_slots_open(&s->slots));
    conn_timer_start(c, WAIT_HEADERS);
    if (c->state == CONN_OPEN) conn_read_start(c);
    return true;
}

/* conn_slots' take_fn: the pending connection into a free slot, if there is one; if none
 * is but one is closing, the connection waits for it. */
static conn_slots_take server_take(void *arg) {
    http_server *s = arg;
    conn *c = server_slot_free(s);
    if (c == NULL) return server_slot_closing(s) ? CONN_SLOTS_LATER : CONN_SLOTS_REFUSE;
    return conn_open(s, c) ? CONN_SLOTS_TAKEN : CONN_SLOTS_REFUSE;
}

/* ------------------------------------------------------------------ server */

http_limits http_limits_default(void) {
    http_limits lim = {
        .conns_max = SLQ_HTTP_CONNS_MAX,
        .conns_per_addr_max = SLQ_HTTP_CONNS_PER_ADDR_MAX,
        .header_bytes_max = SLQ_HTTP_HEADER_BYTES_MAX,
        .body_bytes_max = SLQ_HTTP_BODY_BYTES_MAX,
        .requests_per_sec = SLQ_HTTP_REQUESTS_PER_SEC,
        .idle_ms = SLQ_HTTP_IDLE_MS,
        .header_ms = SLQ_HTTP_HEADER_MS,
        .body_ms = SLQ_HTTP_BODY_MS,
        .retry_after_s = SLQ_HTTP_RETRY_AFTER_S,
    };
    return lim;
}

static bool limits_valid(const http_limits *lim) {
    return lim->conns_max > 0 && lim->conns_max <= HTTP_CONNS_HARD_MAX &&
           lim->header_bytes_max > 0 && lim->header_bytes_max <= HTTP_HEADER_HARD_MAX &&
           lim->body_bytes_max > 0 && lim->body_bytes_max <= HTTP_BODY_HARD_MAX &&
           lim->conns_per_addr_max > 0 && lim->requests_per_sec > 0 && lim->idle_ms > 0 &&
           lim->idle_ms <= HTTP_DEADLINE_HARD_MS && lim->header_ms > 0 &&
           lim->header_ms <= HTTP_DEADLINE_HARD_MS && lim->body_ms > 0 &&
           lim->body_ms <= HTTP_DEADLINE_HARD_MS &&
           lim->retry_after_s <= HTTP_RETRY_AFTER_HARD_MAX_S;
}

static void server_free_if_done(http_server *s) {
    if (!conn_slots_done(&s->slots)) return;
    http_closed_fn fn = s->closed_fn;
    void *arg = s->closed_arg;
    for (size_t i = 0; i < s->conns_count; i++) {
        SLQ_ASSERT(s->conns[i].state == CONN_FREE);
        free(s->conns[i].rbuf); /* the URL buffer shares this allocation */
        free(s->conns[i].body);
    }
    free(s->conns);
    free(s->by_addr);
    free(s);
    if (fn != NULL) fn(arg);
}

/* conn_slots' closed_fn: the listener or the spare closed. */
static void server_slots_closed(void *arg) {
    server_free_if_done(arg);
}

static http_server *server_alloc(uv_loop_t *loop, const http_limits *lim) {
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->conns_count = lim->conns_max + 1; /* + the one being admitted */
    s->conns = calloc(s->conns_count, sizeof *s->conns);
    s->by_addr = calloc(s->conns_count, sizeof *s->by_addr);
    if (s->conns == NULL || s->by_addr == NULL) {
        free(s->conns);
        free(s->by_addr);
        free(s);
        return NULL;
    }
    s->loop = loop;
    s->lim = *lim;
    log_limit_init(&s->per_addr_log, LOG_LIMIT_INTERVAL_MS);
    log_limit_init(&s->full_log, LOG_LIMIT_INTERVAL_MS);
    log_limit_init(&s->fair_log, LOG_LIMIT_INTERVAL_MS);
    log_limit_init(&s->deadline_log, LOG_LIMIT_INTERVAL_MS);
    conn_slots_config cfg = {
        .name = "http",
        .id_label = "conn",
        .inbound_max = lim->conns_max,
        .take_fn = server_take,
        .closed_fn = server_slots_closed,
        .arg = s,
    };
    conn_slots_init(&s->slots, loop, &cfg);
    for (size_t i = 0; i < s->conns_count; i++) {
        s->conns[i].server = s;
        s->conns[i].slot = (uint32_t) i;
    }
    return s;
}

slq_err http_server_start(http_server **out, uv_loop_t *loop, const char *host, uint16_t port,
                          const http_limits *lim, http_handler_fn fn, void *arg) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(loop != NULL);
    SLQ_ASSERT(host != NULL);
    SLQ_ASSERT(lim != NULL);
    SLQ_ASSERT(fn != NULL);
    *out = NULL;
    struct sockaddr_storage addr;
    if (!limits_valid(lim) || !conn_slots_addr_parse(&addr, host, port)) {
        return SLQ_INVALID_ARGUMENT;
    }
    http_server *s = server_alloc(loop, lim);
    if (s == NULL) return SLQ_NO_MEMORY;
    s->fn = fn;
    s->arg = arg;
    slq_err e = conn_slots_listen(&s->slots, &addr, host);
    if (e != SLQ_OK) {
        conn_slots_close(&s->slots);
        server_free_if_done(s); /* now, or in the listener's close callback */
        return e;
    }
    log_info("http: start: listening host=%s port=%u conns_max=%zu per_addr_max=%zu", host,
             conn_slots_port(&s->slots), lim->conns_max, lim->conns_per_addr_max);
    *out = s;
    return SLQ_OK;
}

uint16_t http_server_port(const http_server *s) {
    SLQ_ASSERT(s != NULL);
    return conn_slots_port(&s->slots);
}

size_t http_server_conns_open(const http_server *s) {
    SLQ_ASSERT(s != NULL);
    return conn_slots_open(&s->slots);
}

void http_server_close(http_server *s, http_closed_fn closed_fn, void *closed_arg) {
    if (s == NULL) return;
    SLQ_ASSERT(!conn_slots_closing(&s->slots));
    s->closed_fn = closed_fn;
    s->closed_arg = closed_arg;
    log_info("http: close: port=%u conns=%zu", conn_slots_port(&s->slots),
             conn_slots_open(&s->slots));
    conn_slots_close(&s->slots);
    for (size_t i = 0; i < s->conns_count; i++) {
        conn *c = &s->conns[i];
        if (c->state == CONN_OPEN || c->state == CONN_DRAINING) conn_close(c);
    }
}

slq_err http_respond(http_server *s, http_req_ref ref, int status, const char *content_type,
                     const char *body, size_t body_len) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(content_type != NULL);
    SLQ_ASSERT(status >= 200 && status <= 599);
    SLQ_ASSERT(strlen(content_type) < HTTP_CTYPE_BYTES_MAX);
    SLQ_ASSERT(strpbrk(content_type, "\r\n") == NULL);
    SLQ_ASSERT(body != NULL || body_len == 0);
    if (conn_slots_closing(&s->slots) || ref.slot >= s->conns_count) return SLQ_NOT_FOUND;
    conn *c = &s->conns[ref.slot];
    if (c->state != CONN_OPEN || !c->awaiting || c->gen != ref.gen) return SLQ_NOT_FOUND;
    return conn_send(c, status, content_type, body, body_len);
}
