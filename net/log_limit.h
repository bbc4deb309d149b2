/* log_limit.h: at most one log line per interval for a kind of repeated event.
 *
 * A server refusing a flood of connections would otherwise write a line per refusal (a
 * hostile client makes the log its bottleneck and buries everything else in it). A
 * log_limit lets the first event of an interval through and counts the ones after it; the
 * next line that goes through carries that count ("suppressed=N"), so nothing is lost but
 * the repetition.
 *
 * Pure: the caller passes the time (uv_now). Embedded by value in its owner; one per kind
 * of event. Threading: the owner's (the loop thread in net/). */
#ifndef SLQ_NET_LOG_LIMIT_H
#define SLQ_NET_LOG_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* The interval of the net/ servers' refusal and deadline warnings. */
#define LOG_LIMIT_INTERVAL_MS 10000u

typedef struct {
    uint64_t interval_ms;
    uint64_t last_ms;    /* when the last line went through */
    uint64_t suppressed; /* events since then that did not */
    bool started;        /* a line went through already */
} log_limit;

/* Initialises l (the caller's memory): at most one line per interval_ms (> 0). */
void log_limit_init(log_limit *l, uint64_t interval_ms);

/* Counts one event at now_ms. Returns true if its line may be written now; then
 * *suppressed is the number of events whose lines were held back since the last line (and
 * the count starts again). Returns false (and counts the event) otherwise. */
bool log_limit_allow(log_limit *l, uint64_t now_ms, uint64_t *suppressed);

#endif
