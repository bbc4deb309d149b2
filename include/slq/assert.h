/* assert.h: SLQ_ASSERT, on in every build. A broken invariant is a bug and crashes;
 * bad input is never asserted on but returned as an slq_err (STYLE.md §7). */
#ifndef SLQ_ASSERT_H
#define SLQ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define SLQ_ASSERT(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "slq: assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

#endif
