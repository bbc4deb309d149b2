/* mempool.c: the mempool behind mempool.h.
 *
 * Entries live in a slab of `cap` slots; two open-addressing indexes (linear probing with
 * backward-shift deletion, so no tombstones) find an entry by tx hash and a signer by
 * address. Each signer keeps its slots sorted by nonce, and signers form a list in the
 * order they first arrived, which is the order blocks serve them. */
#include "mempool.h"

#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/limits.h"

#define NIL UINT32_MAX

typedef struct {
    mempool_tx t;
    bool used;
    uint32_t account;
    int64_t since_ms; /* arrival, on the caller's clock */
} entry;

typedef struct {
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    bool used;
    uint32_t *slots; /* sorted by nonce */
    uint32_t n, cap;
    uint32_t prev, next;
    /* What can run: slots[0..ready) follow the committed nonce (as last told) without a gap,
     * up to nonce `runs_to` - 1; slots[ready..n) wait behind a gap. */
    uint64_t committed, runs_to;
    uint32_t ready;
} account;

typedef struct {
    uint32_t *cells; /* slot + 1; 0 is empty */
    size_t mask;
} index_t;

struct mempool {
    size_t cap, count;
    entry *entries;
    account *accounts;
    uint32_t *free_entries, *free_accounts;
    size_t free_entries_n, free_accounts_n;
    index_t by_hash, by_addr;
    uint32_t head, tail;       /* signers in arrival order */
    size_t gapped, gapped_max; /* transactions waiting behind a gap, and their bound */
};

/* ------------------------------------------------------------------ index */

static uint64_t key_hash(const uint8_t *k) {
    uint64_t h;
    memcpy(&h, k, sizeof h); /* keys are hashes or addresses: already uniform */
    return h;
}

static const uint8_t *key_of(const mempool *m, const index_t *ix, uint32_t slot) {
    return ix == &m->by_hash ? m->entries[slot].t.tx.hash : m->accounts[slot].addr;
}

static size_t ix_find(const mempool *m, const index_t *ix, const uint8_t *key, size_t klen,
                      uint32_t *slot) {
    size_t i = (size_t) key_hash(key) & ix->mask;
    while (ix->cells[i] != 0) {
        if (memcmp(key_of(m, ix, ix->cells[i] - 1), key, klen) == 0) {
            *slot = ix->cells[i] - 1;
            return i;
        }
        i = (i + 1) & ix->mask;
    }
    *slot = NIL;
    return i;
}

static void ix_insert(mempool *m, index_t *ix, const uint8_t *key, size_t klen, uint32_t slot) {
    uint32_t found;
    size_t i = ix_find(m, ix, key, klen, &found);
    SLQ_ASSERT(found == NIL);
    ix->cells[i] = slot + 1;
}

static void ix_remove(mempool *m, index_t *ix, const uint8_t *key, size_t klen) {
    uint32_t found;
    size_t i = ix_find(m, ix, key, klen, &found);
    SLQ_ASSERT(found != NIL);
    ix->cells[i] = 0;
    for (size_t j = (i + 1) & ix->mask; ix->cells[j] != 0; j = (j + 1) & ix->mask) {
        size_t home = (size_t) key_hash(key_of(m, ix, ix->cells[j] - 1)) & ix->mask;
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        ix->cells[i] = ix->cells[j];
        ix->cells[j] = 0;
        i = j;
    }
}

#define HASH_CELLS_MIN    4u /* the index's cells: a power of two ... */
#define HASH_LOAD_INVERSE 2u /* ... at least this many per entry (load at most 1/2) */
#define ACCOUNT_FIRST_CAP 8u /* an account's first room for pending transactions */

/* ------------------------------------------------------------------ life cycle */

