/* p2p_send.c: a test peer for the cluster tests. It joins a network with the key of a node
 * home (a key the validators admit), sends one peer what a peer (a misbehaving one, in the
 * tests) would send, and reports whether that peer then closed the connection:
 *
 *   p2p_send --home DIR --peer HOST:PORT MODE [--wait-ms MS] [--key FILE] [--nonce N]
 *            [--as I] [--round-of J]
 *
 * DIR holds genesis.json and node.pem (the key we join with). MODE is one of:
 *   --tx HEX       relays these transaction bytes;
 *   --signed       relays a Register signed with the home's key (or FILE's) and nonce N
 *                  (default 1); --spoiled the same with one bit of its signature flipped;
 *   --votes LIST   sends votes (LIST: comma-separated prevote, precommit, prevote-nil,
 *                  precommit-nil) for the height, round and block of the peer's own prevote
 *                  (it waits for one, re-sent every second); they are signed with FILE's key
 *                  (default the home's) and claim validator I (default: FILE's validator), so
 *                  with --as naming another validator the signatures do not verify;
 *   --proposal     sends a proposal at the peer's next height, at the first round from the
 *                  peer's on whose proposer is validator J (default I), claiming validator I
 *                  and signed like the votes; its block decodes but its header bytes are no
 *                  header (the proposal must be refused on its signature or proposer first);
 *   --sync KIND    announces height 1000, then answers the peer's block request with the
 *                  block of the peer's own proposal and a certificate of its own precommit and
 *                  FILE's validator's precommit for it (KIND short: 2 signatures of 4), plus
 *                  (KIND forged) a precommit claiming validator I signed with the home's key;
 *   --announce H   announces height H (a Status) and never answers a block request; prints
 *                  "asked HEIGHT" for each request the peer sends;
 *   --refuse HASH  claims, as a proposer would (TxRefusals of height 1, committed long ago),
 *                  that the ledger refused transaction HASH: the peer must try it itself and
 *                  keep it if its own ledger accepts it;
 *   --watch        sends nothing and prints what the peer says: "status HEIGHT ROUND" for
 *                  each Status (HEIGHT: its tip) and "vote TYPE HEIGHT ROUND BLOCK SIG" (BLOCK
 *                  a hex hash or nil) for each of the peer's own votes.
 * The hash of a relayed transaction goes to stderr ("p2p_send: tx HASH"). Prints
 * "disconnected" if the peer closed the connection within MS (default 5000) of the message
 * being sent, "connected" if not; exits 1 (with a reason on stderr) if it could not join, or
 * the peer never showed what the mode waits for, within 10 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cert.h"
#include "codec.h"
#include "ledger.h"
#include "p2p.h"
#include "slq/limits.h"
#include "slq/log.h"

typedef enum {
    MODE_TX,
    MODE_VOTES,
    MODE_PROPOSAL,
    MODE_SYNC,
    MODE_ANNOUNCE,
    MODE_WATCH,
    MODE_REFUSE
} run_mode;

typedef struct {
    run_mode mode;
    const char *home, *peer, *hex, *key_file, *votes, *sync, *refuse;
    uint64_t nonce, announce;
    uint32_t wait_ms;
    int as, round_of; /* -1: the signer's own validator index */
    bool spoil, forged;
} options;

typedef struct {
    uv_loop_t *loop;
    p2p *net;
    uv_timer_t deadline;
    const options *o;
    const ledger *l;
    const crypto_key *home_key, *signer; /* signer: FILE's key, else the home's */
    int signer_index;                    /* the signer's validator index, -1: none */
    size_t nvals;
    uint8_t addrs[SLQ_VALIDATORS_MAX][CRYPTO_ADDRESS_BYTES];
    const uint8_t *tx;
    size_t tx_len;
    uint32_t peer;
    int peer_index; /* the peer's validator index, -1: not a validator */
    bool have_status, have_prevote, have_precommit;
    uint64_t height; /* the height the peer is deciding (its tip + 1) */
    uint32_t round;
    uint32_t vote_round; /* of the peer's own prevote for `block` */
    uint8_t block[CRYPTO_HASH_BYTES];
    uint32_t precommit_round; /* of the peer's own precommit for `prop_hash` */
    uint8_t precommit_sig[CRYPTO_SIG_BYTES_MAX];
    size_t precommit_sig_len;
    uint8_t *prop_block; /* the peer's own proposal */
    size_t prop_len;
    uint8_t prop_hash[CRYPTO_HASH_BYTES];
    bool up, asked, sent, down, done;
} run_state;

