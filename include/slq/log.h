/* log.h: one line per event on stderr: "LEVEL module: function: event key=value".
 * The macro checks the level before formatting. Never log secrets or whole payloads. */
#ifndef SLQ_LOG_H
#define SLQ_LOG_H

#include <stdio.h>

typedef enum {
    SLQ_LOG_DEBUG = 0,
    SLQ_LOG_INFO = 1,
    SLQ_LOG_WARN = 2,
    SLQ_LOG_ERROR = 3,
    SLQ_LOG_OFF = 4
} slq_log_level;

/* The process's threshold; the one process-wide setting besides the uv loop. */
extern slq_log_level slq_log_threshold;
void slq_log_write(slq_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define SLQ_LOG_AT(lvl, ...)                                               \
    do {                                                                   \
        if ((lvl) >= slq_log_threshold) slq_log_write((lvl), __VA_ARGS__); \
    } while (0)
#define log_debug(...) SLQ_LOG_AT(SLQ_LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  SLQ_LOG_AT(SLQ_LOG_INFO, __VA_ARGS__)
#define log_warn(...)  SLQ_LOG_AT(SLQ_LOG_WARN, __VA_ARGS__)
#define log_error(...) SLQ_LOG_AT(SLQ_LOG_ERROR, __VA_ARGS__)

#endif
