/* test_p2p.c: unit tests of net/p2p on real sockets.
 *
 * Each test runs two or three p2p instances on one uv loop in the test thread, on 127.0.0.1
 * with ephemeral ports and Ed25519 keys from crypto_key_generate (keys 0..2 are allowed,
 * key 3 is not). WAIT_FOR turns the loop (a 5 ms tick keeps it turning) until a condition
 * holds or a deadline passes; RUN_FOR turns it for a while, to see that nothing happens.
 * A test that needs a misbehaving peer runs a raw client in a pthread: blocking sockets with
 * 2 s timeouts, the handshake done by hand from the preimage documented in p2p.h. The raw
 * client records what it saw in atomics, read after the join, so only the test thread
 * uses CHECK. Log lines are captured by pointing fd 2 at a temporary file. Every test ends
 * with each p2p closed, its closed callback run and uv_loop_close() == 0; ASan/LSan check
 * the rest. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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
#include "p2p.h"
#include "slq/err.h"
#include "slq/limits.h"

#define KEYS          4u /* 0..2 allowed, 3 unknown */
#define ALLOWED       3u
#define NODES         3u
#define PEERS_SEEN    8u
#define WAIT_MS       3000u
#define CHAIN_ID      "slq-p2p-test"
#define TX_MAX        (SLQ_FRAME_BYTES_MAX - 5u) /* tag and a 4-byte length: a frame at the limit */
#define SOCK_TIMEO_S  2
#define LOG_BYTES_MAX (256u * 1024)

/* ------------------------------------------------------------------ fixture */

typedef struct fixture fixture;

typedef struct {
    fixture *f;
    p2p *p;
    uint16_t port;
    bool closing;
    bool closed;
    int ups, downs;
    size_t peers_n; /* admitted now, as peer_fn told */
    uint32_t peers[PEERS_SEEN];
    int peer_keys[PEERS_SEEN]; /* index into fixture keys, -1 if none */
    int msgs;
    uint32_t last_from;
    size_t last_tx_len;
    uint8_t last_tx_byte;
} tnode;

typedef struct {
    const char *chain_id;   /* NULL: CHAIN_ID */
    const uint8_t *genesis; /* NULL: the fixture's */
    uint32_t handshake_ms;
} node_opts;

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick;
    crypto_key *keys[KEYS];
    uint8_t pubs[KEYS][CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len;
    const uint8_t *allowed[ALLOWED];
    uint8_t genesis[CRYPTO_HASH_BYTES];
    tnode nodes[NODES];
};

#define WAIT_FOR(f, cond, ms)                                                   \
    do {                                                                        \
        uint64_t end_ = uv_now(&(f)->loop) + (ms);                              \
        while (!(cond) && uv_now(&(f)->loop) < end_) {                          \
            (void) uv_run(&(f)->loop, UV_RUN_ONCE); /* returns whether alive */ \
        }                                                                       \
        CHECK(cond);                                                            \
    } while (0)

static void run_for(fixture *f, uint64_t ms) {
    uint64_t end = uv_now(&f->loop) + ms;
    while (uv_now(&f->loop) < end) (void) uv_run(&f->loop, UV_RUN_ONCE);
}

static int key_index(const fixture *f, const uint8_t *key, size_t len) {
    for (unsigned i = 0; i < KEYS; i++) {
        if (len == f->pub_len && memcmp(f->pubs[i], key, len) == 0) return (int) i;
    }
    return -1;
}

static void peer_cb(void *arg, uint32_t peer, bool up, const uint8_t *key, size_t key_len) {
    tnode *n = arg;
    int k = key_index(n->f, key, key_len);
    CHECK(k >= 0);
    size_t at = n->peers_n;
    for (size_t i = 0; i < n->peers_n; i++) {
        if (n->peers[i] == peer) at = i;
        if (up) CHECK(n->peer_keys[i] != k); /* one key: up and down alternate */
    }
    if (up) {
        CHECK(at == n->peers_n);
        CHECK(n->peers_n < PEERS_SEEN);
        if (n->peers_n < PEERS_SEEN) {
            n->peers[n->peers_n] = peer;
            n->peer_keys[n->peers_n] = k;
            n->peers_n++;
        }
        n->ups++;
        return;
    }
    CHECK(at < n->peers_n);
    if (at < n->peers_n) {
        n->peers_n--;
        n->peers[at] = n->peers[n->peers_n];
        n->peer_keys[at] = n->peer_keys[n->peers_n];
    }
    n->downs++;
}

static void msg_cb(void *arg, uint32_t peer, const Slq__Envelope *env) {
    tnode *n = arg;
    n->msgs++;
    n->last_from = peer;
    if (env->msg_case == SLQ__ENVELOPE__MSG_TX) {
        n->last_tx_len = env->tx.len;
        n->last_tx_byte = env->tx.len > 0 ? env->tx.data[env->tx.len - 1] : 0;
    }
}

static void closed_cb(void *arg) {
    tnode *n = arg;
    n->closed = true;
    n->p = NULL;
}

static uint64_t height_cb(void *arg) {
    (void) arg;
    return 42;
}

/* Starts node n with key `key` on `port` (0: ephemeral), dialling 127.0.0.1:peers[i]. */
static void node_start(fixture *f, tnode *n, unsigned key, uint16_t port, const uint16_t *peers,
                       size_t peers_n, const node_opts *o) {
    char texts[NODES][32];
    const char *list[NODES];
    CHECK(peers_n <= NODES);
    for (size_t i = 0; i < peers_n && i < NODES; i++) {
        (void) snprintf(texts[i], sizeof texts[i], "127.0.0.1:%u", peers[i]); /* fits */
        list[i] = texts[i];
    }
    memset(n, 0, sizeof *n);
    n->f = f;
    p2p_config cfg = {
        .suite = CRYPTO_SUITE_ED25519_SHA256,
        .chain_id = o != NULL && o->chain_id != NULL ? o->chain_id : CHAIN_ID,
        .genesis_hash = o != NULL && o->genesis != NULL ? o->genesis : f->genesis,
        .key = f->keys[key],
        .allowed = f->allowed,
        .allowed_count = ALLOWED,
        .listen_host = "127.0.0.1",
        .listen_port = port,
        .peers = list,
        .peers_count = peers_n,
        .height_fn = height_cb,
        .handshake_ms = o != NULL ? o->handshake_ms : 0,
    };
    slq_err e = p2p_start(&n->p, &f->loop, &cfg, peer_cb, msg_cb, n);
    CHECK_ERR(e, SLQ_OK);
    if (e != SLQ_OK) abort(); /* nothing below makes sense without it */
    n->port = p2p_port(n->p);
    CHECK(n->port != 0);
}

static void node_close(tnode *n) {
    if (n->p == NULL || n->closing) return;
    n->closing = true;
    p2p_close(n->p, closed_cb, n);
}

/* Stops n and waits for its closed callback. */
static void node_stop(fixture *f, tnode *n) {
    node_close(n);
    WAIT_FOR(f, n->closed, WAIT_MS);
}

