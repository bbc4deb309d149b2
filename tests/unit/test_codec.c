/* test_codec.c: unit tests of the codec: yuan amounts (every case the CLI contract names),
 * hex, role names, the JSON helpers (exact int64, strict parsing, the two text forms), and
 * genesis.json in both directions (a testnet-like genesis survives
 * JSON -> bytes -> ledger_create -> JSON -> bytes unchanged; each malformation is refused
 * with a reason naming its JSON path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "codec.h"
#include "codec_json.h"
#include "crypto.h"
#include "ledger.h"
#include "slq/assert.h"

/* ------------------------------------------------------------------ amounts */

typedef struct {
    const char *text;
    slq_err want;
    int64_t fen;
} amount_row;

static const amount_row amount_rows[] = {
    {"12", SLQ_OK, 1200},
    {"12.3", SLQ_OK, 1230},
    {"12.34", SLQ_OK, 1234},
    {"0.05", SLQ_OK, 5},
    {"0.5", SLQ_OK, 50},
    {"0.01", SLQ_OK, 1},
    {"10000000", SLQ_OK, 1000000000},
    {"92233720368547758.07", SLQ_OK, INT64_MAX},
    {"92233720368547758.08", SLQ_AMOUNT_OVERFLOW, 0},
    {"92233720368547759", SLQ_AMOUNT_OVERFLOW, 0},
    {"99999999999999999999", SLQ_AMOUNT_OVERFLOW, 0},
    {"999999999999999999999999999999999999999.99", SLQ_AMOUNT_OVERFLOW, 0},
    {"0", SLQ_AMOUNT_MUST_BE_POSITIVE, 0},
    {"0.0", SLQ_AMOUNT_MUST_BE_POSITIVE, 0},
    {"0.00", SLQ_AMOUNT_MUST_BE_POSITIVE, 0},
    {"1.234", SLQ_FIELD_INVALID, 0},
    {"-5", SLQ_FIELD_INVALID, 0},
    {"-0.05", SLQ_FIELD_INVALID, 0},
    {"abc", SLQ_FIELD_INVALID, 0},
    {"1e3", SLQ_FIELD_INVALID, 0},
    {"", SLQ_FIELD_INVALID, 0},
    {" 1", SLQ_FIELD_INVALID, 0},
    {"1 ", SLQ_FIELD_INVALID, 0},
    {"1.", SLQ_FIELD_INVALID, 0},
    {".5", SLQ_FIELD_INVALID, 0},
    {"+1", SLQ_FIELD_INVALID, 0},
    {"01", SLQ_FIELD_INVALID, 0},
    {"00.50", SLQ_FIELD_INVALID, 0},
    {"1,000", SLQ_FIELD_INVALID, 0},
    {"1.2.3", SLQ_FIELD_INVALID, 0},
    {"0x10", SLQ_FIELD_INVALID, 0},
    {"12abc", SLQ_FIELD_INVALID, 0},
    {"1.5a", SLQ_FIELD_INVALID, 0},
    {"\xef\xbc\x91", SLQ_FIELD_INVALID, 0}, /* full-width digit one */
    {"99999999999999999999x", SLQ_FIELD_INVALID, 0},
};

static void test_yuan_parse_accepts_two_decimals_and_refuses_everything_else(void) {
    for (size_t i = 0; i < sizeof amount_rows / sizeof amount_rows[0]; i++) {
        const amount_row *r = &amount_rows[i];
        int64_t fen = -1;
        slq_err err = codec_yuan_parse(&fen, r->text);
        if (err != r->want) fprintf(stderr, "  row \"%s\"\n", r->text);
        CHECK_ERR(err, r->want);
        CHECK_EQ_INT(fen, r->want == SLQ_OK ? r->fen : -1);
    }
}

static void test_yuan_parse_refuses_null(void) {
    int64_t fen = 7;
    CHECK_ERR(codec_yuan_parse(&fen, NULL), SLQ_FIELD_INVALID);
    CHECK_EQ_INT(fen, 7);
}

