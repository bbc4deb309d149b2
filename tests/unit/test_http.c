/* test_http.c: unit tests of net/http_server on real sockets.
 *
 * Each test runs the server's libuv loop in the main thread and one client in a pthread
 * that talks plain blocking sockets (2 s timeouts) to 127.0.0.1 on the ephemeral port. The
 * handler echoes method, path, query, body length and an FNV-1a hash of the body as JSON;
 * "/async" answers 30 ms later from a uv_timer, "/hold" keeps its ref unanswered and
 * "/twice" answers twice. A 5 ms tick on the loop runs the test's hook (loop-thread
 * actions) and closes the server once the client is done, or after 4.5 s. Every run ends
 * with the server's closed callback and uv_loop_close() == 0; ASan/LSan check the rest.
 *
 * The client thread alone uses CHECK during a run; the loop thread counts its failures in
 * `loop_errors`, checked after the join.
 *
 * test_http links with -Wl,--wrap=malloc (net/meson.build): every malloc of this program's
 * own objects, http_server.c's included, goes through __wrap_malloc, which fails while
 * `malloc_fails` is set on the calling thread; "/oom" sets it around one http_respond. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "check.h"
#include "http_server.h"
#include "log_limit.h"
#include "slq/err.h"

#define RUN_MS_MAX       4500u
#define SOCK_TIMEO_MS    2000
#define CLI_BUF_BYTES    (256u * 1024)
#define RESP_BODY_MAX    4096u
#define ASYNC_MS         30u
#define BIG_ANSWER_BYTES (16u * 1024 * 1024) /* "/big": more than loopback sockets buffer */

/* ------------------------------------------------------------------ fixture */

typedef struct fixture fixture;
typedef void (*client_fn)(fixture *f);
typedef void (*hook_fn)(fixture *f);

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick;
    http_server *s;
    const char *host;
    uint16_t port;
    pthread_t thread;
    client_fn client;
    hook_fn hook;
    uint64_t start_ms;
    bool server_closing; /* loop thread only, like the fields below up to the atomics */
    bool server_closed;
    bool tick_closed;
    size_t conns_seen_max;
    bool watch_saw_conn; /* hook_watch_conns saw a connection open */
    slq_err late_err;
    atomic_bool client_done;
    atomic_bool late_done;
    atomic_bool held_set;
    atomic_bool client_closed; /* the client closed its /hold connection */
    atomic_bool ready;         /* the client set up what the hook acts on */
    atomic_bool conns_gone;    /* hook_watch_conns saw no connection open after ready */
    atomic_int handled;        /* requests the handler saw */
    atomic_int loop_errors;
    http_req_ref held;
};

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

static _Thread_local bool malloc_fails; /* this thread's mallocs fail */
static atomic_int mallocs_failed;

void *__wrap_malloc(size_t n) {
    if (malloc_fails) {
        atomic_fetch_add(&mallocs_failed, 1);
        return NULL;
    }
    return __real_malloc(n);
}

static uint32_t fnv1a(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static void loop_check(fixture *f, bool ok, const char *what) {
    if (ok) return;
    fprintf(stderr, "  loop thread: %s failed\n", what);
    atomic_fetch_add(&f->loop_errors, 1);
}

typedef struct {
    uv_timer_t timer;
    fixture *f;
    http_req_ref ref;
} async_job;

static void async_close_cb(uv_handle_t *h) {
    free(h->data);
}

static void async_fire_cb(uv_timer_t *t) {
    async_job *job = t->data;
    fixture *f = job->f;
    if (f->s != NULL && !f->server_closing) {
        static const char body[] = "{\"async\":true}";
        slq_err e = http_respond(f->s, job->ref, 200, "application/json", body, sizeof body - 1);
        loop_check(f, e == SLQ_OK, "async respond");
    }
    uv_close((uv_handle_t *) t, async_close_cb);
}

static void async_start(fixture *f, http_req_ref ref) {
    async_job *job = calloc(1, sizeof *job);
    if (job == NULL) abort();
    job->f = f;
    job->ref = ref;
    job->timer.data = job;
    if (uv_timer_init(&f->loop, &job->timer) != 0) abort();
    if (uv_timer_start(&job->timer, async_fire_cb, ASYNC_MS, 0) != 0) abort();
}

/* Answers with every malloc failing: the answer cannot be built. */
static void respond_without_memory(fixture *f, http_req_ref ref) {
    static const char body[] = "{\"never\":\"sent\"}";
    int failed_before = atomic_load(&mallocs_failed);
    malloc_fails = true;
    slq_err e = http_respond(f->s, ref, 200, "application/json", body, sizeof body - 1);
    malloc_fails = false;
    loop_check(f, e == SLQ_NO_MEMORY, "respond without memory is NO_MEMORY");
    loop_check(f, atomic_load(&mallocs_failed) > failed_before, "the answer's malloc failed");
}

static void closed_cb(void *arg) {
    fixture *f = arg;
    f->server_closed = true;
    f->s = NULL;
}

static void fixture_close_server(fixture *f) {
    if (f->server_closing) return;
    f->server_closing = true;
    http_server_close(f->s, closed_cb, f);
}

static void handler(void *arg, const http_request *req) {
    fixture *f = arg;
    atomic_fetch_add(&f->handled, 1);
    size_t open = http_server_conns_open(f->s);
    if (open > f->conns_seen_max) f->conns_seen_max = open;
    if (strcmp(req->path, "/async") == 0) {
        async_start(f, req->ref);
        return;
    }
    if (strcmp(req->path, "/close-server") == 0) {
        fixture_close_server(f); /* from inside the handler, request unanswered */
        return;
    }
    if (strcmp(req->path, "/oom") == 0) {
        respond_without_memory(f, req->ref);
        return;
    }
    if (strcmp(req->path, "/busy") == 0) {
        slq_err e = http_respond(f->s, req->ref, 503, "application/json", "{}", 2);
        loop_check(f, e == SLQ_OK, "respond 503");
        return;
    }
    if (strcmp(req->path, "/big") == 0) { /* more than the sockets' buffers hold */
        static char big[BIG_ANSWER_BYTES];
        slq_err e = http_respond(f->s, req->ref, 200, "text/plain", big, sizeof big);
        loop_check(f, e == SLQ_OK, "respond big");
        return;
    }
    if (strcmp(req->path, "/hold") == 0) {
        f->held = req->ref;
        atomic_store(&f->held_set, true);
        return;
    }
    char json[512];
    int n = snprintf(json, sizeof json,
                     "{\"method\":\"%s\",\"path\":\"%s\",\"query\":\"%s\",\"body_len\":%zu,"
                     "\"body_hash\":%" PRIu32 "}",
                     req->method, req->path, req->query, req->body_len,
                     fnv1a(req->body, req->body_len));
    loop_check(f, n > 0 && (size_t) n < sizeof json, "echo fits");
    slq_err e = http_respond(f->s, req->ref, 200, "application/json", json, (size_t) n);
    loop_check(f, e == SLQ_OK, "respond");
    if (strcmp(req->path, "/twice") == 0) {
        e = http_respond(f->s, req->ref, 500, "application/json", "{}", 2);
        loop_check(f, e == SLQ_NOT_FOUND, "second respond is NOT_FOUND");
    }
}

static void tick_cb(uv_timer_t *t) {
    fixture *f = t->data;
    if (f->hook != NULL && !f->server_closing) f->hook(f);
    bool timeout = uv_now(&f->loop) - f->start_ms > RUN_MS_MAX;
    loop_check(f, !timeout, "run within RUN_MS_MAX");
    if (!atomic_load(&f->client_done) && !timeout) return;
    fixture_close_server(f);
    f->tick_closed = true;
    uv_close((uv_handle_t *) t, NULL);
}

static void *client_main(void *arg) {
    fixture *f = arg;
    f->client(f);
    atomic_store(&f->client_done, true);
    return NULL;
}

/* Starts a server with `lim` on f->host (default 127.0.0.1), runs `client` in a thread
 * against it until the client is done, closes the server and checks everything closed. */
static void fixture_run(fixture *f, const http_limits *lim, client_fn client, hook_fn hook) {
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) abort(); /* libuv writes with write(2) */
    if (f->host == NULL) f->host = "127.0.0.1";
    f->client = client;
    f->hook = hook;
    if (uv_loop_init(&f->loop) != 0) abort();
    slq_err e = http_server_start(&f->s, &f->loop, f->host, 0, lim, handler, f);
    CHECK_ERR(e, SLQ_OK);
    if (e != SLQ_OK) abort();
    f->port = http_server_port(f->s);
    CHECK(f->port != 0);
    f->start_ms = uv_now(&f->loop);
    f->tick.data = f;
    if (uv_timer_init(&f->loop, &f->tick) != 0) abort();
    if (uv_timer_start(&f->tick, tick_cb, 5, 5) != 0) abort();
    if (pthread_create(&f->thread, NULL, client_main, f) != 0) abort();
    int r = uv_run(&f->loop, UV_RUN_DEFAULT);
    if (pthread_join(f->thread, NULL) != 0) abort();
    CHECK_EQ_INT(r, 0);
    CHECK(f->server_closed);
    CHECK(f->tick_closed);
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
    CHECK_EQ_INT(atomic_load(&f->loop_errors), 0);
}

