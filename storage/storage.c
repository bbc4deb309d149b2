/* storage.c: blocks, certificates, indexes and state rows on LevelDB (DESIGN.md §6).
 *
 * This is the only file of slq that includes LevelDB. The handle owns the database, its
 * options (create_if_missing, paranoid checks, an LRU block cache), one read-options
 * object that verifies checksums and one write-options object with sync on, used for
 * every write. Every write is one WriteBatch: a block, its certificate, its hash index,
 * its state changes and the new tip go to disk together or not at all. The tip is cached
 * in the handle after each successful write and read back at open. Storage knows keys
 * and bytes, not rules; the only messages it looks inside are TxLocation and Block, for
 * storage_tx_by_hash, through two small strict decoders below (no protobuf-c here).
 * Call from one thread at a time: the handle's cached tip, reused batch and test hook are
 * not locked. */
#include "storage.h"

#include <leveldb/c.h>
#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/be.h"
#include "slq/keys.h"
#include "slq/limits.h"
#include "slq/log.h"

#define STORAGE_TIP_BYTES          (8u + SLQ_HASH_BYTES + SLQ_HASH_BYTES)
#define STORAGE_CACHE_BYTES        (8u * 1024 * 1024)
/* LevelDB's memtable. A transfer writes about 1 KB (its block bytes, voucher rows, indexes);
 * with LevelDB's default 4 MB, a node committing 10,000 transfers a second flushed a table
 * every half second and its compaction thread used about as much CPU as the loop thread
 * (16 us per transfer, bench/README.md). 32 MB (two may be in memory) cuts that tenfold. */
#define STORAGE_WRITE_BUFFER_BYTES (32u * 1024 * 1024)
#define STORAGE_MAX_OPEN_FILES     256
#define STORAGE_VALUE_BYTES_MAX    SLQ_FRAME_BYTES_MAX /* sanity bound on any one row */
#define STORAGE_VARINT_BYTES_MAX   10u
/* A holding key: 'i' || holder[20] || id[32]. */
#define STORAGE_HOLDING_KEY_BYTES  (1u + SLQ_ADDRESS_BYTES + SLQ_HASH_BYTES)

_Static_assert(STORAGE_HOLDING_KEY_BYTES <= SLQ_KEY_BYTES_MAX, "holding key fits");
_Static_assert(SLQ_BLOCK_BYTES_MAX <= STORAGE_VALUE_BYTES_MAX, "a block fits in a row");
_Static_assert(SLQ_GENESIS_BYTES_MAX <= STORAGE_VALUE_BYTES_MAX, "a genesis fits in a row");

struct storage {
    leveldb_t *db;
    leveldb_options_t *options;
    leveldb_cache_t *cache;
    leveldb_filterpolicy_t *filter;
    leveldb_readoptions_t *ropt;       /* verify_checksums = 1 */
    leveldb_writeoptions_t *wopt_sync; /* sync = 1, used for every write */
    leveldb_writebatch_t *batch;       /* reused by every write: cleared, it keeps its buffer */
    storage_tip tip;                   /* cached; equals the 'T' row after every write */
    unsigned fail_after;               /* test hook: the nth write fails; 0 = off */
    unsigned pins;                     /* open pins (storage_pin_open) */
};

/* ------------------------------------------------------------------ small helpers */

/* Logs and frees a LevelDB error string; returns SLQ_STORAGE_IO. */
static slq_err storage_leveldb_fail(const char *what, char *err) {
    SLQ_ASSERT(what != NULL);
    SLQ_ASSERT(err != NULL);
    log_warn("storage: %s: %s", what, err);
    leveldb_free(err);
    return SLQ_STORAGE_IO;
}

/* True if `family` is written by storage itself with each block; state changes may not
 * touch these rows. */
static bool storage_block_family(uint8_t family) {
    return family == SLQ_KEY_BLOCK || family == SLQ_KEY_CERT || family == SLQ_KEY_BLOCK_HASH ||
           family == SLQ_KEY_TIP || family == SLQ_KEY_GENESIS;
}

static void batch_put(leveldb_writebatch_t *batch, const slq_key *k, const uint8_t *v,
                      size_t v_len) {
    SLQ_ASSERT(k->len >= 1 && k->len <= SLQ_KEY_BYTES_MAX);
    leveldb_writebatch_put(batch, (const char *) k->bytes, k->len, (const char *) v, v_len);
}

