/* test_verify.c: `slqd verify` and the regulator's report (issue 5) over real LevelDB stores
 * built block by block with the node's chain executor (chain_propose, chain_certify_alone,
 * chain_commit) and the fixture's keys. One scenario with known totals: registrations,
 * issues in four programs, transfers (one voucher through three hands), two redemptions
 * (one at a centre whose group held the voucher before), a settlement, a revocation, an
 * expiry and a holder just under a per-holder cap. Tampering uses the LevelDB C API
 * directly, on a copy of the store. Forged blocks (wrong in one place, re-hashed and signed
 * with the validator's key) and a lenient ledger (caps ten times the genesis's) reach the
 * checks that a flipped byte never reaches: each must be the one failure reported. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <leveldb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chain.h"
#include "check.h"
#include "codec.h"
#include "codec_json.h"
#include "ledger_fixture.h"
#include "report.h"
#include "verify.h"

#define YEAR   2024u
#define MINUTE 60000LL

/* ------------------------------------------------------------------ files */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void) sb, (void) flag, (void) ftw;
    return remove(p);
}

static void rm_rf(const char *dir) {
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    SLQ_ASSERT(in != NULL && out != NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) SLQ_ASSERT(fwrite(buf, 1, n, out) == n);
    SLQ_ASSERT(fclose(in) == 0 && fclose(out) == 0);
}

