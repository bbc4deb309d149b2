/* test_storage.c: unit tests of storage/ on a real LevelDB. Each test opens a fresh
 * database in its own mkdtemp directory under /tmp and removes it afterwards. Rows are
 * hand-built bytes (storage knows bytes, not rules); the TxLocation and Block values the
 * tx lookup reads are hand-encoded protobuf. */
#define _XOPEN_SOURCE 700 /* nftw */

#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <leveldb/c.h>

#include "check.h"
#include "slq/assert.h"
#include "slq/err.h"
#include "slq/keys.h"
#include "slq/limits.h"
#include "storage.h"

/* One byte over storage.c's bound on any one row (STORAGE_VALUE_BYTES_MAX, the frame limit). */
#define STORAGE_ROW_TEST_BYTES (SLQ_FRAME_BYTES_MAX + 1u)

/* ------------------------------------------------------------------ fixture */

typedef struct {
    char dir[64];
    storage *s;
} fixture;

static int rm_entry_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove(path) != 0) perror(path);
    return 0; /* keep going: remove what can be removed */
}

static void rm_rf(const char *dir) {
    if (nftw(dir, rm_entry_cb, 16, FTW_DEPTH | FTW_PHYS) != 0) perror(dir);
}

/* Makes a fresh directory and opens storage in it; aborts the run if that fails, since
 * no test can say anything without it. */
static void fixture_open(fixture *f) {
    snprintf(f->dir, sizeof f->dir, "/tmp/slq-test-storage-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    slq_err e = storage_open(&f->s, f->dir);
    if (e != SLQ_OK) {
        fprintf(stderr, "storage_open: %s\n", slq_err_name(e));
        abort();
    }
}

static void fixture_reopen(fixture *f) {
    storage_close(f->s);
    f->s = NULL;
    slq_err e = storage_open(&f->s, f->dir);
    CHECK_ERR(e, SLQ_OK);
    if (e != SLQ_OK) abort();
}

static void fixture_close(fixture *f) {
    storage_close(f->s);
    f->s = NULL;
    rm_rf(f->dir);
}

/* ------------------------------------------------------------------ builders */

static void fill32(uint8_t out[32], uint8_t seed) {
    for (int i = 0; i < 32; i++) out[i] = (uint8_t) (seed + i);
}

static void fill20(uint8_t out[20], uint8_t seed) {
    for (int i = 0; i < 20; i++) out[i] = (uint8_t) (seed * 3 + i);
}

/* Block hash of test block `height`; distinct for heights up to 2^16. */
static void block_hash(uint8_t out[32], uint64_t height) {
    memset(out, 0xb0, 32);
    out[30] = (uint8_t) (height >> 8);
    out[31] = (uint8_t) height;
}

static storage_kv kv_put(const slq_key *k, const char *value) {
    storage_kv kv = {k->bytes, k->len, (const uint8_t *) value, strlen(value)};
    return kv;
}

static storage_kv kv_del(const slq_key *k) {
    storage_kv kv = {k->bytes, k->len, NULL, 0};
    return kv;
}

/* Commits block `height` with the given bytes, no certificate and the given changes. */
static slq_err commit_bytes(storage *s, uint64_t height, const uint8_t *block, size_t len,
                            const storage_kv *changes, size_t count) {
    uint8_t hash[32], app[32];
    block_hash(hash, height);
    fill32(app, (uint8_t) height);
    storage_block b = {.height = height,
                       .hash = hash,
                       .app_hash = app,
                       .block = block,
                       .block_len = len,
                       .changes = changes,
                       .changes_count = count};
    return storage_commit_block(s, &b);
}

static slq_err commit(storage *s, uint64_t height, const storage_kv *changes, size_t count) {
    uint8_t block[9] = {'B'};
    for (int i = 0; i < 8; i++) block[1 + i] = (uint8_t) (height >> (56 - 8 * i));
    return commit_bytes(s, height, block, sizeof block, changes, count);
}

/* Appends a protobuf varint to buf at *n. */
static void put_varint(uint8_t *buf, size_t *n, uint64_t v) {
    while (v >= 0x80) {
        buf[(*n)++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    buf[(*n)++] = (uint8_t) v;
}

/* Expects `key` to hold exactly `want`. */
static void check_row(storage *s, const slq_key *k, const char *want) {
    uint8_t *v = NULL;
    size_t len = 0;
    CHECK_ERR(storage_get(s, k->bytes, k->len, &v, &len), SLQ_OK);
    CHECK_EQ_INT(len, strlen(want));
    if (v != NULL && len == strlen(want)) CHECK_MEM(v, want, len);
    free(v);
}

static void check_absent(storage *s, const slq_key *k) {
    uint8_t *v = NULL;
    size_t len = 0;
    CHECK_ERR(storage_get(s, k->bytes, k->len, &v, &len), SLQ_NOT_FOUND);
    CHECK(v == NULL);
}

static uint64_t tip_height(storage *s) {
    storage_tip t;
    CHECK_ERR(storage_get_tip(s, &t), SLQ_OK);
    return t.height;
}

/* ------------------------------------------------------------------ synced writes
 *
 * This test is linked with --wrap for leveldb_write and leveldb_writeoptions_create,
 * _destroy and _set_sync (storage/meson.build): every live write-options object is recorded
 * with its sync flag (LevelDB's default, off, when created), and every write counts as synced
 * or not by the flag of the options it used. */

#define WOPTS_MAX 8

static struct {
    const leveldb_writeoptions_t *opts[WOPTS_MAX];
    bool sync[WOPTS_MAX];
    size_t n;
    unsigned writes, synced;
} wrap_;

leveldb_writeoptions_t *__real_leveldb_writeoptions_create(void);
leveldb_writeoptions_t *__wrap_leveldb_writeoptions_create(void);
void __real_leveldb_writeoptions_destroy(leveldb_writeoptions_t *o);
void __wrap_leveldb_writeoptions_destroy(leveldb_writeoptions_t *o);
void __real_leveldb_writeoptions_set_sync(leveldb_writeoptions_t *o, uint8_t v);
void __wrap_leveldb_writeoptions_set_sync(leveldb_writeoptions_t *o, uint8_t v);
void __real_leveldb_write(leveldb_t *db, const leveldb_writeoptions_t *o, leveldb_writebatch_t *b,
                          char **errptr);
void __wrap_leveldb_write(leveldb_t *db, const leveldb_writeoptions_t *o, leveldb_writebatch_t *b,
                          char **errptr);

/* The slot of options o (a new one, sync off, if unknown). */
static size_t wopts_slot(const leveldb_writeoptions_t *o) {
    for (size_t i = 0; i < wrap_.n; i++)
        if (wrap_.opts[i] == o) return i;
    SLQ_ASSERT(wrap_.n < WOPTS_MAX);
    wrap_.opts[wrap_.n] = o;
    wrap_.sync[wrap_.n] = false;
    return wrap_.n++;
}

leveldb_writeoptions_t *__wrap_leveldb_writeoptions_create(void) {
    leveldb_writeoptions_t *o = __real_leveldb_writeoptions_create();
    if (o != NULL) wrap_.sync[wopts_slot(o)] = false;
    return o;
}

void __wrap_leveldb_writeoptions_destroy(leveldb_writeoptions_t *o) {
    size_t i = wopts_slot(o);
    wrap_.n--;
    wrap_.opts[i] = wrap_.opts[wrap_.n];
    wrap_.sync[i] = wrap_.sync[wrap_.n];
    __real_leveldb_writeoptions_destroy(o);
}

void __wrap_leveldb_writeoptions_set_sync(leveldb_writeoptions_t *o, uint8_t v) {
    wrap_.sync[wopts_slot(o)] = v != 0;
    __real_leveldb_writeoptions_set_sync(o, v);
}

void __wrap_leveldb_write(leveldb_t *db, const leveldb_writeoptions_t *o, leveldb_writebatch_t *b,
                          char **errptr) {
    wrap_.writes++;
    wrap_.synced += wrap_.sync[wopts_slot(o)];
    __real_leveldb_write(db, o, b, errptr);
}

/* Expects exactly one write since the last call, and that one synced. */
static void check_one_synced_write(const char *what) {
    if (wrap_.writes != 1 || wrap_.synced != 1)
        fprintf(stderr, "  %s: %u writes, %u synced\n", what, wrap_.writes, wrap_.synced);
    CHECK_EQ_INT(wrap_.writes, 1);
    CHECK_EQ_INT(wrap_.synced, 1);
    wrap_.writes = wrap_.synced = 0;
}

/* A block reaches the disk before the node acts on it (votes, answers, the next block): a
 * crash must not lose a committed block. Each write is one WriteBatch, synced. */
static void test_every_write_is_one_synced_batch(void) {
    fixture f;
    fixture_open(&f);
    wrap_.writes = wrap_.synced = 0;
    uint8_t app[32];
    fill32(app, 7);
    slq_key acct = slq_key_bytes(SLQ_KEY_ACCOUNT, (const uint8_t *) "aaaaaaaaaaaaaaaaaaaa", 20);
    storage_kv kv = kv_put(&acct, "alice");
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "GEN", 3, app, &kv, 1), SLQ_OK);
    check_one_synced_write("genesis");
    for (uint64_t h = 1; h <= 3; h++) {
        CHECK_ERR(commit(f.s, h, &kv, 1), SLQ_OK);
        check_one_synced_write("block");
    }
    fixture_reopen(&f); /* new options: set again */
    CHECK_ERR(commit(f.s, 4, NULL, 0), SLQ_OK);
    check_one_synced_write("block after reopening");
    CHECK_ERR(storage_put_cert(f.s, 4, (const uint8_t *) "CERT", 4), SLQ_OK);
    check_one_synced_write("certificate");
    fixture_close(&f);
}

/* ------------------------------------------------------------------ open, tip, genesis */

static void test_tip_is_zero_when_nothing_is_stored(void) {
    fixture f;
    fixture_open(&f);
    storage_tip t;
    memset(&t, 0xff, sizeof t);
    CHECK_ERR(storage_get_tip(f.s, &t), SLQ_OK);
    uint8_t zero[32] = {0};
    CHECK_EQ_INT(t.height, 0);
    CHECK_MEM(t.hash, zero, 32);
    CHECK_MEM(t.app_hash, zero, 32);
    uint8_t *g = NULL;
    size_t len = 0;
    CHECK_ERR(storage_genesis(f.s, &g, &len), SLQ_NOT_FOUND);
    fixture_close(&f);
}

static void test_open_of_a_locked_directory_fails_with_storage_io(void) {
    fixture f;
    fixture_open(&f);
    storage *second = (storage *) 0x1;
    CHECK_ERR(storage_open(&second, f.dir), SLQ_STORAGE_IO);
    CHECK(second == NULL);
    storage_close(second);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK); /* the first handle still works */
    fixture_close(&f);
}

