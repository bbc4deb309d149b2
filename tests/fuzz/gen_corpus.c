/* gen_corpus.c: writes the seed corpora of the fuzz targets under OUTDIR/<name>/ (tx, block,
 * genesis, storage_rows); run once and commit the files:
 *
 *   ninja -C build-fuzz tests/fuzz/gen_corpus && build-fuzz/tests/fuzz/gen_corpus tests/fuzz/corpus
 *
 * Seeds are built on fuzz_fixture.h (fixed keys, a genesis, a short history), so they mean
 * the same in every run; each tx seed is checked to apply with SLQ_OK before it is written.
 * The genesis seeds are the fixture's (Ed25519) and an SM2 one with fresh keys. The pem
 * seeds are not made here but by OpenSSL itself, in corpus/pem/:
 *
 *   openssl genpkey -algorithm ed25519 -out ed25519.pem
 *   openssl genpkey -algorithm SM2 -out sm2.pem
 *   openssl genpkey -algorithm ed25519 -aes-256-cbc -pass pass:pw -out ed25519-enc.pem
 *   openssl genpkey -algorithm SM2 -aes-256-cbc -pass pass:pw -out sm2-enc.pem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_fixture.h"

#define SEED_BYTES_MAX 4096u
#define MODE_ISSUER    0xA5 /* as in fuzz_tx.c */
#define MODE_SIGNER    0xA6

typedef struct {
    const char *out; /* OUTDIR */
    fx f;            /* after fz_history() */
    fz_ids ids;
    ledger_view view; /* reads f.st */
    uint8_t *signed_issue, *signed_settle;
    size_t signed_issue_len, signed_settle_len;
} gen;

static void write_seed(const gen *g, const char *corpus, const char *name, const uint8_t *p,
                       size_t n) {
    SLQ_ASSERT(n <= SEED_BYTES_MAX);
    char path[512];
    int len = snprintf(path, sizeof path, "%s/%s", g->out, corpus);
    SLQ_ASSERT(len > 0 && (size_t) len < sizeof path);
    SLQ_ASSERT(mkdir(path, 0755) == 0 || errno == EEXIST);
    len = snprintf(path, sizeof path, "%s/%s/%s", g->out, corpus, name);
    SLQ_ASSERT(len > 0 && (size_t) len < sizeof path);
    FILE *fp = fopen(path, "wb");
    SLQ_ASSERT(fp != NULL);
    SLQ_ASSERT(fwrite(p, 1, n, fp) == n);
    SLQ_ASSERT(fclose(fp) == 0);
    printf("%s %zu bytes\n", path, n);
}

/* Signs body as `who` (malloc'd SignedTx) and checks it applies after the history. */
static void sign_checked(gen *g, int who, const Slq__TxBody *body, uint8_t **out, size_t *len) {
    SLQ_ASSERT(ledger_tx_sign(g->f.l, g->f.keys[who], body, out, len) == SLQ_OK);
    ledger_tx tx;
    SLQ_ASSERT(ledger_tx_decode(&tx, g->f.l, *out, *len) == SLQ_OK);
    ledger_state *st = NULL;
    SLQ_ASSERT(ledger_state_create(&st, &g->view) == SLQ_OK);
    ledger_block_ctx ctx = {.height = 2, .time_ms = FZ_NEXT_TIME_MS, .index = 0};
    ledger_outcome o;
    slq_err err = ledger_apply(g->f.l, st, &ctx, &tx, &o);
    if (err != SLQ_OK) fprintf(stderr, "seed does not apply: %s\n", o.reason);
    SLQ_ASSERT(err == SLQ_OK);
    ledger_state_destroy(st);
    ledger_tx_free(&tx);
}

/* Writes a body seed for fuzz_tx: 0xA5 || body (issuer) or 0xA6 || signer || body. */
static void tx_seed(gen *g, const char *name, int who, Slq__TxBody *body, uint64_t nonce) {
    body->nonce = nonce;
    uint8_t *signed_tx = NULL;
    size_t signed_len = 0;
    sign_checked(g, who, body, &signed_tx, &signed_len);
    free(signed_tx);
    uint8_t buf[SEED_BYTES_MAX];
    size_t n = slq__tx_body__get_packed_size(body), head = who == K_ISSUER ? 1 : 2;
    SLQ_ASSERT(n + head <= sizeof buf);
    buf[0] = who == K_ISSUER ? MODE_ISSUER : MODE_SIGNER;
    buf[1] = (uint8_t) who;
    slq__tx_body__pack(body, buf + head);
    write_seed(g, "tx", name, buf, n + head);
}

