/* testnet.c: `slq testnet` writes a ready local network into a new directory: one home per
 * validator (genesis.json, node.pem, config.json; data/ is left to slqd) and keys/ with the
 * demo parties. The genesis holds the node keys as validators, every party but the three
 * holders as an account, and the Chengdu policy presets (DESIGN.md §4). It is checked with
 * the codec and ledger_create() before anything is written. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "codec.h"
#include "ledger.h"
#include "slq/assert.h"
#include "slq/cst.h"
#include "slq/limits.h"

#define DAY_MS                    86400000LL
#define PARTIES                   9
#define CENTRE_FIRST              3 /* parties[3] and [4]: the centres the programs name */
#define CHAIN_ID                  "slq-testnet"
#define NATIONAL_HOLDER_CAP_FEN   300000000LL   /* 3,000,000 yuan per holder per year */
#define PROVINCIAL_HOLDER_CAP_FEN 150000000LL   /* 1,500,000 yuan */
#define MAJOR_SHARE_BP            3000u         /* 30% of the declared cost */
#define REDEEM_GRACE_MS           (30 * DAY_MS) /* a centre redeems up to 30 days after expiry */

typedef struct {
    const char *file; /* keys/<file>.pem */
    Slq__Role role;
    const char *name;
    const char *affiliation;
    const char *credit_code; /* made-up but valid (GB 32100-2015); holder-class parties need one */
    bool in_genesis;
} party;

static const party parties[PARTIES] = {
    {"issuer", SLQ__ROLE__ROLE_ISSUER, "市经信局·市新经济委", "", NULL, true},
    {"finance", SLQ__ROLE__ROLE_FINANCE, "市财政局", "", NULL, true},
    {"regulator", SLQ__ROLE__ROLE_REGULATOR, "监管机构", "", NULL, true},
    {"centre-1", SLQ__ROLE__ROLE_CENTRE, "国家超算成都中心", "scc-group", NULL, true},
    {"centre-2", SLQ__ROLE__ROLE_CENTRE, "成都智算中心", "icc-group", NULL, true},
    {"intermediary", SLQ__ROLE__ROLE_INTERMEDIARY, "算力中介服务机构", "", "91510100DEM000008R",
     true},
    {"holder-1", SLQ__ROLE__ROLE_ENTERPRISE, "holder-1", "", NULL, false},
    {"holder-2", SLQ__ROLE__ROLE_ENTERPRISE, "holder-2", "", NULL, false},
    {"holder-3", SLQ__ROLE__ROLE_ENTERPRISE, "holder-3", "", NULL, false},
};

typedef struct {
    const char *dir;
    unsigned validators;
    unsigned base_port;
    crypto_suite suite;
    int64_t cap_fen;
    int64_t from_ms; /* 00:00 CST of --policy-from */
    crypto_key *nodes[SLQ_VALIDATORS_MAX];
    crypto_key *keys[PARTIES];
    uint8_t pub[SLQ_VALIDATORS_MAX + PARTIES][CRYPTO_PUBKEY_BYTES_MAX]; /* nodes, then parties */
    size_t pub_len;
    uint8_t credit_hash[PARTIES][CRYPTO_HASH_BYTES]; /* of the parties' credit codes */
    char *genesis_json;
} testnet;

static int parse_options(const cli_command *cmd, const cli_args *a, testnet *t) {
    uint64_t n = 0, port = 7600;
    const char *v = cli_flag_get(a, "--validators"), *p = cli_flag_get(a, "--base-port");
    const char *suite = cli_flag_get(a, "--suite"), *cap = cli_flag_get(a, "--cap");
    const char *from = cli_flag_get(a, "--policy-from");
    int rc = cli_parse_u64(cmd, "--validators", v, 1, SLQ_VALIDATORS_MAX, &n);
    if (rc == CLI_PROCEED && p != NULL) rc = cli_parse_u64(cmd, "--base-port", p, 1, 65535, &port);
    if (rc == CLI_PROCEED && port + 2 * n - 1 > 65535)
        rc = cli_usage(cmd, "--base-port %llu: %llu nodes need ports up to %llu",
                       (unsigned long long) port, (unsigned long long) n,
                       (unsigned long long) (port + 2 * n - 1));
    t->suite = CRYPTO_SUITE_ED25519_SHA256;
    if (rc == CLI_PROCEED && suite != NULL && strcmp(suite, "ed25519") != 0 &&
        crypto_suite_parse(&t->suite, suite) != SLQ_OK) {
        if (strcmp(suite, "sm2") == 0)
            t->suite = CRYPTO_SUITE_SM2_SM3;
        else
            rc = cli_usage(cmd, "--suite \"%s\": use ed25519 or sm2", suite);
    }
    t->cap_fen = 1000000000; /* 10,000,000 yuan: Chengdu's annual cap */
    if (rc == CLI_PROCEED && cap != NULL) rc = cli_parse_yuan(cmd, "--cap", cap, &t->cap_fen);
    t->from_ms = cli_today_cst_ms();
    if (rc == CLI_PROCEED && from != NULL)
        rc = cli_parse_date(cmd, "--policy-from", from, &t->from_ms);
    t->validators = (unsigned) n;
    t->base_port = (unsigned) port;
    return rc;
}

