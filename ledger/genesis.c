/* genesis.c: decoding and validating the chain's genesis, and the genesis state.
 *
 * Genesis is the chain's constitution: suite, chain id, validators, the parties registered
 * from the start and the policy (window, city cap, programs). Everything in it is checked
 * once here, so the rules in apply.c can rely on it (e.g. a program's share is <= 100%, its
 * centres are genesis centres). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "slq/assert.h"
#include "slq/keys.h"
#include "slq/limits.h"
#include "slq/why.h"

bool ledger_chain_id_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > SLQ_CHAIN_ID_BYTES_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/* Length of the UTF-8 sequence at s (1..4), or 0 if it is not well formed. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

bool ledger_text_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    const unsigned char *p = (const unsigned char *) s;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x20 || p[i] == 0x7f) return false;
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) return false;
        i += k;
    }
    return true;
}

bool ledger_role_valid(Slq__Role r) {
    return r >= SLQ__ROLE__ROLE_ISSUER && r <= SLQ__ROLE__ROLE_REGULATOR;
}

bool ledger_role_can_hold(Slq__Role r) {
    return r == SLQ__ROLE__ROLE_ENTERPRISE || r == SLQ__ROLE__ROLE_MAKER ||
           r == SLQ__ROLE__ROLE_RESEARCH || r == SLQ__ROLE__ROLE_UNIVERSITY ||
           r == SLQ__ROLE__ROLE_INTERMEDIARY;
}

bool ledger_role_needs_credit_code(Slq__Role r) {
    return ledger_role_can_hold(r);
}

#define FAIL(...)                   \
    do {                            \
        SLQ_WHY(__VA_ARGS__);       \
        return SLQ_GENESIS_INVALID; \
    } while (0)

static slq_err check_program(const Slq__Program *p, char *why, size_t why_cap) {
    if (p->base.n_unknown_fields != 0) FAIL("program has unknown fields");
    if (!ledger_text_ok(p->name, SLQ_NAME_BYTES_MAX)) FAIL("program name is empty or invalid");
    if (p->annual_cap_fen < 0 || p->holder_annual_cap_fen < 0 || p->expiry_ms < 0)
        FAIL("program %s: caps and expiry must not be negative", p->name);
    if (p->redeem_grace_ms < 0) FAIL("program %s: redeem grace must not be negative", p->name);
    if (p->max_share_bp > 10000) FAIL("program %s: share above 10000 bp", p->name);
    if (p->n_edges > SLQ_EDGES_MAX) FAIL("program %s: too many transfer edges", p->name);
    for (size_t i = 0; i < p->n_edges; i++) {
        const Slq__TransferEdge *e = p->edges[i];
        bool ok = e->from >= SLQ__PARTY__PARTY_HOLDER &&
                  e->from <= SLQ__PARTY__PARTY_INTERMEDIARY && e->to >= SLQ__PARTY__PARTY_HOLDER &&
                  e->to <= SLQ__PARTY__PARTY_INTERMEDIARY;
        if (!ok || e->base.n_unknown_fields != 0)
            FAIL("program %s: transfer edge %zu is invalid", p->name, i);
    }
    return SLQ_OK;
}

static slq_err check_policy(const Slq__Policy *p, char *why, size_t why_cap) {
    if (p == NULL) FAIL("policy is missing");
    if (p->base.n_unknown_fields != 0) FAIL("policy has unknown fields");
    if (p->valid_from_ms >= p->valid_until_ms) FAIL("policy window is empty");
    if (p->city_annual_cap_fen <= 0) FAIL("city annual cap must be positive");
    if (p->n_programs == 0 || p->n_programs > SLQ_PROGRAMS_MAX)
        FAIL("need 1..%u programs", SLQ_PROGRAMS_MAX);
    for (size_t i = 0; i < p->n_programs; i++) {
        slq_err e = check_program(p->programs[i], why, why_cap);
        if (e != SLQ_OK) return e;
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->programs[i]->name, p->programs[j]->name) == 0)
                FAIL("program %s is listed twice", p->programs[i]->name);
    }
    if (p->n_payers > SLQ_PAYERS_MAX) FAIL("more than %u payers", SLQ_PAYERS_MAX);
    for (size_t i = 0; i < p->n_payers; i++) {
        if (!ledger_text_ok(p->payers[i], SLQ_NAME_BYTES_MAX))
            FAIL("payer %zu is empty or invalid", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->payers[i], p->payers[j]) == 0)
                FAIL("payer %s is listed twice", p->payers[i]);
    }
    return SLQ_OK;
}

static slq_err check_validators(const Slq__Genesis *g, crypto_suite suite, char *why,
                                size_t why_cap) {
    if (g->n_validators == 0 || g->n_validators > SLQ_VALIDATORS_MAX)
        FAIL("need 1..%u validators", SLQ_VALIDATORS_MAX);
    for (size_t i = 0; i < g->n_validators; i++) {
        const Slq__Validator *v = g->validators[i];
        if (v->base.n_unknown_fields != 0) FAIL("validator %zu has unknown fields", i);
        if (v->pubkey.len != crypto_pubkey_len(suite))
            FAIL("validator %zu: public key is not a %s key", i, crypto_suite_name(suite));
        if (v->power == 0 || v->power > 1000000) FAIL("validator %zu: power must be 1..1000000", i);
        if (!ledger_text_ok(v->name, SLQ_NAME_BYTES_MAX)) FAIL("validator %zu: bad name", i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(g->validators[j]->pubkey.data, v->pubkey.data, v->pubkey.len) == 0)
                FAIL("validator %zu is listed twice", i);
    }
    return SLQ_OK;
}

/* Fills addr from the account's address and/or public key, which must agree. */
static slq_err account_address(const Slq__GenesisAccount *a, crypto_suite suite,
                               uint8_t addr[CRYPTO_ADDRESS_BYTES]) {
    if (a->pubkey.len > 0) {
        if (crypto_address(suite, addr, a->pubkey.data, a->pubkey.len) != SLQ_OK)
            return SLQ_PUBKEY_INVALID;
        if (a->address.len == 0) return SLQ_OK;
        return a->address.len == CRYPTO_ADDRESS_BYTES &&
                       memcmp(a->address.data, addr, CRYPTO_ADDRESS_BYTES) == 0
                   ? SLQ_OK
                   : SLQ_ADDRESS_INVALID;
    }
    if (a->address.len != CRYPTO_ADDRESS_BYTES) return SLQ_ADDRESS_INVALID;
    memcpy(addr, a->address.data, CRYPTO_ADDRESS_BYTES);
    return SLQ_OK;
}