static void fixture_init(fixture *f) {
    memset(f, 0, sizeof *f);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) abort();
    if (uv_loop_init(&f->loop) != 0) abort();
    if (uv_timer_init(&f->loop, &f->tick) != 0) abort();
    for (unsigned i = 0; i < KEYS; i++) {
        if (crypto_key_generate(&f->keys[i], CRYPTO_SUITE_ED25519_SHA256) != SLQ_OK) abort();
        if (crypto_key_public(f->keys[i], f->pubs[i], sizeof f->pubs[i], &f->pub_len) != SLQ_OK)
            abort();
        if (i < ALLOWED) f->allowed[i] = f->pubs[i];
    }
    for (unsigned i = 0; i < sizeof f->genesis; i++) f->genesis[i] = (uint8_t) (0xa0 + i);
}

static void tick_cb(uv_timer_t *t) {
    (void) t; /* only wakes uv_run up */
}

static void fixture_start(fixture *f) {
    if (uv_timer_start(&f->tick, tick_cb, 5, 5) != 0) abort();
}

static void fixture_end(fixture *f) {
    for (unsigned i = 0; i < NODES; i++) node_close(&f->nodes[i]);
    for (unsigned i = 0; i < NODES; i++) {
        if (f->nodes[i].closing) WAIT_FOR(f, f->nodes[i].closed, WAIT_MS);
    }
    uv_close((uv_handle_t *) &f->tick, NULL);
    (void) uv_run(&f->loop, UV_RUN_DEFAULT); /* the close callbacks */
    CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
    for (unsigned i = 0; i < KEYS; i++) crypto_key_destroy(f->keys[i]);
}

/* The peer id n knows key k by, or UINT32_MAX. */
static uint32_t peer_of(const tnode *n, int k) {
    for (size_t i = 0; i < n->peers_n; i++) {
        if (n->peer_keys[i] == k) return n->peers[i];
    }
    return UINT32_MAX;
}

static Slq__Envelope tx_env(uint8_t *data, size_t len) {
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_TX;
    env.tx.data = data;
    env.tx.len = len;
    return env;
}

/* Two ports free right now, for nodes that must know each other's port before start. */
static void free_ports(uint16_t *a, uint16_t *b) {
    int fds[2];
    uint16_t *out[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0) abort();
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fds[i], (struct sockaddr *) &sa, sizeof sa) != 0) abort();
        socklen_t len = sizeof sa;
        if (getsockname(fds[i], (struct sockaddr *) &sa, &len) != 0) abort();
        *out[i] = ntohs(sa.sin_port);
    }
    for (int i = 0; i < 2; i++) (void) close(fds[i]); /* a socket never used */
}

/* Connects a (key 0, ephemeral port) and b (key 1, dialling a) and waits for both. */
static void pair_start(fixture *f, tnode *a, tnode *b) {
    node_start(f, a, 0, 0, NULL, 0, NULL);
    node_start(f, b, 1, 0, &a->port, 1, NULL);
    WAIT_FOR(f, p2p_peers_count(a->p) == 1 && p2p_peers_count(b->p) == 1, WAIT_MS);
}

/* a and b still exchange: one message each way. */
static void check_exchange(fixture *f, tnode *a, tnode *b) {
    uint8_t data[3] = {'p', 'i', 'n'};
    int a_msgs = a->msgs, b_msgs = b->msgs;
    Slq__Envelope env = tx_env(data, sizeof data);
    p2p_broadcast(a->p, &env, UINT32_MAX);
    data[2] = 'g';
    p2p_broadcast(b->p, &env, UINT32_MAX);
    WAIT_FOR(f, a->msgs == a_msgs + 1 && b->msgs == b_msgs + 1, WAIT_MS);
    CHECK(a->last_tx_byte == 'g');
    CHECK(b->last_tx_byte == 'n');
}

/* ------------------------------------------------------------------ log capture */

typedef struct {
    int saved;
    FILE *tmp;
    char *text;
} log_capture;

static void capture_begin(log_capture *lc) {
    fflush(stderr);
    lc->text = NULL;
    lc->tmp = tmpfile();
    lc->saved = dup(2);
    if (lc->tmp == NULL || lc->saved < 0 || dup2(fileno(lc->tmp), 2) < 0) abort();
}

/* Restores stderr, echoes what was logged and keeps it in lc->text (free it). */
static void capture_end(log_capture *lc) {
    fflush(stderr);
    if (dup2(lc->saved, 2) < 0) abort();
    (void) close(lc->saved); /* a dup of fd 2 */
    lc->text = calloc(1, LOG_BYTES_MAX + 1);
    if (lc->text == NULL || fseek(lc->tmp, 0, SEEK_SET) != 0) abort();
    size_t n = fread(lc->text, 1, LOG_BYTES_MAX, lc->tmp);
    (void) fclose(lc->tmp); /* a temporary file, read already */
    fwrite(lc->text, 1, n, stderr);
}

static int count_of(const char *text, const char *what) {
    int n = 0;
    for (const char *at = strstr(text, what); at != NULL; at = strstr(at + 1, what)) n++;
    return n;
}

/* Lines of text that contain both a and b. */
static int lines_with(const char *text, const char *a, const char *b) {
    int n = 0;
    char line[1024];
    for (const char *at = text; *at != '\0';) {
        const char *end = strchr(at, '\n');
        size_t len = end != NULL ? (size_t) (end - at) : strlen(at);
        if (len >= sizeof line) len = sizeof line - 1;
        memcpy(line, at, len);
        line[len] = '\0';
        if (strstr(line, a) != NULL && strstr(line, b) != NULL) n++;
        at = end != NULL ? end + 1 : at + strlen(at);
    }
    return n;
}

/* ------------------------------------------------------------------ raw client */

typedef struct raw raw;
typedef void (*raw_script)(raw *r);

struct raw {
    fixture *f;
    pthread_t thread;
    raw_script script;
    uint16_t port;
    unsigned key;      /* says Hello with this key */
    unsigned sign_key; /* signs its HelloAck with this one */
    atomic_bool done;
    atomic_bool admitted; /* the handshake went through from the client's side */
    atomic_bool closed;   /* the node closed the connection */
    atomic_bool go;       /* set by the test thread: carry on */
    int listen_fd;        /* duplicate scripts: where the node dials the client */
    atomic_bool second_admitted;
    atomic_bool first_closed;
    atomic_bool second_closed;
    atomic_bool finish; /* set by the test thread: close everything */
};

static int raw_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = SOCK_TIMEO_S, .tv_usec = 0};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0 ||
        connect(fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
        (void) close(fd); /* failed already */
        return -1;
    }
    return fd;
}

static bool raw_write(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t) w;
    }
    return true;
}

static bool raw_read(int fd, uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        p += r;
        n -= (size_t) r;
    }
    return true;
}

static bool raw_send_frame(int fd, const uint8_t *data, size_t len) {
    uint8_t hdr[4] = {(uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8),
                      (uint8_t) len};
    return raw_write(fd, hdr, sizeof hdr) && raw_write(fd, data, len);
}