/* Creates dir, or accepts it if it exists and is empty. */
static int prepare_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL && errno != ENOENT)
        return cli_fail(CLI_EXIT_USAGE, "%s: %s", dir, strerror(errno));
    if (d == NULL) {
        if (mkdir(dir, 0755) != 0) return cli_fail(CLI_EXIT_USAGE, "%s: %s", dir, strerror(errno));
        return CLI_PROCEED;
    }
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d)) != NULL;)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    if (!empty)
        return cli_fail(CLI_EXIT_USAGE, "%s is not empty: refusing to write a testnet into it",
                        dir);
    return CLI_PROCEED;
}

static int make_keys(testnet *t) {
    for (unsigned i = 0; i < t->validators + PARTIES; i++) {
        crypto_key **k = i < t->validators ? &t->nodes[i] : &t->keys[i - t->validators];
        if (crypto_key_generate(k, t->suite) != SLQ_OK ||
            crypto_key_public(*k, t->pub[i], sizeof t->pub[i], &t->pub_len) != SLQ_OK)
            return cli_fail(CLI_EXIT_USAGE, "could not generate keys");
    }
    return CLI_PROCEED;
}

/* The three Chengdu programs; edges holder -> centre and intermediary -> holder; each names
 * the two centres (centres[0..2)) as the ones it pays. */
static void fill_programs(Slq__Program *p, Slq__Program **pp, Slq__TransferEdge *e,
                          Slq__TransferEdge **ep, ProtobufCBinaryData *centres, int64_t cap_fen) {
    slq__transfer_edge__init(&e[0]);
    slq__transfer_edge__init(&e[1]);
    e[0].from = SLQ__PARTY__PARTY_HOLDER, e[0].to = SLQ__PARTY__PARTY_CENTRE;
    e[1].from = SLQ__PARTY__PARTY_INTERMEDIARY, e[1].to = SLQ__PARTY__PARTY_HOLDER;
    ep[0] = &e[0], ep[1] = &e[1];
    static const char *const names[3] = {"general", "national-major", "provincial-major"};
    for (int i = 0; i < 3; i++) {
        slq__program__init(&p[i]);
        p[i].name = (char *) names[i];
        p[i].n_edges = 2;
        p[i].edges = ep;
        p[i].n_centres = 2;
        p[i].centres = centres;
        p[i].redeem_grace_ms = REDEEM_GRACE_MS; /* a voucher paid on Dec 31 is redeemed in Jan */
        pp[i] = &p[i];
    }
    p[0].annual_cap_fen = cap_fen;
    p[1].max_share_bp = MAJOR_SHARE_BP;
    p[1].holder_annual_cap_fen = NATIONAL_HOLDER_CAP_FEN;
    p[2].max_share_bp = MAJOR_SHARE_BP;
    p[2].holder_annual_cap_fen = PROVINCIAL_HOLDER_CAP_FEN;
    p[1].applications_required = true; /* 申领 → 审核 → 发放; general keeps direct issue */
    p[2].applications_required = true;
}

/* Three years from 00:00 CST of the first day (same calendar date, CST; Feb 29 rolls on
 * to Mar 1). */
static int64_t three_years_on(int64_t from_ms) {
    int64_t y = 0;
    unsigned m = 0, d = 0;
    cli_cst_date(from_ms, &y, &m, &d);
    return slq_days_from_civil(y + 3, m, d) * DAY_MS - SLQ_CST_OFFSET_MS;
}

