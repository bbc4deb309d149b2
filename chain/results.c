/* results.c: the ring of refusals of results.h. */
#include "results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"

struct results {
    result *ring;
    size_t cap, next;
    uint64_t counts[RESULTS_CODES];
};

slq_err results_create(results **out, size_t cap) {
    SLQ_ASSERT(cap > 0);
    results *r = calloc(1, sizeof *r);
    if (r != NULL) r->ring = calloc(cap, sizeof *r->ring);
    if (r == NULL || r->ring == NULL) {
        free(r);
        return SLQ_NO_MEMORY;
    }
    r->cap = cap;
    *out = r;
    return SLQ_OK;
}

void results_destroy(results *r) {
    if (r == NULL) return;
    free(r->ring);
    free(r);
}

void results_record(results *r, const uint8_t hash[CRYPTO_HASH_BYTES], slq_err code,
                    const char *message) {
    SLQ_ASSERT(code != SLQ_OK); /* SLQ_OK marks a slot never written */
    result *x = &r->ring[r->next];
    r->next = (r->next + 1) % r->cap;
    memcpy(x->hash, hash, CRYPTO_HASH_BYTES);
    x->code = code;
    snprintf(x->message, sizeof x->message, "%s", message);
    if ((unsigned) code < RESULTS_CODES) r->counts[code]++;
}

const result *results_find(const results *r, const uint8_t hash[CRYPTO_HASH_BYTES]) {
    /* Newest first, so a resubmission refused again answers its latest reason. */
    for (size_t k = 0; k < r->cap; k++) {
        size_t i = (r->next + r->cap - 1 - k) % r->cap;
        if (r->ring[i].code == SLQ_OK) return NULL; /* never written: older ones neither */
        if (memcmp(r->ring[i].hash, hash, CRYPTO_HASH_BYTES) == 0) return &r->ring[i];
    }
    return NULL;
}

uint64_t results_count(const results *r, slq_err code) {
    return (unsigned) code < RESULTS_CODES ? r->counts[code] : 0;
}
