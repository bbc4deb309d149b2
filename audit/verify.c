/* verify.c: the audit of verify.h.
 *
 * Order of the checks: the stored genesis against genesis.json; the genesis state replayed;
 * the tip row read; then block by block from 1 to the tip: decoding, the header (chain id,
 * height, prev_hash, time, validators_hash, proposer, app_hash against the replay),
 * last_commit (its hash and its certificate for the previous block), the stored certificate
 * of the height, the hash index row, every transaction (signature, then the ledger's rules
 * on the replayed state), the Merkle root, the caps after the block; then the tip row
 * against the walk and the replay; then every stored row once, in key order (state rows
 * compared with the replay; block rows beyond the tip and keys of no family reported);
 * then every replayed row that the store lacks.
 *
 * The replay runs as the node runs it: one ledger_state overlay per block over a base that
 * holds the state after the previous block (here a second ledger_state without base), the
 * overlay's changes chained into the app hash and then folded into the base. The store is a
 * snapshot (snapshot.h), closed and removed before verify_run returns. */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert.h"
#include "codec.h"
#include "ledger.h"
#include "report.h"
#include "slq/assert.h"
#include "slq/keys.h"
#include "slq/limits.h"
#include "slq/why.h"
#include "snapshot.h"
#include "storage.h"

#define HASH                   CRYPTO_HASH_BYTES
#define HEIGHT_BYTES           8u /* big-endian: 'b' and 'c' keys, 'h' values, the tip row */
#define TIP_ROW_BYTES          (HEIGHT_BYTES + 2u * HASH)
#define LINE_BYTES             640u
#define KEY_TEXT_BYTES         (2u * SLQ_KEY_BYTES_MAX + 8u)
#define PROGRESS_MS            100
#define WHY_BYTES              256u /* a certificate's refusal */
/* Key layouts (slq/keys.h): a family byte, then fixed-width fields. */
#define HEIGHT_KEY_BYTES       (1u + HEIGHT_BYTES)
#define PROGRAM_YEAR_KEY_BYTES 9u /* 'p' year u32 program u32 */
#define QUOTA_HOLDER_AT        9u /* 'q' year u32 program u32, then the holder */
#define QUOTA_KEY_BYTES        (QUOTA_HOLDER_AT + CRYPTO_ADDRESS_BYTES)

typedef struct {
    uint8_t tx[HASH]; /* first: sorted and searched by it */
    char *reason;     /* owned */
} vrevoke;

struct verify {
    ledger *l;
    crypto_suite suite;
    storage *s;         /* the snapshot's store, open while the audit runs */
    ledger_state *base; /* the replayed state after the last block walked */
    ledger_state *st;   /* one block's overlay over base */
    ledger_view view;
    const verify_opts *o;
    uint8_t validators_hash[HASH];
    verify_summary sum;
    uint64_t tip; /* the tip row's height: where the walk should end */
    bool tip_known;
    uint8_t tip_row_hash[HASH], tip_row_app[HASH];
    bool diverged; /* a header's app_hash left the replay: later ones are not compared */
    uint64_t h_rows;
    struct timespec shown;
    /* What the report needs from the blocks and no state row keeps (report_source). */
    int64_t *times; /* times[h - 1]: block h's time */
    size_t n_times, cap_times;
    vrevoke *revokes; /* every REVOKE that applied, sorted by tx hash once the walk ends */
    size_t n_revokes, cap_revokes;
};

static void fail(verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(verify *v, const char *fmt, ...) {
    v->sum.failures++;
    if (v->o->on_failure == NULL) return;
    char line[LINE_BYTES];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (v->o->progress) fputs("\r\033[K", stderr); /* the line goes on the next update */
    v->o->on_failure(v->o->arg, line);
}

/* "v/0a1b...": the family byte as a letter, the rest of the key in hex. */
static void key_text(char out[KEY_TEXT_BYTES], const uint8_t *key, size_t len) {
    if (len == 0) {
        snprintf(out, KEY_TEXT_BYTES, "(empty key)");
        return;
    }
    int n = key[0] > 0x20 && key[0] < 0x7f ? snprintf(out, KEY_TEXT_BYTES, "%c/", key[0])
                                           : snprintf(out, KEY_TEXT_BYTES, "0x%02x/", key[0]);
    size_t rest = len - 1 < SLQ_KEY_BYTES_MAX ? len - 1 : SLQ_KEY_BYTES_MAX;
    SLQ_ASSERT(n > 0);
    SLQ_ASSERT((size_t) n + 2 * rest < KEY_TEXT_BYTES); /* the hex and its NUL fit */
    codec_hex_encode(out + n, key + 1, rest);
}

static void hex32(char out[2 * HASH + 1], const uint8_t *p) {
    codec_hex_encode(out, p, HASH);
}

static bool is_hash(const ProtobufCBinaryData *b) {
    return b->len == HASH;
}

#define MS_PER_S  1000LL
#define NS_PER_MS 1000000LL

static void show_progress(verify *v, uint64_t h, bool force) {
    if (!v->o->progress) return;
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0) return; /* progress is cosmetic */
    long long ms = (long long) (now.tv_sec - v->shown.tv_sec) * MS_PER_S +
                   (now.tv_nsec - v->shown.tv_nsec) / NS_PER_MS;
    if (!force && ms < PROGRESS_MS) return;
    v->shown = now;
    if (v->tip_known)
        fprintf(stderr, "\rverify: block %llu of %llu", (unsigned long long) h,
                (unsigned long long) v->tip);
    else
        fprintf(stderr, "\rverify: block %llu", (unsigned long long) h);
}

