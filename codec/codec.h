/* codec.h: text forms shared by the node and the CLI: genesis.json <-> Genesis bytes,
 * yuan amounts <-> int64 fen, lowercase hex, the lowercase names of roles and the check of a
 * unified social credit code.
 *
 * genesis.json is read strictly (docs/genesis.md): unknown or repeated keys, wrong types,
 * numbers that are not plain integers, bad hex, unknown enum names and out-of-range values
 * are refused with SLQ_GENESIS_INVALID and a reason that names the JSON path, e.g.
 * "policy.programs[1].max_share_bp: must be an integer 0..10000". The codec checks form;
 * ledger_create() checks meaning (one issuer, unique names, a non-empty window...).
 *
 * Amounts: the CLI reads and prints yuan with at most two decimals; everything inside is
 * int64 fen, converted with integer arithmetic only.
 *
 * The regulator's report (docs/audit.md): its table and CSV forms and its signed envelope,
 * so that slqd and slq print and sign the same bytes the same way.
 *
 * No state; every function is thread-safe. */
#ifndef SLQ_CODEC_H
#define SLQ_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq.pb-c.h"
#include "slq/err.h"
#include "slq/limits.h"

/* genesis.json is hex-heavy text around at most SLQ_GENESIS_BYTES_MAX bytes of genesis. */
#define CODEC_GENESIS_JSON_BYTES_MAX (4u * SLQ_GENESIS_BYTES_MAX)
/* Longest text of codec_yuan_format, NUL included ("-92233720368547758.08"). */
#define CODEC_YUAN_TEXT_BYTES        32u

/* ---- genesis.json ---- */

/* Reads genesis.json text json[0..len) (need not be NUL-terminated) and packs it as a
 * Genesis. On SLQ_OK *out is malloc'd (free()) and holds *out_len bytes, the canonical
 * protobuf-c encoding, ready for ledger_create(). On SLQ_GENESIS_INVALID, why[0..why_cap)
 * (if not NULL) gets one line naming the JSON path and the problem. SLQ_NO_MEMORY too. */
SLQ_MUST_USE slq_err codec_genesis_from_json(uint8_t **out, size_t *out_len, const char *json,
                                             size_t len, char *why, size_t why_cap);

/* Writes g as pretty-printed genesis.json (ends with a newline). On SLQ_OK *out is
 * malloc'd and NUL-terminated (free()). SLQ_GENESIS_INVALID when g holds something the
 * JSON form cannot express (an unknown role or party number, an address that is not 20
 * bytes, a missing policy); SLQ_NO_MEMORY. */
SLQ_MUST_USE slq_err codec_genesis_to_json(char **out, const Slq__Genesis *g);

/* ---- amounts ---- */

/* Parses yuan: digits (no sign, no leading zero unless the whole part is "0"), then
 * optionally '.' and one or two digits: "12", "12.3", "12.34", "0.05". Returns
 * SLQ_AMOUNT_MUST_BE_POSITIVE for zero ("0", "0.00"), SLQ_AMOUNT_OVERFLOW beyond
 * INT64_MAX fen, SLQ_FIELD_INVALID for anything else ("1.234", "-5", "abc", "1e3", "",
 * " 1", "1.", ".5", "+1"). *fen is written only on SLQ_OK. */
SLQ_MUST_USE slq_err codec_yuan_parse(int64_t *fen, const char *text);

/* Writes fen as yuan with exactly two decimals: "1234.56", "-0.05", "0.00". */
void codec_yuan_format(char out[CODEC_YUAN_TEXT_BYTES], int64_t fen);

/* ---- hex ---- */

/* Writes 2n lowercase hex digits of p[0..n) and a NUL into out[0..2n+1). */
void codec_hex_encode(char *out, const uint8_t *p, size_t n);
/* Parses exactly 2n lowercase hex digits into out[0..n). SLQ_FIELD_INVALID otherwise. */
SLQ_MUST_USE slq_err codec_hex_decode(uint8_t *out, size_t n, const char *text);

/* ---- enum names (docs/api.md) ---- */

/* ---- unified social credit code (GB 32100-2015) ---- */

