/* fuzz_genesis.c: feeds ledger_create() (Genesis decoding and validation: suite, chain id,
 * policy, programs, validators, accounts) with arbitrary bytes; a genesis it accepts is
 * then written into a scratch state with ledger_genesis_state().
 *
 * Asserts: no crash, leak or UB; ledger_create returns SLQ_OK or SLQ_GENESIS_INVALID, the
 * latter with a non-empty reason; an accepted genesis has a valid chain id and suite and
 * writes its state without error. */
#include <string.h>

#include "fuzz.h"
#include "ledger.h"
#include "slq/limits.h"

static void check_accepted(const ledger *l) {
    size_t id_len = strlen(ledger_chain_id(l));
    SLQ_ASSERT(id_len >= 1 && id_len <= SLQ_CHAIN_ID_BYTES_MAX);
    crypto_suite suite = ledger_suite(l);
    SLQ_ASSERT(suite == CRYPTO_SUITE_ED25519_SHA256 || suite == CRYPTO_SUITE_SM2_SM3);
    ledger_state *st = NULL;
    SLQ_ASSERT(ledger_state_create(&st, NULL) == SLQ_OK);
    SLQ_ASSERT(ledger_genesis_state(l, st) == SLQ_OK);
    ledger_state_destroy(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_quiet();
    ledger *l = NULL;
    char why[256] = "";
    slq_err err = ledger_create(&l, data, size, why, sizeof why);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_GENESIS_INVALID);
    if (err != SLQ_OK) {
        SLQ_ASSERT(why[0] != '\0');
        return 0;
    }
    check_accepted(l);
    ledger_destroy(l);
    return 0;
}