/* ------------------------------------------------------------------ replay */

/* Cap checks on the totals rows a block wrote: the city's, the programs' and the holders'
 * caps must hold after every block (the ledger refuses any issue that would break them). */
static void check_caps(verify *v, uint64_t h, const ledger_change *ch, size_t n) {
    const Slq__Policy *pol = ledger_genesis(v->l)->policy;
    for (size_t i = 0; i < n; i++) {
        const ledger_change *c = &ch[i];
        if (c->value == NULL || (c->key[0] != SLQ_KEY_YEAR && c->key[0] != SLQ_KEY_PROGRAM_YEAR))
            continue;
        Slq__YearTotals *t = slq__year_totals__unpack(NULL, c->value_len, c->value);
        if (t == NULL) continue; /* written by the ledger itself: the row comparison sees it */
        uint32_t program = c->key_len == PROGRAM_YEAR_KEY_BYTES
                               ? (uint32_t) (slq_be64(c->key + 1) & 0xffffffffu)
                               : 0;
        bool city = c->key[0] == SLQ_KEY_YEAR;
        int64_t cap = city                        ? pol->city_annual_cap_fen
                      : program < pol->n_programs ? pol->programs[program]->annual_cap_fen
                                                  : 0;
        if (cap > 0 && t->cap_used_fen > cap)
            fail(v, "height %llu: %s cap of %u exceeded: %lld fen used > %lld fen",
                 (unsigned long long) h, city ? "city" : pol->programs[program]->name,
                 t->budget_year, (long long) t->cap_used_fen, (long long) cap);
        slq__year_totals__free_unpacked(t, NULL);
    }
}

static void check_holder_caps(verify *v, uint64_t h, const ledger_change *ch, size_t n) {
    const Slq__Policy *pol = ledger_genesis(v->l)->policy;
    for (size_t i = 0; i < n; i++) {
        const ledger_change *c = &ch[i];
        if (c->value == NULL || c->key[0] != SLQ_KEY_QUOTA || c->key_len != QUOTA_KEY_BYTES)
            continue;
        uint32_t program = (uint32_t) (slq_be64(c->key + 1) & 0xffffffffu);
        if (program >= pol->n_programs || pol->programs[program]->holder_annual_cap_fen <= 0)
            continue;
        Slq__HolderQuota *q = slq__holder_quota__unpack(NULL, c->value_len, c->value);
        if (q == NULL) continue;
        char addr[CRYPTO_ADDRESS_TEXT_BYTES];
        crypto_address_format(addr, c->key + QUOTA_HOLDER_AT);
        if (q->used_fen > pol->programs[program]->holder_annual_cap_fen)
            fail(v, "height %llu: holder cap of %s exceeded by %s: %lld fen used > %lld fen",
                 (unsigned long long) h, pol->programs[program]->name, addr,
                 (long long) q->used_fen,
                 (long long) pol->programs[program]->holder_annual_cap_fen);
        slq__holder_quota__free_unpacked(q, NULL);
    }
}

/* Chains the overlay's changes into the app hash and folds them into the base. */
static slq_err commit_block(verify *v, uint64_t h) {
    ledger_change *ch = NULL;
    size_t n = 0;
    slq_err err = ledger_state_changes(v->st, &ch, &n);
    if (err != SLQ_OK) return err;
    check_caps(v, h, ch, n);
    check_holder_caps(v, h, ch, n);
    uint8_t next[HASH];
    ledger_app_hash(v->suite, next, v->sum.app_hash, ch, n);
    memcpy(v->sum.app_hash, next, HASH);
    for (size_t i = 0; err == SLQ_OK && i < n; i++)
        err = ch[i].value != NULL ? ledger_state_put(v->base, ch[i].key, ch[i].key_len, ch[i].value,
                                                     ch[i].value_len)
                                  : ledger_state_del(v->base, ch[i].key, ch[i].key_len);
    free(ch);
    ledger_state_reset(v->st);
    return err;
}