/* Copies the flat directory `from` into a new directory `to`. */
static void copy_dir(const char *from, const char *to) {
    SLQ_ASSERT(mkdir(to, 0700) == 0);
    DIR *d = opendir(from);
    SLQ_ASSERT(d != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        char a[512], b[512];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        copy_file(a, b);
    }
    closedir(d);
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "name size sha256\n" for every file of a flat directory, in name order (malloc'd). */
static char *dir_fingerprint(const char *dir) {
    char *names[256], *out = calloc(256, 160);
    size_t n = 0, len = 0;
    DIR *d = opendir(dir);
    SLQ_ASSERT(d != NULL && out != NULL);
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[512], hex[65];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        SLQ_ASSERT(f != NULL);
        static uint8_t buf[4 << 20];
        size_t got = fread(buf, 1, sizeof buf, f);
        fclose(f);
        uint8_t h[32];
        crypto_hash(CRYPTO_SUITE_ED25519_SHA256, h, buf, got);
        codec_hex_encode(hex, h, 32);
        len += (size_t) snprintf(out + len, 160, "%.60s %zu %s\n", names[i], got, hex);
        free(names[i]);
    }
    return out;
}

/* ------------------------------------------------------------------ the chain */

typedef struct {
    uint8_t *bytes[16];
    size_t lens[16];
    size_t n;
} txlist;

typedef struct {
    fx f;
    uint8_t *genesis; /* as codec_genesis_from_json makes it from genesis.json */
    size_t genesis_len;
    char home[64], data[80];
    chain *c;
    int64_t t0;
    unsigned refs;
    /* what the scenario made */
    uint8_t v1[32], v2[32], v3[32], v4[32], v5[32], v6[32], p1[32], c1[32], v3a[32], v3b[32],
        v4a[32], v4b[32], v4c[32], claim_a[32], claim_b[32], issue_tx[32], block2[32];
} env;

/* Writes the fixture genesis as home/genesis.json and reads it back, as slqd does. */
static void env_genesis(env *e) {
    uint8_t *g = NULL;
    size_t len = 0;
    fx_genesis_bytes(&e->f, &g, &len);
    Slq__Genesis *gen = slq__genesis__unpack(NULL, len, g);
    SLQ_ASSERT(gen != NULL);
    char *json = NULL, path[128], why[128];
    SLQ_ASSERT(codec_genesis_to_json(&json, gen) == SLQ_OK);
    snprintf(path, sizeof path, "%s/genesis.json", e->home);
    FILE *f = fopen(path, "w");
    SLQ_ASSERT(f != NULL && fputs(json, f) >= 0 && fclose(f) == 0);
    SLQ_ASSERT(codec_genesis_from_json(&e->genesis, &e->genesis_len, json, strlen(json), why,
                                       sizeof why) == SLQ_OK);
    free(json);
    slq__genesis__free_unpacked(gen, NULL);
    free(g);
}

static void env_init(env *e, crypto_suite suite) {
    memset(e, 0, sizeof *e);
    fx_init_suite(&e->f, suite);
    snprintf(e->home, sizeof e->home, "/tmp/slq-verify-XXXXXX");
    SLQ_ASSERT(mkdtemp(e->home) != NULL);
    snprintf(e->data, sizeof e->data, "%s/data", e->home);
    env_genesis(e);
    char why[256] = "";
    SLQ_ASSERT(chain_open(&e->c, e->data, e->genesis, e->genesis_len, why, sizeof why) == SLQ_OK);
    e->t0 = cst_ms(2024, 6, 1, 10, 0);
}

static void env_deinit(env *e) {
    chain_close(e->c);
    rm_rf(e->home);
    free(e->genesis);
    fx_deinit(&e->f);
}

/* Signs body as `who` with its next nonce and queues it; hash gets the tx hash. */
static void queue(env *e, txlist *l, int who, Slq__TxBody *b, uint8_t hash[32]) {
    SLQ_ASSERT(l->n < 16);
    fx_sign(&e->f, who, b, ++e->f.nonce[who]);
    l->bytes[l->n] = e->f.last_bytes;
    l->lens[l->n] = e->f.last_len;
    e->f.last_bytes = NULL;
    uint8_t h[32];
    crypto_hash(e->f.suite, hash != NULL ? hash : h, l->bytes[l->n], l->lens[l->n]);
    l->n++;
}

/* A block that the validator signed although it is wrong in one place: the header changed by
 * `header` (then re-hashed, and the new hash certified), or the block's own certificate made
 * for another block. Only the audit's check of that one place can see it. */
typedef struct forge forge;
struct forge {
    void (*header)(Slq__BlockHeader *h, Slq__Block *b, const forge *f); /* NULL: as built */
    int64_t time_ms;                                                    /* a block time to write */
    const uint8_t *last_commit; /* a certificate to carry as last_commit */
    size_t last_commit_len;
    uint8_t last_commit_hash[32];
    bool cert_of_another_block; /* certify another hash than the block's */
};

/* Re-encodes p's block with its header changed by f; p gets the new bytes and hash. */
static void reforge(env *e, chain_proposal *p, const forge *f) {
    Slq__Block *b = slq__block__unpack(NULL, p->block_len, p->block);
    Slq__BlockHeader *h =
        b == NULL ? NULL : slq__block_header__unpack(NULL, b->header.len, b->header.data);
    SLQ_ASSERT(h != NULL);
    Slq__Block saved_b = *b; /* the forge may point fields at its own bytes */
    Slq__BlockHeader saved_h = *h;
    f->header(h, b, f);
    uint8_t header[512];
    SLQ_ASSERT(slq__block_header__get_packed_size(h) <= sizeof header);
    size_t header_len = slq__block_header__pack(h, header);
    crypto_hash(e->f.suite, p->hash, header, header_len);
    b->header = (ProtobufCBinaryData){header_len, header};
    free(p->block);
    p->block_len = slq__block__get_packed_size(b);
    p->block = malloc(p->block_len);
    SLQ_ASSERT(p->block != NULL);
    slq__block__pack(b, p->block);
    *b = saved_b;
    *h = saved_h;
    slq__block_header__free_unpacked(h, NULL);
    slq__block__free_unpacked(b, NULL);
}

/* A certificate, signed by the validator, of block `hash` at `height`. */
static uint8_t *certify(env *e, uint64_t height, const uint8_t hash[32], size_t *len) {
    chain_proposal p = {.height = height};
    memcpy(p.hash, hash, 32);
    uint8_t *cert = NULL;
    SLQ_ASSERT(chain_certify_alone(e->c, &p, e->f.keys[K_REGULATOR], &cert, len) == SLQ_OK);
    return cert;
}

/* Proposes block `k` (at t0 + k minutes), forges it if f says so, certifies it with the one
 * validator and commits it. */
static void commit_forged(env *e, txlist *l, int k, const forge *f) {
    ledger_tx txs[16];
    const ledger_tx *tp[16];
    for (size_t i = 0; i < l->n; i++) {
        SLQ_ASSERT(ledger_tx_decode(&txs[i], chain_ledger(e->c), l->bytes[i], l->lens[i]) ==
                   SLQ_OK);
        tp[i] = &txs[i];
    }
    chain_candidates cand = {
        .bytes = (const uint8_t *const *) l->bytes, .lens = l->lens, .txs = tp, .count = l->n};
    chain_proposal p;
    CHECK_ERR(
        chain_propose(e->c, &p, e->t0 + k * MINUTE, e->f.addr[K_REGULATOR], &cand, NULL, NULL),
        SLQ_OK);
    CHECK_EQ_INT(p.txs_count, l->n); /* every transaction of the scenario applies */
    if (f != NULL && f->header != NULL) reforge(e, &p, f);
    uint8_t other[32];
    memset(other, 0x6f, sizeof other);
    bool another = f != NULL && f->cert_of_another_block;
    size_t cert_len = 0;
    uint8_t *cert = certify(e, p.height, another ? other : p.hash, &cert_len);
    CHECK_ERR(chain_commit(e->c, &p, cert, cert_len), SLQ_OK);
    free(cert);
    for (size_t i = 0; i < l->n; i++) {
        ledger_tx_free(&txs[i]);
        free(l->bytes[i]);
    }
    l->n = 0;
}

static void commit(env *e, txlist *l, int k) {
    commit_forged(e, l, k, NULL);
}

#define BODY(kind_, field_, case_, var_)            \
    Slq__TxBody b = SLQ__TX_BODY__INIT;             \
    b.kind = SLQ__TX_KIND__##kind_;                 \
    b.payload_case = SLQ__TX_BODY__PAYLOAD_##case_; \
    b.field_ = &var_

static void q_register(env *e, txlist *l, int who, Slq__Role role, const char *aff) {
    Slq__Register r = SLQ__REGISTER__INIT;
    BODY(TX_REGISTER, register_, REGISTER, r);
    r.address = (ProtobufCBinaryData){20, e->f.addr[who]};
    r.role = role;
    r.name = who == K_H1 ? "成都某AI公司" : "party";
    r.affiliation = (char *) aff;
    r.credit_code_hash = fx_credit_code(who);
    queue(e, l, K_ISSUER, &b, NULL);
}

static void q_issue(env *e, txlist *l, int to, const char *program, int64_t amount, int64_t cost,
                    int64_t expires, uint8_t id[32]) {
    Slq__Issue is = SLQ__ISSUE__INIT;
    BODY(TX_ISSUE, issue, ISSUE, is);
    char ref[32];
    snprintf(ref, sizeof ref, "app-%u", ++e->refs);
    is.holder = (ProtobufCBinaryData){20, e->f.addr[to]};
    is.program = (char *) program;
    is.amount_fen = amount;
    is.cost_fen = cost;
    is.application_ref = ref;
    is.expires_at_ms = expires;
    uint8_t h[32];
    queue(e, l, K_ISSUER, &b, h);
    ledger_voucher_id(e->f.suite, id, h, 0);
    if (e->refs == 1) memcpy(e->issue_tx, h, 32);
}

static void q_transfer(env *e, txlist *l, int who, const uint8_t *v, int to, int64_t amount,
                       uint8_t part[32], uint8_t change[32]) {
    Slq__Transfer t = SLQ__TRANSFER__INIT;
    BODY(TX_TRANSFER, transfer, TRANSFER, t);
    t.voucher_id = (ProtobufCBinaryData){32, (uint8_t *) v};
    t.to = (ProtobufCBinaryData){20, e->f.addr[to]};
    t.amount_fen = amount;
    uint8_t h[32];
    queue(e, l, who, &b, h);
    ledger_voucher_id(e->f.suite, part, h, 0);
    if (change != NULL) ledger_voucher_id(e->f.suite, change, h, 1);
}

static void q_redeem(env *e, txlist *l, int centre, const uint8_t *v, const char *contract,
                     uint8_t claim[32]) {
    static uint8_t evidence[32] = {0xe5};
    ProtobufCBinaryData id = {32, (uint8_t *) v};
    Slq__Redeem r = SLQ__REDEEM__INIT;
    BODY(TX_REDEEM, redeem, REDEEM, r);
    r.n_voucher_ids = 1;
    r.voucher_ids = &id;
    r.contract_ref = (char *) contract;
    r.evidence_hash = (ProtobufCBinaryData){32, evidence};
    uint8_t h[32];
    queue(e, l, centre, &b, h);
    ledger_claim_id(e->f.suite, claim, h);
}

static void q_settle(env *e, txlist *l, const uint8_t claim[32], const char *payment) {
    Slq__Settle s = SLQ__SETTLE__INIT;
    BODY(TX_SETTLE, settle, SETTLE, s);
    s.claim_id = (ProtobufCBinaryData){32, (uint8_t *) claim};
    s.payment_ref = (char *) payment;
    s.payer = FX_PAYER_CITY;
    queue(e, l, K_FINANCE, &b, NULL);
}

static void q_settle_part(env *e, txlist *l, const uint8_t claim[32], int64_t amount,
                          const char *payer) {
    Slq__Settle s = SLQ__SETTLE__INIT;
    BODY(TX_SETTLE, settle, SETTLE, s);
    s.claim_id = (ProtobufCBinaryData){32, (uint8_t *) claim};
    s.payment_ref = "PAY-PART";
    s.amount_fen = amount;
    s.payer = (char *) payer;
    queue(e, l, K_FINANCE, &b, NULL);
}

static void q_review(env *e, txlist *l, const uint8_t claim[32], bool approve) {
    Slq__ReviewClaim r = SLQ__REVIEW_CLAIM__INIT;
    BODY(TX_REVIEW_CLAIM, review_claim, REVIEW_CLAIM, r);
    r.claim_id = (ProtobufCBinaryData){32, (uint8_t *) claim};
    r.approve = approve;
    r.reason = approve ? "invoice checked" : "no delivery proof";
    queue(e, l, K_FINANCE, &b, NULL);
}

static void q_revoke(env *e, txlist *l, const uint8_t v[32]) {
    Slq__Revoke r = SLQ__REVOKE__INIT;
    BODY(TX_REVOKE, revoke, REVOKE, r);
    r.voucher_id = (ProtobufCBinaryData){32, (uint8_t *) v};
    r.reason = "audit finding";
    queue(e, l, K_ISSUER, &b, NULL);
}

static void q_apply(env *e, txlist *l, int who, const char *program, int64_t amount,
                    const char *contract, int64_t cost, uint8_t id[32]) {
    static uint8_t evidence[32] = {0xa9};
    Slq__Apply ap = SLQ__APPLY__INIT;
    BODY(TX_APPLY, apply, APPLY, ap);
    ap.program = (char *) program;
    ap.amount_fen = amount;
    ap.contract_ref = (char *) contract;
    ap.cost_fen = cost;
    ap.evidence_hash = (ProtobufCBinaryData){32, evidence};
    uint8_t h[32];
    queue(e, l, who, &b, h);
    ledger_application_id(e->f.suite, id, h);
}

static void q_issue_app(env *e, txlist *l, const uint8_t app[32], int64_t amount, uint8_t id[32]) {
    Slq__Issue is = SLQ__ISSUE__INIT;
    BODY(TX_ISSUE, issue, ISSUE, is);
    is.application_id = (ProtobufCBinaryData){32, (uint8_t *) app};
    is.amount_fen = amount;
    uint8_t h[32];
    queue(e, l, K_ISSUER, &b, h);
    ledger_voucher_id(e->f.suite, id, h, 0);
}

static void q_reject_app(env *e, txlist *l, const uint8_t app[32], const char *reason) {
    Slq__RejectApplication r = SLQ__REJECT_APPLICATION__INIT;
    BODY(TX_REJECT_APPLICATION, reject_application, REJECT_APPLICATION, r);
    r.application_id = (ProtobufCBinaryData){32, (uint8_t *) app};
    r.reason = (char *) reason;
    queue(e, l, K_ISSUER, &b, NULL);
}

static void q_revoke_for(env *e, txlist *l, const uint8_t v[32], const char *reason) {
    Slq__Revoke r = SLQ__REVOKE__INIT;
    BODY(TX_REVOKE, revoke, REVOKE, r);
    r.voucher_id = (ProtobufCBinaryData){32, (uint8_t *) v};
    r.reason = (char *) reason;
    queue(e, l, K_ISSUER, &b, NULL);
}

/* Blocks 1..3: parties, six issues, three transfers. */
static void scenario_start(env *e) {
    txlist l = {.n = 0};
    q_register(e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    q_register(e, &l, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "");
    q_register(e, &l, K_H3, SLQ__ROLE__ROLE_MAKER, "");
    q_register(e, &l, K_STRANGER, SLQ__ROLE__ROLE_INTERMEDIARY, "group-b"); /* centre-2's */
    commit(e, &l, 1);
    q_issue(e, &l, K_H1, "general", 100000, 0, 0, e->v1);
    q_issue(e, &l, K_H2, "national-major", 300000, 1000000, 0, e->v2);
    q_issue(e, &l, K_STRANGER, "general", 50000, 0, 0, e->v3);
    q_issue(e, &l, K_H1, "shared", 20000, 0, 0, e->v4);
    q_issue(e, &l, K_H3, "general", 5000, 0, e->t0 + 4 * MINUTE + 30000, e->v5);
    q_issue(e, &l, K_H2, "provincial-major", 149000000, 500000000, 0, e->v6);
    commit(e, &l, 2);
    memcpy(e->block2, chain_tip(e->c)->hash, 32);
    q_transfer(e, &l, K_H1, e->v1, K_CENTRE1, 40000, e->p1, e->c1);
    q_transfer(e, &l, K_STRANGER, e->v3, K_H3, 50000, e->v3a, NULL);
    q_transfer(e, &l, K_H1, e->v4, K_H2, 20000, e->v4a, NULL);
    commit(e, &l, 3);
}

/* Blocks 4..6: more hands, redemptions, settlement, revocation; block 6 (empty) is after
 * v5's expiry. */
static void scenario_end(env *e) {
    txlist l = {.n = 0};
    q_transfer(e, &l, K_H3, e->v3a, K_CENTRE2, 50000, e->v3b, NULL);
    q_transfer(e, &l, K_H2, e->v4a, K_H3, 20000, e->v4b, NULL);
    q_redeem(e, &l, K_CENTRE1, e->p1, "SC-1", e->claim_a);
    commit(e, &l, 4);
    q_transfer(e, &l, K_H3, e->v4b, K_CENTRE1, 20000, e->v4c, NULL);
    q_redeem(e, &l, K_CENTRE2, e->v3b, "SC-2", e->claim_b);
    q_review(e, &l, e->claim_a, true);
    q_settle(e, &l, e->claim_a, "PAY-1");
    q_revoke(e, &l, e->c1);
    commit(e, &l, 5);
    commit(e, &l, 6);
}

static void scenario(env *e) {
    scenario_start(e);
    scenario_end(e);
    CHECK_EQ_INT(chain_tip(e->c)->height, 6);
}

/* ------------------------------------------------------------------ running verify */

typedef struct {
    char text[65536];
    size_t len;
    size_t lines;
} lines;

static void collect(void *arg, const char *line) {
    lines *l = arg;
    l->lines++;
    int n = snprintf(l->text + l->len, sizeof l->text - l->len, "%s\n", line);
    if (n > 0 && l->len + (size_t) n < sizeof l->text) l->len += (size_t) n;
}

/* Verifies data_dir; *out (if not NULL) keeps the run. Returns the failure count. */
static size_t run_verify(env *e, const char *data_dir, lines *l, verify **out) {
    verify_opts o = {.on_failure = collect, .arg = l};
    verify *v = NULL;
    char why[256] = "";
    slq_err err = verify_run(&v, e->genesis, e->genesis_len, data_dir, &o, why, sizeof why);
    CHECK_ERR(err, SLQ_OK);
    if (err != SLQ_OK) {
        fprintf(stderr, "  verify_run: %s\n", why);
        return (size_t) -1;
    }
    size_t failures = verify_result(v)->failures;
    if (out != NULL)
        *out = v;
    else
        verify_free(v);
    return failures;
}

/* ------------------------------------------------------------------ report checks */

static const json_t *get(const json_t *o, const char *key) {
    const json_t *m = json_object_get(o, key);
    if (m == NULL) fprintf(stderr, "  no member %s\n", key);
    return m;
}

static long long num(const json_t *o, const char *key) {
    const json_t *m = get(o, key);
    return json_is_integer(m) ? (long long) json_integer_value(m) : -1;
}

static bool yes(const json_t *o, const char *key) {
    return json_is_true(get(o, key));
}

/* The element of array `key` of o whose member `by` is the text `value`. */
static const json_t *find(const json_t *o, const char *key, const char *by, const char *value) {
    const json_t *a = get(o, key);
    size_t i;
    const json_t *x;
    json_array_foreach(a, i, x) {
        const char *m = json_string_value(json_object_get(x, by)); /* NULL unless a string */
        if (m != NULL && strcmp(m, value) == 0) return x;
    }
    fprintf(stderr, "  no %s with %s=%s\n", key, by, value);
    return NULL;
}

static void addr_text(char out[CRYPTO_ADDRESS_TEXT_BYTES], const env *e, int who) {
    crypto_address_format(out, e->f.addr[who]);
}

static void id_text(char out[65], const uint8_t id[32]) {
    codec_hex_encode(out, id, 32);
}

static void check_year_totals(const json_t *y) {
    CHECK_EQ_INT(num(y, "year"), YEAR);
    CHECK_EQ_INT(num(y, "cap_fen"), FX_CITY_CAP);
    CHECK_EQ_INT(num(y, "issued_fen"), 149475000);
    CHECK_EQ_INT(num(y, "issued_count"), 6);
    CHECK_EQ_INT(num(y, "cap_used_fen"), 149415000);
    CHECK_EQ_INT(num(y, "cap_peak_fen"), 149475000);
    CHECK_EQ_INT(num(y, "headroom_fen"), FX_CITY_CAP - 149415000);
    CHECK(yes(y, "cap_held"));
    CHECK_EQ_INT(num(y, "redeemed_fen"), 90000);
    CHECK_EQ_INT(num(y, "settled_fen"), 40000);
    CHECK_EQ_INT(num(y, "open_claims_fen"), 50000);
    CHECK_EQ_INT(num(y, "transferred_fen"), 200000);
    CHECK_EQ_INT(num(y, "revoked_fen"), 60000);
    CHECK_EQ_INT(num(y, "expired_fen"), 5000);
    CHECK_EQ_INT(num(y, "active_fen"), 149320000);
    CHECK_EQ_INT(num(y, "outstanding_fen"), 149325000);
    CHECK(yes(y, "conservation_holds"));
    CHECK(yes(y, "totals_match"));
    CHECK(yes(y, "program_caps_held"));
    CHECK(yes(y, "holder_caps_held"));
}

static void check_programs(const json_t *y) {
    const json_t *g = find(y, "programs", "name", "general");
    const json_t *s = find(y, "programs", "name", "shared");
    const json_t *pm = find(y, "programs", "name", "provincial-major");
    CHECK(g != NULL && s != NULL && pm != NULL);
    if (g == NULL || s == NULL || pm == NULL) return;
    CHECK_EQ_INT(num(g, "issued_fen"), 155000);
    CHECK_EQ_INT(num(g, "issued_count"), 3);
    CHECK_EQ_INT(num(g, "cap_used_fen"), 95000);
    CHECK_EQ_INT(num(g, "redeemed_fen"), 90000);
    CHECK_EQ_INT(num(g, "settled_fen"), 40000);
    CHECK_EQ_INT(num(g, "revoked_fen"), 60000);
    CHECK_EQ_INT(num(g, "expired_fen"), 5000);
    CHECK_EQ_INT(num(g, "transferred_fen"), 140000);
    CHECK_EQ_INT(num(s, "issued_fen"), 20000);
    CHECK_EQ_INT(num(s, "transferred_fen"), 60000);
    CHECK_EQ_INT(num(s, "active_fen"), 20000);
    CHECK_EQ_INT(num(s, "cap_fen"), FX_SHARED_CAP);
    CHECK(yes(s, "cap_held"));
    CHECK_EQ_INT(num(pm, "active_fen"), 149000000);
    CHECK_EQ_INT(num(pm, "holder_cap_fen"), 150000000);
    CHECK(yes(g, "conservation_holds") && yes(s, "totals_match"));
}

static void check_centres(const env *e, const json_t *y) {
    char c1[CRYPTO_ADDRESS_TEXT_BYTES], c2[CRYPTO_ADDRESS_TEXT_BYTES], id[65];
    addr_text(c1, e, K_CENTRE1);
    addr_text(c2, e, K_CENTRE2);
    const json_t *a = find(y, "centres", "centre", c1), *b = find(y, "centres", "centre", c2);
    CHECK(a != NULL && b != NULL);
    if (a == NULL || b == NULL) return;
    CHECK_EQ_INT(num(a, "redeemed_fen"), 40000);
    CHECK_EQ_INT(num(a, "settled_fen"), 40000);
    CHECK_EQ_INT(num(b, "open_claims_fen"), 50000);
    id_text(id, e->claim_a);
    const json_t *ca = find(a, "claims", "claim", id);
    CHECK(ca != NULL &&
          strcmp(json_string_value(json_object_get(ca, "contract_ref")), "SC-1") == 0);
    CHECK(ca != NULL && yes(ca, "settled") && num(ca, "amount_fen") == 40000);
    CHECK(ca != NULL &&
          strcmp(json_string_value(json_object_get(ca, "payment_ref")), "PAY-1") == 0);
    id_text(id, e->claim_b);
    const json_t *cb = find(b, "claims", "claim", id);
    CHECK(cb != NULL && !yes(cb, "settled") && num(cb, "amount_fen") == 50000);
}

static void check_holders(const env *e, const json_t *y) {
    char h1[CRYPTO_ADDRESS_TEXT_BYTES], h2[CRYPTO_ADDRESS_TEXT_BYTES],
        h3[CRYPTO_ADDRESS_TEXT_BYTES];
    addr_text(h1, e, K_H1);
    addr_text(h2, e, K_H2);
    addr_text(h3, e, K_H3);
    const json_t *a = find(y, "holders", "holder", h1), *b = find(y, "holders", "holder", h2);
    const json_t *c = find(y, "holders", "holder", h3);
    CHECK(a != NULL && b != NULL && c != NULL);
    if (a == NULL || b == NULL || c == NULL) return;
    CHECK(strcmp(json_string_value(json_object_get(a, "name")), "成都某AI公司") == 0);
    CHECK_EQ_INT(num(a, "issued_fen"), 120000);
    CHECK_EQ_INT(num(a, "held_fen"), 0);
    CHECK_EQ_INT(num(a, "redeemed_fen"), 40000);
    CHECK_EQ_INT(num(b, "issued_fen"), 149300000);
    CHECK_EQ_INT(num(b, "held_fen"), 149300000);
    CHECK_EQ_INT(num(c, "issued_fen"), 5000);
    CHECK_EQ_INT(num(c, "held_fen"), 0);
    CHECK_EQ_INT(num(c, "redeemed_fen"), 50000);
    const json_t *gen = find(a, "caps", "program", "general");
    CHECK(gen != NULL && num(gen, "used_fen") == 40000 && num(gen, "peak_fen") == 100000);
    const json_t *prov = find(b, "caps", "program", "provincial-major");
    CHECK(prov != NULL && num(prov, "used_fen") == 149000000 && yes(prov, "cap_held"));
    /* The intermediary's 500 yuan are charged to holder-3, which it passed them to. */
    const json_t *passed = find(c, "caps", "program", "general");
    CHECK(passed != NULL && num(passed, "used_fen") == 55000 && num(passed, "peak_fen") == 55000);
    char in[CRYPTO_ADDRESS_TEXT_BYTES];
    addr_text(in, e, K_STRANGER);
    const json_t *inter = find(y, "holders", "holder", in);
    CHECK(inter != NULL && num(inter, "issued_fen") == 50000);
    CHECK(inter != NULL && json_array_size(get(inter, "caps")) == 0);
}

static void check_anomalies(const env *e, const json_t *y) {
    char id[65], addr[CRYPTO_ADDRESS_TEXT_BYTES];
    const json_t *hops = find(y, "anomalies", "kind", "many_hops");
    id_text(id, e->v4c);
    CHECK(hops != NULL && strcmp(json_string_value(json_object_get(hops, "voucher")), id) == 0);
    CHECK(hops != NULL && num(hops, "hops") == 3);
    const json_t *near = find(y, "anomalies", "kind", "near_holder_cap");
    addr_text(addr, e, K_H2);
    CHECK(near != NULL && strcmp(json_string_value(json_object_get(near, "holder")), addr) == 0);
    CHECK(near != NULL && num(near, "used_fen") == 149000000);
    const json_t *aff = find(y, "anomalies", "kind", "affiliated_redemption");
    id_text(id, e->v3b);
    addr_text(addr, e, K_STRANGER);
    CHECK(aff != NULL && strcmp(json_string_value(json_object_get(aff, "voucher")), id) == 0);
    CHECK(aff != NULL && strcmp(json_string_value(json_object_get(aff, "party")), addr) == 0);
    CHECK(aff != NULL &&
          strcmp(json_string_value(json_object_get(aff, "affiliation")), "group-b") == 0);
    CHECK_EQ_INT((int) json_array_size(get(y, "anomalies")), 3);
}

/* The holder classes, centre payments, revocations and policy window of the known chain. */
static void check_shows(const env *e, const json_t *y) {
    CHECK_EQ_INT(num(y, "policy_valid_from_ms"), fx_valid_from_ms());
    CHECK_EQ_INT(num(y, "policy_valid_until_ms"), fx_valid_until_ms());
    CHECK(yes(y, "year_in_policy_window"));
    /* Issued to: H1 (enterprise) 1000 + 200 yuan, H3 (maker) 50, H2 (university) 3000 +
     * 1490000, the intermediary 500. Redeemed from, by beneficiary: H1's 400 at centre-1,
     * and the intermediary's 500 that H3 (the beneficiary it passed them to) paid centre-2. */
    static const struct {
        const char *name;
        long long issued, redeemed, held;
    } want[] = {{"enterprise", 120000, 40000, 0},
                {"maker", 5000, 50000, 0},
                {"research", 0, 0, 0},
                {"university", 149300000, 0, 149300000},
                {"intermediary", 50000, 0, 0}};
    CHECK_EQ_INT((int) json_array_size(get(y, "holder_classes")), 5);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const json_t *k = json_array_get(get(y, "holder_classes"), i);
        CHECK(k != NULL &&
              strcmp(json_string_value(json_object_get(k, "class")), want[i].name) == 0);
        CHECK_EQ_INT(num(k, "issued_fen"), want[i].issued);
        CHECK_EQ_INT(num(k, "redeemed_fen"), want[i].redeemed);
        CHECK_EQ_INT(num(k, "held_fen"), want[i].held);
    }
    char c1[CRYPTO_ADDRESS_TEXT_BYTES], c2[CRYPTO_ADDRESS_TEXT_BYTES], id[65];
    addr_text(c1, e, K_CENTRE1);
    addr_text(c2, e, K_CENTRE2);
    const json_t *a = find(y, "centre_payments", "centre", c1);
    const json_t *b = find(y, "centre_payments", "centre", c2);
    CHECK_EQ_INT((int) json_array_size(get(y, "centre_payments")), 2);
    /* centre-1 was paid H1's 400 (redeemed, settled) and H3's 200 (not yet redeemed). */
    CHECK(a != NULL && num(a, "paid_fen") == 60000 && num(a, "claims_count") == 1);
    CHECK(a != NULL && num(a, "claimed_fen") == 40000 && num(a, "settled_fen") == 40000);
    CHECK(b != NULL && num(b, "paid_fen") == 50000 && num(b, "claims_count") == 1);
    CHECK(b != NULL && num(b, "claimed_fen") == 50000 && num(b, "settled_fen") == 0);
    const json_t *revs = get(y, "revocations");
    CHECK_EQ_INT((int) json_array_size(revs), 1);
    const json_t *rv = json_array_get(revs, 0);
    id_text(id, e->c1);
    CHECK(rv != NULL && strcmp(json_string_value(json_object_get(rv, "voucher")), id) == 0);
    CHECK(rv != NULL && num(rv, "amount_fen") == 60000 && num(rv, "height") == 5);
}

/* ------------------------------------------------------------------ tests */

static void test_a_clean_chain_verifies_with_every_count(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    storage_tip tip = *chain_tip(e.c);
    chain_close(e.c);
    e.c = NULL;
    lines l = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &l, &v), 0);
    if (l.lines > 0) fprintf(stderr, "%s", l.text);
    if (v != NULL) {
        const verify_summary *s = verify_result(v);
        CHECK_EQ_INT(s->height, 6);
        CHECK_EQ_INT(s->certs, 6);
        CHECK_EQ_INT(s->txs, 21);
        CHECK(s->rows > 40);
        CHECK_MEM(s->tip_hash, tip.hash, 32);
        CHECK_MEM(s->app_hash, tip.app_hash, 32);
        CHECK(strcmp(verify_chain_id(v), "slq-test") == 0);
    }
    verify_free(v);
    env_deinit(&e);
}

