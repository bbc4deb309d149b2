/* fuzz_storage_rows.c: feeds storage's two hand-written strict readers (storage.c:
 * txlocation_decode for the 'x' TxLocation row and block_find_tx, the Block walker) through
 * the public storage_tx_by_hash().
 *
 * Input: first byte n, then min(n, rest) bytes of TxLocation row, then the Block row. Each
 * input gets a fresh, empty database in one directory made at the first call: height 1
 * is committed with the fuzzed block bytes and, as the block's one state change, the
 * fuzzed location row under 'x' || H (the tx index is a state family, so a state change
 * may write it; no other write path exists). Then storage_tx_by_hash(H) reads both back.
 * A fresh database per input keeps a run deterministic: a location can only point at the
 * block of this input. (Opening LevelDB per input is the price; see the exec/s figure.)
 *
 * Asserts: no crash, leak or UB; the result is SLQ_OK or SLQ_STORAGE_CORRUPT; whatever the
 * strict readers accept, protobuf-c (lenient) reads the same way: the location decodes to
 * the returned height and index and the returned bytes are that tx of the Block. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "slq.pb-c.h"
#include "slq/keys.h"
#include "slq/limits.h"
#include "storage.h"

/* The per-process database directory, made at the first call, removed at exit. */
static char db_dir_path[64];

static void db_dir_remove(void) {
    (void) rmdir(db_dir_path); /* best effort: a temp dir */
}

static const char *db_dir(void) {
    if (db_dir_path[0] == '\0') {
        fz_quiet();
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(db_dir_path, sizeof db_dir_path, "%s/slq-fuzz-storage-XXXXXX", base);
        SLQ_ASSERT(mkdtemp(db_dir_path) != NULL);
        SLQ_ASSERT(atexit(db_dir_remove) == 0);
    }
    return db_dir_path;
}

/* Deletes every file LevelDB left in dir (LevelDB keeps no subdirectories). */
static void wipe_dir(const char *dir) {
    DIR *d = opendir(dir);
    SLQ_ASSERT(d != NULL);
    char path[256];
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        SLQ_ASSERT(n > 0 && (size_t) n < sizeof path);
        SLQ_ASSERT(unlink(path) == 0);
    }
    SLQ_ASSERT(closedir(d) == 0);
}

typedef struct {
    const uint8_t *loc;
    size_t loc_len;
    const uint8_t *block;
    size_t block_len;
} rows;

/* What storage accepted, re-read with protobuf-c: it must agree. */
static void check_found(const rows *r, uint64_t height, uint32_t index, const uint8_t *tx,
                        size_t tx_len) {
    SLQ_ASSERT(height == 1); /* the only block there is */
    Slq__TxLocation *loc = slq__tx_location__unpack(NULL, r->loc_len, r->loc);
    SLQ_ASSERT(loc != NULL);
    SLQ_ASSERT(loc->height == height && loc->index == index);
    slq__tx_location__free_unpacked(loc, NULL);
    Slq__Block *b = slq__block__unpack(NULL, r->block_len, r->block);
    SLQ_ASSERT(b != NULL);
    SLQ_ASSERT(index < b->n_txs);
    SLQ_ASSERT(b->txs[index].len == tx_len);
    SLQ_ASSERT(tx_len == 0 || memcmp(b->txs[index].data, tx, tx_len) == 0);
    slq__block__free_unpacked(b, NULL);
}

static void run(storage *s, const rows *r) {
    static const uint8_t hash[32] = {0xb1}, app_hash[32] = {0xa9}, tx_hash[32] = {0x7c};
    slq_key k = slq_key_bytes(SLQ_KEY_TX, tx_hash, sizeof tx_hash);
    storage_kv change = {k.bytes, k.len, r->loc, r->loc_len};
    storage_block b = {.height = 1,
                       .hash = hash,
                       .app_hash = app_hash,
                       .block = r->block,
                       .block_len = r->block_len,
                       .changes = &change,
                       .changes_count = 1};
    SLQ_ASSERT(storage_commit_block(s, &b) == SLQ_OK);
    uint64_t height = 0;
    uint32_t index = 0;
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    slq_err err = storage_tx_by_hash(s, tx_hash, &height, &index, &tx, &tx_len);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_STORAGE_CORRUPT);
    if (err == SLQ_OK) {
        check_found(r, height, index, tx, tx_len);
        free(tx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = db_dir();
    if (size == 0 || size > SLQ_BLOCK_BYTES_MAX) return 0; /* a larger block is never stored */
    rows r = {.loc = data + 1, .loc_len = data[0]};
    if (r.loc_len > size - 1) r.loc_len = size - 1;
    r.block = r.loc + r.loc_len;
    r.block_len = size - 1 - r.loc_len;
    storage *s = NULL;
    SLQ_ASSERT(storage_open(&s, dir) == SLQ_OK);
    run(s, &r);
    storage_close(s);
    wipe_dir(dir);
    return 0;
}
