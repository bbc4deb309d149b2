/* codec_json.h: the project's one door to JSON, on Debian's libjansson. Every file that
 * reads or writes JSON includes this header, never <jansson.h> itself, and uses jansson's
 * json_t values through the few helpers below, which hold the project's rules:
 *
 * - Integers are exact. jansson keeps a JSON integer as json_int_t (long long), so all of
 *   int64 goes in and out unchanged; a number with a fraction or an exponent ("1.0",
 *   "1e3") is a real, never an integer; an integer beyond int64 is refused by the parser.
 *   No value the project writes exceeds INT64_MAX (heights, nonces, powers and counts are
 *   far below), so a uint64 above it is refused rather than written inexactly.
 * - Reading is strict: one value, only whitespace after it, UTF-8, no key given twice, no
 *   "\u0000" in a string (it would cut a C string short), no raw control characters.
 * - Key order is insertion order (jansson keeps it); compact text is
 *   {"a":1,"b":[1,2]}, pretty text indents by two spaces with one space after each colon
 *   and ends with a newline.
 *
 * Ownership is jansson's: a json_t * returned here is yours (json_decref()); a member or
 * element you read is borrowed from its parent. The setters take a parent object and a key,
 * or a parent array and key NULL (append). They return false when out of memory (or for a
 * value JSON cannot carry exactly) and are safe to chain on a NULL parent, so that a builder
 * can collect `ok = ok && ...` and check once. No state; thread-safe. */
#ifndef SLQ_CODEC_JSON_H
#define SLQ_CODEC_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "slq/err.h"

/* ---- reading ---- */

/* Parses text[0..len) (need not be NUL-terminated) as one JSON value of any type followed by
 * nothing but whitespace. On success the value is yours. NULL when it is not valid JSON
 * (by the rules above) or out of memory; then why[0..why_cap) (if not NULL) gets one line
 * "line L column C: reason", e.g. "line 8 column 40: key given twice (...)" or
 * "line 35 column 1: unexpected text after the JSON". */
json_t *codec_json_parse(const char *text, size_t len, char *why, size_t why_cap);

/* Like codec_json_parse() but for a value at the start of text that other text may follow:
 * on success *end is the offset just past the value. */
json_t *codec_json_parse_prefix(const char *text, size_t len, size_t *end, char *why,
                                size_t why_cap);

/* true with *out when v is a JSON integer (exact; no fraction or exponent). */
bool codec_json_int(const json_t *v, int64_t *out);
/* An integer member of obj (absent, of another type, or not an object: false). */
bool codec_json_get_int(const json_t *obj, const char *key, int64_t *out);
/* A string member of obj, borrowed; NULL when absent or of another type. */
const char *codec_json_get_str(const json_t *obj, const char *key);

/* For strict reading of an object: SLQ_OK when every key of obj is one of allowed[0..n);
 * else SLQ_FIELD_INVALID with *unknown the first key that is not (borrowed from obj).
 * Keys given twice never get here: the parser refuses them. obj must be an object. */
SLQ_MUST_USE slq_err codec_json_keys_check(const json_t *obj, const char *const *allowed, size_t n,
                                           const char **unknown);

/* ---- writing (parent object + key, or parent array + NULL key) ---- */

/* Puts v (taken over, even on failure; NULL is a failure) under key. */
bool codec_json_set(json_t *parent, const char *key, json_t *v);
bool codec_json_set_i64(json_t *parent, const char *key, int64_t v);
/* false for v above INT64_MAX: JSON integers here are int64. */
bool codec_json_set_u64(json_t *parent, const char *key, uint64_t v);
bool codec_json_set_bool(json_t *parent, const char *key, bool v);
bool codec_json_set_null(json_t *parent, const char *key);
/* A string (NULL: ""). Text that is not UTF-8, which JSON cannot carry, is written with its
 * bytes above 0x7f as '?'. */
bool codec_json_set_str(json_t *parent, const char *key, const char *s);
/* p[0..n) as 2n lowercase hex digits. */
bool codec_json_set_hex(json_t *parent, const char *key, const uint8_t *p, size_t n);
/* A 20-byte address as its text, "slq1" + 40 lowercase hex digits. */
bool codec_json_set_address(json_t *parent, const char *key,
                            const uint8_t addr[CRYPTO_ADDRESS_BYTES]);
/* A new empty object or array under key; borrowed (the parent owns it); NULL on failure. */
json_t *codec_json_add_object(json_t *parent, const char *key);
json_t *codec_json_add_array(json_t *parent, const char *key);

/* ---- text ---- */

typedef enum {
    CODEC_JSON_COMPACT, /* no whitespace at all, no final newline */
    CODEC_JSON_PRETTY,  /* two-space indent, ": " after keys, a final newline */
} codec_json_style;

/* v as text: malloc'd, NUL-terminated (free()); *len (if not NULL) gets its length. NULL when
 * out of memory. */
char *codec_json_text(const json_t *v, codec_json_style style, size_t *len);

#endif