static void test_yuan_format_writes_exactly_two_decimals(void) {
    static const struct {
        int64_t fen;
        const char *text;
    } rows[] = {
        {123456, "1234.56"},
        {-5, "-0.05"},
        {0, "0.00"},
        {100, "1.00"},
        {1, "0.01"},
        {-123456, "-1234.56"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char out[CODEC_YUAN_TEXT_BYTES];
        codec_yuan_format(out, rows[i].fen);
        if (strcmp(out, rows[i].text) != 0) fprintf(stderr, "  got %s\n", out);
        CHECK(strcmp(out, rows[i].text) == 0);
    }
}

static void test_yuan_format_then_parse_gives_the_same_fen(void) {
    static const int64_t values[] = {1, 9, 10, 99, 100, 101, 123456789, INT64_MAX, INT64_MAX - 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char out[CODEC_YUAN_TEXT_BYTES];
        codec_yuan_format(out, values[i]);
        int64_t fen = 0;
        CHECK_ERR(codec_yuan_parse(&fen, out), SLQ_OK);
        CHECK_EQ_INT(fen, values[i]);
    }
}

/* ------------------------------------------------------------------ hex, names */

static void test_hex_round_trips_and_refuses_uppercase_and_wrong_length(void) {
    const uint8_t bytes[4] = {0x00, 0x9f, 0xa0, 0xff};
    char text[9];
    codec_hex_encode(text, bytes, 4);
    CHECK(strcmp(text, "009fa0ff") == 0);
    uint8_t back[4];
    CHECK_ERR(codec_hex_decode(back, 4, text), SLQ_OK);
    CHECK_MEM(back, bytes, 4);
    CHECK_ERR(codec_hex_decode(back, 4, "009FA0FF"), SLQ_FIELD_INVALID);
    CHECK_ERR(codec_hex_decode(back, 4, "009fa0f"), SLQ_FIELD_INVALID);
    CHECK_ERR(codec_hex_decode(back, 4, "009fa0fff0"), SLQ_FIELD_INVALID);
    CHECK_ERR(codec_hex_decode(back, 4, "009fa0fg"), SLQ_FIELD_INVALID);
    CHECK_ERR(codec_hex_decode(back, 4, NULL), SLQ_FIELD_INVALID);
}

/* ------------------------------------------------------------------ credit codes */

static void test_credit_code_check_accepts_published_codes_in_either_case(void) {
    static const char *valid[] = {
        "91350100M000100Y43", /* the example of GB 32100-2015 commentaries */
        "914403001922038216", /* Huawei Technologies Co., Ltd. */
        "91440300708461136T", /* Tencent Technology (Shenzhen) Co., Ltd. */
        "91510100MA6C00001Q", /* the demo's SME (made up, check character computed) */
    };
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
        codec_credit_code c;
        CHECK_EQ_INT(codec_credit_code_parse(&c, valid[i]), CODEC_CREDIT_CODE_OK);
        CHECK(strcmp(c.code, valid[i]) == 0);
        CHECK_EQ_INT(c.expected, valid[i][17]);
    }
    codec_credit_code c;
    CHECK_EQ_INT(codec_credit_code_parse(&c, "91350100m000100y43"), CODEC_CREDIT_CODE_OK);
    CHECK(strcmp(c.code, "91350100M000100Y43") == 0); /* what is hashed: upper case */
    CHECK_EQ_INT(codec_credit_code_check_char("91350100M000100Y4"), '3');
    /* A check value of 31 is written 0, and 0 stays 0. */
    CHECK_EQ_INT(codec_credit_code_check_char("00000000000000000"), '0');
    CHECK_EQ_INT(codec_credit_code_check_char("10000000000000000"), 'Y'); /* 31 - 1 = 30 */
}

static void test_credit_code_check_names_each_kind_of_error(void) {
    static const struct {
        const char *text;
        codec_credit_code_status want;
        size_t at;     /* BAD_LENGTH: the length; BAD_CHAR: the index */
        char expected; /* BAD_CHECK */
    } rows[] = {
        {"", CODEC_CREDIT_CODE_BAD_LENGTH, 0, 0},
        {"91350100M000100Y4", CODEC_CREDIT_CODE_BAD_LENGTH, 17, 0},
        {"91350100M000100Y433", CODEC_CREDIT_CODE_BAD_LENGTH, 19, 0},
        {"91350100I000100Y43", CODEC_CREDIT_CODE_BAD_CHAR, 8, 0},
        {"91350100O000100Y43", CODEC_CREDIT_CODE_BAD_CHAR, 8, 0},
        {"Z1350100M000100Y43", CODEC_CREDIT_CODE_BAD_CHAR, 0, 0},
        {"91S50100M000100Y43", CODEC_CREDIT_CODE_BAD_CHAR, 2, 0},
        {"91350100M000100Y4V", CODEC_CREDIT_CODE_BAD_CHAR, 17, 0},
        {"91350100M000100Y4-", CODEC_CREDIT_CODE_BAD_CHAR, 17, 0},
        {"91350100M000100Y4 ", CODEC_CREDIT_CODE_BAD_CHAR, 17, 0},
        {"91350100M000100Y44", CODEC_CREDIT_CODE_BAD_CHECK, 0, '3'},
        {"91350100M000100Y34", CODEC_CREDIT_CODE_BAD_CHECK, 0, '0'},
        {"91510100MA6C000001", CODEC_CREDIT_CODE_BAD_CHECK, 0, 'M'},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        codec_credit_code c;
        codec_credit_code_status got = codec_credit_code_parse(&c, rows[i].text);
        if (got != rows[i].want) fprintf(stderr, "  row \"%s\": got %d\n", rows[i].text, got);
        CHECK_EQ_INT(got, rows[i].want);
        if (got == CODEC_CREDIT_CODE_BAD_LENGTH) CHECK_EQ_INT(c.length, rows[i].at);
        if (got == CODEC_CREDIT_CODE_BAD_CHAR) CHECK_EQ_INT(c.bad_at, rows[i].at);
        if (got == CODEC_CREDIT_CODE_BAD_CHECK) CHECK_EQ_INT(c.expected, rows[i].expected);
    }
}

