/* wal_records.c: the write-ahead log's record layouts (wal_records.h): each encoder writes
 * its fields in layout order through a cursor, each decoder reads them back the same way
 * and refuses what no encoder writes. Pure. */
#include "wal_records.h"

#include <string.h>

#include "slq/assert.h"
#include "slq/be.h"

/* Writes v as n big-endian bytes at *p and moves past them. */
static void put(uint8_t **p, uint64_t v, size_t n) {
    *p += slq_put_be(*p, v, n);
}

/* Writes src[0..n) into a field of `field` bytes at *p, zero past n, and moves past it. */
static void put_field(uint8_t **p, const uint8_t *src, size_t n, size_t field) {
    SLQ_ASSERT(n <= field);
    memcpy(*p, src, n);
    memset(*p + n, 0, field - n);
    *p += field;
}

/* Reads n big-endian bytes at *p and moves past them. */
static uint64_t take(const uint8_t **p, size_t n) {
    uint64_t v = slq_get_be(*p, n);
    *p += n;
    return v;
}

/* Copies n bytes at *p to out and moves past them. */
static void take_field(const uint8_t **p, uint8_t *out, size_t n) {
    memcpy(out, *p, n);
    *p += n;
}

bool wal_height_decode(const uint8_t *p, size_t len, uint64_t *height) {
    if (len != WAL_HEIGHT_RECORD_BYTES) return false;
    *height = slq_get_be(p, WAL_HEIGHT_BYTES);
    return true;
}

/* ------------------------------------------------------------------ vote */

size_t wal_vote_encode(uint8_t *buf, size_t cap, const tm_vote *v) {
    SLQ_ASSERT(cap >= WAL_VOTE_RECORD_BYTES);
    SLQ_ASSERT(v->sig_len <= WAL_SIG_BYTES);
    uint8_t *p = buf;
    put(&p, (uint64_t) v->type, WAL_TYPE_BYTES);
    put(&p, v->height, WAL_HEIGHT_BYTES);
    put(&p, v->round, WAL_ROUND_BYTES);
    put(&p, v->validator, WAL_INDEX_BYTES);
    put_field(&p, v->block.hash, WAL_HASH_BYTES, WAL_HASH_BYTES);
    put(&p, v->sig_len, WAL_SIG_LEN_BYTES);
    put_field(&p, v->sig, v->sig_len, WAL_SIG_BYTES);
    SLQ_ASSERT((size_t) (p - buf) == WAL_VOTE_RECORD_BYTES);
    return WAL_VOTE_RECORD_BYTES;
}

bool wal_vote_decode(const uint8_t *p, size_t len, tm_vote *out) {
    if (len != WAL_VOTE_RECORD_BYTES) return false;
    const uint8_t *start = p;
    memset(out, 0, sizeof *out);
    uint64_t type = take(&p, WAL_TYPE_BYTES);
    if (type != TM_PREVOTE && type != TM_PRECOMMIT) return false;
    out->type = (tm_vote_type) type;
    out->height = take(&p, WAL_HEIGHT_BYTES);
    out->round = (uint32_t) take(&p, WAL_ROUND_BYTES);
    out->validator = (uint32_t) take(&p, WAL_INDEX_BYTES);
    take_field(&p, out->block.hash, WAL_HASH_BYTES);
    out->sig_len = (size_t) take(&p, WAL_SIG_LEN_BYTES);
    if (out->sig_len > WAL_SIG_BYTES) return false;
    take_field(&p, out->sig, WAL_SIG_BYTES); /* the whole field, as earlier versions did */
    SLQ_ASSERT((size_t) (p - start) == WAL_VOTE_RECORD_BYTES);
    return true;
}

/* ------------------------------------------------------------------ proposal */

size_t wal_proposal_bytes(size_t block_len) {
    return WAL_PROPOSAL_HEAD_BYTES + block_len;
}

size_t wal_proposal_encode(uint8_t *buf, size_t cap, const wal_proposal *pr) {
    SLQ_ASSERT(cap >= wal_proposal_bytes(pr->block_len));
    SLQ_ASSERT(pr->sig_len <= WAL_SIG_BYTES);
    SLQ_ASSERT(pr->pol_round >= -1);
    uint8_t *p = buf;
    put(&p, pr->height, WAL_HEIGHT_BYTES);
    put(&p, pr->round, WAL_ROUND_BYTES);
    put(&p, (uint32_t) pr->pol_round, WAL_ROUND_BYTES);
    put(&p, pr->proposer, WAL_INDEX_BYTES);
    put(&p, pr->valid ? 1 : 0, WAL_FLAG_BYTES);
    put(&p, pr->sig_len, WAL_SIG_LEN_BYTES);
    put_field(&p, pr->sig, pr->sig_len, WAL_SIG_BYTES);
    SLQ_ASSERT((size_t) (p - buf) == WAL_PROPOSAL_HEAD_BYTES);
    if (pr->block_len > 0) memcpy(p, pr->block, pr->block_len);
    return wal_proposal_bytes(pr->block_len);
}