static void test_the_report_has_every_figure_of_the_known_chain(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    chain_close(e.c);
    e.c = NULL;
    lines l = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &l, &v), 0);
    char *json = NULL;
    size_t len = 0;
    CHECK_ERR(verify_report(v, REPORT_ALL_YEARS, &json, &len), SLQ_OK);
    json_t *r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(r != NULL);
    const json_t *years = r != NULL ? get(r, "years") : NULL;
    CHECK_EQ_INT((int) json_array_size(years), 1);
    const json_t *y = json_array_get(years, 0);
    if (y != NULL) {
        CHECK_EQ_INT(num(r, "height"), 6);
        CHECK_EQ_INT(num(r, "time_ms"), e.t0 + 6 * MINUTE);
        check_year_totals(y);
        check_programs(y);
        check_centres(&e, y);
        check_holders(&e, y);
        check_anomalies(&e, y);
        check_shows(&e, y);
    }
    json_decref(r);
    free(json);
    verify_free(v);
    env_deinit(&e);
}

/* Block 7 rejects claim b: its 50000 fen leave the open claims for clawed_back and the cap use
 * of general (and the city's), and centre-1 redeems v4c (20000, shared) as claim c; block 8
 * approves claim c, settles it paying 15000 by the district, and issues 200000 more, so the
 * peak is reached after the claw-back, net of it. The replay reproduces the rows, the
 * report's equation holds with the new term, and each payer has its line. */
