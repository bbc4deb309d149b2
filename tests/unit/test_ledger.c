/* test_ledger.c: the voucher rules, one behaviour per test, each at its boundaries. */
#include <stdio.h>

#include "check.h"
#include "ledger_fixture.h"
#include "slq/limits.h"

/* A digest of everything the state holds as pending changes. */
static void state_digest(fx *f, uint8_t out[32]) {
    ledger_change *c;
    size_t n;
    SLQ_ASSERT(ledger_state_changes(f->st, &c, &n) == SLQ_OK);
    static const uint8_t zero[32];
    ledger_app_hash(f->suite, out, zero, c, n);
    free(c);
}

static void setup_holders(fx *f) {
    SLQ_ASSERT(fx_register(f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(f, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(f, K_H3, SLQ__ROLE__ROLE_MAKER, "group-b") == SLQ_OK);
}

/* ------------------------------------------------------------------ the state overlay */

static int key_cmp(const void *a, const void *b) {
    const ledger_change *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* The changes come out once each, in memcmp order (the order of LevelDB and of the app
 * hash), whatever the keys: short ones, ones that are prefixes of others, many sharing
 * their first bytes (a holder's index rows), deletes among them. */
/* The voucher row `id`; when it is absent, a failed check and an empty voucher (all fields
 * zero, freed like any other), so that a broken rule fails the test instead of crashing it. */
static Slq__Voucher *voucher_row(fx *f, const uint8_t id[32]) {
    Slq__Voucher *v = fx_voucher(f, id);
    CHECK(v != NULL);
    if (v == NULL) v = slq__voucher__unpack(NULL, 0, (const uint8_t *) "");
    SLQ_ASSERT(v != NULL);
    return v;
}

static void test_state_changes_come_out_in_key_order(void) {
    ledger_state *st = NULL;
    CHECK_ERR(ledger_state_create(&st, NULL), SLQ_OK);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    enum { N = 3000 };
    size_t written = 0;
    for (size_t i = 0; i < N; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        uint8_t key[SLQ_KEY_BYTES_MAX];
        size_t len = 1 + (size_t) (seed % SLQ_KEY_BYTES_MAX);
        for (size_t k = 0; k < len; k++) key[k] = (uint8_t) (seed >> (8 * (k % 8)) ^ k);
        switch (seed >> 60 & 3) {
            case 0: /* shares 21 bytes with every key of this kind */
                memset(key, 'i', len < 21 ? len : 21);
                break;
            case 1: /* few distinct first bytes, short */
                key[0] = (uint8_t) ('a' + seed % 3);
                len = 1 + (size_t) (seed >> 8) % 9;
                break;
            case 2: /* shares its first 0..9 bytes with the others of this kind */
                memset(key, 'v', len < seed % 10 ? len : seed % 10);
                break;
            default:
                break;
        }
        uint8_t val = (uint8_t) i;
        if (seed >> 58 & 1)
            CHECK_ERR(ledger_state_del(st, key, len), SLQ_OK);
        else
            CHECK_ERR(ledger_state_put(st, key, len, &val, 1), SLQ_OK);
        written++;
    }
    ledger_change *c = NULL;
    size_t n = 0;
    CHECK_ERR(ledger_state_changes(st, &c, &n), SLQ_OK);
    CHECK(n > N / 2 && n <= written);
    ledger_change *ref = malloc(n * sizeof *ref);
    CHECK(ref != NULL);
    if (c != NULL && ref != NULL) {
        memcpy(ref, c, n * sizeof *ref);
        qsort(ref, n, sizeof *ref, key_cmp);
        size_t out_of_order = 0, same = 0;
        for (size_t i = 0; i < n; i++) {
            out_of_order += c[i].key != ref[i].key;
            if (i > 0) same += key_cmp(&c[i - 1], &c[i]) >= 0;
        }
        CHECK_EQ_INT(out_of_order, 0);
        CHECK_EQ_INT(same, 0); /* strictly increasing: each key once */
    }
    free(ref);
    free(c);
    ledger_state_destroy(st);
}

/* ------------------------------------------------------------------ register, nonce */

static void test_register_creates_an_account_once(void) {
    fx f;
    fx_init(&f);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), SLQ_OK);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_RESEARCH, ""), SLQ_ACCOUNT_EXISTS);
    CHECK(strstr(f.out.reason, "already registered") != NULL);
    fx_deinit(&f);
}

static void test_register_rejects_bad_roles_signers_and_names(void) {
    fx f;
    fx_init(&f);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ISSUER, ""), SLQ_ROLE_INVALID);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_UNSPECIFIED, ""), SLQ_ROLE_INVALID);
    CHECK_ERR(fx_register(&f, K_H1, (Slq__Role) 42, ""), SLQ_ROLE_INVALID);
    char long_group[SLQ_AFFILIATION_BYTES_MAX + 2];
    memset(long_group, 'g', sizeof long_group - 1);
    long_group[sizeof long_group - 1] = '\0';
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, long_group), SLQ_NAME_TOO_LONG);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "bad\xff"), SLQ_FIELD_INVALID);
    /* Only the issuer registers. */
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){20, f.addr[K_H2]};
    r.role = SLQ__ROLE__ROLE_ENTERPRISE;
    r.name = "x";
    r.credit_code_hash = fx_credit_code(K_H2);
    CHECK_ERR(fx_send(&f, K_CENTRE1, &b), SLQ_ROLE_FORBIDDEN);
    r.name = "";
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_FIELD_INVALID);
    char name[SLQ_NAME_BYTES_MAX + 2];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    r.name = name;
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_NAME_TOO_LONG);
    name[SLQ_NAME_BYTES_MAX] = '\0'; /* exactly at the limit */
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_OK);
    r.address = (ProtobufCBinaryData){19, f.addr[K_H3]};
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_FIELD_INVALID);
    fx_deinit(&f);
}

/* A REGISTER of `who` as `role` with the given credit code hash (len 0: none). */
static slq_err register_with_code(fx *f, int who, Slq__Role role, ProtobufCBinaryData code) {
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, f->addr[who]};
    r.role = role;
    r.name = "party";
    r.credit_code_hash = code;
    return fx_send(f, K_ISSUER, &b);
}

static void test_register_of_a_holder_class_party_requires_a_credit_code_hash(void) {
    static const Slq__Role holders[] = {SLQ__ROLE__ROLE_ENTERPRISE, SLQ__ROLE__ROLE_MAKER,
                                        SLQ__ROLE__ROLE_RESEARCH, SLQ__ROLE__ROLE_UNIVERSITY,
                                        SLQ__ROLE__ROLE_INTERMEDIARY};
    fx f;
    fx_init(&f);
    ProtobufCBinaryData code = fx_credit_code(K_H1);
    for (size_t i = 0; i < sizeof holders / sizeof holders[0]; i++) {
        CHECK_ERR(register_with_code(&f, K_H1, holders[i], (ProtobufCBinaryData){0, NULL}),
                  SLQ_CREDIT_CODE_REQUIRED);
        CHECK(strstr(f.out.reason, "got 0 bytes") != NULL);
        CHECK_ERR(register_with_code(&f, K_H1, holders[i], (ProtobufCBinaryData){31, code.data}),
                  SLQ_CREDIT_CODE_REQUIRED);
        CHECK(strstr(f.out.reason, "got 31 bytes") != NULL);
    }
    slq_key k = slq_key_bytes(SLQ_KEY_ACCOUNT, f.addr[K_H1], CRYPTO_ADDRESS_BYTES);
    const uint8_t *v;
    size_t n;
    CHECK_ERR(ledger_state_get(f.st, k.bytes, k.len, &v, &n), SLQ_NOT_FOUND);
    CHECK_ERR(register_with_code(&f, K_H1, SLQ__ROLE__ROLE_MAKER, code), SLQ_OK);
    fx_deinit(&f);
}

