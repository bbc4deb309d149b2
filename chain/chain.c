/* chain.c: the chain executor behind chain.h.
 *
 * The ledger runs on a ledger_state whose base view is the store: reads fall through to
 * LevelDB, writes collect in the overlay, and a commit turns the overlay's changes into one
 * synced WriteBatch with the block and its certificate, after which the overlay is reset.
 * Header rules: height = tip + 1; prev_hash = tip hash (zeros before the first block);
 * time > tip time; app_hash = the state digest after the tip; txs_root = Merkle root of the
 * tx hashes; validators_hash = hash of the genesis validator set; last_commit = the tip's
 * certificate (empty at height 1) and last_commit_hash its hash. */
#include "chain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cert.h"
#include "slq/assert.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "slq/why.h"

struct chain {
    ledger *l;
    storage *s;
    ledger_state *st;
    ledger_view view;
    storage_tip tip;
    int64_t tip_time_ms;
    uint8_t validators_hash[CRYPTO_HASH_BYTES];
    uint8_t *tip_cert; /* certificate of the tip, carried by the next block */
    size_t tip_cert_len;
    bool pending; /* the overlay holds a proposal's changes */
    bool kept;    /* ...those of block kept_hash, checked or built, kept for its commit */
    uint8_t kept_hash[CRYPTO_HASH_BYTES];
    chain_verified_fn verified;
    void *verified_arg;
};

void chain_set_verified(chain *c, chain_verified_fn fn, void *arg) {
    c->verified = fn;
    c->verified_arg = arg;
}

static slq_err view_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                        size_t *val_len) {
    return storage_get(ctx, key, key_len, val, val_len);
}

const ledger *chain_ledger(const chain *c) {
    return c->l;
}
storage *chain_storage(chain *c) {
    return c->s;
}
const storage_tip *chain_tip(const chain *c) {
    return &c->tip;
}
int64_t chain_tip_time_ms(const chain *c) {
    return c->tip_time_ms;
}

/* Writes the genesis state into a fresh store, or checks that the store is of this genesis. */
static slq_err init_genesis(chain *c, const uint8_t *genesis, size_t len, char *why,
                            size_t why_cap) {
    uint8_t *stored = NULL;
    size_t stored_len = 0;
    slq_err err = storage_genesis(c->s, &stored, &stored_len);
    if (err == SLQ_OK) {
        bool same = stored_len == len && memcmp(stored, genesis, len) == 0;
        free(stored);
        if (!same) SLQ_WHY("data/ holds the chain of another genesis");
        return same ? SLQ_OK : SLQ_GENESIS_INVALID;
    }
    if (err != SLQ_NOT_FOUND) return err;
    err = ledger_genesis_state(c->l, c->st);
    ledger_change *ch = NULL;
    size_t n = 0;
    if (err == SLQ_OK) err = ledger_state_changes(c->st, &ch, &n);
    if (err != SLQ_OK) return err;
    static const uint8_t zero[CRYPTO_HASH_BYTES];
    uint8_t app[CRYPTO_HASH_BYTES];
    ledger_app_hash(ledger_suite(c->l), app, zero, ch, n);
    _Static_assert(sizeof(ledger_change) == sizeof(storage_kv), "same layout");
    err = storage_init_genesis(c->s, genesis, len, app, (const storage_kv *) ch, n);
    free(ch);
    ledger_state_reset(c->st);
    return err;
}

/* Reads the tip, its block time and its certificate. */
static slq_err load_tip(chain *c) {
    slq_err err = storage_get_tip(c->s, &c->tip);
    if (err != SLQ_OK) return err;
    c->tip_time_ms = ledger_genesis(c->l)->time_ms;
    if (c->tip.height == 0) return SLQ_OK;
    uint8_t *b = NULL;
    size_t len = 0;
    err = storage_block_by_height(c->s, c->tip.height, &b, &len);
    if (err != SLQ_OK) return err;
    Slq__Block *block = slq__block__unpack(NULL, len, b);
    free(b);
    Slq__BlockHeader *h =
        block == NULL ? NULL
                      : slq__block_header__unpack(NULL, block->header.len, block->header.data);
    if (h != NULL) c->tip_time_ms = h->time_ms;
    if (h != NULL) slq__block_header__free_unpacked(h, NULL);
    if (block != NULL) slq__block__free_unpacked(block, NULL);
    if (h == NULL) return SLQ_STORAGE_CORRUPT;
    err = storage_cert_by_height(c->s, c->tip.height, &c->tip_cert, &c->tip_cert_len);
    return err == SLQ_NOT_FOUND ? SLQ_STORAGE_CORRUPT : err;
}

