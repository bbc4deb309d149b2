/* http_server.h: a small HTTP/1.1 server on a libuv loop, for the node's JSON API (docs/api.md).
 *
 * This is the generic layer only: it accepts connections, parses requests with http-parser,
 * enforces the SLQ_HTTP_* limits, hands each complete request to one handler function and
 * writes the handler's answer. Routing and JSON bodies belong to the caller.
 *
 * Threading: every function here runs on the loop thread only, and the handler is called on
 * it. A handler that works elsewhere (uv_queue_work) answers from its after-work callback.
 * The process must ignore SIGPIPE (signal(SIGPIPE, SIG_IGN) in main): libuv writes with
 * write(2), so a client that resets its connection would otherwise kill the process.
 *
 * Connections: keep-alive by default (HTTP/1.1), closed after the answer on "Connection:
 * close", on HTTP/1.0 without "Connection: keep-alive" and after every error answer. One
 * request per connection is in flight: the next pipelined request is parsed only once the
 * previous answer has been written, so answers go out in request order. While a request is
 * in flight the connection still reads into its fixed buffer (16 KiB; reading stops when it
 * is full), so that a client that goes away is noticed: EOF or a reset then closes the
 * connection and its ref goes stale (like nginx, a client that half-closes after sending its
 * request gets no answer).
 *
 * Errors the server answers itself (JSON {"error","code","message"}, "code" = the status):
 *   400 HTTP_MALFORMED     the parser rejects the bytes (incl. Content-Length together
 *                          with chunked, invalid chunk sizes); connection closed
 *   413 BODY_TOO_LARGE     Content-Length, or the streamed (also chunked) body, over
 *                          body_bytes_max; connection closed
 *   431 HEADERS_TOO_LARGE  request line and headers over header_bytes_max; closed
 *   429 RATE_LIMITED       more than requests_per_sec requests on one connection within
 *                          one second (fixed window); the connection stays open
 *   500 NO_MEMORY (code 2) a body buffer could not be allocated, or the handler's answer
 *                          (then a fixed answer, which needs no memory, is sent instead);
 *                          connection closed after it
 *   505 HTTP_VERSION_UNSUPPORTED  a version other than HTTP/1.0 and HTTP/1.1 (a request line
 *                          without one, HTTP/0.9's "GET /", is a 400 HTTP_MALFORMED); closed
 * Connections: a connection from an address that already has conns_per_addr_max open
 * (IPv6: from its /64) is accepted and closed at once. When all conns_max are open, a new
 * connection closes the one that has waited longest idle between two requests (keep-alive),
 * if that is at least 1 s (its next request may be on its way), and takes its place. If none is,
 * the address holding the most connections, if 2 more than the newcomer's, closes its connection
 * that has waited longest (at least 1 s) on its client: for a request's headers or body, for the
 * client to take an answer, or idle. Otherwise the newcomer is accepted and closed at once;
 * a connection whose request is with the handler is never closed for a newcomer. Deadlines, each a
 * whole one that no trickle of bytes extends: a request's line and headers must arrive within
 * header_ms (from accept, or from the first byte after the previous answer), its body within
 * body_ms of its headers, and each answer must be written (taken by the client's TCP) within
 * body_ms of being queued; between two requests a connection may idle idle_ms. Past a deadline the
 * connection is closed without an answer. Refusals and deadlines are logged at most once per 10 s
 * per kind, with the count of the ones not logged. Chunked request bodies are accepted (decoded by
 * http-parser, limited like any body). "Expect: 100-continue" gets "100 Continue" when the
 * body is within the limit. HEAD answers carry headers only. */
#ifndef SLQ_NODE_HTTP_H
#define SLQ_NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "slq/err.h"

typedef struct http_server http_server; /* opaque */

/* Identifies one request. A ref goes stale when its request is answered, when its
 * connection closes (client gone, server closing) or when the slot is reused: a stale ref
 * is detected by http_respond (SLQ_NOT_FOUND), never misdirected. */
typedef struct {
    uint32_t slot; /* connection slot */
    uint32_t gen;  /* request generation within the slot */
} http_req_ref;

/* One complete request, borrowed for the duration of the handler call only: copy what must
 * outlive it (the ref is a value and may be kept). */
