/* world.c: what the simulator builds once (deterministic keys, the fixture genesis, the
 * validator set, a pool of pre-signed transactions) and the per-seed helpers around values:
 * the block arena, building a block with the real ledger (the proposer keeps the pool
 * transactions that apply), checking one on a scratch state over the node's committed state,
 * signing consensus messages and a cache of verified signatures and certificates.
 *
 * The cache is a simulation shortcut: every node would verify the same signature bytes over
 * the same message with the same key, so each distinct (key, message, signature) is verified
 * once per seed with crypto_verify and each distinct certificate once with
 * consensus_cert_verify. Invalid ones are never cached. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define SUITE CRYPTO_SUITE_ED25519_SHA256

/* An Ed25519 key from 32 bytes derived from i: PKCS#8 DER = fixed prefix || seed. */
static crypto_key *derived_key(uint32_t i) {
    static const uint8_t prefix[16] = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                       0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t der[48], tag[16] = "slq-sim-key";
    memcpy(der, prefix, sizeof prefix);
    tag[12] = (uint8_t) i;
    crypto_hash(SUITE, der + 16, tag, sizeof tag);
    char pem[160] = "-----BEGIN PRIVATE KEY-----\n";
    size_t n = strlen(pem);
    for (size_t k = 0; k < sizeof der; k += 3) {
        uint32_t v = (uint32_t) der[k] << 16 | (uint32_t) der[k + 1] << 8 | der[k + 2];
        for (int j = 3; j >= 0; j--) pem[n++] = b64[(v >> (6 * j)) & 63u];
    }
    snprintf(pem + n, sizeof pem - n, "\n-----END PRIVATE KEY-----\n");
    crypto_key *key = NULL;
    SLQ_ASSERT(crypto_key_load_pem(&key, pem, strlen(pem), NULL) == SLQ_OK);
    return key;
}

/* Decodes the fixture's last signed transaction into the pool; `ok` is what the script
 * expects the ledger to have said. */
static void keep(sim_world *w, slq_err err, bool ok) {
    if ((err == SLQ_OK) != ok) fprintf(stderr, "sim pool %zu: %s\n", w->pool_n, slq_err_name(err));
    SLQ_ASSERT((err == SLQ_OK) == ok);
    SLQ_ASSERT(w->pool_n < SIM_POOL_MAX);
    SLQ_ASSERT(ledger_tx_decode(&w->pool[w->pool_n++], w->f.l, w->f.last_bytes, w->f.last_len) ==
               SLQ_OK);
}

/* A valid sequence of every transaction kind, with invalid ones in between. */
static void pool_script(sim_world *w) {
    fx *f = &w->f;
    uint8_t v1[32], v2[32], v3[32], v4[32], v5[32], v1c[32], v2c[32], c1[32], c2[32];
    keep(w, fx_register(f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), true);
    keep(w, fx_register(f, K_H2, SLQ__ROLE__ROLE_RESEARCH, ""), true);
    keep(w, fx_register(f, K_H3, SLQ__ROLE__ROLE_MAKER, "group-b"), true);
    keep(w, fx_issue(f, v1, K_H1, P_GENERAL, 500000, 0, NULL, 0), true);
    keep(w, fx_issue(f, NULL, K_H1, P_GENERAL, 2 * FX_CITY_CAP, 0, NULL, 0), false);
    keep(w, fx_issue(f, v2, K_H2, P_GENERAL, 300000, 0, NULL, 0), true);
    keep(w, fx_issue_as(f, K_H1, (fx_issue_args){K_H2, P_GENERAL, 1000, 0, NULL, 0}, NULL), false);
    keep(w, fx_issue(f, v3, K_H3, P_GENERAL, 200000, 0, NULL, 0), true);
    keep(w, fx_issue(f, v4, K_H1, P_SHARED, 100000, 0, NULL, 0), true);
    keep(w, fx_transfer(f, K_H1, v1, K_CENTRE1, 500000), true);
    memcpy(v1c, f->out.vouchers[0], 32);
    keep(w, fx_transfer(f, K_H2, v2, K_CENTRE2, 100000), true);
    memcpy(v2c, f->out.vouchers[0], 32);
    keep(w, fx_transfer(f, K_H1, v4, K_H2, 40000), true);
    keep(w, fx_redeem(f, K_CENTRE1, (const uint8_t(*)[32]) v1c, 1, "contract-1"), true);
    memcpy(c1, f->out.claim, 32);
    keep(w, fx_settle(f, K_FINANCE, c1, "pay-1"), false); /* not reviewed yet */
    keep(w, fx_review(f, K_FINANCE, c1, true, "invoice checked"), true);
    keep(w, fx_settle(f, K_FINANCE, c1, "pay-1"), true);
    keep(w, fx_revoke(f, K_ISSUER, v3, "audit finding"), true);
    keep(w, fx_redeem(f, K_CENTRE2, (const uint8_t(*)[32]) v2c, 1, "contract-1"), false);
    keep(w, fx_redeem(f, K_CENTRE2, (const uint8_t(*)[32]) v2c, 1, "contract-2"), true);
    memcpy(c2, f->out.claim, 32);
    keep(w, fx_issue(f, v5, K_H3, P_PROVINCIAL, 30000, 100000, NULL, 0), true);
    keep(w, fx_transfer(f, K_H3, v5, K_CENTRE2, 30000), false); /* related party */
    keep(w, fx_transfer(f, K_H3, v5, K_CENTRE1, 30000), true);
    keep(w, fx_review(f, K_REGULATOR, c2, true, "delivery verified"), true);
    keep(w, fx_settle(f, K_FINANCE, c2, "pay-2"), true);
    keep(w, fx_issue(f, NULL, K_H2, P_NATIONAL, 0, 100, NULL, 0), false);
    keep(w, fx_issue(f, NULL, K_H2, P_OUTSIDE, 700000, 0, NULL, 0), true);
    keep(w, fx_settle(f, K_FINANCE, c2, "pay-3"), false); /* settled already */
}