static void tx_seeds_issuer(gen *g) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER, b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, g->f.addr[K_STRANGER]};
    r.role = SLQ__ROLE__ROLE_RESEARCH, r.name = "institute";
    tx_seed(g, "a5-register", K_ISSUER, &b, 6);
    Slq__Issue is = SLQ__ISSUE__INIT;
    b = (Slq__TxBody) SLQ__TX_BODY__INIT;
    b.kind = SLQ__TX_KIND__TX_ISSUE, b.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE, b.issue = &is;
    is.holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, g->f.addr[K_H3]};
    is.program = "national-major", is.amount_fen = 30000, is.cost_fen = 100000;
    is.application_ref = "fz-app-3";
    tx_seed(g, "a5-issue", K_ISSUER, &b, 6);
    sign_checked(g, K_ISSUER, &b, &g->signed_issue, &g->signed_issue_len);
    write_seed(g, "tx", "signed-issue", g->signed_issue, g->signed_issue_len);
    Slq__Revoke rv = SLQ__REVOKE__INIT;
    b = (Slq__TxBody) SLQ__TX_BODY__INIT;
    b.kind = SLQ__TX_KIND__TX_REVOKE, b.payload_case = SLQ__TX_BODY__PAYLOAD_REVOKE;
    b.revoke = &rv;
    rv.voucher_id = (ProtobufCBinaryData){32, g->ids.h2_change}, rv.reason = "fraud";
    tx_seed(g, "a5-revoke", K_ISSUER, &b, 6);
}

static void tx_seeds_parties(gen *g) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Transfer t = SLQ__TRANSFER__INIT;
    b.kind = SLQ__TX_KIND__TX_TRANSFER, b.payload_case = SLQ__TX_BODY__PAYLOAD_TRANSFER;
    b.transfer = &t;
    t.voucher_id = (ProtobufCBinaryData){32, g->ids.h1_change};
    t.to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, g->f.addr[K_CENTRE2]};
    t.amount_fen = 1000;
    tx_seed(g, "a6-transfer-to-centre", K_H1, &b, 2);
    t.voucher_id = (ProtobufCBinaryData){32, g->ids.h2_change}; /* shared: holder to holder */
    t.to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, g->f.addr[K_H1]};
    t.amount_fen = 5000;
    tx_seed(g, "a6-transfer-to-holder", K_H2, &b, 2);
    static uint8_t evidence[32] = {0xe5};
    ProtobufCBinaryData ids[1] = {{32, g->ids.centre2_v}};
    Slq__Redeem r = SLQ__REDEEM__INIT;
    b = (Slq__TxBody) SLQ__TX_BODY__INIT;
    b.kind = SLQ__TX_KIND__TX_REDEEM, b.payload_case = SLQ__TX_BODY__PAYLOAD_REDEEM;
    b.redeem = &r;
    r.n_voucher_ids = 1, r.voucher_ids = ids, r.contract_ref = "fz-contract-2";
    r.evidence_hash = (ProtobufCBinaryData){32, evidence};
    tx_seed(g, "a6-redeem", K_CENTRE2, &b, 1);
    Slq__ReviewClaim rv = SLQ__REVIEW_CLAIM__INIT;
    b = (Slq__TxBody) SLQ__TX_BODY__INIT;
    b.kind = SLQ__TX_KIND__TX_REVIEW_CLAIM, b.payload_case = SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM;
    b.review_claim = &rv;
    rv.claim_id = (ProtobufCBinaryData){32, g->ids.claim}, rv.approve = false;
    rv.reason = "fz-no-delivery";
    tx_seed(g, "a6-review-reject", K_FINANCE, &b, 1);
    Slq__Settle s = SLQ__SETTLE__INIT;
    b = (Slq__TxBody) SLQ__TX_BODY__INIT;
    b.kind = SLQ__TX_KIND__TX_SETTLE, b.payload_case = SLQ__TX_BODY__PAYLOAD_SETTLE;
    b.settle = &s;
    s.claim_id = (ProtobufCBinaryData){32, g->ids.claim}, s.payment_ref = "fz-pay-1";
    s.payer = FX_PAYER_DISTRICT;
    tx_seed(g, "a6-settle", K_FINANCE, &b, 1);
    sign_checked(g, K_FINANCE, &b, &g->signed_settle, &g->signed_settle_len);
    write_seed(g, "tx", "signed-settle", g->signed_settle, g->signed_settle_len);
}