slq_err mempool_create(mempool **out, size_t cap) {
    SLQ_ASSERT(cap > 0 && cap <= SLQ_MEMPOOL_TXS_MAX);
    mempool *m = calloc(1, sizeof *m);
    if (m == NULL) return SLQ_NO_MEMORY;
    size_t cells = HASH_CELLS_MIN;
    while (cells < HASH_LOAD_INVERSE * cap) cells *= 2;
    m->cap = cap;
    m->gapped_max = cap / SLQ_MEMPOOL_GAPPED_SHARE > 0 ? cap / SLQ_MEMPOOL_GAPPED_SHARE : 1;
    m->entries = calloc(cap, sizeof *m->entries);
    m->accounts = calloc(cap, sizeof *m->accounts);
    m->free_entries = malloc(cap * sizeof *m->free_entries);
    m->free_accounts = malloc(cap * sizeof *m->free_accounts);
    m->by_hash = (index_t){calloc(cells, sizeof(uint32_t)), cells - 1};
    m->by_addr = (index_t){calloc(cells, sizeof(uint32_t)), cells - 1};
    m->head = m->tail = NIL;
    if (!m->entries || !m->accounts || !m->free_entries || !m->free_accounts || !m->by_hash.cells ||
        !m->by_addr.cells) {
        mempool_destroy(m);
        return SLQ_NO_MEMORY;
    }
    for (size_t i = 0; i < cap; i++) {
        m->free_entries[i] = (uint32_t) (cap - 1 - i);
        m->free_accounts[i] = (uint32_t) (cap - 1 - i);
    }
    m->free_entries_n = m->free_accounts_n = cap;
    *out = m;
    return SLQ_OK;
}

void mempool_destroy(mempool *m) {
    if (m == NULL) return;
    for (size_t i = 0; m->entries != NULL && i < m->cap; i++) {
        if (!m->entries[i].used) continue;
        free(m->entries[i].t.bytes);
        ledger_tx_free(&m->entries[i].t.tx);
    }
    for (size_t i = 0; m->accounts != NULL && i < m->cap; i++) free(m->accounts[i].slots);
    free(m->entries);
    free(m->accounts);
    free(m->free_entries);
    free(m->free_accounts);
    free(m->by_hash.cells);
    free(m->by_addr.cells);
    free(m);
}

size_t mempool_count(const mempool *m) {
    return m->count;
}

size_t mempool_gapped(const mempool *m) {
    return m->gapped;
}

const mempool_tx *mempool_get(const mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    uint32_t slot;
    ix_find(m, &m->by_hash, hash, CRYPTO_HASH_BYTES, &slot);
    return slot != NIL ? &m->entries[slot].t : NULL;
}

bool mempool_has(const mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    return mempool_get(m, hash) != NULL;
}

static uint64_t nonce_of(const mempool *m, uint32_t slot) {
    return m->entries[slot].t.tx.body->nonce;
}

void mempool_signer(const mempool *m, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t committed,
                    mempool_signer_view *out) {
    *out = (mempool_signer_view){.run_nonce = committed, .max_nonce = committed};
    uint32_t a;
    ix_find(m, &m->by_addr, addr, CRYPTO_ADDRESS_BYTES, &a);
    if (a == NIL) return;
    const account *acc = &m->accounts[a];
    for (uint32_t i = 0; i < acc->n; i++) { /* ascending nonces */
        uint32_t slot = acc->slots[i];
        uint64_t nonce = nonce_of(m, slot);
        if (nonce > out->max_nonce) out->max_nonce = nonce;
        if (nonce <= committed) continue; /* stale: selection drops it */
        if (out->gapped == 0 && nonce == out->run_nonce + 1) {
            out->run_nonce = nonce;
            continue;
        }
        if (out->gapped == 0 || m->entries[slot].since_ms < out->gap_since_ms)
            out->gap_since_ms = m->entries[slot].since_ms;
        if (out->gapped == 0) out->gap_next = nonce;
        out->gapped++;
    }
}

static void entry_release(mempool *m, uint32_t slot, uint32_t pos);

/* ------------------------------------------------------------------ gaps */

/* Extends the account's runnable prefix over the slots that follow it without a gap (a stale
 * one, at or below the committed nonce, counts as runnable: selection drops it), keeping the
 * mempool's count of gapped transactions. */
static void account_settle(mempool *m, account *acc) {
    uint32_t before = acc->ready;
    while (acc->ready < acc->n) {
        uint64_t nonce = nonce_of(m, acc->slots[acc->ready]);
        if (nonce > acc->runs_to) break; /* a gap */
        if (nonce == acc->runs_to) acc->runs_to++;
        acc->ready++;
    }
    SLQ_ASSERT(m->gapped >= acc->ready - before);
    m->gapped -= acc->ready - before;
}

/* Tells the account its committed nonce (it only grows) and counts its runnable prefix anew
 * when it changed. */
static void account_refresh(mempool *m, account *acc, uint64_t committed) {
    if (committed <= acc->committed) return;
    acc->committed = committed;
    m->gapped += acc->ready;
    acc->ready = 0;
    acc->runs_to = acc->committed + 1;
    account_settle(m, acc);
}