/* Grows *arr (elements of `size` bytes) to hold one more. */
static slq_err grow(void **arr, size_t *cap, size_t n, size_t size) {
    if (n < *cap) return SLQ_OK;
    size_t c = *cap == 0 ? 64 : 2 * *cap;
    void *p = realloc(*arr, c * size);
    if (p == NULL) return SLQ_NO_MEMORY;
    *arr = p;
    *cap = c;
    return SLQ_OK;
}

/* Keeps the reason of a REVOKE that applied, for the report's revocations. */
static slq_err revoke_record(verify *v, const uint8_t hash[HASH], const char *reason) {
    slq_err err = grow((void **) &v->revokes, &v->cap_revokes, v->n_revokes, sizeof(vrevoke));
    if (err != SLQ_OK) return err;
    vrevoke *r = &v->revokes[v->n_revokes];
    memcpy(r->tx, hash, HASH);
    if ((r->reason = strdup(reason)) == NULL) return SLQ_NO_MEMORY;
    v->n_revokes++;
    return SLQ_OK;
}

/* Decodes (signature included) and applies transaction i of block h. */
static slq_err replay_tx(verify *v, uint64_t h, int64_t time_ms, size_t i,
                         const ProtobufCBinaryData *bytes, const uint8_t hash[HASH]) {
    char hx[2 * HASH + 1];
    hex32(hx, hash);
    ledger_tx tx;
    slq_err err = ledger_tx_decode(&tx, v->l, bytes->data, bytes->len);
    if (err != SLQ_OK) {
        fail(v, "height %llu tx %zu (%s): %s", (unsigned long long) h, i, hx, slq_err_str(err));
        return SLQ_OK;
    }
    ledger_block_ctx ctx = {.height = h, .time_ms = time_ms, .index = (uint32_t) i};
    ledger_outcome out;
    err = ledger_apply(v->l, v->st, &ctx, &tx, &out);
    if (err == SLQ_OK && tx.body->payload_case == SLQ__TX_BODY__PAYLOAD_REVOKE)
        err = revoke_record(v, hash, tx.body->revoke->reason);
    ledger_tx_free(&tx);
    if (err == SLQ_NO_MEMORY || err == SLQ_STORAGE_IO) return err; /* ours, not the tx's */
    if (err != SLQ_OK)
        fail(v, "height %llu tx %zu (%s): does not apply: %s", (unsigned long long) h, i, hx,
             out.reason);
    else
        v->sum.txs++;
    return SLQ_OK;
}

/* Replays every transaction of a block, checks its Merkle root and commits its changes. */
static slq_err replay_block(verify *v, uint64_t h, const Slq__Block *b,
                            const Slq__BlockHeader *hdr) {
    if (b->n_txs > SLQ_BLOCK_TXS_MAX)
        fail(v, "height %llu: %zu transactions, more than %u", (unsigned long long) h, b->n_txs,
             SLQ_BLOCK_TXS_MAX);
    uint8_t(*hashes)[HASH] = malloc((b->n_txs + 1) * sizeof *hashes);
    if (hashes == NULL) return SLQ_NO_MEMORY;
    slq_err err = SLQ_OK;
    for (size_t i = 0; err == SLQ_OK && i < b->n_txs; i++) {
        crypto_hash(v->suite, hashes[i], b->txs[i].data, b->txs[i].len);
        err = replay_tx(v, h, hdr->time_ms, i, &b->txs[i], hashes[i]);
    }
    if (err == SLQ_OK) {
        uint8_t root[HASH];
        crypto_merkle_root(v->suite, root, (const uint8_t(*)[HASH]) hashes, b->n_txs);
        if (!is_hash(&hdr->txs_root) || memcmp(root, hdr->txs_root.data, HASH) != 0)
            fail(v, "height %llu: txs_root does not match its %zu transactions",
                 (unsigned long long) h, b->n_txs);
        err = commit_block(v, h);
    }
    free(hashes);
    return err;
}

/* ------------------------------------------------------------------ one block */

static bool is_validator(const verify *v, const ProtobufCBinaryData *addr) {
    const Slq__Genesis *g = ledger_genesis(v->l);
    for (size_t i = 0; addr->len == CRYPTO_ADDRESS_BYTES && i < g->n_validators; i++) {
        uint8_t a[CRYPTO_ADDRESS_BYTES];
        if (crypto_address(v->suite, a, g->validators[i]->pubkey.data,
                           g->validators[i]->pubkey.len) == SLQ_OK &&
            memcmp(a, addr->data, CRYPTO_ADDRESS_BYTES) == 0)
            return true;
    }
    return false;
}

