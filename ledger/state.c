/* state.c: the overlay behind state.h: an open-addressing hash table (linear probing,
 * never shrinks, no removals: a delete is a dirty tombstone) plus an undo journal.
 *
 * An entry is in one of three conditions: unloaded (a slot that only keeps a probe chain
 * intact after a rollback: reads go to base), clean (a cached read of base, present or
 * absent) or dirty (written since the last reset). Only dirty entries are changes. */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/keys.h"

typedef struct {
    uint64_t hash; /* of the key: compared before the key, reused when the table grows */
    uint8_t key[SLQ_KEY_BYTES_MAX];
    uint8_t key_len; /* 0: empty slot */
    bool loaded;     /* present/val reflect the row (clean or dirty) */
    bool dirty;
    bool present;
    uint8_t *val;
    size_t val_len;
} entry;

typedef struct {
    size_t slot; /* stable: slots never move while a journal is open (no growth then) */
    bool loaded, dirty, present;
    uint8_t *val;
    size_t val_len;
} undo;

struct ledger_state {
    const ledger_view *base;
    entry *slots;
    size_t cap; /* power of two */
    size_t used;
    undo *journal;
    size_t journal_len, journal_cap;
    bool in_tx;
};

/* Eight bytes at a time (keys are 5 to 64 bytes, mostly hashes already), then a final mix
 * so that the low bits, which pick the slot, depend on every byte. */
static uint64_t key_hash(const uint8_t *key, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < n; k++) tail |= (uint64_t) key[i + k] << (8 * k);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

slq_err ledger_state_create(ledger_state **out, const ledger_view *base) {
    ledger_state *st = calloc(1, sizeof *st);
    if (st == NULL) return SLQ_NO_MEMORY;
    st->cap = 1024;
    st->slots = calloc(st->cap, sizeof *st->slots);
    if (st->slots == NULL) {
        free(st);
        return SLQ_NO_MEMORY;
    }
    st->base = base;
    *out = st;
    return SLQ_OK;
}

static void free_values(ledger_state *st) {
    for (size_t i = 0; i < st->cap; i++) {
        free(st->slots[i].val);
        st->slots[i].val = NULL;
    }
}

void ledger_state_destroy(ledger_state *st) {
    if (st == NULL) return;
    free_values(st);
    for (size_t i = 0; i < st->journal_len; i++) free(st->journal[i].val);
    free(st->journal);
    free(st->slots);
    free(st);
}

static size_t probe(const entry *slots, size_t cap, uint64_t hash, const uint8_t *key,
                    size_t key_len) {
    size_t i = (size_t) hash & (cap - 1);
    while (slots[i].key_len != 0 && (slots[i].hash != hash || slots[i].key_len != key_len ||
                                     memcmp(slots[i].key, key, key_len) != 0)) {
        i = (i + 1) & (cap - 1);
    }
    return i;
}

static slq_err grow(ledger_state *st) {
    size_t cap = st->cap * 2;
    entry *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return SLQ_NO_MEMORY;
    for (size_t i = 0; i < st->cap; i++) {
        if (st->slots[i].key_len == 0) continue;
        const entry *e = &st->slots[i];
        slots[probe(slots, cap, e->hash, e->key, e->key_len)] = *e;
    }
    /* Journal slots refer to the old table: remap them. */
    for (size_t k = 0; k < st->journal_len; k++) {
        const entry *e = &st->slots[st->journal[k].slot];
        st->journal[k].slot = probe(slots, cap, e->hash, e->key, e->key_len);
    }
    free(st->slots);
    st->slots = slots;
    st->cap = cap;
    return SLQ_OK;
}

/* Finds or creates the slot of key; *slot set. */
static slq_err slot_for(ledger_state *st, const uint8_t *key, size_t key_len, size_t *slot) {
    if (key_len == 0 || key_len > SLQ_KEY_BYTES_MAX) return SLQ_INVALID_ARGUMENT;
    if ((st->used + 1) * 2 > st->cap) { /* at most half full: short probe chains */
        slq_err e = grow(st);
        if (e != SLQ_OK) return e;
    }
    uint64_t hash = key_hash(key, key_len);
    size_t i = probe(st->slots, st->cap, hash, key, key_len);
    if (st->slots[i].key_len == 0) {
        st->slots[i].hash = hash;
        memcpy(st->slots[i].key, key, key_len);
        st->slots[i].key_len = (uint8_t) key_len;
        st->used++;
    }
    *slot = i;
    return SLQ_OK;
}

