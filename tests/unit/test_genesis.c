/* test_genesis.c: genesis validation (ledger/genesis.c), table-driven. Each row breaks one
 * rule of the fixture's valid genesis and names the reason ledger_create must give; the
 * unbroken genesis is accepted, so each row fails for its own reason only. The text checks
 * (names, chain id) get their own table of boundaries: lengths, control bytes, UTF-8. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "internal.h"
#include "ledger_fixture.h"
#include "slq/limits.h"

typedef void (*breaker)(Slq__Genesis *g);

static Slq__TransferEdge bad_edge = SLQ__TRANSFER_EDGE__INIT;
static Slq__TransferEdge *bad_edges[SLQ_EDGES_MAX + 1];
static Slq__GenesisAccount extra = SLQ__GENESIS_ACCOUNT__INIT;
static Slq__GenesisAccount *accounts[16];
static uint8_t bytes32[32];
static uint8_t short_addr[CRYPTO_ADDRESS_BYTES - 1];

static void no_policy(Slq__Genesis *g) {
    g->policy = NULL;
}
static void empty_window(Slq__Genesis *g) {
    g->policy->valid_until_ms = g->policy->valid_from_ms;
}
static void zero_city_cap(Slq__Genesis *g) {
    g->policy->city_annual_cap_fen = 0;
}
static void no_programs(Slq__Genesis *g) {
    g->policy->n_programs = 0;
}
static void program_unnamed(Slq__Genesis *g) {
    g->policy->programs[1]->name = "";
}
static void negative_pool(Slq__Genesis *g) {
    g->policy->programs[1]->annual_cap_fen = -1;
}
static void negative_holder_cap(Slq__Genesis *g) {
    g->policy->programs[1]->holder_annual_cap_fen = -1;
}
static void negative_expiry(Slq__Genesis *g) {
    g->policy->programs[1]->expiry_ms = -1;
}
static void negative_grace(Slq__Genesis *g) {
    g->policy->programs[1]->redeem_grace_ms = -1;
}
static void share_over_100(Slq__Genesis *g) {
    g->policy->programs[1]->max_share_bp = 10001;
}
static void program_twice(Slq__Genesis *g) {
    g->policy->programs[2]->name = "general";
}
static void too_many_edges(Slq__Genesis *g) {
    for (size_t i = 0; i <= SLQ_EDGES_MAX; i++) bad_edges[i] = g->policy->programs[0]->edges[0];
    g->policy->programs[0]->n_edges = SLQ_EDGES_MAX + 1;
    g->policy->programs[0]->edges = bad_edges;
}
static void edge_out_of_range(Slq__Genesis *g) {
    bad_edge.from = SLQ__PARTY__PARTY_HOLDER;
    bad_edge.to = (Slq__Party) (SLQ__PARTY__PARTY_INTERMEDIARY + 1);
    bad_edges[0] = &bad_edge;
    g->policy->programs[0]->n_edges = 1;
    g->policy->programs[0]->edges = bad_edges;
}
static ProtobufCBinaryData centres[SLQ_PROGRAM_CENTRES_MAX + 1];
static uint8_t role_addr[CRYPTO_ADDRESS_BYTES];

static void centres_none(Slq__Genesis *g) {
    g->policy->programs[1]->n_centres = 0; /* its edges pay a centre */
}
static void centre_unknown(Slq__Genesis *g) {
    centres[0] = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, bytes32};
    g->policy->programs[1]->n_centres = 1;
    g->policy->programs[1]->centres = centres;
}
static void centre_short(Slq__Genesis *g) {
    centres[0] = (ProtobufCBinaryData){sizeof short_addr, short_addr};
    g->policy->programs[1]->n_centres = 1;
    g->policy->programs[1]->centres = centres;
}
static void centre_of_another_role(Slq__Genesis *g) {
    const Slq__GenesisAccount *finance = g->accounts[K_FINANCE];
    SLQ_ASSERT(crypto_address(CRYPTO_SUITE_ED25519_SHA256, role_addr, finance->pubkey.data,
                              finance->pubkey.len) == SLQ_OK);
    centres[0] = g->policy->programs[1]->centres[0];
    centres[1] = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, role_addr};
    g->policy->programs[1]->n_centres = 2;
    g->policy->programs[1]->centres = centres;
}
static void centre_twice(Slq__Genesis *g) {
    centres[0] = centres[1] = g->policy->programs[1]->centres[1];
    g->policy->programs[1]->n_centres = 2;
    g->policy->programs[1]->centres = centres;
}
static void too_many_centres(Slq__Genesis *g) {
    for (size_t i = 0; i <= SLQ_PROGRAM_CENTRES_MAX; i++)
        centres[i] = g->policy->programs[1]->centres[0];
    g->policy->programs[1]->n_centres = SLQ_PROGRAM_CENTRES_MAX + 1;
    g->policy->programs[1]->centres = centres;
}
static void bad_suite(Slq__Genesis *g) {
    g->suite = "rsa";
}
static void bad_chain_id(Slq__Genesis *g) {
    g->chain_id = "Bad Chain";
}
static void zero_time(Slq__Genesis *g) {
    g->time_ms = 0;
}
static void no_validators(Slq__Genesis *g) {
    g->n_validators = 0;
}
static void validator_short_key(Slq__Genesis *g) {
    g->validators[0]->pubkey.len -= 1;
}
static void validator_zero_power(Slq__Genesis *g) {
    g->validators[0]->power = 0;
}
static void validator_huge_power(Slq__Genesis *g) {
    g->validators[0]->power = 1000001;
}
static void validator_unnamed(Slq__Genesis *g) {
    g->validators[0]->name = "";
}
static void validator_twice(Slq__Genesis *g) {
    static Slq__Validator *twice[2];
    twice[0] = twice[1] = g->validators[0];
    g->n_validators = 2;
    g->validators = twice;
}

