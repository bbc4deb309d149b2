/* ledger_fixture.h: a small chain for ledger tests: keys for every party, a genesis with
 * the Chengdu programs plus test programs (each naming centre-1 and centre-2 as its centres,
 * `outside` only centre-1), an in-memory state, and helpers that sign,
 * decode and apply one transaction at a chosen block time. */
#ifndef SLQ_LEDGER_FIXTURE_H
#define SLQ_LEDGER_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "slq/assert.h"
#include "slq/cst.h"
#include "slq/keys.h"

enum {
    K_ISSUER,
    K_FINANCE,
    K_CENTRE1,
    K_CENTRE2,
    K_INTER,
    K_REGULATOR, /* in genesis */
    K_H1,
    K_H2,
    K_H3,
    K_STRANGER, /* registered by tests */
    K_COUNT
};

/* Programs of the fixture's policy, by index. */
enum { P_GENERAL, P_NATIONAL, P_PROVINCIAL, P_SHARED, P_OUTSIDE, P_COUNT };

#define FX_CITY_CAP              1000000000LL /* 10,000,000 yuan */
#define FX_SHARED_CAP            5000000LL    /* pool of the `shared` program */
#define FX_NATIONAL_HOLDER_CAP   300000000LL  /* one holder's yearly cap in `national-major` */
#define FX_PROVINCIAL_HOLDER_CAP 150000000LL  /* and in `provincial-major` */
#define FX_SHARE_BP              3000         /* their share of the declared cost */
#define DAY_MS                   86400000LL
#define FX_SHARED_EXPIRY_MS      (30 * DAY_MS) /* `shared` vouchers live this long from issue */
#define FX_OUTSIDE_GRACE_MS      (30 * DAY_MS) /* `outside`: redeemed this long after expiry */
#define FX_PAYER_CITY            "city"        /* the payers the fixture's policy lists */
#define FX_PAYER_DISTRICT        "高新区"

typedef struct {
    crypto_suite suite;
    crypto_key *keys[K_COUNT];
    uint8_t addr[K_COUNT][CRYPTO_ADDRESS_BYTES];
    uint64_t nonce[K_COUNT];
    ledger *l;
    ledger_state *st;
    int64_t time_ms;
    uint64_t height;
    uint32_t index;
    ledger_outcome out;
    uint8_t last_tx[CRYPTO_HASH_BYTES];
    uint8_t *last_bytes;
    size_t last_len;
    uint32_t apps_required; /* bit i: program i issues only against applications */
} fx;

/* UTC ms of a CST wall-clock date and time. */
static inline int64_t cst_ms(int y, unsigned m, unsigned d, int hh, int mm) {
    return slq_days_from_civil(y, m, d) * DAY_MS + (hh * 60LL + mm) * 60000LL - SLQ_CST_OFFSET_MS;
}

static inline Slq__Program *fx_program(const char *name, int64_t cap, int64_t holder_cap,
                                       uint32_t bp, bool shared) {
    static Slq__TransferEdge edges[3];
    static Slq__TransferEdge *ep[3];
    Slq__TransferEdge def = SLQ__TRANSFER_EDGE__INIT;
    for (int i = 0; i < 3; i++) edges[i] = def, ep[i] = &edges[i];
    edges[0].from = SLQ__PARTY__PARTY_HOLDER, edges[0].to = SLQ__PARTY__PARTY_CENTRE;
    edges[1].from = SLQ__PARTY__PARTY_INTERMEDIARY, edges[1].to = SLQ__PARTY__PARTY_HOLDER;
    edges[2].from = SLQ__PARTY__PARTY_HOLDER, edges[2].to = SLQ__PARTY__PARTY_HOLDER;
    Slq__Program *p = calloc(1, sizeof *p);
    SLQ_ASSERT(p != NULL);
    slq__program__init(p);
    p->name = (char *) name;
    p->annual_cap_fen = cap;
    p->holder_annual_cap_fen = holder_cap;
    p->max_share_bp = bp;
    p->n_edges = shared ? 3 : 2;
    p->edges = ep;
    return p;
}

/* A program's redemption grace (Program.redeem_grace_ms) in the fixture genesis: only
 * `outside` has one; every other program shows that grace 0 behaves as before. */
static inline int64_t fx_redeem_grace(int program) {
    return program == P_OUTSIDE ? FX_OUTSIDE_GRACE_MS : 0;
}