void sim_world_init(sim_world *w) {
    memset(w, 0, sizeof *w);
    fx *f = &w->f;
    f->suite = SUITE;
    for (uint32_t i = 0; i < K_COUNT; i++) {
        f->keys[i] = derived_key(100 + i);
        uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(f->keys[i], pub, sizeof pub, &n) == SLQ_OK);
        SLQ_ASSERT(crypto_address(SUITE, f->addr[i], pub, n) == SLQ_OK);
    }
    uint8_t *g;
    size_t len;
    fx_genesis_bytes(f, &g, &len);
    SLQ_ASSERT(ledger_create(&f->l, g, len, NULL, 0) == SLQ_OK);
    free(g);
    SLQ_ASSERT(ledger_state_create(&f->st, NULL) == SLQ_OK);
    SLQ_ASSERT(ledger_genesis_state(f->l, f->st) == SLQ_OK);
    w->base_time_ms = cst_ms(2024, 6, 1, 12, 0);
    f->time_ms = w->base_time_ms;
    f->height = 1;
    for (uint32_t i = 0; i < SIM_VALIDATORS_MAX; i++) {
        w->vkeys[i] = derived_key(i);
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(w->vkeys[i], w->vpub[i], sizeof w->vpub[i], &n) == SLQ_OK);
        SLQ_ASSERT(n == 32);
        slq__validator__init(&w->vals[i]);
        w->vals[i].pubkey = (ProtobufCBinaryData){32, w->vpub[i]};
        w->vals[i].name = "sim";
        w->vals[i].power = 1;
        w->vp[i] = &w->vals[i];
    }
    pool_script(w);
}

void sim_world_deinit(sim_world *w) {
    for (size_t i = 0; i < w->pool_n; i++) ledger_tx_free(&w->pool[i]);
    for (size_t i = 0; i < SIM_VALIDATORS_MAX; i++) crypto_key_destroy(w->vkeys[i]);
    fx_deinit(&w->f);
}

/* ---- signing and the verification cache ---- */

size_t sim_sign_bytes(uint8_t out[CONSENSUS_VOTE_BYTES_MAX], const sim_world *w,
                      consensus_msg_type type, uint64_t h, uint32_t round, int32_t pol_round,
                      const tm_block_id *id) {
    static const tm_block_id nil;
    bool is_nil = memcmp(id->hash, nil.hash, 32) == 0;
    consensus_vote_fields f = {type, h, round, pol_round, is_nil ? NULL : id->hash};
    return consensus_vote_bytes(out, ledger_chain_id(w->f.l), &f);
}