/* The data directory holds the node's whole state: its owner's only. */
#define DATA_DIR_MODE 0700

slq_err chain_open(chain **out, const char *data_dir, const uint8_t *genesis, size_t genesis_len,
                   char *why, size_t why_cap) {
    if (mkdir(data_dir, DATA_DIR_MODE) != 0 && errno != EEXIST) {
        SLQ_WHY("%s: cannot create: %s", data_dir, strerror(errno));
        return SLQ_IO;
    }
    chain *c = calloc(1, sizeof *c);
    if (c == NULL) return SLQ_NO_MEMORY;
    slq_err err = ledger_create(&c->l, genesis, genesis_len, why, why_cap);
    if (err == SLQ_OK) {
        err = storage_open(&c->s, data_dir);
        if (err != SLQ_OK) SLQ_WHY("%s: cannot open the store (in use by another node?)", data_dir);
    }
    c->view = (ledger_view){.ctx = c->s, .get = view_get};
    if (err == SLQ_OK) err = ledger_state_create(&c->st, &c->view);
    if (err == SLQ_OK) err = init_genesis(c, genesis, genesis_len, why, why_cap);
    if (err == SLQ_OK) err = load_tip(c);
    if (err != SLQ_OK) {
        if (why != NULL && why[0] == '\0') SLQ_WHY("%s", slq_err_str(err));
        chain_close(c);
        return err;
    }
    const Slq__Genesis *g = ledger_genesis(c->l);
    consensus_validators_hash(ledger_suite(c->l), c->validators_hash, g->validators,
                              g->n_validators);
    *out = c;
    return SLQ_OK;
}

void chain_close(chain *c) {
    if (c == NULL) return;
    ledger_state_destroy(c->st);
    storage_close(c->s);
    ledger_destroy(c->l);
    free(c->tip_cert);
    free(c);
}

slq_err chain_account_nonce(chain *c, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t *nonce) {
    slq_err err = chain_signer_nonce(c, addr, nonce);
    return err == SLQ_SIGNER_UNKNOWN ? SLQ_OK : err;
}

slq_err chain_signer_nonce(chain *c, const uint8_t addr[CRYPTO_ADDRESS_BYTES], uint64_t *nonce) {
    uint8_t *v = NULL;
    size_t len = 0;
    *nonce = 0;
    slq_err err = storage_account(c->s, addr, &v, &len);
    if (err == SLQ_NOT_FOUND) return SLQ_SIGNER_UNKNOWN;
    if (err != SLQ_OK) return err;
    Slq__Account *a = slq__account__unpack(NULL, len, v);
    free(v);
    if (a == NULL) return SLQ_STORAGE_CORRUPT;
    *nonce = a->nonce;
    slq__account__free_unpacked(a, NULL);
    return SLQ_OK;
}

/* ------------------------------------------------------------------ building blocks */

bool chain_local_fault(slq_err err) {
    return err == SLQ_STORAGE_IO || err == SLQ_STORAGE_CORRUPT || err == SLQ_NO_MEMORY;
}

typedef struct {
    const uint8_t **txs;
    size_t *lens;
    uint8_t (*hashes)[CRYPTO_HASH_BYTES];
    size_t count;
} block_txs;

/* An encoded BlockHeader: a chain id of at most SLQ_CHAIN_ID_BYTES_MAX and eight fixed-width
 * fields take under 300 bytes (the pack below asserts the bound). */
#define HEADER_BYTES_MAX 512u

