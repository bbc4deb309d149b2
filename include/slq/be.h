/* be.h: big-endian integers in byte strings, the one encoding of every fixed-width field
 * slq hashes, signs or stores (keys, vote bytes, the signer record, the consensus WAL).
 * Dependency-free. */
#ifndef SLQ_BE_H
#define SLQ_BE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the low n bytes of v (n <= 8), most significant first; returns n. */
static inline size_t slq_put_be(uint8_t *p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t) (v >> (8 * (n - 1 - i)));
    return n;
}

/* Reads n bytes (n <= 8), most significant first. */
static inline uint64_t slq_get_be(const uint8_t *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

#endif
