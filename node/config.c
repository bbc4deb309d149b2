/* config.c: reading a node's config.json (docs/node.md) strictly: unknown keys, keys given
 * twice, wrong types (numbers are integers: 50, not 50.0) and out-of-range values are errors
 * that name the file and the key. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "config.h"
#include "slq/limits.h"
#include "slq/why.h"

/* Reads a whole small file into a NUL-terminated malloc'd buffer. */
static slq_err read_file(const char *path, size_t max, char **out, size_t *len, char *why,
                         size_t why_cap) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        SLQ_WHY("%s: %s", path, strerror(errno));
        return SLQ_IO;
    }
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool err = ferror(f) != 0;
    fclose(f);
    if (buf == NULL) return SLQ_NO_MEMORY;
    if (err || n > max) {
        SLQ_WHY("%s: %s", path, err ? "read error" : "file too large");
        free(buf);
        return SLQ_IO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SLQ_OK;
}

/* Parses "host:port" (IPv6 as "[::1]:port"). */
static bool parse_hostport(const char *s, char *host, size_t host_cap, uint16_t *port) {
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) return false;
    const char *h = s, *h_end = colon;
    if (*h == '[') {
        if (colon[-1] != ']') return false;
        h++;
        h_end--;
    }
    size_t hl = (size_t) (h_end - h);
    if (hl == 0 || hl >= host_cap) return false;
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || colon[1] == '\0' || p > UINT16_MAX) return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (uint16_t) p;
    return true;
}

static bool get_u32(const json_t *v, uint32_t lo, uint32_t hi, uint32_t *out) {
    int64_t n = 0;
    if (!codec_json_int(v, &n) || n < lo || n > hi) return false;
    *out = (uint32_t) n;
    return true;
}

static bool get_str(const json_t *v, char *out, size_t cap) {
    const char *s = json_string_value(v); /* NULL unless a string */
    if (s == NULL || strlen(s) >= cap) return false;
    snprintf(out, cap, "%s", s);
    return true;
}

static bool parse_peers(const json_t *v, node_config *cfg) {
    if (!json_is_array(v) || json_array_size(v) > SLQ_PEERS_MAX) return false;
    size_t i;
    const json_t *p;
    json_array_foreach(v, i, p) {
        if (!get_str(p, cfg->peers[cfg->peers_count], sizeof cfg->peers[0])) return false;
        cfg->peers_count++;
    }
    return true;
}

#define ED25519_PUBKEY_BYTES 32u /* raw public keys, as observers are written */
#define SM2_PUBKEY_BYTES     65u
_Static_assert(SM2_PUBKEY_BYTES <= CRYPTO_PUBKEY_BYTES_MAX, "an observer's key fits");

/* Observers: hex public keys of read-only nodes this node admits as peers. */
static bool parse_observers(const json_t *v, node_config *cfg) {
    if (!json_is_array(v) || json_array_size(v) > SLQ_PEERS_MAX) return false;
    size_t i;
    const json_t *p;
    json_array_foreach(v, i, p) {
        const char *hex = json_string_value(p); /* NULL unless a string */
        if (hex == NULL) return false;
        size_t n = strlen(hex) / 2;
        if (n != ED25519_PUBKEY_BYTES && n != SM2_PUBKEY_BYTES) return false;
        if (codec_hex_decode(cfg->observers[cfg->observers_count], n, hex) != SLQ_OK) return false;
        cfg->observers_count++;
    }
    return true;
}

/* Applies one key of the config object; false if the key is unknown or its value bad. */
static bool parse_key(const char *k, const json_t *it, node_config *cfg) {
    const char *s = json_string_value(it); /* NULL unless a string */
    if (strcmp(k, "chain_id") == 0) return get_str(it, cfg->chain_id, sizeof cfg->chain_id);
    if (strcmp(k, "api_listen") == 0)
        return s != NULL && parse_hostport(s, cfg->api_host, sizeof cfg->api_host, &cfg->api_port);
    if (strcmp(k, "p2p_listen") == 0)
        return s != NULL && parse_hostport(s, cfg->p2p_host, sizeof cfg->p2p_host, &cfg->p2p_port);
    if (strcmp(k, "key_file") == 0) return get_str(it, cfg->key_file, sizeof cfg->key_file);
    if (strcmp(k, "block_interval_ms") == 0)
        return get_u32(it, CONFIG_BLOCK_INTERVAL_MIN_MS, CONFIG_BLOCK_INTERVAL_MAX_MS,
                       &cfg->block_interval_ms);
    if (strcmp(k, "empty_block_interval_ms") == 0)
        return get_u32(it, CONFIG_EMPTY_BLOCK_INTERVAL_MIN_MS, CONFIG_EMPTY_BLOCK_INTERVAL_MAX_MS,
                       &cfg->empty_block_interval_ms);
    if (strcmp(k, "peers") == 0) return parse_peers(it, cfg);
    if (strcmp(k, "observers") == 0) return parse_observers(it, cfg);
    return false;
}

slq_err node_config_load(node_config *cfg, const char *home, char *why, size_t why_cap) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->api_host, sizeof cfg->api_host, "%s", CONFIG_DEFAULT_HOST);
    cfg->api_port = CONFIG_DEFAULT_API_PORT;
    snprintf(cfg->p2p_host, sizeof cfg->p2p_host, "%s", CONFIG_DEFAULT_HOST);
    cfg->p2p_port = CONFIG_DEFAULT_P2P_PORT;
    snprintf(cfg->key_file, sizeof cfg->key_file, "%s", CONFIG_DEFAULT_KEY_FILE);
    cfg->block_interval_ms = CONFIG_BLOCK_INTERVAL_MS;
    cfg->empty_block_interval_ms = CONFIG_EMPTY_BLOCK_INTERVAL_MS;
    char path[4096], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config.json", home);
    slq_err err = read_file(path, CONFIG_JSON_BYTES_MAX, &text, &len, why, why_cap);
    if (err != SLQ_OK) return err;
    char json_why[160];
    json_t *root = codec_json_parse(text, len, json_why, sizeof json_why);
    free(text);
    if (root == NULL) {
        SLQ_WHY("%s: not a JSON object: %s", path, json_why);
        return SLQ_CONFIG_INVALID;
    }
    if (!json_is_object(root)) {
        SLQ_WHY("%s: not a JSON object", path);
        json_decref(root);
        return SLQ_CONFIG_INVALID;
    }
    const char *key;
    const json_t *it;
    json_object_foreach(root, key, it) {
        if (!parse_key(key, it, cfg)) {
            SLQ_WHY("%s: key \"%s\": unknown or invalid value", path, key);
            err = SLQ_CONFIG_INVALID;
            break;
        }
    }
    json_decref(root);
    if (err == SLQ_OK && cfg->block_interval_ms > cfg->empty_block_interval_ms) {
        /* pending transactions would wait longer than an empty mempool, and the propose
         * timeout (empty_block_interval_ms + 2 s) could pass before a block is built */
        SLQ_WHY("%s: block_interval_ms (%u) is above empty_block_interval_ms (%u)", path,
                cfg->block_interval_ms, cfg->empty_block_interval_ms);
        err = SLQ_CONFIG_INVALID;
    }
    return err;
}

slq_err node_read_file(const char *path, size_t max, char **out, size_t *len, char *why,
                       size_t why_cap) {
    return read_file(path, max, out, len, why, why_cap);
}
