/* bench_setup.c: everything bench_node does before the clock starts.
 *
 * It reads the network that `slq testnet` wrote (genesis, the issuer's and centre-1's keys),
 * checks that the node at --node runs that chain, registers fresh holders and issues each
 * one voucher through the real API (waiting for their blocks), and then signs, offline, each
 * holder's chain of transfers to centre-1: transfer i spends the change voucher that
 * transfer i-1 leaves (ledger_voucher_id(tx hash, 1)), the first spends the issued voucher
 * (ledger_voucher_id(issue hash, 0)). Main thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "codec.h"
#include "slq/assert.h"
#include "slq/limits.h"

#define PATH_BYTES_MAX 4096u
#define WAVE_HOLDERS   256u /* holders funded per batch: REGISTER + ISSUE = 512 txs */
#define COMMIT_WAIT_S  60.0 /* longest wait for a setup transaction's block */
#define COMMIT_POLL_MS 20L
#define HOLDER_PROGRAM "general"
_Static_assert(2 * WAVE_HOLDERS <= SLQ_HTTP_BATCH_MAX, "a wave is one batch");
_Static_assert(2 * WAVE_HOLDERS <= SLQ_MEMPOOL_PER_ACCOUNT_MAX, "a wave fits the issuer's window");

/* ------------------------------------------------------------------ keys and chain */

static bool key_address(const bench *b, uint8_t out[CRYPTO_ADDRESS_BYTES], const crypto_key *k) {
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t pub_len = 0;
    if (crypto_key_public(k, pub, sizeof pub, &pub_len) != SLQ_OK ||
        crypto_address(b->suite, out, pub, pub_len) != SLQ_OK)
        return bench_fail("cannot derive an address");
    return true;
}

/* Loads DIR/keys/NAME.pem (a key of the chain's suite). */
static bool load_key(const bench *b, crypto_key **out, const char *name) {
    char path[PATH_BYTES_MAX], *pem = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/keys/%s.pem", b->opt.net_dir, name);
    if (!bench_read_file(&pem, &len, path, SLQ_KEY_FILE_BYTES_MAX)) return false;
    slq_err err = crypto_key_load_pem(out, pem, len, NULL);
    free(pem);
    if (err != SLQ_OK) return bench_fail("%s: %s", path, slq_err_str(err));
    if (crypto_key_suite(*out) != b->suite) {
        crypto_key_destroy(*out);
        *out = NULL;
        return bench_fail("%s: not a %s key", path, crypto_suite_name(b->suite));
    }
    return true;
}

static bool load_genesis(bench *b) {
    char path[PATH_BYTES_MAX], *json = NULL, why[512] = "";
    size_t len = 0, bytes_len = 0;
    uint8_t *bytes = NULL;
    snprintf(path, sizeof path, "%s/node0/genesis.json", b->opt.net_dir);
    if (!bench_read_file(&json, &len, path, CODEC_GENESIS_JSON_BYTES_MAX)) return false;
    slq_err err = codec_genesis_from_json(&bytes, &bytes_len, json, len, why, sizeof why);
    free(json);
    if (err == SLQ_OK) err = ledger_create(&b->ledger, bytes, bytes_len, why, sizeof why);
    free(bytes);
    if (err != SLQ_OK) return bench_fail("%s: %s", path, why[0] ? why : slq_err_str(err));
    b->suite = ledger_suite(b->ledger);
    return true;
}