typedef struct {
    http_req_ref ref;
    const char *method;  /* "GET", "POST", ...: a static string */
    const char *path;    /* raw (not percent-decoded) path without the query, NUL-terminated */
    const char *query;   /* raw text after '?', "" if none */
    const uint8_t *body; /* decoded body (chunked is de-chunked); never NULL */
    size_t body_len;     /* <= body_bytes_max */
} http_request;

/* Called once per complete request on the loop thread. It must answer the request exactly
 * once with http_respond, now or later. Until it does, the connection reads nothing more
 * beyond its read buffer; a request never answered holds its connection until the client
 * goes away or the server closes. The handler may call http_server_close. */
typedef void (*http_handler_fn)(void *arg, const http_request *req);

/* Called once, from the last libuv close callback, after http_server_close has finished:
 * every handle is closed and the server's memory is freed. */
typedef void (*http_closed_fn)(void *arg);

typedef struct {
    size_t conns_max;          /* open connections kept (see "Connections" above) */
    size_t conns_per_addr_max; /* open connections of one client address (IPv6: its /64) */
    size_t header_bytes_max;   /* request line and headers of one request */
    size_t body_bytes_max;     /* body of one request (after de-chunking) */
    unsigned requests_per_sec; /* per connection; more answer 429 */
    unsigned idle_ms;          /* idle this long between two requests closes a connection */
    unsigned header_ms;        /* a request line and headers must arrive within this */
    unsigned body_ms;          /* a body must arrive within this after its headers */
    unsigned retry_after_s;    /* a 503 answer carries Retry-After: this (0: none; <= 3600) */
} http_limits;

/* The defaults of slq/limits.h (SLQ_HTTP_*). */
http_limits http_limits_default(void);

/* Listens on host:port (host a literal address: "127.0.0.1", "::1", ...; port 0 picks an
 * ephemeral port, see http_server_port). `fn(arg, req)` is called for every request; `lim`
 * is copied. On SLQ_OK *out is yours: release it with http_server_close().
 * Returns SLQ_INVALID_ARGUMENT for a host that is not an address literal or a limit that is
 * zero or absurd (over 65536 conns, 1 MiB of headers, 1 GiB of body),
 * SLQ_NO_MEMORY, or SLQ_NET (logged) when bind or listen fails. On an error nothing is left
 * for the caller to release, but a listener that was already initialised is freed in its
 * close callback: run the loop (as before any uv_loop_close) to finish that. */
SLQ_MUST_USE slq_err http_server_start(http_server **out, uv_loop_t *loop, const char *host,
                                       uint16_t port, const http_limits *lim, http_handler_fn fn,
                                       void *arg);

/* The bound port (the ephemeral one when started with port 0). */
uint16_t http_server_port(const http_server *s);

/* Open connections, including those being closed: at most conns_max + 1 (a new one is
 * accepted before the server decides to keep it). */
size_t http_server_conns_open(const http_server *s);

/* Stops listening and closes every connection at once (answers not yet written are
 * dropped; every outstanding ref goes stale). The server frees itself in the last close
 * callback, then calls closed_fn(closed_arg) if closed_fn is not NULL; the caller keeps
 * running the loop until then. Between this call and closed_fn, http_respond answers
 * SLQ_NOT_FOUND; after closed_fn `s` is gone: do not use it (an async handler must finish
 * or be cancelled before). Call once; NULL is a no-op. */
void http_server_close(http_server *s, http_closed_fn closed_fn, void *closed_arg);

/* Answers request `ref` with `status` (200..599), "Content-Type: content_type" (a constant
 * without CR/LF, < 128 bytes) and body[0..body_len), which is copied: the caller keeps
 * ownership of `body`. Adds Content-Length and Connection; a HEAD answer omits the body.
 * Callable during the handler call or any time later, once per request. Returns SLQ_OK
 * when the answer is queued; SLQ_NOT_FOUND if the ref is stale (already answered,
 * connection gone, server closing); SLQ_NO_MEMORY if the answer could not be allocated: the
 * client then gets the fixed 500 NO_MEMORY answer instead, and the connection closes after
 * it; SLQ_INVALID_ARGUMENT (answer over 4 GiB) or SLQ_NET if the write could not be queued:
 * then the connection is closed (logged). A bad status or content type is a bug and
 * asserts. */
SLQ_MUST_USE slq_err http_respond(http_server *s, http_req_ref ref, int status,
                                  const char *content_type, const char *body, size_t body_len);

#endif