/* Adds one account (a copy of `extra`) after the fixture's six. */
static void add_extra(Slq__Genesis *g) {
    for (size_t i = 0; i < g->n_accounts; i++) accounts[i] = g->accounts[i];
    accounts[g->n_accounts] = &extra;
    g->n_accounts++;
    g->accounts = accounts;
}
static void account_twice(Slq__Genesis *g) {
    extra = *g->accounts[1];
    extra.name = "again";
    add_extra(g);
}
static void account_key_and_address_disagree(Slq__Genesis *g) {
    extra = *g->accounts[1];
    extra.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, bytes32};
    add_extra(g);
}
static void account_short_address(Slq__Genesis *g) {
    slq__genesis_account__init(&extra);
    extra.address = (ProtobufCBinaryData){sizeof short_addr, short_addr};
    extra.role = SLQ__ROLE__ROLE_ENTERPRISE;
    extra.name = "short";
    add_extra(g);
}
static void account_bad_role(Slq__Genesis *g) {
    g->accounts[1]->role = (Slq__Role) 99;
}
static void account_unnamed(Slq__Genesis *g) {
    g->accounts[1]->name = "";
}
static void account_short_credit_hash(Slq__Genesis *g) {
    g->accounts[1]->credit_code_hash = (ProtobufCBinaryData){31, bytes32};
}
static void holder_without_credit_code(Slq__Genesis *g) {
    g->accounts[K_INTER]->credit_code_hash = (ProtobufCBinaryData){0, NULL};
}
static void holder_with_another_holders_credit_code(Slq__Genesis *g) {
    slq__genesis_account__init(&extra);
    extra.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, bytes32};
    extra.role = SLQ__ROLE__ROLE_MAKER;
    extra.name = "second address";
    extra.credit_code_hash = g->accounts[K_INTER]->credit_code_hash;
    add_extra(g);
}
static void account_bad_affiliation(Slq__Genesis *g) {
    g->accounts[1]->affiliation = "a\tb";
}
static char *payers[SLQ_PAYERS_MAX + 1];
static void payer_twice(Slq__Genesis *g) {
    payers[0] = payers[1] = "city";
    g->policy->n_payers = 2;
    g->policy->payers = payers;
}
static void payer_empty(Slq__Genesis *g) {
    g->policy->payers[1] = "";
}
static void too_many_payers(Slq__Genesis *g) {
    static char names[SLQ_PAYERS_MAX + 1][8];
    for (size_t i = 0; i <= SLQ_PAYERS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "d%zu", i);
        payers[i] = names[i];
    }
    g->policy->n_payers = SLQ_PAYERS_MAX + 1;
    g->policy->payers = payers;
}
static void no_issuer(Slq__Genesis *g) {
    g->accounts[0]->role = SLQ__ROLE__ROLE_FINANCE;
}