/* Encodes the tip row: height(8 BE) || hash(32) || app_hash(32). */
static void tip_encode(uint8_t out[STORAGE_TIP_BYTES], const storage_tip *t) {
    slq_put_be(out, t->height, 8);
    memcpy(out + 8, t->hash, SLQ_HASH_BYTES);
    memcpy(out + 8 + SLQ_HASH_BYTES, t->app_hash, SLQ_HASH_BYTES);
}

/* ------------------------------------------------------------------ reads */

/* Reads one row into a malloc'd copy (never NULL on SLQ_OK, even for an empty value). */
static slq_err storage_read_at(storage *s, const leveldb_readoptions_t *ropt, const uint8_t *key,
                               size_t key_len, uint8_t **val, size_t *val_len) {
    SLQ_ASSERT(s != NULL && s->db != NULL);
    SLQ_ASSERT(key_len >= 1 && key_len <= SLQ_KEY_BYTES_MAX);
    char *err = NULL;
    size_t len = 0;
    char *got = leveldb_get(s->db, ropt, (const char *) key, key_len, &len, &err);
    if (err != NULL) {
        leveldb_free(got); /* NULL on error in 1.23; freeing NULL is a no-op */
        return storage_leveldb_fail("get", err);
    }
    if (got == NULL) return SLQ_NOT_FOUND;
    uint8_t *copy = malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        leveldb_free(got);
        return SLQ_NO_MEMORY;
    }
    memcpy(copy, got, len);
    leveldb_free(got);
    *val = copy;
    *val_len = len;
    return SLQ_OK;
}

static slq_err storage_read(storage *s, const uint8_t *key, size_t key_len, uint8_t **val,
                            size_t *val_len) {
    return storage_read_at(s, s->ropt, key, key_len, val, val_len);
}

static slq_err storage_read_key(storage *s, const slq_key *k, uint8_t **out, size_t *len) {
    return storage_read(s, k->bytes, k->len, out, len);
}

/* Reads the 'T' row into *tip; zeros when absent. */
static slq_err storage_load_tip(storage *s, storage_tip *tip) {
    slq_key k = slq_key_prefix(SLQ_KEY_TIP);
    uint8_t *v = NULL;
    size_t len = 0;
    memset(tip, 0, sizeof *tip);
    slq_err e = storage_read_key(s, &k, &v, &len);
    if (e == SLQ_NOT_FOUND) return SLQ_OK;
    if (e != SLQ_OK) return e;
    if (len != STORAGE_TIP_BYTES) {
        log_warn("storage: open: tip row has %zu bytes, want %u", len, STORAGE_TIP_BYTES);
        free(v);
        return SLQ_STORAGE_CORRUPT;
    }
    tip->height = slq_be64(v);
    memcpy(tip->hash, v + 8, SLQ_HASH_BYTES);
    memcpy(tip->app_hash, v + 8 + SLQ_HASH_BYTES, SLQ_HASH_BYTES);
    free(v);
    return SLQ_OK;
}

/* ------------------------------------------------------------------ open and close */

/* Creates the options objects, each setting passed explicitly. */
static slq_err storage_options_create(storage *s) {
    s->options = leveldb_options_create();
    s->cache = leveldb_cache_create_lru(STORAGE_CACHE_BYTES);
    s->filter = leveldb_filterpolicy_create_bloom(10);
    s->ropt = leveldb_readoptions_create();
    s->wopt_sync = leveldb_writeoptions_create();
    s->batch = leveldb_writebatch_create();
    if (s->options == NULL || s->cache == NULL || s->filter == NULL || s->ropt == NULL ||
        s->wopt_sync == NULL || s->batch == NULL)
        return SLQ_NO_MEMORY;
    leveldb_options_set_create_if_missing(s->options, 1);
    leveldb_options_set_error_if_exists(s->options, 0);
    leveldb_options_set_paranoid_checks(s->options, 1);
    leveldb_options_set_cache(s->options, s->cache);
    leveldb_options_set_write_buffer_size(s->options, STORAGE_WRITE_BUFFER_BYTES);
    leveldb_options_set_max_open_files(s->options, STORAGE_MAX_OPEN_FILES);
    /* Rows are mostly hashes, keys and signatures: compression would cost CPU for nothing. */
    leveldb_options_set_compression(s->options, leveldb_no_compression);
    /* Most point reads on the hot path are misses (is this tx already committed?): a bloom
     * filter answers them without reading a block. */
    leveldb_options_set_filter_policy(s->options, s->filter);
    leveldb_readoptions_set_verify_checksums(s->ropt, 1);
    leveldb_readoptions_set_fill_cache(s->ropt, 1);
    leveldb_writeoptions_set_sync(s->wopt_sync, 1);
    return SLQ_OK;
}