/* The policy window of the fixture genesis: [from, until). */
static inline int64_t fx_valid_from_ms(void) {
    return cst_ms(2023, 2, 10, 0, 0);
}
static inline int64_t fx_valid_until_ms(void) {
    return cst_ms(2026, 2, 10, 0, 0);
}

/* A program's yearly cap per holder (0: none), as the fixture genesis sets it. */
static inline int64_t fx_holder_cap(int program) {
    if (program == P_NATIONAL) return FX_NATIONAL_HOLDER_CAP;
    return program == P_PROVINCIAL ? FX_PROVINCIAL_HOLDER_CAP : 0;
}

/* The credit code hash the fixture registers `who` with: 32 bytes, distinct per key (the
 * ledger sees only the hash, so any distinct bytes do). Holder-class parties need one. */
static inline ProtobufCBinaryData fx_credit_code(int who) {
    static uint8_t codes[K_COUNT][CRYPTO_HASH_BYTES];
    SLQ_ASSERT(who >= 0);
    SLQ_ASSERT(who < K_COUNT);
    memset(codes[who], 0xc5, CRYPTO_HASH_BYTES);
    codes[who][0] = (uint8_t) who;
    return (ProtobufCBinaryData){CRYPTO_HASH_BYTES, codes[who]};
}

/* Encodes the fixture genesis into *out (malloc'd). */
static inline void fx_genesis_bytes(fx *f, uint8_t **out, size_t *len) {
    Slq__Program *progs[P_COUNT] = {
        fx_program("general", 0, 0, 0, false),
        fx_program("national-major", 0, FX_NATIONAL_HOLDER_CAP, FX_SHARE_BP, false),
        fx_program("provincial-major", 0, FX_PROVINCIAL_HOLDER_CAP, FX_SHARE_BP, false),
        fx_program("shared", FX_SHARED_CAP, 0, 0, true),
        fx_program("outside", 0, 0, 0, false),
    };
    progs[P_SHARED]->expiry_ms = FX_SHARED_EXPIRY_MS;
    progs[P_OUTSIDE]->outside_city_cap = true;
    progs[P_OUTSIDE]->redeem_grace_ms = fx_redeem_grace(P_OUTSIDE);
    /* Every program pays centre-1 and centre-2, but `outside` only centre-1. */
    ProtobufCBinaryData centres[2] = {{CRYPTO_ADDRESS_BYTES, f->addr[K_CENTRE1]},
                                      {CRYPTO_ADDRESS_BYTES, f->addr[K_CENTRE2]}};
    for (int i = 0; i < P_COUNT; i++) {
        progs[i]->n_centres = i == P_OUTSIDE ? 1 : 2;
        progs[i]->centres = centres;
    }
    for (int i = 0; i < P_COUNT; i++) progs[i]->applications_required = f->apps_required >> i & 1;
    Slq__Policy pol = SLQ__POLICY__INIT;
    pol.valid_from_ms = fx_valid_from_ms();
    pol.valid_until_ms = fx_valid_until_ms();
    pol.city_annual_cap_fen = FX_CITY_CAP;
    pol.n_programs = P_COUNT;
    pol.programs = progs;
    static char *payers[2] = {FX_PAYER_CITY, FX_PAYER_DISTRICT};
    pol.n_payers = 2;
    pol.payers = payers;
    static const Slq__Role roles[6] = {SLQ__ROLE__ROLE_ISSUER,       SLQ__ROLE__ROLE_FINANCE,
                                       SLQ__ROLE__ROLE_CENTRE,       SLQ__ROLE__ROLE_CENTRE,
                                       SLQ__ROLE__ROLE_INTERMEDIARY, SLQ__ROLE__ROLE_REGULATOR};
    static const char *names[6] = {"issuer", "finance", "centre-1", "centre-2", "inter", "reg"};
    Slq__GenesisAccount acc[6], *accp[6];
    uint8_t pub[6][CRYPTO_PUBKEY_BYTES_MAX];
    for (int i = 0; i < 6; i++) {
        slq__genesis_account__init(&acc[i]);
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(f->keys[i], pub[i], sizeof pub[i], &n) == SLQ_OK);
        acc[i].pubkey = (ProtobufCBinaryData){n, pub[i]};
        acc[i].role = roles[i];
        acc[i].name = (char *) names[i];
        acc[i].affiliation = (char *) (i == K_CENTRE2 ? "group-b" : "");
        if (roles[i] == SLQ__ROLE__ROLE_INTERMEDIARY) acc[i].credit_code_hash = fx_credit_code(i);
        accp[i] = &acc[i];
    }
    Slq__Validator val = SLQ__VALIDATOR__INIT, *valp = &val;
    val.pubkey = acc[K_REGULATOR].pubkey;
    val.name = "reg";
    val.power = 1;
    Slq__Genesis g = SLQ__GENESIS__INIT;
    g.chain_id = "slq-test";
    g.suite = (char *) crypto_suite_name(f->suite);
    g.time_ms = cst_ms(2023, 1, 1, 0, 0);
    g.n_validators = 1;
    g.validators = &valp;
    g.n_accounts = 6;
    g.accounts = accp;
    g.policy = &pol;
    *len = slq__genesis__get_packed_size(&g);
    *out = malloc(*len);
    SLQ_ASSERT(*out != NULL);
    slq__genesis__pack(&g, *out);
    for (int i = 0; i < P_COUNT; i++) free(progs[i]);
}