static void finish(run_state *s, const char *verdict) {
    if (s->done) return;
    s->done = true;
    if (verdict != NULL) printf("%s\n", verdict);
    fflush(stdout);
    uv_timer_stop(&s->deadline);
    uv_close((uv_handle_t *) &s->deadline, NULL);
    p2p_close(s->net, NULL, NULL);
}

static void deadline_cb(uv_timer_t *t) {
    run_state *s = t->data;
    if (!s->sent)
        fprintf(stderr, "p2p_send: %s\n",
                s->up ? "the peer did not show what we wait for" : "the peer did not admit us");
    finish(s, s->sent ? "connected" : NULL);
}

/* What we sent is out: the verdict is due after wait_ms. */
static void mark_sent(run_state *s) {
    s->sent = true;
    uv_timer_stop(&s->deadline);
    uv_timer_start(&s->deadline, deadline_cb, s->o->wait_ms, 0);
}

static void send_env(run_state *s, Slq__Envelope *env) {
    if (p2p_send(s->net, s->peer, env) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot queue the message\n");
        finish(s, NULL);
    }
}

static int claimed(const run_state *s) {
    return s->o->as >= 0 ? s->o->as : s->signer_index;
}

/* Signs the canonical bytes of f with key. */
static void sign_fields(const run_state *s, const crypto_key *key, const consensus_vote_fields *f,
                        uint8_t *sig, size_t *sig_len) {
    uint8_t msg[CONSENSUS_VOTE_BYTES_MAX];
    size_t n = consensus_vote_bytes(msg, ledger_chain_id(s->l), f);
    if (crypto_sign(key, sig, CRYPTO_SIG_BYTES_MAX, sig_len, msg, n) != SLQ_OK) *sig_len = 0;
}

/* One vote of LIST ("prevote", "precommit-nil", ...) for the peer's (height, round, block). */
static void send_vote(run_state *s, const char *item) {
    bool nil = strstr(item, "-nil") != NULL;
    Slq__Vote v = SLQ__VOTE__INIT;
    v.type = strncmp(item, "prevote", 7) == 0 ? SLQ__VOTE_TYPE__VOTE_PREVOTE
                                              : SLQ__VOTE_TYPE__VOTE_PRECOMMIT;
    v.height = s->height;
    v.round = s->vote_round;
    if (!nil) v.block_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, s->block};
    v.validator = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, s->addrs[claimed(s)]};
    consensus_vote_fields f = {.type = (consensus_msg_type) v.type,
                               .height = v.height,
                               .round = v.round,
                               .pol_round = -1,
                               .block_hash = nil ? NULL : s->block};
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    sign_fields(s, s->signer, &f, sig, &sig_len);
    v.signature = (ProtobufCBinaryData){sig_len, sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_VOTE;
    env.vote = &v;
    send_env(s, &env);
}

static void send_votes(run_state *s) {
    char list[256];
    snprintf(list, sizeof list, "%s", s->o->votes);
    for (char *save = NULL, *item = strtok_r(list, ",", &save); item != NULL && !s->done;
         item = strtok_r(NULL, ",", &save))
        send_vote(s, item);
}

/* A proposal at the first round from the peer's whose proposer is J, of a block that decodes
 * but whose header bytes are no header (what is refused is the proposal, not its block). */
static void send_proposal(run_state *s) {
    uint32_t j = (uint32_t) (s->o->round_of >= 0 ? s->o->round_of : claimed(s)), r = s->round;
    while ((s->height % s->nvals + r % s->nvals) % s->nvals != j) r++;
    uint8_t not_header[] = "not a block header", hash[CRYPTO_HASH_BYTES];
    Slq__Block b = SLQ__BLOCK__INIT;
    b.header = (ProtobufCBinaryData){sizeof not_header, not_header};
    uint8_t block[64];
    size_t len = slq__block__pack(&b, block);
    crypto_hash(ledger_suite(s->l), hash, not_header, sizeof not_header);
    Slq__Proposal p = SLQ__PROPOSAL__INIT;
    p.height = s->height;
    p.round = r;
    p.pol_round = -1;
    p.block = (ProtobufCBinaryData){len, block};
    p.proposer = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, s->addrs[claimed(s)]};
    consensus_vote_fields f = {.type = CONSENSUS_PROPOSAL,
                               .height = p.height,
                               .round = r,
                               .pol_round = -1,
                               .block_hash = hash};
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    sign_fields(s, s->signer, &f, sig, &sig_len);
    p.signature = (ProtobufCBinaryData){sig_len, sig};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_PROPOSAL;
    env.proposal = &p;
    send_env(s, &env);
}

