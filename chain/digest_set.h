/* digest_set.h: a fixed-capacity set of 64-bit digests (the first bytes of hashes) with
 * removal: open addressing, linear probing, deletion by backward shift (no tombstones, so
 * the set never degrades however long it lives). The node keeps in one the transactions a
 * peer relayed that are being verified, so that the copies other peers relay meanwhile are
 * not verified again. Not thread-safe. */
#ifndef SLQ_NODE_DIGEST_SET_H
#define SLQ_NODE_DIGEST_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "slq/err.h"

typedef struct {
    uint64_t *slots; /* 0: empty (a digest of 0 is stored as 1) */
    size_t cap;      /* a power of two */
    size_t count;
} digest_set;

/* Room for up to cap / 2 digests; cap a power of two >= 2. */
SLQ_MUST_USE slq_err digest_set_init(digest_set *s, size_t cap);
void digest_set_free(digest_set *s);

/* The digest of a hash: its first 8 bytes, big-endian, 0 mapped to 1. */
uint64_t digest_of(const uint8_t *hash);

/* Adds d: true if it was not there and is now; false if it was there already. When the set
 * is half full nothing is added (false, *full set): the caller goes on without it. */
bool digest_set_add(digest_set *s, uint64_t d, bool *full);
bool digest_set_has(const digest_set *s, uint64_t d);
/* Removes d if present. */
void digest_set_remove(digest_set *s, uint64_t d);

#endif
