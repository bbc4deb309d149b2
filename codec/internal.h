/* internal.h: what the codec's source files share and nobody else sees. */
#ifndef SLQ_CODEC_INTERNAL_H
#define SLQ_CODEC_INTERNAL_H

#include <stddef.h>

#include "slq/err.h"

/* A number token of the JSON text: text[off .. off+len). */
typedef struct {
    size_t off;
    size_t len;
} codec_num;

/* What the pre-scan of a JSON text found: its number tokens in document order. cJSON keeps
 * numbers only as doubles, which cannot tell 1e3 from 1000 nor hold every int64; the
 * tokens let the reader parse each integer from its exact text. */
typedef struct {
    codec_num *nums; /* owned: codec_scan_free() */
    size_t nums_count;
    size_t nums_cap;
} codec_scan;

/* Scans text[0..len) for what cJSON lets through but strict JSON forbids: control
 * characters (in or outside strings, tab/CR/LF outside excepted) and \u escapes that are
 * malformed or decode to NUL (which would silently cut a C string short). Records every
 * number token. On SLQ_GENESIS_INVALID `why` says where; SLQ_NO_MEMORY. */
slq_err codec_scan_run(codec_scan *s, const char *text, size_t len, char *why, size_t why_cap);
void codec_scan_free(codec_scan *s);

#endif