/* ------------------------------------------------------------------ client side */

typedef struct {
    int fd;
    size_t len; /* bytes in buf not yet consumed */
    char *buf;  /* CLI_BUF_BYTES */
} cli;

typedef struct {
    int status;
    bool close;      /* "Connection: close" */
    int retry_after; /* "Retry-After: N", -1 when absent */
    size_t content_length;
    size_t body_len; /* stored: at most RESP_BODY_MAX - 1, NUL-terminated */
    char body[RESP_BODY_MAX];
} resp;

static void sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t now_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) abort();
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

/* Waits up to 2 s for an atomic flag set by the loop thread. */
static bool wait_flag(atomic_bool *flag) {
    for (int i = 0; i < 400 && !atomic_load(flag); i++) sleep_ms(5);
    return atomic_load(flag);
}

/* Connects to the server from source address `src` (NULL: the kernel's choice) with a
 * receive buffer of `rcvbuf` bytes (0: the kernel's default). */
static bool cli_open_ex(cli *c, const fixture *f, const char *src, int rcvbuf) {
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (strchr(f->host, ':') != NULL) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(f->port);
        if (inet_pton(AF_INET6, f->host, &a->sin6_addr) != 1) return false;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *) &ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(f->port);
        if (inet_pton(AF_INET, f->host, &a->sin_addr) != 1) return false;
        len = sizeof *a;
    }
    c->len = 0;
    c->buf = malloc(CLI_BUF_BYTES);
    c->fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (c->buf == NULL || c->fd < 0) abort();
    struct timeval tv = {.tv_sec = SOCK_TIMEO_MS / 1000, .tv_usec = 0};
    if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) abort();
    if (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) abort();
    if (rcvbuf > 0 && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0) {
        abort();
    }
    if (src != NULL) { /* 127.0.0.0/8 is all loopback: a second client address */
        struct sockaddr_in from = {.sin_family = AF_INET};
        if (inet_pton(AF_INET, src, &from.sin_addr) != 1) abort();
        if (bind(c->fd, (struct sockaddr *) &from, sizeof from) != 0) return false;
    }
    return connect(c->fd, (struct sockaddr *) &ss, len) == 0;
}

static bool cli_open_from(cli *c, const fixture *f, const char *src) {
    return cli_open_ex(c, f, src, 0);
}

static bool cli_open(cli *c, const fixture *f) {
    return cli_open_from(c, f, NULL);
}

static void cli_close(cli *c) {
    if (c->fd >= 0 && close(c->fd) != 0) perror("close");
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static bool cli_send(cli *c, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        len -= (size_t) n;
    }
    return true;
}

static bool cli_send_str(cli *c, const char *s) {
    return cli_send(c, s, strlen(s));
}

/* Reads more bytes into the buffer; false on EOF, error or timeout. */
static bool cli_fill(cli *c) {
    if (c->len == CLI_BUF_BYTES) return false;
    ssize_t n = recv(c->fd, c->buf + c->len, CLI_BUF_BYTES - c->len, 0);
    if (n <= 0) return false;
    c->len += (size_t) n;
    return true;
}

static const char *find_crlf2(const char *p, size_t len) {
    for (size_t i = 0; i + 4 <= len; i++) {
        if (memcmp(p + i, "\r\n\r\n", 4) == 0) return p + i;
    }
    return NULL;
}

/* Parses the head in c->buf[0..head_len) into r; test code, not an HTTP parser. */
static void resp_head_parse(resp *r, const char *buf, size_t head_len) {
    char head[4096];
    size_t n = head_len < sizeof head - 1 ? head_len : sizeof head - 1;
    memcpy(head, buf, n);
    head[n] = '\0';
    r->status = 0;
    if (sscanf(head, "HTTP/1.1 %d", &r->status) != 1) r->status = -1;
    const char *cl = strstr(head, "\r\nContent-Length: ");
    r->content_length = cl != NULL ? strtoul(cl + 18, NULL, 10) : 0;
    r->close = strstr(head, "\r\nConnection: close") != NULL;
    const char *retry = strstr(head, "\r\nRetry-After: ");
    r->retry_after = retry != NULL ? atoi(retry + strlen("\r\nRetry-After: ")) : -1;
}

