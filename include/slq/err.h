/* err.h: the one error enum of slq, built from one table.
 *
 * Numbers are public (CLI exit reasons, HTTP JSON "code"): never renumber or reuse
 * them; retire a name by renaming it OBSOLETE_n. Each name says the exact reason. Each has
 * the one HTTP status the API answers it with (docs/api.md): 400 a malformed request, 404
 * no such thing, 405 wrong method, 413/431 too large, 422 a transaction refused, 429 too many
 * requests on a connection, 503 retryable (the API adds Retry-After), 505 an HTTP version other
 * than 1.0 and 1.1, 500 a node fault. */
#ifndef SLQ_ERR_H
#define SLQ_ERR_H

#include <stdbool.h>

#define SLQ_ERRORS(X)                                                                             \
    X(OK, 0, 200, "ok")                                                                           \
    X(NOT_FOUND, 1, 404, "not found")                                                             \
    X(NO_MEMORY, 2, 500, "out of memory")                                                         \
    X(INVALID_ARGUMENT, 3, 400, "invalid argument")                                               \
    X(STORAGE_IO, 4, 500, "storage read or write failed")                                         \
    X(STORAGE_CORRUPT, 5, 500, "stored data is corrupt")                                          \
    X(NET, 6, 500, "network operation failed")                                                    \
    X(IO, 7, 500, "file read or write failed")                                                    \
    /* crypto */                                                                                  \
    X(SUITE_UNKNOWN, 20, 422, "unknown crypto suite")                                             \
    X(SIG_INVALID, 21, 422, "signature does not verify")                                          \
    X(PUBKEY_INVALID, 22, 422, "public key is malformed or of the wrong suite")                   \
    X(KEY_INVALID, 23, 500, "key file is not a usable PKCS#8 PEM key")                            \
    X(KEY_PASSPHRASE, 24, 500, "key passphrase is wrong or missing")                              \
    X(KEY_SUITE_MISMATCH, 25, 500, "key does not belong to the chain's crypto suite")             \
    X(CRYPTO_INTERNAL, 26, 500, "cryptographic library failure")                                  \
    X(ADDRESS_INVALID, 27, 400, "address is not slq1 followed by 40 lowercase hex digits")        \
    X(KEY_FILE_MODE, 28, 500, "key file is readable or writable by group or others")              \
    /* decoding */                                                                                \
    X(TX_TOO_LARGE, 40, 422, "transaction exceeds size limit")                                    \
    X(TX_MALFORMED, 41, 422, "transaction bytes do not decode")                                   \
    X(TX_NOT_CANONICAL, 42, 422, "transaction encoding is not canonical or has unknown fields")   \
    X(TX_KIND_MISMATCH, 43, 422, "transaction kind does not match its payload")                   \
    X(FIELD_INVALID, 44, 400, "a field has the wrong length or format")                           \
    X(NAME_TOO_LONG, 45, 422, "name or reference exceeds its length limit")                       \
    X(BLOCK_MALFORMED, 46, 500, "block bytes do not decode")                                      \
    X(BLOCK_TOO_LARGE, 47, 500, "block exceeds size or transaction-count limit")                  \
    X(GENESIS_INVALID, 48, 500, "genesis is invalid")                                             \
    X(CERT_INVALID, 49, 500, "commit certificate does not prove finality")                        \
    X(BLOCK_INVALID, 50, 500, "block does not follow the chain or breaks a rule")                 \
    /* ledger: accounts and nonces */                                                             \
    X(SIGNER_UNKNOWN, 60, 422, "signer is not a registered account")                              \
    X(NONCE_INVALID, 61, 422, "nonce is not the signer's last nonce + 1")                         \
    X(ROLE_FORBIDDEN, 62, 422, "signer's role may not send this transaction")                     \
    X(TX_DUPLICATE, 63, 422, "transaction was already committed")                                 \
    X(ACCOUNT_EXISTS, 64, 422, "address is already registered")                                   \
    X(ACCOUNT_UNKNOWN, 65, 404, "account is not registered")                                      \
    X(ROLE_INVALID, 66, 422, "role is not valid here")                                            \
    /* ledger: amounts and caps */                                                                \
    X(AMOUNT_MUST_BE_POSITIVE, 80, 422, "amount must be greater than zero")                       \
    X(AMOUNT_OVERFLOW, 81, 422, "amount arithmetic would overflow")                               \
    X(CITY_CAP_EXCEEDED, 82, 422, "issue would exceed the city's annual cap")                     \
    X(PROGRAM_CAP_EXCEEDED, 83, 422, "issue would exceed the program's annual pool")              \
    X(HOLDER_CAP_EXCEEDED, 84, 422, "would exceed the holder's yearly cap for the program")       \
    X(SHARE_EXCEEDED, 85, 422, "amount exceeds the program's share of the declared cost")         \
    X(COST_REQUIRED, 86, 422, "program requires a declared compute cost")                         \
    X(APPLICATION_REF_USED, 87, 422, "application reference was already used")                    \
    X(POLICY_WINDOW_CLOSED, 88, 422, "block time is outside the policy validity window")          \
    X(HOLDER_CANNOT_HOLD, 89, 422, "recipient's role cannot hold vouchers")                       \
    X(PROGRAM_UNKNOWN, 90, 422, "program is not in the policy")                                   \
    X(EXPIRY_INVALID, 91, 422, "expiry must be after the block time")                             \
    X(AMOUNT_EXCEEDS_REMAINING, 92, 422, "amount exceeds the voucher's remaining amount")         \
    X(CREDIT_CODE_REQUIRED, 93, 422, "a holder-class party needs its credit code hash")           \
    X(CREDIT_CODE_USED, 94, 422, "credit code is already registered to another account")          \
    X(APPLICATION_UNKNOWN, 95, 404, "application does not exist")                                 \
    X(APPLICATION_CLOSED, 96, 422, "application was already issued or rejected")                  \
    X(APPLICATION_REQUIRED, 97, 422, "program issues only against an application")                \
    X(APPLICATION_MISMATCH, 98, 422, "contradicts the application or the contract's first one")   \
    /* ledger: vouchers */                                                                        \
    X(VOUCHER_UNKNOWN, 100, 404, "voucher does not exist")                                        \
    X(NOT_HOLDER, 101, 422, "signer does not hold the voucher")                                   \
    X(VOUCHER_EXPIRED, 102, 422, "voucher has expired")                                           \
    X(VOUCHER_REVOKED, 103, 422, "voucher was revoked")                                           \
    X(VOUCHER_REDEEMED, 104, 422, "voucher was redeemed")                                         \
    X(VOUCHER_SPLIT, 105, 422, "voucher was transferred on and is no longer spendable")           \
    X(EDGE_NOT_ALLOWED, 106, 422, "program does not allow a transfer between these parties")      \
    X(RELATED_PARTY, 107, 422, "payer and centre are in the same affiliation group")              \
    X(CONTRACT_REF_USED, 108, 422, "contract reference was already claimed")                      \
    X(VOUCHER_LISTED_TWICE, 109, 422, "a voucher is listed twice")                                \
    X(TOO_MANY_VOUCHERS, 110, 422, "too many vouchers in one redemption")                         \
    X(SELF_TRANSFER, 111, 422, "sender and recipient are the same")                               \
    X(CONTRACT_REF_INVALID, 112, 422, "contract reference is not UTF-8 or is only whitespace")    \
    X(VOUCHER_PAID, 113, 422, "voucher was paid to a centre; it can no longer be revoked")        \
    X(CENTRE_NOT_NAMED, 114, 422, "centre is not named by the voucher's program")                 \
    /* ledger: claims */                                                                          \
    X(CLAIM_UNKNOWN, 120, 404, "claim does not exist")                                            \
    X(CLAIM_SETTLED, 121, 422, "claim is already settled")                                        \
    X(CLAIM_NOT_APPROVED, 122, 422, "claim is not approved (unreviewed or rejected)")            \
    X(AMOUNT_EXCEEDS_CLAIM, 123, 422, "amount paid exceeds the claim's amount")                   \
    X(PAYER_UNKNOWN, 124, 422, "payer is not one the genesis policy lists")                       \
    X(CLAIM_REVIEWED, 125, 422, "claim was already reviewed")                                     \
    /* node and API */                                                                            \
    X(MEMPOOL_FULL, 140, 503, "mempool is full; retry later")                                     \
    X(CONFIG_INVALID, 141, 500, "node configuration is invalid")                                  \
    X(HTTP_MALFORMED, 142, 400, "HTTP request is malformed")                                      \
    X(BODY_TOO_LARGE, 143, 413, "request body exceeds the limit")                                 \
    X(HEADERS_TOO_LARGE, 144, 431, "request headers exceed the limit")                            \
    X(RATE_LIMITED, 145, 429, "too many requests on this connection")                             \
    X(JSON_INVALID, 146, 400, "request JSON is malformed or has wrong fields")                    \
    X(TX_PENDING_TOO_MANY, 147, 503, "too many pending transactions for this account")            \
    X(BUSY, 148, 503, "node is building other reports; retry later")                              \
    X(METHOD_NOT_ALLOWED, 149, 405, "HTTP method not allowed on this path")                       \
    X(SIGNER_STATE_MISSING, 150, 500, "signer state is missing but this validator signed before") \
    X(TX_GAP_DROPPED, 151, 422, "dropped while waiting behind a missing nonce of its signer")     \
    X(HTTP_VERSION_UNSUPPORTED, 152, 505, "HTTP version is not 1.0 or 1.1")

typedef enum {
#define X(name, num, status, msg) SLQ_##name = num,
    SLQ_ERRORS(X)
#undef X
} slq_err;

#define SLQ_MUST_USE __attribute__((warn_unused_result))

/* Returns the message of `e`; never NULL ("unknown error" for a number not in the table). */
const char *slq_err_str(slq_err e);
/* Returns the upper-case name of `e` without the SLQ_ prefix, e.g. "NONCE_INVALID". */
const char *slq_err_name(slq_err e);
/* Returns the HTTP status the API answers `e` with (500 for a number not in the table). */
int slq_err_http_status(slq_err e);
/* True when the same request may succeed later (the HTTP status is 503). */
bool slq_err_retryable(slq_err e);

#endif
