/* codec_json.c: the JSON helpers of codec_json.h on libjansson. The only file of slq that
 * includes <jansson.h> (through codec_json.h); it owns the parser's flags and the printer's,
 * so that every reader is equally strict and every writer prints the same way. No state;
 * thread-safe (jansson's own state is set up before main by the library). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "slq/assert.h"

/* Any value at the top (a report is an object, but config and tests read what they read);
 * a key given twice is refused, not silently overwritten; the end is checked here, so that
 * the reason can say where the extra text starts. JSON_ALLOW_NUL stays off: "\u0000" is
 * refused. Every integer that fits in long long stays an integer. */
#define PARSE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DISABLE_EOF_CHECK)

_Static_assert(sizeof(json_int_t) == sizeof(int64_t), "json_int_t holds every int64 exactly");

static bool json_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Writes "line L column C: " for byte offset at of text, then the reason. */
__attribute__((format(printf, 5, 6))) static void
why_at(char *why, size_t why_cap, const char *text, size_t at, const char *fmt, ...) {
    if (why == NULL || why_cap == 0) return;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        col = text[i] == '\n' ? 1 : col + 1;
        line += text[i] == '\n';
    }
    int n = snprintf(why, why_cap, "line %zu column %zu: ", line, col);
    if (n < 0 || (size_t) n >= why_cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why + n, why_cap - (size_t) n, fmt, ap);
    va_end(ap);
}

static void why_parse(char *why, size_t why_cap, const char *text, size_t len,
                      const json_error_t *e) {
    size_t at = e->position > 0 ? (size_t) e->position : 0;
    if (at > len) at = len;
    switch (json_error_code(e)) {
        case json_error_duplicate_key:
            why_at(why, why_cap, text, at, "key given twice (%s)", e->text);
            break;
        case json_error_numeric_overflow:
            why_at(why, why_cap, text, at, "number out of range, integers must fit in int64 (%s)",
                   e->text);
            break;
        case json_error_null_character:
            why_at(why, why_cap, text, at, "\\u0000 is not allowed in a string");
            break;
        case json_error_out_of_memory:
            why_at(why, why_cap, text, at, "out of memory");
            break;
        default:
            why_at(why, why_cap, text, at, "not valid JSON (%s)", e->text);
            break;
    }
}

json_t *codec_json_parse_prefix(const char *text, size_t len, size_t *end, char *why,
                                size_t why_cap) {
    SLQ_ASSERT(text != NULL || len == 0);
    SLQ_ASSERT(end != NULL);
    if (why != NULL && why_cap > 0) why[0] = '\0';
    json_error_t e;
    json_t *v = json_loadb(len > 0 ? text : "", len, PARSE_FLAGS, &e);
    if (v == NULL) {
        why_parse(why, why_cap, text, len, &e);
        return NULL;
    }
    SLQ_ASSERT(e.position >= 0 && (size_t) e.position <= len);
    *end = (size_t) e.position;
    return v;
}

json_t *codec_json_parse(const char *text, size_t len, char *why, size_t why_cap) {
    size_t at = 0;
    json_t *v = codec_json_parse_prefix(text, len, &at, why, why_cap);
    if (v == NULL) return NULL;
    while (at < len && json_space(text[at])) at++;
    if (at == len) return v;
    json_decref(v);
    why_at(why, why_cap, text, at, "unexpected text after the JSON");
    return NULL;
}

bool codec_json_int(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return false;
    *out = (int64_t) json_integer_value(v);
    return true;
}

bool codec_json_get_int(const json_t *obj, const char *key, int64_t *out) {
    return codec_json_int(json_object_get(obj, key), out);
}

const char *codec_json_get_str(const json_t *obj, const char *key) {
    return json_string_value(json_object_get(obj, key)); /* NULL unless a string */
}

slq_err codec_json_keys_check(const json_t *obj, const char *const *allowed, size_t n,
                              const char **unknown) {
    SLQ_ASSERT(json_is_object(obj));
    const char *key;
    json_t *value;
    /* json_object_foreach takes a non-const object; it only reads it. */
    json_object_foreach((json_t *) obj, key, value) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++) known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            *unknown = key;
            return SLQ_FIELD_INVALID;
        }
    }
    return SLQ_OK;
}

bool codec_json_set(json_t *parent, const char *key, json_t *v) {
    /* Both take v over on every path, NULL parent and NULL v included. */
    if (key != NULL) return json_object_set_new(parent, key, v) == 0;
    return json_array_append_new(parent, v) == 0;
}

bool codec_json_set_i64(json_t *parent, const char *key, int64_t v) {
    return codec_json_set(parent, key, json_integer((json_int_t) v));
}

bool codec_json_set_u64(json_t *parent, const char *key, uint64_t v) {
    if (v > (uint64_t) INT64_MAX) return false;
    return codec_json_set(parent, key, json_integer((json_int_t) v));
}

bool codec_json_set_bool(json_t *parent, const char *key, bool v) {
    return codec_json_set(parent, key, json_boolean(v));
}

bool codec_json_set_null(json_t *parent, const char *key) {
    return codec_json_set(parent, key, json_null());
}

/* s with every byte above 0x7f as '?': for text that is not UTF-8. */
static json_t *ascii_string(const char *s) {
    char *copy = strdup(s);
    if (copy == NULL) return NULL;
    for (char *p = copy; *p != '\0'; p++)
        if ((unsigned char) *p > 0x7f) *p = '?';
    json_t *v = json_string(copy);
    free(copy);
    return v;
}

bool codec_json_set_str(json_t *parent, const char *key, const char *s) {
    if (s == NULL) s = "";
    json_t *v = json_string(s); /* NULL: out of memory, or s is not UTF-8 */
    if (v == NULL) v = ascii_string(s);
    return codec_json_set(parent, key, v);
}

bool codec_json_set_hex(json_t *parent, const char *key, const uint8_t *p, size_t n) {
    char *text = malloc(2 * n + 1);
    if (text == NULL) return false;
    codec_hex_encode(text, p, n);
    bool ok = codec_json_set(parent, key, json_stringn_nocheck(text, 2 * n));
    free(text);
    return ok;
}

bool codec_json_set_address(json_t *parent, const char *key,
                            const uint8_t addr[CRYPTO_ADDRESS_BYTES]) {
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(text, addr);
    return codec_json_set(parent, key, json_string(text));
}

json_t *codec_json_add_object(json_t *parent, const char *key) {
    json_t *o = json_object();
    return codec_json_set(parent, key, o) ? o : NULL;
}

json_t *codec_json_add_array(json_t *parent, const char *key) {
    json_t *a = json_array();
    return codec_json_set(parent, key, a) ? a : NULL;
}

char *codec_json_text(const json_t *v, codec_json_style style, size_t *len) {
    SLQ_ASSERT(v != NULL);
    size_t flags = JSON_ENCODE_ANY | JSON_PRESERVE_ORDER;
    flags |= style == CODEC_JSON_COMPACT ? JSON_COMPACT : JSON_INDENT(2);
    size_t n = json_dumpb(v, NULL, 0, flags); /* the size it needs; 0: cannot encode */
    if (n == 0) return NULL;
    char *out = malloc(n + 2);
    if (out == NULL) return NULL;
    size_t w = json_dumpb(v, out, n, flags);
    SLQ_ASSERT(w == n);
    if (style == CODEC_JSON_PRETTY) out[n++] = '\n';
    out[n] = '\0';
    if (len != NULL) *len = n;
    return out;
}