static void test_a_credit_code_registers_one_account_and_names_it_to_the_second(void) {
    fx f;
    fx_init(&f);
    ProtobufCBinaryData code = fx_credit_code(K_H1);
    CHECK_ERR(register_with_code(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, code), SLQ_OK);
    uint8_t before[32], after[32];
    state_digest(&f, before);
    CHECK_ERR(register_with_code(&f, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, code), SLQ_CREDIT_CODE_USED);
    char h1[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(h1, f.addr[K_H1]);
    CHECK(strstr(f.out.reason, h1) != NULL);
    state_digest(&f, after);
    CHECK_MEM(before, after, 32); /* refused: no account, no index row */
    /* The genesis intermediary's code is taken as well. */
    char inter[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(inter, f.addr[K_INTER]);
    CHECK_ERR(register_with_code(&f, K_H2, SLQ__ROLE__ROLE_ENTERPRISE, fx_credit_code(K_INTER)),
              SLQ_CREDIT_CODE_USED);
    CHECK(strstr(f.out.reason, inter) != NULL);
    CHECK_ERR(register_with_code(&f, K_H2, SLQ__ROLE__ROLE_ENTERPRISE, fx_credit_code(K_H2)),
              SLQ_OK);
    /* An account registered twice is ACCOUNT_EXISTS, whatever its code. */
    CHECK_ERR(register_with_code(&f, K_H2, SLQ__ROLE__ROLE_ENTERPRISE, code), SLQ_ACCOUNT_EXISTS);
    fx_deinit(&f);
}

static void test_credit_codes_of_other_roles_are_neither_required_nor_indexed(void) {
    fx f;
    fx_init(&f);
    ProtobufCBinaryData code = fx_credit_code(K_H1);
    CHECK_ERR(register_with_code(&f, K_H1, SLQ__ROLE__ROLE_CENTRE, (ProtobufCBinaryData){0, NULL}),
              SLQ_OK);
    CHECK_ERR(register_with_code(&f, K_H2, SLQ__ROLE__ROLE_REGULATOR, fx_credit_code(K_INTER)),
              SLQ_OK);
    CHECK_ERR(
        register_with_code(&f, K_H3, SLQ__ROLE__ROLE_FINANCE, (ProtobufCBinaryData){31, code.data}),
        SLQ_FIELD_INVALID);
    CHECK_ERR(register_with_code(&f, K_H3, SLQ__ROLE__ROLE_CENTRE, code), SLQ_OK);
    /* A holder may still use the code a centre gave: only holder-class codes are indexed. */
    CHECK_ERR(register_with_code(&f, K_STRANGER, SLQ__ROLE__ROLE_ENTERPRISE, code), SLQ_OK);
    fx_deinit(&f);
}

static void test_nonce_must_be_last_plus_one(void) {
    fx f;
    fx_init(&f);
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Register r = SLQ__REGISTER__INIT;
    b.kind = SLQ__TX_KIND__TX_REGISTER;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    b.register_ = &r;
    r.address = (ProtobufCBinaryData){20, f.addr[K_H1]};
    r.role = SLQ__ROLE__ROLE_ENTERPRISE;
    r.name = "h1";
    r.credit_code_hash = fx_credit_code(K_H1);
    fx_sign(&f, K_ISSUER, &b, 2);
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_NONCE_INVALID);
    CHECK(strstr(f.out.reason, "nonce 2, expected 1") != NULL);
    fx_sign(&f, K_ISSUER, &b, 0);
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_NONCE_INVALID);
    fx_sign(&f, K_ISSUER, &b, 1);
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_OK);
    r.address = (ProtobufCBinaryData){20, f.addr[K_H2]};
    fx_sign(&f, K_ISSUER, &b, 1); /* reused nonce */
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_NONCE_INVALID);
    fx_deinit(&f);
}

static void test_unregistered_signer_is_refused(void) {
    fx f;
    fx_init(&f);
    CHECK_ERR(fx_issue_as(&f, K_STRANGER, (fx_issue_args){K_H1, P_GENERAL, 100, 0, NULL, 0}, NULL),
              SLQ_SIGNER_UNKNOWN);
    fx_deinit(&f);
}

static void test_resubmitting_the_same_bytes_is_a_duplicate_and_changes_nothing(void) {
    fx f;
    fx_init(&f);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), SLQ_OK);
    uint8_t before[32], after[32];
    state_digest(&f, before);
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_TX_DUPLICATE);
    state_digest(&f, after);
    CHECK_MEM(before, after, 32);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ issue */

static void test_issue_creates_a_voucher_expiring_at_the_end_of_its_cst_year(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 12345, 0, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(f.out.vouchers_count, 1);
    Slq__Voucher *v = voucher_row(&f, id);
    CHECK_EQ_INT(v->budget_year, 2024);
    CHECK_EQ_INT(v->original_fen, 12345);
    CHECK_EQ_INT(v->remaining_fen, 12345);
    CHECK_EQ_INT(v->expires_at_ms, cst_ms(2025, 1, 1, 0, 0));
    CHECK_EQ_INT(v->state, SLQ__VOUCHER_STATE__VOUCHER_ACTIVE);
    CHECK_MEM(v->holder.data, f.addr[K_H1], 20);
    CHECK_EQ_INT(v->parent_id.len, 0);
    slq__voucher__free_unpacked(v, NULL);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.issued_fen, 12345);
    CHECK_EQ_INT(t.cap_used_fen, 12345);
    CHECK_EQ_INT(t.issued_count, 1);
    fx_deinit(&f);
}

static void test_city_cap_holds_exactly_at_the_cap_and_refuses_one_fen_over(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, FX_CITY_CAP - 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 101, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK(strstr(f.out.reason, "999999900 used + 101 > 1000000000") != NULL);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, INT64_MAX, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_EQ_INT(fx_year(&f, 2024).issued_fen, FX_CITY_CAP);
    fx_deinit(&f);
}

static void test_budget_year_turns_at_midnight_cst(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    f.time_ms = cst_ms(2023, 6, 1, 0, 0);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, FX_CITY_CAP, 0, NULL, 0), SLQ_OK);
    /* 2023-12-31T15:59:59.999Z is still 2023 in CST: the 2023 pool is full. */
    f.time_ms = slq_days_from_civil(2023, 12, 31) * DAY_MS + 16 * 3600000LL - 1;
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    /* 2023-12-31T16:00:00Z is 2024-01-01T00:00 CST: a fresh pool. */
    f.time_ms += 1;
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1, 0, NULL, 0), SLQ_OK);
    Slq__Voucher *v = voucher_row(&f, id);
    CHECK_EQ_INT(v->budget_year, 2024);
    slq__voucher__free_unpacked(v, NULL);
    CHECK_EQ_INT(fx_year(&f, 2023).issued_fen, FX_CITY_CAP);
    CHECK_EQ_INT(fx_year(&f, 2024).issued_fen, 1);
    fx_deinit(&f);
}

static void test_program_pool_cap_is_enforced_per_year(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, FX_SHARED_CAP, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_SHARED, 1, 0, NULL, 0), SLQ_PROGRAM_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_OK);
    f.time_ms = cst_ms(2025, 1, 1, 0, 0);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_SHARED, FX_SHARED_CAP, 0, NULL, 0), SLQ_OK);
    fx_deinit(&f);
}

static void test_program_outside_the_city_cap_does_not_count_toward_it(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, FX_CITY_CAP, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_OUTSIDE, 500, 0, NULL, 0), SLQ_OK);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.issued_fen, FX_CITY_CAP + 500);
    CHECK_EQ_INT(t.cap_used_fen, FX_CITY_CAP);
    /* Year totals are sums: a second INT64_MAX would overflow, and is refused. */
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_OUTSIDE, INT64_MAX, 0, NULL, 0), SLQ_AMOUNT_OVERFLOW);
    fx_deinit(&f);
}

static void test_holder_yearly_cap_per_program(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 299999999, 1000000000, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 2, 100, NULL, 0), SLQ_HOLDER_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 1, 100, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_NATIONAL, 2, 100, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_PROVINCIAL, 150000000, 500000000, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_PROVINCIAL, 1, 100, NULL, 0), SLQ_HOLDER_CAP_EXCEEDED);
    fx_deinit(&f);
}

static int64_t quota_used(fx *f, uint32_t year, int program, int who) {
    slq_key k = slq_key_quota(year, (uint32_t) program, f->addr[who]);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return 0;
    Slq__HolderQuota *q = slq__holder_quota__unpack(NULL, n, v);
    SLQ_ASSERT(q != NULL);
    int64_t used = q->used_fen;
    slq__holder_quota__free_unpacked(q, NULL);
    return used;
}

