/* bench.h: the pieces of bench_node, the throughput benchmark of one slqd (issue 3).
 *
 * bench_node measures two rates on the same machine and prints them as one JSON object:
 * the raw signature-verify rate (bench_verify.c) and the rate at which a running node
 * commits signed transfers that several client threads submit in batches over the HTTP API
 * (bench_setup.c prepares the accounts and pre-signs the transfers; bench_node.c drives the
 * timed phase). bench_http.c is the small libcurl client they share, bench_util.c the
 * process helpers. bench_network (bench_net.h) reuses the setup, the client and the helpers.
 *
 * Threading: one bench_http per thread; everything else is set up by the main thread
 * before the client threads start and only read by them afterwards. */
#ifndef SLQ_BENCH_H
#define SLQ_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec_json.h"
#include "crypto.h"
#include "ledger.h"
#include "slq/limits.h"

/* Every client thread keeps one keep-alive connection from 127.0.0.1 to a node, besides the
 * main thread's and bench_network's watcher's (to node 0, which with one node gets every
 * client): at most the node's SLQ_HTTP_CONNS_PER_ADDR_MAX connections of one address, over
 * which it closes new ones at once. */
#define BENCH_CLIENTS_MAX        30u
#define BENCH_CONNS_BESIDES      2u     /* the main thread's and the watcher's */
#define BENCH_HOLDERS_MAX        1024u  /* per client */
#define BENCH_TRANSFERS_MAX      1024u  /* per holder: the node admits nonces <= committed+1024 */
#define BENCH_ISSUE_FEN          100000 /* 1000 yuan issued to each holder */
#define BENCH_TRANSFER_FEN       1      /* each transfer pays 0.01 yuan */
#define BENCH_RESPONSE_BYTES_MAX (8u * 1024 * 1024)

_Static_assert(BENCH_CLIENTS_MAX + BENCH_CONNS_BESIDES <= SLQ_HTTP_CONNS_PER_ADDR_MAX,
               "the benchmark's connections stay within one address's share");
_Static_assert(BENCH_TRANSFERS_MAX *BENCH_TRANSFER_FEN <= BENCH_ISSUE_FEN,
               "an issued voucher covers every transfer of its holder");

/* ---- process helpers ---- */

/* Prints the program's name ("bench_node" unless set) + ": " + the message + newline on
 * stderr; returns false. */
bool bench_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The name bench_fail puts first; name must outlive every call. */
void bench_set_prog(const char *name);
/* Seconds on CLOCK_MONOTONIC. */
double bench_now_s(void);
/* Milliseconds since the Unix epoch on CLOCK_REALTIME (the clock of a block's time_ms). */
double bench_wall_ms(void);
void bench_sleep_ms(long ms);
/* Reads the whole file (at most max bytes) into a NUL-terminated malloc'd buffer. */
bool bench_read_file(char **out, size_t *len, const char *path, size_t max);
/* Strict unsigned in [lo, hi] from a flag's value; false (message printed) otherwise. */
bool bench_parse_uint(unsigned *out, const char *flag, const char *text, unsigned lo, unsigned hi);
/* Online cores of the machine (2 if unknown). */
unsigned bench_cores(void);
/* User + system CPU seconds of this process so far. */
double bench_cpu_seconds(void);

/* ---- HTTP (bench_http.c) ---- */

typedef struct bench_http bench_http; /* one libcurl easy handle (keep-alive) + a buffer */

typedef struct {
    long status;      /* HTTP status */
    const char *body; /* NUL-terminated; owned by the bench_http, valid until its next call */
    size_t len;
} bench_reply;

/* base_url: "http://HOST:PORT" (no trailing slash). false (message printed) on failure. */
bool bench_http_open(bench_http **out, const char *base_url);
void bench_http_close(bench_http *h); /* NULL is a no-op */
/* GET (body == NULL) or POST of body[0..body_len) as JSON to base_url + path. false
 * (message printed) when the node cannot be reached or does not answer in time. */
bool bench_http_do(bench_http *h, bench_reply *r, const char *path, const char *body,
                   size_t body_len);
/* GET path, answer 200 with a JSON object: *out is yours (json_decref). */
bool bench_http_get_json(bench_http *h, json_t **out, const char *path);
/* GET /metrics once and read the unlabelled counters or gauges names[0..count) into
 * out[0..count), e.g. "slq_txs_committed_total". */
