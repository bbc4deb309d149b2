/* p2p_send.c: a test peer for the cluster tests. It joins a network with the key of a node
 * home (a key the validators admit), relays one transaction's bytes to one peer as a
 * peer would, and reports whether that peer then closed the connection:
 *
 *   p2p_send --home DIR --peer HOST:PORT (--tx HEX | --signed | --spoiled) [--wait-ms MS]
 *            [--key FILE] [--nonce N]
 *
 * DIR holds genesis.json and node.pem. --signed relays a well-formed transaction, a Register
 * signed with the home's key (or FILE's) and nonce N (default 1); --spoiled the same with one
 * bit of its signature flipped. The hash of what is relayed goes to stderr
 * ("p2p_send: tx HASH"). Prints
 * "disconnected" if the peer closed the connection within MS (default 5000) of the transaction
 * being sent, "connected" if not; exits 1 (with a reason on stderr) if it could not join at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "codec.h"
#include "ledger.h"
#include "p2p.h"
#include "slq/limits.h"
#include "slq/log.h"

typedef struct {
    uv_loop_t *loop;
    p2p *net;
    uv_timer_t deadline;
    const uint8_t *tx;
    size_t tx_len;
    uint32_t wait_ms;
    bool sent, down, done;
} run_state;

static void finish(run_state *s, const char *verdict) {
    if (s->done) return;
    s->done = true;
    if (verdict != NULL) printf("%s\n", verdict);
    uv_timer_stop(&s->deadline);
    uv_close((uv_handle_t *) &s->deadline, NULL);
    p2p_close(s->net, NULL, NULL);
}

static void deadline_cb(uv_timer_t *t) {
    run_state *s = t->data;
    if (!s->sent) fprintf(stderr, "p2p_send: the peer did not admit us\n");
    finish(s, s->sent ? "connected" : NULL);
}

static void peer_cb(void *arg, uint32_t peer, bool up, const uint8_t *pubkey, size_t pubkey_len) {
    run_state *s = arg;
    (void) pubkey;
    (void) pubkey_len;
    if (s->done) return;
    if (!up) {
        if (s->sent) finish(s, "disconnected");
        return;
    }
    if (s->sent) return;
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_TX;
    env.tx = (ProtobufCBinaryData){s->tx_len, (uint8_t *) s->tx};
    if (p2p_send(s->net, peer, &env) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot queue the transaction\n");
        finish(s, NULL);
        return;
    }
    s->sent = true;
    uv_timer_stop(&s->deadline);
    uv_timer_start(&s->deadline, deadline_cb, s->wait_ms, 0);
}

static void msg_cb(void *arg, uint32_t peer, const Slq__Envelope *env) {
    (void) arg;
    (void) peer;
    (void) env; /* statuses, votes, proposals: not ours to follow */
}

static uint64_t height_cb(void *arg) {
    (void) arg;
    return 0;
}

