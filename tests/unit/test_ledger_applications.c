/* test_ledger_applications.c: applications (申领 → 审核 → 发放), one behaviour per test, each at
 * its boundaries: who may apply, the share of a contract's cost counted across every issue
 * against it, issue and rejection only of an open application, and the programs that issue
 * only against applications. */
#include <stdio.h>

#include "check.h"
#include "ledger_fixture.h"

/* 1,000,000.00 yuan, the issue's contract. */
#define COST   100000000LL
#define SHARE  (COST * FX_SHARE_BP / 10000) /* 300,000.00 yuan: 30% */
#define ALL_UP ((1u << P_NATIONAL) | (1u << P_PROVINCIAL))

static void setup(fx *f, uint32_t apps_required) {
    fx_init_apps(f, CRYPTO_SUITE_ED25519_SHA256, apps_required);
    SLQ_ASSERT(fx_register(f, K_H1, SLQ__ROLE__ROLE_ENTERPRISE, "") == SLQ_OK);
    SLQ_ASSERT(fx_register(f, K_H2, SLQ__ROLE__ROLE_UNIVERSITY, "") == SLQ_OK);
}

/* The contract's row: its cumulative figures. */
static Slq__ContractShare *contract_row(fx *f, const char *ref) {
    uint8_t h[32];
    char form[LEDGER_CONTRACT_REF_FORM_BYTES];
    SLQ_ASSERT(ledger_contract_ref_hash(f->suite, h, form, ref) == SLQ_OK);
    slq_key k = slq_key_bytes(SLQ_KEY_CONTRACT, h, 32);
    const uint8_t *v;
    size_t n;
    if (ledger_state_get(f->st, k.bytes, k.len, &v, &n) != SLQ_OK) return NULL;
    return slq__contract_share__unpack(NULL, n, v);
}

static void test_apply_opens_an_application_with_a_derived_id(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32], want[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "SC-1", COST, app), SLQ_OK);
    ledger_application_id(f.suite, want, f.last_tx);
    CHECK_MEM(app, want, 32);
    Slq__Application *a = fx_application(&f, app);
    CHECK(a != NULL);
    if (a != NULL) {
        CHECK(a->status == SLQ__APPLICATION_STATUS__APPLICATION_OPEN);
        CHECK_MEM(a->applicant.data, f.addr[K_H1], 20);
        CHECK(a->program == P_NATIONAL && a->asked_fen == SHARE && a->cost_fen == COST);
        CHECK(strcmp(a->contract_ref, "SC-1") == 0 && a->contract_key.len == 32);
        CHECK(a->applied_height == f.height && a->closed_height == 0);
    }
    slq__application__free_unpacked(a, NULL);
    fx_deinit(&f);
}

/* The issue's attack: two issues of 300,000 against one contract of 1,000,000 with a 30%
 * share. The share counts everything issued against the contract: exactly at 30% is accepted,
 * one fen more is SHARE_EXCEEDED, with the figures. */
static void test_share_is_cumulative_per_contract(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t a1[32], a2[32], a3[32], v[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "SC-1", COST, a1), SLQ_OK);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "sc-1", COST, a2), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, a1, SHARE - 100, v), SLQ_OK);
    Slq__Voucher *vr = fx_voucher(&f, v);
    CHECK(vr != NULL && memcmp(vr->holder.data, f.addr[K_H1], 20) == 0);
    CHECK(vr != NULL && vr->program == P_NATIONAL && vr->original_fen == SHARE - 100);
    slq__voucher__free_unpacked(vr, NULL);
    /* the second application of the same contract: 101 fen is one over the 30% */
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, a2, 101, NULL), SLQ_SHARE_EXCEEDED);
    CHECK(strstr(f.out.reason, "\"SC-1\": 29999900 fen issued + 101 fen > 3000 bp of "
                               "100000000 fen = 30000000 fen") != NULL);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, a2, 100, NULL), SLQ_OK); /* exactly at 30% */
    Slq__ContractShare *c = contract_row(&f, "SC-1");
    CHECK(c != NULL && c->issued_fen == SHARE && c->asked_fen == 2 * SHARE);
    CHECK(c != NULL && c->applications == 2 && c->cost_fen == COST);
    slq__contract_share__free_unpacked(c, NULL);
    /* a third application may still be made, but nothing more is issued on that contract */
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1, " SC-1 ", COST, a3), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, a3, 1, NULL), SLQ_SHARE_EXCEEDED);
    /* another contract has its own share */
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "SC-2", COST, a3), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, a3, SHARE, NULL), SLQ_OK);
    fx_deinit(&f);
}

