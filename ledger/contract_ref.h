/* contract_ref.h: the one form of a service-contract reference that the ledger keys on.
 *
 * A contract reference may be claimed once on the whole chain (REDEEM's contract_ref; an
 * APPLY transaction will use the same rule). People write one reference in several ways:
 * `SC-2026-001`, `sc-2026-001`, ` SC 2026-001 `, or in full-width forms from a Chinese input
 * method, `ＳＣ－２０２６－００１`. Were the raw text the key, each spelling could be
 * claimed once more. So the key is the chain hash of a normalized form, and every place
 * that hashes a contract reference goes through ledger_contract_ref_hash():
 *   - ASCII whitespace (space, \t \n \v \f \r) and U+3000 IDEOGRAPHIC SPACE are removed
 *     wherever they are (so the text is trimmed and its inner spaces go too);
 *   - full-width ASCII forms U+FF01..U+FF5E become their ASCII twins U+0021..U+007E;
 *   - ASCII letters are folded to lower case (after the full-width folding);
 *   - every other character (合同, other scripts, other spaces) is kept as it is.
 * A text that is not UTF-8, or that is nothing but whitespace, has no form: it is
 * SLQ_CONTRACT_REF_INVALID. The form is never longer than the text.
 *
 * Pure: no I/O, no allocation, no global state; thread-safe. */
#ifndef SLQ_LEDGER_CONTRACT_REF_H
#define SLQ_LEDGER_CONTRACT_REF_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"
#include "slq/limits.h"

/* Room for the normalized form of a reference the ledger accepts, with its NUL. */
#define LEDGER_CONTRACT_REF_FORM_BYTES (SLQ_REF_BYTES_MAX + 1u)

/* Writes the normalized form of ref[0..ref_len) to out[0..out_cap), NUL-terminated, and its
 * length (without the NUL) to *out_len. out_cap must be more than ref_len. Returns SLQ_OK, or
 * SLQ_CONTRACT_REF_INVALID when ref is not well-formed UTF-8 or nothing is left once the
 * whitespace is gone (then out is "" and *out_len 0). */
SLQ_MUST_USE slq_err ledger_contract_ref_normalize(char *out, size_t out_cap, size_t *out_len,
                                                   const char *ref, size_t ref_len);

/* The uniqueness key of a reference: hash = the suite's hash of its normalized form, which
 * is also written to form (for messages). ref is a NUL-terminated text of at most
 * SLQ_REF_BYTES_MAX bytes (longer: SLQ_NAME_TOO_LONG). Returns SLQ_OK or the errors of
 * ledger_contract_ref_normalize(); on an error hash is left untouched. */
SLQ_MUST_USE slq_err ledger_contract_ref_hash(crypto_suite suite, uint8_t hash[CRYPTO_HASH_BYTES],
                                              char form[LEDGER_CONTRACT_REF_FORM_BYTES],
                                              const char *ref);

#endif