/* Our height (1000, or --announce's) is far ahead: the peer asks us for its next block. */
static void announce_height(run_state *s) {
    Slq__Status st = SLQ__STATUS__INIT;
    uint8_t tip[CRYPTO_HASH_BYTES] = {0};
    st.height = s->o->mode == MODE_ANNOUNCE ? s->o->announce : 1000;
    st.tip_hash = (ProtobufCBinaryData){sizeof tip, tip};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_STATUS;
    env.status = &st;
    send_env(s, &env);
}

/* The peer's proposed block with a certificate that does not prove it final. */
static void answer_block_request(run_state *s, uint64_t height) {
    const Slq__Genesis *g = ledger_genesis(s->l);
    consensus_sig sigs[SLQ_VALIDATORS_MAX] = {{0}};
    uint8_t own[CRYPTO_SIG_BYTES_MAX], forged[CRYPTO_SIG_BYTES_MAX];
    size_t own_len = 0, forged_len = 0;
    consensus_vote_fields f = {.type = CONSENSUS_PRECOMMIT,
                               .height = s->height,
                               .round = s->precommit_round,
                               .pol_round = -1,
                               .block_hash = s->prop_hash};
    sigs[s->peer_index] = (consensus_sig){s->precommit_sig, s->precommit_sig_len};
    sign_fields(s, s->signer, &f, own, &own_len);
    if (s->signer_index >= 0) sigs[s->signer_index] = (consensus_sig){own, own_len};
    if (strcmp(s->o->sync, "forged") == 0 && s->o->as >= 0) {
        sign_fields(s, s->home_key, &f, forged, &forged_len);
        sigs[s->o->as] = (consensus_sig){forged, forged_len};
    }
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (consensus_cert_encode(&cert, &cert_len, ledger_suite(s->l), ledger_chain_id(s->l),
                              s->height, s->precommit_round, s->prop_hash, g->validators,
                              g->n_validators, sigs) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot build the certificate\n");
        finish(s, NULL);
        return;
    }
    Slq__BlockResponse r = SLQ__BLOCK_RESPONSE__INIT;
    r.height = height;
    r.block = (ProtobufCBinaryData){s->prop_len, s->prop_block};
    r.cert = (ProtobufCBinaryData){cert_len, cert};
    Slq__Envelope env = SLQ__ENVELOPE__INIT;
    env.msg_case = SLQ__ENVELOPE__MSG_BLOCK_RESPONSE;
    env.block_response = &r;
    send_env(s, &env);
    free(cert);
    if (!s->done) mark_sent(s);
}

/* Sends what the mode sends once the peer has shown what it needs. */
static void maybe_act(run_state *s) {
    if (s->done || s->sent || !s->up) return;
    switch (s->o->mode) {
        case MODE_TX: {
            Slq__Envelope env = SLQ__ENVELOPE__INIT;
            env.msg_case = SLQ__ENVELOPE__MSG_TX;
            env.tx = (ProtobufCBinaryData){s->tx_len, (uint8_t *) s->tx};
            send_env(s, &env);
            break;
        }
        case MODE_VOTES:
            if (!s->have_prevote) return;
            send_votes(s);
            break;
        case MODE_PROPOSAL:
            if (!s->have_status) return;
            send_proposal(s);
            break;
        case MODE_SYNC:
            if (s->prop_block == NULL || !s->have_precommit || s->asked) return;
            s->asked = true;
            announce_height(s);
            return; /* sent once the block is asked for */
        case MODE_ANNOUNCE:
            announce_height(s);
            break;
        case MODE_WATCH:
            break;
        case MODE_REFUSE: {
            uint8_t hash[CRYPTO_HASH_BYTES];
            if (codec_hex_decode(hash, sizeof hash, s->o->refuse) != SLQ_OK) {
                finish(s, "bad --refuse");
                return;
            }
            ProtobufCBinaryData txs[1] = {{CRYPTO_HASH_BYTES, hash}};
            Slq__TxRefusals r = SLQ__TX_REFUSALS__INIT;
            r.height = 1;
            r.n_txs = 1;
            r.txs = txs;
            Slq__Envelope env = SLQ__ENVELOPE__INIT;
            env.msg_case = SLQ__ENVELOPE__MSG_REFUSALS;
            env.refusals = &r;
            send_env(s, &env);
            break;
        }
    }
    if (!s->done) mark_sent(s);
}