/* True when both accounts are holder-class and name the same credit code: genesis keeps the
 * REGISTER rule of one account per credit code (apply.c). */
static bool same_credit_code(const Slq__GenesisAccount *x, const Slq__GenesisAccount *y) {
    return ledger_role_can_hold(x->role) && ledger_role_can_hold(y->role) &&
           memcmp(x->credit_code_hash.data, y->credit_code_hash.data, CRYPTO_HASH_BYTES) == 0;
}

static slq_err check_accounts(const Slq__Genesis *g, crypto_suite suite, char *why,
                              size_t why_cap) {
    if (g->n_accounts > SLQ_GENESIS_ACCOUNTS_MAX) FAIL("too many genesis accounts");
    size_t issuers = 0;
    uint8_t(*seen)[CRYPTO_ADDRESS_BYTES] = calloc(g->n_accounts + 1, CRYPTO_ADDRESS_BYTES);
    if (seen == NULL) return SLQ_NO_MEMORY;
    slq_err err = SLQ_OK;
    for (size_t i = 0; i < g->n_accounts && err == SLQ_OK; i++) {
        const Slq__GenesisAccount *a = g->accounts[i];
        err = SLQ_GENESIS_INVALID;
        if (a->base.n_unknown_fields != 0 || account_address(a, suite, seen[i]) != SLQ_OK) {
            SLQ_WHY("account %zu: address and key are invalid", i);
        } else if (!ledger_role_valid(a->role) || !ledger_text_ok(a->name, SLQ_NAME_BYTES_MAX)) {
            SLQ_WHY("account %zu: bad role or name", i);
        } else if ((a->credit_code_hash.len != 0 && a->credit_code_hash.len != 32) ||
                   (a->affiliation[0] != '\0' &&
                    !ledger_text_ok(a->affiliation, SLQ_AFFILIATION_BYTES_MAX))) {
            SLQ_WHY("account %zu: bad credit code or affiliation", i);
        } else if (ledger_role_can_hold(a->role) && a->credit_code_hash.len != CRYPTO_HASH_BYTES) {
            SLQ_WHY("account %zu: a holder-class role needs its credit code hash", i);
        } else {
            err = SLQ_OK;
            for (size_t j = 0; j < i; j++)
                if (memcmp(seen[j], seen[i], CRYPTO_ADDRESS_BYTES) == 0) err = SLQ_GENESIS_INVALID;
            if (err != SLQ_OK) SLQ_WHY("account %zu is listed twice", i);
            for (size_t j = 0; j < i && err == SLQ_OK; j++) {
                if (!same_credit_code(g->accounts[j], a)) continue;
                err = SLQ_GENESIS_INVALID;
                SLQ_WHY("account %zu: credit code of account %zu", i, j);
            }
            issuers += a->role == SLQ__ROLE__ROLE_ISSUER;
        }
    }
    free(seen);
    if (err == SLQ_OK && issuers == 0) FAIL("genesis registers no issuer");
    return err;
}

