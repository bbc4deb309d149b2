/* audit.c: `slq audit` (docs/cli.md, docs/audit.md).
 *
 *   slq audit [--year YYYY] [--csv | --sign KEY [--passphrase-env VAR]]
 *   slq audit verify-report FILE [--signer ADDR]
 *
 * The first asks the node for the regulator's report of a budget year (GET
 * /v1/report/YEAR): the very JSON that `slqd verify --report --json --year YYYY` prints
 * offline for the same height. People get the aligned table, --json the node's bytes as
 * received, --csv one fact per row; the table and the CSV are rendered by the codec from
 * those bytes, as slqd renders its own. --sign wraps the node's bytes, unchanged, in an
 * envelope signed with the regulator's key (the key is loaded before anything is sent).
 * verify-report checks such an envelope offline: exit 0 valid, 2 invalid (a damaged file
 * included), 1 unreadable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "codec.h"
#include "slq/cst.h"

/* Reads a whole file (at most max bytes) into a NUL-terminated malloc'd buffer. */
static int read_all(const char *path, size_t max, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return cli_fail(CLI_EXIT_USAGE, "%s: cannot read: %s", path, strerror(errno));
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (buf == NULL) return cli_fail(CLI_EXIT_USAGE, "out of memory");
    if (bad || n > max) {
        free(buf);
        return cli_fail(CLI_EXIT_USAGE, "%s: %s", path, bad ? "read error" : "file too large");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return CLI_PROCEED;
}

/* What a valid envelope says: "valid: ... signed by ADDR", or its --json form. */
static int print_valid(const cli *c, const char *env, size_t len, const char *signer) {
    json_t *e = codec_json_parse(env, len, NULL, 0);
    const json_t *r = json_object_get(e, "report");
    int64_t height = -1, year = 0;
    cli_json_int(r, "height", &height);
    cli_json_int(r, "year", &year);
    const char *chain = cli_json_str(r, "chain_id");
    int rc = CLI_EXIT_OK;
    if (c->json) {
        json_t *o = json_object();
        bool ok =
            codec_json_set_bool(o, "valid", true) && codec_json_set_str(o, "signer", signer) &&
            codec_json_set_str(o, "chain_id", chain) && codec_json_set_i64(o, "height", height);
        rc = ok ? cli_print_json(o) : cli_fail(CLI_EXIT_USAGE, "out of memory");
        json_decref(o);
    } else if (year > 0) {
        printf("valid: report of budget year %lld, chain %s at height %lld, signed by %s\n",
               (long long) year, chain != NULL ? chain : "-", (long long) height, signer);
    } else {
        printf("valid: report of chain %s at height %lld, signed by %s\n",
               chain != NULL ? chain : "-", (long long) height, signer);
    }
    json_decref(e);
    return rc;
}

static int verify_report(const cli *c, const char *path, const char *want_signer) {
    char *env = NULL, signer[CRYPTO_ADDRESS_TEXT_BYTES] = "", why[256] = "";
    size_t len = 0;
    int rc = read_all(path, CODEC_REPORT_BYTES_MAX + 1024, &env, &len);
    if (rc != CLI_PROCEED) return rc;
    slq_err err = codec_report_verify(env, len, signer, why, sizeof why);
    if (err == SLQ_OK && want_signer != NULL && strcmp(signer, want_signer) != 0) {
        snprintf(why, sizeof why, "signed by %s, not by %s", signer, want_signer);
        err = SLQ_SIG_INVALID;
    }
    if (err == SLQ_OK) {
        rc = print_valid(c, env, len, signer);
    } else {
        if (c->json) printf("{\n  \"valid\": false\n}\n");
        rc = cli_fail(CLI_EXIT_REJECTED, "%s: invalid: %s", path, why);
    }
    free(env);
    return rc;
}

/* Prints the node's report as asked: signed, verbatim JSON, CSV or the table. */
static int print_report(const cli *c, const cli_response *r, bool csv, const crypto_key *key) {
    char *text = NULL;
    size_t text_len = 0;
    slq_err err = SLQ_OK;
    if (key != NULL)
        err = codec_report_sign(&text, &text_len, r->body, r->len, key);
    else if (!c->json)
        err = codec_report_format(&text, r->body, r->len,
                                  csv ? CODEC_REPORT_CSV : CODEC_REPORT_TABLE);
    if (err != SLQ_OK)
        return cli_fail(CLI_EXIT_UNREACHABLE, "the node's report cannot be %s: %s",
                        key != NULL ? "signed" : "shown", slq_err_str(err));
    if (text != NULL)
        fputs(text, stdout);
    else
        printf("%.*s\n", (int) r->len, r->body);
    free(text);
    return CLI_EXIT_OK;
}

/* The report of a budget year from the node. */
static int report(cli *c, const cli_command *cmd, const cli_args *a) {
    const char *text = cli_flag_get(a, "--year"), *sign = cli_flag_get(a, "--sign");
    bool csv = cli_flag_get(a, "--csv") != NULL;
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0) now.tv_sec = 0;
    uint64_t year = slq_budget_year((int64_t) now.tv_sec * 1000);
    int rc = text != NULL ? cli_parse_u64(cmd, "--year", text, 2000, 9999, &year) : CLI_PROCEED;
    if (rc == CLI_PROCEED && csv && (sign != NULL || c->json))
        rc = cli_usage(cmd, "--csv excludes --json and --sign");
    if (rc == CLI_PROCEED && cli_flag_get(a, "--signer") != NULL)
        rc = cli_usage(cmd, "--signer goes with verify-report");
    crypto_key *key = NULL;
    if (rc == CLI_PROCEED && sign != NULL)
        rc = cli_key_load(sign, cli_flag_get(a, "--passphrase-env"), &key);
    if (rc != CLI_PROCEED) return rc;
    char path[64];
    snprintf(path, sizeof path, "/v1/report/%llu", (unsigned long long) year);
    cli_response r;
    rc = cli_get(c, path, &r);
    if (rc == CLI_PROCEED) {
        rc = print_report(c, &r, csv, key);
        cli_response_free(&r);
    }
    crypto_key_destroy(key);
    return rc;
}

int cli_cmd_audit(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {{"--year", true, NULL},
                     {"--csv", false, NULL},
                     {"--sign", true, NULL},
                     {"--passphrase-env", true, NULL},
                     {"--signer", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = sizeof fl / sizeof fl[0], .pos_max = 2};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    if (rc != CLI_PROCEED) return rc;
    if (a.pos_count == 0) return report(c, cmd, &a);
    if (strcmp(a.pos[0], "verify-report") != 0)
        return cli_usage(cmd, "unknown subcommand \"%s\"", a.pos[0]);
    if (a.pos_count != 2) return cli_usage(cmd, "verify-report needs a FILE");
    if (cli_flag_get(&a, "--year") != NULL || cli_flag_get(&a, "--csv") != NULL ||
        cli_flag_get(&a, "--sign") != NULL)
        return cli_usage(cmd, "verify-report takes only FILE and --signer");
    const char *signer = cli_flag_get(&a, "--signer");
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    if (signer != NULL && (rc = cli_parse_address(cmd, "--signer", signer, addr)) != CLI_PROCEED)
        return rc;
    return verify_report(c, a.pos[1], signer);
}