static void test_close_of_null_is_a_no_op(void) {
    storage_close(NULL);
}

static void test_genesis_sets_tip_height_zero_with_its_app_hash(void) {
    fixture f;
    fixture_open(&f);
    uint8_t app[32];
    fill32(app, 7);
    slq_key acct = slq_key_bytes(SLQ_KEY_ACCOUNT, (const uint8_t *) "aaaaaaaaaaaaaaaaaaaa", 20);
    storage_kv kv = kv_put(&acct, "alice");
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "GEN", 3, app, &kv, 1), SLQ_OK);
    storage_tip t;
    CHECK_ERR(storage_get_tip(f.s, &t), SLQ_OK);
    uint8_t zero[32] = {0};
    CHECK_EQ_INT(t.height, 0);
    CHECK_MEM(t.hash, zero, 32);
    CHECK_MEM(t.app_hash, app, 32);
    check_row(f.s, &acct, "alice");
    fixture_close(&f);
}

static void test_genesis_twice_is_refused(void) {
    fixture f;
    fixture_open(&f);
    uint8_t app[32], app2[32];
    fill32(app, 1);
    fill32(app2, 2);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "one", 3, app, NULL, 0), SLQ_OK);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "two", 3, app2, NULL, 0),
              SLQ_INVALID_ARGUMENT);
    fixture_reopen(&f);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "two", 3, app2, NULL, 0),
              SLQ_INVALID_ARGUMENT);
    uint8_t *g = NULL;
    size_t len = 0;
    CHECK_ERR(storage_genesis(f.s, &g, &len), SLQ_OK);
    CHECK_EQ_INT(len, 3);
    if (g != NULL && len == 3) CHECK_MEM(g, "one", 3);
    free(g);
    storage_tip t;
    CHECK_ERR(storage_get_tip(f.s, &t), SLQ_OK);
    CHECK_MEM(t.app_hash, app, 32);
    fixture_close(&f);
}

static void test_genesis_after_blocks_is_refused(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    uint8_t app[32];
    fill32(app, 1);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "g", 1, app, NULL, 0),
              SLQ_INVALID_ARGUMENT);
    CHECK_EQ_INT(tip_height(f.s), 1);
    fixture_close(&f);
}

/* ------------------------------------------------------------------ durability */