/* An intermediary passes vouchers on and is charged nothing: the holder it passes one to is
 * charged then, in the voucher's program and budget year. 1,000,000 yuan of national-major
 * through the intermediary cannot take holder-1 from its 3,000,000 yuan to 4,000,000. */
static void test_quota_follows_the_voucher_from_an_intermediary_to_the_holder(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t big[32], more[32], part[32], change[32];
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, FX_NATIONAL_HOLDER_CAP, 1000000000, NULL, 0),
              SLQ_OK);
    /* The intermediary is no holder: no cap of its own, no quota row. */
    CHECK_ERR(fx_issue(&f, big, K_INTER, P_NATIONAL, 100000000, 1000000000, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, more, K_INTER, P_NATIONAL, 250000000, 1000000000, NULL, 0), SLQ_OK);
    CHECK_EQ_INT(quota_used(&f, 2024, P_NATIONAL, K_INTER), 0);
    Slq__Voucher *v = voucher_row(&f, big);
    CHECK_EQ_INT(v->beneficiary.len, 0);
    slq__voucher__free_unpacked(v, NULL);
    CHECK_ERR(fx_transfer(&f, K_INTER, big, K_H1, 100000000), SLQ_HOLDER_CAP_EXCEEDED);
    CHECK(strstr(f.out.reason, "national-major 2024: 300000000 used + 100000000 > 300000000 fen") !=
          NULL);
    /* Exactly at the cap is accepted, one fen over refused. */
    CHECK_ERR(fx_transfer(&f, K_INTER, more, K_H2, 250000000), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_INTER, big, K_H2, 50000001), SLQ_HOLDER_CAP_EXCEEDED);
    CHECK(strstr(f.out.reason, "250000000 used + 50000001 > 300000000 fen") != NULL);
    CHECK_ERR(fx_transfer(&f, K_INTER, big, K_H2, 50000000), SLQ_OK);
    memcpy(part, f.out.vouchers[0], 32);
    memcpy(change, f.out.vouchers[1], 32);
    CHECK_EQ_INT(quota_used(&f, 2024, P_NATIONAL, K_H2), FX_NATIONAL_HOLDER_CAP);
    v = voucher_row(&f, part);
    CHECK_MEM(v->beneficiary.data, f.addr[K_H2], 20);
    slq__voucher__free_unpacked(v, NULL);
    v = voucher_row(&f, change);
    CHECK_EQ_INT(v->beneficiary.len, 0); /* still the intermediary's, charged to nobody */
    slq__voucher__free_unpacked(v, NULL);
    /* Revoking gives the quota back to the holder charged, and nothing for the change. */
    CHECK_ERR(fx_revoke(&f, K_ISSUER, part, "audit finding"), SLQ_OK);
    CHECK_EQ_INT(quota_used(&f, 2024, P_NATIONAL, K_H2), 250000000);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, change, "audit finding"), SLQ_OK);
    CHECK_EQ_INT(quota_used(&f, 2024, P_NATIONAL, K_INTER), 0);
    /* A program without a holder cap still records the quota. */
    CHECK_ERR(fx_issue(&f, big, K_INTER, P_GENERAL, 700, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_INTER, big, K_H3, 700), SLQ_OK);
    CHECK_EQ_INT(quota_used(&f, 2024, P_GENERAL, K_H3), 700);
    CHECK_EQ_INT(quota_used(&f, 2024, P_GENERAL, K_INTER), 0);
    fx_deinit(&f);
}

static void test_share_of_cost_is_floor_rounded_basis_points(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    /* 30% of 1001 fen is 300.3 fen: 300 is allowed, 301 is not. */
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 301, 1001, NULL, 0), SLQ_SHARE_EXCEEDED);
    CHECK(strstr(f.out.reason, "301 fen > 3000 bp of 1001 fen = 300 fen") != NULL);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 300, 1001, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 100, 0, NULL, 0), SLQ_COST_REQUIRED);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 1, INT64_MAX, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, -1, NULL, 0), SLQ_FIELD_INVALID);
    fx_deinit(&f);
}

static void test_application_reference_is_used_once(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, "CD-2024-0001", 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 100, 0, "CD-2024-0001", 0),
              SLQ_APPLICATION_REF_USED);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 100, 0, "", 0), SLQ_FIELD_INVALID);
    fx_deinit(&f);
}

static void test_issue_only_inside_the_policy_window(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    int64_t from = cst_ms(2023, 2, 10, 0, 0), until = cst_ms(2026, 2, 10, 0, 0);
    f.time_ms = from - 1;
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_POLICY_WINDOW_CLOSED);
    f.time_ms = from;
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    f.time_ms = until - 1;
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    f.time_ms = until;
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_POLICY_WINDOW_CLOSED);
    fx_deinit(&f);
}

static void test_issue_checks_recipient_program_amount_and_signer(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    CHECK_ERR(fx_issue(&f, NULL, K_STRANGER, P_GENERAL, 100, 0, NULL, 0), SLQ_ACCOUNT_UNKNOWN);
    CHECK_ERR(fx_issue(&f, NULL, K_CENTRE1, P_GENERAL, 100, 0, NULL, 0), SLQ_HOLDER_CANNOT_HOLD);
    CHECK_ERR(fx_issue(&f, NULL, K_FINANCE, P_GENERAL, 100, 0, NULL, 0), SLQ_HOLDER_CANNOT_HOLD);
    CHECK_ERR(fx_issue(&f, NULL, K_INTER, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, -1, 100, 0, NULL, 0), SLQ_PROGRAM_UNKNOWN);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 0, 0, NULL, 0), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, -5, 0, NULL, 0), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_issue_as(&f, K_CENTRE1, (fx_issue_args){K_H1, P_GENERAL, 100, 0, NULL, 0}, NULL),
              SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_issue_as(&f, K_REGULATOR, (fx_issue_args){K_H1, P_GENERAL, 100, 0, NULL, 0}, NULL),
              SLQ_ROLE_FORBIDDEN);
    fx_deinit(&f);
}

static void test_issue_expiry_explicit_default_and_program(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, f.time_ms), SLQ_EXPIRY_INVALID);
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 100, 0, NULL, f.time_ms + 1), SLQ_OK);
    CHECK_ERR(fx_issue(&f, id, K_H1, P_SHARED, 100, 0, NULL, 0), SLQ_OK);
    Slq__Voucher *v = voucher_row(&f, id);
    CHECK_EQ_INT(v->expires_at_ms, f.time_ms + 30 * DAY_MS);
    slq__voucher__free_unpacked(v, NULL);
    /* An explicit expiry shortens, never lengthens: up to the policy window's end, and up to
     * the program's own expiry when it sets one; INT64_MAX is refused. */
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, fx_valid_until_ms()), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, fx_valid_until_ms() + 1),
              SLQ_EXPIRY_INVALID);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 100, 0, NULL, INT64_MAX), SLQ_EXPIRY_INVALID);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, 100, 0, NULL, f.time_ms + 30 * DAY_MS), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, 100, 0, NULL, f.time_ms + 30 * DAY_MS + 1),
              SLQ_EXPIRY_INVALID);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ transfer */

static void test_partial_transfer_splits_into_linked_parts(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], to_centre[32], change[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 300), SLQ_OK);
    CHECK_EQ_INT(f.out.vouchers_count, 2);
    memcpy(to_centre, f.out.vouchers[0], 32);
    memcpy(change, f.out.vouchers[1], 32);
    Slq__Voucher *p = voucher_row(&f, id), *a = voucher_row(&f, to_centre),
                 *b = voucher_row(&f, change);
    CHECK_EQ_INT(p->state, SLQ__VOUCHER_STATE__VOUCHER_SPLIT);
    CHECK_EQ_INT(p->remaining_fen, 0);
    CHECK_EQ_INT(a->remaining_fen, 300);
    CHECK_MEM(a->holder.data, f.addr[K_CENTRE1], 20);
    CHECK_MEM(a->parent_id.data, id, 32);
    CHECK_EQ_INT(a->hops, 1);
    CHECK_EQ_INT(b->remaining_fen, 700);
    CHECK_MEM(b->holder.data, f.addr[K_H1], 20);
    CHECK_MEM(b->parent_id.data, id, 32);
    CHECK_EQ_INT(b->hops, 0);
    CHECK_EQ_INT(a->expires_at_ms, p->expires_at_ms);
    slq__voucher__free_unpacked(p, NULL);
    slq__voucher__free_unpacked(a, NULL);
    slq__voucher__free_unpacked(b, NULL);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 1), SLQ_VOUCHER_SPLIT);
    CHECK_EQ_INT(fx_year(&f, 2024).transferred_fen, 300);
    fx_deinit(&f);
}