static void peer_cb(void *arg, uint32_t peer, bool up, const uint8_t *pubkey, size_t pubkey_len) {
    run_state *s = arg;
    if (s->done) return;
    if (!up) {
        if (s->sent) finish(s, "disconnected");
        return;
    }
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    s->peer = peer;
    s->up = true;
    s->peer_index = -1;
    if (crypto_address(ledger_suite(s->l), addr, pubkey, pubkey_len) == SLQ_OK)
        for (size_t i = 0; i < s->nvals; i++)
            if (memcmp(addr, s->addrs[i], CRYPTO_ADDRESS_BYTES) == 0) s->peer_index = (int) i;
    maybe_act(s);
}

static bool from_peer(const run_state *s, const ProtobufCBinaryData *addr) {
    return s->peer_index >= 0 && addr->len == CRYPTO_ADDRESS_BYTES &&
           memcmp(addr->data, s->addrs[s->peer_index], CRYPTO_ADDRESS_BYTES) == 0;
}

/* Notes (and with --watch prints) one of the peer's own votes. */
static void on_vote(run_state *s, const Slq__Vote *v) {
    if (!from_peer(s, &v->validator) || v->signature.len > CRYPTO_SIG_BYTES_MAX) return;
    bool nil = v->block_hash.len != CRYPTO_HASH_BYTES;
    bool prevote = v->type == SLQ__VOTE_TYPE__VOTE_PREVOTE;
    if (s->o->mode == MODE_WATCH) {
        char block[2 * CRYPTO_HASH_BYTES + 1] = "nil", sig[2 * CRYPTO_SIG_BYTES_MAX + 1];
        if (!nil) codec_hex_encode(block, v->block_hash.data, CRYPTO_HASH_BYTES);
        codec_hex_encode(sig, v->signature.data, v->signature.len);
        printf("vote %s %llu %u %s %s\n", prevote ? "prevote" : "precommit",
               (unsigned long long) v->height, v->round, block, sig);
    }
    if (nil || (s->have_status && v->height != s->height)) return;
    if (prevote && !s->have_prevote) {
        s->have_prevote = true;
        s->height = v->height;
        s->vote_round = v->round;
        memcpy(s->block, v->block_hash.data, CRYPTO_HASH_BYTES);
    }
    if (!prevote && s->prop_block != NULL &&
        memcmp(v->block_hash.data, s->prop_hash, CRYPTO_HASH_BYTES) == 0) {
        s->have_precommit = true;
        s->precommit_round = v->round;
        memcpy(s->precommit_sig, v->signature.data, v->signature.len);
        s->precommit_sig_len = v->signature.len;
    }
}

static void on_proposal(run_state *s, const Slq__Proposal *p) {
    if (!from_peer(s, &p->proposer) || s->prop_block != NULL) return;
    Slq__Block *b = slq__block__unpack(NULL, p->block.len, p->block.data);
    if (b == NULL) return;
    crypto_hash(ledger_suite(s->l), s->prop_hash, b->header.data, b->header.len);
    slq__block__free_unpacked(b, NULL);
    s->prop_block = malloc(p->block.len + 1);
    if (s->prop_block == NULL) return;
    memcpy(s->prop_block, p->block.data, p->block.len);
    s->prop_len = p->block.len;
}

static void msg_cb(void *arg, uint32_t peer, const Slq__Envelope *env) {
    run_state *s = arg;
    if (s->done || peer != s->peer) return;
    if (env->msg_case == SLQ__ENVELOPE__MSG_STATUS) {
        s->have_status = true;
        s->height = env->status->height + 1;
        s->round = env->status->round;
        if (s->o->mode == MODE_WATCH)
            printf("status %llu %u\n", (unsigned long long) env->status->height,
                   env->status->round);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_VOTE) {
        on_vote(s, env->vote);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_PROPOSAL) {
        on_proposal(s, env->proposal);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_BLOCK_REQUEST && s->asked && !s->sent) {
        answer_block_request(s, env->block_request->height);
    } else if (env->msg_case == SLQ__ENVELOPE__MSG_BLOCK_REQUEST && s->o->mode == MODE_ANNOUNCE) {
        printf("asked %llu\n", (unsigned long long) env->block_request->height);
    }
    maybe_act(s);
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
    uint8_t code_hash[CRYPTO_HASH_BYTES] = {0xcc}; /* a credit code hash per nonce, too */
    memcpy(code_hash + 1, address + 1, 8);
    reg.role = SLQ__ROLE__ROLE_ENTERPRISE;
    reg.name = (char *) "forged";
    reg.credit_code_hash = (ProtobufCBinaryData){sizeof code_hash, code_hash};
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

static crypto_key *load_key(const char *path) {
    size_t len = 0;
    char *pem = read_all(path, &len);
    crypto_key *key = NULL;
    if (pem == NULL || crypto_key_load_pem(&key, pem, len, NULL) != SLQ_OK) {
        fprintf(stderr, "p2p_send: %s: cannot load the key\n", path);
        key = NULL;
    }
    free(pem);
    return key;
}

static ledger *load_ledger(const char *home) {
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
        l = NULL;
    }
    free(json);
    free(genesis);
    return l;
}