/* The fixture chain whose programs in the mask `apps_required` (bit i: program i) issue only
 * against applications. */
static inline void fx_init_apps(fx *f, crypto_suite suite, uint32_t apps_required) {
    memset(f, 0, sizeof *f);
    f->suite = suite;
    f->apps_required = apps_required;
    for (int i = 0; i < K_COUNT; i++) {
        SLQ_ASSERT(crypto_key_generate(&f->keys[i], suite) == SLQ_OK);
        uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(f->keys[i], pub, sizeof pub, &n) == SLQ_OK);
        SLQ_ASSERT(crypto_address(suite, f->addr[i], pub, n) == SLQ_OK);
    }
    uint8_t *g;
    size_t len;
    fx_genesis_bytes(f, &g, &len);
    char why[128];
    slq_err err = ledger_create(&f->l, g, len, why, sizeof why);
    if (err != SLQ_OK) fprintf(stderr, "fixture genesis: %s\n", why);
    SLQ_ASSERT(err == SLQ_OK);
    free(g);
    SLQ_ASSERT(ledger_state_create(&f->st, NULL) == SLQ_OK);
    SLQ_ASSERT(ledger_genesis_state(f->l, f->st) == SLQ_OK);
    f->time_ms = cst_ms(2024, 6, 1, 12, 0);
    f->height = 1;
}

static inline void fx_init_suite(fx *f, crypto_suite suite) {
    fx_init_apps(f, suite, 0);
}

static inline void fx_init(fx *f) {
    fx_init_suite(f, CRYPTO_SUITE_ED25519_SHA256);
}

static inline void fx_deinit(fx *f) {
    for (int i = 0; i < K_COUNT; i++) crypto_key_destroy(f->keys[i]);
    ledger_state_destroy(f->st);
    ledger_destroy(f->l);
    free(f->last_bytes);
}

/* Signs body as key `who` with the given nonce. Keeps the bytes in f->last_bytes. */
static inline void fx_sign(fx *f, int who, Slq__TxBody *body, uint64_t nonce) {
    body->nonce = nonce;
    free(f->last_bytes);
    SLQ_ASSERT(ledger_tx_sign(f->l, f->keys[who], body, &f->last_bytes, &f->last_len) == SLQ_OK);
}

/* Decodes and applies f->last_bytes at the fixture's time; returns the outcome code. */
static inline slq_err fx_apply_last(fx *f, int who) {
    ledger_tx tx;
    slq_err err = ledger_tx_decode(&tx, f->l, f->last_bytes, f->last_len);
    if (err != SLQ_OK) return err;
    ledger_block_ctx ctx = {.height = f->height, .time_ms = f->time_ms, .index = f->index++};
    err = ledger_apply(f->l, f->st, &ctx, &tx, &f->out);
    memcpy(f->last_tx, tx.hash, sizeof f->last_tx);
    if (err == SLQ_OK && who >= 0) f->nonce[who]++;
    ledger_tx_free(&tx);
    return err;
}

/* Signs with the next nonce of `who` and applies. */
static inline slq_err fx_send(fx *f, int who, Slq__TxBody *body) {
    fx_sign(f, who, body, f->nonce[who] + 1);
    return fx_apply_last(f, who);
}