slq_err storage_open(storage **out, const char *dir) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(dir != NULL);
    *out = NULL;
    storage *s = calloc(1, sizeof *s);
    if (s == NULL) return SLQ_NO_MEMORY;
    slq_err e = storage_options_create(s);
    if (e != SLQ_OK) goto fail;
    char *err = NULL;
    s->db = leveldb_open(s->options, dir, &err);
    if (err != NULL) {
        SLQ_ASSERT(s->db == NULL);
        e = storage_leveldb_fail("open", err);
        goto fail;
    }
    if (s->db == NULL) {
        log_warn("storage: open: no handle and no error dir=%s", dir);
        e = SLQ_STORAGE_IO;
        goto fail;
    }
    e = storage_load_tip(s, &s->tip);
    if (e != SLQ_OK) goto fail;
    *out = s;
    return SLQ_OK;
fail:
    storage_close(s); /* releases whatever was created, in reverse order */
    return e;
}

void storage_close(storage *s) {
    if (s == NULL) return;
    SLQ_ASSERT(s->pins == 0);                /* a pin's snapshot must not outlive the database */
    if (s->db != NULL) leveldb_close(s->db); /* before the options and cache it uses */
    if (s->wopt_sync != NULL) leveldb_writeoptions_destroy(s->wopt_sync);
    if (s->batch != NULL) leveldb_writebatch_destroy(s->batch);
    if (s->ropt != NULL) leveldb_readoptions_destroy(s->ropt);
    if (s->options != NULL) leveldb_options_destroy(s->options);
    if (s->cache != NULL) leveldb_cache_destroy(s->cache);
    if (s->filter != NULL) leveldb_filterpolicy_destroy(s->filter);
    free(s);
}

void storage_fail_write_after(storage *s, unsigned n) {
    SLQ_ASSERT(s != NULL);
    s->fail_after = n;
}

/* ------------------------------------------------------------------ writes */

/* The handle's batch, emptied. A block's batch holds a megabyte or more; growing a fresh one
 * every block cost page faults and copies on the loop thread. */
static leveldb_writebatch_t *batch_begin(storage *s) {
    leveldb_writebatch_clear(s->batch);
    return s->batch;
}

/* Writes `batch` with sync, unless the test hook says this write fails. */
static slq_err storage_write(storage *s, leveldb_writebatch_t *batch) {
    SLQ_ASSERT(s->db != NULL);
    SLQ_ASSERT(batch != NULL);
    if (s->fail_after > 0) {
        s->fail_after--;
        if (s->fail_after == 0) {
            log_warn("storage: write: injected failure");
            return SLQ_STORAGE_IO;
        }
    }
    char *err = NULL;
    leveldb_write(s->db, s->wopt_sync, batch, &err);
    if (err != NULL) return storage_leveldb_fail("write", err);
    return SLQ_OK;
}

/* Checks one state change; SLQ_INVALID_ARGUMENT names the reason in the log. */
static slq_err storage_change_check(const storage_kv *c, size_t i) {
    if (c->key == NULL || c->key_len < 1 || c->key_len > SLQ_KEY_BYTES_MAX) {
        log_warn("storage: commit: change key length invalid change=%zu len=%zu", i, c->key_len);
        return SLQ_INVALID_ARGUMENT;
    }
    if (storage_block_family(c->key[0])) {
        log_warn("storage: commit: change writes a block row change=%zu family=0x%02x", i,
                 (unsigned) c->key[0]);
        return SLQ_INVALID_ARGUMENT;
    }
    if (c->value == NULL ? c->value_len != 0 : c->value_len > STORAGE_VALUE_BYTES_MAX) {
        log_warn("storage: commit: change value invalid change=%zu len=%zu", i, c->value_len);
        return SLQ_INVALID_ARGUMENT;
    }
    return SLQ_OK;
}

/* Appends every change to `batch`, checking each as it goes; on an error the caller
 * destroys the batch unwritten, so a bad change anywhere leaves nothing. */