static void test_a_rejected_claim_is_clawed_back_in_the_report(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    txlist l = {.n = 0};
    q_review(&e, &l, e.claim_b, false);
    uint8_t claim_c[32], more[32];
    q_redeem(&e, &l, K_CENTRE1, e.v4c, "SC-3", claim_c);
    commit(&e, &l, 7);
    q_review(&e, &l, claim_c, true);
    q_settle_part(&e, &l, claim_c, 15000, FX_PAYER_DISTRICT);
    q_issue(&e, &l, K_H1, "general", 200000, 0, 0, more);
    commit(&e, &l, 8);
    chain_close(e.c);
    e.c = NULL;
    lines ln = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &ln, &v), 0);
    if (ln.lines > 0) fprintf(stderr, "%s", ln.text);
    char *json = NULL, *text = NULL, *csv = NULL;
    size_t len = 0;
    CHECK_ERR(verify_report(v, YEAR, &json, &len), SLQ_OK);
    json_t *y = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(y != NULL);
    if (y != NULL) {
        CHECK_EQ_INT(num(y, "redeemed_fen"), 110000);
        CHECK_EQ_INT(num(y, "settled_fen"), 60000);
        CHECK_EQ_INT(num(y, "open_claims_fen"), 0);
        CHECK_EQ_INT(num(y, "clawed_back_fen"), 50000);
        CHECK_EQ_INT(num(y, "rejected_claims"), 1);
        CHECK_EQ_INT(num(y, "cap_used_fen"), 149415000 - 50000 + 200000);
        CHECK_EQ_INT(num(y, "cap_peak_fen"), 149415000 - 50000 + 200000);
        CHECK(yes(y, "conservation_holds"));
        CHECK(yes(y, "totals_match"));
        const json_t *g = find(y, "programs", "name", "general");
        CHECK(g != NULL && num(g, "clawed_back_fen") == 50000 && num(g, "cap_used_fen") == 245000 &&
              num(g, "cap_peak_fen") == 245000 && yes(g, "conservation_holds") &&
              yes(g, "totals_match"));
        const json_t *city = find(y, "payers", "payer", FX_PAYER_CITY);
        CHECK(city != NULL && num(city, "settled_fen") == 40000 && num(city, "paid_fen") == 40000);
        const json_t *d = find(y, "payers", "payer", FX_PAYER_DISTRICT);
        CHECK(d != NULL && num(d, "settled_fen") == 20000 && num(d, "paid_fen") == 15000 &&
              num(d, "claim_parts") == 1);
        const json_t *sh = find(y, "programs", "name", "shared");
        CHECK(sh != NULL && num(sh, "settled_fen") == 20000 && num(sh, "clawed_back_fen") == 0 &&
              yes(sh, "conservation_holds"));
    }
    CHECK_ERR(codec_report_format(&text, json, len, CODEC_REPORT_TABLE), SLQ_OK);
    CHECK(text != NULL && strstr(text, "clawed back 500.00") != NULL);
    CHECK(text != NULL && strstr(text, "settled by payer") != NULL);
    CHECK_ERR(codec_report_format(&csv, json, len, CODEC_REPORT_CSV), SLQ_OK);
    CHECK(csv != NULL && strstr(csv, ",year,,clawed_back_fen,50000\n") != NULL);
    CHECK(csv != NULL && strstr(csv, ",payer,city,paid_fen,40000\n") != NULL);
    json_decref(y);
    free(json);
    free(text);
    free(csv);
    verify_free(v);
    env_deinit(&e);
}

static void test_the_report_over_the_store_is_the_report_over_the_replay(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = chain_tip(e.c)->height, .time_ms = chain_tip_time_ms(e.c)};
    memcpy(tip.hash, chain_tip(e.c)->hash, 32);
    char *node = NULL, *offline = NULL, *all = NULL;
    size_t node_len = 0, offline_len = 0, all_len = 0;
    CHECK_ERR(report_json(&node, &node_len, chain_ledger(e.c), &src, &tip, YEAR), SLQ_OK);
    chain_close(e.c);
    e.c = NULL;
    lines l = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &l, &v), 0);
    CHECK_ERR(verify_report(v, YEAR, &offline, &offline_len), SLQ_OK);
    CHECK_ERR(verify_report(v, REPORT_ALL_YEARS, &all, &all_len), SLQ_OK);
    CHECK(node != NULL && offline != NULL && node_len == offline_len &&
          memcmp(node, offline, node_len) == 0);
    /* One year is flat: its members at the top, with the header. */
    json_t *one = codec_json_parse(offline, offline_len, NULL, 0);
    CHECK(one != NULL && num(one, "year") == YEAR && num(one, "issued_fen") == 149475000);
    CHECK(one != NULL && json_object_get(one, "tip_hash") != NULL);
    json_decref(one);
    free(node);
    free(offline);
    free(all);
    verify_free(v);
    env_deinit(&e);
}

