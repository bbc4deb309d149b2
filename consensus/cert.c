/* cert.c: canonical vote bytes, the validator-set hash, and building and checking commit
 * certificates. The checks follow CONSENSUS.md §5: every present signature is verified
 * (not only the first quorum), each validator is counted once (entries are positional), a
 * certificate without commit entries is refused, and finality needs 3 * commit power > 2 *
 * total power. */
#include "cert.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slq/assert.h"
#include "slq/be.h"
#include "slq/limits.h"
#include "slq/why.h"

size_t consensus_vote_bytes(uint8_t out[CONSENSUS_VOTE_BYTES_MAX], const char *chain_id,
                            const consensus_vote_fields *v) {
    size_t id_len = strlen(chain_id);
    SLQ_ASSERT(id_len <= SLQ_CHAIN_ID_BYTES_MAX);
    size_t n = 0;
    out[n++] = 0x01;
    out[n++] = (uint8_t) id_len;
    memcpy(out + n, chain_id, id_len);
    n += id_len;
    out[n++] = (uint8_t) v->type;
    n += slq_put_be(out + n, v->height, 8);
    n += slq_put_be(out + n, v->round, 4);
    n += slq_put_be(out + n, (uint32_t) v->pol_round, 4);
    if (v->block_hash != NULL)
        memcpy(out + n, v->block_hash, 32);
    else
        memset(out + n, 0, 32);
    n += 32;
    SLQ_ASSERT(n <= CONSENSUS_VOTE_BYTES_MAX);
    return n;
}

void consensus_validators_hash(crypto_suite suite, uint8_t out[CRYPTO_HASH_BYTES],
                               Slq__Validator *const *validators, size_t n) {
    crypto_hasher h;
    uint8_t buf[8];
    crypto_hasher_init(&h, suite);
    crypto_hasher_update(&h, buf, slq_put_be(buf, n, 4));
    for (size_t i = 0; i < n; i++) {
        const Slq__Validator *v = validators[i];
        crypto_hasher_update(&h, buf, slq_put_be(buf, v->pubkey.len, 4));
        crypto_hasher_update(&h, v->pubkey.data, v->pubkey.len);
        crypto_hasher_update(&h, buf, slq_put_be(buf, v->power, 8));
    }
    crypto_hasher_final(&h, out);
}

slq_err consensus_cert_encode(uint8_t **out, size_t *out_len, crypto_suite suite,
                              const char *chain_id, uint64_t height, uint32_t round,
                              const uint8_t block_hash[CRYPTO_HASH_BYTES],
                              Slq__Validator *const *validators, size_t n,
                              const consensus_sig *sigs) {
    SLQ_ASSERT(n <= SLQ_VALIDATORS_MAX);
    Slq__CommitSig entries[SLQ_VALIDATORS_MAX], *ptrs[SLQ_VALIDATORS_MAX];
    uint8_t addrs[SLQ_VALIDATORS_MAX][CRYPTO_ADDRESS_BYTES];
    for (size_t i = 0; i < n; i++) {
        slq__commit_sig__init(&entries[i]);
        ptrs[i] = &entries[i];
        if (sigs[i].signature == NULL) continue;
        slq_err err =
            crypto_address(suite, addrs[i], validators[i]->pubkey.data, validators[i]->pubkey.len);
        if (err != SLQ_OK) return err;
        entries[i].flag = SLQ__COMMIT_FLAG__COMMIT_FLAG_COMMIT;
        entries[i].validator = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, addrs[i]};
        entries[i].signature =
            (ProtobufCBinaryData){sigs[i].signature_len, (uint8_t *) sigs[i].signature};
    }
    Slq__Certificate c = SLQ__CERTIFICATE__INIT;
    c.chain_id = (char *) chain_id;
    c.height = height;
    c.round = round;
    c.block_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) block_hash};
    c.n_sigs = n;
    c.sigs = ptrs;
    *out_len = slq__certificate__get_packed_size(&c);
    *out = malloc(*out_len);
    if (*out == NULL) return SLQ_NO_MEMORY;
    slq__certificate__pack(&c, *out);
    return SLQ_OK;
}

/* Refuses the certificate, with the reason in why. */
#define REFUSE(...)              \
    do {                         \
        SLQ_WHY(__VA_ARGS__);    \
        return SLQ_CERT_INVALID; \
    } while (0)

