/* input.c: reading what a user types (amounts, addresses, ids, numbers, dates) before
 * anything is sent. Each parser prints its own one-line reason and returns exit code 1, so
 * that a command can refuse bad input without touching the network. Dates are CST. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "slq/cst.h"

#define DAY_MS 86400000LL

int cli_parse_yuan(const cli_command *cmd, const char *flag, const char *text, int64_t *fen) {
    switch (codec_yuan_parse(fen, text)) {
        case SLQ_OK:
            return CLI_PROCEED;
        case SLQ_AMOUNT_MUST_BE_POSITIVE:
            return cli_usage(cmd, "%s %s: the amount must be greater than zero", flag, text);
        case SLQ_AMOUNT_OVERFLOW:
            return cli_usage(cmd, "%s %s: the amount is too large (at most 92233720368547758.07)",
                             flag, text);
        default:
            return cli_usage(cmd,
                             "%s \"%s\": not an amount in yuan (digits, at most two decimals, no "
                             "sign or exponent, e.g. 1200 or 12.50)",
                             flag, text);
    }
}

int cli_parse_address(const cli_command *cmd, const char *flag, const char *text,
                      uint8_t out[CRYPTO_ADDRESS_BYTES]) {
    if (crypto_address_parse(out, text) == SLQ_OK) return CLI_PROCEED;
    return cli_usage(cmd, "%s \"%s\": not an address (slq1 followed by 40 lowercase hex digits)",
                     flag != NULL ? flag : "address", text);
}

int cli_parse_id(const cli_command *cmd, const char *flag, const char *text,
                 uint8_t out[CRYPTO_HASH_BYTES], char hex[CLI_ID_HEX_BYTES]) {
    char lower[CLI_ID_HEX_BYTES];
    size_t n = strlen(text);
    bool ok = n == 2 * CRYPTO_HASH_BYTES;
    for (size_t i = 0; ok && i < n; i++)
        lower[i] = (char) (text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]);
    if (ok) lower[n] = '\0';
    if (!ok || codec_hex_decode(out, CRYPTO_HASH_BYTES, lower) != SLQ_OK)
        return cli_usage(cmd, "%s \"%s\": not an id (64 hex digits)", flag != NULL ? flag : "id",
                         text);
    if (hex != NULL) memcpy(hex, lower, CLI_ID_HEX_BYTES);
    return CLI_PROCEED;
}

int cli_parse_u64(const cli_command *cmd, const char *flag, const char *text, uint64_t min,
                  uint64_t max, uint64_t *out) {
    uint64_t v = 0;
    bool ok = text[0] != '\0' && !(text[0] == '0' && text[1] != '\0');
    for (size_t i = 0; ok && text[i] != '\0'; i++) {
        ok = text[i] >= '0' && text[i] <= '9' && !__builtin_mul_overflow(v, 10, &v) &&
             !__builtin_add_overflow(v, (uint64_t) (text[i] - '0'), &v);
    }
    if (!ok || v < min || v > max)
        return cli_usage(cmd, "%s \"%s\": must be a whole number %llu..%llu", flag, text,
                         (unsigned long long) min, (unsigned long long) max);
    *out = v;
    return CLI_PROCEED;
}

static unsigned days_in_month(unsigned y, unsigned m) {
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int cli_parse_date(const cli_command *cmd, const char *flag, const char *text, int64_t *ms) {
    static const char shape[] = "dddd-dd-dd";
    bool ok = strlen(text) == sizeof shape - 1;
    for (size_t i = 0; ok && shape[i] != '\0'; i++)
        ok = shape[i] == 'd' ? text[i] >= '0' && text[i] <= '9' : text[i] == shape[i];
    unsigned y = 0, m = 0, d = 0;
    if (ok) {
        for (size_t i = 0; i < 4; i++) y = y * 10 + (unsigned) (text[i] - '0');
        m = (unsigned) ((text[5] - '0') * 10 + (text[6] - '0'));
        d = (unsigned) ((text[8] - '0') * 10 + (text[9] - '0'));
        ok = y >= 1970 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
    }
    if (!ok) return cli_usage(cmd, "%s \"%s\": not a date (YYYY-MM-DD)", flag, text);
    *ms = slq_days_from_civil(y, m, d) * DAY_MS - SLQ_CST_OFFSET_MS;
    return CLI_PROCEED;
}
