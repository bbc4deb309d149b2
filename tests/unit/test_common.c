/* test_common.c: the dependency-free helpers every module uses: the error table (names and
 * messages, stable numbers), CST budget years at their boundaries, and checked fen
 * arithmetic at the edges of int64. */
#include <stdint.h>

#include "check.h"
#include "slq/amount.h"
#include "slq/cst.h"
#include "slq/err.h"

#define HOUR_MS 3600000LL

static void test_every_error_has_a_distinct_name_and_a_message(void) {
    static const struct {
        slq_err e;
        const char *name;
    } all[] = {
#define X(name, num, status, msg) {SLQ_##name, #name},
        SLQ_ERRORS(X)
#undef X
    };
    size_t n = sizeof all / sizeof all[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(slq_err_name(all[i].e), all[i].name) == 0);
        CHECK(strcmp(slq_err_str(all[i].e), "unknown error") != 0);
        CHECK(slq_err_str(all[i].e)[0] != '\0');
        for (size_t j = 0; j < i; j++) CHECK(all[i].e != all[j].e); /* numbers never reused */
    }
    CHECK(strcmp(slq_err_name((slq_err) 99999), "UNKNOWN") == 0);
    CHECK(slq_err_http_status((slq_err) 99999) == 500);
    CHECK(strcmp(slq_err_str((slq_err) 99999), "unknown error") == 0);
}

static void test_error_numbers_are_public_and_stable(void) {
    CHECK_EQ_INT(SLQ_OK, 0);
    CHECK_EQ_INT(SLQ_NOT_FOUND, 1);
    CHECK_EQ_INT(SLQ_NO_MEMORY, 2);
    CHECK_EQ_INT(SLQ_STORAGE_IO, 4);
    CHECK(strcmp(slq_err_name(SLQ_OK), "OK") == 0);
    CHECK(strcmp(slq_err_str(SLQ_NOT_FOUND), "not found") == 0);
}