static void test_full_transfer_creates_one_part(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 1001), SLQ_AMOUNT_EXCEEDS_REMAINING);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 0), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, -1), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 1000), SLQ_OK);
    CHECK_EQ_INT(f.out.vouchers_count, 1);
    fx_deinit(&f);
}

static void test_transfer_needs_the_holder_and_a_live_voucher(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], none[32] = {1};
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H2, id, K_CENTRE1, 10), SLQ_NOT_HOLDER);
    CHECK_ERR(fx_transfer(&f, K_H1, none, K_CENTRE1, 10), SLQ_VOUCHER_UNKNOWN);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_H1, 10), SLQ_SELF_TRANSFER);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_STRANGER, 10), SLQ_ACCOUNT_UNKNOWN);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, id, "fraud"), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 10), SLQ_VOUCHER_REVOKED);
    fx_deinit(&f);
}

static void test_voucher_expires_at_its_expiry_instant(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    int64_t exp = f.time_ms + DAY_MS;
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, exp), SLQ_OK);
    f.time_ms = exp - 1;
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 10), SLQ_OK);
    uint8_t change[32], paid[32];
    memcpy(paid, f.out.vouchers[0], 32);
    memcpy(change, f.out.vouchers[1], 32);
    f.time_ms = exp;
    CHECK_ERR(fx_transfer(&f, K_H1, change, K_CENTRE1, 10), SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, "C-exp"),
              SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, change, "late"), SLQ_VOUCHER_EXPIRED);
    fx_deinit(&f);
}

/* `outside` has a 30-day redemption grace: the centre holding a voucher redeems it up to the
 * last millisecond before expiry + grace; every other use ends at the expiry. */
static void test_a_centre_redeems_during_the_grace_and_not_after(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], b[32], paid_a[32], paid_b[32], change[32];
    int64_t exp = f.time_ms + DAY_MS, end = exp + FX_OUTSIDE_GRACE_MS;
    CHECK_ERR(fx_issue(&f, a, K_H1, P_OUTSIDE, 1000, 0, NULL, exp), SLQ_OK);
    CHECK_ERR(fx_issue(&f, b, K_H2, P_OUTSIDE, 500, 0, NULL, exp), SLQ_OK);
    f.time_ms = exp - 1;
    CHECK_ERR(fx_transfer(&f, K_H1, a, K_CENTRE1, 600), SLQ_OK);
    memcpy(paid_a, f.out.vouchers[0], 32);
    memcpy(change, f.out.vouchers[1], 32);
    CHECK_ERR(fx_transfer(&f, K_H2, b, K_CENTRE1, 500), SLQ_OK);
    memcpy(paid_b, f.out.vouchers[0], 32);
    f.time_ms = exp; /* expired: the holder can neither pay nor be revoked */
    CHECK_ERR(fx_transfer(&f, K_H1, change, K_CENTRE1, 10), SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, change, "late"), SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, paid_a, "late"), SLQ_VOUCHER_EXPIRED);
    f.time_ms = end - 1;
    CHECK_ERR(fx_transfer(&f, K_H1, change, K_CENTRE1, 10), SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid_a, 1, "C-grace"), SLQ_OK);
    f.time_ms = end;
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid_b, 1, "C-late"),
              SLQ_VOUCHER_EXPIRED);
    CHECK(strstr(f.out.reason, "grace ended") != NULL);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid_a, 1, "C-again"),
              SLQ_VOUCHER_REDEEMED);
    fx_deinit(&f);
}

/* The issue's case: a voucher expiring with its budget year (Jan 1 00:00 CST), paid to a
 * centre at 23:59 on Dec 31. With the grace the centre redeems it at 00:00; in a program
 * without one (grace 0) it cannot, as before. */
static void test_a_voucher_paid_at_2359_on_dec_31_is_redeemed_at_0000(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t o[32], g[32], paid_o[32], paid_g[32];
    CHECK_ERR(fx_issue(&f, o, K_H1, P_OUTSIDE, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, g, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    f.time_ms = cst_ms(2024, 12, 31, 23, 59);
    CHECK_ERR(fx_transfer(&f, K_H1, o, K_CENTRE1, 1000), SLQ_OK);
    memcpy(paid_o, f.out.vouchers[0], 32);
    CHECK_ERR(fx_transfer(&f, K_H1, g, K_CENTRE1, 1000), SLQ_OK);
    memcpy(paid_g, f.out.vouchers[0], 32);
    f.time_ms = cst_ms(2025, 1, 1, 0, 0);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid_g, 1, "C-2024-g"),
              SLQ_VOUCHER_EXPIRED);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid_o, 1, "C-2024-o"), SLQ_OK);
    fx_deinit(&f);
}

/* The grace's end is expiry + grace, and INT64_MAX (never) when the sum overflows. */
static void test_grace_end_is_overflow_checked(void) {
    Slq__Voucher v = SLQ__VOUCHER__INIT;
    v.expires_at_ms = 1000;
    CHECK_EQ_INT(ledger_redeem_grace_end_ms(&v, 0), 1000);
    CHECK_EQ_INT(ledger_redeem_grace_end_ms(&v, 5), 1005);
    CHECK(!ledger_voucher_grace_over(&v, 5, 1004));
    CHECK(ledger_voucher_grace_over(&v, 5, 1005));
    v.expires_at_ms = INT64_MAX - 10;
    CHECK_EQ_INT(ledger_redeem_grace_end_ms(&v, 30 * DAY_MS), INT64_MAX);
    CHECK(!ledger_voucher_grace_over(&v, 30 * DAY_MS, INT64_MAX - 1));
}

static void test_transfer_edges_follow_the_program(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t g[32], s[32], i[32], c[32];
    CHECK_ERR(fx_issue(&f, g, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, s, K_H1, P_SHARED, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, i, K_INTER, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, g, K_H2, 10), SLQ_EDGE_NOT_ALLOWED);
    CHECK(strstr(f.out.reason, "ROLE_ENTERPRISE -> ROLE_UNIVERSITY in program general") != NULL);
    CHECK_ERR(fx_transfer(&f, K_H1, g, K_INTER, 10), SLQ_EDGE_NOT_ALLOWED);
    CHECK_ERR(fx_transfer(&f, K_H1, g, K_FINANCE, 10), SLQ_EDGE_NOT_ALLOWED);
    CHECK_ERR(fx_transfer(&f, K_H1, s, K_H2, 10), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_INTER, i, K_CENTRE1, 10), SLQ_EDGE_NOT_ALLOWED);
    CHECK_ERR(fx_transfer(&f, K_INTER, i, K_H2, 400), SLQ_OK);
    memcpy(c, f.out.vouchers[0], 32);
    CHECK_ERR(fx_transfer(&f, K_H2, c, K_CENTRE1, 400), SLQ_OK);
    memcpy(c, f.out.vouchers[0], 32);
    CHECK_ERR(fx_transfer(&f, K_CENTRE1, c, K_H1, 100), SLQ_EDGE_NOT_ALLOWED);
    Slq__Voucher *v = voucher_row(&f, c);
    CHECK_EQ_INT(v->hops, 2);
    slq__voucher__free_unpacked(v, NULL);
    fx_deinit(&f);
}

static void test_payment_to_a_related_centre_is_refused(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H3, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H3, id, K_CENTRE2, 100), SLQ_RELATED_PARTY);
    CHECK_ERR(fx_transfer(&f, K_H3, id, K_CENTRE1, 100), SLQ_OK);
    /* An unaffiliated holder pays centre-2 freely. */
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE2, 100), SLQ_OK);
    fx_deinit(&f);
}

/* A programme's vouchers go only to the centres its genesis names: centre-2 is named by every
 * fixture program but `outside`, and a centre the issuer registers later by none. */