static const struct {
    const char *name;
    breaker brk;
    const char *why;
} rows[] = {
    {"no policy", no_policy, "policy is missing"},
    {"empty window", empty_window, "policy window is empty"},
    {"zero city cap", zero_city_cap, "city annual cap must be positive"},
    {"no programs", no_programs, "programs"},
    {"unnamed program", program_unnamed, "program name is empty or invalid"},
    {"negative pool cap", negative_pool, "must not be negative"},
    {"negative holder cap", negative_holder_cap, "must not be negative"},
    {"negative expiry", negative_expiry, "must not be negative"},
    {"negative redeem grace", negative_grace, "redeem grace must not be negative"},
    {"share over 100%", share_over_100, "share above 10000 bp"},
    {"program twice", program_twice, "listed twice"},
    {"too many edges", too_many_edges, "too many transfer edges"},
    {"edge out of range", edge_out_of_range, "transfer edge 0 is invalid"},
    {"a program paying centres names none", centres_none,
     "program national-major: an edge pays a centre, so it must name its centres"},
    {"a centre that is no account", centre_unknown,
     "centre 0 is not a genesis account of role centre"},
    {"a centre of 19 bytes", centre_short, "centre 0 is not a genesis account of role centre"},
    {"a centre of role finance", centre_of_another_role,
     "centre 1 is not a genesis account of role centre"},
    {"a centre twice", centre_twice, "program national-major: centre 1 is listed twice"},
    {"too many centres", too_many_centres, "too many centres"},
    {"a payer twice", payer_twice, "payer city is listed twice"},
    {"an empty payer", payer_empty, "payer 1 is empty or invalid"},
    {"too many payers", too_many_payers, "more than 64 payers"},
    {"unknown suite", bad_suite, "unknown suite"},
    {"bad chain id", bad_chain_id, "chain id"},
    {"zero genesis time", zero_time, "genesis time must be positive"},
    {"no validators", no_validators, "validators"},
    {"validator key of another size", validator_short_key, "public key is not"},
    {"validator of power 0", validator_zero_power, "power must be"},
    {"validator of power 1000001", validator_huge_power, "power must be"},
    {"unnamed validator", validator_unnamed, "bad name"},
    {"validator twice", validator_twice, "validator 1 is listed twice"},
    {"account twice", account_twice, "account 6 is listed twice"},
    {"account key and address disagree", account_key_and_address_disagree,
     "address and key are invalid"},
    {"account address of 19 bytes", account_short_address, "address and key are invalid"},
    {"account of an unknown role", account_bad_role, "bad role or name"},
    {"unnamed account", account_unnamed, "bad role or name"},
    {"credit code hash of 31 bytes", account_short_credit_hash, "bad credit code"},
    {"affiliation with a tab", account_bad_affiliation, "bad credit code or affiliation"},
    {"holder-class account without a credit code", holder_without_credit_code,
     "account 4: a holder-class role needs its credit code hash"},
    {"two holder-class accounts with one credit code", holder_with_another_holders_credit_code,
     "account 6: credit code of account 4"},
    {"no issuer", no_issuer, "registers no issuer"},
};

/* Rows point fields at static data, which free_unpacked must never see: each genesis is
 * unpacked into this arena and dropped with it. */
static _Alignas(16) uint8_t arena[256 * 1024];
static size_t arena_used;

static void *arena_alloc(void *data, size_t size) {
    (void) data;
    size_t at = (arena_used + 15u) & ~(size_t) 15u;
    SLQ_ASSERT(size <= sizeof arena - at);
    arena_used = at + size;
    return arena + at;
}

static void arena_free(void *data, void *p) {
    (void) data;
    (void) p;
}

static ProtobufCAllocator arena_allocator = {arena_alloc, arena_free, NULL};

static slq_err create_from(const Slq__Genesis *g, char *why, size_t why_cap) {
    size_t n = slq__genesis__get_packed_size(g);
    uint8_t *buf = malloc(n);
    SLQ_ASSERT(buf != NULL);
    slq__genesis__pack(g, buf);
    ledger *l = NULL;
    slq_err err = ledger_create(&l, buf, n, why, why_cap);
    ledger_destroy(l);
    free(buf);
    return err;
}

