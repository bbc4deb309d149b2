/* storage.h: blocks and state rows on LevelDB (DESIGN.md §6).
 *
 * Storage knows keys and bytes, not rules: ledger/ decides what the state rows are;
 * storage writes a block, its certificate, its state changes and its indexes in ONE
 * synced WriteBatch, so a crash leaves either the whole block or none of it. Key layout:
 * slq/keys.h. Call from one thread at a time (the node's loop thread); LevelDB itself is
 * thread-safe, but the handle's scratch state is not. */
#ifndef SLQ_STORAGE_H
#define SLQ_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

typedef struct storage storage; /* opaque */

/* One state change: value == NULL deletes the key. */
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* NULL: delete */
    size_t value_len;
} storage_kv;

/* A block to commit. All pointers are borrowed for the call. */
typedef struct {
    uint64_t height;         /* must be tip height + 1 */
    const uint8_t *hash;     /* 32 bytes: hash of the header bytes */
    const uint8_t *app_hash; /* 32 bytes: state digest after this block */
    const uint8_t *block;    /* encoded Block */
    size_t block_len;
    const uint8_t *cert; /* encoded Certificate of this block; may be NULL */
    size_t cert_len;
    const storage_kv *changes; /* state rows written or deleted by this block */
    size_t changes_count;
} storage_block;

/* The tip: height 0 means no block yet (genesis state only). */
typedef struct {
    uint64_t height;
    uint8_t hash[32];
    uint8_t app_hash[32];
} storage_tip;

/* Opens (creating if missing) the LevelDB in `dir`. On SLQ_OK *out is yours:
 * storage_close() it. SLQ_STORAGE_IO with a log line on failure (e.g. locked). */
SLQ_MUST_USE slq_err storage_open(storage **out, const char *dir);
/* Closes the database. NULL is a no-op. */
void storage_close(storage *s);

/* Writes genesis bytes and the genesis state rows (height 0) in one synced batch.
 * Returns SLQ_INVALID_ARGUMENT if a genesis is already stored. */
SLQ_MUST_USE slq_err storage_init_genesis(storage *s, const uint8_t *genesis, size_t len,
                                          const uint8_t app_hash[32], const storage_kv *changes,
                                          size_t changes_count);
/* Commits a block atomically with sync: block, certificate, hash index, tip and every
 * change. Returns SLQ_INVALID_ARGUMENT if b->height != tip + 1 (nothing written). */
SLQ_MUST_USE slq_err storage_commit_block(storage *s, const storage_block *b);
/* Stores (or replaces) the certificate of an already committed height, in its own synced
 * write: used for the tip's "seen" commit that arrives after the block. */
SLQ_MUST_USE slq_err storage_put_cert(storage *s, uint64_t height, const uint8_t *cert, size_t len);

/* Reads the tip. SLQ_OK with height 0 when only genesis (or nothing) is stored. (Not named
 * storage_tip: that is the type, and C types and functions share one namespace.) */
SLQ_MUST_USE slq_err storage_get_tip(storage *s, storage_tip *out);

/* Generic read of one row. On SLQ_OK *val is malloc'd and yours (free()); *val_len set.
 * SLQ_NOT_FOUND if absent. */
SLQ_MUST_USE slq_err storage_get(storage *s, const uint8_t *key, size_t key_len, uint8_t **val,
                                 size_t *val_len);

/* Typed reads, each malloc'ing *out (free()) and returning SLQ_NOT_FOUND when absent. */
SLQ_MUST_USE slq_err storage_genesis(storage *s, uint8_t **out, size_t *len);
SLQ_MUST_USE slq_err storage_block_by_height(storage *s, uint64_t height, uint8_t **out,
                                             size_t *len);
SLQ_MUST_USE slq_err storage_cert_by_height(storage *s, uint64_t height, uint8_t **out,
                                            size_t *len);
SLQ_MUST_USE slq_err storage_height_by_hash(storage *s, const uint8_t hash[32], uint64_t *height);
/* Finds a committed tx: its block height, index and encoded SignedTx (*tx malloc'd). */
SLQ_MUST_USE slq_err storage_tx_by_hash(storage *s, const uint8_t hash[32], uint64_t *height,
                                        uint32_t *index, uint8_t **tx, size_t *tx_len);
/* Encoded Account / Voucher / YearTotals (city-wide) / Claim rows. */
SLQ_MUST_USE slq_err storage_account(storage *s, const uint8_t addr[20], uint8_t **out,
                                     size_t *len);
SLQ_MUST_USE slq_err storage_voucher(storage *s, const uint8_t id[32], uint8_t **out, size_t *len);
SLQ_MUST_USE slq_err storage_year_totals(storage *s, uint32_t year, uint8_t **out, size_t *len);
SLQ_MUST_USE slq_err storage_claim(storage *s, const uint8_t id[32], uint8_t **out, size_t *len);

/* Calls cb for each voucher id the holder holds (active, not yet split, redeemed or
 * revoked), in id order, until cb returns false. */
typedef bool (*storage_id_cb)(void *arg, const uint8_t id[32]);
SLQ_MUST_USE slq_err storage_holder_vouchers(storage *s, const uint8_t holder[20], storage_id_cb cb,
                                             void *arg);

/* Calls cb for every row whose key starts with prefix, in key order, until cb returns
 * false. Key and value are valid only during the call. */
typedef bool (*storage_row_cb)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                               size_t val_len);
SLQ_MUST_USE slq_err storage_scan(storage *s, const uint8_t *prefix, size_t prefix_len,
                                  storage_row_cb cb, void *arg);

/* A pin: a consistent read view of the store as it is when pinned (a LevelDB snapshot);
 * blocks committed later are not seen through it. Reads through a pin may run on any thread,
 * concurrently with writes on the loop thread; open and close pins on the loop thread, and
 * close every pin before storage_close. */
typedef struct storage_pin storage_pin; /* opaque */
/* fill_cache: whether what is read through the pin enters LevelDB's block cache (false for a
 * scan of everything, which would evict the rows blocks use). On SLQ_OK *out is the
 * caller's: release it with storage_pin_close. */
SLQ_MUST_USE slq_err storage_pin_open(storage *s, bool fill_cache, storage_pin **out);
void storage_pin_close(storage_pin *p); /* NULL is a no-op */
/* As storage_get, storage_scan and storage_holder_vouchers, through the pin. */
SLQ_MUST_USE slq_err storage_pin_get(storage_pin *p, const uint8_t *key, size_t key_len,
                                     uint8_t **val, size_t *val_len);
SLQ_MUST_USE slq_err storage_pin_scan(storage_pin *p, const uint8_t *prefix, size_t prefix_len,
                                      storage_row_cb cb, void *arg);
SLQ_MUST_USE slq_err storage_pin_holder_vouchers(storage_pin *p, const uint8_t holder[20],
                                                 storage_id_cb cb, void *arg);

/* Test hook: makes the next `n`th write fail with SLQ_STORAGE_IO before anything reaches
 * LevelDB (0 disables). Lets tests check that a failed batch leaves nothing. */
void storage_fail_write_after(storage *s, unsigned n);

#endif