static slq_err load(ledger_state *st, entry *e) {
    SLQ_ASSERT(!e->loaded);
    e->loaded = true;
    e->present = false;
    if (st->base == NULL) return SLQ_OK;
    uint8_t *val = NULL;
    size_t len = 0;
    slq_err err = st->base->get(st->base->ctx, e->key, e->key_len, &val, &len);
    if (err == SLQ_NOT_FOUND) return SLQ_OK;
    if (err != SLQ_OK) {
        e->loaded = false;
        return err;
    }
    e->present = true;
    e->val = val;
    e->val_len = len;
    return SLQ_OK;
}

slq_err ledger_state_get(ledger_state *st, const uint8_t *key, size_t key_len, const uint8_t **val,
                         size_t *val_len) {
    size_t i;
    slq_err err = slot_for(st, key, key_len, &i);
    if (err != SLQ_OK) return err;
    entry *e = &st->slots[i];
    if (!e->loaded) {
        err = load(st, e);
        if (err != SLQ_OK) return err;
    }
    if (!e->present) return SLQ_NOT_FOUND;
    *val = e->val;
    *val_len = e->val_len;
    return SLQ_OK;
}

static slq_err journal_push(ledger_state *st, size_t slot) {
    if (st->journal_len == st->journal_cap) {
        size_t cap = st->journal_cap == 0 ? 32 : st->journal_cap * 2;
        undo *j = realloc(st->journal, cap * sizeof *j);
        if (j == NULL) return SLQ_NO_MEMORY;
        st->journal = j;
        st->journal_cap = cap;
    }
    const entry *e = &st->slots[slot];
    st->journal[st->journal_len++] = (undo){.slot = slot,
                                            .loaded = e->loaded,
                                            .dirty = e->dirty,
                                            .present = e->present,
                                            .val = e->val,
                                            .val_len = e->val_len};
    return SLQ_OK;
}

/* Replaces the entry's row with (present, val); takes val. */
static slq_err write_row(ledger_state *st, const uint8_t *key, size_t key_len, bool present,
                         uint8_t *val, size_t len) {
    size_t i;
    slq_err err = slot_for(st, key, key_len, &i);
    if (err == SLQ_OK && st->in_tx) err = journal_push(st, i);
    if (err != SLQ_OK) {
        free(val);
        return err;
    }
    entry *e = &st->slots[i];
    if (!st->in_tx) free(e->val); /* in a transaction the journal owns the old value */
    e->loaded = true;
    e->dirty = true;
    e->present = present;
    e->val = val;
    e->val_len = len;
    return SLQ_OK;
}

slq_err ledger_state_put_owned(ledger_state *st, const uint8_t *key, size_t key_len, uint8_t *val,
                               size_t len) {
    return write_row(st, key, key_len, true, val, len);
}

slq_err ledger_state_put(ledger_state *st, const uint8_t *key, size_t key_len, const uint8_t *val,
                         size_t len) {
    uint8_t *copy = malloc(len == 0 ? 1 : len);
    if (copy == NULL) return SLQ_NO_MEMORY;
    if (len > 0) memcpy(copy, val, len);
    return write_row(st, key, key_len, true, copy, len);
}

slq_err ledger_state_del(ledger_state *st, const uint8_t *key, size_t key_len) {
    return write_row(st, key, key_len, false, NULL, 0);
}

void ledger_state_begin(ledger_state *st) {
    SLQ_ASSERT(!st->in_tx);
    SLQ_ASSERT(st->journal_len == 0);
    st->in_tx = true;
}

void ledger_state_commit(ledger_state *st) {
    SLQ_ASSERT(st->in_tx);
    for (size_t k = 0; k < st->journal_len; k++) free(st->journal[k].val);
    st->journal_len = 0;
    st->in_tx = false;
}

void ledger_state_rollback(ledger_state *st) {
    SLQ_ASSERT(st->in_tx);
    for (size_t k = st->journal_len; k-- > 0;) {
        const undo *u = &st->journal[k];
        entry *e = &st->slots[u->slot];
        free(e->val);
        e->loaded = u->loaded;
        e->dirty = u->dirty;
        e->present = u->present;
        e->val = u->val;
        e->val_len = u->val_len;
    }
    st->journal_len = 0;
    st->in_tx = false;
}