/* The header against the previous block (v->sum holds it) and the replay. */
static void check_header(verify *v, uint64_t h, const Slq__BlockHeader *hdr) {
    unsigned long long hh = (unsigned long long) h;
    if (strcmp(hdr->chain_id, ledger_chain_id(v->l)) != 0)
        fail(v, "height %llu: header is of chain \"%.64s\"", hh, hdr->chain_id);
    if (hdr->height != h)
        fail(v, "height %llu: header says height %llu", hh, (unsigned long long) hdr->height);
    if (!is_hash(&hdr->prev_hash) || memcmp(hdr->prev_hash.data, v->sum.tip_hash, HASH) != 0)
        fail(v, "height %llu: prev_hash does not link to %s", hh,
             h == 1 ? "genesis (32 zero bytes)" : "the hash of the previous block");
    if (hdr->time_ms <= v->sum.tip_time_ms)
        fail(v, "height %llu: block time %lld ms is not after the previous %lld ms", hh,
             (long long) hdr->time_ms, (long long) v->sum.tip_time_ms);
    if (!is_hash(&hdr->validators_hash) ||
        memcmp(hdr->validators_hash.data, v->validators_hash, HASH) != 0)
        fail(v, "height %llu: validators_hash is not the genesis validator set's", hh);
    if (!is_validator(v, &hdr->proposer))
        fail(v, "height %llu: proposer is not a genesis validator", hh);
    if (!v->diverged &&
        (!is_hash(&hdr->app_hash) || memcmp(hdr->app_hash.data, v->sum.app_hash, HASH) != 0)) {
        char want[2 * HASH + 1];
        hex32(want, v->sum.app_hash);
        fail(v,
             "height %llu: header app_hash is not the replayed state after %llu (%s); later "
             "app hashes are not compared",
             hh, hh - 1, want);
        v->diverged = true;
    }
}

/* last_commit: empty at height 1, else the certificate of the previous block. */
static void check_last_commit(verify *v, uint64_t h, const Slq__Block *b,
                              const Slq__BlockHeader *hdr) {
    SLQ_ASSERT(h >= 1); /* h - 1 is the height the certificate is for */
    unsigned long long hh = (unsigned long long) h;
    if (h == 1) {
        if (b->last_commit.len != 0 || hdr->last_commit_hash.len != 0)
            fail(v, "height 1: carries a last_commit, but there is no block 0");
        return;
    }
    uint8_t lch[HASH];
    crypto_hash(v->suite, lch, b->last_commit.data, b->last_commit.len);
    if (!is_hash(&hdr->last_commit_hash) || memcmp(lch, hdr->last_commit_hash.data, HASH) != 0)
        fail(v, "height %llu: last_commit_hash is not the hash of last_commit", hh);
    const Slq__Genesis *g = ledger_genesis(v->l);
    char why[WHY_BYTES] = "";
    if (consensus_cert_verify(v->suite, ledger_chain_id(v->l), g->validators, g->n_validators,
                              b->last_commit.data, b->last_commit.len, h - 1, v->sum.tip_hash, why,
                              sizeof why) != SLQ_OK)
        fail(v, "height %llu: last_commit (certificate of %llu): %s", hh, hh - 1, why);
}

/* The 'c' row of height h: a certificate that proves block `hash` final. */
static slq_err check_cert_row(verify *v, uint64_t h, const uint8_t hash[HASH]) {
    uint8_t *cert = NULL;
    size_t len = 0;
    unsigned long long hh = (unsigned long long) h;
    slq_err err = storage_cert_by_height(v->s, h, &cert, &len);
    if (err == SLQ_NOT_FOUND) {
        fail(v, "height %llu: certificate row c/%016llx missing", hh, hh);
        return SLQ_OK;
    }
    if (err != SLQ_OK) return err;
    const Slq__Genesis *g = ledger_genesis(v->l);
    char why[WHY_BYTES] = "";
    if (consensus_cert_verify(v->suite, ledger_chain_id(v->l), g->validators, g->n_validators, cert,
                              len, h, hash, why, sizeof why) != SLQ_OK)
        fail(v, "height %llu: certificate row c/%016llx: %s", hh, hh, why);
    else
        v->sum.certs++;
    free(cert);
    return SLQ_OK;
}

/* The 'h' row of the block's hash: it must name height h. */
static slq_err check_hash_row(verify *v, uint64_t h, const uint8_t hash[HASH]) {
    slq_key k = slq_key_bytes(SLQ_KEY_BLOCK_HASH, hash, HASH);
    char kt[KEY_TEXT_BYTES];
    key_text(kt, k.bytes, k.len);
    uint8_t *val = NULL;
    size_t len = 0;
    slq_err err = storage_get(v->s, k.bytes, k.len, &val, &len);
    if (err == SLQ_NOT_FOUND) {
        fail(v, "height %llu: hash index row %s missing", (unsigned long long) h, kt);
        return SLQ_OK;
    }
    if (err != SLQ_OK) return err;
    if (len != HEIGHT_BYTES || slq_be64(val) != h)
        fail(v, "height %llu: hash index row %s does not say height %llu", (unsigned long long) h,
             kt, (unsigned long long) h);
    free(val);
    return SLQ_OK;
}