void sim_sign(const sim_world *w, uint32_t validator, const uint8_t *msg, size_t len,
              uint8_t sig[TM_SIG_BYTES_MAX], size_t *sig_len) {
    SLQ_ASSERT(validator < SIM_VALIDATORS_MAX);
    SLQ_ASSERT(crypto_sign(w->vkeys[validator], sig, TM_SIG_BYTES_MAX, sig_len, msg, len) ==
               SLQ_OK);
}

/* Finds key in the cache; with insert, adds it when absent (and there is room). */
static bool cache_lookup(sim *s, const uint8_t key[32], bool insert) {
    uint32_t i = ((uint32_t) key[0] << 8 | key[1]) % SIM_CACHE_SLOTS;
    for (uint32_t probes = 0; probes < SIM_CACHE_SLOTS; probes++, i = (i + 1) % SIM_CACHE_SLOTS) {
        sim_cache_slot *c = &s->cache[i];
        if (c->gen != s->cache_gen) {
            if (!insert || s->cache_used >= SIM_CACHE_SLOTS * 3 / 4) return false;
            memcpy(c->key, key, 32);
            c->gen = s->cache_gen;
            s->cache_used++;
            return false;
        }
        if (memcmp(c->key, key, 32) == 0) return true;
    }
    return false;
}

bool sim_verify_sig(sim *s, uint32_t validator, const uint8_t *msg, size_t len, const uint8_t *sig,
                    size_t sig_len) {
    if (validator >= s->n || sig_len == 0 || sig_len > TM_SIG_BYTES_MAX) return false;
    crypto_hasher h;
    uint8_t key[32], tag[5] = {'S', (uint8_t) validator, 0, 0, (uint8_t) sig_len};
    crypto_hasher_init(&h, SUITE);
    crypto_hasher_update(&h, tag, sizeof tag);
    crypto_hasher_update(&h, msg, len);
    crypto_hasher_update(&h, sig, sig_len);
    crypto_hasher_final(&h, key);
    if (cache_lookup(s, key, false)) return true;
    if (crypto_verify(SUITE, s->w->vpub[validator], 32, msg, len, sig, sig_len) != SLQ_OK)
        return false;
    (void) cache_lookup(s, key, true); /* false: it was absent, now it is cached */
    return true;
}

bool sim_verify_cert(sim *s, uint64_t h, const tm_block_id *id, const uint8_t *cert, size_t len) {
    crypto_hasher hs;
    uint8_t key[32], tag[9] = {'C'};
    for (int i = 0; i < 8; i++) tag[1 + i] = (uint8_t) (h >> (8 * i));
    crypto_hasher_init(&hs, SUITE);
    crypto_hasher_update(&hs, tag, sizeof tag);
    crypto_hasher_update(&hs, id->hash, 32);
    crypto_hasher_update(&hs, cert, len);
    crypto_hasher_final(&hs, key);
    if (cache_lookup(s, key, false)) return true;
    char why[160];
    const sim_world *w = s->w;
    if (consensus_cert_verify(SUITE, ledger_chain_id(w->f.l), w->vp, s->n, cert, len, h, id->hash,
                              why, sizeof why) != SLQ_OK) {
        sim_log(s, "certificate of height %llu: %s\n", (unsigned long long) h, why);
        return false;
    }
    (void) cache_lookup(s, key, true);
    return true;
}

/* ---- blocks ---- */

uint32_t sim_block_add(sim *s, const sim_block *b) {
    if (s->blocks_n == s->blocks_cap) {
        s->blocks_cap = s->blocks_cap ? 2 * s->blocks_cap : 256;
        s->blocks = realloc(s->blocks, s->blocks_cap * sizeof *s->blocks);
        SLQ_ASSERT(s->blocks != NULL);
    }
    sim_block *x = &s->blocks[s->blocks_n];
    *x = *b;
    crypto_hasher h;
    uint8_t buf[8 + 8 + 4];
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t) (x->height >> (56 - 8 * i));
    for (int i = 0; i < 8; i++) buf[8 + i] = (uint8_t) ((uint64_t) x->time_ms >> (56 - 8 * i));
    for (int i = 0; i < 4; i++) buf[16 + i] = (uint8_t) (x->ntx >> (24 - 8 * i));
    crypto_hasher_init(&h, SUITE);
    crypto_hasher_update(&h, (const uint8_t *) "slq-sim-block", 13);
    crypto_hasher_update(&h, buf, sizeof buf);
    crypto_hasher_update(&h, x->prev.hash, 32);
    for (uint32_t i = 0; i < x->ntx && i < SIM_BLOCK_TXS_MAX; i++) {
        uint8_t idx[2] = {(uint8_t) (x->tx[i] >> 8), (uint8_t) x->tx[i]};
        crypto_hasher_update(&h, idx, 2);
        if (x->tx[i] < s->w->pool_n) crypto_hasher_update(&h, s->w->pool[x->tx[i]].hash, 32);
    }
    crypto_hasher_final(&h, x->id.hash);
    return (uint32_t) s->blocks_n++;
}