/* Encodes header and block for height tip+1; *out malloc'd. */
static slq_err encode_block(chain *c, chain_proposal *p, const uint8_t *proposer,
                            const block_txs *bt) {
    crypto_suite suite = ledger_suite(c->l);
    uint8_t root[CRYPTO_HASH_BYTES], lch[CRYPTO_HASH_BYTES];
    crypto_merkle_root(suite, root, (const uint8_t(*)[CRYPTO_HASH_BYTES]) bt->hashes, bt->count);
    Slq__BlockHeader h = SLQ__BLOCK_HEADER__INIT;
    h.chain_id = (char *) ledger_chain_id(c->l);
    h.height = p->height;
    h.time_ms = p->time_ms;
    h.prev_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, c->tip.hash};
    h.txs_root = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, root};
    h.app_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, c->tip.app_hash};
    h.proposer = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) proposer};
    h.validators_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, c->validators_hash};
    if (c->tip_cert_len > 0) {
        crypto_hash(suite, lch, c->tip_cert, c->tip_cert_len);
        h.last_commit_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, lch};
    }
    uint8_t header[HEADER_BYTES_MAX];
    SLQ_ASSERT(slq__block_header__get_packed_size(&h) <= sizeof header);
    size_t header_len = slq__block_header__pack(&h, header);
    crypto_hash(suite, p->hash, header, header_len);
    Slq__Block b = SLQ__BLOCK__INIT;
    b.header = (ProtobufCBinaryData){header_len, header};
    b.n_txs = bt->count;
    ProtobufCBinaryData *txs = malloc((bt->count + 1) * sizeof *txs);
    if (txs == NULL) return SLQ_NO_MEMORY;
    for (size_t i = 0; i < bt->count; i++)
        txs[i] = (ProtobufCBinaryData){bt->lens[i], (uint8_t *) bt->txs[i]};
    b.txs = txs;
    b.last_commit = (ProtobufCBinaryData){c->tip_cert_len, c->tip_cert};
    p->block_len = slq__block__get_packed_size(&b);
    p->block = malloc(p->block_len);
    if (p->block != NULL) slq__block__pack(&b, p->block);
    free(txs);
    return p->block == NULL ? SLQ_NO_MEMORY : SLQ_OK;
}

/* What filling a block counts besides its transactions: its header and framing, and each
 * transaction's framing (field tag and length). The byte budget is a second bound: with
 * SLQ_BLOCK_TXS_MAX * SLQ_TX_BYTES_MAX below SLQ_BLOCK_BYTES_MAX (limits.h) the count limit
 * is met first, which leaves room for last_commit too. */
#define BLOCK_FRAME_BYTES 1024u
#define TX_FRAME_BYTES    8u

/* Applies candidates in order until the block is full; fills bt with those that applied. */
static slq_err select_txs(chain *c, chain_proposal *p, const chain_candidates *cand, block_txs *bt,
                          chain_result_cb cb, void *arg) {
    size_t bytes = BLOCK_FRAME_BYTES;
    for (size_t i = 0; i < cand->count && bt->count < SLQ_BLOCK_TXS_MAX; i++) {
        if (bytes + cand->lens[i] + TX_FRAME_BYTES > SLQ_BLOCK_BYTES_MAX) break;
        ledger_block_ctx ctx = {
            .height = p->height, .time_ms = p->time_ms, .index = (uint32_t) bt->count};
        ledger_outcome out;
        slq_err err = ledger_apply(c->l, c->st, &ctx, cand->txs[i], &out);
        if (chain_local_fault(err)) return err; /* a fault of ours, not of the transaction */
        if (cb != NULL) cb(arg, i, &out);
        if (err != SLQ_OK) continue;
        bt->txs[bt->count] = cand->bytes[i];
        bt->lens[bt->count] = cand->lens[i];
        memcpy(bt->hashes[bt->count], cand->txs[i]->hash, CRYPTO_HASH_BYTES);
        bt->count++;
        bytes += cand->lens[i] + TX_FRAME_BYTES;
    }
    return SLQ_OK;
}

