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
#define SLQ_PROGRAM_CENTRES_MAX   64u /* centres named by one program */
#define SLQ_PAYERS_MAX            64u /* payers (city, districts) the policy lists */
#define SLQ_VALIDATORS_MAX        64u
#define SLQ_GENESIS_ACCOUNTS_MAX  1024u
#define SLQ_GENESIS_BYTES_MAX     (1024u * 1024)
#define SLQ_KEY_FILE_BYTES_MAX    (16u * 1024)

/* Node */
#define SLQ_MEMPOOL_TXS_MAX         20000u /* transactions waiting for a block */
#define SLQ_MEMPOOL_PER_ACCOUNT_MAX 1024u  /* pending transactions of one signer */
#define SLQ_RESULTS_MAX             65536u /* recent rejection results kept in memory */
#define SLQ_GOSSIP_CHECKING_MAX     8192u  /* relayed txs being verified, remembered */
#define SLQ_SCANS_MAX               2u     /* audits and reports accepted (one built at a time) */
#define SLQ_LOOKUPS_MAX             16u    /* balances, lineages, claim lists accepted (ditto) */

/* A gapped transaction cannot run next: a nonce of its signer is missing before it. */
#define SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX 16u /* gapped transactions of one signer */
#define SLQ_MEMPOOL_GAPPED_SHARE           4u  /* gapped ones fill at most 1/4 of the mempool */
#define SLQ_MEMPOOL_GAPPED_MAX             (SLQ_MEMPOOL_TXS_MAX / SLQ_MEMPOOL_GAPPED_SHARE)
#define SLQ_MEMPOOL_GAP_TTL_MS             60000 /* a gapped one is dropped after this */

#define SLQ_PEERS_MAX                   32u   /* inbound peer connections */
#define SLQ_P2P_HANDSHAKES_PER_ADDR_MAX 8u    /* inbound connections of one address in handshake */
#define SLQ_P2P_HELLO_BYTES_MAX         1024u /* frames before the handshake completes */
#define SLQ_P2P_QUEUE_BYTES_MAX         (64u * 1024 * 1024) /* unsent bytes per peer */

/* HTTP API */
#define SLQ_HTTP_CONNS_MAX          256u
#define SLQ_HTTP_CONNS_PER_ADDR_MAX 32u /* open connections from one client address (IPv6: /64) */
#define SLQ_HTTP_HEADER_BYTES_MAX   (16u * 1024) /* request line and headers together */
#define SLQ_HTTP_BATCH_MAX          512u         /* transactions in one POST /v1/txs */
#define SLQ_HTTP_BODY_BYTES_MAX     (SLQ_HTTP_BATCH_MAX * (2u * SLQ_TX_BYTES_MAX + 8u) + 1024u)
#define SLQ_HTTP_REQUESTS_PER_SEC   1000u  /* per connection; more answer 429 */
#define SLQ_HTTP_IDLE_MS            30000u /* idle between two requests: the connection is closed */
#define SLQ_HTTP_HEADER_MS          5000u  /* a request line and headers must arrive within this */
#define SLQ_HTTP_BODY_MS            30000u /* a body must arrive within this after its headers */
#define SLQ_HTTP_RETRY_AFTER_S      1u     /* a 503 answer tells the client to retry after this */

_Static_assert(SLQ_BLOCK_TXS_MAX *SLQ_TX_BYTES_MAX < SLQ_BLOCK_BYTES_MAX, "block fits");
_Static_assert(SLQ_BLOCK_BYTES_MAX < SLQ_FRAME_BYTES_MAX, "a block fits in one frame");
_Static_assert(SLQ_MEMPOOL_GAPPED_PER_ACCOUNT_MAX < SLQ_MEMPOOL_GAPPED_MAX, "signer bound");

#endif
