/* wal_records.h: the payloads of the consensus write-ahead log's records (wal.h carries
 * them, journal.c writes them, engine.c replays them): one layout per kind, declared here
 * once, with one encode and one decode each. Fixed widths, big-endian (slq/be.h), a
 * signature in a fixed field zero-padded past its length.
 *
 * These are the bytes of every consensus.wal on disk: a log written before a restart (by any
 * earlier version) must replay, so a layout never changes (tests/unit/test_wal_records.c
 * holds known bytes). A decoder refuses what no encoder writes: a wrong length, a signature
 * length past its field, an unknown vote type or step, a flag other than 0 or 1. Pure: no
 * I/O, no allocation. */
#ifndef SLQ_REPLICA_WAL_RECORDS_H
#define SLQ_REPLICA_WAL_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "tendermint.h"
#include "wal.h"

/* Field widths, bytes. */
#define WAL_TYPE_BYTES    1u  /* a vote's type, a timeout's step */
#define WAL_HEIGHT_BYTES  8u  /* u64 */
#define WAL_ROUND_BYTES   4u  /* u32 round; pol_round as its two's complement (-1: none) */
#define WAL_INDEX_BYTES   4u  /* u32 validator or proposer index */
#define WAL_FLAG_BYTES    1u  /* 0 or 1 */
#define WAL_SIG_LEN_BYTES 1u  /* u8 */
#define WAL_HASH_BYTES    32u /* a block hash; all zero: nil */
#define WAL_SIG_BYTES     72u /* a signature field: sig_len bytes, then zeros */

_Static_assert(WAL_HASH_BYTES == CRYPTO_HASH_BYTES, "a block hash fills its field");
_Static_assert(WAL_HASH_BYTES == sizeof(((tm_block_id *) 0)->hash), "a tm_block_id fills it");
_Static_assert(WAL_SIG_BYTES == TM_SIG_BYTES_MAX, "a vote's signature fits its field");
_Static_assert(WAL_SIG_BYTES == CRYPTO_SIG_BYTES_MAX, "a proposal's signature fits its field");
_Static_assert(WAL_SIG_BYTES <= UINT8_MAX, "a signature's length fits its u8");

/* WAL_HEIGHT: height u64 (wal_begin writes it). */
_Static_assert(WAL_HEIGHT_RECORD_BYTES == WAL_HEIGHT_BYTES, "the height record is a height");

/* WAL_VOTE: type u8 | height u64 | round u32 | validator u32 | block [32] | sig_len u8 |
 * sig [72]. */
#define WAL_VOTE_RECORD_BYTES                                                                 \
    (WAL_TYPE_BYTES + WAL_HEIGHT_BYTES + WAL_ROUND_BYTES + WAL_INDEX_BYTES + WAL_HASH_BYTES + \
     WAL_SIG_LEN_BYTES + WAL_SIG_BYTES)
_Static_assert(WAL_VOTE_RECORD_BYTES == 122u, "the vote record of the logs on disk");

/* WAL_PROPOSAL: height u64 | round u32 | pol_round i32 | proposer u32 | valid u8 |
 * sig_len u8 | sig [72] | the block's bytes (at least one). */
#define WAL_PROPOSAL_HEAD_BYTES                                                                \
    (WAL_HEIGHT_BYTES + WAL_ROUND_BYTES + WAL_ROUND_BYTES + WAL_INDEX_BYTES + WAL_FLAG_BYTES + \
     WAL_SIG_LEN_BYTES + WAL_SIG_BYTES)
_Static_assert(WAL_PROPOSAL_HEAD_BYTES == 94u, "the proposal record of the logs on disk");

/* WAL_VALUE (the value we built): height u64 | round u32 | the block's bytes (at least
 * one). */
#define WAL_VALUE_HEAD_BYTES (WAL_HEIGHT_BYTES + WAL_ROUND_BYTES)
_Static_assert(WAL_VALUE_HEAD_BYTES == 12u, "the value record of the logs on disk");

/* WAL_TIMEOUT (a step timeout that fired): step u8 | height u64 | round u32. */
#define WAL_TIMEOUT_RECORD_BYTES (WAL_TYPE_BYTES + WAL_HEIGHT_BYTES + WAL_ROUND_BYTES)
_Static_assert(WAL_TIMEOUT_RECORD_BYTES == 13u, "the timeout record of the logs on disk");

/* A proposal as logged: the machine's fields, our validity verdict, the proposer's signature
 * and the block (decoded: pointing into the record). */
typedef struct {
    uint64_t height;
    uint32_t round;
    int32_t pol_round; /* -1: none */
    uint32_t proposer;
    bool valid;
    uint8_t sig[WAL_SIG_BYTES];
    size_t sig_len;
    const uint8_t *block;
    size_t block_len;
} wal_proposal;

/* The value we built for a round (decoded: block points into the record). */
typedef struct {
    uint64_t height;
    uint32_t round;
    const uint8_t *block;
    size_t block_len;
} wal_value;

typedef struct {
    tm_step step;
    uint64_t height;
    uint32_t round;
} wal_timeout;

/* Each encode writes a record into buf[0..cap) (cap at least the record's size: a smaller
 * one is a bug) and returns its length. Each decode reads a whole record p[0..len) into *out
 * and returns true, or returns false for one no encoder writes (*out is then undefined). */

bool wal_height_decode(const uint8_t *p, size_t len, uint64_t *height);

size_t wal_vote_encode(uint8_t *buf, size_t cap, const tm_vote *v);
bool wal_vote_decode(const uint8_t *p, size_t len, tm_vote *out);

/* The size of a proposal record with a block of block_len bytes. */
size_t wal_proposal_bytes(size_t block_len);
size_t wal_proposal_encode(uint8_t *buf, size_t cap, const wal_proposal *pr);
bool wal_proposal_decode(const uint8_t *p, size_t len, wal_proposal *out);

/* The size of a value record with a block of block_len bytes. */
size_t wal_value_bytes(size_t block_len);
size_t wal_value_encode(uint8_t *buf, size_t cap, const wal_value *v);
bool wal_value_decode(const uint8_t *p, size_t len, wal_value *out);

size_t wal_timeout_encode(uint8_t *buf, size_t cap, const wal_timeout *t);
bool wal_timeout_decode(const uint8_t *p, size_t len, wal_timeout *out);

#endif
