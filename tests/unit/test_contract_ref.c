/* test_contract_ref.c: the normalized form of a contract reference (ledger/contract_ref.h),
 * on a table of spellings, and the key hash that REDEEM uses. */
#include "check.h"
#include "ledger.h"

typedef struct {
    const char *ref;  /* as a person typed it */
    const char *form; /* its normalized form; NULL: SLQ_CONTRACT_REF_INVALID */
} ref_case;

static const ref_case cases[] = {
    {"sc-2026-001", "sc-2026-001"},
    {"SC-2026-001", "sc-2026-001"}, /* ASCII case */
    {"Sc-2026-001", "sc-2026-001"},
    {"  SC-2026-001  ", "sc-2026-001"},                     /* trimmed */
    {"SC 2026 001", "sc2026001"},                           /* inner spaces go too */
    {"\tSC-2026-\t001\r\n", "sc-2026-001"},                 /* tab, CR, LF */
    {"\vSC\f-2026-001", "sc-2026-001"},                     /* VT, FF */
    {"\xe3\x80\x80SC-2026-001\xe3\x80\x80", "sc-2026-001"}, /* U+3000 around */
    {"SC\xe3\x80\x80-2026-001", "sc-2026-001"},             /* and inside */
    /* ＳＣ－２０２６－００１: full-width letters, hyphen-minus and digits */
    {"\xef\xbc\xb3\xef\xbc\xa3\xef\xbc\x8d\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x96"
     "\xef\xbc\x8d\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91",
     "sc-2026-001"},
    /* ｓｃ (full-width lower case) and the edges of the block: ！ U+FF01 and ～ U+FF5E */
    {"\xef\xbd\x93\xef\xbd\x83\xef\xbc\x81\xef\xbd\x9e", "sc!~"},
    /* just outside it: U+FF00 (unassigned) and ｟ U+FF5F stay as they are */
    {"a\xef\xbc\x80\xef\xbd\x9f", "a\xef\xbc\x80\xef\xbd\x9f"},
    /* mixed: " Ｓc －2026\u3000-00１ " */
    {" \xef\xbc\xb3"
     "c \xef\xbc\x8d"
     "2026\xe3\x80\x80-00\xef\xbc\x91 ",
     "sc-2026-001"},
    /* 合同 (contract) and other non-ASCII text kept as is, around folded ASCII */
    {"\xe5\x90\x88\xe5\x90\x8c SC-1", "\xe5\x90\x88\xe5\x90\x8c"
                                      "sc-1"},
    {"\xc3\x89T\xc3\x89-1", "\xc3\x89t\xc3\x89-1"}, /* É is not ASCII: not folded */
    {"\xf0\x9f\x93\x84", "\xf0\x9f\x93\x84"},       /* a 4-byte character */
    {"\xc2\xa0x\xc2\xa0", "\xc2\xa0x\xc2\xa0"},     /* U+00A0 is not in the rule: kept */
    {"x", "x"},
    /* nothing left: refused */
    {"", NULL},
    {" ", NULL},
    {" \t\r\n\v\f ", NULL},
    {"\xe3\x80\x80", NULL},
    {" \xe3\x80\x80\t\xe3\x80\x80 ", NULL},
    /* not UTF-8: refused */
    {"SC-\xff", NULL},
    {"SC-\xe5\x90", NULL},      /* cut short */
    {"\xc0\xaf", NULL},         /* overlong '/' */
    {"\xe0\x80\xa0", NULL},     /* overlong space */
    {"\xed\xa0\x80", NULL},     /* a surrogate */
    {"\xf4\x90\x80\x80", NULL}, /* above U+10FFFF */
    {"\x80SC", NULL},           /* a continuation byte first */
};

static void test_contract_ref_forms_follow_the_rule_on_every_spelling(void) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_case *c = &cases[i];
        size_t len = strlen(c->ref), form_len = 99;
        char out[512];
        memset(out, 'z', sizeof out);
        slq_err err = ledger_contract_ref_normalize(out, len + 1, &form_len, c->ref, len);
        const char *want = c->form != NULL ? c->form : "";
        bool ok = err == (c->form != NULL ? SLQ_OK : SLQ_CONTRACT_REF_INVALID) &&
                  strcmp(out, want) == 0 && form_len == strlen(want);
        if (!ok) fprintf(stderr, "  case %zu: got %s \"%s\"\n", i, slq_err_name(err), out);
        CHECK(ok);
    }
}

/* The key hashes the form, so every spelling of one reference has one key. */
static void test_contract_ref_hash_is_the_hash_of_the_form(void) {
    for (int s = 0; s < 2; s++) {
        crypto_suite suite = s == 0 ? CRYPTO_SUITE_ED25519_SHA256 : CRYPTO_SUITE_SM2_SM3;
        uint8_t want[CRYPTO_HASH_BYTES], got[CRYPTO_HASH_BYTES];
        char form[LEDGER_CONTRACT_REF_FORM_BYTES];
        crypto_hash(suite, want, (const uint8_t *) "sc-2026-001", 11);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (cases[i].form == NULL || strcmp(cases[i].form, "sc-2026-001") != 0) continue;
            memset(got, 0, sizeof got);
            CHECK_ERR(ledger_contract_ref_hash(suite, got, form, cases[i].ref), SLQ_OK);
            CHECK_MEM(got, want, sizeof want);
            CHECK(strcmp(form, "sc-2026-001") == 0);
        }
        memset(got, 0x5a, sizeof got);
        CHECK_ERR(ledger_contract_ref_hash(suite, got, form, " \xe3\x80\x80 "),
                  SLQ_CONTRACT_REF_INVALID);
        CHECK(got[0] == 0x5a && form[0] == '\0');
    }
}

/* At the length limit the form still fits; one byte over is refused before normalizing. */
static void test_contract_ref_hash_takes_up_to_the_reference_limit(void) {
    char ref[SLQ_REF_BYTES_MAX + 2], form[LEDGER_CONTRACT_REF_FORM_BYTES];
    uint8_t h[CRYPTO_HASH_BYTES];
    memset(ref, 'A', sizeof ref - 1);
    ref[sizeof ref - 1] = '\0';
    CHECK_ERR(ledger_contract_ref_hash(CRYPTO_SUITE_ED25519_SHA256, h, form, ref),
              SLQ_NAME_TOO_LONG);
    ref[SLQ_REF_BYTES_MAX] = '\0';
    CHECK_ERR(ledger_contract_ref_hash(CRYPTO_SUITE_ED25519_SHA256, h, form, ref), SLQ_OK);
    CHECK_EQ_INT(strlen(form), SLQ_REF_BYTES_MAX);
    CHECK(form[0] == 'a' && form[SLQ_REF_BYTES_MAX - 1] == 'a');
}

TEST_MAIN("contract_ref", TEST(test_contract_ref_forms_follow_the_rule_on_every_spelling),
          TEST(test_contract_ref_hash_is_the_hash_of_the_form),
          TEST(test_contract_ref_hash_takes_up_to_the_reference_limit))