static void test_reopen_after_close_keeps_everything(void) {
    fixture f;
    fixture_open(&f);
    uint8_t app0[32];
    fill32(app0, 9);
    slq_key a = slq_key_bytes(SLQ_KEY_ACCOUNT, (const uint8_t *) "AAAAAAAAAAAAAAAAAAAA", 20);
    slq_key v = slq_key_bytes(SLQ_KEY_VOUCHER, app0, 32);
    storage_kv g[] = {kv_put(&a, "acct-0"), kv_put(&v, "voucher-0")};
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "genesis", 7, app0, g, 2), SLQ_OK);
    storage_kv c1[] = {kv_put(&a, "acct-1")};
    CHECK_ERR(commit(f.s, 1, c1, 1), SLQ_OK);
    uint8_t hash2[32], app2[32];
    block_hash(hash2, 2);
    fill32(app2, 2);
    storage_kv c2[] = {kv_del(&v)};
    storage_block b2 = {.height = 2,
                        .hash = hash2,
                        .app_hash = app2,
                        .block = (const uint8_t *) "block-2",
                        .block_len = 7,
                        .cert = (const uint8_t *) "cert-2",
                        .cert_len = 6,
                        .changes = c2,
                        .changes_count = 1};
    CHECK_ERR(storage_commit_block(f.s, &b2), SLQ_OK);
    fixture_reopen(&f);

    storage_tip t;
    CHECK_ERR(storage_get_tip(f.s, &t), SLQ_OK);
    CHECK_EQ_INT(t.height, 2);
    CHECK_MEM(t.hash, hash2, 32);
    CHECK_MEM(t.app_hash, app2, 32);
    slq_key gk = slq_key_prefix(SLQ_KEY_GENESIS);
    check_row(f.s, &gk, "genesis");
    slq_key bk = slq_key_height(SLQ_KEY_BLOCK, 2);
    check_row(f.s, &bk, "block-2");
    slq_key ck = slq_key_height(SLQ_KEY_CERT, 2);
    check_row(f.s, &ck, "cert-2");
    slq_key ck1 = slq_key_height(SLQ_KEY_CERT, 1);
    check_absent(f.s, &ck1); /* block 1 came without a certificate */
    uint64_t h = 0;
    CHECK_ERR(storage_height_by_hash(f.s, hash2, &h), SLQ_OK);
    CHECK_EQ_INT(h, 2);
    check_row(f.s, &a, "acct-1");
    check_absent(f.s, &v);
    CHECK_ERR(commit(f.s, 3, NULL, 0), SLQ_OK); /* the cached tip continues the chain */
    fixture_close(&f);
}

/* ------------------------------------------------------------------ failed batches */

static void test_commit_with_a_bad_change_after_valid_ones_writes_nothing(void) {
    static const struct {
        uint8_t first;
        size_t len;
        const char *why;
    } rows[] = {
        {'a', 0, "empty key"},
        {'a', SLQ_KEY_BYTES_MAX + 1, "key too long"},
        {SLQ_KEY_BLOCK, 9, "block row"},
        {SLQ_KEY_CERT, 9, "certificate row"},
        {SLQ_KEY_BLOCK_HASH, 33, "hash index row"},
        {SLQ_KEY_TIP, 1, "tip row"},
        {SLQ_KEY_GENESIS, 1, "genesis row"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        fixture f;
        fixture_open(&f);
        CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
        uint8_t bad[SLQ_KEY_BYTES_MAX + 1] = {0};
        bad[0] = rows[i].first;
        slq_key ok1 = slq_key_bytes(SLQ_KEY_ACCOUNT, (const uint8_t *) "11111111111111111111", 20);
        slq_key ok2 = slq_key_year(2025);
        storage_kv changes[] = {
            kv_put(&ok1, "x"), kv_put(&ok2, "y"), {bad, rows[i].len, (const uint8_t *) "z", 1}};
        slq_err e = commit(f.s, 2, changes, 3);
        if (e != SLQ_INVALID_ARGUMENT) fprintf(stderr, "  row: %s\n", rows[i].why);
        CHECK_ERR(e, SLQ_INVALID_ARGUMENT);
        fixture_reopen(&f);
        CHECK_EQ_INT(tip_height(f.s), 1);
        check_absent(f.s, &ok1);
        check_absent(f.s, &ok2);
        slq_key b2 = slq_key_height(SLQ_KEY_BLOCK, 2);
        check_absent(f.s, &b2);
        uint8_t hash2[32];
        block_hash(hash2, 2);
        uint64_t h = 0;
        CHECK_ERR(storage_height_by_hash(f.s, hash2, &h), SLQ_NOT_FOUND);
        CHECK_ERR(commit(f.s, 2, NULL, 0), SLQ_OK);
        fixture_close(&f);
    }
}

static void test_genesis_with_a_bad_change_writes_nothing(void) {
    fixture f;
    fixture_open(&f);
    uint8_t app[32];
    fill32(app, 3);
    slq_key ok = slq_key_year(2025);
    slq_key tip = slq_key_prefix(SLQ_KEY_TIP);
    storage_kv changes[] = {kv_put(&ok, "y"), kv_put(&tip, "evil")};
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "g", 1, app, changes, 2),
              SLQ_INVALID_ARGUMENT);
    check_absent(f.s, &ok);
    uint8_t *g = NULL;
    size_t len = 0;
    CHECK_ERR(storage_genesis(f.s, &g, &len), SLQ_NOT_FOUND);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "g", 1, app, changes, 1), SLQ_OK);
    fixture_close(&f);
}

static void test_injected_write_failure_leaves_nothing(void) {
    fixture f;
    fixture_open(&f);
    uint8_t app[32];
    fill32(app, 5);
    slq_key a = slq_key_year(2024);
    storage_kv g[] = {kv_put(&a, "g")};
    storage_fail_write_after(f.s, 1);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "gen", 3, app, g, 1), SLQ_STORAGE_IO);
    check_absent(f.s, &a);
    CHECK_ERR(storage_init_genesis(f.s, (const uint8_t *) "gen", 3, app, g, 1), SLQ_OK);

    storage_fail_write_after(f.s, 2); /* the second write from now fails */
    storage_kv c1[] = {kv_put(&a, "one")};
    CHECK_ERR(commit(f.s, 1, c1, 1), SLQ_OK);
    storage_kv c2[] = {kv_put(&a, "two")};
    CHECK_ERR(commit(f.s, 2, c2, 1), SLQ_STORAGE_IO);
    fixture_reopen(&f);
    CHECK_EQ_INT(tip_height(f.s), 1);
    check_row(f.s, &a, "one");
    slq_key b2 = slq_key_height(SLQ_KEY_BLOCK, 2);
    check_absent(f.s, &b2);
    CHECK_ERR(commit(f.s, 2, c2, 1), SLQ_OK); /* the hook fired once and is off */
    check_row(f.s, &a, "two");
    fixture_close(&f);
}

static void test_injected_failure_of_put_cert_keeps_the_old_cert(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    CHECK_ERR(storage_put_cert(f.s, 1, (const uint8_t *) "old", 3), SLQ_OK);
    storage_fail_write_after(f.s, 1);
    CHECK_ERR(storage_put_cert(f.s, 1, (const uint8_t *) "new", 3), SLQ_STORAGE_IO);
    slq_key ck = slq_key_height(SLQ_KEY_CERT, 1);
    check_row(f.s, &ck, "old");
    fixture_close(&f);
}