static void test_role_names_round_trip_and_unknown_names_are_refused(void) {
    for (int r = SLQ__ROLE__ROLE_ISSUER; r <= SLQ__ROLE__ROLE_REGULATOR; r++) {
        const char *name = codec_role_name((Slq__Role) r);
        CHECK(name != NULL);
        Slq__Role back = SLQ__ROLE__ROLE_UNSPECIFIED;
        CHECK_ERR(codec_role_parse(&back, name), SLQ_OK);
        CHECK_EQ_INT(back, r);
    }
    Slq__Role role;
    CHECK(codec_role_name(SLQ__ROLE__ROLE_UNSPECIFIED) == NULL);
    CHECK(codec_role_name((Slq__Role) 42) == NULL);
    CHECK_ERR(codec_role_parse(&role, "Issuer"), SLQ_ROLE_INVALID);
    CHECK_ERR(codec_role_parse(&role, "holder"), SLQ_ROLE_INVALID);
    Slq__Party party;
    CHECK_ERR(codec_party_parse(&party, "intermediary"), SLQ_OK);
    CHECK_EQ_INT(party, SLQ__PARTY__PARTY_INTERMEDIARY);
    CHECK_ERR(codec_party_parse(&party, "issuer"), SLQ_FIELD_INVALID);
}

/* ------------------------------------------------------------------ genesis.json */

/* A testnet-like genesis: two validators, six parties (one given by address only) and the
 * three Chengdu programs, naming the two centres. %s are public keys in hex and addresses. */
static const char genesis_template[] =
    "{\n"
    "  \"chain_id\": \"slq-testnet\",\n"
    "  \"suite\": \"%s\",\n"
    "  \"time_ms\": 1717084800000,\n"
    "  \"validators\": [\n"
    "    {\"pubkey\": \"%s\", \"name\": \"node0\", \"power\": 1},\n"
    "    {\"pubkey\": \"%s\", \"name\": \"node1\", \"power\": 1}\n"
    "  ],\n"
    "  \"accounts\": [\n"
    "    {\"pubkey\": \"%s\", \"role\": \"issuer\", \"name\": \"市经信局·市新经济委\"},\n"
    "    {\"pubkey\": \"%s\", \"role\": \"finance\", \"name\": \"市财政局\"},\n"
    "    {\"pubkey\": \"%s\", \"role\": \"regulator\", \"name\": \"regulator\"},\n"
    "    {\"pubkey\": \"%s\", \"role\": \"centre\", \"name\": \"国家超算成都中心\",\n"
    "     \"affiliation\": \"scc-group\",\n"
    "     \"credit_code_hash\": "
    "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"},\n"
    "    {\"pubkey\": \"%s\", \"role\": \"centre\", \"name\": \"成都智算中心\",\n"
    "     \"affiliation\": \"icc-group\"},\n"
    "    {\"address\": \"%s\", \"role\": \"intermediary\", \"name\": \"intermediary\", "
    "\"credit_code_hash\": "
    "\"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\"}\n"
    "  ],\n"
    "  \"policy\": {\n"
    "    \"valid_from_ms\": 1717171200000,\n"
    "    \"valid_until_ms\": 1811865600000,\n"
    "    \"city_annual_cap_fen\": 1000000000,\n"
    "    \"programs\": [\n"
    "      {\"name\": \"general\", \"annual_cap_fen\": 1000000000, \"outside_city_cap\": false,\n"
    "       \"holder_annual_cap_fen\": 0, \"max_share_bp\": 0, \"expiry_ms\": 0, "
    "\"redeem_grace_ms\": 2592000000, \"centres\": "
    "[\"%s\", \"%s\"],\n"
    "       \"edges\": [[\"holder\", \"centre\"], [\"intermediary\", \"holder\"]]},\n"
    "      {\"name\": \"national-major\", \"holder_annual_cap_fen\": 300000000,\n"
    "       \"max_share_bp\": 3000, \"edges\": [[\"holder\", \"centre\"]], \"centres\": "
    "[\"%s\"]},\n"
    "      {\"name\": \"provincial-major\", \"holder_annual_cap_fen\": 150000000,\n"
    "       \"max_share_bp\": 3000, \"edges\": []}\n"
    "    ]\n"
    "  }\n"
    "}\n";