/* Checks entry i against validator v; adds its power to *commit when it is a commit. */
static slq_err check_entry(crypto_suite suite, const char *chain_id, const Slq__Certificate *c,
                           size_t i, const Slq__Validator *v, uint64_t *commit, char *why,
                           size_t why_cap) {
    const Slq__CommitSig *s = c->sigs[i];
    if (s->base.n_unknown_fields != 0) REFUSE("entry %zu has unknown fields", i);
    if (s->flag == SLQ__COMMIT_FLAG__COMMIT_FLAG_ABSENT) {
        if (s->signature.len != 0 || s->validator.len != 0)
            REFUSE("absent entry %zu is not empty", i);
        return SLQ_OK;
    }
    if (s->flag != SLQ__COMMIT_FLAG__COMMIT_FLAG_COMMIT &&
        s->flag != SLQ__COMMIT_FLAG__COMMIT_FLAG_NIL)
        REFUSE("entry %zu has an unknown flag", i);
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (crypto_address(suite, addr, v->pubkey.data, v->pubkey.len) != SLQ_OK ||
        s->validator.len != CRYPTO_ADDRESS_BYTES ||
        memcmp(s->validator.data, addr, CRYPTO_ADDRESS_BYTES) != 0)
        REFUSE("entry %zu is not validator %s", i, v->name);
    bool is_commit = s->flag == SLQ__COMMIT_FLAG__COMMIT_FLAG_COMMIT;
    consensus_vote_fields f = {.type = CONSENSUS_PRECOMMIT,
                               .height = c->height,
                               .round = c->round,
                               .pol_round = -1,
                               .block_hash = is_commit ? c->block_hash.data : NULL};
    uint8_t msg[CONSENSUS_VOTE_BYTES_MAX];
    size_t n = consensus_vote_bytes(msg, chain_id, &f);
    if (crypto_verify(suite, v->pubkey.data, v->pubkey.len, msg, n, s->signature.data,
                      s->signature.len) != SLQ_OK)
        REFUSE("signature of validator %s does not verify", v->name);
    if (is_commit) *commit += v->power;
    return SLQ_OK;
}

slq_err consensus_cert_verify(crypto_suite suite, const char *chain_id,
                              Slq__Validator *const *validators, size_t n, const uint8_t *cert,
                              size_t cert_len, uint64_t height,
                              const uint8_t block_hash[CRYPTO_HASH_BYTES], char *why,
                              size_t why_cap) {
    if (cert_len == 0 || cert_len > SLQ_FRAME_BYTES_MAX)
        REFUSE("certificate is missing or too large");
    Slq__Certificate *c = slq__certificate__unpack(NULL, cert_len, cert);
    if (c == NULL) REFUSE("certificate does not decode");
    slq_err err = SLQ_OK;
    uint64_t total = 0, commit = 0;
    if (c->base.n_unknown_fields != 0 || strcmp(c->chain_id, chain_id) != 0) {
        err = SLQ_CERT_INVALID;
        SLQ_WHY("certificate is for another chain");
    } else if (c->height != height || c->block_hash.len != CRYPTO_HASH_BYTES ||
               memcmp(c->block_hash.data, block_hash, CRYPTO_HASH_BYTES) != 0) {
        err = SLQ_CERT_INVALID;
        SLQ_WHY("certificate is for another block or height");
    } else if (c->n_sigs != n) {
        err = SLQ_CERT_INVALID;
        SLQ_WHY("certificate has %zu entries for %zu validators", c->n_sigs, n);
    }
    for (size_t i = 0; err == SLQ_OK && i < n; i++) {
        total += validators[i]->power;
        err = check_entry(suite, chain_id, c, i, validators[i], &commit, why, why_cap);
    }
    if (err == SLQ_OK && (commit == 0 || 3 * commit <= 2 * total)) {
        err = SLQ_CERT_INVALID;
        SLQ_WHY("commit power %llu of %llu is not above 2/3", (unsigned long long) commit,
                (unsigned long long) total);
    }
    slq__certificate__free_unpacked(c, NULL);
    return err;
}

bool consensus_cert_signed_by(const uint8_t *cert, size_t cert_len,
                              const uint8_t addr[CRYPTO_ADDRESS_BYTES]) {
    if (cert_len == 0 || cert_len > SLQ_FRAME_BYTES_MAX) return false;
    Slq__Certificate *c = slq__certificate__unpack(NULL, cert_len, cert);
    if (c == NULL) return false;
    bool found = false;
    for (size_t i = 0; i < c->n_sigs && !found; i++) {
        const Slq__CommitSig *s = c->sigs[i];
        bool signed_entry = s->flag == SLQ__COMMIT_FLAG__COMMIT_FLAG_COMMIT ||
                            s->flag == SLQ__COMMIT_FLAG__COMMIT_FLAG_NIL;
        found = signed_entry && s->signature.len > 0 && s->validator.len == CRYPTO_ADDRESS_BYTES &&
                memcmp(s->validator.data, addr, CRYPTO_ADDRESS_BYTES) == 0;
    }
    slq__certificate__free_unpacked(c, NULL);
    return found;
}
