/* bench_chain.c: the cost of a transfer in the node's chain executor (chain/chain.h) alone:
 * building a block from decoded, signature-checked transfers (the ledger's rules on the
 * pending state) and committing it with every state change in one synced LevelDB write.
 * That is most of what slqd's loop thread does per transaction; no network, no signature
 * checks, no consensus messages. It prints one JSON object; see bench/README.md.
 *
 *   bench_chain [--holders H] [--transfers M] [--block B] [--suite ed25519|sm2]
 *
 * A fresh store in a temporary directory (removed at the end) gets H holders, each
 * registered and issued one voucher; then H x M transfers of 0.01 yuan to a centre (holder
 * h's transfer k spends the change of its transfer k-1) go into blocks of B, holders taking
 * turns. Only chain_propose, chain_certify_alone and chain_commit are timed, by the
 * thread's CPU clock and by the wall clock. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chain.h"
#include "ledger_fixture.h"
#include "slq/limits.h"

#define HOLDERS_MAX   4096u
#define TRANSFERS_MAX 100000u
#define FUND_FEN      100000 /* 1000 yuan per holder */

typedef struct {
    size_t holders, transfers, block;
    crypto_suite suite;
} options;

typedef struct {
    crypto_key *key;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
} holder;

/* Signed transactions, encoded and decoded. */
typedef struct {
    uint8_t **bytes;
    size_t *lens;
    ledger_tx *txs;
    const ledger_tx **ptrs;
    size_t count, cap;
} tx_list;

static double now_s(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

static bool fail(const char *what, slq_err err) {
    fprintf(stderr, "bench_chain: %s: %s\n", what, slq_err_str(err));
    return false;
}

static bool list_init(tx_list *l, size_t cap) {
    memset(l, 0, sizeof *l);
    l->bytes = calloc(cap, sizeof *l->bytes);
    l->lens = calloc(cap, sizeof *l->lens);
    l->txs = calloc(cap, sizeof *l->txs);
    l->ptrs = calloc(cap, sizeof *l->ptrs);
    l->cap = cap;
    return l->bytes && l->lens && l->txs && l->ptrs;
}

static void list_free(tx_list *l) {
    for (size_t i = 0; i < l->count; i++) {
        free(l->bytes[i]);
        ledger_tx_free(&l->txs[i]);
    }
    free(l->bytes);
    free(l->lens);
    free(l->txs);
    free(l->ptrs);
}

/* Signs body with key and appends it, decoded; *hash (if not NULL) gets its hash. */
static bool list_sign(tx_list *l, const ledger *led, const crypto_key *key, const Slq__TxBody *body,
                      uint8_t hash[CRYPTO_HASH_BYTES]) {
    size_t i = l->count;
    slq_err err = ledger_tx_sign(led, key, body, &l->bytes[i], &l->lens[i]);
    if (err == SLQ_OK) err = ledger_tx_decode(&l->txs[i], led, l->bytes[i], l->lens[i]);
    if (err != SLQ_OK) {
        free(l->bytes[i]);
        return fail("sign", err);
    }
    l->ptrs[i] = &l->txs[i];
    if (hash != NULL) memcpy(hash, l->txs[i].hash, CRYPTO_HASH_BYTES);
    l->count++;
    return true;
}

/* Proposes txs[from, from+n) at time t, certifies and commits; all must go in. */
static bool block(chain *c, const fx *f, const tx_list *l, size_t from, size_t n, int64_t t,
                  double *cpu, double *wall, double *proc) {
    chain_candidates cand = {.bytes = (const uint8_t *const *) l->bytes + from,
                             .lens = l->lens + from,
                             .txs = l->ptrs + from,
                             .count = n};
    double c0 = now_s(CLOCK_THREAD_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC),
           p0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    chain_proposal p;
    slq_err err = chain_propose(c, &p, t, f->addr[K_REGULATOR], &cand, NULL, NULL);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (err == SLQ_OK) err = chain_certify_alone(c, &p, f->keys[K_REGULATOR], &cert, &cert_len);
    if (err == SLQ_OK && p.txs_count != n) {
        fprintf(stderr, "bench_chain: block %llu took %zu of %zu transactions\n",
                (unsigned long long) p.height, p.txs_count, n);
        chain_abandon(c, &p);
        free(cert);
        return false;
    }
    if (err == SLQ_OK) err = chain_commit(c, &p, cert, cert_len);
    *cpu += now_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    *wall += now_s(CLOCK_MONOTONIC) - w0;
    *proc += now_s(CLOCK_PROCESS_CPUTIME_ID) - p0;
    free(cert);
    return err == SLQ_OK || fail("block", err);
}

/* Registers and funds every holder; *issued gets each one's issue hash. */
static bool fund(chain *c, fx *f, const holder *h, size_t count, uint8_t (*issued)[32],
                 int64_t *t) {
    tx_list l;
    bool ok = list_init(&l, 2 * count);
    uint64_t nonce = 1;
    for (size_t i = 0; ok && i < count; i++) {
        char name[48], ref[48];
        snprintf(name, sizeof name, "bench holder %zu", i);
        snprintf(ref, sizeof ref, "bench-chain-%zu", i);
        Slq__Register reg = SLQ__REGISTER__INIT;
        reg.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) h[i].addr};
        reg.role = SLQ__ROLE__ROLE_ENTERPRISE;
        reg.name = name;
        uint8_t code_hash[CRYPTO_HASH_BYTES]; /* a holder's own: its address's hash */
        crypto_hash(f->suite, code_hash, h[i].addr, CRYPTO_ADDRESS_BYTES);
        reg.credit_code_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, code_hash};
        Slq__TxBody body = SLQ__TX_BODY__INIT;
        body.kind = SLQ__TX_KIND__TX_REGISTER;
        body.nonce = nonce++;
        body.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
        body.register_ = &reg;
        ok = list_sign(&l, f->l, f->keys[K_ISSUER], &body, NULL);
        Slq__Issue is = SLQ__ISSUE__INIT;
        is.holder = reg.address;
        is.program = "general";
        is.amount_fen = FUND_FEN;
        is.application_ref = ref;
        Slq__TxBody ib = SLQ__TX_BODY__INIT;
        ib.kind = SLQ__TX_KIND__TX_ISSUE;
        ib.nonce = nonce++;
        ib.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
        ib.issue = &is;
        ok = ok && list_sign(&l, f->l, f->keys[K_ISSUER], &ib, issued[i]);
    }
    double cpu = 0, wall = 0, proc = 0;
    for (size_t from = 0; ok && from < l.count; from += SLQ_BLOCK_TXS_MAX) {
        size_t n = l.count - from < SLQ_BLOCK_TXS_MAX ? l.count - from : SLQ_BLOCK_TXS_MAX;
        *t += 1000;
        ok = block(c, f, &l, from, n, *t, &cpu, &wall, &proc);
    }
    list_free(&l);
    return ok;
}