/* Reads one answer; a HEAD answer (`head`) has no body despite its Content-Length. */
static bool cli_response_ex(cli *c, resp *r, bool head) {
    memset(r, 0, sizeof *r);
    const char *end;
    while ((end = find_crlf2(c->buf, c->len)) == NULL) {
        if (!cli_fill(c)) return false;
    }
    size_t head_len = (size_t) (end - c->buf) + 4;
    resp_head_parse(r, c->buf, head_len);
    size_t body = head ? 0 : r->content_length;
    while (c->len < head_len + body) {
        if (!cli_fill(c)) return false;
    }
    r->body_len = body < RESP_BODY_MAX - 1 ? body : RESP_BODY_MAX - 1;
    memcpy(r->body, c->buf + head_len, r->body_len);
    r->body[r->body_len] = '\0';
    c->len -= head_len + body;
    memmove(c->buf, c->buf + head_len + body, c->len);
    return true;
}

static bool cli_response(cli *c, resp *r) {
    return cli_response_ex(c, r, false);
}

/* True if the server closed the connection (EOF or reset) with no more bytes. */
static bool cli_closed(cli *c) {
    if (c->len > 0) return false;
    char b[64];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

/* True if the connection is open with nothing to read now (does not wait). */
static bool cli_open_now(cli *c) {
    char b[64];
    ssize_t n = recv(c->fd, b, sizeof b, MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* One GET on c; returns the status (-1 on failure). */
static int cli_get(cli *c, const char *path, resp *r) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (!cli_send_str(c, req) || !cli_response(c, r)) return -1;
    return r->status;
}

static bool body_has(const resp *r, const char *s) {
    return strstr(r->body, s) != NULL;
}

static http_limits small_limits(void) {
    http_limits lim = http_limits_default();
    lim.conns_max = 8;
    return lim;
}

/* ------------------------------------------------------------------ tests: requests */

static void client_get(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/v1/status?all=1&x=2", &r), 200);
    CHECK(!r.close);
    CHECK(body_has(&r, "\"method\":\"GET\""));
    CHECK(body_has(&r, "\"path\":\"/v1/status\""));
    CHECK(body_has(&r, "\"query\":\"all=1&x=2\""));
    CHECK(body_has(&r, "\"body_len\":0"));
    CHECK_EQ_INT(cli_get(&c, "/plain", &r), 200);
    CHECK(body_has(&r, "\"query\":\"\""));
    cli_close(&c);
}

static void test_get_answers_200_with_the_handler_body(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_get, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
}

#define BIG_BODY_BYTES (1024u * 1024)

static void client_post_big(fixture *f) {
    uint8_t *body = malloc(BIG_BODY_BYTES);
    if (body == NULL) abort();
    uint32_t x = 12345;
    for (size_t i = 0; i < BIG_BODY_BYTES; i++) {
        x = x * 1103515245u + 12345u;
        body[i] = (uint8_t) (x >> 16);
    }
    char head[256], want[64];
    snprintf(head, sizeof head, "POST /v1/txs HTTP/1.1\r\nContent-Length: %u\r\n\r\n",
             BIG_BODY_BYTES);
    snprintf(want, sizeof want, "\"body_hash\":%" PRIu32, fnv1a(body, BIG_BODY_BYTES));
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, head));
    CHECK(cli_send(&c, body, BIG_BODY_BYTES));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_has(&r, "\"method\":\"POST\""));
    CHECK(body_has(&r, "\"body_len\":1048576"));
    CHECK(body_has(&r, want));
    cli_close(&c);
    free(body);
}

static void test_post_delivers_a_1_mib_body_intact(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_post_big, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_chunked(fixture *f) {
    cli c;
    resp r;
    char want[64];
    snprintf(want, sizeof want, "\"body_hash\":%" PRIu32,
             fnv1a((const uint8_t *) "hello world", 11));
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_has(&r, "\"body_len\":11"));
    CHECK(body_has(&r, want));
    CHECK_EQ_INT(cli_get(&c, "/after", &r), 200);
    cli_close(&c);
}

static void test_chunked_body_is_delivered_decoded(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_chunked, NULL);
}

static void client_keep_alive(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/a", &r), 200);
    CHECK(!r.close);
    CHECK(body_has(&r, "\"path\":\"/a\""));
    CHECK_EQ_INT(cli_get(&c, "/b", &r), 200);
    CHECK(body_has(&r, "\"path\":\"/b\""));
    cli_close(&c);
}

static void test_two_requests_share_one_keep_alive_connection(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_keep_alive, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
    CHECK_EQ_INT(f.conns_seen_max, 1);
}

static void client_pipelined(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /async HTTP/1.1\r\n\r\n"
                           "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
                           "GET /c?q HTTP/1.1\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_has(&r, "\"async\":true"));
    CHECK(cli_response(&c, &r));
    CHECK(body_has(&r, "\"path\":\"/b\""));
    CHECK(body_has(&r, "\"body_len\":3"));
    CHECK(cli_response(&c, &r));
    CHECK(body_has(&r, "\"path\":\"/c\""));
    CHECK(body_has(&r, "\"query\":\"q\""));
    cli_close(&c);
}

static void test_pipelined_requests_are_answered_in_order(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_pipelined, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 3);
}

#define PIPELINE_COUNT 1000u /* about 26 KB of requests: more than one read buffer */

static void client_many_pipelined(fixture *f) {
    cli c;
    resp r;
    size_t len = PIPELINE_COUNT * 32;
    char *reqs = malloc(len), *p = reqs;
    if (reqs == NULL) abort();
    for (unsigned i = 0; i < PIPELINE_COUNT; i++) {
        p += snprintf(p, 32, "GET /%u HTTP/1.1\r\n\r\n", i);
    }
    CHECK(cli_open(&c, f));
    CHECK(cli_send(&c, reqs, (size_t) (p - reqs)));
    for (unsigned i = 0; i < PIPELINE_COUNT; i++) {
        char want[32];
        snprintf(want, sizeof want, "\"path\":\"/%u\"", i);
        bool ok = cli_response(&c, &r) && r.status == 200 && body_has(&r, want);
        CHECK(ok);
        if (!ok) break;
    }
    cli_close(&c);
    free(reqs);
}

static void test_pipelined_requests_beyond_the_read_buffer_are_all_answered(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.requests_per_sec = 100000;
    fixture_run(&f, &lim, client_many_pipelined, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), PIPELINE_COUNT);
}

static void client_async(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    uint64_t t0 = now_ms();
    CHECK_EQ_INT(cli_get(&c, "/async", &r), 200);
    CHECK(now_ms() - t0 >= ASYNC_MS - 5);
    CHECK(body_has(&r, "\"async\":true"));
    CHECK_EQ_INT(cli_get(&c, "/next", &r), 200);
    cli_close(&c);
}

