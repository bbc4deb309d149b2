/* contract_ref.c: the normalized form of a contract reference (see contract_ref.h).
 *
 * One pass over the UTF-8 text: each character is decoded strictly (no overlong forms, no
 * surrogates, nothing above U+10FFFF), whitespace is dropped, full-width ASCII forms are
 * folded to ASCII, ASCII letters to lower case, and everything else is copied byte for
 * byte. Every output character is at most as long as its input, so the form fits in a
 * buffer one byte longer than the text. Pure; no allocation. */
#include <string.h>

#include "ledger.h"
#include "slq/assert.h"

/* Full-width forms of U+0021..U+007E sit at U+FF01..U+FF5E, 0xFEE0 above them. */
#define FULLWIDTH_FIRST   0xff01u
#define FULLWIDTH_LAST    0xff5eu
#define FULLWIDTH_OFFSET  0xfee0u
#define IDEOGRAPHIC_SPACE 0x3000u

/* Length (1..4) of the well-formed UTF-8 sequence at s[0..left) and its code point in *cp, or
 * 0 when the bytes there are not one. */
static size_t utf8_next(const unsigned char *s, size_t left, uint32_t *cp) {
    unsigned c = s[0];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || n > left) return 0;
    uint32_t v = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return n;
}

static bool is_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == IDEOGRAPHIC_SPACE;
}

/* The ASCII character a code point stands for (full-width folded), lower case, or 0 if it is
 * not one. */
static char ascii_folded(uint32_t cp) {
    if (cp >= FULLWIDTH_FIRST && cp <= FULLWIDTH_LAST) cp -= FULLWIDTH_OFFSET;
    if (cp >= 0x80) return 0;
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    return (char) cp;
}

slq_err ledger_contract_ref_normalize(char *out, size_t out_cap, size_t *out_len, const char *ref,
                                      size_t ref_len) {
    SLQ_ASSERT(out_cap > ref_len);
    const unsigned char *p = (const unsigned char *) ref;
    size_t n = 0;
    *out_len = 0;
    for (size_t i = 0, k = 0; i < ref_len; i += k) {
        uint32_t cp = 0;
        k = utf8_next(p + i, ref_len - i, &cp);
        if (k == 0) { /* not UTF-8 */
            out[0] = '\0';
            return SLQ_CONTRACT_REF_INVALID;
        }
        if (is_space(cp)) continue;
        char c = ascii_folded(cp);
        if (c != 0) {
            out[n++] = c;
        } else {
            memcpy(out + n, p + i, k);
            n += k;
        }
        SLQ_ASSERT(n <= i + k);
    }
    out[n] = '\0';
    *out_len = n;
    if (n == 0) return SLQ_CONTRACT_REF_INVALID; /* nothing but whitespace */
    return SLQ_OK;
}

slq_err ledger_contract_ref_hash(crypto_suite suite, uint8_t hash[CRYPTO_HASH_BYTES],
                                 char form[LEDGER_CONTRACT_REF_FORM_BYTES], const char *ref) {
    size_t len = strlen(ref), form_len = 0;
    form[0] = '\0';
    if (len > SLQ_REF_BYTES_MAX) return SLQ_NAME_TOO_LONG;
    slq_err err =
        ledger_contract_ref_normalize(form, LEDGER_CONTRACT_REF_FORM_BYTES, &form_len, ref, len);
    if (err != SLQ_OK) return err;
    crypto_hash(suite, hash, (const uint8_t *) form, form_len);
    return SLQ_OK;
}