/* The node must run the chain of this genesis, or every signature would be refused. */
bool bench_check_chain(const bench *b, bench_http *h, const char *url) {
    json_t *st = NULL;
    if (!bench_http_get_json(h, &st, "/v1/status")) return false;
    char want[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(want, ledger_genesis_hash(b->ledger), CRYPTO_HASH_BYTES);
    const char *id = codec_json_get_str(st, "chain_id");
    const char *gh = codec_json_get_str(st, "genesis_hash");
    bool ok = id != NULL && strcmp(id, ledger_chain_id(b->ledger)) == 0 && gh != NULL &&
              strcmp(gh, want) == 0;
    json_decref(st);
    if (!ok)
        return bench_fail("the node at %s does not run the chain of %s/node0/genesis.json", url,
                          b->opt.net_dir);
    return true;
}

/* The whole issuance must fit this year's caps of the city and of the program. */
static bool check_caps(const bench *b) {
    const Slq__Genesis *g = ledger_genesis(b->ledger);
    int p = ledger_program_index(b->ledger, HOLDER_PROGRAM);
    if (p < 0 || g->policy == NULL)
        return bench_fail("genesis has no program \"%s\"", HOLDER_PROGRAM);
    const Slq__Program *prog = g->policy->programs[p];
    int64_t total = (int64_t) b->holders_count * BENCH_ISSUE_FEN;
    if (total > g->policy->city_annual_cap_fen ||
        (prog->annual_cap_fen > 0 && total > prog->annual_cap_fen))
        return bench_fail("%zu holders x %d fen = %" PRId64 " fen is over the yearly cap; use "
                          "fewer clients or holders",
                          b->holders_count, BENCH_ISSUE_FEN, total);
    return true;
}

bool bench_open(bench *b) {
    crypto_key *centre = NULL;
    bool ok = load_genesis(b) && load_key(b, &b->issuer, "issuer") &&
              key_address(b, b->issuer_addr, b->issuer) && load_key(b, &centre, "centre-1") &&
              key_address(b, b->centre_addr, centre);
    crypto_key_destroy(centre);
    b->holders_count = (size_t) b->opt.clients * b->opt.holders;
    ok = ok && check_caps(b) && bench_http_open(&b->http, b->opt.node_url) &&
         bench_check_chain(b, b->http, b->opt.node_url);
    return ok;
}

void bench_close(bench *b) {
    for (size_t i = 0; b->holders != NULL && i < b->holders_count; i++) {
        bench_holder *h = &b->holders[i];
        for (size_t k = 0; h->transfers != NULL && k < b->opt.transfers; k++)
            free(h->transfers[k].hex);
        free(h->transfers);
        crypto_key_destroy(h->key);
    }
    free(b->holders);
    b->holders = NULL;
    crypto_key_destroy(b->issuer);
    b->issuer = NULL;
    bench_http_close(b->http);
    b->http = NULL;
    ledger_destroy(b->ledger);
    b->ledger = NULL;
}

/* ------------------------------------------------------------------ signing */

/* Signs body with key into t: hex text and tx hash. */
static bool sign_into(const bench *b, bench_tx *t, const crypto_key *key, const Slq__TxBody *body) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    slq_err err = ledger_tx_sign(b->ledger, key, body, &bytes, &len);
    if (err != SLQ_OK) return bench_fail("cannot sign a transaction: %s", slq_err_str(err));
    t->hex = malloc(2 * len + 1);
    if (t->hex == NULL) {
        free(bytes);
        return bench_fail("out of memory");
    }
    codec_hex_encode(t->hex, bytes, len);
    t->hex_len = 2 * len;
    crypto_hash(b->suite, t->hash, bytes, len);
    free(bytes);
    return true;
}

static Slq__TxBody transfer_body(Slq__Transfer *tr, const uint8_t *voucher, const uint8_t *to,
                                 uint64_t nonce) {
    slq__transfer__init(tr);
    tr->voucher_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, (uint8_t *) voucher};
    tr->to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) to};
    tr->amount_fen = BENCH_TRANSFER_FEN;
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_TRANSFER;
    body.nonce = nonce;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_TRANSFER;
    body.transfer = tr;
    return body;
}

size_t bench_transfer_preimage_len(const bench *b) {
    uint8_t voucher[CRYPTO_HASH_BYTES] = {0};
    Slq__Transfer tr;
    Slq__TxBody body = transfer_body(&tr, voucher, b->centre_addr, b->opt.transfers);
    return strlen(ledger_chain_id(b->ledger)) + slq__tx_body__get_packed_size(&body);
}

/* ------------------------------------------------------------------ batches */

size_t bench_batch_body_cap(size_t count, size_t hex_max) {
    return 16 + count * (hex_max + 3);
}