static void test_payment_to_a_centre_the_program_does_not_name_is_refused(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_register(&f, K_STRANGER, SLQ__ROLE__ROLE_CENTRE, ""), SLQ_OK);
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_STRANGER, 100), SLQ_CENTRE_NOT_NAMED);
    char want[128], addr[CRYPTO_ADDRESS_TEXT_BYTES];
    crypto_address_format(addr, f.addr[K_STRANGER]);
    snprintf(want, sizeof want, "centre party (%s) is not named by program general", addr);
    if (strstr(f.out.reason, want) == NULL) fprintf(stderr, "  reason: %s\n", f.out.reason);
    CHECK(strstr(f.out.reason, want) != NULL);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE2, 100), SLQ_OK);
    CHECK_ERR(fx_issue(&f, id, K_H1, P_OUTSIDE, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE2, 1000), SLQ_CENTRE_NOT_NAMED);
    CHECK(strstr(f.out.reason, "is not named by program outside") != NULL);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 1000), SLQ_OK);
    fx_deinit(&f);
}

/* Moves voucher `id` to `holder` behind the ledger's back, as a ledger bug would. */
static void plant_holder(fx *f, const uint8_t id[32], int holder) {
    Slq__Voucher *v = voucher_row(f, id);
    ProtobufCBinaryData own = v->holder; /* the row's bytes: freed with it below */
    v->holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, f->addr[holder]};
    uint8_t buf[512];
    SLQ_ASSERT(slq__voucher__get_packed_size(v) <= sizeof buf);
    size_t n = slq__voucher__pack(v, buf);
    slq_key k = slq_key_bytes(SLQ_KEY_VOUCHER, id, 32);
    SLQ_ASSERT(ledger_state_put(f->st, k.bytes, k.len, buf, n) == SLQ_OK);
    v->holder = own;
    slq__voucher__free_unpacked(v, NULL);
}

/* A centre the voucher's program does not name cannot redeem it either: a voucher of
 * `outside` that came to centre-2 (only through a bug: payment refuses it) stays unclaimed. */
static void test_redeem_by_a_centre_the_program_does_not_name_is_refused(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], paid[2][32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_OUTSIDE, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 1000), SLQ_OK);
    memcpy(paid[0], f.out.vouchers[0], 32);
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 500, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE2, 500), SLQ_OK);
    memcpy(paid[1], f.out.vouchers[0], 32);
    plant_holder(&f, paid[0], K_CENTRE2);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) paid, 2, "SC-n"),
              SLQ_CENTRE_NOT_NAMED);
    CHECK(strstr(f.out.reason, "centre centre-2 (") != NULL);
    CHECK(strstr(f.out.reason, "is not named by program outside") != NULL);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) paid + 1, 1, "SC-n"), SLQ_OK);
    plant_holder(&f, paid[0], K_CENTRE1);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, "SC-m"), SLQ_OK);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ redeem, settle */

/* Issues `amount` to H1 and pays it all to centre; *paid is the centre's voucher. */
static void pay_centre(fx *f, int centre, int64_t amount, uint8_t paid[32]) {
    uint8_t id[32];
    SLQ_ASSERT(fx_issue(f, id, K_H1, P_GENERAL, amount, 0, NULL, 0) == SLQ_OK);
    SLQ_ASSERT(fx_transfer(f, K_H1, id, centre, amount) == SLQ_OK);
    memcpy(paid, f->out.vouchers[0], 32);
}

static void test_redeem_burns_vouchers_into_one_claim(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t ids[2][32];
    pay_centre(&f, K_CENTRE1, 700, ids[0]);
    pay_centre(&f, K_CENTRE1, 300, ids[1]);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 2, "SC-2024-17"), SLQ_OK);
    CHECK(f.out.has_claim);
    uint8_t claim[32];
    memcpy(claim, f.out.claim, 32);
    Slq__Voucher *v = voucher_row(&f, ids[0]);
    CHECK_EQ_INT(v->state, SLQ__VOUCHER_STATE__VOUCHER_REDEEMED);
    CHECK_MEM(v->claim_id.data, claim, 32);
    slq__voucher__free_unpacked(v, NULL);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.redeemed_fen, 1000);
    CHECK_EQ_INT(t.settled_fen, 0);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 1, "SC-2024-18"),
              SLQ_VOUCHER_REDEEMED);
    CHECK_ERR(fx_review(&f, K_FINANCE, claim, true, "invoice checked"), SLQ_OK);
    CHECK_ERR(fx_settle(&f, K_FINANCE, claim, "PAY-1"), SLQ_OK);
    CHECK_EQ_INT(fx_year(&f, 2024).settled_fen, 1000);
    CHECK_ERR(fx_settle(&f, K_FINANCE, claim, "PAY-2"), SLQ_CLAIM_SETTLED);
    fx_deinit(&f);
}

static void test_a_contract_reference_is_claimed_only_once(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], b[32];
    pay_centre(&f, K_CENTRE1, 100, a);
    pay_centre(&f, K_CENTRE2, 100, b);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) a, 1, "SC-1"), SLQ_OK);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, "SC-1"), SLQ_CONTRACT_REF_USED);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, "SC-2"), SLQ_OK);
    fx_deinit(&f);
}

/* The key is the normalized form: another case, spaces or full-width forms name the same
 * contract. What is left of nothing but whitespace names none. */
static void test_a_contract_reference_is_one_whatever_its_spelling(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], b[32];
    pay_centre(&f, K_CENTRE1, 100, a);
    pay_centre(&f, K_CENTRE2, 100, b);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) a, 1, "SC-2026-001"), SLQ_OK);
    uint8_t claim[32];
    memcpy(claim, f.out.claim, 32);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, "sc-2026-001"),
              SLQ_CONTRACT_REF_USED);
    CHECK(strstr(f.out.reason, "\"sc-2026-001\", normalized \"sc-2026-001\"") != NULL);
    /* ＳＣ－２０２６－００１ */
    const char *wide = "\xef\xbc\xb3\xef\xbc\xa3\xef\xbc\x8d\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92"
                       "\xef\xbc\x96\xef\xbc\x8d\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91";
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, wide), SLQ_CONTRACT_REF_USED);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, " SC-2026\xe3\x80\x80-001 "),
              SLQ_CONTRACT_REF_USED);
    /* Only whitespace: refused, and not with the text's own length limit or UTF-8 check. */
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, " \xe3\x80\x80 "),
              SLQ_CONTRACT_REF_INVALID);
    CHECK(strstr(f.out.reason, "of its 5 bytes once whitespace is removed") != NULL);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, " "), SLQ_CONTRACT_REF_INVALID);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, "SC-\xe5\x90"),
              SLQ_FIELD_INVALID);
    /* The claim keeps the text as given; another reference (合同-1) goes through. */
    slq_key k = slq_key_bytes(SLQ_KEY_CLAIM, claim, 32);
    const uint8_t *row;
    size_t n;
    CHECK_ERR(ledger_state_get(f.st, k.bytes, k.len, &row, &n), SLQ_OK);
    Slq__Claim *c = slq__claim__unpack(NULL, n, row);
    CHECK(c != NULL && strcmp(c->contract_ref, "SC-2026-001") == 0);
    slq__claim__free_unpacked(c, NULL);
    CHECK_ERR(fx_redeem(&f, K_CENTRE2, (const uint8_t(*)[32]) b, 1, "\xe5\x90\x88\xe5\x90\x8c-1"),
              SLQ_OK);
    fx_deinit(&f);
}

static void test_redeem_refuses_bad_lists_and_other_holders(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t ids[66][32], held[32];
    pay_centre(&f, K_CENTRE1, 100, ids[0]);
    memcpy(ids[1], ids[0], 32);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 2, "SC-x"),
              SLQ_VOUCHER_LISTED_TWICE);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 0, "SC-x"), SLQ_FIELD_INVALID);
    for (int i = 0; i < 66; i++) memset(ids[i], i + 1, 32);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 65, "SC-x"),
              SLQ_TOO_MANY_VOUCHERS);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 64, "SC-x"),
              SLQ_VOUCHER_UNKNOWN);
    CHECK_ERR(fx_issue(&f, held, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) held, 1, "SC-x"), SLQ_NOT_HOLDER);
    CHECK_ERR(fx_redeem(&f, K_H1, (const uint8_t(*)[32]) held, 1, "SC-x"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) held, 1, ""), SLQ_FIELD_INVALID);
    fx_deinit(&f);
}