/* ------------------------------------------------------------------ adding */

/* Finds or creates the signer's account record. */
static slq_err account_for(mempool *m, const uint8_t *addr, uint32_t *out) {
    ix_find(m, &m->by_addr, addr, CRYPTO_ADDRESS_BYTES, out);
    if (*out != NIL) return SLQ_OK;
    SLQ_ASSERT(m->free_accounts_n > 0); /* at most one account per entry */
    uint32_t a = m->free_accounts[--m->free_accounts_n];
    account *acc = &m->accounts[a];
    memcpy(acc->addr, addr, CRYPTO_ADDRESS_BYTES);
    acc->used = true;
    acc->n = 0;
    acc->ready = 0;
    acc->committed = 0;
    acc->runs_to = 1;
    acc->prev = m->tail;
    acc->next = NIL;
    if (m->tail != NIL)
        m->accounts[m->tail].next = a;
    else
        m->head = a;
    m->tail = a;
    ix_insert(m, &m->by_addr, addr, CRYPTO_ADDRESS_BYTES, a);
    *out = a;
    return SLQ_OK;
}

static void account_release(mempool *m, uint32_t a) {
    account *acc = &m->accounts[a];
    SLQ_ASSERT(acc->n == 0);
    if (acc->prev != NIL)
        m->accounts[acc->prev].next = acc->next;
    else
        m->head = acc->next;
    if (acc->next != NIL)
        m->accounts[acc->next].prev = acc->prev;
    else
        m->tail = acc->prev;
    ix_remove(m, &m->by_addr, acc->addr, CRYPTO_ADDRESS_BYTES);
    acc->used = false;
    m->free_accounts[m->free_accounts_n++] = a;
}

/* Position at which nonce goes in the account's sorted slots; *taken if already there. */
static uint32_t nonce_position(const mempool *m, const account *acc, uint64_t nonce, bool *taken) {
    uint32_t i = acc->n;
    while (i > 0 && nonce_of(m, acc->slots[i - 1]) > nonce) i--;
    *taken = i > 0 && nonce_of(m, acc->slots[i - 1]) == nonce;
    return i;
}

static slq_err account_insert(mempool *m, account *acc, uint32_t slot) {
    bool taken;
    uint32_t pos = nonce_position(m, acc, nonce_of(m, slot), &taken);
    if (taken) return SLQ_NONCE_INVALID;
    if (acc->n >= SLQ_MEMPOOL_PER_ACCOUNT_MAX) return SLQ_TX_PENDING_TOO_MANY;
    if (acc->n == acc->cap) {
        uint32_t cap = acc->cap == 0 ? ACCOUNT_FIRST_CAP : acc->cap * 2;
        uint32_t *s = realloc(acc->slots, cap * sizeof *s);
        if (s == NULL) return SLQ_NO_MEMORY;
        acc->slots = s;
        acc->cap = cap;
    }
    memmove(&acc->slots[pos + 1], &acc->slots[pos], (acc->n - pos) * sizeof acc->slots[0]);
    acc->slots[pos] = slot;
    acc->n++;
    if (pos < acc->ready) { /* a stale nonce, below what runs: selection drops it */
        acc->ready++;
    } else {
        m->gapped++;
        account_settle(m, acc);
    }
    return SLQ_OK;
}

/* Drops the gapped transaction farthest ahead (the highest nonce) of the signer that arrived
 * last among those holding one, so that a transaction that can run takes its slot. Signers
 * that came earlier keep what they wait for; a flood of new signers loses its own first. */
static bool evict_gapped(mempool *m, mempool_drop_fn drop_fn, void *arg) {
    for (uint32_t a = m->tail; a != NIL; a = m->accounts[a].prev) {
        const account *acc = &m->accounts[a];
        if (acc->n > acc->ready) {
            uint32_t slot = acc->slots[acc->n - 1];
            if (drop_fn != NULL) drop_fn(arg, &m->entries[slot].t, SLQ_TX_GAP_DROPPED);
            entry_release(m, slot, acc->n - 1);
            return true;
        }
    }
    return false;
}

/* Whether a transaction of this nonce may enter, given the signer's committed nonce: a
 * gapped one within its signer's and the mempool's bounds of gapped ones and a free slot; one
 * that can run next also by evicting a gapped one when the mempool is full. */
