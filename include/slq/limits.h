/* limits.h: every limit of slq in one place (DESIGN.md §9). Exceeding one is a clear
 * error, never a crash and never a partial write. */
#ifndef SLQ_LIMITS_H
#define SLQ_LIMITS_H

#define SLQ_TX_BYTES_MAX          (4u * 1024)
#define SLQ_BLOCK_TXS_MAX         1024u
#define SLQ_BLOCK_BYTES_MAX       (8u * 1024 * 1024)
#define SLQ_FRAME_BYTES_MAX       (SLQ_BLOCK_BYTES_MAX + 64u * 1024)
#define SLQ_CHAIN_ID_BYTES_MAX    64u
#define SLQ_NAME_BYTES_MAX        128u /* account names, program names */
#define SLQ_AFFILIATION_BYTES_MAX 64u
#define SLQ_REF_BYTES_MAX         128u /* application, contract, payment refs; reasons */
#define SLQ_REDEEM_VOUCHERS_MAX   64u
#define SLQ_PROGRAMS_MAX          32u
#define SLQ_EDGES_MAX             16u
#define SLQ_VALIDATORS_MAX        64u
#define SLQ_GENESIS_ACCOUNTS_MAX  1024u
#define SLQ_GENESIS_BYTES_MAX     (1024u * 1024)
#define SLQ_KEY_FILE_BYTES_MAX    (16u * 1024)

_Static_assert(SLQ_BLOCK_TXS_MAX *SLQ_TX_BYTES_MAX < SLQ_BLOCK_BYTES_MAX, "block fits");
_Static_assert(SLQ_BLOCK_BYTES_MAX < SLQ_FRAME_BYTES_MAX, "a block fits in one frame");

#endif