static void test_fail_hook_zero_disables_it(void) {
    fixture f;
    fixture_open(&f);
    storage_fail_write_after(f.s, 1);
    storage_fail_write_after(f.s, 0);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    fixture_close(&f);
}

static void test_commit_at_a_wrong_height_is_refused(void) {
    fixture f;
    fixture_open(&f);
    slq_key a = slq_key_year(2030);
    storage_kv c[] = {kv_put(&a, "x")};
    CHECK_ERR(commit(f.s, 0, c, 1), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(commit(f.s, 2, c, 1), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    CHECK_ERR(commit(f.s, 1, c, 1), SLQ_INVALID_ARGUMENT); /* replay of the tip */
    CHECK_ERR(commit(f.s, 3, c, 1), SLQ_INVALID_ARGUMENT); /* gap */
    check_absent(f.s, &a);
    slq_key b3 = slq_key_height(SLQ_KEY_BLOCK, 3);
    check_absent(f.s, &b3);
    CHECK_EQ_INT(tip_height(f.s), 1);
    fixture_close(&f);
}

static void test_commit_without_hash_app_hash_or_block_is_refused(void) {
    fixture f;
    fixture_open(&f);
    uint8_t h[32], a[32];
    fill32(h, 1);
    fill32(a, 2);
    storage_block b = {.height = 1, .hash = h, .app_hash = a, .block = h, .block_len = 1};
    storage_block no_hash = b, no_app = b, no_block = b;
    no_hash.hash = NULL;
    no_app.app_hash = NULL;
    no_block.block = NULL;
    CHECK_ERR(storage_commit_block(f.s, &no_hash), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_commit_block(f.s, &no_app), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_commit_block(f.s, &no_block), SLQ_INVALID_ARGUMENT);
    CHECK_EQ_INT(tip_height(f.s), 0);
    CHECK_ERR(storage_commit_block(f.s, &b), SLQ_OK);
    fixture_close(&f);
}

/* ------------------------------------------------------------------ iteration */

typedef struct {
    uint64_t next;
    bool bad;
} height_walk;

static bool height_walk_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                           size_t val_len) {
    height_walk *w = arg;
    (void) val;
    (void) val_len;
    if (key_len != 9 || key[0] != SLQ_KEY_BLOCK || slq_be64(key + 1) != w->next) w->bad = true;
    w->next++;
    return true;
}

static void test_block_heights_scan_in_numeric_order(void) {
    fixture f;
    fixture_open(&f);
    for (uint64_t h = 1; h <= 300; h++) CHECK_ERR(commit(f.s, h, NULL, 0), SLQ_OK);
    height_walk w = {.next = 1, .bad = false};
    const uint8_t prefix[1] = {SLQ_KEY_BLOCK};
    CHECK_ERR(storage_scan(f.s, prefix, 1, height_walk_cb, &w), SLQ_OK);
    CHECK(!w.bad);
    CHECK_EQ_INT(w.next, 301);
    fixture_close(&f);
}

typedef struct {
    size_t seen;
    size_t stop_after;
} count_walk;

static bool count_walk_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                          size_t val_len) {
    count_walk *w = arg;
    (void) key;
    (void) key_len;
    (void) val;
    (void) val_len;
    w->seen++;
    return w->seen < w->stop_after;
}

static void test_scan_stops_when_the_callback_returns_false(void) {
    fixture f;
    fixture_open(&f);
    for (uint64_t h = 1; h <= 5; h++) CHECK_ERR(commit(f.s, h, NULL, 0), SLQ_OK);
    count_walk w = {.seen = 0, .stop_after = 2};
    const uint8_t prefix[1] = {SLQ_KEY_BLOCK};
    CHECK_ERR(storage_scan(f.s, prefix, 1, count_walk_cb, &w), SLQ_OK);
    CHECK_EQ_INT(w.seen, 2);
    count_walk none = {.seen = 0, .stop_after = 100};
    const uint8_t empty_family[1] = {SLQ_KEY_CLAIM};
    CHECK_ERR(storage_scan(f.s, empty_family, 1, count_walk_cb, &none), SLQ_OK);
    CHECK_EQ_INT(none.seen, 0);
    fixture_close(&f);
}

/* A pin reads the store as it was when pinned (what a report built on a worker thread relies
 * on): from another thread, while later blocks commit; a fresh pin sees them. */
typedef struct {
    storage_pin *pin;
    const char *want_totals;
    size_t want_vouchers;
    unsigned rounds, wrong;
    slq_err err;
} pin_reader;

static void pin_read_once(pin_reader *r) {
    slq_key k = slq_key_year(2024);
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = storage_pin_get(r->pin, k.bytes, k.len, &v, &len);
    count_walk w = {.seen = 0, .stop_after = 1000};
    const uint8_t family[1] = {SLQ_KEY_VOUCHER};
    if (err == SLQ_OK) err = storage_pin_scan(r->pin, family, 1, count_walk_cb, &w);
    if (err != SLQ_OK) r->err = err;
    bool right = err == SLQ_OK && len == strlen(r->want_totals) &&
                 memcmp(v, r->want_totals, len) == 0 && w.seen == r->want_vouchers;
    r->wrong += !right;
    free(v);
}

static void *pin_reader_thread(void *arg) {
    pin_reader *r = arg;
    for (unsigned i = 0; i < r->rounds; i++) pin_read_once(r);
    return NULL;
}

static void test_a_pin_reads_the_store_as_it_was_when_pinned(void) {
    fixture f;
    fixture_open(&f);
    slq_key year = slq_key_year(2024);
    uint8_t id[32];
    fill32(id, 1);
    slq_key v1 = slq_key_bytes(SLQ_KEY_VOUCHER, id, 32);
    storage_kv first[2] = {kv_put(&year, "totals-1"), kv_put(&v1, "voucher-1")};
    CHECK_ERR(commit(f.s, 1, first, 2), SLQ_OK);
    storage_pin *pin = NULL;
    CHECK_ERR(storage_pin_open(f.s, false, &pin), SLQ_OK);
    pin_reader r = {.pin = pin, .want_totals = "totals-1", .want_vouchers = 1, .rounds = 300};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, pin_reader_thread, &r) == 0);
    for (uint64_t h = 2; h <= 40; h++) { /* meanwhile: new totals and vouchers, v1 deleted */
        fill32(id, (uint8_t) h);
        slq_key vh = slq_key_bytes(SLQ_KEY_VOUCHER, id, 32);
        storage_kv next[3] = {kv_put(&year, "totals-n"), kv_put(&vh, "voucher-n"), kv_del(&v1)};
        CHECK_ERR(commit(f.s, h, next, 3), SLQ_OK);
    }
    pthread_join(t, NULL);
    CHECK_ERR(r.err, SLQ_OK);
    CHECK_EQ_INT(r.wrong, 0);
    check_row(f.s, &year, "totals-n");
    uint8_t *v = NULL;
    size_t len = 0;
    CHECK_ERR(storage_pin_get(pin, v1.bytes, v1.len, &v, &len), SLQ_OK); /* deleted later */
    free(v);
    CHECK_ERR(storage_pin_get(pin, v1.bytes, 0, &v, &len), SLQ_INVALID_ARGUMENT);
    storage_pin_close(pin);
    CHECK_ERR(storage_pin_open(f.s, false, &pin), SLQ_OK);
    r = (pin_reader){.pin = pin, .want_totals = "totals-n", .want_vouchers = 39, .rounds = 1};
    pin_read_once(&r);
    CHECK_ERR(r.err, SLQ_OK);
    CHECK_EQ_INT(r.wrong, 0);
    storage_pin_close(pin);
    storage_pin_close(NULL);
    fixture_close(&f);
}