static void test_async_handler_answers_later(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_async, NULL);
}

static void client_twice(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/twice", &r), 200);
    CHECK_EQ_INT(cli_get(&c, "/then", &r), 200); /* no stray second answer in between */
    CHECK(body_has(&r, "\"path\":\"/then\""));
    cli_close(&c);
}

static void test_second_respond_on_one_ref_is_not_found(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_twice, NULL); /* the handler checks NOT_FOUND */
}

static void client_head(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "HEAD /h HTTP/1.1\r\n\r\n"));
    CHECK(cli_response_ex(&c, &r, true));
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.content_length > 0);
    CHECK_EQ_INT(cli_get(&c, "/g", &r), 200); /* would fail on stray body bytes */
    CHECK(body_has(&r, "\"path\":\"/g\""));
    cli_close(&c);
}

static void test_head_answer_carries_headers_only(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_head, NULL);
}

static void client_expect(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(
        cli_send_str(&c, "POST /e HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 100);
    CHECK(cli_send_str(&c, "hello"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(body_has(&r, "\"body_len\":5"));
    cli_close(&c);
}

static void test_expect_100_continue_gets_an_interim_answer(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_expect, NULL);
}

static void client_conn_close(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\nGET /y HTTP/1.1\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.close);
    CHECK(cli_closed(&c)); /* /y is not answered */
    cli_close(&c);
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /old HTTP/1.0\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.close);
    CHECK(cli_closed(&c));
    cli_close(&c);
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK(!r.close);
    CHECK_EQ_INT(cli_get(&c, "/more", &r), 200);
    cli_close(&c);
}

static void test_connection_close_and_http10_close_after_the_answer(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_conn_close, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 4);
}

static void client_ipv6(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/six", &r), 200);
    cli_close(&c);
}

static void test_ipv6_loopback_serves(void) {
    fixture f = {0};
    f.host = "::1";
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_ipv6, NULL);
}

/* ------------------------------------------------------------------ tests: no memory */

static void client_oom(fixture *f) {
    cli c;
    resp r;
    char code[32];
    snprintf(code, sizeof code, "\"code\":%d", (int) SLQ_NO_MEMORY);
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/oom", &r), 500);
    CHECK(r.close);
    CHECK(body_has(&r, "\"error\":\"NO_MEMORY\""));
    CHECK(body_has(&r, code));
    CHECK(body_has(&r, "\"message\":\"out of memory\""));
    CHECK_EQ_INT(r.body_len, strlen(r.body));
    CHECK(cli_closed(&c));
    cli_close(&c);
    CHECK(cli_open(&c, f)); /* HEAD: the same answer without its body */
    CHECK(cli_send_str(&c, "HEAD /oom HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(cli_response_ex(&c, &r, true));
    CHECK_EQ_INT(r.status, 500);
    CHECK(r.close);
    CHECK(cli_closed(&c));
    cli_close(&c);
    CHECK(cli_open(&c, f)); /* and the server serves on */
    CHECK_EQ_INT(cli_get(&c, "/after", &r), 200);
    cli_close(&c);
}

static void test_an_answer_that_cannot_be_allocated_is_answered_500_no_memory(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_oom, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 3);
}

/* ------------------------------------------------------------------ tests: limits */

/* The error object of err: its name and number (slq/err.h), with the status the table gives
 * it (status: what a client sees, written out so that the table cannot drift unseen). */
static void check_error_answer(cli *c, int status, slq_err err) {
    resp r;
    char code[32], name[64];
    snprintf(code, sizeof code, "\"code\":%d", (int) err);
    snprintf(name, sizeof name, "\"error\":\"%s\"", slq_err_name(err));
    CHECK(cli_response(c, &r));
    CHECK_EQ_INT(r.status, status);
    CHECK(body_has(&r, name));
    CHECK(body_has(&r, code));
    CHECK(body_has(&r, "\"message\":\""));
}

static void client_too_long(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "POST /t HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"));
    check_error_answer(&c, 413, SLQ_BODY_TOO_LARGE);
    CHECK(cli_closed(&c));
    cli_close(&c);
    CHECK(cli_open(&c, f)); /* exactly the limit is fine */
    CHECK(cli_send_str(&c, "POST /t HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"));
    char body[1000];
    memset(body, 'b', sizeof body);
    CHECK(cli_send(&c, body, sizeof body));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    cli_close(&c);
}