static bool parse_mode(options *o, const char *arg, const char *v, int *i) {
    if (strcmp(arg, "--signed") == 0 || strcmp(arg, "--spoiled") == 0) {
        o->forged = true;
        o->spoil = strcmp(arg, "--spoiled") == 0;
    } else if (strcmp(arg, "--tx") == 0 && v != NULL) {
        o->hex = v, ++*i;
    } else if (strcmp(arg, "--votes") == 0 && v != NULL) {
        o->mode = MODE_VOTES, o->votes = v, ++*i;
    } else if (strcmp(arg, "--proposal") == 0) {
        o->mode = MODE_PROPOSAL;
    } else if (strcmp(arg, "--sync") == 0 && v != NULL) {
        o->mode = MODE_SYNC, o->sync = v, ++*i;
    } else if (strcmp(arg, "--announce") == 0 && v != NULL) {
        o->mode = MODE_ANNOUNCE, o->announce = strtoull(v, NULL, 10), ++*i;
    } else if (strcmp(arg, "--watch") == 0) {
        o->mode = MODE_WATCH;
    } else if (strcmp(arg, "--refuse") == 0 && v != NULL && strlen(v) == 2 * CRYPTO_HASH_BYTES) {
        o->mode = MODE_REFUSE, o->refuse = v, ++*i;
    } else {
        return false;
    }
    return true;
}

static bool parse(options *o, int argc, char **argv) {
    *o = (options){.mode = MODE_TX, .nonce = 1, .wait_ms = 5000, .as = -1, .round_of = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (parse_mode(o, a, v, &i)) continue;
        if (v == NULL) return false;
        if (strcmp(a, "--home") == 0)
            o->home = v;
        else if (strcmp(a, "--peer") == 0)
            o->peer = v;
        else if (strcmp(a, "--key") == 0)
            o->key_file = v;
        else if (strcmp(a, "--nonce") == 0)
            o->nonce = strtoull(v, NULL, 10);
        else if (strcmp(a, "--wait-ms") == 0)
            o->wait_ms = (uint32_t) strtoul(v, NULL, 10);
        else if (strcmp(a, "--as") == 0)
            o->as = atoi(v);
        else if (strcmp(a, "--round-of") == 0)
            o->round_of = atoi(v);
        else
            return false;
        i++;
    }
    bool tx_mode = o->mode == MODE_TX;
    return o->home != NULL && o->peer != NULL && (!tx_mode || (o->hex == NULL) == o->forged) &&
           (o->hex == NULL ||
            (strlen(o->hex) % 2 == 0 && strlen(o->hex) / 2 <= SLQ_TX_BYTES_MAX + 64));
}

/* The transaction to relay (--tx, --signed, --spoiled); its hash to stderr. */
static bool make_tx(run_state *s) {
    const options *o = s->o;
    uint8_t *tx = NULL;
    size_t tx_len = 0;
    if (o->forged && forge(s->l, s->signer, o->nonce, o->spoil, &tx, &tx_len) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot forge a transaction\n");
        return false;
    }
    if (!o->forged) {
        tx_len = strlen(o->hex) / 2;
        tx = malloc(tx_len + 1);
        if (tx == NULL || codec_hex_decode(tx, tx_len, o->hex) != SLQ_OK) {
            fprintf(stderr, "p2p_send: --tx is not lowercase hex\n");
            free(tx);
            return false;
        }
    }
    uint8_t hash[CRYPTO_HASH_BYTES];
    char hash_hex[2 * CRYPTO_HASH_BYTES + 1];
    crypto_hash(ledger_suite(s->l), hash, tx, tx_len);
    codec_hex_encode(hash_hex, hash, sizeof hash);
    fprintf(stderr, "p2p_send: tx %s\n", hash_hex);
    s->tx = tx;
    s->tx_len = tx_len;
    return true;
}