static int change_cmp(const void *a, const void *b) {
    const ledger_change *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* A change's place in the sort: the first 8 key bytes, big-endian and zero-padded, order
 * keys as memcmp does except among keys that share them (those are compared in full). */
typedef struct {
    uint64_t prefix;
    size_t index;
} sort_item;

static uint64_t key_prefix(const uint8_t *key, size_t len) {
    uint64_t p = 0;
    for (size_t i = 0; i < 8; i++) p = p << 8 | (i < len ? key[i] : 0);
    return p;
}

/* Sorts c[0..n) by key: a stable radix sort of the prefixes (one pass per byte that is not
 * the same in all of them), then each run of equal prefixes by qsort. The changes of a
 * block number in the thousands; qsort alone, a call and a memcmp per comparison, was a
 * tenth of the time of applying and committing one. */
static slq_err sort_changes(ledger_change *c, size_t n) {
    sort_item *a = malloc((n == 0 ? 1 : n) * sizeof *a), *b = malloc((n == 0 ? 1 : n) * sizeof *b);
    ledger_change *tmp = malloc((n == 0 ? 1 : n) * sizeof *tmp);
    if (a == NULL || b == NULL || tmp == NULL) {
        free(a);
        free(b);
        free(tmp);
        return SLQ_NO_MEMORY;
    }
    uint64_t all_or = 0, all_and = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        a[i] = (sort_item){.prefix = key_prefix(c[i].key, c[i].key_len), .index = i};
        all_or |= a[i].prefix;
        all_and &= a[i].prefix;
    }
    for (unsigned shift = 0; shift < 64; shift += 8) {
        if (((all_or ^ all_and) >> shift & 0xffu) == 0) continue; /* a byte all share */
        size_t counts[257] = {0};
        for (size_t i = 0; i < n; i++) counts[(a[i].prefix >> shift & 0xffu) + 1]++;
        for (size_t d = 1; d <= 256; d++) counts[d] += counts[d - 1];
        for (size_t i = 0; i < n; i++) b[counts[a[i].prefix >> shift & 0xffu]++] = a[i];
        sort_item *swap = a;
        a = b;
        b = swap;
    }
    for (size_t i = 0; i < n; i++) tmp[i] = c[a[i].index];
    memcpy(c, tmp, n * sizeof *c);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && a[j].prefix == a[i].prefix;) j++;
        if (j - i > 1) qsort(c + i, j - i, sizeof *c, change_cmp);
    }
    free(a);
    free(b);
    free(tmp);
    return SLQ_OK;
}

slq_err ledger_state_changes(ledger_state *st, ledger_change **out, size_t *count) {
    SLQ_ASSERT(!st->in_tx);
    size_t n = 0;
    for (size_t i = 0; i < st->cap; i++) n += st->slots[i].dirty;
    ledger_change *c = malloc((n == 0 ? 1 : n) * sizeof *c);
    if (c == NULL) return SLQ_NO_MEMORY;
    size_t k = 0;
    for (size_t i = 0; i < st->cap; i++) {
        const entry *e = &st->slots[i];
        if (!e->dirty) continue;
        c[k++] = (ledger_change){.key = e->key,
                                 .key_len = e->key_len,
                                 .value = e->present ? e->val : NULL,
                                 .value_len = e->present ? e->val_len : 0};
    }
    SLQ_ASSERT(k == n);
    slq_err err = sort_changes(c, n);
    if (err != SLQ_OK) {
        free(c);
        return err;
    }
    *out = c;
    *count = n;
    return SLQ_OK;
}

void ledger_state_reset(ledger_state *st) {
    SLQ_ASSERT(!st->in_tx);
    free_values(st);
    memset(st->slots, 0, st->cap * sizeof *st->slots);
    st->used = 0;
}

void ledger_state_foreach(ledger_state *st, const uint8_t *prefix, size_t prefix_len,
                          ledger_state_cb cb, void *arg) {
    for (size_t i = 0; i < st->cap; i++) {
        const entry *e = &st->slots[i];
        if (!e->loaded || !e->present || e->key_len < prefix_len) continue;
        if (memcmp(e->key, prefix, prefix_len) != 0) continue;
        if (!cb(arg, e->key, e->key_len, e->val, e->val_len)) return;
    }
}