static void test_a_year_without_vouchers_reports_zeros_and_a_held_cap(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = 6, .time_ms = chain_tip_time_ms(e.c)};
    char *json = NULL;
    size_t len = 0;
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, 2031), SLQ_OK);
    json_t *r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(r != NULL && num(r, "issued_fen") == 0 && num(r, "headroom_fen") == FX_CITY_CAP);
    CHECK(r != NULL && yes(r, "cap_held") && yes(r, "conservation_holds"));
    CHECK(r != NULL && (int) json_array_size(get(r, "holders")) == 0);
    CHECK(r != NULL && !yes(r, "year_in_policy_window")); /* the window ends in 2026 */
    json_decref(r);
    free(json);
    /* The window opens on 10 February 2023: that year meets it, 2022 does not. */
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, 2023), SLQ_OK);
    r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(r != NULL && yes(r, "year_in_policy_window"));
    json_decref(r);
    free(json);
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, 2022), SLQ_OK);
    r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(r != NULL && !yes(r, "year_in_policy_window"));
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, 1999), SLQ_INVALID_ARGUMENT);
    json_decref(r);
    free(json);
    env_deinit(&e);
}

/* The report's year figures of program `name` at block time t. */
static void grace_figures(env *e, int64_t t, long long *active, long long *expired,
                          long long *city_active, long long *city_expired, const char *name) {
    report_source src = report_source_storage(chain_storage(e->c));
    report_tip tip = {.height = chain_tip(e->c)->height, .time_ms = t};
    memcpy(tip.hash, chain_tip(e->c)->hash, 32);
    char *json = NULL;
    size_t len = 0;
    CHECK_ERR(report_json(&json, &len, chain_ledger(e->c), &src, &tip, YEAR), SLQ_OK);
    json_t *r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    const json_t *p = r != NULL ? find(r, "programs", "name", name) : NULL;
    CHECK(p != NULL && yes(r, "conservation_holds") && yes(p, "conservation_holds"));
    *active = p != NULL ? num(p, "active_fen") : -1;
    *expired = p != NULL ? num(p, "expired_fen") : -1;
    *city_active = r != NULL ? num(r, "active_fen") : -1;
    *city_expired = r != NULL ? num(r, "expired_fen") : -1;
    json_decref(r);
    free(json);
}

/* A voucher paid to a centre before its expiry is reported active while the centre may still
 * redeem it (the programme's grace: `outside`, 30 days), then expired; a holder's voucher
 * and a centre's of a programme without a grace are expired at the expiry. verify's report
 * over the replay is the node's. */
static void test_a_centres_voucher_in_its_grace_is_active_until_the_grace_ends(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    txlist l = {.n = 0};
    q_register(&e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    q_register(&e, &l, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "");
    commit(&e, &l, 1);
    int64_t exp = e.t0 + 4 * MINUTE, end = exp + FX_OUTSIDE_GRACE_MS;
    q_issue(&e, &l, K_H1, "outside", 1000, 0, exp, e.v1);
    q_issue(&e, &l, K_H2, "outside", 300, 0, exp, e.v2);
    q_issue(&e, &l, K_H1, "general", 500, 0, exp, e.v3);
    commit(&e, &l, 2);
    q_transfer(&e, &l, K_H1, e.v1, K_CENTRE1, 1000, e.p1, NULL);
    q_transfer(&e, &l, K_H1, e.v3, K_CENTRE1, 500, e.v3a, NULL);
    commit(&e, &l, 3);
    commit(&e, &l, 5); /* after the expiry, in the grace */
    long long act = 0, exd = 0, city_act = 0, city_exd = 0;
    grace_figures(&e, chain_tip_time_ms(e.c), &act, &exd, &city_act, &city_exd, "outside");
    CHECK_EQ_INT(act, 1000); /* the centre's, still redeemable */
    CHECK_EQ_INT(exd, 300);  /* the holder's */
    CHECK_EQ_INT(city_act, 1000);
    CHECK_EQ_INT(city_exd, 800); /* and the centre's `general` voucher: no grace */
    grace_figures(&e, end - 1, &act, &exd, &city_act, &city_exd, "outside");
    CHECK_EQ_INT(act, 1000);
    CHECK_EQ_INT(exd, 300);
    grace_figures(&e, end, &act, &exd, &city_act, &city_exd, "outside");
    CHECK_EQ_INT(act, 0);
    CHECK_EQ_INT(exd, 1300);
    CHECK_EQ_INT(city_act, 0);
    CHECK_EQ_INT(city_exd, 1800);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = chain_tip(e.c)->height, .time_ms = chain_tip_time_ms(e.c)};
    memcpy(tip.hash, chain_tip(e.c)->hash, 32);
    char *node = NULL, *offline = NULL;
    size_t node_len = 0, offline_len = 0;
    CHECK_ERR(report_json(&node, &node_len, chain_ledger(e.c), &src, &tip, YEAR), SLQ_OK);
    chain_close(e.c);
    e.c = NULL;
    lines out = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &out, &v), 0);
    CHECK_ERR(verify_report(v, YEAR, &offline, &offline_len), SLQ_OK);
    CHECK(node != NULL && offline != NULL && node_len == offline_len &&
          memcmp(node, offline, node_len) == 0);
    free(node);
    free(offline);
    verify_free(v);
    env_deinit(&e);
}

/* Applications of the year: H1 applies twice against contract SC-A (cost 2000 yuan, a 30%
 * share: 600 yuan) and both are issued (300 + 200 yuan, then revoked with their reasons); H2
 * applies twice against SC-B, one rejected, one still open. */
static void apply_scenario(env *e, uint8_t v[2][32]) {
    uint8_t a[4][32];
    txlist l = {.n = 0};
    q_register(e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    q_register(e, &l, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "");
    commit(e, &l, 1);
    q_apply(e, &l, K_H1, "national-major", 30000, "SC-A", 200000, a[0]);
    q_apply(e, &l, K_H1, "national-major", 20000, " sc-a ", 200000, a[1]);
    q_apply(e, &l, K_H2, "national-major", 10000, "SC-B", 100000, a[2]);
    q_apply(e, &l, K_H2, "national-major", 5000, "SC-B", 100000, a[3]);
    commit(e, &l, 2);
    q_issue_app(e, &l, a[0], 30000, v[0]);
    q_issue_app(e, &l, a[1], 20000, v[1]);
    q_reject_app(e, &l, a[2], "incomplete evidence");
    commit(e, &l, 3);
    q_revoke_for(e, &l, v[0], "duplicate funding");
    q_revoke_for(e, &l, v[1], "contract cancelled");
    commit(e, &l, 4);
}

static void check_applications(const env *e, const json_t *y, const uint8_t v[2][32]) {
    const json_t *nm = find(y, "applications", "program", "national-major");
    CHECK_EQ_INT((int) json_array_size(get(y, "applications")), P_COUNT);
    CHECK(nm != NULL && num(nm, "count") == 4 && num(nm, "asked_fen") == 65000);
    CHECK(nm != NULL && num(nm, "issued_count") == 2 && num(nm, "issued_fen") == 50000);
    CHECK(nm != NULL && num(nm, "rejected_count") == 1 && num(nm, "rejected_fen") == 10000);
    CHECK(nm != NULL && num(nm, "open_count") == 1 && num(nm, "open_fen") == 5000);
    const json_t *gen = find(y, "applications", "program", "general");
    CHECK(gen != NULL && num(gen, "count") == 0 && num(gen, "asked_fen") == 0);
    char h1[CRYPTO_ADDRESS_TEXT_BYTES], h2[CRYPTO_ADDRESS_TEXT_BYTES], id[65];
    addr_text(h1, e, K_H1);
    addr_text(h2, e, K_H2);
    CHECK_EQ_INT((int) json_array_size(get(y, "contracts")), 2);
    const json_t *ca = find(y, "contracts", "contract_ref", "SC-A"); /* as first given */
    const json_t *cb = find(y, "contracts", "contract_ref", "SC-B");
    CHECK(ca != NULL && strcmp(json_string_value(json_object_get(ca, "applicant")), h1) == 0);
    CHECK(ca != NULL && num(ca, "cost_fen") == 200000 && num(ca, "applications") == 2);
    CHECK(ca != NULL && num(ca, "asked_fen") == 50000 && num(ca, "issued_fen") == 50000);
    CHECK(ca != NULL && num(ca, "share_limit_bp") == FX_SHARE_BP);
    CHECK(ca != NULL && num(ca, "share_limit_fen") == 60000 && num(ca, "share_used_bp") == 2500);
    CHECK(ca != NULL && yes(ca, "share_held") && yes(ca, "row_matches"));
    CHECK(cb != NULL && strcmp(json_string_value(json_object_get(cb, "applicant")), h2) == 0);
    CHECK(cb != NULL && num(cb, "asked_fen") == 15000 && num(cb, "issued_fen") == 0);
    CHECK(cb != NULL && num(cb, "share_used_bp") == 0 && num(cb, "share_limit_fen") == 30000);
    const json_t *revs = get(y, "revocations");
    CHECK_EQ_INT((int) json_array_size(revs), 2);
    static const char *const reasons[] = {"duplicate funding", "contract cancelled"};
    static const long long amounts[] = {30000, 20000};
    for (size_t i = 0; i < 2; i++) {
        const json_t *rv = json_array_get(revs, i);
        id_text(id, v[i]);
        CHECK(rv != NULL && strcmp(json_string_value(json_object_get(rv, "voucher")), id) == 0);
        CHECK(rv != NULL &&
              strcmp(json_string_value(json_object_get(rv, "reason")), reasons[i]) == 0);
        CHECK(rv != NULL && num(rv, "amount_fen") == amounts[i] && num(rv, "height") == 4);
    }
    const json_t *ent = json_array_get(get(y, "holder_classes"), 0);
    CHECK(ent != NULL && num(ent, "issued_fen") == 50000 && num(ent, "held_fen") == 0);
}

static void test_the_report_shows_applications_contracts_and_revocations(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    uint8_t v[2][32];
    apply_scenario(&e, v);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = chain_tip(e.c)->height, .time_ms = chain_tip_time_ms(e.c)};
    memcpy(tip.hash, chain_tip(e.c)->hash, 32);
    char *node = NULL, *offline = NULL;
    size_t node_len = 0, offline_len = 0;
    CHECK_ERR(report_json(&node, &node_len, chain_ledger(e.c), &src, &tip, YEAR), SLQ_OK);
    chain_close(e.c);
    e.c = NULL;
    lines l = {.len = 0};
    verify *vf = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &l, &vf), 0);
    if (vf != NULL) CHECK_ERR(verify_report(vf, YEAR, &offline, &offline_len), SLQ_OK);
    /* the same bytes from the node's rows and blocks as from the replay of the blocks */
    CHECK(node != NULL && offline != NULL && node_len == offline_len &&
          memcmp(node, offline, node_len) == 0);
    json_t *r = offline != NULL ? codec_json_parse(offline, offline_len, NULL, 0) : NULL;
    CHECK(r != NULL);
    if (r != NULL) check_applications(&e, r, (const uint8_t(*)[32]) v);
    char *csv = NULL;
    CHECK_ERR(codec_report_format(&csv, offline, offline_len, CODEC_REPORT_CSV), SLQ_OK);
    CHECK(csv != NULL && strstr(csv, "\n2024,application,national-major,rejected_fen,10000\n"));
    CHECK(csv != NULL && strstr(csv, ",revocation,2,reason,contract cancelled\n"));
    CHECK(csv != NULL && strstr(csv, ",contract,SC-A,share_used_bp,2500\n"));
    free(csv);
    json_decref(r);
    free(node);
    free(offline);
    verify_free(vf);
    env_deinit(&e);
}