/* The validators' addresses; the signer's index among them. */
static bool load_validators(run_state *s) {
    const Slq__Genesis *g = ledger_genesis(s->l);
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len = 0;
    if (crypto_key_public(s->signer, pub, sizeof pub, &pub_len) != SLQ_OK) return false;
    s->nvals = g->n_validators;
    s->signer_index = -1;
    for (size_t i = 0; i < g->n_validators; i++) {
        const Slq__Validator *v = g->validators[i];
        if (crypto_address(ledger_suite(s->l), s->addrs[i], v->pubkey.data, v->pubkey.len) !=
            SLQ_OK)
            return false;
        if (v->pubkey.len == pub_len && memcmp(v->pubkey.data, pub, pub_len) == 0)
            s->signer_index = (int) i;
    }
    int as = s->o->as >= 0 ? s->o->as : s->signer_index;
    bool needs = s->o->mode == MODE_VOTES || s->o->mode == MODE_PROPOSAL;
    if ((needs && (as < 0 || (size_t) as >= s->nvals)) || s->o->round_of >= (int) s->nvals ||
        (s->o->mode == MODE_SYNC && s->signer_index < 0)) {
        fprintf(stderr, "p2p_send: no such validator (--as, --round-of, --key)\n");
        return false;
    }
    return true;
}

static int run(run_state *s) {
    const Slq__Genesis *g = ledger_genesis(s->l);
    const uint8_t *allowed[SLQ_VALIDATORS_MAX];
    for (size_t i = 0; i < g->n_validators; i++) allowed[i] = g->validators[i]->pubkey.data;
    const char *peers[] = {s->o->peer};
    p2p_config cfg = {.suite = ledger_suite(s->l),
                      .chain_id = ledger_chain_id(s->l),
                      .genesis_hash = ledger_genesis_hash(s->l),
                      .key = s->home_key,
                      .allowed = allowed,
                      .allowed_count = g->n_validators,
                      .listen_host = "127.0.0.1",
                      .listen_port = 0,
                      .peers = peers,
                      .peers_count = 1,
                      .height_fn = height_cb};
    s->loop = uv_default_loop();
    uv_timer_init(s->loop, &s->deadline);
    s->deadline.data = s;
    uv_timer_start(&s->deadline, deadline_cb, 10000, 0); /* to be admitted, and see enough */
    if (p2p_start(&s->net, s->loop, &cfg, peer_cb, msg_cb, s) != SLQ_OK) {
        fprintf(stderr, "p2p_send: cannot start the network layer\n");
        return 1;
    }
    uv_run(s->loop, UV_RUN_DEFAULT);
    uv_loop_close(s->loop);
    return s->sent ? 0 : 1;
}

int main(int argc, char **argv) {
    options o;
    if (!parse(&o, argc, argv)) {
        fprintf(stderr,
                "usage: p2p_send --home DIR --peer HOST:PORT (--tx HEX | --signed | "
                "--spoiled | --votes LIST | --proposal | --sync short|forged | --announce H | "
                "--refuse HASH | --watch) "
                "[--wait-ms MS] [--key FILE] [--nonce N] [--as I] [--round-of J]\n");
        return 1;
    }
    slq_log_threshold = SLQ_LOG_ERROR;
    setvbuf(stdout, NULL, _IOLBF, 0);
    run_state s = {.o = &o};
    char path[4096];
    snprintf(path, sizeof path, "%s/node.pem", o.home);
    ledger *l = load_ledger(o.home);
    crypto_key *home_key = l != NULL ? load_key(path) : NULL;
    crypto_key *file_key = home_key != NULL && o.key_file != NULL ? load_key(o.key_file) : NULL;
    s.l = l;
    s.home_key = home_key;
    s.signer = file_key != NULL ? file_key : home_key;
    bool ok = home_key != NULL && (o.key_file == NULL || file_key != NULL) && load_validators(&s) &&
              (o.mode != MODE_TX || make_tx(&s));
    int rc = ok ? run(&s) : 1;
    free((uint8_t *) s.tx);
    free(s.prop_block);
    crypto_key_destroy(home_key);
    crypto_key_destroy(file_key);
    ledger_destroy(l);
    return rc;
}