size_t bench_batch_body(char *out, size_t cap, const bench_tx *const *txs, size_t count) {
    SLQ_ASSERT(count >= 1);
    size_t n = 0;
    memcpy(out, "{\"txs\":[", 8);
    n = 8;
    for (size_t i = 0; i < count; i++) {
        SLQ_ASSERT(n + txs[i]->hex_len + 5 <= cap);
        if (i > 0) out[n++] = ',';
        out[n++] = '"';
        memcpy(out + n, txs[i]->hex, txs[i]->hex_len);
        n += txs[i]->hex_len;
        out[n++] = '"';
    }
    memcpy(out + n, "]}", 3);
    return n + 2;
}

/* One result object of a batch answer. */
static bench_verdict verdict_of(const json_t *res, char *why, size_t why_cap) {
    const char *st = codec_json_get_str(res, "status");
    const char *err = codec_json_get_str(res, "error");
    const char *msg = codec_json_get_str(res, "message");
    if (st != NULL && (strcmp(st, "pending") == 0 || strcmp(st, "committed") == 0))
        return BENCH_ACCEPTED;
    const char *name = err != NULL ? err : "(no error name)";
    if (strcmp(name, "MEMPOOL_FULL") == 0 || strcmp(name, "TX_PENDING_TOO_MANY") == 0)
        return BENCH_RETRY;
    if (why[0] == '\0') snprintf(why, why_cap, "%s: %s", name, msg != NULL ? msg : "");
    return BENCH_REFUSED;
}

bool bench_batch_verdicts(bench_verdict *v, size_t count, const bench_reply *r, char *why,
                          size_t why_cap) {
    if (r->status == 429 || r->status == 503) {
        for (size_t i = 0; i < count; i++) v[i] = BENCH_RETRY;
        return true;
    }
    if (r->status != 202) {
        snprintf(why, why_cap, "POST /v1/txs: HTTP %ld: %.200s", r->status, r->body);
        return false;
    }
    json_t *root = codec_json_parse(r->body, r->len, NULL, 0);
    const json_t *results = json_object_get(root, "results");
    bool ok = json_is_array(results) && json_array_size(results) == count;
    size_t i;
    const json_t *res;
    if (ok) json_array_foreach(results, i, res) v[i] = verdict_of(res, why, why_cap);
    json_decref(root);
    if (!ok) snprintf(why, why_cap, "POST /v1/txs: answer without %zu results", count);
    return ok;
}

/* ------------------------------------------------------------------ node queries */

bool bench_account_nonce(bench_http *h, uint64_t *out, const char *addr_text, const char *field) {
    char path[96];
    snprintf(path, sizeof path, "/v1/accounts/%s", addr_text);
    json_t *acc = NULL;
    if (!bench_http_get_json(h, &acc, path)) return false;
    int64_t v = -1;
    bool ok = codec_json_get_int(acc, field, &v) && v >= 0;
    if (ok) *out = (uint64_t) v;
    json_decref(acc);
    return ok ? true : bench_fail("GET %s: no integer \"%s\"", path, field);
}

typedef enum { TX_WAITING, TX_COMMITTED, TX_FAILED } tx_state;

/* What GET /v1/txs/HASH says of t. false only when the node cannot be asked. */
static bool tx_state_get(bench *b, tx_state *out, const bench_tx *t, char *why, size_t why_cap) {
    char path[16 + 2 * CRYPTO_HASH_BYTES];
    memcpy(path, "/v1/txs/", 8);
    codec_hex_encode(path + 8, t->hash, CRYPTO_HASH_BYTES);
    bench_reply r;
    if (!bench_http_do(b->http, &r, path, NULL, 0)) return false;
    *out = TX_WAITING;
    if (r.status == 404) return true; /* not seen yet */
    if (r.status != 200) return bench_fail("GET %s: HTTP %ld: %.200s", path, r.status, r.body);
    json_t *j = codec_json_parse(r.body, r.len, NULL, 0);
    const char *st = codec_json_get_str(j, "status");
    const char *err = codec_json_get_str(j, "error");
    const char *msg = codec_json_get_str(j, "message");
    if (st != NULL && strcmp(st, "committed") == 0) *out = TX_COMMITTED;
    if (st == NULL || strcmp(st, "rejected") == 0) {
        *out = TX_FAILED;
        snprintf(why, why_cap, "%s: %s", err != NULL ? err : "?",
                 msg != NULL ? msg : "no status in the answer");
    }
    json_decref(j);
    return true;
}