/* Checks and replays block h. *stop when the chain cannot be followed past it. */
static slq_err check_block(verify *v, uint64_t h, const uint8_t *raw, size_t len, bool *stop) {
    SLQ_ASSERT(h >= 1);
    SLQ_ASSERT(v->sum.height == h - 1); /* v->sum holds the previous block, the one walked */
    unsigned long long hh = (unsigned long long) h;
    Slq__Block *b = len <= SLQ_BLOCK_BYTES_MAX ? slq__block__unpack(NULL, len, raw) : NULL;
    Slq__BlockHeader *hdr =
        b != NULL ? slq__block_header__unpack(NULL, b->header.len, b->header.data) : NULL;
    slq_err err = SLQ_OK;
    if (hdr == NULL) {
        fail(v,
             "height %llu: block row b/%016llx does not decode; the chain cannot be "
             "followed past %llu",
             hh, hh, hh - 1);
        *stop = true;
    } else {
        if (b->base.n_unknown_fields != 0 || hdr->base.n_unknown_fields != 0)
            fail(v, "height %llu: block row b/%016llx has unknown fields", hh, hh);
        uint8_t hash[HASH];
        crypto_hash(v->suite, hash, b->header.data, b->header.len);
        check_header(v, h, hdr);
        check_last_commit(v, h, b, hdr);
        err = check_cert_row(v, h, hash);
        if (err == SLQ_OK) err = check_hash_row(v, h, hash);
        if (err == SLQ_OK) err = replay_block(v, h, b, hdr);
        v->sum.height = h;
        memcpy(v->sum.tip_hash, hash, HASH);
        v->sum.tip_time_ms = hdr->time_ms;
        SLQ_ASSERT(v->n_times == h - 1); /* one time per block walked, in order */
        if (err == SLQ_OK)
            err = grow((void **) &v->times, &v->cap_times, v->n_times, sizeof *v->times);
        if (err == SLQ_OK) v->times[v->n_times++] = hdr->time_ms;
    }
    if (hdr != NULL) slq__block_header__free_unpacked(hdr, NULL);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    return err;
}

/* Walks the blocks from 1 to the tip row's height (to the last block when that row is
 * unreadable). */
static slq_err walk(verify *v) {
    for (uint64_t h = 1; !v->tip_known || h <= v->tip; h++) {
        uint8_t *raw = NULL;
        size_t len = 0;
        slq_err err = storage_block_by_height(v->s, h, &raw, &len);
        if (err == SLQ_NOT_FOUND) {
            if (v->tip_known)
                fail(v,
                     "height %llu: block row b/%016llx missing; the chain cannot be followed "
                     "past %llu",
                     (unsigned long long) h, (unsigned long long) h, (unsigned long long) h - 1);
            return SLQ_OK;
        }
        if (err != SLQ_OK) return err;
        bool stop = false;
        err = check_block(v, h, raw, len, &stop);
        free(raw);
        if (err != SLQ_OK || stop) return err;
        show_progress(v, h, false);
    }
    return SLQ_OK;
}

/* ------------------------------------------------------------------ genesis and tip */

static slq_err check_genesis_row(verify *v, const uint8_t *genesis, size_t len) {
    uint8_t *stored = NULL;
    size_t n = 0;
    slq_err err = storage_genesis(v->s, &stored, &n);
    if (err == SLQ_NOT_FOUND) {
        fail(v, "row G/: the genesis row is missing");
        return SLQ_OK;
    }
    if (err != SLQ_OK) return err;
    if (n != len || memcmp(stored, genesis, len) != 0)
        fail(v, "row G/: the stored genesis is not genesis.json's");
    free(stored);
    return SLQ_OK;
}

static slq_err replay_genesis(verify *v) {
    memset(v->sum.app_hash, 0, HASH);
    v->sum.tip_time_ms = ledger_genesis(v->l)->time_ms;
    slq_err err = ledger_genesis_state(v->l, v->st);
    return err == SLQ_OK ? commit_block(v, 0) : err;
}