/* Validators and accounts of the genesis (arrays sized by the caller). */
static void fill_parties(testnet *t, Slq__Validator *v, Slq__Validator **vp, char (*vname)[16],
                         Slq__GenesisAccount *acc, Slq__GenesisAccount **ap, size_t *n_acc) {
    for (unsigned i = 0; i < t->validators; i++) {
        slq__validator__init(&v[i]);
        snprintf(vname[i], 16, "node%u", i);
        v[i].pubkey = (ProtobufCBinaryData){t->pub_len, t->pub[i]};
        v[i].name = vname[i];
        v[i].power = 1;
        vp[i] = &v[i];
    }
    *n_acc = 0;
    for (unsigned i = 0; i < PARTIES; i++) {
        if (!parties[i].in_genesis) continue;
        Slq__GenesisAccount *a = &acc[*n_acc];
        slq__genesis_account__init(a);
        a->pubkey = (ProtobufCBinaryData){t->pub_len, t->pub[t->validators + i]};
        a->role = parties[i].role;
        a->name = (char *) parties[i].name;
        a->affiliation = (char *) parties[i].affiliation;
        if (parties[i].credit_code != NULL) {
            const char *code = parties[i].credit_code;
            codec_credit_code cc;
            SLQ_ASSERT(codec_credit_code_parse(&cc, code) == CODEC_CREDIT_CODE_OK);
            crypto_hash(t->suite, t->credit_hash[i], (const uint8_t *) code, strlen(code));
            a->credit_code_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, t->credit_hash[i]};
        }
        ap[(*n_acc)++] = a;
    }
}

/* Writes the genesis as JSON into t->genesis_json and checks it reads back as a chain. The
 * programs name centre-1 and centre-2 (国家超算成都中心, 成都智算中心) as their centres. */
static int make_genesis(testnet *t) {
    Slq__Validator v[SLQ_VALIDATORS_MAX], *vp[SLQ_VALIDATORS_MAX];
    char vname[SLQ_VALIDATORS_MAX][16];
    Slq__GenesisAccount acc[PARTIES], *ap[PARTIES];
    Slq__Program prog[3], *pp[3];
    Slq__TransferEdge e[2], *ep[2];
    uint8_t centre_addr[2][CRYPTO_ADDRESS_BYTES];
    ProtobufCBinaryData centres[2];
    for (unsigned i = 0; i < 2; i++) { /* parties 3 and 4: centre-1 and centre-2 */
        SLQ_ASSERT(parties[CENTRE_FIRST + i].role == SLQ__ROLE__ROLE_CENTRE);
        if (crypto_address(t->suite, centre_addr[i], t->pub[t->validators + CENTRE_FIRST + i],
                           t->pub_len) != SLQ_OK)
            return cli_fail(CLI_EXIT_USAGE, "could not derive the centres' addresses");
        centres[i] = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, centre_addr[i]};
    }
    Slq__Policy pol = SLQ__POLICY__INIT;
    Slq__Genesis g = SLQ__GENESIS__INIT;
    fill_parties(t, v, vp, vname, acc, ap, &g.n_accounts);
    fill_programs(prog, pp, e, ep, centres, t->cap_fen);
    pol.valid_from_ms = t->from_ms;
    pol.valid_until_ms = three_years_on(t->from_ms);
    pol.city_annual_cap_fen = t->cap_fen;
    pol.n_programs = 3;
    pol.programs = pp;
    static char *payers[] = {"city", "高新区"}; /* the city and one district pay claims */
    pol.n_payers = 2;
    pol.payers = payers;
    g.chain_id = CHAIN_ID;
    g.suite = (char *) crypto_suite_name(t->suite);
    g.time_ms = t->from_ms - DAY_MS; /* before any block of the policy window */
    g.n_validators = t->validators;
    g.validators = vp;
    g.accounts = ap;
    g.policy = &pol;
    if (codec_genesis_to_json(&t->genesis_json, &g) != SLQ_OK)
        return cli_fail(CLI_EXIT_USAGE, "could not write the genesis");
    uint8_t *bytes = NULL;
    size_t len = 0;
    char why[256] = "";
    ledger *l = NULL;
    slq_err err = codec_genesis_from_json(&bytes, &len, t->genesis_json, strlen(t->genesis_json),
                                          why, sizeof why);
    if (err == SLQ_OK) err = ledger_create(&l, bytes, len, why, sizeof why);
    ledger_destroy(l);
    free(bytes);
    if (err != SLQ_OK) return cli_fail(CLI_EXIT_USAGE, "the testnet genesis is invalid: %s", why);
    return CLI_PROCEED;
}

/* out = dir/name; 1 if it does not fit. */
static int path_of(char out[PATH_MAX], const char *dir, const char *name, const char *suffix) {
    int n = snprintf(out, PATH_MAX, "%s/%s%s", dir, name, suffix);
    if (n < 0 || n >= PATH_MAX) return cli_fail(CLI_EXIT_USAGE, "%s: path too long", dir);
    return CLI_PROCEED;
}

