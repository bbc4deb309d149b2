/* cst.c: China Standard Time calendar arithmetic for budget years. Pure integer math
 * (Howard Hinnant's days-from-civil algorithm); no time zone database, no locale. */
#include "slq/cst.h"

#include "slq/assert.h"

int64_t slq_days_from_civil(int64_t y, unsigned m, unsigned d) {
    SLQ_ASSERT(m >= 1 && m <= 12);
    SLQ_ASSERT(d >= 1 && d <= 31);
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t mp = (m + 9) % 12;
    const int64_t doy = (153 * mp + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t slq_budget_year_start_ms(uint32_t year) {
    return slq_days_from_civil(year, 1, 1) * 86400000LL - SLQ_CST_OFFSET_MS;
}

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

uint32_t slq_budget_year(int64_t time_ms) {
    SLQ_ASSERT(time_ms > INT64_MIN + SLQ_CST_OFFSET_MS);
    if (time_ms > INT64_MAX - SLQ_CST_OFFSET_MS) return 9999; /* the offset would overflow */
    const int64_t days = floor_div(time_ms + SLQ_CST_OFFSET_MS, 86400000LL);
    /* civil_from_days, year only */
    const int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    return (uint32_t) y;
}