/* The API answers each error with the one status of the table (docs/api.md). */
static void test_every_error_has_one_http_status(void) {
    static const int allowed[] = {200, 400, 404, 405, 413, 422, 429, 431, 500, 503, 505};
#define X(name, num, status, msg)                                                         \
    do {                                                                                  \
        bool ok_ = false;                                                                 \
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)                   \
            ok_ = ok_ || slq_err_http_status(SLQ_##name) == allowed[i];                   \
        CHECK(ok_);                                                                       \
        CHECK(slq_err_retryable(SLQ_##name) == (slq_err_http_status(SLQ_##name) == 503)); \
    } while (0);
    SLQ_ERRORS(X)
#undef X
    /* Retryable refusals: the client may send the same request again later (slq exits 3). */
    CHECK(slq_err_http_status(SLQ_MEMPOOL_FULL) == 503);
    CHECK(slq_err_http_status(SLQ_TX_PENDING_TOO_MANY) == 503);
    CHECK(slq_err_http_status(SLQ_BUSY) == 503);
    /* Refusals of the request itself, and faults of the node. */
    CHECK(slq_err_http_status(SLQ_NONCE_INVALID) == 422);
    CHECK(slq_err_http_status(SLQ_JSON_INVALID) == 400);
    CHECK(slq_err_http_status(SLQ_NOT_FOUND) == 404);
    CHECK(slq_err_http_status(SLQ_METHOD_NOT_ALLOWED) == 405);
    CHECK(slq_err_http_status(SLQ_HTTP_VERSION_UNSUPPORTED) == 505);
    CHECK(slq_err_http_status(SLQ_NO_MEMORY) == 500);
    CHECK(slq_err_http_status(SLQ_STORAGE_CORRUPT) == 500);
}

static void test_the_budget_year_turns_at_midnight_cst_not_utc(void) {
    int64_t y2024 = slq_budget_year_start_ms(2024); /* 2023-12-31T16:00:00Z */
    CHECK_EQ_INT(y2024, 1704038400000LL);
    CHECK_EQ_INT(slq_budget_year(y2024), 2024);
    CHECK_EQ_INT(slq_budget_year(y2024 - 1), 2023);
    CHECK_EQ_INT(slq_budget_year(y2024 + 8 * HOUR_MS), 2024); /* UTC midnight of Jan 1 */
    CHECK_EQ_INT(slq_budget_year(slq_budget_year_start_ms(2025) - 1), 2024); /* leap year end */
    CHECK_EQ_INT(slq_budget_year(0), 1970);
    CHECK_EQ_INT(slq_budget_year(-8 * HOUR_MS - 1), 1969);
    CHECK_EQ_INT(slq_budget_year(INT64_MAX), 9999);
    CHECK_EQ_INT(slq_budget_year(INT64_MIN + 8 * HOUR_MS + 1), 0);
}

static void test_days_from_civil_counts_leap_days(void) {
    CHECK_EQ_INT(slq_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(slq_days_from_civil(2000, 3, 1) - slq_days_from_civil(2000, 2, 28), 2);
    CHECK_EQ_INT(slq_days_from_civil(1900, 3, 1) - slq_days_from_civil(1900, 2, 28), 1);
    CHECK_EQ_INT(slq_days_from_civil(2024, 1, 1) - slq_days_from_civil(2023, 1, 1), 365);
    CHECK_EQ_INT(slq_days_from_civil(2025, 1, 1) - slq_days_from_civil(2024, 1, 1), 366);
    CHECK_EQ_INT(slq_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(slq_days_from_civil(-1, 12, 31), -719529);
}

static void test_fen_sums_refuse_to_overflow(void) {
    int64_t r = 0;
    CHECK_ERR(amount_add(&r, INT64_MAX - 1, 1), SLQ_OK);
    CHECK_EQ_INT(r, INT64_MAX);
    CHECK_ERR(amount_add(&r, INT64_MAX, 1), SLQ_AMOUNT_OVERFLOW);
    CHECK_ERR(amount_add(&r, INT64_MIN, -1), SLQ_AMOUNT_OVERFLOW);
    CHECK_ERR(amount_sub(&r, INT64_MIN + 1, 1), SLQ_OK);
    CHECK_EQ_INT(r, INT64_MIN);
    CHECK_ERR(amount_sub(&r, INT64_MIN, 1), SLQ_AMOUNT_OVERFLOW);
    CHECK_ERR(amount_sub(&r, 0, INT64_MIN), SLQ_AMOUNT_OVERFLOW);
}

static void test_a_share_of_cost_is_floored_exactly(void) {
    int64_t r = -1;
    CHECK_ERR(amount_share_bp(&r, 1000, 3000), SLQ_OK);
    CHECK_EQ_INT(r, 300);
    CHECK_ERR(amount_share_bp(&r, 3, 3333), SLQ_OK); /* 0.9999 floors to 0 */
    CHECK_EQ_INT(r, 0);
    CHECK_ERR(amount_share_bp(&r, 333333, 3000), SLQ_OK); /* 99999.9 floors to 99999 */
    CHECK_EQ_INT(r, 99999);
    CHECK_ERR(amount_share_bp(&r, INT64_MAX, 10000), SLQ_OK); /* no overflow in between */
    CHECK_EQ_INT(r, INT64_MAX);
    CHECK_ERR(amount_share_bp(&r, INT64_MAX, 10001), SLQ_AMOUNT_OVERFLOW);
    CHECK_ERR(amount_share_bp(&r, -1, 3000), SLQ_AMOUNT_MUST_BE_POSITIVE);
}

TEST_MAIN("common", TEST(test_every_error_has_a_distinct_name_and_a_message),
          TEST(test_every_error_has_one_http_status),
          TEST(test_error_numbers_are_public_and_stable),
          TEST(test_the_budget_year_turns_at_midnight_cst_not_utc),
          TEST(test_days_from_civil_counts_leap_days), TEST(test_fen_sums_refuse_to_overflow),
          TEST(test_a_share_of_cost_is_floored_exactly))