static slq_err read_tip_row(verify *v) {
    slq_key k = slq_key_prefix(SLQ_KEY_TIP);
    uint8_t *val = NULL;
    size_t len = 0;
    slq_err err = storage_get(v->s, k.bytes, k.len, &val, &len);
    if (err == SLQ_NOT_FOUND) {
        fail(v, "row T/: the tip row is missing");
        return SLQ_OK;
    }
    if (err != SLQ_OK) return err;
    if (len != TIP_ROW_BYTES) {
        fail(v, "row T/: the tip row has %zu bytes, not %u", len, TIP_ROW_BYTES);
    } else {
        v->tip_known = true;
        v->tip = slq_be64(val);
        memcpy(v->tip_row_hash, val + HEIGHT_BYTES, HASH);
        memcpy(v->tip_row_app, val + HEIGHT_BYTES + HASH, HASH);
    }
    free(val);
    return SLQ_OK;
}

/* The tip row against the walk: same height, hash and app hash. */
static void check_tip_row(verify *v) {
    if (!v->tip_known || v->tip != v->sum.height) return; /* reported by the walk */
    char got[2 * HASH + 1], want[2 * HASH + 1];
    if (memcmp(v->tip_row_hash, v->sum.tip_hash, HASH) != 0) {
        hex32(got, v->tip_row_hash);
        fail(v, "row T/: tip hash %s is not the hash of block %llu", got,
             (unsigned long long) v->sum.height);
    }
    if (memcmp(v->tip_row_app, v->sum.app_hash, HASH) != 0) {
        hex32(got, v->tip_row_app);
        hex32(want, v->sum.app_hash);
        fail(v, "row T/: app hash %s is not the replayed state after %llu (%s)", got,
             (unsigned long long) v->sum.height, want);
    }
}

/* ------------------------------------------------------------------ stored rows */

typedef struct {
    verify *v;
    slq_err err;
    slq_key *keys; /* rows the store lacks */
    size_t n, cap;
} rows_ctx;

static bool is_state_family(uint8_t f) {
    return f != 0 && strchr("xaviypqrklenK", f) != NULL; /* the state families of keys.h */
}

/* A 'b' or 'c' row must be of a height 1..tip. */
static void check_height_row(verify *v, const uint8_t *key, size_t len, const char *kt) {
    uint64_t h = len == HEIGHT_KEY_BYTES ? slq_be64(key + 1) : 0;
    if (len != HEIGHT_KEY_BYTES)
        fail(v, "row %s: malformed key", kt);
    else if (h == 0 || h > v->sum.height)
        fail(v, "row %s: %s of height %llu beyond the verified tip %llu", kt,
             key[0] == SLQ_KEY_BLOCK ? "block" : "certificate", (unsigned long long) h,
             (unsigned long long) v->sum.height);
}

/* A stored state row against the replay. */
static bool compare_row(rows_ctx *c, const uint8_t *key, size_t len, const uint8_t *val,
                        size_t val_len, const char *kt) {
    const uint8_t *r = NULL;
    size_t rn = 0;
    c->v->sum.rows++;
    slq_err err =
        len <= SLQ_KEY_BYTES_MAX ? ledger_state_get(c->v->base, key, len, &r, &rn) : SLQ_NOT_FOUND;
    if (err == SLQ_NOT_FOUND) {
        fail(c->v, "row %s: extra: the replay has no such row", kt);
    } else if (err != SLQ_OK) {
        c->err = err;
        return false;
    } else if (rn != val_len || (val_len > 0 && memcmp(r, val, val_len) != 0)) {
        fail(c->v, "row %s: value differs from the replay", kt);
    }
    return true;
}

static bool stored_row_cb(void *arg, const uint8_t *key, size_t len, const uint8_t *val,
                          size_t val_len) {
    rows_ctx *c = arg;
    char kt[KEY_TEXT_BYTES];
    key_text(kt, key, len);
    uint8_t f = len > 0 ? key[0] : 0;
    if (f == SLQ_KEY_BLOCK || f == SLQ_KEY_CERT)
        check_height_row(c->v, key, len, kt);
    else if (f == SLQ_KEY_BLOCK_HASH)
        c->v->h_rows++;
    else if ((f == SLQ_KEY_TIP || f == SLQ_KEY_GENESIS) && len == 1)
        return true; /* checked on their own */
    else if (is_state_family(f))
        return compare_row(c, key, len, val, val_len, kt);
    else
        fail(c->v, "row %s: a key of no slq family", kt);
    return true;
}