static void test_verify_leaves_the_data_directory_untouched(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    chain_close(e.c);
    e.c = NULL;
    char *before = dir_fingerprint(e.data);
    lines l = {.len = 0};
    CHECK_EQ_INT(run_verify(&e, e.data, &l, NULL), 0);
    CHECK_EQ_INT(run_verify(&e, e.data, &l, NULL), 0);
    char *after = dir_fingerprint(e.data);
    CHECK(strcmp(before, after) == 0);
    /* A home without data/ is refused, and data/ is not created. */
    char missing[128], why[256] = "";
    snprintf(missing, sizeof missing, "%s/nothing", e.home);
    verify *v = NULL;
    verify_opts o = {0};
    CHECK_ERR(verify_run(&v, e.genesis, e.genesis_len, missing, &o, why, sizeof why),
              SLQ_NOT_FOUND);
    CHECK(access(missing, F_OK) != 0);
    free(before);
    free(after);
    env_deinit(&e);
}

/* ------------------------------------------------------------------ tampering */

typedef enum { T_FLIP, T_DEL, T_PUT } tamper_mode;

typedef struct {
    const char *name;
    slq_key key;
    tamper_mode mode;
    int at;           /* T_FLIP: the byte to flip (-1: the middle) */
    const char *want; /* a failure line contains it */
} tamper_case;

static void tamper(const char *dir, const tamper_case *t) {
    char *err = NULL;
    leveldb_options_t *o = leveldb_options_create();
    leveldb_readoptions_t *ro = leveldb_readoptions_create();
    leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
    leveldb_t *db = leveldb_open(o, dir, &err);
    SLQ_ASSERT(err == NULL && db != NULL);
    const char *k = (const char *) t->key.bytes;
    if (t->mode == T_DEL) leveldb_delete(db, wo, k, t->key.len, &err);
    if (t->mode == T_PUT) leveldb_put(db, wo, k, t->key.len, "\x08\x01", 2, &err);
    if (t->mode == T_FLIP) {
        size_t len = 0;
        char *v = leveldb_get(db, ro, k, t->key.len, &len, &err);
        SLQ_ASSERT(err == NULL && v != NULL);
        if (len == 0) {
            leveldb_put(db, wo, k, t->key.len, "x", 1, &err); /* an empty row gains a byte */
        } else {
            v[t->at >= 0 ? (size_t) t->at : len / 2] ^= 0x01;
            leveldb_put(db, wo, k, t->key.len, v, len, &err);
        }
        leveldb_free(v);
    }
    SLQ_ASSERT(err == NULL);
    leveldb_close(db);
    leveldb_writeoptions_destroy(wo);
    leveldb_readoptions_destroy(ro);
    leveldb_options_destroy(o);
}

static slq_key hash_key(uint8_t family, const uint8_t *p, size_t n) {
    return slq_key_bytes(family, p, n);
}

/* The wanted text of a failure about key k: "<family>/<hex>". */
static const char *key_want(char *buf, size_t cap, const slq_key *k, const char *suffix) {
    int n = snprintf(buf, cap, "%c/", k->bytes[0]);
    codec_hex_encode(buf + n, k->bytes + 1, k->len - 1);
    snprintf(buf + strlen(buf), cap - strlen(buf), "%s", suffix);
    return buf;
}

#define CASES_MAX 32

static size_t tamper_cases(const env *e, tamper_case *c, char (*want)[200]) {
    size_t n = 0;
    uint8_t ref[32], rand_hash[32] = {0x5a, 0x5a};
    char form[LEDGER_CONTRACT_REF_FORM_BYTES]; /* the index is keyed by the normalized form */
    SLQ_ASSERT(ledger_contract_ref_hash(e->f.suite, ref, form, "SC-1") == SLQ_OK);
    slq_key k;
#define ADD(name_, key_, mode_, at_, suffix_)                                                   \
    k = (key_);                                                                                 \
    c[n] = (tamper_case){name_, k, mode_, at_, key_want(want[n], sizeof want[n], &k, suffix_)}; \
    n++
    ADD("block, one byte", slq_key_height(SLQ_KEY_BLOCK, 3), T_FLIP, -1, "");
    c[n - 1].want = "height 3";
    ADD("block, deleted", slq_key_height(SLQ_KEY_BLOCK, 3), T_DEL, -1, " missing");
    ADD("certificate, one byte", slq_key_height(SLQ_KEY_CERT, 2), T_FLIP, -1, "");
    ADD("certificate, deleted", slq_key_height(SLQ_KEY_CERT, 6), T_DEL, -1, " missing");
    ADD("tx index, one byte", hash_key(SLQ_KEY_TX, e->issue_tx, 32), T_FLIP, -1, ": value differs");
    ADD("tx index, deleted", hash_key(SLQ_KEY_TX, e->issue_tx, 32), T_DEL, -1, ": missing");
    ADD("account, one byte", hash_key(SLQ_KEY_ACCOUNT, e->f.addr[K_H1], 20), T_FLIP, -1, ": value");
    ADD("account, deleted", hash_key(SLQ_KEY_ACCOUNT, e->f.addr[K_H1], 20), T_DEL, -1, ": missing");
    ADD("voucher, one byte", hash_key(SLQ_KEY_VOUCHER, e->v2, 32), T_FLIP, -1, ": value differs");
    ADD("voucher, deleted", hash_key(SLQ_KEY_VOUCHER, e->v2, 32), T_DEL, -1, ": missing");
    ADD("year totals, one byte", slq_key_year(YEAR), T_FLIP, -1, ": value differs");
    ADD("year totals, deleted", slq_key_year(YEAR), T_DEL, -1, ": missing");
    ADD("program totals, one byte", slq_key_program_year(YEAR, P_GENERAL), T_FLIP, -1, ": value");
    ADD("holder quota, deleted", slq_key_quota(YEAR, P_PROVINCIAL, e->f.addr[K_H2]), T_DEL, -1,
        ": missing");
    ADD("contract index, one byte", hash_key(SLQ_KEY_CONTRACT_REF, ref, 32), T_FLIP, -1, ": value");
    ADD("contract index, deleted", hash_key(SLQ_KEY_CONTRACT_REF, ref, 32), T_DEL, -1, ": missing");
    ADD("claim, one byte", hash_key(SLQ_KEY_CLAIM, e->claim_a, 32), T_FLIP, -1, ": value differs");
    ADD("credit code index, changed", hash_key(SLQ_KEY_CREDIT_CODE, fx_credit_code(K_H1).data, 32),
        T_FLIP, -1, ": value differs");
    ADD("credit code index, deleted", hash_key(SLQ_KEY_CREDIT_CODE, fx_credit_code(K_H2).data, 32),
        T_DEL, -1, ": missing");
    ADD("holder index, deleted", slq_key_holding(e->f.addr[K_H2], e->v2), T_DEL, -1, ": missing");
    ADD("holder index, changed", slq_key_holding(e->f.addr[K_H2], e->v2), T_FLIP, -1, ": value");
    ADD("holder index, extra", slq_key_holding(e->f.addr[K_H1], e->v2), T_PUT, -1, ": extra");
    ADD("hash index, deleted", hash_key(SLQ_KEY_BLOCK_HASH, e->block2, 32), T_DEL, -1, " missing");
    ADD("hash index, changed", hash_key(SLQ_KEY_BLOCK_HASH, e->block2, 32), T_FLIP, 7,
        " does not say height 2");
    ADD("hash index, extra", hash_key(SLQ_KEY_BLOCK_HASH, rand_hash, 32), T_PUT, -1, ": malformed");
    ADD("tip, app hash byte", slq_key_prefix(SLQ_KEY_TIP), T_FLIP, 71, ": app hash");
    ADD("tip, deleted", slq_key_prefix(SLQ_KEY_TIP), T_DEL, -1, ": the tip row is missing");
    ADD("genesis, one byte", slq_key_prefix(SLQ_KEY_GENESIS), T_FLIP, -1, ": the stored genesis");
    ADD("block beyond the tip", slq_key_height(SLQ_KEY_BLOCK, 100), T_PUT, -1, ": block of height");
    ADD("a key of no family", slq_key_prefix('Z'), T_PUT, -1, ": a key of no slq family");
#undef ADD
    SLQ_ASSERT(n <= CASES_MAX);
    return n;
}

