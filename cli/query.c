/* query.c: the read-only commands, one GET of docs/api.md each (`audit` is in audit.c).
 * Arguments are checked before the request. With --json the node's JSON is printed as
 * received (exact integers), except `balance`, whose shape is the CLI contract's and is
 * rebuilt key by key. Without --json, lists are aligned tables and objects are "key  value"
 * lines, amounts in yuan and times in CST. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"

/* Prints the node's body as received, with a final newline. */
static int print_body(const cli_response *r) {
    fwrite(r->body, 1, r->len, stdout);
    if (r->len == 0 || r->body[r->len - 1] != '\n') putchar('\n');
    return CLI_EXIT_OK;
}

/* GETs path and prints the object (verbatim with --json, else via show()). */
static int get_and_show(cli *c, const char *path, void (*show)(const json_t *)) {
    cli_response r;
    int rc = cli_get(c, path, &r);
    if (rc != CLI_PROCEED) return rc;
    rc = CLI_EXIT_OK;
    if (c->json)
        rc = print_body(&r);
    else
        show(r.json);
    cli_response_free(&r);
    return rc;
}

static void show_object(const json_t *j) {
    cli_print_object(j, 0);
}

/* An account or a pending transaction, its "gap" (docs/api.md) as one line for people:
 * "nonces 97..113 missing: 4 transactions wait behind them, dropped in 42 s unless those
 * arrive"; "none" when null. */
static void show_with_gap(const json_t *j) {
    json_t *o = json_deep_copy(j);
    const json_t *g = json_object_get(o, "gap");
    int64_t from = 0, to = 0, waiting = 0, left = 0;
    char text[192];
    if (json_is_null(g)) {
        codec_json_set_str(o, "gap", "none");
    } else if (cli_json_int(g, "missing_from", &from) && cli_json_int(g, "missing_to", &to) &&
               cli_json_int(g, "waiting", &waiting) && cli_json_int(g, "expires_in_ms", &left)) {
        char nonces[64];
        if (from == to)
            snprintf(nonces, sizeof nonces, "nonce %lld", (long long) from);
        else
            snprintf(nonces, sizeof nonces, "nonces %lld..%lld", (long long) from, (long long) to);
        snprintf(text, sizeof text,
                 "%s missing: %lld transaction%s wait%s behind, dropped in %lld s unless %s",
                 nonces, (long long) waiting, waiting == 1 ? "" : "s", waiting == 1 ? "s" : "",
                 (long long) ((left + 999) / 1000), from == to ? "it arrives" : "they arrive");
        codec_json_set_str(o, "gap", text);
    }
    cli_print_object(o != NULL ? o : j, 0);
    json_decref(o);
}

static void yuan_cell(char out[CODEC_YUAN_TEXT_BYTES], const json_t *obj, const char *key) {
    int64_t fen = 0;
    if (cli_json_int(obj, key, &fen))
        codec_yuan_format(out, fen);
    else
        snprintf(out, CODEC_YUAN_TEXT_BYTES, "-");
}

static void int_cell(char out[24], const json_t *obj, const char *key) {
    int64_t v = 0;
    if (cli_json_int(obj, key, &v))
        snprintf(out, 24, "%lld", (long long) v);
    else
        snprintf(out, 24, "-");
}

static void time_cell(char out[32], const json_t *obj, const char *key) {
    int64_t v = 0;
    if (cli_json_int(obj, key, &v) && v > 0)
        cli_format_cst(out, v);
    else
        snprintf(out, 32, "-");
}

/* ------------------------------------------------------------------ balance, vouchers */