bool bench_metrics(bench_http *h, uint64_t *out, const char *const *names, size_t count);

/* ---- verify rate (bench_verify.c) ---- */

typedef struct {
    crypto_suite suite;
    size_t msg_len;   /* bytes of each signed message (a real tx preimage's size) */
    unsigned threads; /* verifying threads */
    double seconds;   /* how long they verify */
} bench_verify_cfg;

/* Pre-signs a set of messages with crypto_sign, then verifies them with crypto_verify in
 * cfg->threads threads for cfg->seconds; *per_sec is the total rate. */
bool bench_verify_rate(double *per_sec, const bench_verify_cfg *cfg);

/* ---- accounts and transactions (bench_setup.c) ---- */

typedef struct {
    char *hex; /* the SignedTx, lowercase hex, NUL-terminated */
    size_t hex_len;
    uint8_t hash[CRYPTO_HASH_BYTES];
} bench_tx;

typedef struct {
    crypto_key *key;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    char addr_text[CRYPTO_ADDRESS_TEXT_BYTES];
    uint8_t issue_hash[CRYPTO_HASH_BYTES]; /* the ISSUE that funded it */
    bench_tx *transfers;                   /* its chain of pre-signed transfers */
} bench_holder;

typedef struct {
    const char *net_dir;  /* as written by `slq testnet` */
    const char *node_url; /* the node's API */
    unsigned clients, holders, transfers, batch, verify_threads;
    double verify_seconds;
    bool trace; /* print the node's counters on stderr as they move */
} bench_opts;

typedef struct {
    bench_opts opt;
    ledger *ledger; /* from DIR/node0/genesis.json */
    crypto_suite suite;
    crypto_key *issuer;
    uint8_t issuer_addr[CRYPTO_ADDRESS_BYTES];
    uint8_t centre_addr[CRYPTO_ADDRESS_BYTES]; /* centre-1: receives every transfer */
    bench_holder *holders;                     /* clients * holders */
    size_t holders_count;
    size_t tx_hex_max; /* longest pre-signed transfer, in hex digits */
    bench_http *http;  /* the main thread's connection */
} bench;

/* What the node said of one transaction of a batch. */
typedef enum {
    BENCH_ACCEPTED, /* pending, or already committed */
    BENCH_RETRY,    /* refused for now: MEMPOOL_FULL, TX_PENDING_TOO_MANY, or HTTP 429/503 */
    BENCH_REFUSED,  /* refused for good */
} bench_verdict;

/* Room for the body of a batch of count transactions of at most hex_max hex digits. */
size_t bench_batch_body_cap(size_t count, size_t hex_max);
/* Writes {"txs":["HEX",...]} of txs[0..count) into out[0..cap) and a NUL; returns the
 * length. cap must be at least bench_batch_body_cap(). */
size_t bench_batch_body(char *out, size_t cap, const bench_tx *const *txs, size_t count);
/* Reads the answer to POST /v1/txs of count transactions into v[0..count); why[0..why_cap)
 * gets the first permanent refusal as "NAME: message". false (why says why) when the
 * answer is neither 202 with count results nor 429/503. */
bool bench_batch_verdicts(bench_verdict *v, size_t count, const bench_reply *r, char *why,
                          size_t why_cap);

/* Reads genesis and the issuer and centre-1 keys of opt->net_dir; connects to the node and
 * checks that it runs this chain. */
bool bench_open(bench *b);
void bench_close(bench *b);
/* Checks, over h, that the node at url runs the chain of the genesis bench_open() read. */
bool bench_check_chain(const bench *b, bench_http *h, const char *url);
/* Bytes of the signature preimage (chain id || body) of a benchmark transfer. */
size_t bench_transfer_preimage_len(const bench *b);
/* The committed ("nonce") or highest pending ("pending_nonce") nonce of an account. */
bool bench_account_nonce(bench_http *h, uint64_t *out, const char *addr_text, const char *field);
/* Registers clients*holders fresh holders and issues each one voucher through the API;
 * returns once every one of these transactions is committed. */
bool bench_fund_holders(bench *b);
/* Signs, offline, each holder's chain of transfers to centre-1 (each spends the change of
 * the one before). */
bool bench_presign(bench *b);

#endif