static void test_each_tampered_row_is_a_failure_that_names_it(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    chain_close(e.c);
    e.c = NULL;
    tamper_case cases[CASES_MAX];
    char want[CASES_MAX][200];
    size_t n = tamper_cases(&e, cases, want);
    for (size_t i = 0; i < n; i++) {
        char copy[128];
        snprintf(copy, sizeof copy, "%s/copy%zu", e.home, i);
        copy_dir(e.data, copy);
        tamper(copy, &cases[i]);
        static lines l;
        memset(&l, 0, sizeof l);
        size_t failures = run_verify(&e, copy, &l, NULL);
        bool named = strstr(l.text, cases[i].want) != NULL;
        if (failures == 0 || !named)
            fprintf(stderr, "  %s: %zu failures, want \"%s\" in:\n%s", cases[i].name, failures,
                    cases[i].want, l.text);
        CHECK(failures > 0 && named);
        rm_rf(copy);
    }
    env_deinit(&e);
}

/* ------------------------------------------------------------------ forged blocks
 *
 * Flipping a stored byte of a block changes its hash, so the certificate check fires first.
 * Here each block is wrong in one place only and signed all the same (commit_forged): the
 * audit must report exactly one failure, from the check of that place. */

static void forge_nothing(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    (void) h, (void) b, (void) f;
}

static void forge_txs_root(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    (void) b, (void) f;
    h->txs_root.data[5] ^= 1;
}

static void forge_app_hash(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    (void) b, (void) f;
    h->app_hash.data[0] ^= 1;
}

static void forge_prev_hash(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    (void) b, (void) f;
    h->prev_hash.data[31] ^= 1;
}

/* The previous block's time (block k is at t0 + k minutes). */
static void forge_time(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    (void) b, (void) f;
    h->time_ms -= MINUTE;
}

static void forge_last_commit(Slq__BlockHeader *h, Slq__Block *b, const forge *f) {
    b->last_commit = (ProtobufCBinaryData){f->last_commit_len, (uint8_t *) f->last_commit};
    h->last_commit_hash = (ProtobufCBinaryData){32, (uint8_t *) f->last_commit_hash};
}

/* Blocks 1..4: three parties; an issue; a transfer; an empty block. Block `at` is forged. */
static void short_chain(env *e, int at, const forge *f) {
    txlist l = {.n = 0};
    q_register(e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    q_register(e, &l, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "");
    commit_forged(e, &l, 1, at == 1 ? f : NULL);
    q_issue(e, &l, K_H1, "general", 100000, 0, 0, e->v1);
    commit_forged(e, &l, 2, at == 2 ? f : NULL);
    q_transfer(e, &l, K_H1, e->v1, K_CENTRE1, 40000, e->p1, e->c1);
    commit_forged(e, &l, 3, at == 3 ? f : NULL);
    commit_forged(e, &l, 4, at == 4 ? f : NULL);
    CHECK_EQ_INT(chain_tip(e->c)->height, 4);
}

typedef struct {
    const char *name;
    int at; /* the forged block */
    forge f;
    bool other_last_commit; /* f carries a certificate of another block at at - 1 */
    const char *want;       /* the one failure line contains it; NULL: no failure */
} forged_case;

static const forged_case forged_cases[] = {
    {"unchanged", 3, {.header = forge_nothing}, false, NULL},
    {"txs_root",
     2,
     {.header = forge_txs_root},
     false,
     "height 2: txs_root does not match its 1 transactions"},
    {"block time of the previous block", 4, {.header = forge_time}, false, "height 4: block time"},
    {"app_hash", 3, {.header = forge_app_hash}, false, "height 3: header app_hash is not"},
    {"prev_hash",
     3,
     {.header = forge_prev_hash},
     false,
     "height 3: prev_hash does not link to the hash of the previous block"},
    {"last_commit of another block",
     3,
     {.header = forge_last_commit},
     true,
     "height 3: last_commit (certificate of 2): certificate is for another block"},
    {"certificate of another block",
     4,
     {.cert_of_another_block = true},
     false,
     "height 4: certificate row c/0000000000000004: certificate is for another block"},
};

static void check_forged_case(const forged_case *c) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    forge f = c->f;
    uint8_t *other_cert = NULL, other[32];
    memset(other, 0x4c, sizeof other);
    if (c->other_last_commit) {
        other_cert = certify(&e, (uint64_t) c->at - 1, other, &f.last_commit_len);
        f.last_commit = other_cert;
        crypto_hash(e.f.suite, f.last_commit_hash, other_cert, f.last_commit_len);
    }
    short_chain(&e, c->at, &f);
    chain_close(e.c);
    e.c = NULL;
    static lines l;
    memset(&l, 0, sizeof l);
    size_t failures = run_verify(&e, e.data, &l, NULL);
    size_t want = c->want == NULL ? 0 : 1;
    bool named = c->want == NULL || strstr(l.text, c->want) != NULL;
    if (failures != want || l.lines != want || !named)
        fprintf(stderr, "  %s: %zu failures, want %zu naming \"%s\":\n%s", c->name, failures, want,
                c->want != NULL ? c->want : "", l.text);
    CHECK(failures == want && l.lines == want && named);
    free(other_cert);
    env_deinit(&e);
}

static void test_each_forged_block_fails_the_one_check_that_defends_it(void) {
    for (size_t i = 0; i < sizeof forged_cases / sizeof forged_cases[0]; i++)
        check_forged_case(&forged_cases[i]);
}

/* ------------------------------------------------------------------ caps
 *
 * The ledger refuses any issue that would break a cap, so a chain over its caps can only come
 * from a ledger with a bug. The audit checks the caps itself after every block. This test is
 * linked with --wrap=ledger_apply (audit/meson.build): while lenient_ is set, the node and the
 * audit both apply every transaction under its rules, those of a genesis with caps ten times
 * as high, and only the audit's own cap check can see that the chain's caps were broken. */

static const ledger *lenient_;

slq_err __real_ledger_apply(const ledger *l, ledger_state *st, const ledger_block_ctx *ctx,
                            const ledger_tx *tx, ledger_outcome *out);
slq_err __wrap_ledger_apply(const ledger *l, ledger_state *st, const ledger_block_ctx *ctx,
                            const ledger_tx *tx, ledger_outcome *out);

slq_err __wrap_ledger_apply(const ledger *l, ledger_state *st, const ledger_block_ctx *ctx,
                            const ledger_tx *tx, ledger_outcome *out) {
    return __real_ledger_apply(lenient_ != NULL ? lenient_ : l, st, ctx, tx, out);
}

/* The env's genesis with the city cap, the shared pool and the two holder caps ten times as
 * high. */
static ledger *lenient_ledger(const env *e) {
    Slq__Genesis *g = slq__genesis__unpack(NULL, e->genesis_len, e->genesis);
    SLQ_ASSERT(g != NULL && g->policy->n_programs == P_COUNT);
    g->policy->city_annual_cap_fen *= 10;
    g->policy->programs[P_SHARED]->annual_cap_fen *= 10;
    g->policy->programs[P_PROVINCIAL]->holder_annual_cap_fen *= 10;
    g->policy->programs[P_NATIONAL]->holder_annual_cap_fen *= 10;
    size_t len = slq__genesis__get_packed_size(g);
    uint8_t *bytes = malloc(len);
    SLQ_ASSERT(bytes != NULL);
    slq__genesis__pack(g, bytes);
    ledger *l = NULL;
    char why[128] = "";
    SLQ_ASSERT(ledger_create(&l, bytes, len, why, sizeof why) == SLQ_OK);
    free(bytes);
    slq__genesis__free_unpacked(g, NULL);
    return l;
}