/* Sends env, followed by `extra` raw bytes inside the same frame. */
static bool raw_send_env(int fd, const Slq__Envelope *env, const uint8_t *extra, size_t extra_len) {
    size_t n = slq__envelope__get_packed_size(env);
    uint8_t *buf = malloc(n + extra_len + 1);
    if (buf == NULL) return false;
    if (slq__envelope__pack(env, buf) != n) abort();
    if (extra_len > 0) memcpy(buf + n, extra, extra_len);
    bool ok = raw_send_frame(fd, buf, n + extra_len);
    free(buf);
    return ok;
}

static Slq__Envelope *raw_read_env(int fd) {
    uint8_t hdr[4];
    if (!raw_read(fd, hdr, sizeof hdr)) return NULL;
    size_t len = (size_t) hdr[0] << 24 | (size_t) hdr[1] << 16 | (size_t) hdr[2] << 8 | hdr[3];
    if (len > SLQ_P2P_HELLO_BYTES_MAX) return NULL;
    uint8_t buf[SLQ_P2P_HELLO_BYTES_MAX];
    if (!raw_read(fd, buf, len)) return NULL;
    return slq__envelope__unpack(NULL, len, buf);
}

/* Reads and discards until the node closes (true) or the timeout (false). */
static bool raw_wait_closed(int fd) {
    static _Thread_local uint8_t buf[64 * 1024];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return true;
        if (r < 0) return false;
    }
}

static size_t test_preimage(const fixture *f, uint8_t *out, const uint8_t *challenge,
                            const uint8_t *signer) {
    size_t id_len = strlen(CHAIN_ID), n = 0;
    out[n++] = 0x02;
    out[n++] = (uint8_t) id_len;
    memcpy(out + n, CHAIN_ID, id_len);
    n += id_len;
    memcpy(out + n, f->genesis, CRYPTO_HASH_BYTES);
    n += CRYPTO_HASH_BYTES;
    memcpy(out + n, challenge, 32);
    n += 32;
    memcpy(out + n, signer, f->pub_len);
    return n + f->pub_len;
}

static bool raw_send_hello(raw *r, int fd, uint8_t challenge[32]) {
    fixture *f = r->f;
    if (crypto_random(challenge, 32) != SLQ_OK) return false;
    Slq__Hello hello = SLQ__HELLO__INIT;
    hello.chain_id = CHAIN_ID;
    hello.genesis_hash = (ProtobufCBinaryData){sizeof f->genesis, f->genesis};
    hello.node_pubkey = (ProtobufCBinaryData){f->pub_len, f->pubs[r->key]};
    hello.challenge = (ProtobufCBinaryData){32, challenge};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO;
    env.hello = &hello;
    return raw_send_env(fd, &env, NULL, 0);
}

/* Reads the node's Hello; keeps its key and challenge. */
static bool raw_read_hello(int fd, uint8_t key[32], uint8_t challenge[32]) {
    Slq__Envelope *env = raw_read_env(fd);
    bool ok = env != NULL && env->msg_case == SLQ__ENVELOPE__MSG_HELLO &&
              env->hello->node_pubkey.len == 32 && env->hello->challenge.len == 32 &&
              env->hello->height == 42;
    if (ok) memcpy(key, env->hello->node_pubkey.data, 32);
    if (ok) memcpy(challenge, env->hello->challenge.data, 32);
    if (env != NULL) slq__envelope__free_unpacked(env, NULL);
    return ok;
}

/* Reads the node's HelloAck and verifies it over our challenge. */
static bool raw_read_ack(raw *r, int fd, const uint8_t key[32], const uint8_t challenge[32]) {
    uint8_t pre[256];
    size_t n = test_preimage(r->f, pre, challenge, key);
    Slq__Envelope *env = raw_read_env(fd);
    bool ok =
        env != NULL && env->msg_case == SLQ__ENVELOPE__MSG_HELLO_ACK &&
        crypto_verify(CRYPTO_SUITE_ED25519_SHA256, key, 32, pre, n, env->hello_ack->signature.data,
                      env->hello_ack->signature.len) == SLQ_OK;
    if (env != NULL) slq__envelope__free_unpacked(env, NULL);
    return ok;
}

/* The handshake by hand: Hello, the node's Hello, our HelloAck (signed with sign_key), the
 * node's HelloAck. */
static bool raw_handshake(raw *r, int fd) {
    fixture *f = r->f;
    uint8_t ours[32], theirs[32], node_key[32];
    if (!raw_send_hello(r, fd, ours) || !raw_read_hello(fd, node_key, theirs)) return false;
    uint8_t pre[256], sig[CRYPTO_SIG_BYTES_MAX];
    size_t n = test_preimage(f, pre, theirs, f->pubs[r->key]), sig_len = 0;
    if (crypto_sign(f->keys[r->sign_key], sig, sizeof sig, &sig_len, pre, n) != SLQ_OK) {
        return false;
    }
    Slq__HelloAck ack = SLQ__HELLO_ACK__INIT;
    ack.signature = (ProtobufCBinaryData){sig_len, sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO_ACK;
    env.hello_ack = &ack;
    return raw_send_env(fd, &env, NULL, 0) && raw_read_ack(r, fd, node_key, ours);
}

static void *raw_main(void *arg) {
    raw *r = arg;
    r->script(r);
    atomic_store(&r->done, true);
    return NULL;
}

/* Sets r up to run script against 127.0.0.1:port, saying Hello with `key` and signing its
 * HelloAck with `sign_key`; raw_run starts it. */
static void raw_prepare(fixture *f, raw *r, raw_script script, uint16_t port, unsigned key,
                        unsigned sign_key) {
    memset(r, 0, sizeof *r);
    r->f = f;
    r->script = script;
    r->port = port;
    r->key = key;
    r->sign_key = sign_key;
    r->listen_fd = -1;
}

static void raw_run(raw *r) {
    if (pthread_create(&r->thread, NULL, raw_main, r) != 0) abort();
}

static void raw_start(fixture *f, raw *r, raw_script script, uint16_t port, unsigned key,
                      unsigned sign_key) {
    raw_prepare(f, r, script, port, key, sign_key);
    raw_run(r);
}

static void raw_join(fixture *f, raw *r) {
    WAIT_FOR(f, atomic_load(&r->done), WAIT_MS + 1000u);
    if (pthread_join(r->thread, NULL) != 0) abort();
}

/* Connects, sends one frame, and waits for the node to close. */
static void raw_one_frame(raw *r, const uint8_t *frame, size_t len) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    if (raw_write(fd, frame, len)) atomic_store(&r->closed, raw_wait_closed(fd));
    (void) close(fd); /* ours, done */
}