static void test_issue_is_at_most_the_amount_asked(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, app), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, 1001, NULL), SLQ_APPLICATION_MISMATCH);
    CHECK(strstr(f.out.reason, "1001 fen > 1000 fen asked") != NULL);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, -1, NULL), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, 999, NULL), SLQ_OK); /* less is granted */
    Slq__Application *a = fx_application(&f, app);
    CHECK(a != NULL && a->status == SLQ__APPLICATION_STATUS__APPLICATION_ISSUED);
    CHECK(a != NULL && a->issued_fen == 999 && a->voucher_id.len == 32);
    slq__application__free_unpacked(a, NULL);
    fx_deinit(&f);
}

/* An issue that names no amount grants the amount asked. */
static void test_issue_without_an_amount_grants_the_amount_asked(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32], v[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1234, "SC-1", COST, app), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, 0, v), SLQ_OK);
    Slq__Voucher *vr = fx_voucher(&f, v);
    CHECK(vr != NULL && vr->original_fen == 1234);
    slq__voucher__free_unpacked(vr, NULL);
    fx_deinit(&f);
}

static void test_only_an_open_application_is_issued_or_rejected(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t issued[32], rejected[32], unknown[32] = {7};
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, issued), SLQ_OK);
    CHECK_ERR(fx_apply(&f, K_H2, P_PROVINCIAL, 1000, "SC-2", COST, rejected), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, issued, 1000, NULL), SLQ_OK);
    CHECK_ERR(fx_reject_app(&f, K_ISSUER, rejected, ""), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_reject_app(&f, K_FINANCE, rejected, "no"), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_reject_app(&f, K_ISSUER, rejected, "contract is not for compute"), SLQ_OK);
    Slq__Application *a = fx_application(&f, rejected);
    CHECK(a != NULL && a->status == SLQ__APPLICATION_STATUS__APPLICATION_REJECTED);
    CHECK(a != NULL && strcmp(a->reason, "contract is not for compute") == 0);
    slq__application__free_unpacked(a, NULL);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, issued, 1, NULL), SLQ_APPLICATION_CLOSED);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, rejected, 1, NULL), SLQ_APPLICATION_CLOSED);
    CHECK_ERR(fx_reject_app(&f, K_ISSUER, issued, "late"), SLQ_APPLICATION_CLOSED);
    CHECK_ERR(fx_reject_app(&f, K_ISSUER, rejected, "twice"), SLQ_APPLICATION_CLOSED);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, unknown, 1, NULL), SLQ_APPLICATION_UNKNOWN);
    CHECK_ERR(fx_reject_app(&f, K_ISSUER, unknown, "no"), SLQ_APPLICATION_UNKNOWN);
    fx_deinit(&f);
}

static void test_only_the_issuer_issues_against_an_application(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, app), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_FINANCE, app, 1000, NULL), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_issue_app(&f, K_H1, app, 1000, NULL), SLQ_ROLE_FORBIDDEN);
    fx_deinit(&f);
}

/* Holder, program and cost come from the application; an issue that states them otherwise is
 * refused. */
