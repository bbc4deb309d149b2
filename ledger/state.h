/* state.h: the ledger's state view: an in-memory overlay of key -> bytes rows on top of
 * an optional base view (the node's LevelDB, or nothing in tests and simulation).
 *
 * Pure: no I/O of its own; reads that miss the overlay go to base->get. Writes stay in
 * the overlay until the caller collects them (ledger_state_changes) and commits them
 * with the block. A journal gives transaction rollback: ledger_state_begin() marks a
 * point; ledger_state_rollback() undoes every write since; ledger_state_commit() keeps
 * them. Single-threaded. */
#ifndef SLQ_LEDGER_STATE_H
#define SLQ_LEDGER_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

/* A read-only base. get returns SLQ_OK with *val malloc'd (the overlay takes it and frees
 * it), SLQ_NOT_FOUND, or another error (e.g. SLQ_STORAGE_IO) that aborts the operation. */
typedef struct {
    void *ctx;
    slq_err (*get)(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val, size_t *val_len);
} ledger_view;

/* One pending change; value == NULL is a delete. Pointers borrowed from the state. */
typedef struct {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} ledger_change;

typedef struct ledger_state ledger_state; /* opaque */

/* base may be NULL (a pure in-memory state); it is borrowed and must outlive the state. */
SLQ_MUST_USE slq_err ledger_state_create(ledger_state **out, const ledger_view *base);
void ledger_state_destroy(ledger_state *st); /* NULL is a no-op */

/* Looks a key up. On SLQ_OK *val points into the state (valid until the next write of that
 * key, rollback or reset) and *val_len is set; SLQ_NOT_FOUND if absent or deleted. */
SLQ_MUST_USE slq_err ledger_state_get(ledger_state *st, const uint8_t *key, size_t key_len,
                                      const uint8_t **val, size_t *val_len);
/* Writes a copy of val[0..len) (len may be 0). */
SLQ_MUST_USE slq_err ledger_state_put(ledger_state *st, const uint8_t *key, size_t key_len,
                                      const uint8_t *val, size_t len);
/* Writes val, taking ownership of the malloc'd buffer (freed even on failure). */
SLQ_MUST_USE slq_err ledger_state_put_owned(ledger_state *st, const uint8_t *key, size_t key_len,
                                            uint8_t *val, size_t len);
SLQ_MUST_USE slq_err ledger_state_del(ledger_state *st, const uint8_t *key, size_t key_len);

/* Journal: one level. begin() while a journal is open is a bug. */
void ledger_state_begin(ledger_state *st);
void ledger_state_commit(ledger_state *st);
void ledger_state_rollback(ledger_state *st);

/* The writes since creation or the last reset, sorted by key. On SLQ_OK *out is a malloc'd
 * array (free() it; its pointers are borrowed from the state until the next write). */
SLQ_MUST_USE slq_err ledger_state_changes(ledger_state *st, ledger_change **out, size_t *count);
/* Forgets pending writes and cached reads (after the caller committed them to base). */
void ledger_state_reset(ledger_state *st);

/* Calls cb for every present row in the overlay whose key starts with prefix (unordered),
 * until cb returns false. Only meaningful for a state without base (tests, simulation). */
typedef bool (*ledger_state_cb)(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                                size_t val_len);
void ledger_state_foreach(ledger_state *st, const uint8_t *prefix, size_t prefix_len,
                          ledger_state_cb cb, void *arg);

#endif