/* An 'h' row when their count is off: its block must exist and have its hash. */
static bool hash_row_cb(void *arg, const uint8_t *key, size_t len, const uint8_t *val,
                        size_t val_len) {
    rows_ctx *c = arg;
    char kt[KEY_TEXT_BYTES];
    key_text(kt, key, len);
    uint64_t h = val_len == HEIGHT_BYTES ? slq_be64(val) : 0;
    if (len != 1 + HASH || val_len != HEIGHT_BYTES) {
        fail(c->v, "row %s: malformed hash index row", kt);
        return true;
    }
    if (h == 0 || h > c->v->sum.height) {
        fail(c->v, "row %s: hash index of height %llu beyond the verified tip", kt,
             (unsigned long long) h);
        return true;
    }
    uint8_t *raw = NULL;
    size_t n = 0;
    c->err = storage_block_by_height(c->v->s, h, &raw, &n);
    if (c->err != SLQ_OK) return false;
    Slq__Block *b = slq__block__unpack(NULL, n, raw);
    free(raw);
    uint8_t hash[HASH] = {0};
    if (b != NULL) crypto_hash(c->v->suite, hash, b->header.data, b->header.len);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    if (memcmp(hash, key + 1, HASH) != 0)
        fail(c->v, "row %s: extra: block %llu has another hash", kt, (unsigned long long) h);
    return true;
}

#define KEYS_ROOM_FIRST 16u /* keys of the first allocation; it more than doubles after */

static slq_err keys_push(rows_ctx *c, const uint8_t *key, size_t len) {
    if (c->n == c->cap) {
        size_t cap = 2 * c->cap + KEYS_ROOM_FIRST;
        slq_key *k = realloc(c->keys, cap * sizeof *k);
        if (k == NULL) return SLQ_NO_MEMORY;
        c->keys = k;
        c->cap = cap;
    }
    SLQ_ASSERT(c->n < c->cap);
    SLQ_ASSERT(len <= SLQ_KEY_BYTES_MAX); /* the replay's keys are the ledger's own */
    c->keys[c->n] = (slq_key){.len = len};
    memcpy(c->keys[c->n++].bytes, key, len);
    return SLQ_OK;
}

static bool missing_row_cb(void *arg, const uint8_t *key, size_t len, const uint8_t *val,
                           size_t val_len) {
    (void) val, (void) val_len;
    rows_ctx *c = arg;
    uint8_t *stored = NULL;
    size_t n = 0;
    slq_err err = storage_get(c->v->s, key, len, &stored, &n);
    if (err == SLQ_OK) free(stored);
    if (err == SLQ_NOT_FOUND) err = keys_push(c, key, len);
    c->err = err;
    return err == SLQ_OK;
}

