/* why.h: SLQ_WHY, the reason for a refusal, written for the caller. A function that explains
 * what it refuses takes `char *why, size_t why_cap` (why may be NULL: the caller wants no
 * reason). SLQ_WHY("format", ...) formats into that buffer, truncated to why_cap bytes, and
 * does nothing when why is NULL. It uses the enclosing function's `why` and `why_cap`, so
 * every such function names them so. Dependency-free but for <stdio.h>. */
#ifndef SLQ_WHY_H
#define SLQ_WHY_H

#include <stdio.h>

#define SLQ_WHY(...)                                          \
    do {                                                      \
        if (why != NULL) snprintf(why, why_cap, __VA_ARGS__); \
    } while (0)

#endif
