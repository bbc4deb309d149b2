/* credit_code.c: the unified social credit code (统一社会信用代码) of GB 32100-2015.
 *
 * A code is 18 characters of the 31-character set 0-9 and A-Z without I, O, Z, S and V,
 * each worth its index in that set (A = 10 ... Y = 30). The 18th is a check character: with
 * the weights 3^i mod 31 (1, 3, 9, 27, 19, 26, ...) over the first 17, it is worth
 * 31 - (sum mod 31), and 31 counts as 0. Lower case is read as upper case. Pure; no state. */
#include <string.h>

#include "codec.h"
#include "slq/assert.h"

static const char credit_code_chars[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
#define CREDIT_CODE_BASE 31u

_Static_assert(sizeof credit_code_chars - 1 == CREDIT_CODE_BASE, "31 characters");
_Static_assert(CODEC_CREDIT_CODE_BYTES == CODEC_CREDIT_CODE_CHARS + 1, "code and a NUL");

/* The value of upper-case character c (0..30), or -1 if it is not in the set. */
static int credit_code_value(char c) {
    if (c == '\0') return -1;
    const char *p = strchr(credit_code_chars, c);
    return p == NULL ? -1 : (int) (p - credit_code_chars);
}

char codec_credit_code_check_char(const char *first17) {
    static const unsigned weights[CODEC_CREDIT_CODE_CHARS - 1] = {
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    unsigned sum = 0;
    for (size_t i = 0; i < CODEC_CREDIT_CODE_CHARS - 1; i++) {
        int v = credit_code_value(first17[i]);
        SLQ_ASSERT(v >= 0);
        sum += (unsigned) v * weights[i];
    }
    unsigned check = CREDIT_CODE_BASE - sum % CREDIT_CODE_BASE;
    return credit_code_chars[check == CREDIT_CODE_BASE ? 0 : check];
}

codec_credit_code_status codec_credit_code_parse(codec_credit_code *out, const char *text) {
    memset(out, 0, sizeof *out);
    size_t n = strlen(text);
    if (n != CODEC_CREDIT_CODE_CHARS) {
        out->length = n;
        return CODEC_CREDIT_CODE_BAD_LENGTH;
    }
    for (size_t i = 0; i < n; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z') c = (char) (c - 'a' + 'A');
        out->code[i] = c;
        if (credit_code_value(c) < 0) {
            out->bad_at = i;
            return CODEC_CREDIT_CODE_BAD_CHAR;
        }
    }
    out->expected = codec_credit_code_check_char(out->code);
    return out->code[n - 1] == out->expected ? CODEC_CREDIT_CODE_OK : CODEC_CREDIT_CODE_BAD_CHECK;
}