static bool pays_a_centre(const Slq__Program *p) {
    for (size_t i = 0; i < p->n_edges; i++)
        if (p->edges[i]->to == SLQ__PARTY__PARTY_CENTRE) return true;
    return false;
}

/* Index of the genesis account at addr among addrs[0..n), or -1. */
static long account_index(const uint8_t (*addrs)[CRYPTO_ADDRESS_BYTES], size_t n,
                          const uint8_t *addr) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(addrs[i], addr, CRYPTO_ADDRESS_BYTES) == 0) return (long) i;
    return -1;
}

/* A program's centres: genesis accounts of role centre, each once; a program whose edges pay
 * a centre names at least one (no list would have to mean "any centre", which the issuer
 * could widen by registering one). addrs are the accounts' addresses. */
static slq_err check_program_centres(const Slq__Genesis *g, const Slq__Program *p,
                                     const uint8_t (*addrs)[CRYPTO_ADDRESS_BYTES], char *why,
                                     size_t why_cap) {
    if (p->n_centres > SLQ_PROGRAM_CENTRES_MAX) FAIL("program %s: too many centres", p->name);
    if (p->n_centres == 0 && pays_a_centre(p))
        FAIL("program %s: an edge pays a centre, so it must name its centres", p->name);
    for (size_t i = 0; i < p->n_centres; i++) {
        const ProtobufCBinaryData *c = &p->centres[i];
        long at =
            c->len == CRYPTO_ADDRESS_BYTES ? account_index(addrs, g->n_accounts, c->data) : -1;
        if (at < 0 || g->accounts[at]->role != SLQ__ROLE__ROLE_CENTRE)
            FAIL("program %s: centre %zu is not a genesis account of role centre", p->name, i);
        for (size_t j = 0; j < i; j++)
            if (memcmp(p->centres[j].data, c->data, CRYPTO_ADDRESS_BYTES) == 0)
                FAIL("program %s: centre %zu is listed twice", p->name, i);
    }
    return SLQ_OK;
}

/* Runs after check_accounts: every account has a valid address. */
static slq_err check_centres(const Slq__Genesis *g, crypto_suite suite, char *why, size_t why_cap) {
    uint8_t(*addrs)[CRYPTO_ADDRESS_BYTES] = calloc(g->n_accounts + 1, CRYPTO_ADDRESS_BYTES);
    if (addrs == NULL) return SLQ_NO_MEMORY;
    for (size_t i = 0; i < g->n_accounts; i++)
        SLQ_ASSERT(account_address(g->accounts[i], suite, addrs[i]) == SLQ_OK);
    slq_err err = SLQ_OK;
    const Slq__Policy *pol = g->policy;
    for (size_t i = 0; i < pol->n_programs && err == SLQ_OK; i++)
        err = check_program_centres(g, pol->programs[i],
                                    (const uint8_t(*)[CRYPTO_ADDRESS_BYTES]) addrs, why, why_cap);
    free(addrs);
    return err;
}

