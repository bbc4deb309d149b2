/* fuzz_amount.c: feeds codec_yuan_parse() (the CLI's reading of yuan amounts) with arbitrary
 * text, and codec_yuan_format() with the input's first 8 bytes as an int64.
 *
 * Asserts: no crash or UB; parse returns SLQ_OK, SLQ_FIELD_INVALID, SLQ_AMOUNT_OVERFLOW or
 * SLQ_AMOUNT_MUST_BE_POSITIVE; an accepted amount is > 0, and formatting it gives text that
 * parses back to the same fen and that equals the input once padded to two decimals; every
 * int64 formats to text of the documented shape. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

/* The input as a NUL-terminated string (an embedded NUL ends it, as in argv). */
static char *as_text(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    SLQ_ASSERT(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void check_accepted(const char *text, int64_t fen) {
    SLQ_ASSERT(fen > 0);
    char out[CODEC_YUAN_TEXT_BYTES];
    codec_yuan_format(out, fen);
    int64_t back = 0;
    SLQ_ASSERT(codec_yuan_parse(&back, out) == SLQ_OK);
    SLQ_ASSERT(back == fen);
    /* "12" and "12.3" format as "12.00" and "12.30": the input is a prefix of the output. */
    SLQ_ASSERT(strncmp(out, text, strlen(text)) == 0);
}

static void check_format(const uint8_t *data, size_t size) {
    if (size < 8) return;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++) u = u << 8 | data[i];
    int64_t fen = (int64_t) u;
    char out[CODEC_YUAN_TEXT_BYTES];
    codec_yuan_format(out, fen);
    size_t n = strlen(out);
    SLQ_ASSERT(n >= 4 && out[n - 3] == '.');
    if (fen > 0) {
        int64_t back = 0;
        SLQ_ASSERT(codec_yuan_parse(&back, out) == SLQ_OK && back == fen);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_quiet();
    char *text = as_text(data, size);
    int64_t fen = 0;
    slq_err err = codec_yuan_parse(&fen, text);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_FIELD_INVALID || err == SLQ_AMOUNT_OVERFLOW ||
               err == SLQ_AMOUNT_MUST_BE_POSITIVE);
    if (err == SLQ_OK) check_accepted(text, fen);
    free(text);
    check_format(data, size);
    return 0;
}