#define G_KEYS 9 /* two validators, seven parties (the last one's address is used) */

/* Writes the template filled with fresh keys of `suite` into a malloc'd string. */
static char *genesis_json(crypto_suite suite) {
    char hex[G_KEYS][2 * CRYPTO_PUBKEY_BYTES_MAX + 1];
    char addr[CRYPTO_ADDRESS_TEXT_BYTES], centre[2][CRYPTO_ADDRESS_TEXT_BYTES];
    for (int i = 0; i < G_KEYS; i++) {
        crypto_key *k = NULL;
        SLQ_ASSERT(crypto_key_generate(&k, suite) == SLQ_OK);
        uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
        size_t n = 0;
        SLQ_ASSERT(crypto_key_public(k, pub, sizeof pub, &n) == SLQ_OK);
        codec_hex_encode(hex[i], pub, n);
        uint8_t a[CRYPTO_ADDRESS_BYTES];
        SLQ_ASSERT(crypto_address(suite, a, pub, n) == SLQ_OK);
        if (i == G_KEYS - 1) crypto_address_format(addr, a);
        if (i == 5 || i == 6) crypto_address_format(centre[i - 5], a); /* the two centres */
        crypto_key_destroy(k);
    }
    size_t cap = sizeof genesis_template + G_KEYS * sizeof hex[0] + 4 * sizeof addr;
    char *out = malloc(cap);
    SLQ_ASSERT(out != NULL);
    snprintf(out, cap, genesis_template, crypto_suite_name(suite), hex[0], hex[1], hex[2], hex[3],
             hex[4], hex[5], hex[6], addr, centre[0], centre[1], centre[0]);
    return out;
}

static slq_err from_text(const char *json, uint8_t **bytes, size_t *len, char *why, size_t cap) {
    return codec_genesis_from_json(bytes, len, json, strlen(json), why, cap);
}

static void round_trip(crypto_suite suite) {
    char *json = genesis_json(suite);
    uint8_t *bytes = NULL, *again = NULL;
    size_t len = 0, again_len = 0;
    char why[256] = "";
    CHECK_ERR(from_text(json, &bytes, &len, why, sizeof why), SLQ_OK);
    if (why[0] != '\0') fprintf(stderr, "  why: %s\n", why);
    ledger *l = NULL;
    CHECK_ERR(ledger_create(&l, bytes, len, why, sizeof why), SLQ_OK);
    if (l == NULL) {
        fprintf(stderr, "  ledger: %s\n", why);
        free(json), free(bytes);
        return;
    }
    CHECK_EQ_INT(ledger_program_index(l, "provincial-major"), 2);
    char *text = NULL;
    CHECK_ERR(codec_genesis_to_json(&text, ledger_genesis(l)), SLQ_OK);
    CHECK_ERR(from_text(text, &again, &again_len, why, sizeof why), SLQ_OK);
    CHECK_EQ_INT(again_len, len);
    CHECK(again != NULL && memcmp(again, bytes, len) == 0);
    CHECK(strstr(text, "\"name\": \"国家超算成都中心\"") != NULL);
    CHECK(strstr(text, "\"redeem_grace_ms\": 2592000000") != NULL); /* general's 30 days */
    CHECK(strstr(text, "\"redeem_grace_ms\": 0") != NULL);          /* absent: no grace */
    ledger_destroy(l);
    free(json), free(bytes), free(again), free(text);
}

static void test_genesis_json_round_trips_through_bytes_and_ledger_create(void) {
    round_trip(CRYPTO_SUITE_ED25519_SHA256);
}

static void test_genesis_json_round_trips_with_the_sm2_suite(void) {
    round_trip(CRYPTO_SUITE_SM2_SM3);
}

/* Replaces the first occurrence of find in s (which must be there). */
static char *replaced(const char *s, const char *find, const char *with) {
    const char *at = strstr(s, find);
    SLQ_ASSERT(at != NULL);
    size_t head = (size_t) (at - s), n = strlen(s) - strlen(find) + strlen(with) + 1;
    char *out = malloc(n);
    SLQ_ASSERT(out != NULL);
    memcpy(out, s, head);
    snprintf(out + head, n - head, "%s%s", with, at + strlen(find));
    return out;
}