#define CODEC_CREDIT_CODE_CHARS 18u
#define CODEC_CREDIT_CODE_BYTES 19u /* the code and a NUL */

typedef enum {
    CODEC_CREDIT_CODE_OK,
    CODEC_CREDIT_CODE_BAD_LENGTH, /* not 18 characters (bytes) */
    CODEC_CREDIT_CODE_BAD_CHAR,   /* a character outside 0-9 and A-Z without I O Z S V */
    CODEC_CREDIT_CODE_BAD_CHECK,  /* the 18th character is not the check character */
} codec_credit_code_status;

typedef struct {
    char code[CODEC_CREDIT_CODE_BYTES]; /* upper-cased; complete on OK and BAD_CHECK */
    size_t length;                      /* BAD_LENGTH: the length given */
    size_t bad_at;                      /* BAD_CHAR: index (0-based) of the first bad one */
    char expected;                      /* OK, BAD_CHECK: the check character of the first 17 */
} codec_credit_code;

/* Reads a unified social credit code: 18 characters, lower case taken as upper case, the
 * last one the check character of the first 17. *out tells what is wrong (see the fields);
 * on CODEC_CREDIT_CODE_OK out->code is the code to hash. */
codec_credit_code_status codec_credit_code_parse(codec_credit_code *out, const char *text);
/* The check character of 17 upper-case characters of the code's set (asserted). */
char codec_credit_code_check_char(const char *first17);

/* Lowercase role name ("issuer", "centre", ...), or NULL for a number that is not a role. */
const char *codec_role_name(Slq__Role role);
/* Parses a lowercase role name. SLQ_ROLE_INVALID otherwise. */
SLQ_MUST_USE slq_err codec_role_parse(Slq__Role *out, const char *name);
/* "holder", "centre", "intermediary", or NULL. */
const char *codec_party_name(Slq__Party party);
/* Parses a party name. SLQ_FIELD_INVALID otherwise. */
SLQ_MUST_USE slq_err codec_party_parse(Slq__Party *out, const char *name);
/* The API's name of a voucher state: "active", or "expired" for an active voucher past its
 * expiry (the caller decides, by block time: ledger_voucher_expired), "split", "redeemed",
 * "revoked"; "unknown" for a number that is not a state. */
const char *codec_voucher_state_name(Slq__VoucherState state, bool expired);

/* ---- the regulator's report (docs/audit.md) ---- */

/* The largest report text that is rendered, signed or verified. */
#define CODEC_REPORT_BYTES_MAX (64u * 1024 * 1024)

typedef enum {
    CODEC_REPORT_TABLE, /* for people: aligned tables, yuan, CST */
    CODEC_REPORT_CSV,   /* year,section,subject,metric,value; fen */
} codec_report_style;

/* Renders a report's JSON text (node/report.h: one year, or every year under "years").
 * On SLQ_OK *out is malloc'd NUL-terminated text (free()). SLQ_FIELD_INVALID when json is
 * not a report; SLQ_NO_MEMORY. */
SLQ_MUST_USE slq_err codec_report_format(char **out, const char *json, size_t len,
                                         codec_report_style style);

/* Signs report[0..len) (JSON text, as produced) with key over the preimage
 * "slq/report" || 0x00 || report, and wraps it in the envelope
 * {"report":<report>,"signer":"slq1...","suite":"...","pubkey":"<hex>","signature":"<hex>"}
 * plus a newline. On SLQ_OK *out is malloc'd, NUL-terminated, *out_len bytes (free()). */
SLQ_MUST_USE slq_err codec_report_sign(char **out, size_t *out_len, const char *report, size_t len,
                                       const crypto_key *key);

/* Checks an envelope of codec_report_sign: SLQ_OK when the signature over the report's
 * bytes verifies under pubkey and signer is pubkey's address (signer gets it); otherwise
 * SLQ_SIG_INVALID (a damaged or altered envelope included) with `why` saying what. */
SLQ_MUST_USE slq_err codec_report_verify(const char *envelope, size_t len,
                                         char signer[CRYPTO_ADDRESS_TEXT_BYTES], char *why,
                                         size_t why_cap);

#endif