bool wal_proposal_decode(const uint8_t *p, size_t len, wal_proposal *out) {
    if (len <= WAL_PROPOSAL_HEAD_BYTES) return false; /* a block has at least one byte */
    const uint8_t *start = p;
    memset(out, 0, sizeof *out);
    out->height = take(&p, WAL_HEIGHT_BYTES);
    out->round = (uint32_t) take(&p, WAL_ROUND_BYTES);
    out->pol_round = (int32_t) (uint32_t) take(&p, WAL_ROUND_BYTES);
    out->proposer = (uint32_t) take(&p, WAL_INDEX_BYTES);
    uint64_t valid = take(&p, WAL_FLAG_BYTES);
    out->sig_len = (size_t) take(&p, WAL_SIG_LEN_BYTES);
    if (out->pol_round < -1) return false;
    if (valid > 1) return false;
    if (out->sig_len > WAL_SIG_BYTES) return false;
    out->valid = valid == 1;
    take_field(&p, out->sig, WAL_SIG_BYTES);
    SLQ_ASSERT((size_t) (p - start) == WAL_PROPOSAL_HEAD_BYTES);
    out->block = p;
    out->block_len = len - WAL_PROPOSAL_HEAD_BYTES;
    return true;
}

/* ------------------------------------------------------------------ value */

size_t wal_value_bytes(size_t block_len) {
    return WAL_VALUE_HEAD_BYTES + block_len;
}

size_t wal_value_encode(uint8_t *buf, size_t cap, const wal_value *v) {
    SLQ_ASSERT(cap >= wal_value_bytes(v->block_len));
    uint8_t *p = buf;
    put(&p, v->height, WAL_HEIGHT_BYTES);
    put(&p, v->round, WAL_ROUND_BYTES);
    SLQ_ASSERT((size_t) (p - buf) == WAL_VALUE_HEAD_BYTES);
    if (v->block_len > 0) memcpy(p, v->block, v->block_len);
    return wal_value_bytes(v->block_len);
}

bool wal_value_decode(const uint8_t *p, size_t len, wal_value *out) {
    if (len <= WAL_VALUE_HEAD_BYTES) return false; /* a block has at least one byte */
    const uint8_t *start = p;
    out->height = take(&p, WAL_HEIGHT_BYTES);
    out->round = (uint32_t) take(&p, WAL_ROUND_BYTES);
    SLQ_ASSERT((size_t) (p - start) == WAL_VALUE_HEAD_BYTES);
    out->block = p;
    out->block_len = len - WAL_VALUE_HEAD_BYTES;
    return true;
}

/* ------------------------------------------------------------------ timeout */

size_t wal_timeout_encode(uint8_t *buf, size_t cap, const wal_timeout *t) {
    SLQ_ASSERT(cap >= WAL_TIMEOUT_RECORD_BYTES);
    uint8_t *p = buf;
    put(&p, (uint64_t) t->step, WAL_TYPE_BYTES);
    put(&p, t->height, WAL_HEIGHT_BYTES);
    put(&p, t->round, WAL_ROUND_BYTES);
    SLQ_ASSERT((size_t) (p - buf) == WAL_TIMEOUT_RECORD_BYTES);
    return WAL_TIMEOUT_RECORD_BYTES;
}

bool wal_timeout_decode(const uint8_t *p, size_t len, wal_timeout *out) {
    if (len != WAL_TIMEOUT_RECORD_BYTES) return false;
    const uint8_t *start = p;
    uint64_t step = take(&p, WAL_TYPE_BYTES);
    if (step > TM_STEP_PRECOMMIT) return false;
    out->step = (tm_step) step;
    out->height = take(&p, WAL_HEIGHT_BYTES);
    out->round = (uint32_t) take(&p, WAL_ROUND_BYTES);
    SLQ_ASSERT((size_t) (p - start) == WAL_TIMEOUT_RECORD_BYTES);
    return true;
}
