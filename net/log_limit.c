/* log_limit.c: the interval check of log_limit.h. Owns nothing; pure. */
#include "log_limit.h"

#include <string.h>

#include "slq/assert.h"

void log_limit_init(log_limit *l, uint64_t interval_ms) {
    SLQ_ASSERT(l != NULL);
    SLQ_ASSERT(interval_ms > 0);
    memset(l, 0, sizeof *l);
    l->interval_ms = interval_ms;
}

bool log_limit_allow(log_limit *l, uint64_t now_ms, uint64_t *suppressed) {
    SLQ_ASSERT(l->interval_ms > 0);
    SLQ_ASSERT(suppressed != NULL);
    /* A clock that went back (it does not: uv_now is monotonic) counts as no time passed. */
    bool due = !l->started || (now_ms >= l->last_ms && now_ms - l->last_ms >= l->interval_ms);
    if (!due) {
        if (l->suppressed < UINT64_MAX) l->suppressed++;
        return false;
    }
    *suppressed = l->suppressed;
    l->suppressed = 0;
    l->last_ms = now_ms;
    l->started = true;
    return true;
}