static void test_content_length_over_limit_answers_413_and_closes(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.body_bytes_max = 1000;
    fixture_run(&f, &lim, client_too_long, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_chunked_too_long(fixture *f) {
    cli c;
    char chunk[700];
    memset(chunk, 'c', sizeof chunk);
    memcpy(chunk, "258\r\n", 5); /* 0x258 = 600 bytes follow */
    memcpy(chunk + 605, "\r\n", 2);
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    CHECK(cli_send(&c, chunk, 607));
    CHECK(cli_send(&c, chunk, 607));
    check_error_answer(&c, 413, SLQ_BODY_TOO_LARGE);
    CHECK(cli_closed(&c));
    cli_close(&c);
}

static void test_streamed_chunked_body_over_limit_answers_413_and_closes(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.body_bytes_max = 1000;
    fixture_run(&f, &lim, client_chunked_too_long, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 0);
}

static void client_garbage(fixture *f) {
    static const char *const rows[] = {
        "\x16\x03\x01\x02\x00garbage\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cli c;
        CHECK(cli_open(&c, f));
        CHECK(cli_send_str(&c, rows[i]));
        check_error_answer(&c, 400, SLQ_HTTP_MALFORMED);
        CHECK(cli_closed(&c));
        cli_close(&c);
    }
}

static void test_malformed_requests_answer_400_and_close(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_garbage, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 0);
}

#define HDR_MAX 1024u

/* A GET whose request line and headers are exactly `total` bytes. */
static void request_of_size(char *out, size_t total) {
    static const char pre[] = "GET /h HTTP/1.1\r\nX-Pad: ";
    static const char post[] = "\r\n\r\n";
    size_t pad = total - (sizeof pre - 1) - (sizeof post - 1);
    memcpy(out, pre, sizeof pre - 1);
    memset(out + sizeof pre - 1, 'p', pad);
    memcpy(out + sizeof pre - 1 + pad, post, sizeof post);
}

static void client_big_headers(fixture *f) {
    char req[2 * HDR_MAX];
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    request_of_size(req, HDR_MAX); /* exactly the limit: served */
    CHECK(cli_send_str(&c, req));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    request_of_size(req, HDR_MAX + 1); /* one byte over, on the same connection */
    CHECK(cli_send_str(&c, req));
    check_error_answer(&c, 431, SLQ_HEADERS_TOO_LARGE);
    CHECK(cli_closed(&c));
    cli_close(&c);
    CHECK(cli_open(&c, f)); /* a long URL counts too */
    char url[2 * HDR_MAX];
    memset(url, 'u', sizeof url);
    memcpy(url, "GET /", 5);
    memcpy(url + sizeof url - 16, " HTTP/1.1\r\n\r\n", 14);
    CHECK(cli_send_str(&c, url));
    check_error_answer(&c, 431, SLQ_HEADERS_TOO_LARGE);
    CHECK(cli_closed(&c));
    cli_close(&c);
}

static void test_headers_over_limit_answer_431_and_close(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.header_bytes_max = HDR_MAX;
    fixture_run(&f, &lim, client_big_headers, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_rate(fixture *f) {
    static const int want[] = {200, 200, 200, 429, 429};
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_EQ_INT(cli_get(&c, "/r", &r), want[i]);
        CHECK(!r.close);
    }
    CHECK(body_has(&r, "\"error\":\"RATE_LIMITED\""));
    CHECK(body_has(&r, "\"code\":145")); /* RATE_LIMITED's number; 429 its status */
    sleep_ms(1100);                      /* the next window */
    CHECK_EQ_INT(cli_get(&c, "/r", &r), 200);
    cli_close(&c);
}

static void test_burst_over_rate_answers_429_and_keeps_the_connection(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.requests_per_sec = 3;
    fixture_run(&f, &lim, client_rate, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 4);
}

static void client_conns(fixture *f) {
    cli a, b, c, d;
    resp r;
    CHECK(cli_open(&a, f));
    CHECK(cli_open(&b, f));
    CHECK_EQ_INT(cli_get(&a, "/a", &r), 200);
    CHECK(cli_send_str(&a, "GET /a2 HTTP/1.1\r\n")); /* both in a request: none idle */
    CHECK(cli_send_str(&b, "GET /b HTTP/1.1\r\n"));
    sleep_ms(50);
    CHECK(cli_open(&c, f)); /* the kernel completes the handshake; the server closes */
    CHECK(cli_closed(&c));
    CHECK(cli_send_str(&a, "\r\n"));
    CHECK(cli_response(&a, &r));
    CHECK_EQ_INT(r.status, 200);
    CHECK(cli_send_str(&b, "\r\n"));
    CHECK(cli_response(&b, &r));
    CHECK_EQ_INT(r.status, 200);
    cli_close(&c);
    cli_close(&a); /* frees a slot */
    sleep_ms(100);
    CHECK(cli_open(&d, f));
    CHECK_EQ_INT(cli_get(&d, "/d", &r), 200);
    cli_close(&d);
    cli_close(&b);
}

static void test_connection_over_limit_is_closed_when_none_is_idle(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.conns_max = 2;
    fixture_run(&f, &lim, client_conns, NULL);
    CHECK_EQ_INT(f.conns_seen_max, 2);
}

static void client_evict(fixture *f) {
    cli a, b, c;
    resp r;
    CHECK(cli_open(&a, f));
    CHECK_EQ_INT(cli_get(&a, "/a", &r), 200); /* idle from now */
    sleep_ms(100);
    CHECK(cli_open(&b, f));
    CHECK_EQ_INT(cli_get(&b, "/b", &r), 200); /* idle too, for less long */
    sleep_ms(1100);                           /* both idle over 1 s: either may be closed */
    CHECK(cli_open(&c, f));                   /* full: a, idle the longest, makes room */
    CHECK_EQ_INT(cli_get(&c, "/c", &r), 200);
    CHECK(cli_closed(&a));
    CHECK_EQ_INT(cli_get(&b, "/b2", &r), 200);
    CHECK_EQ_INT(cli_get(&c, "/c2", &r), 200);
    cli_close(&a);
    cli_close(&b);
    cli_close(&c);
}

static void test_when_full_the_longest_idle_connection_makes_room(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.conns_max = 2;
    fixture_run(&f, &lim, client_evict, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 5);
}

static void client_evict_recent(fixture *f) {
    cli a, b, c, d;
    resp r;
    CHECK(cli_open(&a, f));
    CHECK(cli_open(&b, f));
    CHECK_EQ_INT(cli_get(&a, "/a", &r), 200); /* idle from now */
    CHECK_EQ_INT(cli_get(&b, "/b", &r), 200);
    CHECK(cli_open_from(&c, f, "127.0.0.2")); /* full, and nobody idle 1 s yet: closed */
    CHECK(cli_closed(&c));
    CHECK_EQ_INT(cli_get(&a, "/a2", &r), 200); /* its next request is answered */
    CHECK_EQ_INT(cli_get(&b, "/b2", &r), 200);
    sleep_ms(1100);
    CHECK(cli_open_from(&d, f, "127.0.0.2")); /* now one idle over 1 s makes room */
    CHECK_EQ_INT(cli_get(&d, "/d", &r), 200);
    cli_close(&a);
    cli_close(&b);
    cli_close(&c);
    cli_close(&d);
}

static void test_a_connection_idle_for_less_than_a_second_keeps_its_slot(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.conns_max = 2;
    fixture_run(&f, &lim, client_evict_recent, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 5);
}

#define FAIR_CONNS 5u

static void client_fair(fixture *f) {
    cli held[FAIR_CONNS], c, d;
    resp r;
    for (unsigned i = 0; i < FAIR_CONNS; i++) { /* silent: every slot in the header phase */
        CHECK(cli_open_from(&held[i], f, i < 3 ? "127.0.0.2" : "127.0.0.3"));
        sleep_ms(10); /* accepted in this order: held[0] waits longest */
    }
    sleep_ms(1100);                           /* each has waited over 1 s: it may give way */
    CHECK(cli_open_from(&c, f, "127.0.0.3")); /* 3 against its 2 + 1: closed */
    CHECK(cli_closed(&c));
    CHECK(cli_open_from(&d, f, "127.0.0.4")); /* 127.0.0.2, holding the most, gives way */
    CHECK_EQ_INT(cli_get(&d, "/d", &r), 200);
    CHECK(cli_closed(&held[0])); /* its connection waiting longest */
    for (unsigned i = 1; i < FAIR_CONNS; i++) CHECK(cli_open_now(&held[i]));
    for (unsigned i = 0; i < FAIR_CONNS; i++) cli_close(&held[i]);
    cli_close(&c);
    cli_close(&d);
}

static void test_when_full_the_address_holding_the_most_makes_room_for_another(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.conns_max = FAIR_CONNS;
    fixture_run(&f, &lim, client_fair, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_per_addr(fixture *f) {
    cli a, b, c, d, e;
    resp r;
    CHECK(cli_open_from(&a, f, "127.0.0.1"));
    CHECK(cli_open_from(&b, f, "127.0.0.1"));
    CHECK_EQ_INT(cli_get(&a, "/a", &r), 200);
    CHECK_EQ_INT(cli_get(&b, "/b", &r), 200);
    CHECK(cli_open_from(&c, f, "127.0.0.1")); /* a third from one address: closed at once */
    CHECK(cli_closed(&c));
    CHECK(cli_open_from(&d, f, "127.0.0.2")); /* another address is served */
    CHECK_EQ_INT(cli_get(&d, "/d", &r), 200);
    CHECK_EQ_INT(cli_get(&a, "/a2", &r), 200); /* the two kept are untouched */
    cli_close(&a);
    sleep_ms(100);
    CHECK(cli_open_from(&e, f, "127.0.0.1")); /* one closed: room for its address again */
    CHECK_EQ_INT(cli_get(&e, "/e", &r), 200);
    cli_close(&b);
    cli_close(&c);
    cli_close(&d);
    cli_close(&e);
}

static void test_a_connection_over_the_per_address_limit_is_closed(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.conns_per_addr_max = 2;
    fixture_run(&f, &lim, client_per_addr, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 5);
}

static void client_per_addr_v6(fixture *f) {
    cli a, b;
    resp r;
    CHECK(cli_open(&a, f));
    CHECK_EQ_INT(cli_get(&a, "/a", &r), 200);
    CHECK(cli_open(&b, f));
    CHECK(cli_closed(&b));
    cli_close(&a);
    cli_close(&b);
}

static void test_the_per_address_limit_counts_ipv6_clients_too(void) {
    fixture f = {.host = "::1"};
    http_limits lim = small_limits();
    lim.conns_per_addr_max = 1;
    fixture_run(&f, &lim, client_per_addr_v6, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_idle(fixture *f) {
    cli a, b;
    resp r;
    uint64_t t0 = now_ms();
    CHECK(cli_open(&a, f));
    CHECK(cli_open(&b, f));
    CHECK(cli_send_str(&b, "GET /partial HTTP/1.1\r\nHost:")); /* never finished */
    CHECK(cli_closed(&a));
    CHECK(cli_closed(&b));
    uint64_t dt = now_ms() - t0;
    CHECK(dt >= 90);
    CHECK(dt < 1000);
    cli_close(&a);
    CHECK(cli_open(&a, f)); /* a served connection idles out after its answer too */
    CHECK_EQ_INT(cli_get(&a, "/x", &r), 200);
    CHECK(cli_closed(&a));
    cli_close(&a);
    cli_close(&b);
}

static void test_idle_connection_is_closed_by_the_timer(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.idle_ms = 100;   /* after the answer */
    lim.header_ms = 100; /* before the first request */
    fixture_run(&f, &lim, client_idle, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

/* Sets conns_gone once the client is ready and the server, which had a connection open (seen
 * here, or by the handler between two ticks), has none. */
static void hook_watch_conns(fixture *f) {
    size_t open = http_server_conns_open(f->s);
    if (open > 0 || f->conns_seen_max > 0) f->watch_saw_conn = true;
    if (atomic_load(&f->ready) && f->watch_saw_conn && open == 0) {
        atomic_store(&f->conns_gone, true);
    }
}

static void client_linger(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK(r.close);
    uint64_t t0 = now_ms();
    atomic_store(&f->ready, true);
    CHECK(wait_flag(&f->conns_gone)); /* while the client keeps its end open */
    CHECK(now_ms() - t0 < 900);       /* 150 ms idle, not the 1 s linger; room for a busy host */
    cli_close(&c);
}

static void test_a_closed_connection_lingers_no_longer_than_the_idle_time(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.idle_ms = 150;
    fixture_run(&f, &lim, client_linger, hook_watch_conns);
}

#define DRAIN_SEND_BYTES (4u * 1024 * 1024) /* four times what a lingering server discards */

static void client_drain(fixture *f) {
    cli c;
    resp r;
    static char junk[64 * 1024];
    memset(junk, 'j', sizeof junk);
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK(r.close);
    uint64_t t0 = now_ms();
    atomic_store(&f->ready, true);
    /* The server discards at most 1 MiB after its last answer, then closes: a send fails
     * (reset) or the rest is never read. Before its linger time (1 s) in any case. */
    for (size_t sent = 0; sent < DRAIN_SEND_BYTES; sent += sizeof junk) {
        if (!cli_send(&c, junk, sizeof junk)) break;
    }
    CHECK(wait_flag(&f->conns_gone));
    CHECK(now_ms() - t0 < 900);
    cli_close(&c);
}

static void test_input_after_the_last_answer_is_discarded_up_to_a_bound(void) {
    fixture f = {0};
    http_limits lim = small_limits(); /* idle 30 s: the linger is its 1 s maximum */
    fixture_run(&f, &lim, client_drain, hook_watch_conns);
}

static void client_trickle(fixture *f) {
    cli c;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /slow HTTP/1.1\r\nX-Slow: "));
    uint64_t t0 = now_ms();
    atomic_store(&f->ready, true);
    bool gone = false;
    for (int i = 0; i < 50 && !gone; i++) { /* a byte every 30 ms, for 1.5 s at most */
        (void) cli_send_str(&c, "s");       /* fails once the server has closed */
        sleep_ms(30);
        gone = atomic_load(&f->conns_gone);
    }
    CHECK(gone);
    CHECK(now_ms() - t0 < 900); /* the header deadline counts from the request's start */
    CHECK(cli_closed(&c));
    cli_close(&c);
}

static void test_a_request_trickled_a_byte_at_a_time_is_closed_at_the_header_deadline(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.header_ms = 150;
    fixture_run(&f, &lim, client_trickle, hook_watch_conns);
    CHECK_EQ_INT(atomic_load(&f.handled), 0);
}

static void client_body_trickle(fixture *f) {
    cli c;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "POST /slow HTTP/1.1\r\nContent-Length: 100\r\n\r\n"));
    uint64_t t0 = now_ms();
    atomic_store(&f->ready, true);
    bool gone = false;
    for (int i = 0; i < 50 && !gone; i++) { /* a body byte every 30 ms, for 1.5 s at most */
        (void) cli_send_str(&c, "b");       /* fails once the server has closed */
        sleep_ms(30);
        gone = atomic_load(&f->conns_gone);
    }
    CHECK(gone);
    CHECK(now_ms() - t0 < 900); /* 150 ms body deadline, not the 30 s header one */
    CHECK(cli_closed(&c));
    cli_close(&c);
}

static void test_a_body_trickled_past_the_body_deadline_is_closed(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.header_ms = 30000;
    lim.body_ms = 150;
    fixture_run(&f, &lim, client_body_trickle, hook_watch_conns);
    CHECK_EQ_INT(atomic_load(&f.handled), 0);
}

static void client_no_read(fixture *f) {
    cli c;
    CHECK(cli_open_ex(&c, f, NULL, 4096)); /* a small receive window, and never read */
    CHECK(cli_send_str(&c, "GET /big HTTP/1.1\r\n\r\n"));
    uint64_t t0 = now_ms();
    atomic_store(&f->ready, true);
    CHECK(wait_flag(&f->conns_gone)); /* its answer could not be written in time */
    CHECK(now_ms() - t0 < 1500);      /* 200 ms write deadline; room for a busy host */
    cli_close(&c);
}

static void test_an_answer_the_client_does_not_read_is_closed_at_the_write_deadline(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.body_ms = 200; /* the write deadline */
    fixture_run(&f, &lim, client_no_read, hook_watch_conns);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_keep_alive_idle(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/first", &r), 200);
    sleep_ms(400); /* idle between requests: idle_ms, not header_ms, applies */
    CHECK_EQ_INT(cli_get(&c, "/second", &r), 200);
    sleep_ms(50);
    CHECK(cli_send_str(&c, "GET /third HTTP/1.1\r\nX-Slow: ")); /* never finished */
    uint64_t t0 = now_ms();
    CHECK(cli_closed(&c)); /* at the header deadline of the third request */
    CHECK(now_ms() - t0 < 900);
    cli_close(&c);
}

static void test_a_kept_alive_connection_idles_longer_than_the_header_deadline(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.idle_ms = 3000;
    lim.header_ms = 100;
    fixture_run(&f, &lim, client_keep_alive_idle, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
}

static void client_pipelined_partial(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nX-Slow: "));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    uint64_t t0 = now_ms();
    CHECK(cli_closed(&c)); /* /b began with the first send: its header deadline runs */
    CHECK(now_ms() - t0 < 900);
    cli_close(&c);
}

static void test_a_request_pipelined_behind_an_answer_gets_the_header_deadline(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.idle_ms = 3000;
    lim.header_ms = 100;
    fixture_run(&f, &lim, client_pipelined_partial, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 1);
}

static void client_versions(fixture *f) {
    static const struct {
        const char *req;
        int status;
        slq_err err;
    } rows[] = {
        {"GET /v HTTP/2.0\r\nHost: t\r\n\r\n", 505, SLQ_HTTP_VERSION_UNSUPPORTED},
        {"GET /v HTTP/1.2\r\nHost: t\r\n\r\n", 505, SLQ_HTTP_VERSION_UNSUPPORTED},
        {"GET /v HTTP/3.0\r\nHost: t\r\n\r\n", 505, SLQ_HTTP_VERSION_UNSUPPORTED},
        {"GET /v HTTP/0.9\r\nHost: t\r\n\r\n", 400, SLQ_HTTP_MALFORMED}, /* as below */
        {"GET /v\r\n\r\n", 400, SLQ_HTTP_MALFORMED}, /* HTTP/0.9's request line */
        {"GET /v\r\nHost: t\r\n\r\n", 400, SLQ_HTTP_MALFORMED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        cli c;
        CHECK(cli_open(&c, f));
        CHECK(cli_send_str(&c, rows[i].req));
        check_error_answer(&c, rows[i].status, rows[i].err);
        CHECK(cli_closed(&c));
        cli_close(&c);
    }
    cli c;
    resp r;
    CHECK(cli_open(&c, f)); /* both versions that are served */
    CHECK(cli_send_str(&c, "GET /v10 HTTP/1.0\r\n\r\n"));
    CHECK(cli_response(&c, &r));
    CHECK_EQ_INT(r.status, 200);
    cli_close(&c);
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/v11", &r), 200);
    cli_close(&c);
}

static void test_http_versions_other_than_1_0_and_1_1_are_refused(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_versions, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
}

static void test_log_limit_lets_one_line_through_per_interval_with_the_count(void) {
    log_limit l;
    uint64_t n = 99;
    log_limit_init(&l, 1000);
    CHECK(log_limit_allow(&l, 5000, &n)); /* the first goes through */
    CHECK_EQ_INT(n, 0);
    CHECK(!log_limit_allow(&l, 5000, &n));
    CHECK(!log_limit_allow(&l, 5500, &n));
    CHECK(!log_limit_allow(&l, 5999, &n)); /* one millisecond short */
    CHECK(log_limit_allow(&l, 6000, &n));  /* the next interval, with the 3 held back */
    CHECK_EQ_INT(n, 3);
    CHECK(log_limit_allow(&l, 9000, &n)); /* a quiet interval: nothing held back */
    CHECK_EQ_INT(n, 0);
    log_limit_init(&l, 1000);
    CHECK(log_limit_allow(&l, 0, &n)); /* a loop started at 0 ms */
}

/* ------------------------------------------------------------------ tests: lifecycle */

static void hook_respond_late(fixture *f) {
    if (atomic_load(&f->late_done) || !atomic_load(&f->client_closed)) return;
    if (http_server_conns_open(f->s) != 0) return; /* the server has not seen the EOF yet */
    f->late_err = http_respond(f->s, f->held, 200, "application/json", "{}", 2);
    atomic_store(&f->late_done, true);
}

static void client_hold_and_leave(fixture *f) {
    cli c;
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /hold HTTP/1.1\r\n\r\n"));
    CHECK(wait_flag(&f->held_set));
    cli_close(&c);
    atomic_store(&f->client_closed, true);
    CHECK(wait_flag(&f->late_done));
}

static void test_respond_on_a_stale_ref_after_disconnect_is_not_found(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_hold_and_leave, hook_respond_late);
    CHECK(atomic_load(&f.late_done));
    CHECK_ERR(f.late_err, SLQ_NOT_FOUND);
}

static void hook_close_when_ready(fixture *f) {
    if (atomic_load(&f->ready) && atomic_load(&f->held_set)) fixture_close_server(f);
}

static void client_close_under_load(fixture *f) {
    cli idle, held, partial, body;
    resp r;
    CHECK(cli_open(&idle, f));
    CHECK_EQ_INT(cli_get(&idle, "/i", &r), 200);
    CHECK(cli_open(&partial, f));
    CHECK(cli_send_str(&partial, "GET /p HTTP/1.1\r\nX-Half: yes"));
    CHECK(cli_open(&body, f));
    CHECK(cli_send_str(&body, "POST /b HTTP/1.1\r\nContent-Length: 100000\r\n\r\nsome"));
    CHECK(cli_open(&held, f));
    CHECK(cli_send_str(&held, "GET /hold HTTP/1.1\r\n\r\nGET /queued HTTP/1.1\r\n\r\n"));
    CHECK(wait_flag(&f->held_set));
    atomic_store(&f->ready, true);
    CHECK(cli_closed(&idle));
    CHECK(cli_closed(&partial));
    CHECK(cli_closed(&body));
    CHECK(cli_closed(&held));
    cli_close(&idle);
    cli_close(&partial);
    cli_close(&body);
    cli_close(&held);
}

static void test_close_with_open_connections_frees_everything(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_close_under_load, hook_close_when_ready);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
}

static void client_close_from_handler(fixture *f) {
    cli c, other;
    resp r;
    CHECK(cli_open(&other, f));
    CHECK_EQ_INT(cli_get(&other, "/first", &r), 200);
    CHECK(cli_open(&c, f));
    CHECK(cli_send_str(&c, "GET /close-server HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n"));
    CHECK(cli_closed(&c));
    CHECK(cli_closed(&other));
    cli_close(&c);
    cli_close(&other);
}

static void test_handler_may_close_the_server(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    fixture_run(&f, &lim, client_close_from_handler, NULL);
    CHECK_EQ_INT(atomic_load(&f.handled), 2);
}

static void closed_count_cb(void *arg) {
    (*(int *) arg)++;
}

static void noop_handler(void *arg, const http_request *req) {
    (void) arg;
    (void) req;
}

static void test_start_rejects_bad_arguments_and_a_busy_port(void) {
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) abort();
    http_limits lim = small_limits();
    http_server *s = NULL, *t = NULL;
    CHECK_ERR(http_server_start(&s, &loop, "localhost", 0, &lim, noop_handler, NULL),
              SLQ_INVALID_ARGUMENT);
    CHECK(s == NULL);
    http_limits zero = lim;
    zero.conns_max = 0;
    CHECK_ERR(http_server_start(&s, &loop, "127.0.0.1", 0, &zero, noop_handler, NULL),
              SLQ_INVALID_ARGUMENT);
    CHECK_ERR(http_server_start(&s, &loop, "127.0.0.1", 0, &lim, noop_handler, NULL), SLQ_OK);
    if (s == NULL) abort();
    CHECK_ERR(
        http_server_start(&t, &loop, "127.0.0.1", http_server_port(s), &lim, noop_handler, NULL),
        SLQ_NET);
    CHECK(t == NULL);
    int closed = 0;
    http_server_close(s, closed_count_cb, &closed);
    http_server_close(NULL, NULL, NULL);
    CHECK_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

static void client_busy(fixture *f) {
    cli c;
    resp r;
    CHECK(cli_open(&c, f));
    CHECK_EQ_INT(cli_get(&c, "/busy", &r), 503);
    CHECK_EQ_INT(r.retry_after, 7);
    CHECK(!r.close);
    CHECK_EQ_INT(cli_get(&c, "/plain", &r), 200);
    CHECK_EQ_INT(r.retry_after, -1); /* only a 503 says when to come back */
    cli_close(&c);
}

static void test_a_503_answer_says_retry_after(void) {
    fixture f = {0};
    http_limits lim = small_limits();
    lim.retry_after_s = 7;
    fixture_run(&f, &lim, client_busy, NULL);
}

static void test_default_limits_come_from_limits_h(void) {
    http_limits lim = http_limits_default();
    CHECK_EQ_INT(lim.conns_max, 256);
    CHECK_EQ_INT(lim.header_bytes_max, 16 * 1024);
    CHECK(lim.body_bytes_max > 512u * 8192);
    CHECK_EQ_INT(lim.requests_per_sec, 1000);
    CHECK_EQ_INT(lim.idle_ms, 30000);
    CHECK_EQ_INT(lim.conns_per_addr_max, 32);
    CHECK_EQ_INT(lim.header_ms, 5000);
    CHECK_EQ_INT(lim.body_ms, 30000);
    CHECK_EQ_INT(lim.retry_after_s, 1);
}

TEST_MAIN("http", TEST(test_default_limits_come_from_limits_h),
          TEST(test_get_answers_200_with_the_handler_body),
          TEST(test_post_delivers_a_1_mib_body_intact),
          TEST(test_chunked_body_is_delivered_decoded),
          TEST(test_two_requests_share_one_keep_alive_connection),
          TEST(test_pipelined_requests_are_answered_in_order),
          TEST(test_pipelined_requests_beyond_the_read_buffer_are_all_answered),
          TEST(test_async_handler_answers_later), TEST(test_second_respond_on_one_ref_is_not_found),
          TEST(test_head_answer_carries_headers_only), TEST(test_a_503_answer_says_retry_after),
          TEST(test_expect_100_continue_gets_an_interim_answer),
          TEST(test_connection_close_and_http10_close_after_the_answer),
          TEST(test_ipv6_loopback_serves),
          TEST(test_content_length_over_limit_answers_413_and_closes),
          TEST(test_streamed_chunked_body_over_limit_answers_413_and_closes),
          TEST(test_malformed_requests_answer_400_and_close),
          TEST(test_headers_over_limit_answer_431_and_close),
          TEST(test_an_answer_that_cannot_be_allocated_is_answered_500_no_memory),
          TEST(test_burst_over_rate_answers_429_and_keeps_the_connection),
          TEST(test_connection_over_limit_is_closed_when_none_is_idle),
          TEST(test_when_full_the_longest_idle_connection_makes_room),
          TEST(test_a_connection_idle_for_less_than_a_second_keeps_its_slot),
          TEST(test_when_full_the_address_holding_the_most_makes_room_for_another),
          TEST(test_a_connection_over_the_per_address_limit_is_closed),
          TEST(test_the_per_address_limit_counts_ipv6_clients_too),
          TEST(test_a_body_trickled_past_the_body_deadline_is_closed),
          TEST(test_an_answer_the_client_does_not_read_is_closed_at_the_write_deadline),
          TEST(test_a_kept_alive_connection_idles_longer_than_the_header_deadline),
          TEST(test_a_request_pipelined_behind_an_answer_gets_the_header_deadline),
          TEST(test_http_versions_other_than_1_0_and_1_1_are_refused),
          TEST(test_log_limit_lets_one_line_through_per_interval_with_the_count),
          TEST(test_idle_connection_is_closed_by_the_timer),
          TEST(test_a_closed_connection_lingers_no_longer_than_the_idle_time),
          TEST(test_input_after_the_last_answer_is_discarded_up_to_a_bound),
          TEST(test_a_request_trickled_a_byte_at_a_time_is_closed_at_the_header_deadline),
          TEST(test_respond_on_a_stale_ref_after_disconnect_is_not_found),
          TEST(test_close_with_open_connections_frees_everything),
          TEST(test_handler_may_close_the_server),
          TEST(test_start_rejects_bad_arguments_and_a_busy_port))
