/* results.h: the rejections the node remembers, so that GET /v1/txs/HASH can say why a
 * transaction never entered a block: a ring of the last `cap` refusals (newest wins), and a
 * count of refusals per error since start (GET /v1/metrics). Loop thread only. */
#ifndef SLQ_CHAIN_RESULTS_H
#define SLQ_CHAIN_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"

/* Refusals are counted per slq_err number below this (every slq_err is). */
#define RESULTS_CODES 256u

typedef struct {
    uint8_t hash[CRYPTO_HASH_BYTES];
    slq_err code;
    char message[256];
} result;

typedef struct results results; /* opaque */

SLQ_MUST_USE slq_err results_create(results **out, size_t cap);
void results_destroy(results *r); /* NULL is a no-op */
/* Remembers a refusal (and counts it); code is not SLQ_OK. */
void results_record(results *r, const uint8_t hash[CRYPTO_HASH_BYTES], slq_err code,
                    const char *message);
/* The latest refusal of hash still remembered, or NULL. */
const result *results_find(const results *r, const uint8_t hash[CRYPTO_HASH_BYTES]);
/* Refusals with this code since start. */
uint64_t results_count(const results *r, slq_err code);

#endif