typedef struct {
    uint8_t ids[8][32];
    size_t count;
} id_list;

static bool id_list_cb(void *arg, const uint8_t id[32]) {
    id_list *l = arg;
    if (l->count < 8) memcpy(l->ids[l->count], id, 32);
    l->count++;
    return true;
}

/* Each argument storage refuses, one per row, on a store holding block 1: INVALID_ARGUMENT
 * and nothing written (the tip and the row the valid change would write stay as they were). */
static void test_each_bad_commit_argument_is_refused_and_writes_nothing(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    static uint8_t big[STORAGE_ROW_TEST_BYTES];
    uint8_t h[32], a[32], long_key[SLQ_KEY_BYTES_MAX + 1];
    fill32(h, 1);
    fill32(a, 2);
    memset(long_key, SLQ_KEY_YEAR, sizeof long_key);
    slq_key ok_key = slq_key_year(2031), block_row = slq_key_height(SLQ_KEY_BLOCK, 9);
    slq_key tip_row = slq_key_prefix(SLQ_KEY_TIP), genesis_row = slq_key_prefix(SLQ_KEY_GENESIS);
    const storage_kv good = kv_put(&ok_key, "v");
    const storage_kv bad_changes[] = {
        {NULL, 1, (const uint8_t *) "v", 1},                   /* no key */
        {ok_key.bytes, 0, (const uint8_t *) "v", 1},           /* empty key */
        {long_key, sizeof long_key, (const uint8_t *) "v", 1}, /* key too long */
        kv_put(&block_row, "forged block"),                    /* a block row through the changes */
        kv_put(&tip_row, "forged tip"),
        kv_put(&genesis_row, "forged genesis"),
        {ok_key.bytes, ok_key.len, NULL, 3},         /* a delete with a length */
        {ok_key.bytes, ok_key.len, big, sizeof big}, /* a value over the row limit */
    };
    for (size_t i = 0; i < sizeof bad_changes / sizeof bad_changes[0]; i++) {
        storage_kv c[2] = {good, bad_changes[i]};
        CHECK_ERR(commit(f.s, 2, c, 2), SLQ_INVALID_ARGUMENT);
        CHECK_ERR(storage_init_genesis(f.s, h, 1, a, c, 2), SLQ_INVALID_ARGUMENT);
    }
    storage_block b = {.height = 2, .hash = h, .app_hash = a, .block = h, .block_len = 1};
    storage_block bad_blocks[5] = {b, b, b, b, b};
    bad_blocks[0].block_len = SLQ_BLOCK_BYTES_MAX + 1;
    bad_blocks[1].cert_len = 5; /* a length with no certificate */
    bad_blocks[2].cert = big;
    bad_blocks[2].cert_len = sizeof big;
    bad_blocks[3].changes_count = 1; /* a count with no changes */
    bad_blocks[4].height = UINT64_MAX;
    for (size_t i = 0; i < 5; i++)
        CHECK_ERR(storage_commit_block(f.s, &bad_blocks[i]), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_put_cert(f.s, 1, NULL, 0), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_put_cert(f.s, 1, big, sizeof big), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_put_cert(f.s, 0, h, 1), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_init_genesis(f.s, NULL, 0, a, NULL, 0), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_init_genesis(f.s, h, SLQ_GENESIS_BYTES_MAX + 1, a, NULL, 0),
              SLQ_INVALID_ARGUMENT);
    uint8_t *val = NULL;
    size_t len = 0;
    CHECK_ERR(storage_get(f.s, NULL, 1, &val, &len), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_get(f.s, long_key, sizeof long_key, &val, &len), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_scan(f.s, NULL, 3, count_walk_cb, &len), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_scan(f.s, long_key, sizeof long_key, count_walk_cb, &len),
              SLQ_INVALID_ARGUMENT);
    check_absent(f.s, &ok_key);
    check_absent(f.s, &block_row);
    CHECK_EQ_INT(tip_height(f.s), 1);
    fixture_reopen(&f); /* and nothing of it reached the disk */
    check_absent(f.s, &ok_key);
    CHECK_EQ_INT(tip_height(f.s), 1);
    CHECK_ERR(commit(f.s, 2, &good, 1), SLQ_OK); /* the store still takes a good block */
    check_row(f.s, &ok_key, "v");
    fixture_close(&f);
}

/* Writes one raw row into the closed store at f->dir, as a damaged disk or another program
 * could, then reopens storage. Returns storage_open's result (f->s is NULL unless SLQ_OK). */
static slq_err plant_row_and_reopen(fixture *f, const slq_key *k, const char *value, size_t len) {
    storage_close(f->s);
    f->s = NULL;
    leveldb_options_t *o = leveldb_options_create();
    char *err = NULL;
    leveldb_t *db = leveldb_open(o, f->dir, &err);
    SLQ_ASSERT(err == NULL && db != NULL);
    leveldb_writeoptions_t *w = leveldb_writeoptions_create();
    leveldb_put(db, w, (const char *) k->bytes, k->len, value, len, &err);
    SLQ_ASSERT(err == NULL);
    leveldb_writeoptions_destroy(w);
    leveldb_close(db);
    leveldb_options_destroy(o);
    return storage_open(&f->s, f->dir);
}

static void test_a_tip_row_of_the_wrong_size_is_corrupt_at_open(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    slq_key tip = slq_key_prefix(SLQ_KEY_TIP);
    CHECK_ERR(plant_row_and_reopen(&f, &tip, "short", 5), SLQ_STORAGE_CORRUPT);
    CHECK(f.s == NULL);
    rm_rf(f.dir);
}

static void test_a_hash_index_row_of_the_wrong_size_is_corrupt(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    uint8_t hash[32];
    block_hash(hash, 1);
    slq_key k = slq_key_bytes(SLQ_KEY_BLOCK_HASH, hash, sizeof hash);
    CHECK_ERR(plant_row_and_reopen(&f, &k, "1234567", 7), SLQ_OK);
    uint64_t height = 99;
    CHECK_ERR(storage_height_by_hash(f.s, hash, &height), SLQ_STORAGE_CORRUPT);
    CHECK_EQ_INT(height, 99);
    fixture_close(&f);
}