static slq_err batch_add_changes(leveldb_writebatch_t *batch, const storage_kv *changes,
                                 size_t count) {
    if (count > 0 && changes == NULL) return SLQ_INVALID_ARGUMENT;
    for (size_t i = 0; i < count; i++) {
        const storage_kv *c = &changes[i];
        slq_err e = storage_change_check(c, i);
        if (e != SLQ_OK) return e;
        if (c->value == NULL) {
            leveldb_writebatch_delete(batch, (const char *) c->key, c->key_len);
        } else {
            leveldb_writebatch_put(batch, (const char *) c->key, c->key_len,
                                   (const char *) c->value, c->value_len);
        }
    }
    return SLQ_OK;
}

/* Appends the block rows, changes and the new tip to `batch`. */
static slq_err batch_add_block(leveldb_writebatch_t *batch, const storage_block *b,
                               const storage_tip *tip) {
    slq_key k = slq_key_height(SLQ_KEY_BLOCK, b->height);
    batch_put(batch, &k, b->block, b->block_len);
    if (b->cert != NULL) {
        k = slq_key_height(SLQ_KEY_CERT, b->height);
        batch_put(batch, &k, b->cert, b->cert_len);
    }
    uint8_t height_be[8];
    slq_put_be(height_be, b->height, 8);
    k = slq_key_bytes(SLQ_KEY_BLOCK_HASH, b->hash, SLQ_HASH_BYTES);
    batch_put(batch, &k, height_be, sizeof height_be);
    slq_err e = batch_add_changes(batch, b->changes, b->changes_count);
    if (e != SLQ_OK) return e;
    uint8_t tip_row[STORAGE_TIP_BYTES];
    tip_encode(tip_row, tip);
    k = slq_key_prefix(SLQ_KEY_TIP);
    batch_put(batch, &k, tip_row, sizeof tip_row);
    return SLQ_OK;
}

/* Checks the block's own fields (not its changes, which are checked while batching). */
static slq_err storage_block_check(const storage *s, const storage_block *b) {
    if (s->tip.height == UINT64_MAX || b->height != s->tip.height + 1) {
        log_warn("storage: commit: height %llu is not tip %llu + 1", (unsigned long long) b->height,
                 (unsigned long long) s->tip.height);
        return SLQ_INVALID_ARGUMENT;
    }
    if (b->hash == NULL || b->app_hash == NULL || b->block == NULL) {
        log_warn("storage: commit: missing hash, app_hash or block height=%llu",
                 (unsigned long long) b->height);
        return SLQ_INVALID_ARGUMENT;
    }
    if (b->block_len > SLQ_BLOCK_BYTES_MAX) {
        log_warn("storage: commit: block too large bytes=%zu max=%u", b->block_len,
                 SLQ_BLOCK_BYTES_MAX);
        return SLQ_INVALID_ARGUMENT;
    }
    if (b->cert == NULL ? b->cert_len != 0 : b->cert_len > STORAGE_VALUE_BYTES_MAX) {
        log_warn("storage: commit: certificate invalid bytes=%zu", b->cert_len);
        return SLQ_INVALID_ARGUMENT;
    }
    return SLQ_OK;
}

slq_err storage_commit_block(storage *s, const storage_block *b) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(b != NULL);
    slq_err e = storage_block_check(s, b);
    if (e != SLQ_OK) return e;
    storage_tip tip = {.height = b->height};
    memcpy(tip.hash, b->hash, SLQ_HASH_BYTES);
    memcpy(tip.app_hash, b->app_hash, SLQ_HASH_BYTES);
    leveldb_writebatch_t *batch = batch_begin(s);
    e = batch_add_block(batch, b, &tip);
    if (e == SLQ_OK) e = storage_write(s, batch);
    if (e != SLQ_OK) return e;
    s->tip = tip;
    SLQ_ASSERT(s->tip.height == b->height);
    return SLQ_OK;
}

