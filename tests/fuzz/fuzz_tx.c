/* fuzz_tx.c: feeds ledger_tx_decode() (strict SignedTx/TxBody decoding and the signature
 * check) and, for what decodes, ledger_apply() on a scratch state over the fixture's.
 *
 * Input modes, by the first byte:
 *   0xA5  the rest is a TxBody: unpacked, signed by the fixture's issuer, then decoded
 *         and applied (a mutated signed tx almost never verifies; this reaches apply);
 *   0xA6  the next byte picks the signer (mod K_COUNT), the rest is a TxBody, as above;
 *   else  the whole input is a SignedTx, decoded and applied as is.
 * The fixture (fuzz_fixture.h: fixed keys, a genesis and a short history) is built on the
 * first call and lives until exit. Each input gets a fresh scratch state whose base view
 * reads the fixture's state, so inputs do not see each other.
 *
 * Asserts: no crash, leak or UB; every return is a documented slq_err; ledger_apply returns
 * its outcome's code; a rejected tx changes nothing; an applied one changes rows and is
 * refused as SLQ_TX_DUPLICATE when applied again. Every input is also read as a contract
 * reference and its normalized form checked (check_contract_ref). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_fixture.h"
#include "slq/limits.h"

#define MODE_ISSUER 0xA5
#define MODE_SIGNER 0xA6

typedef struct {
    fx f;
    ledger_view view; /* reads f.st, the fixture's state */
} fuzz_tx_world;

static fuzz_tx_world *world(void) {
    static fuzz_tx_world w; /* reachable until exit, so LeakSanitizer stays quiet */
    static bool ready;
    if (!ready) {
        fz_quiet();
        fz_init(&w.f);
        fz_ids ids;
        fz_history(&w.f, &ids);
        w.view = (ledger_view){.ctx = w.f.st, .get = fz_view_get};
        ready = true;
    }
    return &w;
}

/* Number of pending changes of st. */
static size_t changes_count(ledger_state *st) {
    ledger_change *c = NULL;
    size_t n = 0;
    SLQ_ASSERT(ledger_state_changes(st, &c, &n) == SLQ_OK);
    free(c);
    return n;
}

/* Applies a decoded tx on a fresh scratch state and checks the outcome's contract. */
static void apply_checked(fuzz_tx_world *w, const ledger_tx *tx) {
    ledger_state *st = NULL;
    SLQ_ASSERT(ledger_state_create(&st, &w->view) == SLQ_OK);
    ledger_block_ctx ctx = {.height = 2, .time_ms = FZ_NEXT_TIME_MS, .index = 0};
    ledger_outcome out;
    slq_err err = ledger_apply(w->f.l, st, &ctx, tx, &out);
    SLQ_ASSERT(fz_err_documented(err));
    SLQ_ASSERT(err == out.code);
    if (err != SLQ_OK) {
        SLQ_ASSERT(changes_count(st) == 0);
        SLQ_ASSERT(out.vouchers_count == 0);
    } else {
        SLQ_ASSERT(changes_count(st) >= 2); /* at least the signer's nonce and the tx row */
        ctx.index = 1;
        SLQ_ASSERT(ledger_apply(w->f.l, st, &ctx, tx, &out) == SLQ_TX_DUPLICATE);
    }
    ledger_state_destroy(st);
}

static void decode_and_apply(fuzz_tx_world *w, const uint8_t *bytes, size_t len) {
    ledger_tx tx;
    slq_err err = ledger_tx_decode(&tx, w->f.l, bytes, len);
    SLQ_ASSERT(fz_err_documented(err));
    if (err == SLQ_OK) {
        SLQ_ASSERT(tx.signed_tx != NULL);
        SLQ_ASSERT(tx.body != NULL);
        apply_checked(w, &tx);
    }
    ledger_tx_free(&tx);
}

/* Unpacks a TxBody, signs it as `signer` and runs the result. */
static void sign_and_run(fuzz_tx_world *w, int signer, const uint8_t *body, size_t len) {
    Slq__TxBody *b = slq__tx_body__unpack(NULL, len, body);
    if (b == NULL) return;
    uint8_t *signed_tx = NULL;
    size_t signed_len = 0;
    slq_err err = ledger_tx_sign(w->f.l, w->f.keys[signer], b, &signed_tx, &signed_len);
    slq__tx_body__free_unpacked(b, NULL);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_TX_TOO_LARGE);
    if (err != SLQ_OK) return;
    decode_and_apply(w, signed_tx, signed_len);
    free(signed_tx);
}

/* The input as a contract reference (ledger/contract_ref.h): its form is never longer than
 * the text, holds no ASCII upper case or whitespace, and is its own form (so no U+3000 or
 * full-width form is left either); a refused text has the empty form. */
static void check_contract_ref(const uint8_t *data, size_t size) {
    static char form[SLQ_TX_BYTES_MAX + 1], again[SLQ_TX_BYTES_MAX + 1];
    if (size > SLQ_TX_BYTES_MAX) return;
    size_t n = 99, m = 99;
    slq_err err = ledger_contract_ref_normalize(form, sizeof form, &n, (const char *) data, size);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_CONTRACT_REF_INVALID);
    SLQ_ASSERT(n <= size);
    SLQ_ASSERT(form[n] == '\0');
    if (err != SLQ_OK) {
        SLQ_ASSERT(n == 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) form[i];
        SLQ_ASSERT(!(c >= 'A' && c <= 'Z'));
        SLQ_ASSERT(c != ' ' && !(c >= '\t' && c <= '\r'));
    }
    SLQ_ASSERT(ledger_contract_ref_normalize(again, sizeof again, &m, form, n) == SLQ_OK);
    SLQ_ASSERT(m == n);
    SLQ_ASSERT(memcmp(again, form, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_tx_world *w = world();
    check_contract_ref(data, size);
    if (size >= 1 && data[0] == MODE_ISSUER) {
        sign_and_run(w, K_ISSUER, data + 1, size - 1);
    } else if (size >= 2 && data[0] == MODE_SIGNER) {
        sign_and_run(w, data[1] % K_COUNT, data + 2, size - 2);
    } else {
        decode_and_apply(w, data, size);
    }
    return 0;
}
