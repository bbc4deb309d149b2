/* internal.h: what the ledger's source files share and nobody else sees. */
#ifndef SLQ_LEDGER_INTERNAL_H
#define SLQ_LEDGER_INTERNAL_H

#include "ledger.h"

struct ledger {
    crypto_suite suite;
    Slq__Genesis *genesis; /* owned, validated */
    uint8_t genesis_hash[CRYPTO_HASH_BYTES];
};

/* True for 1..max bytes of valid UTF-8 with no control characters. */
bool ledger_text_ok(const char *s, size_t max);
/* True for 1..64 bytes of [a-z0-9._-]. */
bool ledger_chain_id_ok(const char *s);
/* True for the roles that may hold vouchers they did not get as payment. */
bool ledger_role_can_hold(Slq__Role role);
/* True when `r` is one of the nine roles. */
bool ledger_role_valid(Slq__Role r);

#endif