typedef struct {
    const char *find;
    const char *with;
    const char *why; /* expected at the start of the reason */
} bad_row;

static const bad_row bad_rows[] = {
    {"\"chain_id\"", "\"chain_idx\"", "chain_idx: unknown key"},
    {"\"chain_id\"", "\"Chain_id\"", "Chain_id: unknown key"},
    {"\"chain_id\": \"slq-testnet\"", "\"chain_id\": 5", "chain_id: must be a string"},
    {"\"suite\": \"ed25519-sha256\",", "", "suite: missing"},
    {"ed25519-sha256", "rsa-md5", "suite: must be \"ed25519-sha256\" or \"sm2-sm3\""},
    {"\"time_ms\": 1717084800000", "\"time_ms\": 0", "time_ms: must be an integer 1.."},
    {"\"time_ms\": 1717084800000", "\"time_ms\": \"1717084800000\"", "time_ms: must be an integer"},
    {"\"max_share_bp\": 3000", "\"max_share_bp\": 10001",
     "policy.programs[1].max_share_bp: must be an integer 0..10000"},
    {"\"max_share_bp\": 3000", "\"max_share_bp\": 3000.0",
     "policy.programs[1].max_share_bp: must be an integer 0..10000"},
    {"\"max_share_bp\": 3000", "\"max_share_bp\": 3e3",
     "policy.programs[1].max_share_bp: must be an integer 0..10000"},
    {"\"max_share_bp\": 3000", "\"max_share_bp\": -0.0",
     "policy.programs[1].max_share_bp: must be an integer"},
    {"\"city_annual_cap_fen\": 1000000000", "\"city_annual_cap_fen\": -1",
     "policy.city_annual_cap_fen: must be an integer 0..9223372036854775807"},
    {"\"city_annual_cap_fen\": 1000000000", "\"city_annual_cap_fen\": 9223372036854775808",
     "line 23 column 47: number out of range, integers must fit in int64"},
    {"\"city_annual_cap_fen\": 1000000000", "\"city_annual_cap_fen\": 01000000000",
     "line 23 column 29: not valid JSON"},
    {"\"city_annual_cap_fen\": 1000000000", "\"city_annual_cap_fen\": null",
     "policy.city_annual_cap_fen: must be an integer"},
    {"\"valid_from_ms\": 1717171200000,", "", "policy.valid_from_ms: missing"},
    {"\"redeem_grace_ms\": 2592000000", "\"redeem_grace_ms\": -1",
     "policy.programs[0].redeem_grace_ms: must be an integer 0..9223372036854775807"},
    {"\"redeem_grace_ms\": 2592000000", "\"redeem_grace_ms\": \"30d\"",
     "policy.programs[0].redeem_grace_ms: must be an integer"},
    {"\"outside_city_cap\": false", "\"outside_city_cap\": \"no\"",
     "policy.programs[0].outside_city_cap: must be true or false"},
    {"[\"holder\", \"centre\"], [\"intermediary\"", "[\"holder\", \"bank\"], [\"intermediary\"",
     "policy.programs[0].edges[0]: must be a pair"},
    {"[\"intermediary\", \"holder\"]", "[\"intermediary\", \"holder\", \"centre\"]",
     "policy.programs[0].edges[1]: must be a pair"},
    {"\"edges\": []", "\"edges\": [\"holder\"]", "policy.programs[2].edges[0]: must be a pair"},
    {", \"edges\": []", "", "policy.programs[2].edges: missing"},
    {"\"centres\": [\"slq1", "\"centres\": [\"slq2",
     "policy.programs[0].centres[0]: must be slq1 followed by 40 lowercase hex digits"},
    {"\"centres\": [\"slq1", "\"centres\": [7, \"slq1",
     "policy.programs[0].centres[0]: must be slq1"},
    {"\"centres\": [", "\"centres\": 5, \"x\": [", "policy.programs[0].x: unknown key"},
    {"\"centres\": [", "\"centre\": [", "policy.programs[0].centre: unknown key"},
    {"\"name\": \"node0\"", "\"name\": \"node0\", \"name\": \"x\"",
     "line 6 column 107: key given twice"},
    {"\"power\": 1}\n  ]", "\"power\": 0}\n  ]",
     "validators[1].power: must be an integer 1..1000000"},
    {"{\"pubkey\": \"", "{\"pubkey\": \"zz", "validators[0].pubkey: must be"},
    {"{\"pubkey\": \"", "{\"pubkey\": \"00", "validators[0].pubkey: must be"},
    {"{\"pubkey\": \"", "{\"key\": \"", "validators[0].key: unknown key"},
    {"\"role\": \"issuer\"", "\"role\": \"boss\"", "accounts[0].role: must be one of"},
    {"\"role\": \"issuer\"", "\"role\": 1", "accounts[0].role: must be a string"},
    {"\"address\": \"slq1", "\"address\": \"slq2", "accounts[5].address: must be slq1"},
    {"\"address\": \"slq1", "\"nickname\": \"x\", \"address\": \"slq1",
     "accounts[5].nickname: unknown key"},
    {"{\"address\": \"", "{\"affiliation\": \"a\", \"x\": \"", "accounts[5].x: unknown key"},
    {"\"credit_code_hash\": \"00112233", "\"credit_code_hash\": \"0011223",
     "accounts[3].credit_code_hash: must be 32 bytes as 64 lowercase hex digits"},
    {"\"credit_code_hash\": \"00112233445566778899aabbccddeeff",
     "\"credit_code_hash\": \"00112233445566778899AABBCCDDEEFF", "accounts[3].credit_code_hash"},
    {"\"name\": \"regulator\"", "\"name\": \"reg\\u0000ulator\"",
     "line 12 column 130: \\u0000 is not allowed in a string"},
    {"\"name\": \"regulator\"", "\"name\": \"reg\\uZZZZ\"", "line 12 column 120: not valid JSON"},
    {"\"name\": \"regulator\"", "\"name\": \"reg\tulator\"", "line 12 column 117: not valid JSON"},
    {"\"name\": \"regulator\"", "\"name\": \"reg\\ulator\"", "line 12 column 120: not valid JSON"},
    {"\"policy\": {", "\"policy\": [{", "line "},
    {"\"accounts\": [", "\"accounts\": 7, \"x\": [", "x: unknown key"},
    {"  }\n}\n", "  }\n}\n}", "line 35 column 1: unexpected text after the JSON"},
    {"  }\n}\n", "  }\n}\n\x01", "line 35 column 1: unexpected text after the JSON"},
    {"{\n  \"chain_id\"", "[{\n  \"chain_id\"", "line "},
};