/* config.json of node i: listen addresses, the other nodes as peers, block timing. */
static char *config_json(const testnet *t, unsigned i) {
    json_t *o = json_object();
    char p2p[32], api[32], peer[32];
    snprintf(p2p, sizeof p2p, "127.0.0.1:%u", t->base_port + 2 * i);
    snprintf(api, sizeof api, "127.0.0.1:%u", t->base_port + 2 * i + 1);
    bool ok = codec_json_set_str(o, "chain_id", CHAIN_ID) &&
              codec_json_set_str(o, "p2p_listen", p2p) && codec_json_set_str(o, "api_listen", api);
    json_t *peers = ok ? codec_json_add_array(o, "peers") : NULL;
    ok = peers != NULL;
    for (unsigned j = 0; ok && j < t->validators; j++) {
        snprintf(peer, sizeof peer, "127.0.0.1:%u", t->base_port + 2 * j);
        if (j != i) ok = codec_json_set_str(peers, NULL, peer);
    }
    ok = ok && codec_json_set_i64(o, "block_interval_ms", 50) &&
         codec_json_set_i64(o, "empty_block_interval_ms", 3000) &&
         codec_json_set_str(o, "key_file", "node.pem") && codec_json_add_array(o, "observers");
    char *text = ok ? cli_json_text(o) : NULL;
    json_decref(o);
    return text;
}

static int write_node(const testnet *t, unsigned i) {
    char home[PATH_MAX], file[PATH_MAX], name[16];
    snprintf(name, sizeof name, "node%u", i);
    int rc = path_of(home, t->dir, name, "");
    if (rc == CLI_PROCEED && mkdir(home, 0755) != 0)
        rc = cli_fail(CLI_EXIT_USAGE, "%s: %s", home, strerror(errno));
    if (rc == CLI_PROCEED) rc = path_of(file, home, "genesis.json", "");
    if (rc == CLI_PROCEED)
        rc = cli_write_new_file(file, t->genesis_json, strlen(t->genesis_json), 0644);
    if (rc == CLI_PROCEED) rc = path_of(file, home, "node.pem", "");
    if (rc == CLI_PROCEED) rc = cli_key_write(t->nodes[i], file, NULL);
    if (rc == CLI_PROCEED) rc = path_of(file, home, "config.json", "");
    char *config = rc == CLI_PROCEED ? config_json(t, i) : NULL;
    if (rc == CLI_PROCEED && config == NULL) rc = cli_fail(CLI_EXIT_USAGE, "out of memory");
    if (rc == CLI_PROCEED) rc = cli_write_new_file(file, config, strlen(config), 0644);
    free(config);
    return rc;
}

static int write_keys(const testnet *t) {
    char dir[PATH_MAX], file[PATH_MAX];
    int rc = path_of(dir, t->dir, "keys", "");
    if (rc == CLI_PROCEED && mkdir(dir, 0700) != 0)
        rc = cli_fail(CLI_EXIT_USAGE, "%s: %s", dir, strerror(errno));
    for (unsigned i = 0; rc == CLI_PROCEED && i < PARTIES; i++) {
        rc = path_of(file, dir, parties[i].file, ".pem");
        if (rc == CLI_PROCEED) rc = cli_key_write(t->keys[i], file, NULL);
    }
    return rc;
}

static void address_of(const testnet *t, unsigned key_index, char out[CRYPTO_ADDRESS_TEXT_BYTES]) {
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    SLQ_ASSERT(crypto_address(t->suite, addr, t->pub[key_index], t->pub_len) == SLQ_OK);
    crypto_address_format(out, addr);
}

static void print_human(const testnet *t) {
    char from[32], until[32], cap[CODEC_YUAN_TEXT_BYTES], addr[CRYPTO_ADDRESS_TEXT_BYTES];
    cli_format_cst(from, t->from_ms);
    cli_format_cst(until, three_years_on(t->from_ms));
    codec_yuan_format(cap, t->cap_fen);
    printf("testnet %s (%s): %u validator%s in %s\n", CHAIN_ID, crypto_suite_name(t->suite),
           t->validators, t->validators == 1 ? "" : "s", t->dir);
    for (unsigned i = 0; i < t->validators; i++)
        printf("  node%-3u %s/node%u  p2p 127.0.0.1:%u  api http://127.0.0.1:%u\n", i, t->dir, i,
               t->base_port + 2 * i, t->base_port + 2 * i + 1);
    printf("keys in %s/keys:\n", t->dir);
    for (unsigned i = 0; i < PARTIES; i++) {
        address_of(t, t->validators + i, addr);
        printf("  %-13s %s  %s\n", parties[i].file, addr,
               parties[i].in_genesis ? codec_role_name(parties[i].role) : "(not registered)");
    }
    printf("policy: %.10s .. %.10s CST, city cap %s yuan a year, programs general, "
           "national-major, provincial-major; claims paid by city or 高新区\n",
           from, until, cap);
    printf("start:  slqd --home %s/node0   (one per node)\n", t->dir);
    printf("API:    http://127.0.0.1:%u\n", t->base_port + 1);
}