static void test_settle_needs_finance_and_a_known_claim(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t paid[32], none[32] = {9};
    pay_centre(&f, K_CENTRE1, 100, paid);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, "SC-9"), SLQ_OK);
    uint8_t claim[32];
    memcpy(claim, f.out.claim, 32);
    CHECK_ERR(fx_settle(&f, K_ISSUER, claim, "PAY"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_settle(&f, K_FINANCE, none, "PAY"), SLQ_CLAIM_UNKNOWN);
    CHECK_ERR(fx_settle(&f, K_FINANCE, claim, ""), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_review(&f, K_FINANCE, claim, true, "ok"), SLQ_OK);
    CHECK_ERR(fx_settle(&f, K_FINANCE, claim, "PAY"), SLQ_OK);
    fx_deinit(&f);
}

/* Redeems `amount` of `general` at centre-1 under contract ref; *claim is its id. */
static void open_claim(fx *f, int64_t amount, const char *ref, uint8_t claim[32]) {
    uint8_t paid[32];
    pay_centre(f, K_CENTRE1, amount, paid);
    SLQ_ASSERT(fx_redeem(f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, ref) == SLQ_OK);
    memcpy(claim, f->out.claim, 32);
}

/* A claim is paid only once finance or the regulator approved it; a review is once, with a
 * reason, and by nobody else. */
static void test_settle_needs_an_approved_claim(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], b[32], none[32] = {9};
    open_claim(&f, 100, "SC-a", a);
    open_claim(&f, 200, "SC-b", b);
    CHECK_ERR(fx_settle(&f, K_FINANCE, a, "PAY"), SLQ_CLAIM_NOT_APPROVED);
    CHECK(strstr(f.out.reason, "unreviewed") != NULL);
    CHECK_ERR(fx_review(&f, K_H1, a, true, "ok"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_review(&f, K_ISSUER, a, true, "ok"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_review(&f, K_CENTRE1, a, true, "ok"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, true, ""), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_review(&f, K_FINANCE, none, true, "ok"), SLQ_CLAIM_UNKNOWN);
    CHECK_ERR(fx_review(&f, K_REGULATOR, a, true, "delivery verified"), SLQ_OK);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, false, "again"), SLQ_CLAIM_REVIEWED);
    CHECK_ERR(fx_review(&f, K_FINANCE, b, false, "no delivery proof"), SLQ_OK);
    CHECK_ERR(fx_review(&f, K_REGULATOR, b, true, "again"), SLQ_CLAIM_REVIEWED);
    CHECK_ERR(fx_settle(&f, K_FINANCE, b, "PAY-b"), SLQ_CLAIM_NOT_APPROVED);
    CHECK(strstr(f.out.reason, "rejected") != NULL);
    Slq__Claim *c = fx_claim(&f, a);
    CHECK(c != NULL && c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_APPROVED &&
          strcmp(c->review_reason, "delivery verified") == 0 && c->reviewer.len == 20 &&
          memcmp(c->reviewer.data, f.addr[K_REGULATOR], 20) == 0 && c->reviewed_height > 0);
    slq__claim__free_unpacked(c, NULL);
    CHECK_ERR(fx_settle(&f, K_FINANCE, a, "PAY-a"), SLQ_OK);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, false, "too late"), SLQ_CLAIM_SETTLED);
    fx_deinit(&f);
}

/* The amount paid: 0 < amount <= the claim's (0: the claim's); the payer one the policy lists. */
static void test_settle_pays_at_most_the_claim_by_a_listed_payer(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], b[32];
    open_claim(&f, 1000, "SC-a", a);
    open_claim(&f, 500, "SC-b", b);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, true, "ok"), SLQ_OK);
    CHECK_ERR(fx_review(&f, K_FINANCE, b, true, "ok"), SLQ_OK);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 1001, FX_PAYER_CITY),
              SLQ_AMOUNT_EXCEEDS_CLAIM);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", -1, FX_PAYER_CITY),
              SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 1000, "锦江区"), SLQ_PAYER_UNKNOWN);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 1000, "City"), SLQ_PAYER_UNKNOWN);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 1000, ""), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 1000, FX_PAYER_DISTRICT), SLQ_OK);
    Slq__Claim *c = fx_claim(&f, a);
    CHECK(c != NULL && c->settled && c->paid_fen == 1000 && strcmp(c->payer, "高新区") == 0);
    slq__claim__free_unpacked(c, NULL);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, b, "PAY-b", 0, FX_PAYER_CITY), SLQ_OK);
    c = fx_claim(&f, b);
    CHECK(c != NULL && c->paid_fen == 500 && strcmp(c->payer, "city") == 0);
    slq__claim__free_unpacked(c, NULL);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.settled_fen, 1500);
    CHECK_EQ_INT(t.clawed_back_fen, 0);
    fx_deinit(&f);
}

/* A partial payment is recorded as paid; the claim is settled at its full amount. */
static void test_settle_may_pay_less_than_the_claim(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32];
    open_claim(&f, 1000, "SC-a", a);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, true, "ok"), SLQ_OK);
    CHECK_ERR(fx_settle_pay(&f, K_FINANCE, a, "PAY", 999, FX_PAYER_CITY), SLQ_OK);
    Slq__Claim *c = fx_claim(&f, a);
    CHECK(c != NULL && c->settled && c->paid_fen == 999 && c->amount_fen == 1000);
    slq__claim__free_unpacked(c, NULL);
    CHECK_EQ_INT(fx_year(&f, 2024).settled_fen, 1000);
    fx_deinit(&f);
}

/* A rejection returns the claim's amount to its year's pool: an issue that the city cap refused
 * before fits after it, exactly to the cap. */
static void test_a_rejected_claim_returns_its_amount_to_the_pool(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t a[32], fill[32];
    open_claim(&f, 1000, "SC-a", a);
    CHECK_ERR(fx_issue(&f, fill, K_H2, P_GENERAL, FX_CITY_CAP - 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_review(&f, K_FINANCE, a, true, "ok"), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    fx_deinit(&f);
    fx_init(&f);
    setup_holders(&f);
    open_claim(&f, 1000, "SC-a", a);
    CHECK_ERR(fx_issue(&f, fill, K_H2, P_GENERAL, FX_CITY_CAP - 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_review(&f, K_REGULATOR, a, false, "no delivery"), SLQ_OK);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.clawed_back_fen, 1000);
    CHECK_EQ_INT(t.redeemed_fen, 1000);
    CHECK_EQ_INT(t.cap_used_fen, FX_CITY_CAP - 1000);
    CHECK_EQ_INT(t.rejected_count, 1);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1001, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    Slq__Claim *c = fx_claim(&f, a);
    CHECK(c != NULL && c->review == SLQ__CLAIM_REVIEW__CLAIM_REVIEW_REJECTED && !c->settled);
    slq__claim__free_unpacked(c, NULL);
    fx_deinit(&f);
}

/* A program's own pool gets the rejected part back too (the program row), and a program
 * outside the city cap never touches the city row's cap_used. */
static void test_a_rejection_returns_each_part_to_its_own_pool(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t s[32], o[32], ids[2][32];
    CHECK_ERR(fx_issue(&f, s, K_H1, P_SHARED, FX_SHARED_CAP, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, s, K_CENTRE1, FX_SHARED_CAP), SLQ_OK);
    memcpy(ids[0], f.out.vouchers[0], 32);
    CHECK_ERR(fx_issue(&f, o, K_H1, P_OUTSIDE, 700, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, o, K_CENTRE1, 700), SLQ_OK);
    memcpy(ids[1], f.out.vouchers[0], 32);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) ids, 2, "SC-two"), SLQ_OK);
    uint8_t claim[32];
    memcpy(claim, f.out.claim, 32);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, 1, 0, NULL, 0), SLQ_PROGRAM_CAP_EXCEEDED);
    int64_t city_before = fx_year(&f, 2024).cap_used_fen;
    CHECK_ERR(fx_review(&f, K_FINANCE, claim, false, "duplicate invoice"), SLQ_OK);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.clawed_back_fen, FX_SHARED_CAP + 700);
    CHECK_EQ_INT(t.cap_used_fen, city_before - FX_SHARED_CAP);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, FX_SHARED_CAP + 1, 0, NULL, 0),
              SLQ_PROGRAM_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_SHARED, FX_SHARED_CAP, 0, NULL, 0), SLQ_OK);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ revoke */

