/* fuzz_block.c: feeds a Block as a peer would send it: slq__block__unpack(), then
 * ledger_tx_decode() of each of its txs on the fixture's ledger (fuzz_fixture.h, built on
 * the first call), slq__block_header__unpack() of its header bytes and
 * slq__certificate__unpack() of its last_commit bytes.
 *
 * Asserts: no crash, leak or UB; every ledger_tx_decode() return is a documented slq_err;
 * a block never yields more txs than its byte count allows (each takes at least a tag and
 * a length byte). */
#include <stdlib.h>

#include "fuzz.h"
#include "fuzz_fixture.h"

static const ledger *fixture_ledger(void) {
    static fx f; /* reachable until exit, so LeakSanitizer stays quiet */
    static bool ready;
    if (!ready) {
        fz_quiet();
        fz_init(&f);
        ready = true;
    }
    return f.l;
}

static void decode_txs(const ledger *l, const Slq__Block *b) {
    for (size_t i = 0; i < b->n_txs; i++) {
        ledger_tx tx;
        slq_err err = ledger_tx_decode(&tx, l, b->txs[i].data, b->txs[i].len);
        SLQ_ASSERT(fz_err_documented(err));
        ledger_tx_free(&tx);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const ledger *l = fixture_ledger();
    Slq__Block *b = slq__block__unpack(NULL, size, data);
    if (b == NULL) return 0;
    SLQ_ASSERT(b->n_txs <= size / 2);
    decode_txs(l, b);
    Slq__BlockHeader *h = slq__block_header__unpack(NULL, b->header.len, b->header.data);
    if (h != NULL) slq__block_header__free_unpacked(h, NULL);
    Slq__Certificate *c = slq__certificate__unpack(NULL, b->last_commit.len, b->last_commit.data);
    if (c != NULL) slq__certificate__free_unpacked(c, NULL);
    slq__block__free_unpacked(b, NULL);
    return 0;
}