static inline slq_err fx_register(fx *f, int who_new, Slq__Role role, const char *affiliation) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, f->addr[who_new]};
    r.role = role;
    r.name = "party";
    r.affiliation = (char *) affiliation;
    r.credit_code_hash = fx_credit_code(who_new);
    return fx_send(f, K_ISSUER, &b);
}

typedef struct {
    int to;
    int program;
    int64_t amount_fen;
    int64_t cost_fen;
    const char *ref; /* NULL: a fresh one */
    int64_t expires_at_ms;
} fx_issue_args;

static inline slq_err fx_issue_as(fx *f, int signer, fx_issue_args a, uint8_t id[32]) {
    static unsigned counter;
    char ref[32];
    snprintf(ref, sizeof ref, "app-%u", ++counter);
    static const char *programs[P_COUNT] = {"general", "national-major", "provincial-major",
                                            "shared", "outside"};
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Issue is = SLQ__ISSUE__INIT;
    b.kind = SLQ__TX_KIND__TX_ISSUE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
    b.issue = &is;
    is.holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, f->addr[a.to]};
    is.program = (char *) (a.program >= 0 ? programs[a.program] : "no-such-program");
    is.amount_fen = a.amount_fen;
    is.cost_fen = a.cost_fen;
    is.application_ref = (char *) (a.ref != NULL ? a.ref : ref);
    is.expires_at_ms = a.expires_at_ms;
    slq_err err = fx_send(f, signer, &b);
    if (err == SLQ_OK && id != NULL) memcpy(id, f->out.vouchers[0], 32);
    return err;
}

#define fx_issue(f, id, ...) fx_issue_as((f), K_ISSUER, (fx_issue_args){__VA_ARGS__}, (id))

static inline slq_err fx_transfer(fx *f, int who, const uint8_t id[32], int to, int64_t amount) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Transfer t = SLQ__TRANSFER__INIT;
    b.kind = SLQ__TX_KIND__TX_TRANSFER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_TRANSFER;
    b.transfer = &t;
    t.voucher_id = (ProtobufCBinaryData){32, (uint8_t *) id};
    t.to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, f->addr[to]};
    t.amount_fen = amount;
    return fx_send(f, who, &b);
}

static inline slq_err fx_redeem(fx *f, int centre, const uint8_t (*ids)[32], size_t n,
                                const char *contract) {
    ProtobufCBinaryData v[80];
    SLQ_ASSERT(n <= 80);
    for (size_t i = 0; i < n; i++) v[i] = (ProtobufCBinaryData){32, (uint8_t *) ids[i]};
    static uint8_t evidence[32] = {0xe5};
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Redeem r = SLQ__REDEEM__INIT;
    b.kind = SLQ__TX_KIND__TX_REDEEM;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REDEEM;
    b.redeem = &r;
    r.n_voucher_ids = n;
    r.voucher_ids = v;
    r.contract_ref = (char *) contract;
    r.evidence_hash = (ProtobufCBinaryData){32, evidence};
    return fx_send(f, centre, &b);
}

/* SETTLE of `amount` (0: the claim's) paid by `payer`. */
static inline slq_err fx_settle_pay(fx *f, int who, const uint8_t claim[32], const char *payment,
                                    int64_t amount, const char *payer) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Settle s = SLQ__SETTLE__INIT;
    b.kind = SLQ__TX_KIND__TX_SETTLE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_SETTLE;
    b.settle = &s;
    s.claim_id = (ProtobufCBinaryData){32, (uint8_t *) claim};
    s.payment_ref = (char *) payment;
    s.amount_fen = amount;
    s.payer = (char *) payer;
    return fx_send(f, who, &b);
}

/* SETTLE of the whole claim, paid by the city. */
static inline slq_err fx_settle(fx *f, int who, const uint8_t claim[32], const char *payment) {
    return fx_settle_pay(f, who, claim, payment, 0, FX_PAYER_CITY);
}

static inline slq_err fx_review(fx *f, int who, const uint8_t claim[32], bool approve,
                                const char *reason) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__ReviewClaim r = SLQ__REVIEW_CLAIM__INIT;
    b.kind = SLQ__TX_KIND__TX_REVIEW_CLAIM;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM;
    b.review_claim = &r;
    r.claim_id = (ProtobufCBinaryData){32, (uint8_t *) claim};
    r.approve = approve;
    r.reason = (char *) reason;
    return fx_send(f, who, &b);
}