/* Drops a kept pending state (the replay of a block that was not committed). */
static void drop_kept(chain *c) {
    if (!c->pending) return;
    SLQ_ASSERT(c->kept);
    ledger_state_reset(c->st);
    c->pending = c->kept = false;
}

slq_err chain_propose(chain *c, chain_proposal *p, int64_t time_ms,
                      const uint8_t proposer[CRYPTO_ADDRESS_BYTES], const chain_candidates *cand,
                      chain_result_cb cb, void *arg) {
    drop_kept(c);
    SLQ_ASSERT(time_ms > c->tip_time_ms);
    memset(p, 0, sizeof *p);
    p->height = c->tip.height + 1;
    p->time_ms = time_ms;
    size_t n = cand->count < SLQ_BLOCK_TXS_MAX ? cand->count : SLQ_BLOCK_TXS_MAX;
    const uint8_t **txs = malloc((n + 1) * sizeof *txs);
    size_t *lens = malloc((n + 1) * sizeof *lens);
    uint8_t(*hashes)[CRYPTO_HASH_BYTES] = malloc((n + 1) * sizeof *hashes);
    slq_err err = txs && lens && hashes ? SLQ_OK : SLQ_NO_MEMORY;
    block_txs bt = {.txs = txs, .lens = lens, .hashes = hashes, .count = 0};
    c->pending = true;
    if (err == SLQ_OK) err = select_txs(c, p, cand, &bt, cb, arg);
    if (err == SLQ_OK) err = encode_block(c, p, proposer, &bt);
    p->txs_count = bt.count;
    free(txs);
    free(lens);
    free(hashes);
    if (err != SLQ_OK) {
        chain_abandon(c, p);
        return err;
    }
    c->kept = true; /* until committed, abandoned, or another block is checked */
    memcpy(c->kept_hash, p->hash, CRYPTO_HASH_BYTES);
    return SLQ_OK;
}

void chain_abandon(chain *c, chain_proposal *p) {
    ledger_state_reset(c->st);
    c->pending = c->kept = false;
    free(p->block);
    p->block = NULL;
}

slq_err chain_commit(chain *c, chain_proposal *p, const uint8_t *cert, size_t cert_len) {
    SLQ_ASSERT(c->pending);
    SLQ_ASSERT(p->height == c->tip.height + 1);
    ledger_change *ch = NULL;
    size_t n = 0;
    slq_err err = ledger_state_changes(c->st, &ch, &n);
    uint8_t *cert_copy = err == SLQ_OK ? malloc(cert_len == 0 ? 1 : cert_len) : NULL;
    if (err == SLQ_OK && cert_copy == NULL) err = SLQ_NO_MEMORY;
    storage_tip next = {.height = p->height};
    memcpy(next.hash, p->hash, CRYPTO_HASH_BYTES);
    if (err == SLQ_OK) {
        ledger_app_hash(ledger_suite(c->l), next.app_hash, c->tip.app_hash, ch, n);
        storage_block b = {.height = p->height,
                           .hash = p->hash,
                           .app_hash = next.app_hash,
                           .block = p->block,
                           .block_len = p->block_len,
                           .cert = cert,
                           .cert_len = cert_len,
                           .changes = (const storage_kv *) ch,
                           .changes_count = n};
        err = storage_commit_block(c->s, &b);
    }
    free(ch);
    if (err == SLQ_OK) {
        memcpy(cert_copy, cert, cert_len);
        free(c->tip_cert);
        c->tip_cert = cert_copy;
        c->tip_cert_len = cert_len;
        c->tip = next;
        c->tip_time_ms = p->time_ms;
    } else {
        free(cert_copy);
        log_error("chain: commit: height=%llu failed: %s", (unsigned long long) p->height,
                  slq_err_str(err));
    }
    chain_abandon(c, p);
    return err;
}

/* Index of the validator with this address, or -1. */
static int validator_index(const chain *c, const uint8_t *addr) {
    const Slq__Genesis *g = ledger_genesis(c->l);
    for (size_t i = 0; i < g->n_validators; i++) {
        uint8_t a[CRYPTO_ADDRESS_BYTES];
        if (crypto_address(ledger_suite(c->l), a, g->validators[i]->pubkey.data,
                           g->validators[i]->pubkey.len) == SLQ_OK &&
            memcmp(a, addr, CRYPTO_ADDRESS_BYTES) == 0)
            return (int) i;
    }
    return -1;
}