static void test_each_broken_rule_of_genesis_is_refused_with_its_reason(void) {
    fx f;
    fx_init(&f);
    uint8_t *bytes;
    size_t len;
    fx_genesis_bytes(&f, &bytes, &len);
    char why[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        arena_used = 0;
        Slq__Genesis *g = slq__genesis__unpack(&arena_allocator, len, bytes);
        SLQ_ASSERT(g != NULL);
        CHECK_ERR(create_from(g, why, sizeof why), SLQ_OK); /* the row's only change is its own */
        rows[i].brk(g);
        slq_err err = create_from(g, why, sizeof why);
        if (err != SLQ_GENESIS_INVALID || strstr(why, rows[i].why) == NULL)
            fprintf(stderr, "  row \"%s\": %s: \"%s\" (want \"%s\")\n", rows[i].name,
                    slq_err_name(err), why, rows[i].why);
        CHECK_ERR(err, SLQ_GENESIS_INVALID);
        CHECK(strstr(why, rows[i].why) != NULL);
    }
    free(bytes);
    fx_deinit(&f);
}

static void test_genesis_larger_than_its_limit_or_undecodable_is_refused(void) {
    char why[128];
    ledger *l = NULL;
    uint8_t *big = calloc(1, SLQ_GENESIS_BYTES_MAX + 1);
    SLQ_ASSERT(big != NULL);
    CHECK_ERR(ledger_create(&l, big, SLQ_GENESIS_BYTES_MAX + 1, why, sizeof why),
              SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "exceeds") != NULL);
    free(big);
    CHECK_ERR(ledger_create(&l, (const uint8_t *) "\xff\x01", 2, why, sizeof why),
              SLQ_GENESIS_INVALID);
    CHECK(strstr(why, "do not decode") != NULL);
}

static const struct {
    const char *text;
    size_t max;
    bool ok;
} texts[] = {
    {"centre-1", 64, true},
    {"国家超算成都中心", 64, true},
    {"", 64, false},                 /* empty */
    {"abcd", 3, false},              /* longer than max */
    {"abc", 3, true},                /* exactly max */
    {"a\nb", 64, false},             /* control byte */
    {"a\x7f", 64, false},            /* DEL */
    {"\xc3\x28", 64, false},         /* bad continuation */
    {"\xc0\xaf", 64, false},         /* overlong '/' */
    {"\xe0\x80\xaf", 64, false},     /* overlong, 3 bytes */
    {"\xed\xa0\x80", 64, false},     /* UTF-16 surrogate */
    {"\xf4\x90\x80\x80", 64, false}, /* above U+10FFFF */
    {"\xf0\x9f\x98\x80", 64, true},  /* U+1F600, 4 bytes */
    {"\xe4\xb8", 64, false},         /* truncated sequence */
    {"\xff", 64, false},             /* never a lead byte */
};

static void test_names_must_be_printable_utf8_within_their_limit(void) {
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        bool got = ledger_text_ok(texts[i].text, texts[i].max);
        if (got != texts[i].ok) fprintf(stderr, "  text row %zu\n", i);
        CHECK(got == texts[i].ok);
    }
}

