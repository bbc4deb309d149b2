/* config.h: config.json of a node home (docs/node.md), read once at start. */
#ifndef SLQ_NODE_CONFIG_H
#define SLQ_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"
#include "slq/limits.h"

/* config.json of a node home (docs/node.md). */
typedef struct {
    char chain_id[SLQ_CHAIN_ID_BYTES_MAX + 1];
    char api_host[64];
    uint16_t api_port;
    char p2p_host[64];
    uint16_t p2p_port;
    char key_file[256];
    uint32_t block_interval_ms;       /* pending txs wait this long after the last block */
    uint32_t empty_block_interval_ms; /* an empty block at most this often */
    char peers[SLQ_PEERS_MAX][72];
    size_t peers_count;
    uint8_t observers[SLQ_PEERS_MAX][CRYPTO_PUBKEY_BYTES_MAX]; /* read-only nodes admitted */
    size_t observers_count;
} node_config;

/* Reads DIR/config.json. On failure `why` says which file and what is wrong. */
SLQ_MUST_USE slq_err node_config_load(node_config *cfg, const char *home, char *why,
                                      size_t why_cap);

/* Reads a small file into a NUL-terminated malloc'd buffer (free()); `why` names the file. */
SLQ_MUST_USE slq_err node_read_file(const char *path, size_t max, char **out, size_t *len,
                                    char *why, size_t why_cap);

#endif