static int key_cmp(const void *a, const void *b) {
    const slq_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->bytes, y->bytes, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* Every replayed state row the store lacks, reported in key order. */
static slq_err check_missing(verify *v) {
    static const uint8_t families[] = {SLQ_KEY_TX,      SLQ_KEY_ACCOUNT,     SLQ_KEY_VOUCHER,
                                       SLQ_KEY_HOLDING, SLQ_KEY_YEAR,        SLQ_KEY_PROGRAM_YEAR,
                                       SLQ_KEY_QUOTA,   SLQ_KEY_APP_REF,     SLQ_KEY_CONTRACT_REF,
                                       SLQ_KEY_CLAIM,   SLQ_KEY_CREDIT_CODE, SLQ_KEY_APPLICATION,
                                       SLQ_KEY_CONTRACT};
    rows_ctx c = {.v = v, .err = SLQ_OK};
    for (size_t i = 0; c.err == SLQ_OK && i < sizeof families; i++)
        ledger_state_foreach(v->base, &families[i], 1, missing_row_cb, &c);
    if (c.err == SLQ_OK && c.n > 1) qsort(c.keys, c.n, sizeof *c.keys, key_cmp);
    for (size_t i = 0; c.err == SLQ_OK && i < c.n; i++) {
        char kt[KEY_TEXT_BYTES];
        key_text(kt, c.keys[i].bytes, c.keys[i].len);
        fail(v, "row %s: missing: the replay produced it", kt);
    }
    free(c.keys);
    return c.err;
}

static slq_err check_rows(verify *v) {
    rows_ctx c = {.v = v, .err = SLQ_OK};
    static const uint8_t every = 0; /* an empty prefix: every row (a pointer all the same) */
    slq_err err = storage_scan(v->s, &every, 0, stored_row_cb, &c);
    if (err == SLQ_OK) err = c.err;
    if (err == SLQ_OK && v->h_rows != v->sum.height) {
        uint8_t prefix = SLQ_KEY_BLOCK_HASH;
        err = storage_scan(v->s, &prefix, 1, hash_row_cb, &c);
        if (err == SLQ_OK) err = c.err;
    }
    return err == SLQ_OK ? check_missing(v) : err;
}

/* ------------------------------------------------------------------ entry points */

static slq_err audit(verify *v, const uint8_t *genesis, size_t len) {
    slq_err err = check_genesis_row(v, genesis, len);
    if (err == SLQ_OK) err = replay_genesis(v);
    if (err == SLQ_OK) err = read_tip_row(v);
    if (err == SLQ_OK) err = walk(v);
    if (err != SLQ_OK) return err;
    show_progress(v, v->sum.height, true);
    check_tip_row(v);
    return check_rows(v);
}

/* Opens the ledger, the two states and the snapshot's store. */
static slq_err setup(verify *v, const uint8_t *genesis, size_t len, const char *snap, char *why,
                     size_t why_cap) {
    slq_err err = ledger_create(&v->l, genesis, len, why, why_cap);
    if (err != SLQ_OK) return err;
    v->suite = ledger_suite(v->l);
    const Slq__Genesis *g = ledger_genesis(v->l);
    consensus_validators_hash(v->suite, v->validators_hash, g->validators, g->n_validators);
    err = ledger_state_create(&v->base, NULL);
    report_source rs = report_source_state(v->base); /* its get serves the overlay's reads */
    v->view = (ledger_view){.ctx = rs.ctx, .get = rs.get};
    if (err == SLQ_OK) err = ledger_state_create(&v->st, &v->view);
    if (err != SLQ_OK) return err;
    err = storage_open(&v->s, snap);
    if (err != SLQ_OK) SLQ_WHY("cannot open the store: %s", slq_err_str(err));
    return err;
}

static int cmp_revoke(const void *a, const void *b) {
    return memcmp(((const vrevoke *) a)->tx, ((const vrevoke *) b)->tx, HASH);
}

slq_err verify_run(verify **out, const uint8_t *genesis, size_t genesis_len, const char *data_dir,
                   const verify_opts *o, char *why, size_t why_cap) {
    verify *v = calloc(1, sizeof *v);
    if (v == NULL) return SLQ_NO_MEMORY;
    v->o = o;
    char snap[SNAPSHOT_PATH_BYTES_MAX];
    slq_err err = snapshot_create(snap, sizeof snap, data_dir, why, why_cap);
    bool snapped = err == SLQ_OK;
    if (err == SLQ_OK) err = setup(v, genesis, genesis_len, snap, why, why_cap);
    if (err == SLQ_OK) err = audit(v, genesis, genesis_len);
    if (err != SLQ_OK && why != NULL && why[0] == '\0') SLQ_WHY("%s", slq_err_str(err));
    if (o->progress) fputs("\r\033[K", stderr);
    storage_close(v->s);
    v->s = NULL;
    if (snapped && snapshot_remove(snap) != SLQ_OK)
        fprintf(stderr, "slqd verify: could not remove the snapshot %s\n", snap);
    if (err != SLQ_OK) {
        verify_free(v);
        return err;
    }
    if (v->n_revokes > 1) qsort(v->revokes, v->n_revokes, sizeof *v->revokes, cmp_revoke);
    *out = v;
    return SLQ_OK;
}

const verify_summary *verify_result(const verify *v) {
    return &v->sum;
}

const char *verify_chain_id(const verify *v) {
    return ledger_chain_id(v->l);
}

/* report_source's block_time and revoke_reason over the blocks walked. */
static slq_err walked_block_time(void *ctx, uint64_t height, int64_t *time_ms) {
    const verify *v = ctx;
    if (height == 0 || height > v->n_times) return SLQ_NOT_FOUND;
    *time_ms = v->times[height - 1];
    return SLQ_OK;
}

static slq_err walked_revoke_reason(void *ctx, const uint8_t *tx_hash, char **reason) {
    const verify *v = ctx;
    vrevoke key;
    memcpy(key.tx, tx_hash, HASH);
    const vrevoke *r =
        v->n_revokes > 0 ? bsearch(&key, v->revokes, v->n_revokes, sizeof key, cmp_revoke) : NULL;
    if (r == NULL) return SLQ_NOT_FOUND;
    return (*reason = strdup(r->reason)) != NULL ? SLQ_OK : SLQ_NO_MEMORY;
}

slq_err verify_report(const verify *v, uint32_t year, char **out, size_t *len) {
    report_source src = report_source_state(v->base);
    src.chain_ctx = (void *) v; /* only read */
    src.block_time = walked_block_time;
    src.revoke_reason = walked_revoke_reason;
    report_tip tip = {.height = v->sum.height, .time_ms = v->sum.tip_time_ms};
    memcpy(tip.hash, v->sum.tip_hash, HASH);
    return report_json(out, len, v->l, &src, &tip, year);
}

void verify_free(verify *v) {
    if (v == NULL) return;
    storage_close(v->s);
    ledger_state_destroy(v->st);
    ledger_state_destroy(v->base);
    ledger_destroy(v->l);
    for (size_t i = 0; i < v->n_revokes; i++) free(v->revokes[i].reason);
    free(v->revokes);
    free(v->times);
    free(v);
}