static void script_garbage(raw *r) {
    static const uint8_t frame[] = {0, 0, 0, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    raw_one_frame(r, frame, sizeof frame);
}

static void script_over_hello_limit(raw *r) {
    uint32_t len = SLQ_P2P_HELLO_BYTES_MAX + 1;
    const uint8_t frame[] = {(uint8_t) (len >> 24),
                             (uint8_t) (len >> 16),
                             (uint8_t) (len >> 8),
                             (uint8_t) len,
                             0x0a,
                             0x01};
    raw_one_frame(r, frame, sizeof frame);
}

static void script_tx_first(raw *r) {
    /* Envelope {tx = "x"}: field 3, length-delimited */
    static const uint8_t frame[] = {0, 0, 0, 3, 0x1a, 0x01, 'x'};
    raw_one_frame(r, frame, sizeof frame);
}

static void script_unknown_field(raw *r) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    uint8_t ours[32];
    static const uint8_t extra[] = {0x78, 0x01}; /* field 15, varint 1: not in Envelope */
    Slq__Hello hello = SLQ__HELLO__INIT;
    hello.chain_id = CHAIN_ID;
    if (crypto_random(ours, sizeof ours) != SLQ_OK) abort();
    hello.challenge = (ProtobufCBinaryData){sizeof ours, ours};
    hello.genesis_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, r->f->genesis};
    hello.node_pubkey = (ProtobufCBinaryData){r->f->pub_len, r->f->pubs[r->key]};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO;
    env.hello = &hello;
    if (raw_send_env(fd, &env, extra, sizeof extra)) {
        atomic_store(&r->closed, raw_wait_closed(fd));
    }
    (void) close(fd); /* ours, done */
}

/* A HelloAck as the first frame: a signature with no Hello (so no key) to check it by. */
static void script_ack_first(raw *r) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    uint8_t sig[64] = {1};
    Slq__HelloAck ack = SLQ__HELLO_ACK__INIT;
    ack.signature = (ProtobufCBinaryData){sizeof sig, sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_HELLO_ACK;
    env.hello_ack = &ack;
    if (raw_send_env(fd, &env, NULL, 0)) atomic_store(&r->closed, raw_wait_closed(fd));
    (void) close(fd); /* ours, done */
}

/* Two Hellos before any HelloAck. */
static void script_hello_twice(raw *r) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    uint8_t first[32], second[32];
    if (raw_send_hello(r, fd, first) && raw_send_hello(r, fd, second)) {
        atomic_store(&r->closed, raw_wait_closed(fd));
    }
    (void) close(fd); /* ours, done */
}

static void script_silent(raw *r) {
    raw_one_frame(r, NULL, 0);
}

/* Handshakes, then sends `after` (a frame) unless NULL, and waits for the close. */
static void raw_admitted_then(raw *r, const uint8_t *after, size_t after_len) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    if (raw_handshake(r, fd)) {
        atomic_store(&r->admitted, true);
        bool sent = after == NULL || raw_write(fd, after, after_len);
        if (sent) atomic_store(&r->closed, raw_wait_closed(fd));
    }
    (void) close(fd); /* ours, done */
}

static void script_forged_ack(raw *r) {
    raw_admitted_then(r, NULL, 0);
}

static void script_over_frame_limit(raw *r) {
    uint32_t len = SLQ_FRAME_BYTES_MAX + 1;
    const uint8_t frame[] = {(uint8_t) (len >> 24), (uint8_t) (len >> 16), (uint8_t) (len >> 8),
                             (uint8_t) len};
    raw_admitted_then(r, frame, sizeof frame);
}

static void script_hello_again(raw *r) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    uint8_t ours[32];
    if (raw_handshake(r, fd)) {
        atomic_store(&r->admitted, true);
        if (raw_send_hello(r, fd, ours)) atomic_store(&r->closed, raw_wait_closed(fd));
    }
    (void) close(fd); /* ours, done */
}

/* Handshakes, then reads nothing until the test thread says go. */
static void script_stall(raw *r) {
    int fd = raw_connect(r->port);
    if (fd < 0) return;
    if (raw_handshake(r, fd)) {
        atomic_store(&r->admitted, true);
        for (int i = 0; i < 4000 && !atomic_load(&r->go); i++) {
            struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
            (void) nanosleep(&ms, NULL); /* a short wait; EINTR only shortens it */
        }
        atomic_store(&r->closed, raw_wait_closed(fd));
    }
    (void) close(fd); /* ours, done */
}

/* Waits (at most about 4 s) until the test thread sets *flag. */
static void raw_wait_flag(atomic_bool *flag) {
    for (int i = 0; i < 4000 && !atomic_load(flag); i++) {
        struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};
        (void) nanosleep(&ms, NULL); /* a short wait; EINTR only shortens it */
    }
}

/* A listening socket on 127.0.0.1 (accept times out after 2 s); sets *port. */
static int raw_listen(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) abort();
    struct timeval tv = {.tv_sec = SOCK_TIMEO_S, .tv_usec = 0};
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
        bind(fd, (struct sockaddr *) &sa, sizeof sa) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *) &sa, &len) != 0) {
        abort();
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Waits up to 2 s for the node to close fd1 or fd2, and records which. */
static void raw_watch_close(raw *r, int fd1, int fd2) {
    struct pollfd fds[2] = {{.fd = fd1, .events = POLLIN}, {.fd = fd2, .events = POLLIN}};
    if (poll(fds, 2, SOCK_TIMEO_S * 1000) <= 0) return;
    uint8_t b;
    if (fds[0].revents != 0 && recv(fd1, &b, 1, MSG_DONTWAIT) <= 0) {
        atomic_store(&r->first_closed, true);
    }
    if (fds[1].revents != 0 && recv(fd2, &b, 1, MSG_DONTWAIT) <= 0) {
        atomic_store(&r->second_closed, true);
    }
}

/* Two connections to one node: first the client dials it and is admitted; on `go` it
 * accepts the node's own dial and handshakes there too; then it sees which one the node
 * closes. */
static void script_duplicate(raw *r) {
    int fd1 = raw_connect(r->port), fd2 = -1;
    if (fd1 >= 0 && raw_handshake(r, fd1)) {
        atomic_store(&r->admitted, true);
        raw_wait_flag(&r->go);
        fd2 = accept(r->listen_fd, NULL, NULL);
    }
    struct timeval tv = {.tv_sec = SOCK_TIMEO_S, .tv_usec = 0};
    if (fd2 >= 0 && setsockopt(fd2, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0 &&
        raw_handshake(r, fd2)) {
        atomic_store(&r->second_admitted, true);
        raw_watch_close(r, fd1, fd2);
        raw_wait_flag(&r->finish);
    }
    if (fd1 >= 0) (void) close(fd1); /* ours, done */
    if (fd2 >= 0) (void) close(fd2);
}

/* ------------------------------------------------------------------ tests: connecting */

static void test_two_nodes_that_list_each_other_connect_once_and_exchange_a_broadcast(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    uint16_t pa, pb;
    free_ports(&pa, &pb);
    node_start(&f, a, 0, pa, &pb, 1, NULL);
    node_start(&f, b, 1, pb, &pa, 1, NULL);
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1 && p2p_peers_count(b->p) == 1, WAIT_MS);
    run_for(&f, 300); /* a duplicate from dialling both ways is settled by now */
    CHECK_EQ_INT(p2p_peers_count(a->p), 1);
    CHECK_EQ_INT(p2p_peers_count(b->p), 1);
    CHECK_EQ_INT(a->ups - a->downs, 1);
    CHECK_EQ_INT(b->ups - b->downs, 1);
    CHECK(peer_of(a, 1) != UINT32_MAX);
    CHECK(peer_of(b, 0) != UINT32_MAX);
    check_exchange(&f, a, b);
    run_for(&f, 50);
    CHECK_EQ_INT(a->msgs, 1); /* once, not once per connection */
    CHECK_EQ_INT(b->msgs, 1);
    fixture_end(&f);
}

static void test_three_nodes_form_a_full_mesh_and_a_broadcast_skips_the_excluded_peer(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1], *c = &f.nodes[2];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    node_start(&f, b, 1, 0, &a->port, 1, NULL);
    uint16_t ab[2] = {a->port, b->port};
    node_start(&f, c, 2, 0, ab, 2, NULL);
    WAIT_FOR(&f,
             p2p_peers_count(a->p) == 2 && p2p_peers_count(b->p) == 2 && p2p_peers_count(c->p) == 2,
             WAIT_MS);
    uint8_t data[1] = {'1'};
    Slq__Envelope env = tx_env(data, sizeof data);
    p2p_broadcast(a->p, &env, peer_of(a, 1));
    WAIT_FOR(&f, c->msgs == 1, WAIT_MS);
    run_for(&f, 100);
    CHECK_EQ_INT(b->msgs, 0);
    CHECK(c->last_from == peer_of(c, 0));
    data[0] = '2';
    p2p_broadcast(a->p, &env, UINT32_MAX);
    WAIT_FOR(&f, b->msgs == 1 && c->msgs == 2, WAIT_MS);
    CHECK(b->last_tx_byte == '2');
    CHECK(c->last_tx_byte == '2');
    CHECK_EQ_INT(a->msgs, 0);
    fixture_end(&f);
}