static json_t *summary_json(const testnet *t) {
    json_t *o = json_object();
    json_t *nodes = codec_json_add_array(o, "nodes"), *keys = codec_json_add_array(o, "keys");
    char text[PATH_MAX], addr[CRYPTO_ADDRESS_TEXT_BYTES];
    snprintf(text, sizeof text, "http://127.0.0.1:%u", t->base_port + 1);
    bool ok = nodes != NULL && keys != NULL && codec_json_set_str(o, "dir", t->dir) &&
              codec_json_set_str(o, "chain_id", CHAIN_ID) &&
              codec_json_set_str(o, "suite", crypto_suite_name(t->suite)) &&
              codec_json_set_str(o, "api", text);
    for (unsigned i = 0; ok && i < t->validators; i++) {
        json_t *n = codec_json_add_object(nodes, NULL);
        snprintf(text, sizeof text, "%s/node%u", t->dir, i);
        ok = codec_json_set_str(n, "home", text);
        snprintf(text, sizeof text, "http://127.0.0.1:%u", t->base_port + 2 * i + 1);
        ok = ok && codec_json_set_str(n, "api", text);
    }
    for (unsigned i = 0; ok && i < PARTIES; i++) {
        json_t *k = codec_json_add_object(keys, NULL);
        address_of(t, t->validators + i, addr);
        snprintf(text, sizeof text, "%s/keys/%s.pem", t->dir, parties[i].file);
        ok = codec_json_set_str(k, "name", parties[i].file) &&
             codec_json_set_str(k, "file", text) && codec_json_set_str(k, "address", addr);
        ok = ok && (parties[i].in_genesis
                        ? codec_json_set_str(k, "role", codec_role_name(parties[i].role))
                        : codec_json_set_null(k, "role"));
    }
    if (!ok) json_decref(o);
    return ok ? o : NULL;
}

static void testnet_free(testnet *t) {
    for (unsigned i = 0; i < SLQ_VALIDATORS_MAX; i++) crypto_key_destroy(t->nodes[i]);
    for (unsigned i = 0; i < PARTIES; i++) crypto_key_destroy(t->keys[i]);
    free(t->genesis_json);
}

int cli_cmd_testnet(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {{"--validators", true, NULL}, {"--out", true, NULL},
                     {"--base-port", true, NULL},  {"--suite", true, NULL},
                     {"--cap", true, NULL},        {"--policy-from", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = sizeof fl / sizeof fl[0]};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    if (rc == CLI_PROCEED)
        rc = cli_flags_require(cmd, &a, (const char *const[]){"--validators", "--out", NULL});
    testnet *t = calloc(1, sizeof *t);
    if (rc == CLI_PROCEED && t == NULL) rc = cli_fail(CLI_EXIT_USAGE, "out of memory");
    if (rc != CLI_PROCEED) {
        free(t);
        return rc;
    }
    t->dir = cli_flag_get(&a, "--out");
    rc = parse_options(cmd, &a, t);
    if (rc == CLI_PROCEED) rc = make_keys(t);
    if (rc == CLI_PROCEED) rc = make_genesis(t);
    if (rc == CLI_PROCEED) rc = prepare_dir(t->dir);
    if (rc == CLI_PROCEED) rc = write_keys(t);
    for (unsigned i = 0; rc == CLI_PROCEED && i < t->validators; i++) rc = write_node(t, i);
    json_t *summary = rc == CLI_PROCEED && c->json ? summary_json(t) : NULL;
    if (rc == CLI_PROCEED && c->json)
        rc = summary != NULL ? cli_print_json(summary) : cli_fail(CLI_EXIT_USAGE, "out of memory");
    else if (rc == CLI_PROCEED)
        print_human(t);
    if (rc == CLI_PROCEED) rc = CLI_EXIT_OK;
    json_decref(summary);
    testnet_free(t);
    free(t);
    return rc;
}