slq_err chain_certify_alone(chain *c, const chain_proposal *p, const crypto_key *key,
                            uint8_t **cert, size_t *cert_len) {
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX], addr[CRYPTO_ADDRESS_BYTES];
    size_t pub_len = 0;
    crypto_suite suite = ledger_suite(c->l);
    slq_err err = crypto_key_public(key, pub, sizeof pub, &pub_len);
    if (err == SLQ_OK) err = crypto_address(suite, addr, pub, pub_len);
    if (err != SLQ_OK) return err;
    int vi = validator_index(c, addr);
    if (vi < 0) return SLQ_ROLE_FORBIDDEN;
    consensus_vote_fields f = {.type = CONSENSUS_PRECOMMIT,
                               .height = p->height,
                               .round = 0,
                               .pol_round = -1,
                               .block_hash = p->hash};
    uint8_t msg[CONSENSUS_VOTE_BYTES_MAX], sig[CRYPTO_SIG_BYTES_MAX];
    size_t msg_len = consensus_vote_bytes(msg, ledger_chain_id(c->l), &f), sig_len = 0;
    err = crypto_sign(key, sig, sizeof sig, &sig_len, msg, msg_len);
    if (err != SLQ_OK) return err;
    const Slq__Genesis *g = ledger_genesis(c->l);
    consensus_sig sigs[SLQ_VALIDATORS_MAX] = {{0}};
    sigs[vi] = (consensus_sig){sig, sig_len};
    return consensus_cert_encode(cert, cert_len, suite, ledger_chain_id(c->l), p->height, 0,
                                 p->hash, g->validators, g->n_validators, sigs);
}

/* ------------------------------------------------------------------ blocks from elsewhere */

/* Checks the header against the tip; *hash gets the block hash. */
static slq_err check_header(chain *c, const Slq__Block *b, const Slq__BlockHeader *h, char *why,
                            size_t why_cap) {
    crypto_suite suite = ledger_suite(c->l);
    const Slq__Genesis *g = ledger_genesis(c->l);
    uint8_t lch[CRYPTO_HASH_BYTES];
    /* Any certificate that proves the tip final will do: each validator collects its own
     * set of precommits (and SM2 signatures vary in length), so it need not be ours. */
    bool lc_ok = c->tip.height == 0
                     ? b->last_commit.len == 0 && h->last_commit_hash.len == 0
                     : b->last_commit.len > 0 && h->last_commit_hash.len == CRYPTO_HASH_BYTES;
    if (lc_ok && c->tip.height > 0) {
        crypto_hash(suite, lch, b->last_commit.data, b->last_commit.len);
        lc_ok = memcmp(lch, h->last_commit_hash.data, CRYPTO_HASH_BYTES) == 0;
    }
    if (h->base.n_unknown_fields != 0 || strcmp(h->chain_id, ledger_chain_id(c->l)) != 0)
        SLQ_WHY("header is of another chain");
    else if (h->height != c->tip.height + 1)
        SLQ_WHY("height %llu does not follow tip %llu", (unsigned long long) h->height,
                (unsigned long long) c->tip.height);
    else if (h->prev_hash.len != CRYPTO_HASH_BYTES ||
             memcmp(h->prev_hash.data, c->tip.hash, CRYPTO_HASH_BYTES) != 0)
        SLQ_WHY("prev_hash does not link to the tip");
    else if (h->time_ms <= c->tip_time_ms)
        SLQ_WHY("block time %lld is not after the tip's %lld", (long long) h->time_ms,
                (long long) c->tip_time_ms);
    else if (h->app_hash.len != CRYPTO_HASH_BYTES ||
             memcmp(h->app_hash.data, c->tip.app_hash, CRYPTO_HASH_BYTES) != 0)
        SLQ_WHY("app_hash differs from the state after the tip");
    else if (h->validators_hash.len != CRYPTO_HASH_BYTES ||
             memcmp(h->validators_hash.data, c->validators_hash, CRYPTO_HASH_BYTES) != 0)
        SLQ_WHY("validators_hash differs");
    else if (h->proposer.len != CRYPTO_ADDRESS_BYTES || validator_index(c, h->proposer.data) < 0)
        SLQ_WHY("proposer is not a validator");
    else if (!lc_ok)
        SLQ_WHY("last_commit is missing or does not match last_commit_hash");
    else if (c->tip.height > 0 &&
             consensus_cert_verify(suite, ledger_chain_id(c->l), g->validators, g->n_validators,
                                   b->last_commit.data, b->last_commit.len, c->tip.height,
                                   c->tip.hash, why, why_cap) != SLQ_OK)
        return SLQ_BLOCK_INVALID;
    else
        return SLQ_OK;
    return SLQ_BLOCK_INVALID;
}