static void test_revocation_returns_budget_to_the_pool_and_the_holder_quota(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], big[32];
    CHECK_ERR(fx_issue(&f, big, K_H1, P_NATIONAL, 300000000, 1000000000, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, id, K_H2, P_GENERAL, FX_CITY_CAP - 300000000, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_GENERAL, 1, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, big, "duplicate application"), SLQ_OK);
    Slq__YearTotals t = fx_year(&f, 2024);
    CHECK_EQ_INT(t.revoked_fen, 300000000);
    CHECK_EQ_INT(t.cap_used_fen, FX_CITY_CAP - 300000000);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 300000000, 1000000000, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, big, "again"), SLQ_VOUCHER_REVOKED);
    fx_deinit(&f);
}

static void test_revoke_refuses_redeemed_split_and_non_issuers(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], paid[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_revoke(&f, K_REGULATOR, id, "no"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, id, ""), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 100), SLQ_OK);
    memcpy(paid, f.out.vouchers[0], 32);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, id, "split"), SLQ_VOUCHER_SPLIT);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, "SC-r"), SLQ_OK);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, paid, "late"), SLQ_VOUCHER_REDEEMED);
    fx_deinit(&f);
}

/* A voucher a centre holds was paid for compute in good faith: the issuer can no longer take it
 * back. What holder-class parties hold (enterprise, university, intermediary, ...) it can. */
static void test_revoke_refuses_a_voucher_paid_to_a_centre(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32], paid[32], change[32], inter[32], passed[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 60), SLQ_OK);
    memcpy(paid, f.out.vouchers[0], 32);
    memcpy(change, f.out.vouchers[1], 32);
    Slq__YearTotals before = fx_year(&f, 2024);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, paid, "audit finding"), SLQ_VOUCHER_PAID);
    char centre[CRYPTO_ADDRESS_TEXT_BYTES], want[128];
    crypto_address_format(centre, f.addr[K_CENTRE1]);
    snprintf(want, sizeof want, "it can no longer be revoked: held by centre %s", centre);
    CHECK(strstr(f.out.reason, want) != NULL);
    Slq__Voucher *v = voucher_row(&f, paid);
    CHECK_EQ_INT(v->state, SLQ__VOUCHER_STATE__VOUCHER_ACTIVE);
    CHECK_EQ_INT(v->remaining_fen, 60);
    slq__voucher__free_unpacked(v, NULL);
    CHECK_EQ_INT(fx_year(&f, 2024).revoked_fen, before.revoked_fen);
    /* The centre can still redeem it; the holder's change can still be revoked. */
    CHECK_ERR(fx_revoke(&f, K_ISSUER, change, "audit finding"), SLQ_OK);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) paid, 1, "SC-paid"), SLQ_OK);
    /* An intermediary is a holder-class party, and so is the holder it passes a voucher to. */
    CHECK_ERR(fx_issue(&f, inter, K_INTER, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_INTER, inter, K_H2, 40), SLQ_OK);
    memcpy(passed, f.out.vouchers[0], 32);
    memcpy(inter, f.out.vouchers[1], 32); /* the intermediary's change */
    CHECK_ERR(fx_revoke(&f, K_ISSUER, passed, "audit finding"), SLQ_OK);
    CHECK_ERR(fx_revoke(&f, K_ISSUER, inter, "audit finding"), SLQ_OK);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ decoding */

static void test_decode_refuses_tampered_oversized_and_malformed_bytes(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 100, 0, NULL, 0), SLQ_OK);
    ledger_tx tx;
    uint8_t buf[SLQ_TX_BYTES_MAX + 16];
    size_t n = f.last_len;
    memcpy(buf, f.last_bytes, n);
    buf[n - 1] ^= 1; /* last byte of the signature */
    CHECK_ERR(ledger_tx_decode(&tx, f.l, buf, n), SLQ_SIG_INVALID);
    buf[n - 1] ^= 1;
    buf[10] ^= 0x40; /* inside the body */
    slq_err e = ledger_tx_decode(&tx, f.l, buf, n);
    CHECK(e == SLQ_SIG_INVALID || e == SLQ_TX_MALFORMED || e == SLQ_TX_NOT_CANONICAL);
    buf[10] ^= 0x40;
    buf[n] = 0x20; /* an unknown field 4 appended: varint 0 */
    buf[n + 1] = 0x00;
    CHECK_ERR(ledger_tx_decode(&tx, f.l, buf, n + 2), SLQ_TX_NOT_CANONICAL);
    CHECK_ERR(ledger_tx_decode(&tx, f.l, (const uint8_t *) "\xff\xff\xff", 3), SLQ_TX_MALFORMED);
    memset(buf, 0, sizeof buf);
    CHECK_ERR(ledger_tx_decode(&tx, f.l, buf, SLQ_TX_BYTES_MAX + 1), SLQ_TX_TOO_LARGE);
    CHECK_ERR(ledger_tx_decode(&tx, f.l, buf, 0), SLQ_PUBKEY_INVALID);
    fx_deinit(&f);
}

static void test_decode_verified_skips_only_the_signature_check(void) {
    fx f;
    fx_init(&f);
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), SLQ_OK);
    ledger_tx tx;
    f.last_bytes[f.last_len - 1] ^= 1; /* a signature that no longer verifies */
    CHECK_ERR(ledger_tx_decode(&tx, f.l, f.last_bytes, f.last_len), SLQ_SIG_INVALID);
    CHECK_ERR(ledger_tx_decode_verified(&tx, f.l, f.last_bytes, f.last_len), SLQ_OK);
    ledger_tx_free(&tx);
    CHECK_ERR(ledger_tx_decode_verified(&tx, f.l, (const uint8_t *) "\xff\xff", 2),
              SLQ_TX_MALFORMED);
    fx_deinit(&f);
}

static void test_kind_must_match_payload(void) {
    fx f;
    fx_init(&f);
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Revoke r = SLQ__REVOKE__INIT;
    uint8_t id[32] = {0};
    b.kind = SLQ__TX_KIND__TX_ISSUE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_REVOKE;
    b.revoke = &r;
    r.voucher_id = (ProtobufCBinaryData){32, id};
    r.reason = "x";
    fx_sign(&f, K_ISSUER, &b, 1);
    CHECK_ERR(fx_apply_last(&f, -1), SLQ_TX_KIND_MISMATCH);
    fx_deinit(&f);
}

static void test_a_signature_for_another_chain_does_not_verify(void) {
    fx f, g;
    fx_init(&f);
    fx_init(&g);
    /* g's chain has the same id but other keys: a tx of f's issuer is unknown there... */
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), SLQ_OK);
    ledger_tx tx;
    CHECK_ERR(ledger_tx_decode(&tx, g.l, f.last_bytes, f.last_len), SLQ_OK);
    ledger_tx_free(&tx);
    /* ...and a tx re-labelled with a different chain id fails its signature. */
    Slq__Genesis *gen = (Slq__Genesis *) ledger_genesis(g.l);
    char *saved = gen->chain_id;
    gen->chain_id = "slq-other";
    CHECK_ERR(ledger_tx_decode(&tx, g.l, f.last_bytes, f.last_len), SLQ_SIG_INVALID);
    gen->chain_id = saved;
    fx_deinit(&f);
    fx_deinit(&g);
}

static void test_rejected_transactions_change_nothing(void) {
    fx f;
    fx_init(&f);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    uint8_t before[32], after[32];
    state_digest(&f, before);
    /* Each of these fails after the ledger has written some rows. */
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, FX_CITY_CAP, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 300000001, 1100000000, NULL, 0),
              SLQ_HOLDER_CAP_EXCEEDED);
    uint8_t two[2][32];
    memcpy(two[0], id, 32);
    memset(two[1], 7, 32);
    CHECK_ERR(fx_redeem(&f, K_CENTRE1, (const uint8_t(*)[32]) two, 2, "SC-n"), SLQ_NOT_HOLDER);
    state_digest(&f, after);
    CHECK_MEM(before, after, 32);
    fx_deinit(&f);
}