static void test_genesis_json_malformations_are_refused_naming_the_path(void) {
    char *base = genesis_json(CRYPTO_SUITE_ED25519_SHA256);
    for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
        const bad_row *r = &bad_rows[i];
        char *text = replaced(base, r->find, r->with);
        uint8_t *bytes = NULL;
        size_t len = 0;
        char why[256] = "";
        slq_err err = from_text(text, &bytes, &len, why, sizeof why);
        bool ok = err == SLQ_GENESIS_INVALID && strncmp(why, r->why, strlen(r->why)) == 0;
        if (!ok)
            fprintf(stderr, "  row %zu: got %s \"%s\", want \"%s\"\n", i, slq_err_name(err), why,
                    r->why);
        CHECK(ok);
        CHECK(bytes == NULL);
        free(bytes);
        free(text);
    }
    free(base);
}

static void test_genesis_json_refuses_non_objects_and_empty_text(void) {
    static const char *texts[] = {
        "",
        "[]",
        "null",
        "5",
        "\"x\"",
        "{}",
        " ",
        "{\"chain_id\": \"c\", \"suite\": \"sm2-sm3\", \"time_ms\": 1, \"validators\": {}}",
        "{\"chain_id\": \"c\", \"suite\": \"sm2-sm3\", \"time_ms\": 1, \"validators\": []}",
    };
    static const char *whys[] = {
        "line 1 column 1: not valid JSON",
        "genesis: must be an object",
        "genesis: must be an object",
        "genesis: must be an object",
        "genesis: must be an object",
        "chain_id: missing",
        "line 1",
        "validators: must be an array",
        "accounts: missing",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        char why[128] = "";
        CHECK_ERR(from_text(texts[i], &bytes, &len, why, sizeof why), SLQ_GENESIS_INVALID);
        if (strncmp(why, whys[i], strlen(whys[i])) != 0) fprintf(stderr, "  got \"%s\"\n", why);
        CHECK(strncmp(why, whys[i], strlen(whys[i])) == 0);
    }
}

static void test_genesis_json_leaves_meaning_to_the_ledger(void) {
    /* An empty policy window is well formed JSON; ledger_create refuses it. */
    char *base = genesis_json(CRYPTO_SUITE_ED25519_SHA256);
    char *text = replaced(base, "\"valid_until_ms\": 1811865600000", "\"valid_until_ms\": 5");
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[128];
    CHECK_ERR(from_text(text, &bytes, &len, why, sizeof why), SLQ_OK);
    ledger *l = NULL;
    CHECK_ERR(ledger_create(&l, bytes, len, why, sizeof why), SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "window") != NULL);
    free(bytes), free(text), free(base);
}