static void test_a_node_with_an_unknown_key_is_refused_at_the_handshake_and_logged(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *u = &f.nodes[1];
    log_capture lc;
    capture_begin(&lc);
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    node_start(&f, u, 3, 0, &a->port, 1, NULL); /* key 3 is in nobody's allow list */
    run_for(&f, 500);
    capture_end(&lc);
    CHECK_EQ_INT(a->ups, 0);
    CHECK_EQ_INT(u->ups, 0);
    CHECK(lines_with(lc.text, "p2p: handshake: refused", "reason=unknown key") >= 1);
    free(lc.text);
    fixture_end(&f);
}

/* b differs from a by `o`: both sides refuse, and say why. */
static void check_refused(const node_opts *o, const char *reason) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    log_capture lc;
    capture_begin(&lc);
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    node_start(&f, b, 1, 0, &a->port, 1, o);
    run_for(&f, 400);
    capture_end(&lc);
    CHECK_EQ_INT(a->ups, 0);
    CHECK_EQ_INT(b->ups, 0);
    CHECK(count_of(lc.text, reason) >= 2); /* each side refuses the other */
    free(lc.text);
    fixture_end(&f);
}

static void test_a_node_with_another_genesis_hash_is_refused(void) {
    uint8_t other[CRYPTO_HASH_BYTES] = {1};
    node_opts o = {.genesis = other};
    check_refused(&o, "reason=genesis hash mismatch");
}

static void test_a_node_with_another_chain_id_is_refused(void) {
    node_opts o = {.chain_id = "slq-other"};
    check_refused(&o, "reason=chain id mismatch");
}

static void test_a_node_with_another_chain_id_of_the_same_length_is_refused(void) {
    node_opts o = {.chain_id = "slq-p2p-tesT"};
    CHECK_EQ_INT(strlen(o.chain_id), strlen(CHAIN_ID));
    check_refused(&o, "reason=chain id mismatch");
}

static void test_a_forged_hello_ack_is_refused(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    log_capture lc;
    capture_begin(&lc);
    raw r;
    raw_start(&f, &r, script_forged_ack, a->port, 1, 3); /* key 1 says Hello, key 3 signs */
    raw_join(&f, &r);
    capture_end(&lc);
    CHECK(atomic_load(&r.closed));
    CHECK_EQ_INT(a->ups, 0);
    CHECK(count_of(lc.text, "reason=bad signature") == 1);
    free(lc.text);
    fixture_end(&f);
}

static void test_a_node_that_dials_itself_is_refused_and_stops_dialling(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    uint16_t pa, unused;
    free_ports(&pa, &unused);
    log_capture lc;
    capture_begin(&lc);
    node_start(&f, a, 0, pa, &pa, 1, NULL);
    run_for(&f, 800); /* a re-dial would come within 200 ms */
    capture_end(&lc);
    CHECK_EQ_INT(a->ups, 0);
    /* the dialling and the accepting end, once */
    CHECK_EQ_INT(lines_with(lc.text, "handshake: refused", "reason=self"), 2);
    CHECK_EQ_INT(count_of(lc.text, "p2p: dial: parked"), 1);
    free(lc.text);
    fixture_end(&f);
}

/* Node a takes the key (0 or 1) with the smaller address if `a_smaller`, else the larger;
 * a raw client with the other key dials a, is admitted, then takes a's own dial. */
static void check_duplicate(bool a_smaller, const char *logged) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    uint8_t addr0[CRYPTO_ADDRESS_BYTES], addr1[CRYPTO_ADDRESS_BYTES];
    CHECK_ERR(crypto_address(CRYPTO_SUITE_ED25519_SHA256, addr0, f.pubs[0], f.pub_len), SLQ_OK);
    CHECK_ERR(crypto_address(CRYPTO_SUITE_ED25519_SHA256, addr1, f.pubs[1], f.pub_len), SLQ_OK);
    bool zero_smaller = memcmp(addr0, addr1, sizeof addr0) < 0;
    unsigned a_key = zero_smaller == a_smaller ? 0 : 1;
    tnode *a = &f.nodes[0];
    uint16_t raw_port;
    int lfd = raw_listen(&raw_port);
    log_capture lc;
    capture_begin(&lc);
    node_start(&f, a, a_key, 0, &raw_port, 1, NULL);
    raw r;
    raw_prepare(&f, &r, script_duplicate, a->port, 1 - a_key, 1 - a_key);
    r.listen_fd = lfd;
    raw_run(&r);
    WAIT_FOR(&f, a->ups == 1, WAIT_MS);
    atomic_store(&r.go, true);
    WAIT_FOR(&f, atomic_load(&r.first_closed) || atomic_load(&r.second_closed), WAIT_MS);
    run_for(&f, 50);
    capture_end(&lc);
    CHECK(atomic_load(&r.second_admitted));
    CHECK(atomic_load(&r.first_closed) == a_smaller); /* a dialled the second one */
    CHECK(atomic_load(&r.second_closed) == !a_smaller);
    CHECK_EQ_INT(a->ups, a_smaller ? 2 : 1);
    CHECK_EQ_INT(a->downs, a_smaller ? 1 : 0); /* peer_cb checked: down before the next up */
    CHECK_EQ_INT(p2p_peers_count(a->p), 1);
    CHECK_EQ_INT(count_of(lc.text, logged), 1);
    atomic_store(&r.finish, true);
    raw_join(&f, &r);
    (void) close(lfd); /* ours, done */
    free(lc.text);
    fixture_end(&f);
}

static void test_a_duplicate_dialled_by_the_smaller_address_replaces_the_admitted_one(void) {
    check_duplicate(true, "duplicate replaced");
}