static void test_holder_vouchers_lists_only_that_holders_ids_in_order(void) {
    fixture f;
    fixture_open(&f);
    uint8_t alice[20], bob[20], id1[32], id2[32], id3[32];
    fill20(alice, 1);
    fill20(bob, 2);
    fill32(id1, 0x10);
    fill32(id2, 0x20);
    fill32(id3, 0x30);
    slq_key a3 = slq_key_holding(alice, id3), a1 = slq_key_holding(alice, id1);
    slq_key b2 = slq_key_holding(bob, id2);
    storage_kv c[] = {kv_put(&a3, ""), kv_put(&b2, ""), kv_put(&a1, "")};
    CHECK_ERR(commit(f.s, 1, c, 3), SLQ_OK);
    id_list l = {.count = 0};
    CHECK_ERR(storage_holder_vouchers(f.s, alice, id_list_cb, &l), SLQ_OK);
    CHECK_EQ_INT(l.count, 2);
    CHECK_MEM(l.ids[0], id1, 32);
    CHECK_MEM(l.ids[1], id3, 32);
    id_list lb = {.count = 0};
    CHECK_ERR(storage_holder_vouchers(f.s, bob, id_list_cb, &lb), SLQ_OK);
    CHECK_EQ_INT(lb.count, 1);
    CHECK_MEM(lb.ids[0], id2, 32);
    /* through a pin, the same; a holding added after pinning is not seen */
    storage_pin *pin = NULL;
    CHECK_ERR(storage_pin_open(f.s, true, &pin), SLQ_OK);
    uint8_t id4[32];
    fill32(id4, 0x05);
    slq_key a4 = slq_key_holding(alice, id4);
    storage_kv later[] = {kv_put(&a4, "")};
    CHECK_ERR(commit(f.s, 2, later, 1), SLQ_OK);
    id_list lp = {.count = 0};
    CHECK_ERR(storage_pin_holder_vouchers(pin, alice, id_list_cb, &lp), SLQ_OK);
    CHECK_EQ_INT(lp.count, 2);
    CHECK_MEM(lp.ids[0], id1, 32);
    CHECK_MEM(lp.ids[1], id3, 32);
    storage_pin_close(pin);
    id_list now = {.count = 0};
    CHECK_ERR(storage_holder_vouchers(f.s, alice, id_list_cb, &now), SLQ_OK);
    CHECK_EQ_INT(now.count, 3);
    fixture_close(&f);
}

static void test_deleted_holding_disappears_from_holder_vouchers(void) {
    fixture f;
    fixture_open(&f);
    uint8_t alice[20], id1[32], id2[32];
    fill20(alice, 1);
    fill32(id1, 0x10);
    fill32(id2, 0x20);
    slq_key k1 = slq_key_holding(alice, id1), k2 = slq_key_holding(alice, id2);
    storage_kv c1[] = {kv_put(&k1, ""), kv_put(&k2, "")};
    CHECK_ERR(commit(f.s, 1, c1, 2), SLQ_OK);
    storage_kv c2[] = {kv_del(&k1)};
    CHECK_ERR(commit(f.s, 2, c2, 1), SLQ_OK);
    id_list l = {.count = 0};
    CHECK_ERR(storage_holder_vouchers(f.s, alice, id_list_cb, &l), SLQ_OK);
    CHECK_EQ_INT(l.count, 1);
    CHECK_MEM(l.ids[0], id2, 32);
    fixture_close(&f);
}

static void test_holder_vouchers_with_a_short_holding_key_is_corrupt(void) {
    fixture f;
    fixture_open(&f);
    uint8_t alice[20];
    fill20(alice, 1);
    slq_key bad = slq_key_bytes(SLQ_KEY_HOLDING, alice, 20);
    slq_key_raw(&bad, (const uint8_t *) "short", 5);
    storage_kv c[] = {kv_put(&bad, "")};
    CHECK_ERR(commit(f.s, 1, c, 1), SLQ_OK);
    id_list l = {.count = 0};
    CHECK_ERR(storage_holder_vouchers(f.s, alice, id_list_cb, &l), SLQ_STORAGE_CORRUPT);
    CHECK_EQ_INT(l.count, 0);
    fixture_close(&f);
}

/* ------------------------------------------------------------------ typed reads */

static void test_height_by_hash_finds_each_committed_block(void) {
    fixture f;
    fixture_open(&f);
    for (uint64_t h = 1; h <= 3; h++) CHECK_ERR(commit(f.s, h, NULL, 0), SLQ_OK);
    for (uint64_t h = 1; h <= 3; h++) {
        uint8_t hash[32];
        block_hash(hash, h);
        uint64_t got = 0;
        CHECK_ERR(storage_height_by_hash(f.s, hash, &got), SLQ_OK);
        CHECK_EQ_INT(got, h);
    }
    uint8_t unknown[32];
    fill32(unknown, 0xee);
    uint64_t got = 0;
    CHECK_ERR(storage_height_by_hash(f.s, unknown, &got), SLQ_NOT_FOUND);
    fixture_close(&f);
}

static void test_cert_by_height_returns_the_committed_cert(void) {
    fixture f;
    fixture_open(&f);
    uint8_t h[32], a[32];
    block_hash(h, 1);
    fill32(a, 1);
    storage_block b = {.height = 1,
                       .hash = h,
                       .app_hash = a,
                       .block = (const uint8_t *) "blk",
                       .block_len = 3,
                       .cert = (const uint8_t *) "certificate",
                       .cert_len = 11};
    CHECK_ERR(storage_commit_block(f.s, &b), SLQ_OK);
    uint8_t *c = NULL;
    size_t len = 0;
    CHECK_ERR(storage_cert_by_height(f.s, 1, &c, &len), SLQ_OK);
    CHECK_EQ_INT(len, 11);
    if (c != NULL && len == 11) CHECK_MEM(c, "certificate", 11);
    free(c);
    uint8_t *blk = NULL;
    CHECK_ERR(storage_block_by_height(f.s, 1, &blk, &len), SLQ_OK);
    CHECK_EQ_INT(len, 3);
    if (blk != NULL && len == 3) CHECK_MEM(blk, "blk", 3);
    free(blk);
    uint8_t *none = NULL;
    CHECK_ERR(storage_cert_by_height(f.s, 2, &none, &len), SLQ_NOT_FOUND);
    CHECK_ERR(storage_block_by_height(f.s, 2, &none, &len), SLQ_NOT_FOUND);
    fixture_close(&f);
}

static void test_put_cert_replaces_the_cert(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    CHECK_ERR(storage_put_cert(f.s, 1, (const uint8_t *) "first", 5), SLQ_OK);
    CHECK_ERR(storage_put_cert(f.s, 1, (const uint8_t *) "second", 6), SLQ_OK);
    fixture_reopen(&f);
    slq_key ck = slq_key_height(SLQ_KEY_CERT, 1);
    check_row(f.s, &ck, "second");
    fixture_close(&f);
}