static void test_genesis_json_refuses_text_over_the_limit(void) {
    size_t n = CODEC_GENESIS_JSON_BYTES_MAX + 1;
    char *big = malloc(n);
    SLQ_ASSERT(big != NULL);
    memset(big, ' ', n);
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[128];
    CHECK_ERR(codec_genesis_from_json(&bytes, &len, big, n, why, sizeof why), SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "exceeds") != NULL);
    free(big);
}

static void test_genesis_to_json_refuses_what_json_cannot_express(void) {
    Slq__GenesisAccount acc = SLQ__GENESIS_ACCOUNT__INIT, *accp = &acc;
    uint8_t addr[CRYPTO_ADDRESS_BYTES] = {1};
    acc.address = (ProtobufCBinaryData){sizeof addr, addr};
    acc.role = (Slq__Role) 77;
    acc.name = "x";
    Slq__Policy pol = SLQ__POLICY__INIT;
    Slq__Genesis g = SLQ__GENESIS__INIT;
    g.chain_id = "c";
    g.suite = "ed25519-sha256";
    g.n_accounts = 1;
    g.accounts = &accp;
    g.policy = &pol;
    char *out = NULL;
    CHECK_ERR(codec_genesis_to_json(&out, &g), SLQ_GENESIS_INVALID);
    acc.role = SLQ__ROLE__ROLE_ISSUER;
    g.policy = NULL;
    CHECK_ERR(codec_genesis_to_json(&out, &g), SLQ_GENESIS_INVALID);
    g.policy = &pol;
    CHECK_ERR(codec_genesis_to_json(&out, &g), SLQ_OK);
    CHECK(out != NULL && strstr(out, "\"address\": \"slq101") != NULL);
    free(out);
}

/* ------------------------------------------------------------------ JSON helpers */

static void test_json_integers_are_exact_over_all_of_int64(void) {
    static const char text[] = "{\"max\": 9223372036854775807, \"min\": -9223372036854775808}";
    json_t *j = codec_json_parse(text, strlen(text), NULL, 0);
    int64_t v = 0;
    CHECK(j != NULL && codec_json_get_int(j, "max", &v) && v == INT64_MAX);
    CHECK(j != NULL && codec_json_get_int(j, "min", &v) && v == INT64_MIN);
    json_t *o = json_object();
    CHECK(codec_json_set_i64(o, "max", INT64_MAX) && codec_json_set_u64(o, "u", INT64_MAX));
    char *out = codec_json_text(o, CODEC_JSON_COMPACT, NULL);
    CHECK(out != NULL &&
          strcmp(out, "{\"max\":9223372036854775807,\"u\":9223372036854775807}") == 0);
    free(out);
    json_decref(o);
    json_decref(j);
}

static void test_json_refuses_what_is_not_an_exact_int64(void) {
    static const char *const texts[] = {"[1.0]", "[1e3]", "[0.5]", "[-0.0]"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        json_t *j = codec_json_parse(texts[i], strlen(texts[i]), NULL, 0);
        int64_t v = 0;
        CHECK(j != NULL && !codec_json_int(json_array_get(j, 0), &v));
        json_decref(j);
    }
    char why[160] = "";
    CHECK(codec_json_parse("[9223372036854775808]", 21, why, sizeof why) == NULL);
    CHECK(strncmp(why, "line 1 column 21: number out of range", 37) == 0);
    CHECK(codec_json_parse("[-9223372036854775809]", 22, NULL, 0) == NULL);
    /* A uint64 above INT64_MAX is never written inexactly: it is refused. */
    json_t *o = json_object();
    CHECK(!codec_json_set_u64(o, "u", (uint64_t) INT64_MAX + 1));
    CHECK(!codec_json_set_u64(o, "u", UINT64_MAX));
    CHECK(json_object_size(o) == 0);
    json_decref(o);
}

typedef struct {
    const char *text;
    const char *why; /* expected at the start of the reason */
} json_bad_row;

static const json_bad_row json_bad_rows[] = {
    {"", "line 1 column 1: not valid JSON"},
    {"{\"a\": 1, \"a\": 2}", "line 1 column 13: key given twice"},
    {"{\"a\": 1} x", "line 1 column 10: unexpected text after the JSON"},
    {"{\"a\": 1}\n\n  }", "line 3 column 3: unexpected text after the JSON"},
    {"[\"a\\u0000b\"]", "line 1 column 12: \\u0000 is not allowed in a string"},
    {"[\"a\tb\"]", "line 1 column 4: not valid JSON (control character"},
    {"[\"\xff\"]", "line 1 column 3: not valid JSON (unable to decode byte"},
    {"[01]", "line 1 column 3: not valid JSON"},
    {"[1,]", "line 1 column 5: not valid JSON"},
};