static void test_a_duplicate_dialled_by_the_larger_address_is_closed_and_its_dialer_parks(void) {
    check_duplicate(false, "p2p: dial: parked");
}

/* ------------------------------------------------------------------ tests: bad frames */

/* a and b are connected; a raw client runs `script` against a; a closes it and keeps b. */
static void check_raw_closed_alone(raw_script script, const char *logged) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    pair_start(&f, a, b);
    log_capture lc;
    capture_begin(&lc);
    raw r;
    raw_start(&f, &r, script, a->port, 2, 2);
    raw_join(&f, &r);
    capture_end(&lc);
    CHECK(atomic_load(&r.closed));
    CHECK(count_of(lc.text, logged) == 1);
    CHECK_EQ_INT(a->ups, 1);
    CHECK_EQ_INT(a->downs, 0);
    CHECK_EQ_INT(p2p_peers_count(a->p), 1);
    check_exchange(&f, a, b);
    free(lc.text);
    fixture_end(&f);
}

static void test_a_garbage_frame_closes_only_that_connection(void) {
    check_raw_closed_alone(script_garbage, "frame does not decode");
}

static void test_a_length_over_the_handshake_limit_closes_only_that_connection(void) {
    check_raw_closed_alone(script_over_hello_limit, "frame too large");
}

static void test_a_message_before_the_handshake_closes_the_connection(void) {
    check_raw_closed_alone(script_tx_first, "message before the handshake");
}

static void test_a_hello_ack_before_the_hello_closes_the_connection(void) {
    check_raw_closed_alone(script_ack_first, "reason=ack before hello");
}

static void test_a_second_hello_during_the_handshake_closes_the_connection(void) {
    check_raw_closed_alone(script_hello_twice, "reason=second hello");
}

static void test_an_envelope_with_unknown_fields_closes_the_connection(void) {
    check_raw_closed_alone(script_unknown_field, "unknown fields");
}

/* A raw client with allowed key 2 handshakes with a, then runs its script; a admits it,
 * then closes it. */
static void check_admitted_then_closed(raw_script script, const char *logged) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    log_capture lc;
    capture_begin(&lc);
    raw r;
    raw_start(&f, &r, script, a->port, 2, 2);
    raw_join(&f, &r);
    WAIT_FOR(&f, a->downs == 1, WAIT_MS);
    capture_end(&lc);
    CHECK(atomic_load(&r.admitted));
    CHECK(atomic_load(&r.closed));
    CHECK_EQ_INT(a->ups, 1);
    CHECK_EQ_INT(p2p_peers_count(a->p), 0);
    CHECK(count_of(lc.text, logged) == 1);
    free(lc.text);
    fixture_end(&f);
}

static void test_a_length_over_the_frame_limit_after_the_handshake_closes_the_connection(void) {
    check_admitted_then_closed(script_over_frame_limit, "frame too large");
}

static void test_a_hello_after_the_handshake_closes_the_connection(void) {
    check_admitted_then_closed(script_hello_again, "handshake message after the handshake");
}

static void test_a_connection_that_never_finishes_the_handshake_is_closed_at_the_deadline(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_opts o = {.handshake_ms = 200};
    node_start(&f, a, 0, 0, NULL, 0, &o);
    uint64_t start = uv_now(&f.loop);
    raw r;
    raw_start(&f, &r, script_silent, a->port, 2, 2);
    raw_join(&f, &r);
    CHECK(atomic_load(&r.closed));
    CHECK(uv_now(&f.loop) - start >= 150); /* the deadline, not at once */
    CHECK_EQ_INT(a->ups, 0);
    fixture_end(&f);
}

/* A silent client socket connected to 127.0.0.1:port from source address `src` (127.0.0.0/8
 * is all loopback: other client addresses); -1 on failure. The kernel completes the
 * connection; the node accepts it when the loop turns. */
static int silent_from(const char *src, uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *) &from, sizeof from) != 0 ||
        connect(fd, (struct sockaddr *) &to, sizeof to) != 0) {
        (void) close(fd); /* failed already */
        return -1;
    }
    return fd;
}

/* True once the node closed fd (what it sent before, its Hello, is read and dropped). */
static bool silent_closed(int fd) {
    uint8_t buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) continue;
        if (n == 0) return true;
        return errno == ECONNRESET || errno == EPIPE;
    }
}

static void test_an_address_with_too_many_connections_in_handshake_gets_no_more(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_start(&f, a, 0, 0, NULL, 0, NULL); /* handshake deadline 5 s */
    int fds[SLQ_P2P_HANDSHAKES_PER_ADDR_MAX];
    for (unsigned i = 0; i < SLQ_P2P_HANDSHAKES_PER_ADDR_MAX; i++) {
        fds[i] = silent_from("127.0.0.2", a->port);
        CHECK(fds[i] >= 0);
    }
    run_for(&f, 100);
    int over = silent_from("127.0.0.2", a->port);
    int other = silent_from("127.0.0.3", a->port);
    CHECK(over >= 0 && other >= 0);
    run_for(&f, 100);
    CHECK(silent_closed(over)); /* one more from the same address: closed at once */
    CHECK(!silent_closed(other));
    for (unsigned i = 0; i < SLQ_P2P_HANDSHAKES_PER_ADDR_MAX; i++) CHECK(!silent_closed(fds[i]));
    tnode *b = &f.nodes[1]; /* a peer (from 127.0.0.1) still gets in */
    node_start(&f, b, 1, 0, &a->port, 1, NULL);
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1, WAIT_MS);
    for (unsigned i = 0; i < SLQ_P2P_HANDSHAKES_PER_ADDR_MAX; i++) (void) close(fds[i]);
    (void) close(over);  /* ours */
    (void) close(other); /* ours */
    fixture_end(&f);
}

static void test_a_handshake_trickled_a_byte_at_a_time_is_closed_at_the_deadline(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_opts o = {.handshake_ms = 200};
    node_start(&f, a, 0, 0, NULL, 0, &o);
    int fd = silent_from("127.0.0.2", a->port);
    CHECK(fd >= 0);
    static const uint8_t frame[] = {0, 0, 0, 100}; /* a 100-byte frame, then its bytes */
    uint64_t start = uv_now(&f.loop);
    bool closed = false;
    for (unsigned i = 0; i < 40 && !closed; i++) { /* a byte every 30 ms, 1.2 s at most */
        uint8_t byte = i < sizeof frame ? frame[i] : 0x0a;
        (void) send(fd, &byte, 1, MSG_NOSIGNAL); /* fails once closed */
        run_for(&f, 30);
        closed = silent_closed(fd);
    }
    CHECK(closed);
    CHECK(uv_now(&f.loop) - start < 600); /* 200 ms from accept, however the bytes trickle */
    (void) close(fd);                     /* ours */
    fixture_end(&f);
}