/* A Register signed by key, one bit of its signature flipped if spoil; *out malloc'd. */
static slq_err forge(const ledger *l, const crypto_key *key, uint64_t nonce, bool spoil,
                     uint8_t **out, size_t *len) {
    uint8_t address[CRYPTO_ADDRESS_BYTES] = {0x5a}; /* then the nonce: one address per nonce */
    for (int i = 0; i < 8; i++) address[1 + i] = (uint8_t) (nonce >> (56 - 8 * i));
    Slq__Register reg = SLQ__REGISTER__INIT;
    reg.address = (ProtobufCBinaryData){sizeof address, address};
    reg.role = SLQ__ROLE__ROLE_ENTERPRISE;
    reg.name = (char *) "forged";
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REGISTER;
    body.nonce = nonce;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    body.register_ = &reg;
    uint8_t *signed_bytes = NULL;
    size_t signed_len = 0;
    slq_err err = ledger_tx_sign(l, key, &body, &signed_bytes, &signed_len);
    if (err != SLQ_OK) return err;
    Slq__SignedTx *st = slq__signed_tx__unpack(NULL, signed_len, signed_bytes);
    free(signed_bytes);
    if (st == NULL || st->signature.len == 0) return SLQ_TX_MALFORMED;
    if (spoil) st->signature.data[st->signature.len / 2] ^= 0x01;
    *len = slq__signed_tx__get_packed_size(st);
    *out = malloc(*len);
    if (*out != NULL) slq__signed_tx__pack(st, *out);
    slq__signed_tx__free_unpacked(st, NULL);
    return *out == NULL ? SLQ_NO_MEMORY : SLQ_OK;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *buf = malloc(CODEC_GENESIS_JSON_BYTES_MAX + 1);
    size_t n = buf == NULL ? 0 : fread(buf, 1, CODEC_GENESIS_JSON_BYTES_MAX, f);
    fclose(f);
    if (buf != NULL) buf[n] = '\0';
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    const char *home = NULL, *peer = NULL, *hex = NULL, *signer_file = NULL;
    uint64_t nonce = 1;
    uint32_t wait_ms = 5000;
    bool spoil = false, forged = false;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--signed") == 0 || strcmp(argv[i], "--spoiled") == 0) {
            forged = true;
            spoil = strcmp(argv[i], "--spoiled") == 0;
        } else if (strcmp(argv[i], "--home") == 0 && v != NULL) {
            home = argv[++i];
        } else if (strcmp(argv[i], "--peer") == 0 && v != NULL) {
            peer = argv[++i];
        } else if (strcmp(argv[i], "--tx") == 0 && v != NULL) {
            hex = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && v != NULL) {
            signer_file = argv[++i];
        } else if (strcmp(argv[i], "--nonce") == 0 && v != NULL) {
            nonce = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--wait-ms") == 0 && v != NULL) {
            wait_ms = (uint32_t) strtoul(argv[++i], NULL, 10);
        } else {
            home = NULL; /* unknown: usage */
            break;
        }
    }
    if (home == NULL || peer == NULL || (hex == NULL) == !forged ||
        (hex != NULL && (strlen(hex) % 2 != 0 || strlen(hex) / 2 > SLQ_TX_BYTES_MAX + 64))) {
        fprintf(stderr, "usage: p2p_send --home DIR --peer HOST:PORT "
                        "(--tx HEX | --signed | --spoiled) [--wait-ms MS]\n");
        return 1;
    }
    slq_log_threshold = SLQ_LOG_ERROR;
    char path[4096];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    char *json = read_all(path, &len);
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    char why[256] = "";
    ledger *l = NULL;
    if (json == NULL ||
        codec_genesis_from_json(&genesis, &genesis_len, json, len, why, sizeof why) != SLQ_OK ||
        ledger_create(&l, genesis, genesis_len, why, sizeof why) != SLQ_OK) {
        fprintf(stderr, "p2p_send: %s: %s\n", path, json == NULL ? "cannot read it" : why);
        return 1;
    }
    free(json);
    free(genesis);
    snprintf(path, sizeof path, "%s/node.pem", home);
    char *pem = read_all(path, &len);
    crypto_key *key = NULL;
    if (pem == NULL || crypto_key_load_pem(&key, pem, len, NULL) != SLQ_OK) {
        fprintf(stderr, "p2p_send: %s: cannot load the key\n", path);
        return 1;
    }
    free(pem);
    size_t tx_len = 0;
    uint8_t *tx = NULL;
    crypto_key *signer = NULL;
    if (signer_file != NULL) {
        pem = read_all(signer_file, &len);
        if (pem == NULL || crypto_key_load_pem(&signer, pem, len, NULL) != SLQ_OK) {
            fprintf(stderr, "p2p_send: %s: cannot load the key\n", signer_file);
            return 1;
        }
        free(pem);
    }
    if (forged && forge(l, signer != NULL ? signer : key, nonce, spoil, &tx, &tx_len) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot forge a transaction\n");
        return 1;
    }
    if (!forged) {
        tx_len = strlen(hex) / 2;
        tx = malloc(tx_len + 1);
        if (tx == NULL || codec_hex_decode(tx, tx_len, hex) != SLQ_OK) {
            fprintf(stderr, "p2p_send: --tx is not lowercase hex\n");
            return 1;
        }
    }
    uint8_t hash[CRYPTO_HASH_BYTES];
    char hash_hex[2 * CRYPTO_HASH_BYTES + 1];
    crypto_hash(ledger_suite(l), hash, tx, tx_len);
    codec_hex_encode(hash_hex, hash, sizeof hash);
    fprintf(stderr, "p2p_send: tx %s\n", hash_hex);
    const Slq__Genesis *g = ledger_genesis(l);
    const uint8_t *allowed[SLQ_VALIDATORS_MAX];
    for (size_t i = 0; i < g->n_validators; i++) allowed[i] = g->validators[i]->pubkey.data;
    const char *peers[] = {peer};
    p2p_config cfg = {.suite = ledger_suite(l),
                      .chain_id = ledger_chain_id(l),
                      .genesis_hash = ledger_genesis_hash(l),
                      .key = key,
                      .allowed = allowed,
                      .allowed_count = g->n_validators,
                      .listen_host = "127.0.0.1",
                      .listen_port = 0,
                      .peers = peers,
                      .peers_count = 1,
                      .height_fn = height_cb};
    run_state s = {.loop = uv_default_loop(), .tx = tx, .tx_len = tx_len, .wait_ms = wait_ms};
    uv_timer_init(s.loop, &s.deadline);
    s.deadline.data = &s;
    uv_timer_start(&s.deadline, deadline_cb, 10000, 0); /* to be admitted */
    if (p2p_start(&s.net, s.loop, &cfg, peer_cb, msg_cb, &s) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot start the network layer\n");
        return 1;
    }
    uv_run(s.loop, UV_RUN_DEFAULT);
    int rc = s.sent ? 0 : 1;
    uv_loop_close(s.loop);
    free(tx);
    crypto_key_destroy(key);
    crypto_key_destroy(signer);
    ledger_destroy(l);
    return rc;
}