static void test_chain_ids_are_short_lowercase_names(void) {
    char longest[SLQ_CHAIN_ID_BYTES_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[SLQ_CHAIN_ID_BYTES_MAX] = '\0';
    CHECK(ledger_chain_id_ok(longest));
    longest[SLQ_CHAIN_ID_BYTES_MAX] = 'a';
    longest[SLQ_CHAIN_ID_BYTES_MAX + 1] = '\0';
    CHECK(!ledger_chain_id_ok(longest));
    CHECK(ledger_chain_id_ok("slq-chengdu_2026.1"));
    CHECK(!ledger_chain_id_ok(""));
    CHECK(!ledger_chain_id_ok("Slq"));
    CHECK(!ledger_chain_id_ok("slq chengdu"));
    CHECK(!ledger_chain_id_ok("slq/1"));
}

static void test_only_holder_classes_can_hold_vouchers(void) {
    CHECK(ledger_role_can_hold(SLQ__ROLE__ROLE_ENTERPRISE));
    CHECK(ledger_role_can_hold(SLQ__ROLE__ROLE_MAKER));
    CHECK(ledger_role_can_hold(SLQ__ROLE__ROLE_RESEARCH));
    CHECK(ledger_role_can_hold(SLQ__ROLE__ROLE_UNIVERSITY));
    CHECK(ledger_role_can_hold(SLQ__ROLE__ROLE_INTERMEDIARY));
    CHECK(!ledger_role_can_hold(SLQ__ROLE__ROLE_ISSUER));
    CHECK(!ledger_role_can_hold(SLQ__ROLE__ROLE_CENTRE));
    CHECK(!ledger_role_can_hold(SLQ__ROLE__ROLE_FINANCE));
    CHECK(!ledger_role_can_hold(SLQ__ROLE__ROLE_REGULATOR));
    CHECK(ledger_role_valid(SLQ__ROLE__ROLE_ISSUER));
    CHECK(ledger_role_valid(SLQ__ROLE__ROLE_REGULATOR));
    CHECK(!ledger_role_valid((Slq__Role) (SLQ__ROLE__ROLE_ISSUER - 1)));
    CHECK(!ledger_role_valid((Slq__Role) (SLQ__ROLE__ROLE_REGULATOR + 1)));
}

/* Only a program whose vouchers can reach a centre must name centres: one whose edges never
 * pay a centre may name none. */
static void test_a_program_that_pays_no_centre_may_name_none(void) {
    fx f;
    fx_init(&f);
    uint8_t *bytes;
    size_t len;
    fx_genesis_bytes(&f, &bytes, &len);
    arena_used = 0;
    Slq__Genesis *g = slq__genesis__unpack(&arena_allocator, len, bytes);
    SLQ_ASSERT(g != NULL);
    Slq__Program *p = g->policy->programs[1];
    SLQ_ASSERT(p->n_edges == 2 && p->edges[0]->to == SLQ__PARTY__PARTY_CENTRE);
    p->n_centres = 0;
    char why[256] = "";
    CHECK_ERR(create_from(g, why, sizeof why), SLQ_GENESIS_INVALID);
    p->edges[0] = p->edges[1]; /* intermediary -> holder only */
    p->n_edges = 1;
    CHECK_ERR(create_from(g, why, sizeof why), SLQ_OK);
    free(bytes);
    fx_deinit(&f);
}

/* Who may pay a claim: the payers listed, exactly; none listed: the city alone. */
static void test_payers_are_the_listed_ones_or_the_city(void) {
    fx f;
    fx_init(&f);
    CHECK(ledger_payer_listed(f.l, FX_PAYER_CITY));
    CHECK(ledger_payer_listed(f.l, FX_PAYER_DISTRICT));
    CHECK(!ledger_payer_listed(f.l, "锦江区"));
    CHECK(!ledger_payer_listed(f.l, "City"));
    uint8_t *bytes;
    size_t len;
    fx_genesis_bytes(&f, &bytes, &len);
    arena_used = 0;
    Slq__Genesis *g = slq__genesis__unpack(&arena_allocator, len, bytes);
    SLQ_ASSERT(g != NULL);
    g->policy->n_payers = 0;
    size_t n = slq__genesis__get_packed_size(g);
    uint8_t *buf = malloc(n);
    SLQ_ASSERT(buf != NULL);
    slq__genesis__pack(g, buf);
    ledger *l = NULL;
    CHECK_ERR(ledger_create(&l, buf, n, NULL, 0), SLQ_OK);
    if (l != NULL) {
        CHECK(ledger_payer_listed(l, LEDGER_PAYER_DEFAULT));
        CHECK(strcmp(LEDGER_PAYER_DEFAULT, "city") == 0);
        CHECK(!ledger_payer_listed(l, FX_PAYER_DISTRICT));
    }
    ledger_destroy(l);
    free(buf);
    free(bytes);
    fx_deinit(&f);
}

TEST_MAIN("genesis", TEST(test_each_broken_rule_of_genesis_is_refused_with_its_reason),
          TEST(test_genesis_larger_than_its_limit_or_undecodable_is_refused),
          TEST(test_names_must_be_printable_utf8_within_their_limit),
          TEST(test_chain_ids_are_short_lowercase_names),
          TEST(test_only_holder_classes_can_hold_vouchers),
          TEST(test_a_program_that_pays_no_centre_may_name_none),
          TEST(test_payers_are_the_listed_ones_or_the_city))
