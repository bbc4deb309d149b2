/* config.h: config.json of a node home (docs/node.md), read once at start. */
#ifndef SLQ_NODE_CONFIG_H
#define SLQ_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"
#include "slq/limits.h"

#define CONFIG_HOST_BYTES                  64u  /* a listen host, NUL included */
#define CONFIG_PEER_BYTES                  72u  /* "host:port" of a peer, NUL included */
#define CONFIG_PATH_BYTES                  256u /* key_file, relative to the home */
#define CONFIG_JSON_BYTES_MAX              (64u * 1024)
#define CONFIG_DEFAULT_HOST                "127.0.0.1"
#define CONFIG_DEFAULT_API_PORT            7601u
#define CONFIG_DEFAULT_P2P_PORT            7600u
#define CONFIG_DEFAULT_KEY_FILE            "node.pem"
#define CONFIG_BLOCK_INTERVAL_MS           50u /* default block_interval_ms, and its bounds: */
#define CONFIG_BLOCK_INTERVAL_MIN_MS       10u
#define CONFIG_BLOCK_INTERVAL_MAX_MS       60000u
#define CONFIG_EMPTY_BLOCK_INTERVAL_MS     3000u /* default empty_block_interval_ms, and bounds: */
#define CONFIG_EMPTY_BLOCK_INTERVAL_MIN_MS 100u
#define CONFIG_EMPTY_BLOCK_INTERVAL_MAX_MS 3600000u

/* config.json of a node home (docs/node.md). */
typedef struct {
    char chain_id[SLQ_CHAIN_ID_BYTES_MAX + 1];
    char api_host[CONFIG_HOST_BYTES];
    uint16_t api_port;
    char p2p_host[CONFIG_HOST_BYTES];
    uint16_t p2p_port;
    char key_file[CONFIG_PATH_BYTES];
    uint32_t block_interval_ms;       /* pending txs wait this long after the last block */
    uint32_t empty_block_interval_ms; /* an empty block at most this often */
    char peers[SLQ_PEERS_MAX][CONFIG_PEER_BYTES];
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
