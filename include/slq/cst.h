/* cst.h: budget years. A budget year is the calendar year of a time in China Standard
 * Time (UTC+8, no daylight saving): 2023-12-31T16:00:00Z is already 2024. */
#ifndef SLQ_CST_H
#define SLQ_CST_H

#include <stdint.h>

#define SLQ_CST_OFFSET_MS (8LL * 3600 * 1000)

/* Returns the CST calendar year of `time_ms` (ms since the Unix epoch, UTC), clamped to
 * 0..9999 (a time past the year 9999, up to INT64_MAX, is 9999). */
uint32_t slq_budget_year(int64_t time_ms);
/* Returns the UTC ms at which CST year `year` begins (Jan 1 00:00 CST). */
int64_t slq_budget_year_start_ms(uint32_t year);
/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31). */
int64_t slq_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
