/* scan.c: a pre-scan of JSON text before cJSON parses it (see internal.h for why).
 * It does not parse JSON: it only walks strings (to skip them, and to check their bytes
 * and escapes) and collects the number tokens outside them, in document order. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "slq/assert.h"

static bool num_char(unsigned char c) {
    return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

static bool hex_char(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static slq_err scan_fail(char *why, size_t why_cap, size_t at, const char *what) {
    if (why != NULL && why_cap > 0) snprintf(why, why_cap, "byte %zu: %s", at, what);
    return SLQ_GENESIS_INVALID;
}

/* Checks the \u escape at t[j] ('\\'); on success sets *next past it. */
static slq_err scan_unicode(const unsigned char *t, size_t len, size_t j, size_t *next, char *why,
                            size_t why_cap) {
    if (len - j < 6) return scan_fail(why, why_cap, j, "truncated \\u escape");
    bool zero = true;
    for (size_t k = j + 2; k < j + 6; k++) {
        if (!hex_char(t[k])) return scan_fail(why, why_cap, j, "\\u needs four hex digits");
        zero = zero && t[k] == '0';
    }
    if (zero) return scan_fail(why, why_cap, j, "\\u0000 is not allowed in a string");
    *next = j + 6;
    return SLQ_OK;
}

/* t[i] is the opening quote; on success sets *next past the closing one. */
static slq_err scan_string(const unsigned char *t, size_t len, size_t i, size_t *next, char *why,
                           size_t why_cap) {
    size_t j = i + 1;
    while (j < len) {
        unsigned char c = t[j];
        if (c == '"') {
            *next = j + 1;
            return SLQ_OK;
        }
        if (c < 0x20) return scan_fail(why, why_cap, j, "control character in a string");
        if (c != '\\') {
            j++;
            continue;
        }
        if (j + 1 >= len) break;
        if (t[j + 1] != 'u') {
            j += 2; /* cJSON checks the one-letter escapes itself */
            continue;
        }
        slq_err err = scan_unicode(t, len, j, &j, why, why_cap);
        if (err != SLQ_OK) return err;
    }
    return scan_fail(why, why_cap, i, "unterminated string");
}

static slq_err push_num(codec_scan *s, size_t off, size_t len) {
    if (s->nums_count == s->nums_cap) {
        size_t cap = s->nums_cap == 0 ? 64 : 2 * s->nums_cap;
        codec_num *n = realloc(s->nums, cap * sizeof *n);
        if (n == NULL) return SLQ_NO_MEMORY;
        s->nums = n;
        s->nums_cap = cap;
    }
    s->nums[s->nums_count++] = (codec_num){off, len};
    return SLQ_OK;
}

slq_err codec_scan_run(codec_scan *s, const char *text, size_t len, char *why, size_t why_cap) {
    SLQ_ASSERT(s != NULL);
    SLQ_ASSERT(text != NULL || len == 0);
    *s = (codec_scan){0};
    const unsigned char *t = (const unsigned char *) text;
    slq_err err = SLQ_OK;
    size_t i = 0;
    while (i < len && err == SLQ_OK) {
        unsigned char c = t[i];
        if (c == '"') {
            err = scan_string(t, len, i, &i, why, why_cap);
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            while (i < len && num_char(t[i])) i++;
            err = push_num(s, start, i - start);
        } else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            err = scan_fail(why, why_cap, i, "control character outside a string");
        } else {
            i++;
        }
    }
    if (err != SLQ_OK) codec_scan_free(s);
    return err;
}

void codec_scan_free(codec_scan *s) {
    free(s->nums);
    *s = (codec_scan){0};
}