static void show_vouchers(const json_t *j) {
    static const char *const head[] = {"ID", "AMOUNT", "PROGRAM", "YEAR", "EXPIRES (CST)", "STATE"};
    char total[CODEC_YUAN_TEXT_BYTES];
    yuan_cell(total, j, "total_fen");
    const json_t *list = json_object_get(j, "vouchers");
    printf("address  %s\ntotal    %s yuan\n",
           cli_json_str(j, "address") ? cli_json_str(j, "address") : "-", total);
    if (json_array_size(list) == 0) return; /* 0 too when not an array */
    cli_table *t = cli_table_create(6, head);
    const json_t *v;
    for (size_t i = 0; t != NULL && (v = json_array_get(list, i)) != NULL; i++) {
        char amount[CODEC_YUAN_TEXT_BYTES], year[24], expires[32];
        yuan_cell(amount, v, "amount_fen");
        int_cell(year, v, "budget_year");
        time_cell(expires, v, "expires_at_ms");
        const char *row[] = {
            cli_json_str(v, "id"),   amount, cli_json_str(v, "program"), year, expires,
            cli_json_str(v, "state")};
        if (!cli_table_add(t, row)) break;
    }
    putchar('\n');
    if (t != NULL) cli_table_print(t);
    cli_table_destroy(t);
}

/* Copies member key of from into to, as-is (null when absent). */
static bool copy_member(json_t *to, const json_t *from, const char *key) {
    const json_t *m = json_object_get(from, key);
    return codec_json_set(to, key, m != NULL ? json_deep_copy(m) : json_null());
}

/* {"address", "total_fen", "vouchers": [{"id", "amount_fen", "program", "budget_year",
 * "expires_at_ms", "state"}]}: exactly these keys, whatever else the node adds. */
static int print_balance_json(const json_t *j) {
    static const char *const keys[] = {"id",          "amount_fen",    "program",
                                       "budget_year", "expires_at_ms", "state"};
    json_t *o = json_object();
    bool ok = copy_member(o, j, "address") && copy_member(o, j, "total_fen");
    json_t *list = ok ? codec_json_add_array(o, "vouchers") : NULL;
    ok = list != NULL;
    const json_t *src = json_object_get(j, "vouchers"), *v;
    for (size_t n = 0; ok && (v = json_array_get(src, n)) != NULL; n++) {
        json_t *e = codec_json_add_object(list, NULL);
        ok = e != NULL;
        for (size_t i = 0; ok && i < sizeof keys / sizeof keys[0]; i++)
            ok = copy_member(e, v, keys[i]);
    }
    int rc = ok ? cli_print_json(o) : cli_fail(CLI_EXIT_USAGE, "out of memory");
    json_decref(o);
    return rc;
}

static int vouchers_of(cli *c, const cli_command *cmd, int argc, char **argv, bool all) {
    cli_args a = {.pos_min = 1, .pos_max = 1};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (rc == CLI_PROCEED) rc = cli_parse_address(cmd, "address", a.pos[0], addr);
    if (rc != CLI_PROCEED) return rc;
    char path[128];
    snprintf(path, sizeof path, "/v1/accounts/%s/vouchers%s", a.pos[0], all ? "?all=1" : "");
    if (all) return get_and_show(c, path, show_vouchers);
    cli_response r;
    rc = cli_get(c, path, &r);
    if (rc != CLI_PROCEED) return rc;
    rc = CLI_EXIT_OK;
    if (c->json)
        rc = print_balance_json(r.json);
    else
        show_vouchers(r.json);
    cli_response_free(&r);
    return rc;
}

int cli_cmd_balance(cli *c, const cli_command *cmd, int argc, char **argv) {
    return vouchers_of(c, cmd, argc, argv, false);
}

int cli_cmd_vouchers(cli *c, const cli_command *cmd, int argc, char **argv) {
    return vouchers_of(c, cmd, argc, argv, true);
}

/* ------------------------------------------------------------------ voucher, tx, block */

