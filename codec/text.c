/* text.c: the small text forms of codec.h: yuan amounts, lowercase hex, role and party
 * names. Integer arithmetic only; no locale, no allocation, no state. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "slq/assert.h"

/* True for text of the shape  (0 | [1-9][0-9]*) ( '.' [0-9]{1,2} )?  */
static bool yuan_shape_ok(const char *s, size_t *int_len, size_t *frac_len) {
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9') i++;
    *int_len = i;
    if (i == 0) return false;
    if (i > 1 && s[0] == '0') return false; /* "007": a leading zero is a typo, not yuan */
    if (s[i] == '\0') {
        *frac_len = 0;
        return true;
    }
    if (s[i] != '.') return false;
    size_t j = i + 1;
    while (s[j] >= '0' && s[j] <= '9') j++;
    *frac_len = j - i - 1;
    return s[j] == '\0' && *frac_len >= 1 && *frac_len <= 2;
}

slq_err codec_yuan_parse(int64_t *fen, const char *text) {
    SLQ_ASSERT(fen != NULL);
    if (text == NULL) return SLQ_FIELD_INVALID;
    size_t int_len = 0, frac_len = 0;
    if (!yuan_shape_ok(text, &int_len, &frac_len)) return SLQ_FIELD_INVALID;
    int64_t v = 0;
    for (size_t i = 0; i < int_len; i++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, text[i] - '0', &v))
            return SLQ_AMOUNT_OVERFLOW;
    }
    int64_t frac = 0;
    for (size_t i = 0; i < 2; i++)
        frac = frac * 10 + (i < frac_len ? text[int_len + 1 + i] - '0' : 0);
    if (__builtin_mul_overflow(v, 100, &v) || __builtin_add_overflow(v, frac, &v))
        return SLQ_AMOUNT_OVERFLOW;
    if (v == 0) return SLQ_AMOUNT_MUST_BE_POSITIVE;
    SLQ_ASSERT(v > 0);
    *fen = v;
    return SLQ_OK;
}

void codec_yuan_format(char out[CODEC_YUAN_TEXT_BYTES], int64_t fen) {
    /* The magnitude as unsigned, so that INT64_MIN has one too. */
    uint64_t mag = fen < 0 ? (uint64_t) 0 - (uint64_t) fen : (uint64_t) fen;
    int n = snprintf(out, CODEC_YUAN_TEXT_BYTES, "%s%llu.%02u", fen < 0 ? "-" : "",
                     (unsigned long long) (mag / 100), (unsigned) (mag % 100));
    SLQ_ASSERT(n > 0 && (size_t) n < CODEC_YUAN_TEXT_BYTES);
}

void codec_hex_encode(char *out, const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

/* One more than the value of a lowercase hex digit; 0 for any other byte. Transactions
 * arrive as hex, so this runs for every byte a node is sent. */
static const uint8_t hex_digit_plus_1[256] = {
    ['0'] = 1, ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

slq_err codec_hex_decode(uint8_t *out, size_t n, const char *text) {
    if (text == NULL || strlen(text) != 2 * n) return SLQ_FIELD_INVALID;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = hex_digit_plus_1[(unsigned char) text[2 * i]];
        unsigned lo = hex_digit_plus_1[(unsigned char) text[2 * i + 1]];
        bad |= hi == 0 || lo == 0;
        out[i] = (uint8_t) ((hi - 1) << 4 | ((lo - 1) & 0x0fu));
    }
    return bad ? SLQ_FIELD_INVALID : SLQ_OK;
}

/* Names indexed by the enum's number; index 0 (UNSPECIFIED) has none. */
static const char *const role_names[] = {
    NULL,    "issuer",   "centre",     "finance",      "enterprise",
    "maker", "research", "university", "intermediary", "regulator",
};
static const char *const party_names[] = {NULL, "holder", "centre", "intermediary"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *codec_role_name(Slq__Role role) {
    if ((unsigned) role >= COUNT(role_names)) return NULL;
    return role_names[role];
}

slq_err codec_role_parse(Slq__Role *out, const char *name) {
    for (size_t i = 1; name != NULL && i < COUNT(role_names); i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *out = (Slq__Role) i;
            return SLQ_OK;
        }
    }
    return SLQ_ROLE_INVALID;
}

const char *codec_party_name(Slq__Party party) {
    if ((unsigned) party >= COUNT(party_names)) return NULL;
    return party_names[party];
}

slq_err codec_party_parse(Slq__Party *out, const char *name) {
    for (size_t i = 1; name != NULL && i < COUNT(party_names); i++) {
        if (strcmp(name, party_names[i]) == 0) {
            *out = (Slq__Party) i;
            return SLQ_OK;
        }
    }
    return SLQ_FIELD_INVALID;
}

const char *codec_voucher_state_name(Slq__VoucherState state, bool expired) {
    switch (state) {
        case SLQ__VOUCHER_STATE__VOUCHER_ACTIVE:
            return expired ? "expired" : "active";
        case SLQ__VOUCHER_STATE__VOUCHER_SPLIT:
            return "split";
        case SLQ__VOUCHER_STATE__VOUCHER_REDEEMED:
            return "redeemed";
        case SLQ__VOUCHER_STATE__VOUCHER_REVOKED:
            return "revoked";
        default:
            return "unknown";
    }
}