static slq_err check_genesis(const Slq__Genesis *g, crypto_suite *suite, char *why,
                             size_t why_cap) {
    if (g->base.n_unknown_fields != 0) FAIL("genesis has unknown fields");
    if (crypto_suite_parse(suite, g->suite) != SLQ_OK) FAIL("unknown suite \"%s\"", g->suite);
    if (!ledger_chain_id_ok(g->chain_id)) FAIL("chain id must be 1..64 of [a-z0-9._-]");
    if (g->time_ms <= 0) FAIL("genesis time must be positive");
    slq_err e = check_policy(g->policy, why, why_cap);
    if (e == SLQ_OK) e = check_validators(g, *suite, why, why_cap);
    if (e == SLQ_OK) e = check_accounts(g, *suite, why, why_cap);
    if (e == SLQ_OK) e = check_centres(g, *suite, why, why_cap);
    return e;
}

slq_err ledger_create(ledger **out, const uint8_t *genesis, size_t len, char *why, size_t why_cap) {
    if (why != NULL && why_cap > 0) why[0] = '\0';
    if (len > SLQ_GENESIS_BYTES_MAX) FAIL("genesis exceeds %u bytes", SLQ_GENESIS_BYTES_MAX);
    Slq__Genesis *g = slq__genesis__unpack(NULL, len, genesis);
    if (g == NULL) FAIL("genesis bytes do not decode");
    crypto_suite suite;
    slq_err err = check_genesis(g, &suite, why, why_cap);
    ledger *l = err == SLQ_OK ? calloc(1, sizeof *l) : NULL;
    if (l == NULL) {
        slq__genesis__free_unpacked(g, NULL);
        return err == SLQ_OK ? SLQ_NO_MEMORY : err;
    }
    l->suite = suite;
    l->genesis = g;
    crypto_hash(suite, l->genesis_hash, genesis, len);
    *out = l;
    return SLQ_OK;
}

void ledger_destroy(ledger *l) {
    if (l == NULL) return;
    slq__genesis__free_unpacked(l->genesis, NULL);
    free(l);
}

crypto_suite ledger_suite(const ledger *l) {
    return l->suite;
}
const char *ledger_chain_id(const ledger *l) {
    return l->genesis->chain_id;
}
const Slq__Genesis *ledger_genesis(const ledger *l) {
    return l->genesis;
}
const uint8_t *ledger_genesis_hash(const ledger *l) {
    return l->genesis_hash;
}

bool ledger_payer_listed(const ledger *l, const char *name) {
    const Slq__Policy *p = l->genesis->policy;
    if (p->n_payers == 0) return strcmp(name, LEDGER_PAYER_DEFAULT) == 0;
    for (size_t i = 0; i < p->n_payers; i++)
        if (strcmp(p->payers[i], name) == 0) return true;
    return false;
}

int ledger_program_index(const ledger *l, const char *name) {
    const Slq__Policy *p = l->genesis->policy;
    for (size_t i = 0; i < p->n_programs; i++)
        if (strcmp(p->programs[i]->name, name) == 0) return (int) i;
    return -1;
}

slq_err ledger_genesis_state(const ledger *l, ledger_state *st) {
    const Slq__Genesis *g = l->genesis;
    for (size_t i = 0; i < g->n_accounts; i++) {
        const Slq__GenesisAccount *a = g->accounts[i];
        uint8_t addr[CRYPTO_ADDRESS_BYTES];
        SLQ_ASSERT(account_address(a, l->suite, addr) == SLQ_OK); /* checked at create */
        Slq__Account acc = SLQ__ACCOUNT__INIT;
        acc.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, addr};
        acc.role = a->role;
        acc.name = a->name;
        acc.credit_code_hash = a->credit_code_hash;
        acc.affiliation = a->affiliation;
        size_t n = slq__account__get_packed_size(&acc);
        uint8_t *buf = malloc(n == 0 ? 1 : n);
        if (buf == NULL) return SLQ_NO_MEMORY;
        slq__account__pack(&acc, buf);
        slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, addr, CRYPTO_ADDRESS_BYTES);
        slq_err err = ledger_state_put_owned(st, k.bytes, k.len, buf, n);
        if (err != SLQ_OK) return err;
        if (!ledger_role_can_hold(a->role)) continue;
        SLQ_ASSERT(a->credit_code_hash.len == CRYPTO_HASH_BYTES); /* checked at create */
        k = slq_key_bytes(SLQ_KEY_CREDIT_CODE, a->credit_code_hash.data, CRYPTO_HASH_BYTES);
        err = ledger_state_put(st, k.bytes, k.len, addr, CRYPTO_ADDRESS_BYTES);
        if (err != SLQ_OK) return err;
    }
    return SLQ_OK;
}
