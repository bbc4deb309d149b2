/* dates.c: CST calendar dates for the CLI: today, a time's date, and a time as text. */
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "slq/cst.h"

#define DAY_MS 86400000LL

int64_t cli_today_cst_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t local = now + SLQ_CST_OFFSET_MS;
    int64_t day = local / DAY_MS - (local % DAY_MS < 0);
    return day * DAY_MS - SLQ_CST_OFFSET_MS;
}

/* Howard Hinnant's civil_from_days. */
static void civil(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned) (doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void cli_cst_date(int64_t ms, int64_t *y, unsigned *m, unsigned *d) {
    int64_t local = ms + SLQ_CST_OFFSET_MS;
    civil(local / DAY_MS - (local % DAY_MS < 0), y, m, d);
}

void cli_format_cst(char out[32], int64_t ms) {
    if (ms < -SLQ_CST_OFFSET_MS || ms > INT64_MAX / 2) {
        snprintf(out, 32, "%lld ms", (long long) ms);
        return;
    }
    int64_t local = ms + SLQ_CST_OFFSET_MS;
    int64_t days = local / DAY_MS, rem = local % DAY_MS;
    int64_t y;
    unsigned m, d;
    civil(days, &y, &m, &d);
    snprintf(out, 32, "%04lld-%02u-%02u %02u:%02u", (long long) y, m, d, (unsigned) (rem / 3600000),
             (unsigned) (rem / 60000 % 60));
}