/* Signs every transfer, in the order they go into blocks: holders take turns. */
static bool presign(tx_list *l, const fx *f, const holder *h, const options *o,
                    uint8_t (*issued)[32]) {
    uint8_t(*voucher)[CRYPTO_HASH_BYTES] = malloc(o->holders * sizeof *voucher);
    bool ok = voucher != NULL && list_init(l, o->holders * o->transfers);
    for (size_t i = 0; ok && i < o->holders; i++)
        ledger_voucher_id(o->suite, voucher[i], issued[i], 0);
    for (size_t k = 0; ok && k < o->transfers; k++) {
        for (size_t i = 0; ok && i < o->holders; i++) {
            Slq__Transfer tr = SLQ__TRANSFER__INIT;
            tr.voucher_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, voucher[i]};
            tr.to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) f->addr[K_CENTRE1]};
            tr.amount_fen = 1;
            Slq__TxBody body = SLQ__TX_BODY__INIT;
            body.kind = SLQ__TX_KIND__TX_TRANSFER;
            body.nonce = k + 1;
            body.payload_case = SLQ__TX_BODY__PAYLOAD_TRANSFER;
            body.transfer = &tr;
            uint8_t hash[CRYPTO_HASH_BYTES];
            ok = list_sign(l, f->l, h[i].key, &body, hash);
            if (ok) ledger_voucher_id(o->suite, voucher[i], hash, 1); /* the change */
        }
    }
    free(voucher);
    return ok;
}