static void test_replaying_the_same_transactions_gives_the_same_app_hash(void) {
    fx f;
    fx_init(&f);
    uint8_t *log[8];
    size_t lens[8], n = 0;
    CHECK_ERR(fx_register(&f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, ""), SLQ_OK);
    log[n] = malloc(f.last_len), memcpy(log[n], f.last_bytes, f.last_len), lens[n++] = f.last_len;
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    log[n] = malloc(f.last_len), memcpy(log[n], f.last_bytes, f.last_len), lens[n++] = f.last_len;
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 10), SLQ_OK);
    log[n] = malloc(f.last_len), memcpy(log[n], f.last_bytes, f.last_len), lens[n++] = f.last_len;
    uint8_t h1[32], h2[32];
    state_digest(&f, h1);
    ledger_state *st;
    CHECK_ERR(ledger_state_create(&st, NULL), SLQ_OK);
    CHECK_ERR(ledger_genesis_state(f.l, st), SLQ_OK);
    for (size_t i = 0; i < n; i++) {
        ledger_tx tx;
        ledger_outcome out;
        CHECK_ERR(ledger_tx_decode(&tx, f.l, log[i], lens[i]), SLQ_OK);
        ledger_block_ctx ctx = {.height = 1, .time_ms = f.time_ms, .index = (uint32_t) i};
        CHECK_ERR(ledger_apply(f.l, st, &ctx, &tx, &out), SLQ_OK);
        ledger_tx_free(&tx);
        free(log[i]);
    }
    ledger_state *keep = f.st;
    f.st = st;
    state_digest(&f, h2);
    f.st = keep;
    CHECK_MEM(h1, h2, 32);
    ledger_state_destroy(st);
    fx_deinit(&f);
}

static void test_sm2_suite_runs_the_same_rules(void) {
    fx f;
    fx_init_suite(&f, CRYPTO_SUITE_SM2_SM3);
    setup_holders(&f);
    uint8_t id[32];
    CHECK_ERR(fx_issue(&f, id, K_H1, P_GENERAL, 500, 0, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_transfer(&f, K_H1, id, K_CENTRE1, 500), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, FX_CITY_CAP, 0, NULL, 0), SLQ_CITY_CAP_EXCEEDED);
    fx_deinit(&f);
}

/* ------------------------------------------------------------------ genesis */

static void test_genesis_rejects_garbage_and_bad_policies(void) {
    ledger *l = NULL;
    char why[128];
    CHECK_ERR(ledger_create(&l, (const uint8_t *) "\xff\x01", 2, why, sizeof why),
              SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "do not decode") != NULL);
    fx f;
    fx_init(&f);
    uint8_t *g;
    size_t len;
    fx_genesis_bytes(&f, &g, &len);
    Slq__Genesis *gen = slq__genesis__unpack(NULL, len, g);
    gen->policy->valid_until_ms = gen->policy->valid_from_ms;
    uint8_t buf[8192];
    size_t n = slq__genesis__pack(gen, buf);
    CHECK_ERR(ledger_create(&l, buf, n, why, sizeof why), SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "window") != NULL);
    gen->policy->valid_until_ms = gen->policy->valid_from_ms + 1;
    gen->policy->programs[1]->max_share_bp = 10001;
    n = slq__genesis__pack(gen, buf);
    CHECK_ERR(ledger_create(&l, buf, n, why, sizeof why), SLQ_GENESIS_INVALID);
    gen->policy->programs[1]->max_share_bp = 3000;
    char *saved = gen->suite;
    gen->suite = "rsa";
    n = slq__genesis__pack(gen, buf);
    CHECK_ERR(ledger_create(&l, buf, n, why, sizeof why), SLQ_GENESIS_INVALID);
    gen->suite = saved;
    saved = gen->chain_id;
    gen->chain_id = "Bad Chain";
    n = slq__genesis__pack(gen, buf);
    CHECK_ERR(ledger_create(&l, buf, n, why, sizeof why), SLQ_GENESIS_INVALID);
    gen->chain_id = saved;
    n = slq__genesis__pack(gen, buf);
    CHECK_ERR(ledger_create(&l, buf, n, why, sizeof why), SLQ_OK);
    ledger_destroy(l);
    slq__genesis__free_unpacked(gen, NULL);
    free(g);
    fx_deinit(&f);
}

TEST_MAIN(
    "ledger", TEST(test_state_changes_come_out_in_key_order),
    TEST(test_register_creates_an_account_once),
    TEST(test_register_rejects_bad_roles_signers_and_names),
    TEST(test_register_of_a_holder_class_party_requires_a_credit_code_hash),
    TEST(test_a_credit_code_registers_one_account_and_names_it_to_the_second),
    TEST(test_credit_codes_of_other_roles_are_neither_required_nor_indexed),
    TEST(test_nonce_must_be_last_plus_one), TEST(test_unregistered_signer_is_refused),
    TEST(test_resubmitting_the_same_bytes_is_a_duplicate_and_changes_nothing),
    TEST(test_issue_creates_a_voucher_expiring_at_the_end_of_its_cst_year),
    TEST(test_city_cap_holds_exactly_at_the_cap_and_refuses_one_fen_over),
    TEST(test_budget_year_turns_at_midnight_cst), TEST(test_program_pool_cap_is_enforced_per_year),
    TEST(test_program_outside_the_city_cap_does_not_count_toward_it),
    TEST(test_holder_yearly_cap_per_program),
    TEST(test_quota_follows_the_voucher_from_an_intermediary_to_the_holder),
    TEST(test_share_of_cost_is_floor_rounded_basis_points),
    TEST(test_application_reference_is_used_once), TEST(test_issue_only_inside_the_policy_window),
    TEST(test_issue_checks_recipient_program_amount_and_signer),
    TEST(test_issue_expiry_explicit_default_and_program),
    TEST(test_partial_transfer_splits_into_linked_parts), TEST(test_full_transfer_creates_one_part),
    TEST(test_transfer_needs_the_holder_and_a_live_voucher),
    TEST(test_voucher_expires_at_its_expiry_instant),
    TEST(test_a_centre_redeems_during_the_grace_and_not_after),
    TEST(test_a_voucher_paid_at_2359_on_dec_31_is_redeemed_at_0000),
    TEST(test_grace_end_is_overflow_checked), TEST(test_transfer_edges_follow_the_program),
    TEST(test_payment_to_a_related_centre_is_refused),
    TEST(test_payment_to_a_centre_the_program_does_not_name_is_refused),
    TEST(test_redeem_by_a_centre_the_program_does_not_name_is_refused),
    TEST(test_redeem_burns_vouchers_into_one_claim),
    TEST(test_a_contract_reference_is_claimed_only_once),
    TEST(test_a_contract_reference_is_one_whatever_its_spelling),
    TEST(test_redeem_refuses_bad_lists_and_other_holders),
    TEST(test_settle_needs_finance_and_a_known_claim), TEST(test_settle_needs_an_approved_claim),
    TEST(test_settle_pays_at_most_the_claim_by_a_listed_payer),
    TEST(test_settle_may_pay_less_than_the_claim),
    TEST(test_a_rejected_claim_returns_its_amount_to_the_pool),
    TEST(test_a_rejection_returns_each_part_to_its_own_pool),
    TEST(test_revocation_returns_budget_to_the_pool_and_the_holder_quota),
    TEST(test_revoke_refuses_redeemed_split_and_non_issuers),
    TEST(test_revoke_refuses_a_voucher_paid_to_a_centre),
    TEST(test_decode_refuses_tampered_oversized_and_malformed_bytes),
    TEST(test_kind_must_match_payload), TEST(test_decode_verified_skips_only_the_signature_check),
    TEST(test_a_signature_for_another_chain_does_not_verify),
    TEST(test_rejected_transactions_change_nothing),
    TEST(test_replaying_the_same_transactions_gives_the_same_app_hash),
    TEST(test_sm2_suite_runs_the_same_rules), TEST(test_genesis_rejects_garbage_and_bad_policies))