static void test_issue_may_not_contradict_its_application(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, app), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H2, P_NATIONAL, 1000, COST, NULL, 0), SLQ_APPLICATION_REQUIRED);
    Slq__TxBody b = SLQ__TX_BODY__INIT;
    Slq__Issue is = SLQ__ISSUE__INIT;
    b.kind = SLQ__TX_KIND__TX_ISSUE;
    b.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
    b.issue = &is;
    is.application_id = (ProtobufCBinaryData){32, app};
    is.amount_fen = 1000;
    is.holder = (ProtobufCBinaryData){20, f.addr[K_H2]};
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_APPLICATION_MISMATCH);
    is.holder = (ProtobufCBinaryData){20, f.addr[K_H1]};
    is.program = "provincial-major";
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_APPLICATION_MISMATCH);
    is.program = "national-major";
    is.cost_fen = COST + 1;
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_APPLICATION_MISMATCH);
    is.cost_fen = COST;
    CHECK_ERR(fx_send(&f, K_ISSUER, &b), SLQ_OK); /* all three stated, all three agree */
    fx_deinit(&f);
}

/* Applicants are holder-class parties; a centre, the finance bureau, the issuer or the
 * regulator may not apply. */
static void test_apply_only_by_holder_class_parties(void) {
    fx f;
    setup(&f, ALL_UP);
    CHECK_ERR(fx_apply(&f, K_CENTRE1, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_ROLE_FORBIDDEN);
    CHECK(strstr(f.out.reason, "ROLE_CENTRE") != NULL);
    CHECK_ERR(fx_apply(&f, K_ISSUER, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_apply(&f, K_FINANCE, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_apply(&f, K_REGULATOR, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_ROLE_FORBIDDEN);
    CHECK_ERR(fx_apply(&f, K_INTER, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_OK);
    CHECK_ERR(fx_apply(&f, K_H2, P_GENERAL, 1000, "SC-9", 0, NULL), SLQ_OK);
    fx_deinit(&f);
}

static void test_apply_checks_program_window_amount_cost_and_contract(void) {
    fx f;
    setup(&f, ALL_UP);
    CHECK_ERR(fx_apply(&f, K_H1, -1, 1000, "SC-1", COST, NULL), SLQ_PROGRAM_UNKNOWN);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 0, "SC-1", COST, NULL), SLQ_AMOUNT_MUST_BE_POSITIVE);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", 0, NULL), SLQ_COST_REQUIRED);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", -1, NULL), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "", COST, NULL), SLQ_FIELD_INVALID);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "  ", COST, NULL), SLQ_CONTRACT_REF_INVALID);
    int64_t now = f.time_ms;
    f.time_ms = fx_valid_until_ms();
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_POLICY_WINDOW_CLOSED);
    f.time_ms = fx_valid_until_ms() - 1;
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_OK);
    f.time_ms = now;
    fx_deinit(&f);
}

/* A contract is one purchase: every application naming it (in any spelling) repeats the cost,
 * the program and the applicant of the first one. */
static void test_a_contract_keeps_its_first_cost_program_and_applicant(void) {
    fx f;
    setup(&f, ALL_UP);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_OK);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "ＳＣ－１", 2 * COST, NULL),
              SLQ_APPLICATION_MISMATCH);
    CHECK(strstr(f.out.reason, "first declared 100000000 fen") != NULL);
    CHECK_ERR(fx_apply(&f, K_H1, P_PROVINCIAL, 1000, "sc-1", COST, NULL), SLQ_APPLICATION_MISMATCH);
    CHECK_ERR(fx_apply(&f, K_H2, P_NATIONAL, 1000, "SC-1", COST, NULL), SLQ_APPLICATION_MISMATCH);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, 1000, "sc-1", COST, NULL), SLQ_OK);
    fx_deinit(&f);
}

/* A program that requires applications refuses a direct issue; the others keep it. */
static void test_direct_issue_to_a_program_requiring_applications_is_refused(void) {
    fx f;
    setup(&f, 1u << P_NATIONAL);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_NATIONAL, 1000, COST, NULL, 0), SLQ_APPLICATION_REQUIRED);
    CHECK(strstr(f.out.reason, "national-major") != NULL);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_PROVINCIAL, 1000, COST, NULL, 0), SLQ_OK);
    CHECK_ERR(fx_issue(&f, NULL, K_H1, P_GENERAL, 1000, 0, NULL, 0), SLQ_OK);
    /* an application may still be made and issued in a program that does not require it */
    uint8_t app[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_GENERAL, 1000, "SC-1", 0, app), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, 1000, NULL), SLQ_OK);
    fx_deinit(&f);
}