static void test_put_cert_of_an_uncommitted_height_is_refused(void) {
    fixture f;
    fixture_open(&f);
    CHECK_ERR(storage_put_cert(f.s, 1, (const uint8_t *) "c", 1), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(commit(f.s, 1, NULL, 0), SLQ_OK);
    CHECK_ERR(storage_put_cert(f.s, 0, (const uint8_t *) "c", 1), SLQ_INVALID_ARGUMENT);
    CHECK_ERR(storage_put_cert(f.s, 2, (const uint8_t *) "c", 1), SLQ_INVALID_ARGUMENT);
    slq_key c2 = slq_key_height(SLQ_KEY_CERT, 2);
    check_absent(f.s, &c2);
    fixture_close(&f);
}

static void test_typed_reads_find_their_family_rows(void) {
    fixture f;
    fixture_open(&f);
    uint8_t addr[20], vid[32], cid[32];
    fill20(addr, 4);
    fill32(vid, 0x40);
    fill32(cid, 0x50);
    slq_key ka = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, 20);
    slq_key kv = slq_key_bytes(SLQ_KEY_VOUCHER, vid, 32);
    slq_key ky = slq_key_year(2026);
    slq_key kc = slq_key_bytes(SLQ_KEY_CLAIM, cid, 32);
    storage_kv c[] = {kv_put(&ka, "acct"), kv_put(&kv, "vouch"), kv_put(&ky, "year"),
                      kv_put(&kc, "claim")};
    CHECK_ERR(commit(f.s, 1, c, 4), SLQ_OK);
    uint8_t *v = NULL;
    size_t len = 0;
    CHECK_ERR(storage_account(f.s, addr, &v, &len), SLQ_OK);
    CHECK(len == 4 && v != NULL && memcmp(v, "acct", 4) == 0);
    free(v);
    CHECK_ERR(storage_voucher(f.s, vid, &v, &len), SLQ_OK);
    CHECK(len == 5 && v != NULL && memcmp(v, "vouch", 5) == 0);
    free(v);
    CHECK_ERR(storage_year_totals(f.s, 2026, &v, &len), SLQ_OK);
    CHECK(len == 4 && v != NULL && memcmp(v, "year", 4) == 0);
    free(v);
    CHECK_ERR(storage_claim(f.s, cid, &v, &len), SLQ_OK);
    CHECK(len == 5 && v != NULL && memcmp(v, "claim", 5) == 0);
    free(v);
    CHECK_ERR(storage_year_totals(f.s, 2027, &v, &len), SLQ_NOT_FOUND);
    CHECK_ERR(storage_voucher(f.s, cid, &v, &len), SLQ_NOT_FOUND);
    fixture_close(&f);
}

static void test_empty_value_row_reads_back_as_empty(void) {
    fixture f;
    fixture_open(&f);
    slq_key k = slq_key_year(1999);
    storage_kv c[] = {kv_put(&k, "")};
    CHECK_ERR(commit(f.s, 1, c, 1), SLQ_OK);
    uint8_t *v = NULL;
    size_t len = 99;
    CHECK_ERR(storage_get(f.s, k.bytes, k.len, &v, &len), SLQ_OK);
    CHECK(v != NULL);
    CHECK_EQ_INT(len, 0);
    free(v);
    fixture_close(&f);
}

/* ------------------------------------------------------------------ tx by hash */

/* Hand-encoded Block {header = "hdr", txs = [tx0..], last_commit = "lc"}. */
static size_t encode_block(uint8_t *out, const char *const *txs, size_t count) {
    size_t n = 0;
    out[n++] = 0x0a; /* field 1, length-delimited */
    out[n++] = 3;
    memcpy(out + n, "hdr", 3);
    n += 3;
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(txs[i]);
        out[n++] = 0x12; /* field 2, length-delimited */
        put_varint(out, &n, len);
        memcpy(out + n, txs[i], len);
        n += len;
    }
    out[n++] = 0x1a; /* field 3, length-delimited */
    out[n++] = 2;
    memcpy(out + n, "lc", 2);
    n += 2;
    return n;
}

/* A 'x' row: tx hash -> the given TxLocation bytes. */
static storage_kv tx_row(slq_key *k, const uint8_t hash[32], const uint8_t *loc, size_t len) {
    *k = slq_key_bytes(SLQ_KEY_TX, hash, 32);
    storage_kv kv = {k->bytes, k->len, loc, len};
    return kv;
}

static void check_tx(storage *s, const uint8_t hash[32], uint64_t height, uint32_t index,
                     const char *want) {
    uint64_t h = 0;
    uint32_t i = 0;
    uint8_t *tx = NULL;
    size_t len = 0;
    CHECK_ERR(storage_tx_by_hash(s, hash, &h, &i, &tx, &len), SLQ_OK);
    CHECK_EQ_INT(h, height);
    CHECK_EQ_INT(i, index);
    CHECK_EQ_INT(len, strlen(want));
    if (tx != NULL && len == strlen(want)) CHECK_MEM(tx, want, len);
    free(tx);
}

static void test_tx_by_hash_returns_the_located_tx_bytes(void) {
    fixture f;
    fixture_open(&f);
    /* Heights 1..129 so the location's height needs a two-byte varint (129 = 0x81 0x01). */
    for (uint64_t h = 1; h <= 128; h++) CHECK_ERR(commit(f.s, h, NULL, 0), SLQ_OK);
    char big[200];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0'; /* 199 bytes: a two-byte length varint */
    const char *txs[] = {"tx-zero", "tx-one", big};
    uint8_t block[512];
    size_t block_len = encode_block(block, txs, 3);
    uint8_t h0[32], h1[32], h2[32];
    fill32(h0, 0xa0);
    fill32(h1, 0xa1);
    fill32(h2, 0xa2);
    static const uint8_t loc0[] = {0x08, 0x81, 0x01};             /* index 0: omitted */
    static const uint8_t loc1[] = {0x08, 0x81, 0x01, 0x10, 0x01}; /* height 129, index 1 */
    static const uint8_t loc2[] = {0x08, 0x81, 0x01, 0x10, 0x02};
    slq_key k0, k1, k2;
    storage_kv c[] = {tx_row(&k0, h0, loc0, sizeof loc0), tx_row(&k1, h1, loc1, sizeof loc1),
                      tx_row(&k2, h2, loc2, sizeof loc2)};
    CHECK_ERR(commit_bytes(f.s, 129, block, block_len, c, 3), SLQ_OK);
    check_tx(f.s, h0, 129, 0, "tx-zero");
    check_tx(f.s, h1, 129, 1, "tx-one");
    check_tx(f.s, h2, 129, 2, big);
    uint8_t unknown[32], *tx = NULL;
    fill32(unknown, 0xcc);
    uint64_t h = 0;
    uint32_t i = 0;
    size_t len = 0;
    CHECK_ERR(storage_tx_by_hash(f.s, unknown, &h, &i, &tx, &len), SLQ_NOT_FOUND);
    fixture_close(&f);
}