static void test_json_parse_is_strict_and_says_where(void) {
    for (size_t i = 0; i < sizeof json_bad_rows / sizeof json_bad_rows[0]; i++) {
        const json_bad_row *r = &json_bad_rows[i];
        char why[160] = "";
        json_t *j = codec_json_parse(r->text, strlen(r->text), why, sizeof why);
        bool ok = j == NULL && strncmp(why, r->why, strlen(r->why)) == 0;
        if (!ok) fprintf(stderr, "  row %zu: got \"%s\", want \"%s\"\n", i, why, r->why);
        CHECK(ok);
        json_decref(j);
    }
    size_t end = 0;
    json_t *j = codec_json_parse_prefix("{\"a\":[1]} tail", 14, &end, NULL, 0);
    CHECK(j != NULL && end == 9);
    json_decref(j);
}

static void test_json_text_is_compact_or_two_space_pretty_in_insertion_order(void) {
    json_t *o = json_object();
    CHECK(codec_json_set_str(o, "z", "\xe5\xb8\x82/\"") && codec_json_set_bool(o, "a", true));
    json_t *arr = codec_json_add_array(o, "list");
    CHECK(codec_json_set_i64(arr, NULL, -1) && codec_json_set_null(arr, NULL));
    CHECK(codec_json_add_object(o, "empty") != NULL);
    uint8_t addr[CRYPTO_ADDRESS_BYTES] = {0xab};
    CHECK(codec_json_set_hex(o, "hex", addr, 2) && codec_json_set_address(o, "addr", addr));
    size_t len = 0;
    char *compact = codec_json_text(o, CODEC_JSON_COMPACT, &len);
    static const char want_compact[] =
        "{\"z\":\"\xe5\xb8\x82/\\\"\",\"a\":true,\"list\":[-1,null],\"empty\":{},"
        "\"hex\":\"ab00\",\"addr\":\"slq1ab00000000000000000000000000000000000000\"}";
    CHECK(compact != NULL && strcmp(compact, want_compact) == 0 && len == strlen(want_compact));
    char *pretty = codec_json_text(json_object_get(o, "list"), CODEC_JSON_PRETTY, NULL);
    CHECK(pretty != NULL && strcmp(pretty, "[\n  -1,\n  null\n]\n") == 0);
    free(compact);
    free(pretty);
    json_decref(o);
}

static void test_json_text_that_is_not_utf8_is_written_as_ascii(void) {
    json_t *a = json_array();
    CHECK(codec_json_set_str(a, NULL,
                             "ab\xff"
                             "c") &&
          codec_json_set_str(a, NULL, NULL));
    char *text = codec_json_text(a, CODEC_JSON_COMPACT, NULL);
    CHECK(text != NULL && strcmp(text, "[\"ab?c\",\"\"]") == 0);
    free(text);
    json_decref(a);
}

TEST_MAIN("codec", TEST(test_yuan_parse_accepts_two_decimals_and_refuses_everything_else),
          TEST(test_yuan_parse_refuses_null), TEST(test_yuan_format_writes_exactly_two_decimals),
          TEST(test_yuan_format_then_parse_gives_the_same_fen),
          TEST(test_hex_round_trips_and_refuses_uppercase_and_wrong_length),
          TEST(test_json_integers_are_exact_over_all_of_int64),
          TEST(test_json_refuses_what_is_not_an_exact_int64),
          TEST(test_json_parse_is_strict_and_says_where),
          TEST(test_json_text_is_compact_or_two_space_pretty_in_insertion_order),
          TEST(test_json_text_that_is_not_utf8_is_written_as_ascii),
          TEST(test_credit_code_check_accepts_published_codes_in_either_case),
          TEST(test_credit_code_check_names_each_kind_of_error),
          TEST(test_role_names_round_trip_and_unknown_names_are_refused),
          TEST(test_genesis_json_round_trips_through_bytes_and_ledger_create),
          TEST(test_genesis_json_round_trips_with_the_sm2_suite),
          TEST(test_genesis_json_malformations_are_refused_naming_the_path),
          TEST(test_genesis_json_refuses_non_objects_and_empty_text),
          TEST(test_genesis_json_leaves_meaning_to_the_ledger),
          TEST(test_genesis_json_refuses_text_over_the_limit),
          TEST(test_genesis_to_json_refuses_what_json_cannot_express))
