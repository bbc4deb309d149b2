/* digest_set.c: see digest_set.h. */
#include "digest_set.h"

#include <stdlib.h>

#include "slq/assert.h"
#include "slq/be.h"

slq_err digest_set_init(digest_set *s, size_t cap) {
    SLQ_ASSERT(cap >= 2 && (cap & (cap - 1)) == 0);
    s->slots = calloc(cap, sizeof *s->slots);
    s->cap = s->slots == NULL ? 0 : cap;
    s->count = 0;
    return s->slots == NULL ? SLQ_NO_MEMORY : SLQ_OK;
}

void digest_set_free(digest_set *s) {
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

uint64_t digest_of(const uint8_t *hash) {
    uint64_t d = slq_get_be(hash, sizeof d); /* the hash's first 8 bytes */
    return d == 0 ? 1 : d;
}

/* The slot of d, or of the empty slot that ends its probe chain. */
static size_t find(const digest_set *s, uint64_t d) {
    size_t mask = s->cap - 1, i = (size_t) d & mask;
    while (s->slots[i] != 0 && s->slots[i] != d) i = (i + 1) & mask;
    return i;
}

bool digest_set_add(digest_set *s, uint64_t d, bool *full) {
    SLQ_ASSERT(d != 0);
    *full = false;
    if (s->cap == 0) {
        *full = true;
        return false;
    }
    size_t i = find(s, d);
    if (s->slots[i] == d) return false;
    if ((s->count + 1) * 2 > s->cap) {
        *full = true;
        return false;
    }
    s->slots[i] = d;
    s->count++;
    return true;
}

bool digest_set_has(const digest_set *s, uint64_t d) {
    return s->cap != 0 && d != 0 && s->slots[find(s, d)] == d;
}

void digest_set_remove(digest_set *s, uint64_t d) {
    if (s->cap == 0 || d == 0) return;
    size_t mask = s->cap - 1, i = find(s, d);
    if (s->slots[i] != d) return;
    s->slots[i] = 0;
    s->count--;
    /* Backward shift: move up each later entry of the run whose home slot is not
     * cyclically in (i, j], so that no probe chain is broken by the hole at i. */
    for (size_t j = (i + 1) & mask; s->slots[j] != 0; j = (j + 1) & mask) {
        size_t home = (size_t) s->slots[j] & mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        s->slots[i] = s->slots[j];
        s->slots[j] = 0;
        i = j;
    }
}