/* Reads a claim row (caller frees with slq__claim__free_unpacked), NULL if absent. */
static inline Slq__Claim *fx_claim(fx *f, const uint8_t id[32]) {
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, id, 32);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return NULL;
    return slq__claim__unpack(NULL, n, v);
}

static inline slq_err fx_revoke(fx *f, int who, const uint8_t id[32], const char *reason) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Revoke r = SLQ__REVOKE__INIT;
    b.kind = SLQ__TX_KIND__TX_REVOKE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REVOKE;
    b.revoke = &r;
    r.voucher_id = (ProtobufCBinaryData){32, (uint8_t *) id};
    r.reason = (char *) reason;
    return fx_send(f, who, &b);
}

/* APPLY signed by `who`: program index (-1: an unknown one), amount asked, contract, cost.
 * On SLQ_OK the application's id is written to id (if not NULL). */
static inline slq_err fx_apply(fx *f, int who, int program, int64_t amount, const char *contract,
                               int64_t cost, uint8_t id[32]) {
    static const char *programs[P_COUNT] = {"general", "national-major", "provincial-major",
                                            "shared", "outside"};
    static uint8_t evidence[32] = {0xa9};
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Apply ap = SLQ__APPLY__INIT;
    b.kind = SLQ__TX_KIND__TX_APPLY;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_APPLY;
    b.apply = &ap;
    ap.program = (char *) (program >= 0 ? programs[program] : "no-such-program");
    ap.amount_fen = amount;
    ap.contract_ref = (char *) contract;
    ap.cost_fen = cost;
    ap.evidence_hash = (ProtobufCBinaryData){32, evidence};
    slq_err err = fx_send(f, who, &b);
    if (err == SLQ_OK) SLQ_ASSERT(f->out.has_application);
    if (err == SLQ_OK && id != NULL) memcpy(id, f->out.application, 32);
    return err;
}

/* ISSUE of `amount` against application app, signed by `signer`, holder, program and cost left
 * to the application. The voucher's id goes to id (if not NULL). */
static inline slq_err fx_issue_app(fx *f, int signer, const uint8_t app[32], int64_t amount,
                                   uint8_t id[32]) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Issue is = SLQ__ISSUE__INIT;
    b.kind = SLQ__TX_KIND__TX_ISSUE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
    b.issue = &is;
    is.application_id = (ProtobufCBinaryData){32, (uint8_t *) app};
    is.amount_fen = amount;
    slq_err err = fx_send(f, signer, &b);
    if (err == SLQ_OK && id != NULL) memcpy(id, f->out.vouchers[0], 32);
    return err;
}

static inline slq_err fx_reject_app(fx *f, int who, const uint8_t app[32], const char *reason) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__RejectApplication r = SLQ__REJECT_APPLICATION__INIT;
    b.kind = SLQ__TX_KIND__TX_REJECT_APPLICATION;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION;
    b.reject_application = &r;
    r.application_id = (ProtobufCBinaryData){32, (uint8_t *) app};
    r.reason = (char *) reason;
    return fx_send(f, who, &b);
}

/* Reads an application row (caller frees), NULL if absent. */
static inline Slq__Application *fx_application(fx *f, const uint8_t id[32]) {
    slq_key k = slq_key_bytes(SLQ_KEY_APPLICATION, id, 32);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return NULL;
    return slq__application__unpack(NULL, n, v);
}

/* Reads a voucher row (caller frees with slq__voucher__free_unpacked), NULL if absent. */
static inline Slq__Voucher *fx_voucher(fx *f, const uint8_t id[32]) {
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, id, 32);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return NULL;
    return slq__voucher__unpack(NULL, n, v);
}

/* Reads the city-wide totals of a year (zeros when absent). */
static inline Slq__YearTotals fx_year(fx *f, uint32_t year) {
    Slq__YearTotals t = SLQ__YEAR_TOTALS__INIT;
    slq_key k = slq_key_year(year);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) == SLQ_OK) {
        Slq__YearTotals *u = slq__year_totals__unpack(NULL, n, v);
        SLQ_ASSERT(u != NULL);
        t = *u;
        t.base.unknown_fields = NULL;
        slq__year_totals__free_unpacked(u, NULL);
    }
    return t;
}

#endif