/* Decodes, checks and applies every tx; compares the Merkle root. */
static slq_err replay_txs(chain *c, const Slq__Block *b, const Slq__BlockHeader *h, char *why,
                          size_t why_cap) {
    uint8_t(*hashes)[CRYPTO_HASH_BYTES] = malloc((b->n_txs + 1) * sizeof *hashes);
    if (hashes == NULL) return SLQ_NO_MEMORY;
    slq_err err = SLQ_OK;
    for (size_t i = 0; i < b->n_txs && err == SLQ_OK; i++) {
        ledger_tx tx;
        uint8_t hash[CRYPTO_HASH_BYTES];
        crypto_hash(ledger_suite(c->l), hash, b->txs[i].data, b->txs[i].len);
        bool known = c->verified != NULL && c->verified(c->verified_arg, hash);
        err = known ? ledger_tx_decode_verified(&tx, c->l, b->txs[i].data, b->txs[i].len)
                    : ledger_tx_decode(&tx, c->l, b->txs[i].data, b->txs[i].len);
        if (err != SLQ_OK) {
            SLQ_WHY("tx %zu: %s", i, slq_err_str(err));
            break;
        }
        ledger_block_ctx ctx = {.height = h->height, .time_ms = h->time_ms, .index = (uint32_t) i};
        ledger_outcome out;
        err = ledger_apply(c->l, c->st, &ctx, &tx, &out);
        if (err != SLQ_OK) SLQ_WHY("tx %zu: %s", i, out.reason);
        memcpy(hashes[i], tx.hash, CRYPTO_HASH_BYTES);
        ledger_tx_free(&tx);
    }
    uint8_t root[CRYPTO_HASH_BYTES];
    if (err == SLQ_OK) {
        crypto_merkle_root(ledger_suite(c->l), root, (const uint8_t(*)[CRYPTO_HASH_BYTES]) hashes,
                           b->n_txs);
        if (h->txs_root.len != CRYPTO_HASH_BYTES ||
            memcmp(root, h->txs_root.data, CRYPTO_HASH_BYTES) != 0) {
            SLQ_WHY("txs_root does not match the transactions");
            err = SLQ_BLOCK_INVALID;
        }
    }
    free(hashes);
    return err == SLQ_OK || chain_local_fault(err) ? err : SLQ_BLOCK_INVALID;
}

typedef struct {
    const uint8_t *cert; /* NULL: do not check a certificate (a proposal) */
    size_t cert_len;
    int64_t max_time_ms; /* 0: no bound on the block time */
    bool commit;
    uint8_t *hash; /* out: the block hash */
} execute_opts;

/* Decodes, checks and replays a block on the pending state; commits it if asked, else
 * drops the pending state. */
