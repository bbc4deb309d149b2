/* fuzz_genesis_json.c: feeds codec_genesis_from_json() (jansson via codec_json.c and the strict
 * reader of genesis.json) with arbitrary text. A text it accepts must pack to a Genesis that
 * decodes again, and that Genesis written back with codec_genesis_to_json() must read back
 * to exactly the same bytes.
 *
 * Asserts: no crash, leak or UB; from_json returns SLQ_OK or SLQ_GENESIS_INVALID (never
 * SLQ_NO_MEMORY at these sizes), the latter with a non-empty reason; accepted text round
 * trips byte for byte. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

static void check_round_trip(const uint8_t *bytes, size_t len) {
    Slq__Genesis *g = slq__genesis__unpack(NULL, len, bytes);
    SLQ_ASSERT(g != NULL);
    char *text = NULL;
    SLQ_ASSERT(codec_genesis_to_json(&text, g) == SLQ_OK);
    uint8_t *again = NULL;
    size_t again_len = 0;
    char why[256] = "";
    SLQ_ASSERT(codec_genesis_from_json(&again, &again_len, text, strlen(text), why, sizeof why) ==
               SLQ_OK);
    SLQ_ASSERT(again_len == len);
    SLQ_ASSERT(memcmp(again, bytes, len) == 0);
    free(again);
    free(text);
    slq__genesis__free_unpacked(g, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_quiet();
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[256] = "";
    slq_err err = codec_genesis_from_json(&bytes, &len, (const char *) data, size, why, sizeof why);
    SLQ_ASSERT(err == SLQ_OK || err == SLQ_GENESIS_INVALID);
    if (err != SLQ_OK) {
        SLQ_ASSERT(why[0] != '\0');
        SLQ_ASSERT(bytes == NULL);
        return 0;
    }
    check_round_trip(bytes, len);
    free(bytes);
    return 0;
}
