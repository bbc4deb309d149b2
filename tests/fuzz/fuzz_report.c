/* fuzz_report.c: feeds the readers of the regulator's report (docs/audit.md) with arbitrary
 * bytes: codec_report_verify() (a signed envelope from a file) and codec_report_format() in
 * both styles (a report's JSON text).
 *
 * Asserts: no crash, leak or UB; verify returns SLQ_OK or SLQ_SIG_INVALID, and SLQ_OK only
 * with a signer address of the documented shape; format returns SLQ_OK (with text) or
 * SLQ_FIELD_INVALID or SLQ_NO_MEMORY. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

static void check_verify(const char *text, size_t size) {
    char signer[CRYPTO_ADDRESS_TEXT_BYTES] = "", why[256] = "";
    slq_err err = codec_report_verify(text, size, signer, why, sizeof why);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_SIG_INVALID || err == SLQ_NO_MEMORY);
    if (err == SLQ_OK) {
        uint8_t addr[CRYPTO_ADDRESS_BYTES];
        SLQ_ASSERT(crypto_address_parse(addr, signer) == SLQ_OK);
    } else {
        SLQ_ASSERT(err == SLQ_NO_MEMORY || why[0] != '\0');
    }
}

static void check_format(const char *text, size_t size, codec_report_style style) {
    char *out = NULL;
    slq_err err = codec_report_format(&out, text, size, style);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_FIELD_INVALID || err == SLQ_NO_MEMORY);
    SLQ_ASSERT((err == SLQ_OK) == (out != NULL));
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_quiet();
    if (size > 1u << 20) return 0;
    char *text = malloc(size > 0 ? size : 1); /* exactly size bytes: no NUL to lean on */
    SLQ_ASSERT(text != NULL);
    if (size > 0) memcpy(text, data, size);
    check_verify(text, size);
    check_format(text, size, CODEC_REPORT_TABLE);
    check_format(text, size, CODEC_REPORT_CSV);
    free(text);
    return 0;
}