static slq_err make_room(mempool *m, const uint8_t *signer, uint64_t nonce, uint64_t committed,
                         mempool_drop_fn drop_fn, void *arg) {
    uint32_t a;
    ix_find(m, &m->by_addr, signer, CRYPTO_ADDRESS_BYTES, &a);
    uint64_t runs_to = committed + 1;
    if (a != NIL) {
        account *acc = &m->accounts[a];
        account_refresh(m, acc, committed);
        if (acc->n >= SLQ_MEMPOOL_PER_ACCOUNT_MAX) return SLQ_TX_PENDING_TOO_MANY;
        runs_to = acc->runs_to;
        if (nonce > runs_to && acc->n - acc->ready >= SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX)
            return SLQ_TX_PENDING_TOO_MANY;
    }
    if (nonce > runs_to && m->gapped >= m->gapped_max) return SLQ_TX_PENDING_TOO_MANY;
    if (m->free_entries_n > 0) return SLQ_OK;
    if (nonce == runs_to && evict_gapped(m, drop_fn, arg)) return SLQ_OK;
    return SLQ_MEMPOOL_FULL;
}

slq_err mempool_add(mempool *m, uint8_t *bytes, size_t len, ledger_tx *tx, uint64_t committed,
                    int64_t now_ms, mempool_drop_fn drop_fn, void *arg) {
    slq_err err = SLQ_OK;
    if (mempool_has(m, tx->hash))
        err = SLQ_TX_DUPLICATE;
    else
        err = make_room(m, tx->signer, tx->body->nonce, committed, drop_fn, arg);
    uint32_t a = NIL, slot = NIL;
    if (err == SLQ_OK) err = account_for(m, tx->signer, &a);
    if (err == SLQ_OK) account_refresh(m, &m->accounts[a], committed);
    if (err == SLQ_OK) {
        slot = m->free_entries[m->free_entries_n - 1];
        m->entries[slot] =
            (entry){.t = {.bytes = bytes, .len = len, .tx = *tx}, .account = a, .since_ms = now_ms};
        err = account_insert(m, &m->accounts[a], slot);
    }
    if (err != SLQ_OK) {
        if (a != NIL && m->accounts[a].n == 0) account_release(m, a);
        free(bytes);
        ledger_tx_free(tx);
        return err;
    }
    m->free_entries_n--;
    m->entries[slot].used = true;
    ix_insert(m, &m->by_hash, tx->hash, CRYPTO_HASH_BYTES, slot);
    m->count++;
    memset(tx, 0, sizeof *tx); /* moved into the mempool */
    return SLQ_OK;
}

/* ------------------------------------------------------------------ removing */

/* Frees entry `slot` and takes it out of its account (at position pos). */
static void entry_release(mempool *m, uint32_t slot, uint32_t pos) {
    entry *e = &m->entries[slot];
    account *acc = &m->accounts[e->account];
    SLQ_ASSERT(acc->slots[pos] == slot);
    uint64_t nonce = nonce_of(m, slot);
    memmove(&acc->slots[pos], &acc->slots[pos + 1], (acc->n - pos - 1) * sizeof acc->slots[0]);
    acc->n--;
    if (pos >= acc->ready) { /* a gapped one */
        SLQ_ASSERT(m->gapped > 0);
        m->gapped--;
    } else if (pos == 0) { /* the lowest leaves: in a block, stale, or refused with the rest */
        acc->ready--;
        if (nonce > acc->committed) acc->committed = nonce;
    } else { /* from the middle: what followed it waits for its nonce again */
        m->gapped += acc->ready - 1 - pos;
        acc->ready = pos;
        acc->runs_to = nonce;
    }
    ix_remove(m, &m->by_hash, e->t.tx.hash, CRYPTO_HASH_BYTES);
    free(e->t.bytes);
    ledger_tx_free(&e->t.tx);
    e->used = false;
    m->free_entries[m->free_entries_n++] = slot;
    m->count--;
    if (acc->n == 0) account_release(m, e->account);
}

static uint32_t position_of(const mempool *m, uint32_t slot) {
    const account *acc = &m->accounts[m->entries[slot].account];
    for (uint32_t i = 0; i < acc->n; i++)
        if (acc->slots[i] == slot) return i;
    SLQ_ASSERT(0);
    return 0;
}

void mempool_remove(mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    uint32_t slot;
    ix_find(m, &m->by_hash, hash, CRYPTO_HASH_BYTES, &slot);
    if (slot != NIL) entry_release(m, slot, position_of(m, slot));
}