/* Waits until t is committed (true); false when it was rejected or did not make a block in
 * COMMIT_WAIT_S (why says which), or the node cannot be asked (why empty). */
static bool wait_committed(bench *b, const bench_tx *t, char *why, size_t why_cap) {
    double deadline = bench_now_s() + COMMIT_WAIT_S;
    for (;;) {
        tx_state s = TX_WAITING;
        if (!tx_state_get(b, &s, t, why, why_cap)) return false;
        if (s == TX_COMMITTED) return true;
        if (s == TX_FAILED) return false;
        if (bench_now_s() > deadline) {
            snprintf(why, why_cap, "not in a block after %.0f s", COMMIT_WAIT_S);
            return false;
        }
        bench_sleep_ms(COMMIT_POLL_MS);
    }
}

/* ------------------------------------------------------------------ funding */

static bool make_holders(bench *b) {
    size_t n = b->holders_count;
    b->holders = calloc(n, sizeof *b->holders);
    if (b->holders == NULL) return bench_fail("out of memory");
    for (size_t i = 0; i < n; i++) {
        bench_holder *h = &b->holders[i];
        if (crypto_key_generate(&h->key, b->suite) != SLQ_OK)
            return bench_fail("cannot generate a holder key");
        if (!key_address(b, h->addr, h->key)) return false;
        crypto_address_format(h->addr_text, h->addr);
    }
    return true;
}

static bool sign_register(const bench *b, bench_tx *t, const bench_holder *h, uint64_t nonce) {
    char name[64];
    snprintf(name, sizeof name, "bench %s", h->addr_text);
    Slq__Register reg = SLQ__REGISTER__INIT;
    reg.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) h->addr};
    reg.role = SLQ__ROLE__ROLE_ENTERPRISE;
    reg.name = name;
    /* A holder needs a credit code hash of its own, fresh on every run like its key: the
     * hash of its address stands in (the ledger sees only hashes). */
    uint8_t code_hash[CRYPTO_HASH_BYTES];
    crypto_hash(b->suite, code_hash, h->addr, CRYPTO_ADDRESS_BYTES);
    reg.credit_code_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, code_hash};
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REGISTER;
    body.nonce = nonce;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    body.register_ = &reg;
    return sign_into(b, t, b->issuer, &body);
}

static bool sign_issue(const bench *b, bench_tx *t, const bench_holder *h, uint64_t nonce) {
    char ref[64];
    snprintf(ref, sizeof ref, "bench-%s", h->addr_text); /* fresh key: a fresh reference */
    Slq__Issue is = SLQ__ISSUE__INIT;
    is.holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, (uint8_t *) h->addr};
    is.program = HOLDER_PROGRAM;
    is.amount_fen = BENCH_ISSUE_FEN;
    is.application_ref = ref;
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_ISSUE;
    body.nonce = nonce;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
    body.issue = &is;
    return sign_into(b, t, b->issuer, &body);
}

/* Posts txs[0..count) until each is accepted; resubmits those refused for now. */
static bool submit_all(bench *b, const bench_tx *const *txs, size_t count) {
    bench_verdict v[SLQ_HTTP_BATCH_MAX];
    const bench_tx *left[SLQ_HTTP_BATCH_MAX];
    size_t cap = bench_batch_body_cap(count, b->tx_hex_max);
    char *body = malloc(cap), why[320] = "";
    bool ok = body != NULL ? true : bench_fail("out of memory");
    memcpy(left, txs, count * sizeof *txs);
    for (unsigned round = 0; ok && count > 0; round++) {
        bench_reply r;
        size_t len = bench_batch_body(body, cap, left, count);
        ok = bench_http_do(b->http, &r, "/v1/txs", body, len) &&
             (bench_batch_verdicts(v, count, &r, why, sizeof why) ? true
                                                                  : bench_fail("setup: %s", why));
        size_t kept = 0;
        for (size_t i = 0; ok && i < count; i++) {
            if (v[i] == BENCH_REFUSED) ok = bench_fail("setup: refused: %s", why);
            if (v[i] == BENCH_RETRY) left[kept++] = left[i];
        }
        count = kept;
        if (ok && count > 0 && round >= 1000) ok = bench_fail("setup: the node stays full");
        if (ok && count > 0) bench_sleep_ms(20);
    }
    free(body);
    return ok;
}

