/* log.c: the stderr logger behind log.h. One line per call, written with one fprintf so
 * lines from worker threads do not interleave mid-line. */
#include "slq/log.h"

#include <stdarg.h>

slq_log_level slq_log_threshold = SLQ_LOG_INFO;

void slq_log_write(slq_log_level level, const char *fmt, ...) {
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    fprintf(stderr, "%s %s\n", names[level], line);
}