static void test_warnings_about_unauthenticated_connections_are_rate_limited(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    static const uint8_t garbage[] = {0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff};
    log_capture lc;
    capture_begin(&lc);
    int fds[3];
    for (unsigned i = 0; i < 3; i++) {
        fds[i] = silent_from("127.0.0.2", a->port);
        CHECK(fds[i] >= 0 && raw_write(fds[i], garbage, sizeof garbage));
    }
    run_for(&f, 200);
    capture_end(&lc);
    for (unsigned i = 0; i < 3; i++) CHECK(silent_closed(fds[i])); /* each is closed */
    CHECK_EQ_INT(count_of(lc.text, "frame does not decode"), 1);   /* one line says so */
    for (unsigned i = 0; i < 3; i++) (void) close(fds[i]);
    free(lc.text);
    fixture_end(&f);
}

#define FLOOD_ADDRS 4u /* 4 addresses x 8 in handshake = SLQ_PEERS_MAX */
_Static_assert(FLOOD_ADDRS *SLQ_P2P_HANDSHAKES_PER_ADDR_MAX >= SLQ_PEERS_MAX - 1,
               "the flood fills the inbound slots");

static void test_full_inbound_slots_make_room_for_a_peer_by_closing_the_oldest_handshake(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1], *c = &f.nodes[2];
    node_opts o = {.handshake_ms = 2000}; /* a handshake gives way after 1 s */
    node_start(&f, a, 0, 0, NULL, 0, &o);
    node_start(&f, c, 2, 0, &a->port, 1, NULL); /* an admitted inbound peer, the oldest */
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1, WAIT_MS);
    int fds[SLQ_PEERS_MAX - 1]; /* the other inbound slots: silent, in handshake */
    char src[32];
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) {
        (void) snprintf(src, sizeof src, "127.0.0.%u", 2 + i / SLQ_P2P_HANDSHAKES_PER_ADDR_MAX);
        fds[i] = silent_from(src, a->port);
        CHECK(fds[i] >= 0);
        run_for(&f, 2); /* accepted one after the other */
    }
    run_for(&f, 1100); /* every handshake over half its deadline: each may give way */
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) CHECK(!silent_closed(fds[i]));
    node_start(&f, b, 1, 0, &a->port, 1, NULL); /* dials in while every slot is taken */
    WAIT_FOR(&f, p2p_peers_count(a->p) == 2, WAIT_MS);
    CHECK(silent_closed(fds[0])); /* the oldest in handshake gave way */
    for (unsigned i = 1; i < SLQ_PEERS_MAX - 1; i++) CHECK(!silent_closed(fds[i]));
    CHECK_EQ_INT(a->downs, 0); /* the admitted peer kept its slot */
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) (void) close(fds[i]);
    fixture_end(&f);
}

/* Fills the 31 inbound slots a's admitted peer leaves with silent connections, one after the
 * other: first one alone from 127.0.0.9, then 8 from 127.0.0.2, 8 from 127.0.0.3, and 7 each
 * from 127.0.0.4 and 127.0.0.1 (the admitted peer's address), taking turns. */
_Static_assert(SLQ_PEERS_MAX == 32 && SLQ_P2P_HANDSHAKES_PER_ADDR_MAX == 8, "flood_fill's counts");
static void flood_fill(fixture *f, const tnode *a, int fds[SLQ_PEERS_MAX - 1]) {
    char src[32];
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) {
        unsigned k = i - 1;
        unsigned host = i == 0 ? 9 : k < 16 ? 2 + k / 8 : k % 2 == 0 ? 4 : 1;
        (void) snprintf(src, sizeof src, "127.0.0.%u", host);
        fds[i] = silent_from(src, a->port);
        CHECK(fds[i] >= 0);
        run_for(f, 2);
    }
}

static void test_a_young_handshake_keeps_its_slot_and_the_busiest_address_gives_way(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *c = &f.nodes[2];
    node_opts o = {.handshake_ms = 2000}; /* a handshake gives way after 1 s */
    node_start(&f, a, 0, 0, NULL, 0, &o);
    node_start(&f, c, 2, 0, &a->port, 1, NULL); /* an admitted inbound peer */
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1, WAIT_MS);
    run_for(&f, 1100); /* older than half a handshake deadline, and admitted */
    int fds[SLQ_PEERS_MAX - 1];
    flood_fill(&f, a, fds);
    run_for(&f, 50);
    int early = silent_from("127.0.0.6", a->port); /* every handshake young: refused */
    CHECK(early >= 0);
    run_for(&f, 50);
    CHECK(silent_closed(early));
    CHECK_EQ_INT(a->downs, 0); /* the admitted peer, the only old one, kept its slot */
    /* (its address holds 7 in handshake: it would be the one to give way if it could) */
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) CHECK(!silent_closed(fds[i]));
    run_for(&f, 1100);
    int even = silent_from("127.0.0.1", a->port); /* holding 7, against 8: not 2 fewer */
    CHECK(even >= 0);
    run_for(&f, 50);
    CHECK(silent_closed(even));
    int late = silent_from("127.0.0.6", a->port); /* holding none: one gives way */
    CHECK(late >= 0);
    run_for(&f, 50);
    CHECK(!silent_closed(late));
    CHECK(!silent_closed(fds[0])); /* accepted first, but alone on its address */
    CHECK(silent_closed(fds[1]));  /* the first of an address with 8 in handshake */
    for (unsigned i = 2; i < SLQ_PEERS_MAX - 1; i++) CHECK(!silent_closed(fds[i]));
    CHECK_EQ_INT(a->downs, 0);
    for (unsigned i = 0; i < SLQ_PEERS_MAX - 1; i++) (void) close(fds[i]);
    (void) close(early); /* ours */
    (void) close(late);  /* ours */
    (void) close(even);  /* ours */
    fixture_end(&f);
}

static void test_a_frame_of_exactly_the_frame_limit_passes_after_the_handshake(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    pair_start(&f, a, b);
    uint8_t *data = calloc(1, TX_MAX + 1);
    if (data == NULL) abort();
    data[TX_MAX - 1] = 0x5a;
    Slq__Envelope env = tx_env(data, TX_MAX);
    CHECK_EQ_INT(slq__envelope__get_packed_size(&env), SLQ_FRAME_BYTES_MAX);
    CHECK_ERR(p2p_send(a->p, peer_of(a, 1), &env), SLQ_OK);
    WAIT_FOR(&f, b->msgs == 1, WAIT_MS);
    CHECK_EQ_INT(b->last_tx_len, TX_MAX);
    CHECK(b->last_tx_byte == 0x5a);
    Slq__Envelope over = tx_env(data, TX_MAX + 1); /* one byte more: refused, peer kept */
    CHECK_ERR(p2p_send(a->p, peer_of(a, 1), &over), SLQ_INVALID_ARGUMENT);
    CHECK_EQ_INT(p2p_peers_count(a->p), 1);
    check_exchange(&f, a, b);
    free(data);
    fixture_end(&f);
}