/* Waits for the wave's last transaction; if it fails, names the first that did. */
static bool wait_wave(bench *b, const bench_tx *txs, size_t count) {
    char why[320] = "";
    if (wait_committed(b, &txs[count - 1], why, sizeof why)) return true;
    if (why[0] == '\0') return false; /* unreachable, already said */
    for (size_t i = 0; i < count; i++) {
        tx_state s = TX_WAITING;
        char first[320] = "";
        if (!tx_state_get(b, &s, &txs[i], first, sizeof first)) return false;
        if (s != TX_COMMITTED)
            return bench_fail("setup: %s for holder %zu not committed: %s",
                              i % 2 == 0 ? "REGISTER" : "ISSUE", i / 2, first[0] ? first : why);
    }
    return bench_fail("setup: %s", why);
}

/* Registers and funds holders [first, first + count) with issuer nonces from *nonce + 1. */
static bool fund_wave(bench *b, size_t first, size_t count, uint64_t *nonce) {
    SLQ_ASSERT(count >= 1 && count <= WAVE_HOLDERS);
    bench_tx txs[2 * WAVE_HOLDERS];
    const bench_tx *ptrs[2 * WAVE_HOLDERS];
    memset(txs, 0, sizeof txs);
    bool ok = true;
    for (size_t i = 0; ok && i < count; i++) {
        bench_holder *h = &b->holders[first + i];
        ok = sign_register(b, &txs[2 * i], h, ++*nonce) &&
             sign_issue(b, &txs[2 * i + 1], h, ++*nonce);
        if (ok) memcpy(h->issue_hash, txs[2 * i + 1].hash, CRYPTO_HASH_BYTES);
    }
    for (size_t i = 0; i < 2 * count; i++) {
        ptrs[i] = &txs[i];
        if (txs[i].hex_len > b->tx_hex_max) b->tx_hex_max = txs[i].hex_len;
    }
    ok = ok && submit_all(b, ptrs, 2 * count) && wait_wave(b, txs, 2 * count);
    for (size_t i = 0; i < 2 * count; i++) free(txs[i].hex);
    return ok;
}

bool bench_fund_holders(bench *b) {
    char issuer[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(issuer, b->issuer_addr);
    uint64_t nonce = 0;
    if (!make_holders(b) || !bench_account_nonce(b->http, &nonce, issuer, "pending_nonce"))
        return false;
    for (size_t first = 0; first < b->holders_count; first += WAVE_HOLDERS) {
        size_t n =
            b->holders_count - first < WAVE_HOLDERS ? b->holders_count - first : WAVE_HOLDERS;
        if (!fund_wave(b, first, n, &nonce)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------ transfers */

bool bench_presign(bench *b) {
    b->tx_hex_max = 0;
    for (size_t i = 0; i < b->holders_count; i++) {
        bench_holder *h = &b->holders[i];
        h->transfers = calloc(b->opt.transfers, sizeof *h->transfers);
        if (h->transfers == NULL) return bench_fail("out of memory");
        uint8_t voucher[CRYPTO_HASH_BYTES];
        ledger_voucher_id(b->suite, voucher, h->issue_hash, 0);
        for (unsigned k = 0; k < b->opt.transfers; k++) {
            Slq__Transfer tr;
            Slq__TxBody body = transfer_body(&tr, voucher, b->centre_addr, k + 1u);
            bench_tx *t = &h->transfers[k];
            if (!sign_into(b, t, h->key, &body)) return false;
            ledger_voucher_id(b->suite, voucher, t->hash, 1); /* the change, kept by h */
            if (t->hex_len > b->tx_hex_max) b->tx_hex_max = t->hex_len;
        }
    }
    return true;
}