void mempool_reject(mempool *m, const uint8_t hash[CRYPTO_HASH_BYTES], mempool_drop_fn drop_fn,
                    void *arg) {
    uint32_t slot;
    ix_find(m, &m->by_hash, hash, CRYPTO_HASH_BYTES, &slot);
    if (slot == NIL) return;
    uint32_t a = m->entries[slot].account, pos = position_of(m, slot);
    /* Later nonces of this signer go first (from the end), then the refused one. */
    while (m->accounts[a].n > pos + 1) {
        uint32_t last = m->accounts[a].slots[m->accounts[a].n - 1];
        if (drop_fn != NULL) drop_fn(arg, &m->entries[last].t, SLQ_NONCE_INVALID);
        entry_release(m, last, m->accounts[a].n - 1);
    }
    entry_release(m, slot, pos);
}

/* ------------------------------------------------------------------ expiry */

static bool gap_expired(const mempool *m, uint32_t slot, int64_t now_ms) {
    return now_ms - m->entries[slot].since_ms >= SLQ_MEMPOOL_GAP_TTL_MS;
}

static bool account_has_expired(const mempool *m, const account *acc, int64_t now_ms) {
    for (uint32_t i = acc->ready; i < acc->n; i++)
        if (gap_expired(m, acc->slots[i], now_ms)) return true;
    return false;
}

/* Drops the account's expired gapped transactions, from the highest nonce down (the account
 * may go with the last one). */
static size_t account_expire(mempool *m, uint32_t a, int64_t now_ms, mempool_drop_fn drop_fn,
                             void *arg) {
    size_t dropped = 0;
    for (uint32_t i = m->accounts[a].n; i-- > m->accounts[a].ready;) {
        uint32_t slot = m->accounts[a].slots[i];
        if (!gap_expired(m, slot, now_ms)) continue;
        if (drop_fn != NULL) drop_fn(arg, &m->entries[slot].t, SLQ_TX_GAP_DROPPED);
        entry_release(m, slot, i);
        dropped++;
    }
    return dropped;
}

size_t mempool_expire(mempool *m, int64_t now_ms, mempool_nonce_fn nonce_fn,
                      mempool_drop_fn drop_fn, void *arg) {
    size_t dropped = 0;
    uint32_t a = m->head;
    while (a != NIL) {
        uint32_t next = m->accounts[a].next;
        if (account_has_expired(m, &m->accounts[a], now_ms)) {
            /* The gap may have been filled by a block that held transactions we never had. */
            uint64_t committed = 0;
            if (nonce_fn(arg, m->accounts[a].addr, &committed) != SLQ_OK) break;
            account_refresh(m, &m->accounts[a], committed); /* before expiring */
            dropped += account_expire(m, a, now_ms, drop_fn, arg);
        }
        a = next;
    }
    return dropped;
}

/* ------------------------------------------------------------------ selection */

/* Drops the account's leading stale transactions; returns false if the account is gone. */
static bool drop_stale(mempool *m, uint32_t a, uint64_t committed, mempool_drop_fn drop_fn,
                       void *arg) {
    while (m->accounts[a].used && m->accounts[a].n > 0) {
        uint32_t slot = m->accounts[a].slots[0];
        if (nonce_of(m, slot) > committed) return true;
        if (drop_fn != NULL) drop_fn(arg, &m->entries[slot].t, SLQ_NONCE_INVALID);
        entry_release(m, slot, 0);
    }
    return false;
}

size_t mempool_select(mempool *m, const mempool_tx **out, size_t max, mempool_nonce_fn nonce_fn,
                      mempool_drop_fn drop_fn, void *arg) {
    size_t n = 0;
    uint32_t a = m->head;
    while (a != NIL && n < max) {
        uint32_t next = m->accounts[a].next;
        uint64_t committed = 0;
        if (nonce_fn(arg, m->accounts[a].addr, &committed) != SLQ_OK) break;
        account_refresh(m, &m->accounts[a], committed);
        if (drop_stale(m, a, committed, drop_fn, arg)) {
            const account *acc = &m->accounts[a];
            uint64_t want = committed + 1;
            for (uint32_t i = 0; i < acc->n && n < max; i++, want++) {
                if (nonce_of(m, acc->slots[i]) != want) break; /* a gap: wait for it */
                out[n++] = &m->entries[acc->slots[i]].t;
            }
        }
        a = next;
    }
    return n;
}