static slq_err view_get(void *ctx, const uint8_t *key, size_t key_len, uint8_t **val,
                        size_t *val_len) {
    const uint8_t *v;
    size_t n;
    slq_err err = ledger_state_get(ctx, key, key_len, &v, &n);
    if (err != SLQ_OK) return err;
    *val = malloc(n > 0 ? n : 1);
    if (*val == NULL) return SLQ_NO_MEMORY;
    memcpy(*val, v, n);
    *val_len = n;
    return SLQ_OK;
}

static slq_err apply_tx(sim *s, ledger_state *st, const sim_block *b, uint32_t i, uint16_t tx) {
    ledger_block_ctx ctx = {b->height, b->time_ms, i};
    ledger_outcome out;
    return ledger_apply(s->w->f.l, st, &ctx, &s->w->pool[tx], &out);
}

/* Makes b invalid: it repeats a transaction (the second one fails on its nonce), or carries
 * an already committed one, or, empty, goes back in time. */
static void make_invalid(sim *s, const sim_node *nd, sim_block *b) {
    if (b->ntx > 0) {
        if (b->ntx == SIM_BLOCK_TXS_MAX) b->ntx--;
        b->tx[b->ntx] = b->tx[0];
        b->ntx++;
        return;
    }
    for (uint16_t i = 0; i < s->w->pool_n; i++)
        if (nd->tx_done[i]) {
            b->tx[b->ntx++] = i;
            return;
        }
    b->time_ms = nd->tip_time_ms;
}

uint32_t sim_block_build(sim *s, const sim_node *nd, uint32_t round, bool invalid) {
    sim_block b;
    memset(&b, 0, sizeof b);
    b.height = nd->tip + 1;
    b.time_ms = nd->tip_time_ms + 1000 + round;
    b.prev = nd->tip_id;
    ledger_view view = {nd->st, view_get};
    ledger_state *scratch;
    SLQ_ASSERT(ledger_state_create(&scratch, &view) == SLQ_OK);
    for (size_t i = 0; i < s->w->pool_n && b.ntx < SIM_BLOCK_TXS_MAX; i++) {
        if (nd->tx_done[i]) continue;
        if (apply_tx(s, scratch, &b, b.ntx, (uint16_t) i) == SLQ_OK) b.tx[b.ntx++] = (uint16_t) i;
    }
    if (invalid) make_invalid(s, nd, &b);
    ledger_state_destroy(scratch);
    return sim_block_add(s, &b);
}

bool sim_block_check(sim *s, const sim_node *nd, uint32_t bi) {
    const sim_block *b = &s->blocks[bi];
    if (b->height != nd->tip + 1 || memcmp(b->prev.hash, nd->tip_id.hash, 32) != 0 ||
        b->time_ms <= nd->tip_time_ms || b->ntx > SIM_BLOCK_TXS_MAX)
        return false;
    for (uint32_t i = 0; i < b->ntx; i++)
        if (b->tx[i] >= s->w->pool_n) return false;
    ledger_view view = {nd->st, view_get};
    ledger_state *scratch;
    SLQ_ASSERT(ledger_state_create(&scratch, &view) == SLQ_OK);
    bool ok = true;
    for (uint32_t i = 0; i < b->ntx && ok; i++) ok = apply_tx(s, scratch, b, i, b->tx[i]) == SLQ_OK;
    ledger_state_destroy(scratch);
    return ok;
}

slq_err sim_block_apply(sim *s, ledger_state *st, const sim_block *b) {
    for (uint32_t i = 0; i < b->ntx; i++) {
        slq_err err = apply_tx(s, st, b, i, b->tx[i]);
        if (err != SLQ_OK) return err;
    }
    return SLQ_OK;
}