/* Commands whose one positional argument is a 64-hex id appended to a path prefix. */
static int by_id(cli *c, const cli_command *cmd, int argc, char **argv, const char *prefix,
                 void (*show)(const json_t *)) {
    cli_args a = {.pos_min = 1, .pos_max = 1};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    uint8_t id[CRYPTO_HASH_BYTES];
    char hex[CLI_ID_HEX_BYTES];
    if (rc == CLI_PROCEED) rc = cli_parse_id(cmd, NULL, a.pos[0], id, hex);
    if (rc != CLI_PROCEED) return rc;
    char path[128];
    snprintf(path, sizeof path, "%s%s", prefix, hex);
    return get_and_show(c, path, show);
}

int cli_cmd_voucher(cli *c, const cli_command *cmd, int argc, char **argv) {
    return by_id(c, cmd, argc, argv, "/v1/vouchers/", show_object);
}

int cli_cmd_tx(cli *c, const cli_command *cmd, int argc, char **argv) {
    return by_id(c, cmd, argc, argv, "/v1/txs/", show_with_gap);
}

int cli_cmd_account(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_args a = {.pos_min = 1, .pos_max = 1};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (rc == CLI_PROCEED) rc = cli_parse_address(cmd, "address", a.pos[0], addr);
    if (rc != CLI_PROCEED) return rc;
    char path[96];
    snprintf(path, sizeof path, "/v1/accounts/%s", a.pos[0]);
    return get_and_show(c, path, show_with_gap);
}

int cli_cmd_block(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_args a = {.pos_min = 0, .pos_max = 1};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    uint64_t height = 0;
    if (rc == CLI_PROCEED && a.pos_count == 1)
        rc = cli_parse_u64(cmd, "height", a.pos[0], 0, INT64_MAX, &height);
    if (rc != CLI_PROCEED) return rc;
    char path[64];
    if (a.pos_count == 1)
        snprintf(path, sizeof path, "/v1/blocks/%llu", (unsigned long long) height);
    else
        snprintf(path, sizeof path, "/v1/blocks/latest");
    return get_and_show(c, path, show_object);
}

/* ------------------------------------------------------------------ claims, status */

/* The REVIEW cell: open, or approved/rejected with the reason. */
static void review_cell(char out[160], const json_t *v) {
    const char *review = cli_json_str(v, "review"), *reason = cli_json_str(v, "review_reason");
    if (review == NULL) review = "open";
    bool done = strcmp(review, "open") != 0 && reason != NULL && reason[0] != '\0';
    snprintf(out, 160, "%s%s%s%s", review, done ? " (" : "", done ? reason : "", done ? ")" : "");
}

/* The SETTLED cell: no, or yes with the payment reference, the payer and the amount paid. */
static void settled_cell(char out[256], const json_t *v) {
    if (!json_is_true(json_object_get(v, "settled"))) {
        snprintf(out, 256, "no");
        return;
    }
    const char *pay = cli_json_str(v, "payment_ref"), *payer = cli_json_str(v, "payer");
    char paid[CODEC_YUAN_TEXT_BYTES];
    yuan_cell(paid, v, "paid_fen");
    snprintf(out, 256, "yes: %s, %s paid %s", pay != NULL ? pay : "-",
             payer != NULL && payer[0] != '\0' ? payer : "-", paid);
}

static void show_claims(const json_t *j) {
    static const char *const head[] = {"CLAIM",        "CENTRE", "AMOUNT", "CONTRACT",
                                       "OPENED (CST)", "REVIEW", "SETTLED"};
    const json_t *list = json_object_get(j, "claims");
    if (json_array_size(list) == 0) { /* 0 too when not an array */
        printf("no claims\n");
        return;
    }
    cli_table *t = cli_table_create(7, head);
    const json_t *v;
    for (size_t i = 0; t != NULL && (v = json_array_get(list, i)) != NULL; i++) {
        char amount[CODEC_YUAN_TEXT_BYTES], opened[32], review[160], settled[256];
        yuan_cell(amount, v, "amount_fen");
        time_cell(opened, v, "opened_at_ms");
        review_cell(review, v);
        settled_cell(settled, v);
        const char *row[] = {cli_json_str(v, "id"),
                             cli_json_str(v, "centre"),
                             amount,
                             cli_json_str(v, "contract_ref"),
                             opened,
                             review,
                             settled};
        if (!cli_table_add(t, row)) break;
    }
    if (t != NULL) cli_table_print(t);
    cli_table_destroy(t);
}