/* The caps still hold for an issue against an application. */
static void test_issue_against_an_application_counts_against_the_caps(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32];
    int64_t cost = 2 * FX_PROVINCIAL_HOLDER_CAP * 10000 / FX_SHARE_BP;
    CHECK_ERR(fx_apply(&f, K_H1, P_PROVINCIAL, FX_PROVINCIAL_HOLDER_CAP + 1, "SC-1", cost, app),
              SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, FX_PROVINCIAL_HOLDER_CAP + 1, NULL),
              SLQ_HOLDER_CAP_EXCEEDED);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, FX_PROVINCIAL_HOLDER_CAP, NULL), SLQ_OK);
    fx_deinit(&f);
}

/* A refused issue against an application leaves it open and its contract unchanged. */
static void test_a_refused_issue_changes_neither_application_nor_contract(void) {
    fx f;
    setup(&f, ALL_UP);
    uint8_t app[32];
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "SC-1", COST, app), SLQ_OK);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, SHARE + 1, NULL), SLQ_APPLICATION_MISMATCH);
    Slq__Application *a = fx_application(&f, app);
    CHECK(a != NULL && a->status == SLQ__APPLICATION_STATUS__APPLICATION_OPEN);
    slq__application__free_unpacked(a, NULL);
    Slq__ContractShare *c = contract_row(&f, "SC-1");
    CHECK(c != NULL && c->issued_fen == 0);
    slq__contract_share__free_unpacked(c, NULL);
    CHECK_ERR(fx_issue_app(&f, K_ISSUER, app, SHARE, NULL), SLQ_OK);
    fx_deinit(&f);
}

/* An ask is bounded by what could ever be granted on it: the share of its cost, and the city's
 * annual cap (a year's asks are summed by the report, which one huge ask would overflow). */
static void test_an_ask_is_at_most_its_share_and_the_city_cap(void) {
    fx f;
    setup(&f, ALL_UP);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE + 1, "SC-1", COST, NULL), SLQ_SHARE_EXCEEDED);
    CHECK(strstr(f.out.reason, "asks") != NULL);
    CHECK_ERR(fx_apply(&f, K_H1, P_NATIONAL, SHARE, "SC-1", COST, NULL), SLQ_OK);
    CHECK_ERR(fx_apply(&f, K_H2, P_GENERAL, FX_CITY_CAP + 1, "SC-2", 0, NULL),
              SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_apply(&f, K_H2, P_GENERAL, INT64_MAX, "SC-2", 0, NULL), SLQ_CITY_CAP_EXCEEDED);
    CHECK_ERR(fx_apply(&f, K_H2, P_GENERAL, FX_CITY_CAP, "SC-2", 0, NULL), SLQ_OK);
    fx_deinit(&f);
}

TEST_MAIN("ledger_applications", TEST(test_an_ask_is_at_most_its_share_and_the_city_cap),
          TEST(test_apply_opens_an_application_with_a_derived_id),
          TEST(test_share_is_cumulative_per_contract), TEST(test_issue_is_at_most_the_amount_asked),
          TEST(test_issue_without_an_amount_grants_the_amount_asked),
          TEST(test_only_an_open_application_is_issued_or_rejected),
          TEST(test_only_the_issuer_issues_against_an_application),
          TEST(test_issue_may_not_contradict_its_application),
          TEST(test_apply_only_by_holder_class_parties),
          TEST(test_apply_checks_program_window_amount_cost_and_contract),
          TEST(test_a_contract_keeps_its_first_cost_program_and_applicant),
          TEST(test_direct_issue_to_a_program_requiring_applications_is_refused),
          TEST(test_issue_against_an_application_counts_against_the_caps),
          TEST(test_a_refused_issue_changes_neither_application_nor_contract))