static void test_a_cap_broken_by_a_lenient_ledger_is_a_failure_at_its_block(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    ledger *lenient = lenient_ledger(&e);
    lenient_ = lenient;
    txlist l = {.n = 0};
    q_register(&e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    q_register(&e, &l, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "");
    q_register(&e, &l, K_H3, SLQ__ROLE__ROLE_MAKER, "");
    commit(&e, &l, 1);
    q_issue(&e, &l, K_H1, "shared", FX_SHARED_CAP + 1000000, 0, 0, e.v1); /* the pool */
    commit(&e, &l, 2);
    q_issue(&e, &l, K_H2, "provincial-major", 160000000, 600000000, 0, e.v2); /* the holder */
    commit(&e, &l, 3);
    q_issue(&e, &l, K_H3, "general", 900000000, 0, 0, e.v3); /* the city, with the others */
    commit(&e, &l, 4);
    CHECK_EQ_INT(chain_tip(e.c)->height, 4);
    chain_close(e.c);
    e.c = NULL;
    static lines out;
    memset(&out, 0, sizeof out);
    size_t failures = run_verify(&e, e.data, &out, NULL);
    char h2[CRYPTO_ADDRESS_TEXT_BYTES], want[512];
    addr_text(h2, &e, K_H2);
    snprintf(want, sizeof want,
             "height 2: shared cap of 2024 exceeded: 6000000 fen used > 5000000 fen\n"
             "height 3: holder cap of provincial-major exceeded by %s: 160000000 fen used > "
             "150000000 fen\n"
             "height 4: city cap of 2024 exceeded: 1066000000 fen used > 1000000000 fen\n",
             h2);
    if (failures != 3 || strcmp(out.text, want) != 0)
        fprintf(stderr, "  %zu failures:\n%s  want:\n%s", failures, out.text, want);
    CHECK_EQ_INT(failures, 3);
    CHECK(strcmp(out.text, want) == 0);
    lenient_ = NULL;
    ledger_destroy(lenient);
    env_deinit(&e);
}

/* Holder-1 has its 3,000,000 yuan of national-major and the intermediary passes it
 * 1,000,000 more: the ledger refuses that (test_ledger); a chain that held it anyway fails
 * verify at that block, and its report says the holder caps did not hold. */
static void test_a_holder_over_its_cap_through_an_intermediary_is_flagged(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    ledger *lenient = lenient_ledger(&e);
    lenient_ = lenient;
    txlist l = {.n = 0};
    q_register(&e, &l, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "");
    commit(&e, &l, 1);
    q_issue(&e, &l, K_H1, "national-major", 300000000, 1000000000, 0, e.v1);
    q_issue(&e, &l, K_INTER, "national-major", 100000000, 1000000000, 0, e.v2);
    commit(&e, &l, 2);
    q_transfer(&e, &l, K_INTER, e.v2, K_H1, 100000000, e.p1, NULL);
    commit(&e, &l, 3);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = 3, .time_ms = chain_tip_time_ms(e.c)};
    char *json = NULL, h1[CRYPTO_ADDRESS_TEXT_BYTES], want[256];
    size_t len = 0;
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, YEAR), SLQ_OK);
    json_t *r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    addr_text(h1, &e, K_H1);
    const json_t *h = r != NULL ? find(r, "holders", "holder", h1) : NULL;
    const json_t *cap = h != NULL ? find(h, "caps", "program", "national-major") : NULL;
    CHECK(r != NULL && !yes(r, "holder_caps_held") && yes(r, "totals_match"));
    CHECK(cap != NULL && num(cap, "used_fen") == 400000000 && num(cap, "peak_fen") == 400000000);
    CHECK(cap != NULL && !yes(cap, "cap_held"));
    CHECK(h != NULL && num(h, "issued_fen") == 300000000);
    json_decref(r);
    free(json);
    chain_close(e.c);
    e.c = NULL;
    static lines out;
    memset(&out, 0, sizeof out);
    size_t failures = run_verify(&e, e.data, &out, NULL);
    snprintf(want, sizeof want,
             "height 3: holder cap of national-major exceeded by %s: 400000000 fen used > "
             "300000000 fen\n",
             h1);
    if (failures != 1 || strcmp(out.text, want) != 0)
        fprintf(stderr, "  %zu failures:\n%s  want:\n%s", failures, out.text, want);
    CHECK_EQ_INT(failures, 1);
    CHECK(strcmp(out.text, want) == 0);
    lenient_ = NULL;
    ledger_destroy(lenient);
    env_deinit(&e);
}

/* ------------------------------------------------------------------ suites, signing, text */

static void test_a_chain_of_the_sm2_suite_verifies(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_SM2_SM3);
    scenario(&e);
    chain_close(e.c);
    e.c = NULL;
    lines l = {.len = 0};
    verify *v = NULL;
    CHECK_EQ_INT(run_verify(&e, e.data, &l, &v), 0);
    if (l.lines > 0) fprintf(stderr, "%s", l.text);
    char *json = NULL, *env_text = NULL, signer[CRYPTO_ADDRESS_TEXT_BYTES], why[256];
    size_t len = 0, env_len = 0;
    CHECK_ERR(verify_report(v, YEAR, &json, &len), SLQ_OK);
    json_t *r = json != NULL ? codec_json_parse(json, len, NULL, 0) : NULL;
    CHECK(r != NULL && strcmp(json_string_value(json_object_get(r, "suite")), "sm2-sm3") == 0);
    CHECK(r != NULL && num(r, "issued_fen") == 149475000 && yes(r, "conservation_holds"));
    CHECK_ERR(codec_report_sign(&env_text, &env_len, json, len, e.f.keys[K_REGULATOR]), SLQ_OK);
    CHECK_ERR(codec_report_verify(env_text, env_len, signer, why, sizeof why), SLQ_OK);
    json_decref(r);
    free(json);
    free(env_text);
    verify_free(v);
    env_deinit(&e);
}

static void test_a_signed_report_verifies_and_a_flipped_byte_does_not(void) {
    fx f;
    fx_init(&f);
    const char *report = "{\"chain_id\":\"slq-test\",\"height\":7,\"year\":2024,\"cap_fen\":100}";
    char *env_text = NULL, signer[CRYPTO_ADDRESS_TEXT_BYTES] = "", why[256] = "", want[64];
    size_t len = 0;
    CHECK_ERR(codec_report_sign(&env_text, &len, report, strlen(report), f.keys[K_REGULATOR]),
              SLQ_OK);
    crypto_address_format(want, f.addr[K_REGULATOR]);
    CHECK_ERR(codec_report_verify(env_text, len, signer, why, sizeof why), SLQ_OK);
    CHECK(strcmp(signer, want) == 0);
    CHECK(strncmp(env_text, "{\"report\":{\"chain_id\"", 21) == 0);
    CHECK(env_text[len - 1] == '\n');
    /* Every single flipped bit anywhere in the envelope is caught. */
    size_t caught = 0;
    for (size_t i = 0; i < len; i++) {
        env_text[i] ^= 0x01;
        caught += codec_report_verify(env_text, len, signer, why, sizeof why) == SLQ_SIG_INVALID;
        env_text[i] ^= 0x01;
    }
    CHECK_EQ_INT(caught, len);
    CHECK_ERR(codec_report_verify(env_text, len / 2, signer, why, sizeof why), SLQ_SIG_INVALID);
    CHECK_ERR(codec_report_verify("{}", 2, signer, why, sizeof why), SLQ_SIG_INVALID);
    CHECK_ERR(codec_report_sign(&env_text, &len, "", 0, f.keys[K_REGULATOR]), SLQ_FIELD_INVALID);
    free(env_text);
    fx_deinit(&f);
}

static void test_the_table_and_the_csv_show_the_figures(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    report_source src = report_source_storage(chain_storage(e.c));
    report_tip tip = {.height = 6, .time_ms = chain_tip_time_ms(e.c)};
    char *json = NULL, *table = NULL, *csv = NULL;
    size_t len = 0;
    CHECK_ERR(report_json(&json, &len, chain_ledger(e.c), &src, &tip, REPORT_ALL_YEARS), SLQ_OK);
    CHECK_ERR(codec_report_format(&table, json, len, CODEC_REPORT_TABLE), SLQ_OK);
    CHECK_ERR(codec_report_format(&csv, json, len, CODEC_REPORT_CSV), SLQ_OK);
    CHECK(table != NULL && strstr(table, "budget year 2024") != NULL);
    CHECK(table != NULL && strstr(table, "cap held at every block    yes") != NULL);
    CHECK(table != NULL && strstr(table, "issued 1494750.00 = active 1493200.00 + redeemed "
                                         "900.00 + revoked 600.00 + expired 50.00") != NULL);
    CHECK(table != NULL && strstr(table, "affiliated_redemption") != NULL);
    CHECK(table != NULL && strstr(table, "成都某AI公司") != NULL);
    CHECK(csv != NULL && strncmp(csv, "year,section,subject,metric,value\n", 34) == 0);
    CHECK(csv != NULL && strstr(csv, "\n2024,year,,issued_fen,149475000\n") != NULL);
    CHECK(csv != NULL && strstr(csv, "\n2024,program,general,redeemed_fen,90000\n") != NULL);
    CHECK(csv != NULL && strstr(csv, "\n,report,,height,6\n") != NULL);
    CHECK_ERR(codec_report_format(&table, "[1]", 3, CODEC_REPORT_TABLE), SLQ_FIELD_INVALID);
    free(json);
    free(table);
    free(csv);
    env_deinit(&e);
}

static void test_verify_main_exits_0_verified_1_failed_2_unusable(void) {
    env e;
    env_init(&e, CRYPTO_SUITE_ED25519_SHA256);
    scenario(&e);
    chain_close(e.c);
    e.c = NULL;
    char *ok[] = {"verify", "--home", e.home, NULL};
    CHECK_EQ_INT(verify_main(3, ok), 0);
    char *report[] = {"verify", "--home", e.home, "--report", "--json", "--year", "2024", NULL};
    CHECK_EQ_INT(verify_main(7, report), 0);
    char *bad[] = {"verify", "--home", e.home, "--json", NULL};
    CHECK_EQ_INT(verify_main(4, bad), 2); /* --json without --report */
    char *nohome[] = {"verify", "--home", "/nonexistent/slq", NULL};
    CHECK_EQ_INT(verify_main(3, nohome), 2);
    tamper_case t = {"voucher", slq_key_bytes(SLQ_KEY_VOUCHER, e.v1, 32), T_DEL, -1, ""};
    tamper(e.data, &t);
    CHECK_EQ_INT(verify_main(3, ok), 1);
    CHECK_EQ_INT(verify_main(7, report), 1); /* no report for a chain that fails */
    env_deinit(&e);
}

TEST_MAIN("verify", TEST(test_a_clean_chain_verifies_with_every_count),
          TEST(test_the_report_has_every_figure_of_the_known_chain),
          TEST(test_the_report_shows_applications_contracts_and_revocations),
          TEST(test_the_report_over_the_store_is_the_report_over_the_replay),
          TEST(test_a_rejected_claim_is_clawed_back_in_the_report),
          TEST(test_a_year_without_vouchers_reports_zeros_and_a_held_cap),
          TEST(test_a_centres_voucher_in_its_grace_is_active_until_the_grace_ends),
          TEST(test_verify_leaves_the_data_directory_untouched),
          TEST(test_each_tampered_row_is_a_failure_that_names_it),
          TEST(test_each_forged_block_fails_the_one_check_that_defends_it),
          TEST(test_a_cap_broken_by_a_lenient_ledger_is_a_failure_at_its_block),
          TEST(test_a_holder_over_its_cap_through_an_intermediary_is_flagged),
          TEST(test_a_chain_of_the_sm2_suite_verifies),
          TEST(test_a_signed_report_verifies_and_a_flipped_byte_does_not),
          TEST(test_the_table_and_the_csv_show_the_figures),
          TEST(test_verify_main_exits_0_verified_1_failed_2_unusable))