int cli_cmd_claims(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {{"--centre", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = 1};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    const char *centre = rc == CLI_PROCEED ? cli_flag_get(&a, "--centre") : NULL;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (rc == CLI_PROCEED && centre != NULL) rc = cli_parse_address(cmd, "--centre", centre, addr);
    if (rc != CLI_PROCEED) return rc;
    char path[96];
    snprintf(path, sizeof path, "/v1/claims%s%s", centre != NULL ? "?centre=" : "",
             centre != NULL ? centre : "");
    return get_and_show(c, path, show_claims);
}

/* ------------------------------------------------------------------ applications */

static void show_applications(const json_t *j) {
    static const char *const head[] = {"APPLICATION", "APPLICANT", "PROGRAM", "ASKED",
                                       "ISSUED",      "CONTRACT",  "COST",    "STATUS"};
    const json_t *list = json_object_get(j, "applications");
    if (json_array_size(list) == 0) { /* 0 too when not an array */
        printf("no applications\n");
        return;
    }
    cli_table *t = cli_table_create(8, head);
    const json_t *v;
    for (size_t i = 0; t != NULL && (v = json_array_get(list, i)) != NULL; i++) {
        char asked[CODEC_YUAN_TEXT_BYTES], issued[CODEC_YUAN_TEXT_BYTES],
            cost[CODEC_YUAN_TEXT_BYTES], status[160];
        yuan_cell(asked, v, "asked_fen");
        yuan_cell(issued, v, "issued_fen");
        yuan_cell(cost, v, "cost_fen");
        const char *st = cli_json_str(v, "status"), *reason = cli_json_str(v, "reason");
        bool rejected = st != NULL && reason != NULL && strcmp(st, "rejected") == 0;
        snprintf(status, sizeof status, "%s%s%s", st != NULL ? st : "?", rejected ? ": " : "",
                 rejected ? reason : "");
        const char *row[] = {cli_json_str(v, "id"),
                             cli_json_str(v, "applicant"),
                             cli_json_str(v, "program"),
                             asked,
                             issued,
                             cli_json_str(v, "contract_ref"),
                             cost,
                             status};
        if (!cli_table_add(t, row)) break;
    }
    if (t != NULL) cli_table_print(t);
    cli_table_destroy(t);
}

int cli_cmd_applications(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {{"--holder", true, NULL}, {"--status", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = 2};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    const char *holder = rc == CLI_PROCEED ? cli_flag_get(&a, "--holder") : NULL;
    const char *status = rc == CLI_PROCEED ? cli_flag_get(&a, "--status") : NULL;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (rc == CLI_PROCEED && holder != NULL) rc = cli_parse_address(cmd, "--holder", holder, addr);
    if (rc == CLI_PROCEED && status != NULL && strcmp(status, "open") != 0 &&
        strcmp(status, "issued") != 0 && strcmp(status, "rejected") != 0)
        rc = cli_usage(cmd, "--status \"%s\": use open, issued or rejected", status);
    if (rc != CLI_PROCEED) return rc;
    char path[160];
    snprintf(path, sizeof path, "/v1/applications%s%s%s%s%s", holder != NULL ? "?holder=" : "",
             holder != NULL ? holder : "",
             status == NULL   ? ""
             : holder != NULL ? "&status="
                              : "?status=",
             status != NULL ? status : "", "");
    return get_and_show(c, path, show_applications);
}

int cli_cmd_status(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_args a = {0};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    if (rc != CLI_PROCEED) return rc;
    return get_and_show(c, "/v1/status", show_object);
}