static void test_a_peer_that_does_not_read_is_disconnected_when_its_queue_is_full(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    raw r;
    raw_start(&f, &r, script_stall, a->port, 2, 2);
    WAIT_FOR(&f, a->ups == 1, WAIT_MS);
    uint32_t peer = peer_of(a, 2);
    uint8_t *data = calloc(1, TX_MAX);
    if (data == NULL) abort();
    Slq__Envelope env = tx_env(data, TX_MAX);
    slq_err e = SLQ_OK;
    int sent = 0;
    while (e == SLQ_OK && sent < 16) { /* 64 MiB of queue takes 8 frames of 8 MiB */
        e = p2p_send(a->p, peer, &env);
        sent++;
    }
    CHECK_ERR(e, SLQ_NET);
    CHECK(sent >= 8);
    CHECK_ERR(p2p_send(a->p, peer, &env), SLQ_NOT_FOUND);
    atomic_store(&r.go, true);
    raw_join(&f, &r);
    WAIT_FOR(&f, a->downs == 1, WAIT_MS);
    CHECK(atomic_load(&r.closed));
    free(data);
    fixture_end(&f);
}

/* ------------------------------------------------------------------ tests: lifecycle */

static void test_a_dialled_peer_that_goes_away_is_redialled_when_it_comes_back(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    pair_start(&f, a, b); /* b dials a */
    uint16_t port = a->port;
    node_stop(&f, a);
    WAIT_FOR(&f, b->downs == 1, WAIT_MS);
    CHECK_EQ_INT(p2p_peers_count(b->p), 0);
    run_for(&f, 300); /* b fails to dial a few times */
    node_start(&f, a, 0, port, NULL, 0, NULL);
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1 && p2p_peers_count(b->p) == 1, WAIT_MS);
    CHECK_EQ_INT(b->ups, 2);
    check_exchange(&f, a, b);
    fixture_end(&f);
}

static void test_p2p_disconnect_closes_and_the_peer_reconnects_after_backoff(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    pair_start(&f, a, b);
    uint32_t old = peer_of(a, 1);
    p2p_disconnect(a->p, old, "test says so");
    CHECK_EQ_INT(p2p_peers_count(a->p), 0); /* at once; peer_fn reports it from the loop */
    CHECK_EQ_INT(a->downs, 0);
    WAIT_FOR(&f, a->downs == 1 && b->downs == 1, WAIT_MS);
    WAIT_FOR(&f, p2p_peers_count(a->p) == 1 && p2p_peers_count(b->p) == 1, WAIT_MS);
    CHECK_EQ_INT(a->ups, 2);
    CHECK_EQ_INT(b->ups, 2);
    CHECK(peer_of(a, 1) != old);
    check_exchange(&f, a, b);
    fixture_end(&f);
}

static void test_p2p_send_to_a_gone_peer_returns_not_found(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1];
    pair_start(&f, a, b);
    uint32_t peer = peer_of(a, 1);
    uint8_t data[1] = {'x'};
    Slq__Envelope env = tx_env(data, sizeof data);
    CHECK_ERR(p2p_send(a->p, peer, &env), SLQ_OK);
    node_stop(&f, b);
    WAIT_FOR(&f, a->downs == 1, WAIT_MS);
    CHECK_ERR(p2p_send(a->p, peer, &env), SLQ_NOT_FOUND);
    CHECK_ERR(p2p_send(a->p, peer + 1000, &env), SLQ_NOT_FOUND);
    fixture_end(&f);
}

static void test_p2p_close_with_live_connections_frees_everything(void) {
    fixture f;
    fixture_init(&f);
    fixture_start(&f);
    tnode *a = &f.nodes[0], *b = &f.nodes[1], *c = &f.nodes[2];
    node_start(&f, a, 0, 0, NULL, 0, NULL);
    node_start(&f, b, 1, 0, &a->port, 1, NULL);
    uint16_t ab[2] = {a->port, b->port};
    node_start(&f, c, 2, 0, ab, 2, NULL);
    WAIT_FOR(&f,
             p2p_peers_count(a->p) == 2 && p2p_peers_count(b->p) == 2 && p2p_peers_count(c->p) == 2,
             WAIT_MS);
    size_t len = 1024u * 1024;
    uint8_t *data = calloc(1, len);
    if (data == NULL) abort();
    Slq__Envelope env = tx_env(data, len);
    for (int i = 0; i < 4; i++) { /* queued and half-written when the close comes */
        p2p_broadcast(a->p, &env, UINT32_MAX);
        p2p_broadcast(c->p, &env, UINT32_MAX);
    }
    run_for(&f, 5);
    int downs = a->downs + b->downs + c->downs;
    node_close(a);
    node_close(b);
    node_close(c);
    WAIT_FOR(&f, a->closed && b->closed && c->closed, WAIT_MS);
    CHECK_EQ_INT(a->downs + b->downs + c->downs, downs); /* no callbacks after p2p_close */
    free(data);
    fixture_end(&f); /* uv_loop_close() == 0: every handle closed; LSan: nothing leaked */
}

TEST_MAIN("p2p", TEST(test_two_nodes_that_list_each_other_connect_once_and_exchange_a_broadcast),
          TEST(test_an_address_with_too_many_connections_in_handshake_gets_no_more),
          TEST(test_warnings_about_unauthenticated_connections_are_rate_limited),
          TEST(test_a_handshake_trickled_a_byte_at_a_time_is_closed_at_the_deadline),
          TEST(test_full_inbound_slots_make_room_for_a_peer_by_closing_the_oldest_handshake),
          TEST(test_a_young_handshake_keeps_its_slot_and_the_busiest_address_gives_way),
          TEST(test_three_nodes_form_a_full_mesh_and_a_broadcast_skips_the_excluded_peer),
          TEST(test_a_node_with_an_unknown_key_is_refused_at_the_handshake_and_logged),
          TEST(test_a_node_with_another_genesis_hash_is_refused),
          TEST(test_a_node_with_another_chain_id_is_refused),
          TEST(test_a_node_with_another_chain_id_of_the_same_length_is_refused),
          TEST(test_a_forged_hello_ack_is_refused),
          TEST(test_a_node_that_dials_itself_is_refused_and_stops_dialling),
          TEST(test_a_duplicate_dialled_by_the_smaller_address_replaces_the_admitted_one),
          TEST(test_a_duplicate_dialled_by_the_larger_address_is_closed_and_its_dialer_parks),
          TEST(test_a_garbage_frame_closes_only_that_connection),
          TEST(test_a_length_over_the_handshake_limit_closes_only_that_connection),
          TEST(test_a_message_before_the_handshake_closes_the_connection),
          TEST(test_a_hello_ack_before_the_hello_closes_the_connection),
          TEST(test_a_second_hello_during_the_handshake_closes_the_connection),
          TEST(test_an_envelope_with_unknown_fields_closes_the_connection),
          TEST(test_a_length_over_the_frame_limit_after_the_handshake_closes_the_connection),
          TEST(test_a_hello_after_the_handshake_closes_the_connection),
          TEST(test_a_connection_that_never_finishes_the_handshake_is_closed_at_the_deadline),
          TEST(test_a_frame_of_exactly_the_frame_limit_passes_after_the_handshake),
          TEST(test_a_peer_that_does_not_read_is_disconnected_when_its_queue_is_full),
          TEST(test_a_dialled_peer_that_goes_away_is_redialled_when_it_comes_back),
          TEST(test_p2p_disconnect_closes_and_the_peer_reconnects_after_backoff),
          TEST(test_p2p_send_to_a_gone_peer_returns_not_found),
          TEST(test_p2p_close_with_live_connections_frees_everything))