static slq_err execute_block(chain *c, const uint8_t *block, size_t len, const execute_opts *o,
                             char *why, size_t why_cap) {
    if (len > SLQ_BLOCK_BYTES_MAX) return SLQ_BLOCK_TOO_LARGE;
    Slq__Block *b = slq__block__unpack(NULL, len, block);
    Slq__BlockHeader *h =
        b == NULL ? NULL : slq__block_header__unpack(NULL, b->header.len, b->header.data);
    slq_err err = SLQ_OK;
    if (h == NULL || b->base.n_unknown_fields != 0) {
        SLQ_WHY("block does not decode");
        err = SLQ_BLOCK_MALFORMED;
    } else if (b->n_txs > SLQ_BLOCK_TXS_MAX) {
        err = SLQ_BLOCK_TOO_LARGE;
    }
    if (err == SLQ_OK) err = check_header(c, b, h, why, why_cap);
    if (err == SLQ_OK && o->max_time_ms > 0 && h->time_ms > o->max_time_ms) {
        SLQ_WHY("block time %lld runs ahead of our clock", (long long) h->time_ms);
        err = SLQ_BLOCK_INVALID;
    }
    chain_proposal p = {.height = c->tip.height + 1};
    if (err == SLQ_OK) crypto_hash(ledger_suite(c->l), p.hash, b->header.data, b->header.len);
    if (err == SLQ_OK && o->hash != NULL) memcpy(o->hash, p.hash, CRYPTO_HASH_BYTES);
    if (err == SLQ_OK && o->cert != NULL) {
        const Slq__Genesis *g = ledger_genesis(c->l);
        err = consensus_cert_verify(ledger_suite(c->l), ledger_chain_id(c->l), g->validators,
                                    g->n_validators, o->cert, o->cert_len, p.height, p.hash, why,
                                    why_cap);
    }
    /* The replay of this very block may be kept from checking or building it. */
    bool replayed =
        err == SLQ_OK && c->kept && memcmp(c->kept_hash, p.hash, CRYPTO_HASH_BYTES) == 0;
    if (!replayed) drop_kept(c);
    c->pending = true;
    if (err == SLQ_OK && !replayed) err = replay_txs(c, b, h, why, why_cap);
    if (err == SLQ_OK && !o->commit) {
        c->kept = true;
        memcpy(c->kept_hash, p.hash, CRYPTO_HASH_BYTES);
    }
    if (err == SLQ_OK && o->commit) {
        p.time_ms = h->time_ms;
        p.block = malloc(len == 0 ? 1 : len);
        err = p.block == NULL ? SLQ_NO_MEMORY : SLQ_OK;
        if (err == SLQ_OK) memcpy(p.block, block, len), p.block_len = len;
        if (err == SLQ_OK) err = chain_commit(c, &p, o->cert, o->cert_len);
    }
    if (c->pending && !c->kept) chain_abandon(c, &p);
    if (err != SLQ_OK && c->pending) chain_abandon(c, &p);
    if (h != NULL) slq__block_header__free_unpacked(h, NULL);
    if (b != NULL) slq__block__free_unpacked(b, NULL);
    return err;
}

/* Every refusal says why: where no check wrote a reason, the error's own text does. */
static slq_err why_filled(slq_err err, char *why, size_t why_cap) {
    if (err != SLQ_OK && why != NULL && why_cap > 0 && why[0] == '\0')
        SLQ_WHY("%s (%s)", slq_err_str(err), slq_err_name(err));
    return err;
}

slq_err chain_apply_block(chain *c, const uint8_t *block, size_t len, const uint8_t *cert,
                          size_t cert_len, char *why, size_t why_cap) {
    if (why != NULL && why_cap > 0) why[0] = '\0';
    if (cert == NULL) return why_filled(SLQ_CERT_INVALID, why, why_cap);
    execute_opts o = {.cert = cert, .cert_len = cert_len, .commit = true};
    return why_filled(execute_block(c, block, len, &o, why, why_cap), why, why_cap);
}

slq_err chain_check_block(chain *c, const uint8_t *block, size_t len, int64_t max_time_ms,
                          uint8_t hash[CRYPTO_HASH_BYTES], char *why, size_t why_cap) {
    if (why != NULL && why_cap > 0) why[0] = '\0';
    execute_opts o = {.max_time_ms = max_time_ms, .hash = hash};
    return why_filled(execute_block(c, block, len, &o, why, why_cap), why, why_cap);
}