/* Packs a message into a malloc'd buffer. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len) {
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *p = malloc(*len > 0 ? *len : 1);
    SLQ_ASSERT(p != NULL);
    protobuf_c_message_pack(m, p);
    return p;
}

/* A Block at `height` with the given txs; a certificate of height - 1 unless height is 1. */
static uint8_t *block_bytes(const gen *g, uint64_t height, ProtobufCBinaryData *txs, size_t n_txs,
                            size_t *len) {
    static uint8_t h32[32] = {0x11}, addr[20] = {0x22}, sig[64] = {0x33};
    Slq__BlockHeader h = SLQ__BLOCK_HEADER__INIT;
    h.chain_id = (char *) ledger_chain_id(g->f.l), h.height = height;
    h.time_ms = FZ_NEXT_TIME_MS;
    h.prev_hash = h.txs_root = h.app_hash = h.validators_hash = (ProtobufCBinaryData){32, h32};
    h.proposer = (ProtobufCBinaryData){20, addr};
    Slq__CommitSig cs = SLQ__COMMIT_SIG__INIT, *csp = &cs;
    cs.flag = SLQ__COMMIT_FLAG__COMMIT_FLAG_COMMIT;
    cs.validator = (ProtobufCBinaryData){20, addr}, cs.signature = (ProtobufCBinaryData){64, sig};
    Slq__Certificate c = SLQ__CERTIFICATE__INIT;
    c.chain_id = h.chain_id, c.height = height - 1, c.round = 1;
    c.block_hash = (ProtobufCBinaryData){32, h32}, c.n_sigs = 1, c.sigs = &csp;
    if (height > 1) h.last_commit_hash = (ProtobufCBinaryData){32, h32};
    Slq__Block b = SLQ__BLOCK__INIT;
    size_t hlen = 0, clen = 0;
    uint8_t *hp = pack(&h.base, &hlen), *cp = height > 1 ? pack(&c.base, &clen) : NULL;
    b.header = (ProtobufCBinaryData){hlen, hp};
    b.n_txs = n_txs, b.txs = txs;
    b.last_commit = (ProtobufCBinaryData){clen, cp};
    uint8_t *out = pack(&b.base, len);
    free(hp);
    free(cp);
    return out;
}

static void block_seeds(gen *g) {
    ProtobufCBinaryData txs[2] = {{g->signed_settle_len, g->signed_settle},
                                  {g->signed_issue_len, g->signed_issue}};
    size_t len = 0;
    uint8_t *b = block_bytes(g, 2, txs, 2, &len);
    write_seed(g, "block", "two-txs", b, len);
    free(b);
    b = block_bytes(g, 1, txs, 1, &len);
    write_seed(g, "block", "height-1", b, len);
    free(b);
    b = block_bytes(g, 3, NULL, 0, &len);
    write_seed(g, "block", "no-txs", b, len);
    free(b);
}

/* A storage_rows seed: n || TxLocation{height, index} (n bytes) || block. */
static void rows_seed(gen *g, const char *name, uint64_t height, uint32_t index,
                      const uint8_t *block, size_t block_len) {
    Slq__TxLocation loc = SLQ__TX_LOCATION__INIT;
    loc.height = height, loc.index = index;
    uint8_t buf[SEED_BYTES_MAX];
    size_t n = slq__tx_location__get_packed_size(&loc);
    SLQ_ASSERT(n < 256 && 1 + n + block_len <= sizeof buf);
    buf[0] = (uint8_t) n;
    slq__tx_location__pack(&loc, buf + 1);
    memcpy(buf + 1 + n, block, block_len);
    write_seed(g, "storage_rows", name, buf, 1 + n + block_len);
}

static void storage_rows_seeds(gen *g) {
    ProtobufCBinaryData txs[2] = {{g->signed_settle_len, g->signed_settle},
                                  {g->signed_issue_len, g->signed_issue}};
    size_t len = 0;
    uint8_t *b = block_bytes(g, 2, txs, 2, &len);
    rows_seed(g, "tx-0", 1, 0, b, len);
    rows_seed(g, "tx-1", 1, 1, b, len);
    rows_seed(g, "tx-2-past-end", 1, 2, b, len);
    rows_seed(g, "missing-block", 2, 0, b, len);
    free(b);
    b = block_bytes(g, 1, txs, 1, &len);
    rows_seed(g, "height-1-block", 1, 0, b, len);
    free(b);
}

static void genesis_seeds(gen *g) {
    uint8_t *b = NULL;
    size_t len = 0;
    fx_genesis_bytes(&g->f, &b, &len);
    write_seed(g, "genesis", "ed25519", b, len);
    free(b);
    fx sm2;
    fx_init_suite(&sm2, CRYPTO_SUITE_SM2_SM3);
    fx_genesis_bytes(&sm2, &b, &len);
    write_seed(g, "genesis", "sm2", b, len);
    free(b);
    fx_deinit(&sm2);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    static gen g;
    g.out = argv[1];
    fz_init(&g.f);
    fz_history(&g.f, &g.ids);
    g.view = (ledger_view){.ctx = g.f.st, .get = fz_view_get};
    tx_seeds_issuer(&g);
    tx_seeds_parties(&g);
    block_seeds(&g);
    storage_rows_seeds(&g);
    genesis_seeds(&g);
    free(g.signed_issue);
    free(g.signed_settle);
    fx_deinit(&g.f);
    return 0;
}