slq_err storage_init_genesis(storage *s, const uint8_t *genesis, size_t len,
                             const uint8_t app_hash[32], const storage_kv *changes,
                             size_t changes_count) {
    SLQ_ASSERT(s != NULL);
    if (genesis == NULL || app_hash == NULL || len > SLQ_GENESIS_BYTES_MAX)
        return SLQ_INVALID_ARGUMENT;
    slq_key k = slq_key_prefix(SLQ_KEY_GENESIS);
    uint8_t *old = NULL;
    size_t old_len = 0;
    slq_err e = storage_read_key(s, &k, &old, &old_len);
    if (e == SLQ_OK) {
        free(old);
        log_warn("storage: genesis: already stored");
        return SLQ_INVALID_ARGUMENT;
    }
    if (e != SLQ_NOT_FOUND) return e;
    if (s->tip.height != 0) {
        log_warn("storage: genesis: blocks already stored tip=%llu",
                 (unsigned long long) s->tip.height);
        return SLQ_INVALID_ARGUMENT;
    }
    storage_tip tip = {.height = 0};
    memcpy(tip.app_hash, app_hash, SLQ_HASH_BYTES);
    uint8_t tip_row[STORAGE_TIP_BYTES];
    tip_encode(tip_row, &tip);
    leveldb_writebatch_t *batch = batch_begin(s);
    batch_put(batch, &k, genesis, len);
    e = batch_add_changes(batch, changes, changes_count);
    if (e == SLQ_OK) {
        k = slq_key_prefix(SLQ_KEY_TIP);
        batch_put(batch, &k, tip_row, sizeof tip_row);
        e = storage_write(s, batch);
    }
    if (e != SLQ_OK) return e;
    s->tip = tip;
    return SLQ_OK;
}

slq_err storage_put_cert(storage *s, uint64_t height, const uint8_t *cert, size_t len) {
    SLQ_ASSERT(s != NULL);
    if (cert == NULL || len > STORAGE_VALUE_BYTES_MAX) return SLQ_INVALID_ARGUMENT;
    if (height == 0 || height > s->tip.height) {
        log_warn("storage: put_cert: height %llu not committed tip=%llu",
                 (unsigned long long) height, (unsigned long long) s->tip.height);
        return SLQ_INVALID_ARGUMENT;
    }
    leveldb_writebatch_t *batch = batch_begin(s);
    slq_key k = slq_key_height(SLQ_KEY_CERT, height);
    batch_put(batch, &k, cert, len);
    slq_err e = storage_write(s, batch);
    return e;
}

/* ------------------------------------------------------------------ typed reads */

slq_err storage_get_tip(storage *s, storage_tip *out) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(out != NULL);
    *out = s->tip;
    return SLQ_OK;
}

slq_err storage_get(storage *s, const uint8_t *key, size_t key_len, uint8_t **val,
                    size_t *val_len) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(val != NULL && val_len != NULL);
    if (key == NULL || key_len < 1 || key_len > SLQ_KEY_BYTES_MAX) return SLQ_INVALID_ARGUMENT;
    return storage_read(s, key, key_len, val, val_len);
}

