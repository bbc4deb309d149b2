/* keys.h: the LevelDB key layout (DESIGN.md §6), shared by ledger/ (which produces state
 * rows) and storage/ (which writes and reads them). Dependency-free.
 *
 * A key is one prefix byte followed by fixed-width fields; integers are big-endian so
 * that LevelDB's bytewise order is numeric order. Values are protobuf messages of
 * proto/slq.proto, named beside each family. */
#ifndef SLQ_KEYS_H
#define SLQ_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slq/be.h"

/* Block families, written by storage/ with each block. */
#define SLQ_KEY_BLOCK        'b' /* height u64              -> Block bytes */
#define SLQ_KEY_CERT         'c' /* height u64              -> Certificate bytes */
#define SLQ_KEY_BLOCK_HASH   'h' /* block hash [32]         -> height u64 */
#define SLQ_KEY_TIP          'T' /* (none)                  -> height u64 || hash[32] || app_hash[32] */
#define SLQ_KEY_GENESIS      'G' /* (none)                  -> Genesis bytes */
/* State families, produced by ledger/. */
#define SLQ_KEY_TX           'x' /* tx hash [32]            -> TxLocation */
#define SLQ_KEY_ACCOUNT      'a' /* address [20]            -> Account */
#define SLQ_KEY_VOUCHER      'v' /* voucher id [32]         -> Voucher */
#define SLQ_KEY_HOLDING      'i' /* holder [20] id [32]     -> empty (holder's active vouchers) */
#define SLQ_KEY_YEAR         'y' /* year u32                -> YearTotals (city-wide) */
#define SLQ_KEY_PROGRAM_YEAR 'p' /* year u32 program u32    -> YearTotals (one program) */
#define SLQ_KEY_QUOTA        'q' /* year u32 program u32 holder [20] -> HolderQuota */
#define SLQ_KEY_APP_REF      'r' /* hash(ref) [32]          -> RefUse (application refs) */
#define SLQ_KEY_CONTRACT_REF 'k' /* hash(ref) [32]          -> RefUse (contract refs) */
#define SLQ_KEY_CLAIM        'l' /* claim id [32]           -> Claim */
#define SLQ_KEY_CREDIT_CODE                                                                     \
    'e'                         /* credit code hash [32]   -> address [20] (raw bytes): the one \
                                 * account of a holder-class party's credit code */
#define SLQ_KEY_APPLICATION 'n' /* application id [32]     -> Application */
#define SLQ_KEY_CONTRACT    'K' /* contract key [32]       -> ContractShare (applications) */

#define SLQ_ADDRESS_BYTES 20u
#define SLQ_HASH_BYTES    32u
#define SLQ_KEY_BYTES_MAX 64u

typedef struct {
    uint8_t bytes[SLQ_KEY_BYTES_MAX];
    size_t len;
} slq_key;

static inline void slq_key_u32(slq_key *k, uint32_t v) {
    k->len += slq_put_be(k->bytes + k->len, v, 4);
}
static inline void slq_key_u64(slq_key *k, uint64_t v) {
    k->len += slq_put_be(k->bytes + k->len, v, 8);
}
static inline void slq_key_raw(slq_key *k, const uint8_t *p, size_t n) {
    memcpy(k->bytes + k->len, p, n);
    k->len += n;
}
static inline slq_key slq_key_prefix(uint8_t family) {
    slq_key k = {.len = 0};
    k.bytes[k.len++] = family;
    return k;
}
static inline slq_key slq_key_height(uint8_t family, uint64_t height) {
    slq_key k = slq_key_prefix(family);
    slq_key_u64(&k, height);
    return k;
}
static inline slq_key slq_key_bytes(uint8_t family, const uint8_t *p, size_t n) {
    slq_key k = slq_key_prefix(family);
    slq_key_raw(&k, p, n);
    return k;
}
static inline slq_key slq_key_holding(const uint8_t holder[SLQ_ADDRESS_BYTES],
                                      const uint8_t id[SLQ_HASH_BYTES]) {
    slq_key k = slq_key_prefix(SLQ_KEY_HOLDING);
    slq_key_raw(&k, holder, SLQ_ADDRESS_BYTES);
    slq_key_raw(&k, id, SLQ_HASH_BYTES);
    return k;
}
static inline slq_key slq_key_year(uint32_t year) {
    slq_key k = slq_key_prefix(SLQ_KEY_YEAR);
    slq_key_u32(&k, year);
    return k;
}
static inline slq_key slq_key_program_year(uint32_t year, uint32_t program) {
    slq_key k = slq_key_prefix(SLQ_KEY_PROGRAM_YEAR);
    slq_key_u32(&k, year);
    slq_key_u32(&k, program);
    return k;
}
static inline slq_key slq_key_quota(uint32_t year, uint32_t program,
                                    const uint8_t holder[SLQ_ADDRESS_BYTES]) {
    slq_key k = slq_key_program_year(year, program);
    k.bytes[0] = SLQ_KEY_QUOTA;
    slq_key_raw(&k, holder, SLQ_ADDRESS_BYTES);
    return k;
}

/* Reads a big-endian u64 from 8 bytes. */
static inline uint64_t slq_be64(const uint8_t *p) {
    return slq_get_be(p, 8);
}

#endif