static bool parse(options *o, int argc, char **argv) {
    *o = (options){
        .holders = 64, .transfers = 200, .block = 850, .suite = CRYPTO_SUITE_ED25519_SHA256};
    for (int i = 1; i < argc; i += 2) { /* flag and value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        unsigned long long n = v != NULL ? strtoull(v, &end, 10) : 0;
        bool num = v != NULL && end != v && *end == '\0' && n > 0;
        if (strcmp(a, "--holders") == 0 && num && n <= HOLDERS_MAX)
            o->holders = (size_t) n;
        else if (strcmp(a, "--transfers") == 0 && num && n <= TRANSFERS_MAX)
            o->transfers = (size_t) n;
        else if (strcmp(a, "--block") == 0 && num && n <= SLQ_BLOCK_TXS_MAX)
            o->block = (size_t) n;
        else if (strcmp(a, "--suite") == 0 && v != NULL && strcmp(v, "ed25519") == 0)
            o->suite = CRYPTO_SUITE_ED25519_SHA256;
        else if (strcmp(a, "--suite") == 0 && v != NULL && strcmp(v, "sm2") == 0)
            o->suite = CRYPTO_SUITE_SM2_SM3;
        else {
            fprintf(stderr,
                    "usage: bench_chain [--holders H<=%u] [--transfers M<=%u] [--block B<=%u] "
                    "[--suite ed25519|sm2]\n",
                    HOLDERS_MAX, TRANSFERS_MAX, SLQ_BLOCK_TXS_MAX);
            return false;
        }
    }
    if (o->holders * o->transfers > 10000000u) {
        fprintf(stderr, "bench_chain: at most 10,000,000 transfers\n");
        return false;
    }
    return true;
}

int main(int argc, char **argv) {
    options o;
    if (!parse(&o, argc, argv)) return 1;
    fx f;
    fx_init_suite(&f, o.suite);
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    fx_genesis_bytes(&f, &genesis, &genesis_len);
    char dir[64] = "/tmp/slq-bench-chain-XXXXXX", why[256] = "";
    if (mkdtemp(dir) == NULL) {
        perror("bench_chain: mkdtemp");
        return 1;
    }
    chain *c = NULL;
    slq_err err = chain_open(&c, dir, genesis, genesis_len, why, sizeof why);
    if (err != SLQ_OK) fprintf(stderr, "bench_chain: open: %s: %s\n", slq_err_str(err), why);
    holder *h = calloc(o.holders, sizeof *h);
    uint8_t(*issued)[32] = calloc(o.holders, sizeof *issued);
    bool ok = err == SLQ_OK && h != NULL && issued != NULL;
    for (size_t i = 0; ok && i < o.holders; i++) {
        uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t n = 0;
        err = crypto_key_generate(&h[i].key, o.suite);
        if (err == SLQ_OK) err = crypto_key_public(h[i].key, pub, sizeof pub, &n);
        if (err == SLQ_OK) err = crypto_address(o.suite, h[i].addr, pub, n);
        ok = err == SLQ_OK || fail("holder key", err);
    }
    int64_t t = cst_ms(2024, 6, 1, 12, 0);
    ok = ok && fund(c, &f, h, o.holders, issued, &t);
    tx_list l = {0};
    fprintf(stderr, "bench_chain: signing %zu transfers\n", o.holders * o.transfers);
    ok = ok && presign(&l, &f, h, &o, issued);
    double cpu = 0, wall = 0, proc = 0;
    size_t blocks = 0;
    for (size_t from = 0; ok && from < l.count; from += o.block, blocks++) {
        size_t n = l.count - from < o.block ? l.count - from : o.block;
        t += 1000;
        ok = block(c, &f, &l, from, n, t, &cpu, &wall, &proc);
    }
    if (ok)
        printf("{\"suite\": \"%s\", \"holders\": %zu, \"transfers_per_holder\": %zu, "
               "\"block\": %zu, \"txs\": %zu, \"blocks\": %zu, \"cpu_seconds\": %.3f, "
               "\"wall_seconds\": %.3f, \"process_cpu_seconds\": %.3f, \"cpu_us_per_tx\": %.2f, "
               "\"wall_us_per_tx\": %.2f, \"process_cpu_us_per_tx\": %.2f}\n",
               crypto_suite_name(o.suite), o.holders, o.transfers, o.block, l.count, blocks, cpu,
               wall, proc, 1e6 * cpu / (double) l.count, 1e6 * wall / (double) l.count,
               1e6 * proc / (double) l.count);
    list_free(&l);
    for (size_t i = 0; h != NULL && i < o.holders; i++) crypto_key_destroy(h[i].key);
    free(h);
    free(issued);
    chain_close(c);
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(genesis);
    fx_deinit(&f);
    return ok ? 0 : 1;
}