slq_err storage_genesis(storage *s, uint8_t **out, size_t *len) {
    slq_key k = slq_key_prefix(SLQ_KEY_GENESIS);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_block_by_height(storage *s, uint64_t height, uint8_t **out, size_t *len) {
    slq_key k = slq_key_height(SLQ_KEY_BLOCK, height);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_cert_by_height(storage *s, uint64_t height, uint8_t **out, size_t *len) {
    slq_key k = slq_key_height(SLQ_KEY_CERT, height);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_height_by_hash(storage *s, const uint8_t hash[32], uint64_t *height) {
    SLQ_ASSERT(hash != NULL);
    SLQ_ASSERT(height != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_BLOCK_HASH, hash, SLQ_HASH_BYTES);
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err e = storage_read_key(s, &k, &v, &len);
    if (e != SLQ_OK) return e;
    if (len != 8) {
        log_warn("storage: height_by_hash: row has %zu bytes, want 8", len);
        free(v);
        return SLQ_STORAGE_CORRUPT;
    }
    *height = slq_be64(v);
    free(v);
    return SLQ_OK;
}

slq_err storage_account(storage *s, const uint8_t addr[20], uint8_t **out, size_t *len) {
    SLQ_ASSERT(addr != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, SLQ_ADDRESS_BYTES);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_voucher(storage *s, const uint8_t id[32], uint8_t **out, size_t *len) {
    SLQ_ASSERT(id != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, id, SLQ_HASH_BYTES);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_year_totals(storage *s, uint32_t year, uint8_t **out, size_t *len) {
    slq_key k = slq_key_year(year);
    return storage_read_key(s, &k, out, len);
}

slq_err storage_claim(storage *s, const uint8_t id[32], uint8_t **out, size_t *len) {
    SLQ_ASSERT(id != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, id, SLQ_HASH_BYTES);
    return storage_read_key(s, &k, out, len);
}

/* ------------------------------------------------------------------ mini protobuf readers
 *
 * storage_tx_by_hash looks inside two protobuf messages (proto/slq.proto) without
 * protobuf-c: TxLocation {uint64 height = 1; uint32 index = 2;} and Block {bytes header
 * = 1; repeated bytes txs = 2; bytes last_commit = 3;}. Both were encoded by protobuf-c,
 * which writes fields in number order with minimal varints, so these readers accept only
 * that: known fields with the right wire type, in order, singular fields at most once,
 * minimal varints of at most 10 bytes, lengths inside the buffer. Anything else is
 * SLQ_STORAGE_CORRUPT: the rows were written by us, so a surprise means a damaged disk. */

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
} pb_reader;

/* Reads a minimal varint of at most 10 bytes. */
static slq_err pb_varint(pb_reader *r, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned i = 0; i < STORAGE_VARINT_BYTES_MAX; i++) {
        if (r->pos >= r->len) return SLQ_STORAGE_CORRUPT; /* truncated */
        uint8_t byte = r->p[r->pos++];
        if (i == STORAGE_VARINT_BYTES_MAX - 1 && byte > 1) return SLQ_STORAGE_CORRUPT;
        v |= (uint64_t) (byte & 0x7f) << (7 * i);
        if ((byte & 0x80) == 0) {
            if (i > 0 && byte == 0) return SLQ_STORAGE_CORRUPT; /* overlong */
            *out = v;
            return SLQ_OK;
        }
    }
    return SLQ_STORAGE_CORRUPT; /* an 11th byte would be needed */
}

/* Reads a length-delimited field's length and returns its bytes in [*start, +*n). */
static slq_err pb_bytes(pb_reader *r, size_t *start, size_t *n) {
    uint64_t len = 0;
    slq_err e = pb_varint(r, &len);
    if (e != SLQ_OK) return e;
    SLQ_ASSERT(r->pos <= r->len);
    if (len > r->len - r->pos) return SLQ_STORAGE_CORRUPT; /* runs past the end */
    *start = r->pos;
    *n = (size_t) len;
    r->pos += (size_t) len;
    return SLQ_OK;
}

/* Reads the tag of the next field: its number and wire type. The callers check order. */
static slq_err pb_tag(pb_reader *r, uint64_t *field, unsigned *wire) {
    uint64_t tag = 0;
    slq_err e = pb_varint(r, &tag);
    if (e != SLQ_OK) return e;
    *field = tag >> 3;
    *wire = (unsigned) (tag & 7);
    return SLQ_OK;
}

/* Decodes a TxLocation row. Absent fields are zero (proto3), so index 0 has no field. */
static slq_err txlocation_decode(const uint8_t *p, size_t len, uint64_t *height, uint32_t *index) {
    pb_reader r = {.p = p, .len = len, .pos = 0};
    uint64_t last = 0, h = 0, idx = 0;
    while (r.pos < r.len) {
        uint64_t field = 0;
        unsigned wire = 0;
        slq_err e = pb_tag(&r, &field, &wire);
        if (e != SLQ_OK) return e;
        if (wire != 0 || field <= last || field > 2) return SLQ_STORAGE_CORRUPT;
        last = field;
        e = pb_varint(&r, field == 1 ? &h : &idx);
        if (e != SLQ_OK) return e;
    }
    if (h == 0 || idx > UINT32_MAX) return SLQ_STORAGE_CORRUPT; /* no tx lives at height 0 */
    *height = h;
    *index = (uint32_t) idx;
    return SLQ_OK;
}

/* Walks a whole Block and finds txs[index] as [*start, +*n) of p. The whole block is
 * checked even after the tx is found, so a damaged tail is still reported. */
static slq_err block_find_tx(const uint8_t *p, size_t len, uint32_t index, size_t *start,
                             size_t *n) {
    pb_reader r = {.p = p, .len = len, .pos = 0};
    uint64_t last = 0, txs = 0;
    bool found = false;
    while (r.pos < r.len) {
        uint64_t field = 0;
        unsigned wire = 0;
        slq_err e = pb_tag(&r, &field, &wire);
        if (e != SLQ_OK) return e;
        if (wire != 2 || field < 1 || field > 3) return SLQ_STORAGE_CORRUPT;
        if (field < last || (field == last && field != 2)) return SLQ_STORAGE_CORRUPT;
        last = field;
        size_t fs = 0, fn = 0;
        e = pb_bytes(&r, &fs, &fn);
        if (e != SLQ_OK) return e;
        if (field != 2) continue;
        if (txs == index) {
            *start = fs;
            *n = fn;
            found = true;
        }
        txs++;
        if (txs > SLQ_BLOCK_TXS_MAX) return SLQ_STORAGE_CORRUPT;
    }
    return found ? SLQ_OK : SLQ_STORAGE_CORRUPT; /* the index points past the txs */
}

/* Copies txs[index] of the block at `height` into a malloc'd buffer. */
static slq_err storage_block_tx(storage *s, uint64_t height, uint32_t index, uint8_t **tx,
                                size_t *tx_len) {
    uint8_t *block = NULL;
    size_t block_len = 0;
    slq_err e = storage_block_by_height(s, height, &block, &block_len);
    if (e == SLQ_NOT_FOUND) {
        log_warn("storage: tx_by_hash: location points to missing block height=%llu",
                 (unsigned long long) height);
        return SLQ_STORAGE_CORRUPT; /* written in the same batch as its location */
    }
    if (e != SLQ_OK) return e;
    size_t start = 0, n = 0;
    e = block_find_tx(block, block_len, index, &start, &n);
    if (e != SLQ_OK) {
        log_warn("storage: tx_by_hash: block malformed height=%llu index=%u",
                 (unsigned long long) height, (unsigned) index);
        free(block);
        return e;
    }
    SLQ_ASSERT(start + n <= block_len);
    uint8_t *copy = malloc(n > 0 ? n : 1);
    if (copy != NULL) memcpy(copy, block + start, n);
    free(block);
    if (copy == NULL) return SLQ_NO_MEMORY;
    *tx = copy;
    *tx_len = n;
    return SLQ_OK;
}

slq_err storage_tx_by_hash(storage *s, const uint8_t hash[32], uint64_t *height, uint32_t *index,
                           uint8_t **tx, size_t *tx_len) {
    SLQ_ASSERT(s != NULL && hash != NULL);
    SLQ_ASSERT(height != NULL && index != NULL && tx != NULL && tx_len != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_TX, hash, SLQ_HASH_BYTES);
    uint8_t *loc = NULL;
    size_t loc_len = 0;
    slq_err e = storage_read_key(s, &k, &loc, &loc_len);
    if (e != SLQ_OK) return e;
    uint64_t h = 0;
    uint32_t idx = 0;
    e = txlocation_decode(loc, loc_len, &h, &idx);
    free(loc);
    if (e != SLQ_OK) {
        log_warn("storage: tx_by_hash: location row malformed bytes=%zu", loc_len);
        return e;
    }
    e = storage_block_tx(s, h, idx, tx, tx_len);
    if (e != SLQ_OK) return e;
    *height = h;
    *index = idx;
    return SLQ_OK;
}

/* ------------------------------------------------------------------ iteration */

/* Runs cb over the rows of `it` that start with prefix, from the iterator's position. */
static void scan_rows(leveldb_iterator_t *it, const uint8_t *prefix, size_t prefix_len,
                      storage_row_cb cb, void *arg) {
    for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
        size_t klen = 0, vlen = 0;
        const char *key = leveldb_iter_key(it, &klen);
        if (klen < prefix_len || memcmp(key, prefix, prefix_len) != 0) return;
        const char *val = leveldb_iter_value(it, &vlen);
        if (!cb(arg, (const uint8_t *) key, klen, (const uint8_t *) val, vlen)) return;
    }
}

static slq_err storage_scan_at(storage *s, const leveldb_readoptions_t *ropt, const uint8_t *prefix,
                               size_t prefix_len, storage_row_cb cb, void *arg) {
    SLQ_ASSERT(s != NULL && s->db != NULL);
    SLQ_ASSERT(cb != NULL);
    if (prefix_len > SLQ_KEY_BYTES_MAX || (prefix == NULL && prefix_len != 0))
        return SLQ_INVALID_ARGUMENT;
    leveldb_iterator_t *it = leveldb_create_iterator(s->db, ropt);
    if (it == NULL) return SLQ_NO_MEMORY;
    if (prefix_len == 0) {
        leveldb_iter_seek_to_first(it);
    } else {
        leveldb_iter_seek(it, (const char *) prefix, prefix_len);
    }
    scan_rows(it, prefix, prefix_len, cb, arg);
    char *err = NULL;
    leveldb_iter_get_error(it, &err);
    leveldb_iter_destroy(it);
    if (err != NULL) return storage_leveldb_fail("scan", err);
    return SLQ_OK;
}

slq_err storage_scan(storage *s, const uint8_t *prefix, size_t prefix_len, storage_row_cb cb,
                     void *arg) {
    return storage_scan_at(s, s->ropt, prefix, prefix_len, cb, arg);
}

/* ------------------------------------------------------------------ pins */

struct storage_pin {
    storage *s;
    const leveldb_snapshot_t *snap;
    leveldb_readoptions_t *ropt; /* as s->ropt, at snap */
};

slq_err storage_pin_open(storage *s, bool fill_cache, storage_pin **out) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(s->db != NULL);
    storage_pin *p = calloc(1, sizeof *p);
    if (p == NULL) return SLQ_NO_MEMORY;
    p->s = s;
    p->ropt = leveldb_readoptions_create();
    if (p->ropt == NULL) {
        free(p);
        return SLQ_NO_MEMORY;
    }
    p->snap = leveldb_create_snapshot(s->db);
    leveldb_readoptions_set_verify_checksums(p->ropt, 1);
    leveldb_readoptions_set_fill_cache(p->ropt, fill_cache);
    leveldb_readoptions_set_snapshot(p->ropt, p->snap);
    s->pins++;
    *out = p;
    return SLQ_OK;
}

void storage_pin_close(storage_pin *p) {
    if (p == NULL) return;
    SLQ_ASSERT(p->s->pins > 0);
    p->s->pins--;
    leveldb_release_snapshot(p->s->db, p->snap);
    leveldb_readoptions_destroy(p->ropt);
    free(p);
}

slq_err storage_pin_get(storage_pin *p, const uint8_t *key, size_t key_len, uint8_t **val,
                        size_t *val_len) {
    SLQ_ASSERT(p != NULL);
    SLQ_ASSERT(val != NULL);
    SLQ_ASSERT(val_len != NULL);
    if (key == NULL || key_len < 1 || key_len > SLQ_KEY_BYTES_MAX) return SLQ_INVALID_ARGUMENT;
    return storage_read_at(p->s, p->ropt, key, key_len, val, val_len);
}

slq_err storage_pin_scan(storage_pin *p, const uint8_t *prefix, size_t prefix_len,
                         storage_row_cb cb, void *arg) {
    SLQ_ASSERT(p != NULL);
    return storage_scan_at(p->s, p->ropt, prefix, prefix_len, cb, arg);
}

typedef struct {
    storage_id_cb cb;
    void *arg;
    slq_err err;
} holding_scan;

static bool holding_row_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                           size_t val_len) {
    holding_scan *h = arg;
    (void) val;
    (void) val_len; /* holding rows carry no value; the key is the fact */
    if (key_len != STORAGE_HOLDING_KEY_BYTES) {
        log_warn("storage: holder_vouchers: key has %zu bytes, want %u", key_len,
                 STORAGE_HOLDING_KEY_BYTES);
        h->err = SLQ_STORAGE_CORRUPT;
        return false;
    }
    return h->cb(h->arg, key + 1 + SLQ_ADDRESS_BYTES);
}

static slq_err holder_vouchers_at(storage *s, const leveldb_readoptions_t *ropt,
                                  const uint8_t holder[20], storage_id_cb cb, void *arg) {
    SLQ_ASSERT(holder != NULL);
    SLQ_ASSERT(cb != NULL);
    slq_key k = slq_key_bytes(SLQ_KEY_HOLDING, holder, SLQ_ADDRESS_BYTES);
    holding_scan h = {.cb = cb, .arg = arg, .err = SLQ_OK};
    slq_err e = storage_scan_at(s, ropt, k.bytes, k.len, holding_row_cb, &h);
    if (e != SLQ_OK) return e;
    return h.err;
}

slq_err storage_holder_vouchers(storage *s, const uint8_t holder[20], storage_id_cb cb, void *arg) {
    return holder_vouchers_at(s, s->ropt, holder, cb, arg);
}

slq_err storage_pin_holder_vouchers(storage_pin *p, const uint8_t holder[20], storage_id_cb cb,
                                    void *arg) {
    SLQ_ASSERT(p != NULL);
    return holder_vouchers_at(p->s, p->ropt, holder, cb, arg);
}