static void test_tx_by_hash_with_a_malformed_location_is_corrupt(void) {
    static const struct {
        uint8_t bytes[12];
        size_t len;
        const char *why;
    } rows[] = {
        {{0}, 0, "empty: height 0"},
        {{0x08}, 1, "truncated height"},
        {{0x08, 0x81}, 2, "truncated varint"},
        {{0x08, 0x81, 0x00}, 3, "overlong varint"},
        {{0x08, 0x01, 0x18, 0x01}, 4, "unknown field 3"},
        {{0x0a, 0x01, 0x01}, 3, "height with length-delimited wire type"},
        {{0x10, 0x00, 0x08, 0x01}, 4, "fields out of order"},
        {{0x08, 0x01, 0x08, 0x01}, 4, "height twice"},
        {{0x08, 0x01, 0x10, 0x80, 0x80, 0x80, 0x80, 0x10}, 8, "index above u32"},
        {{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 11, "u64 overflow"},
        {{0x08, 0x7f}, 2, "height of a missing block"},
        {{0x08, 0x01, 0x10, 0x05}, 4, "index past the block's txs"},
        {{0x00, 0x01}, 2, "field 0"},
    };
    fixture f;
    fixture_open(&f);
    const char *txs[] = {"only"};
    uint8_t block[64];
    size_t block_len = encode_block(block, txs, 1);
    CHECK_ERR(commit_bytes(f.s, 1, block, block_len, NULL, 0), SLQ_OK);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        uint8_t hash[32];
        fill32(hash, (uint8_t) (0x40 + r));
        slq_key k;
        storage_kv c = tx_row(&k, hash, rows[r].bytes, rows[r].len);
        CHECK_ERR(commit(f.s, 2 + r, &c, 1), SLQ_OK);
        uint64_t h = 0;
        uint32_t i = 0;
        uint8_t *tx = NULL;
        size_t len = 0;
        slq_err e = storage_tx_by_hash(f.s, hash, &h, &i, &tx, &len);
        if (e != SLQ_STORAGE_CORRUPT) fprintf(stderr, "  row: %s\n", rows[r].why);
        CHECK_ERR(e, SLQ_STORAGE_CORRUPT);
        CHECK(tx == NULL);
    }
    fixture_close(&f);
}

static void test_tx_by_hash_with_a_malformed_block_is_corrupt(void) {
    static const struct {
        uint8_t bytes[12];
        size_t len;
        const char *why;
    } rows[] = {
        {{0x12, 0x05, 'a'}, 3, "tx runs past the end"},
        {{0x12}, 1, "truncated length"},
        {{0x12, 0x80}, 2, "truncated length varint"},
        {{0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 11, "huge length"},
        {{0x20, 0x01}, 2, "unknown field 4"},
        {{0x10, 0x01}, 2, "txs with varint wire type"},
        {{0x12, 0x01, 'a', 0x0a, 0x00}, 5, "header after txs"},
        {{0x0a, 0x00, 0x0a, 0x00, 0x12, 0x01, 'a'}, 7, "header twice"},
        {{0x12, 0x01, 'a', 0x1a, 0x00, 0x1a, 0x00}, 7, "last_commit twice"},
        {{0x12, 0x01, 'a', 0x1a, 0x05}, 5, "last_commit runs past the end"},
        {{0x0a, 0x00}, 2, "no txs at all"},
        {{0}, 0, "empty block"},
    };
    fixture f;
    fixture_open(&f);
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        uint8_t hash[32];
        fill32(hash, (uint8_t) (0x80 + r));
        uint8_t loc[4] = {0x08};
        size_t loc_len = 1;
        put_varint(loc, &loc_len, 1 + r); /* index 0: omitted */
        slq_key k;
        storage_kv c = tx_row(&k, hash, loc, loc_len);
        CHECK_ERR(commit_bytes(f.s, 1 + r, rows[r].bytes, rows[r].len, &c, 1), SLQ_OK);
        uint64_t h = 0;
        uint32_t i = 0;
        uint8_t *tx = NULL;
        size_t len = 0;
        slq_err e = storage_tx_by_hash(f.s, hash, &h, &i, &tx, &len);
        if (e != SLQ_STORAGE_CORRUPT) fprintf(stderr, "  row: %s\n", rows[r].why);
        CHECK_ERR(e, SLQ_STORAGE_CORRUPT);
        CHECK(tx == NULL);
    }
    fixture_close(&f);
}

TEST_MAIN("storage", TEST(test_tip_is_zero_when_nothing_is_stored),
          TEST(test_every_write_is_one_synced_batch),
          TEST(test_open_of_a_locked_directory_fails_with_storage_io),
          TEST(test_close_of_null_is_a_no_op),
          TEST(test_genesis_sets_tip_height_zero_with_its_app_hash),
          TEST(test_genesis_twice_is_refused), TEST(test_genesis_after_blocks_is_refused),
          TEST(test_reopen_after_close_keeps_everything),
          TEST(test_commit_with_a_bad_change_after_valid_ones_writes_nothing),
          TEST(test_genesis_with_a_bad_change_writes_nothing),
          TEST(test_injected_write_failure_leaves_nothing),
          TEST(test_injected_failure_of_put_cert_keeps_the_old_cert),
          TEST(test_fail_hook_zero_disables_it), TEST(test_commit_at_a_wrong_height_is_refused),
          TEST(test_commit_without_hash_app_hash_or_block_is_refused),
          TEST(test_each_bad_commit_argument_is_refused_and_writes_nothing),
          TEST(test_a_tip_row_of_the_wrong_size_is_corrupt_at_open),
          TEST(test_a_hash_index_row_of_the_wrong_size_is_corrupt),
          TEST(test_block_heights_scan_in_numeric_order),
          TEST(test_a_pin_reads_the_store_as_it_was_when_pinned),
          TEST(test_scan_stops_when_the_callback_returns_false),
          TEST(test_holder_vouchers_lists_only_that_holders_ids_in_order),
          TEST(test_deleted_holding_disappears_from_holder_vouchers),
          TEST(test_holder_vouchers_with_a_short_holding_key_is_corrupt),
          TEST(test_height_by_hash_finds_each_committed_block),
          TEST(test_cert_by_height_returns_the_committed_cert),
          TEST(test_put_cert_replaces_the_cert),
          TEST(test_put_cert_of_an_uncommitted_height_is_refused),
          TEST(test_typed_reads_find_their_family_rows),
          TEST(test_empty_value_row_reads_back_as_empty),
          TEST(test_tx_by_hash_returns_the_located_tx_bytes),
          TEST(test_tx_by_hash_with_a_malformed_location_is_corrupt),
          TEST(test_tx_by_hash_with_a_malformed_block_is_corrupt))
