/* verify_main.c: the `slqd verify` subcommand (docs/audit.md): arguments, the home's files,
 * the output. Failure lines and the summary go to stdout, or to stderr when a report is
 * asked for, so that stdout then holds the report alone. The report is printed only for a
 * chain that verified: figures of a chain that did not are not the chain's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "report.h"
#include "slq/limits.h"
#include "slq/log.h"
#include "verify.h"

#define FAILURES_SHOWN_MAX 1000u
#define PATH_BYTES         4096u
#define GENESIS_WHY_BYTES  256u /* what genesis.json's decoding refused */
#define RUN_WHY_BYTES      512u /* what stopped the audit: a path and a reason */

enum { EXIT_VERIFIED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

typedef struct {
    const char *home, *sign;
    bool report, json, csv;
    uint32_t year;
} verify_args;

static int usage(const char *why) {
    if (why != NULL) fprintf(stderr, "slqd verify: %s\n", why);
    fprintf(stderr, "usage: slqd verify --home DIR [--report [--json|--csv] [--year YYYY] "
                    "[--sign KEY]]\n");
    return EXIT_USAGE;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(verify_args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(w, "--home") == 0 && next != NULL)
            a->home = argv[++i];
        else if (strcmp(w, "--sign") == 0 && next != NULL)
            a->sign = argv[++i];
        else if (strcmp(w, "--year") == 0 && next != NULL && report_year_parse(next, &a->year))
            i++;
        else if (strcmp(w, "--report") == 0)
            a->report = true;
        else if (strcmp(w, "--json") == 0)
            a->json = true;
        else if (strcmp(w, "--csv") == 0)
            a->csv = true;
        else
            return usage(strcmp(w, "--year") == 0 ? "--year needs a year 2000..9999" : NULL);
    }
    if (a->home == NULL) return usage("--home DIR is required");
    if (a->json && a->csv) return usage("--json and --csv exclude each other");
    if ((a->json || a->csv || a->year != 0 || a->sign != NULL) && !a->report)
        return usage("--json, --csv, --year and --sign go with --report");
    if (a->sign != NULL && a->csv) return usage("--sign signs the JSON report, not CSV");
    return -1;
}

/* Reads a whole small file into a NUL-terminated malloc'd buffer. */
static slq_err read_file(const char *path, size_t max, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return SLQ_IO;
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    bool err = ferror(f) != 0;
    if (fclose(f) != 0) err = true;
    if (buf == NULL) return SLQ_NO_MEMORY;
    if (err || n > max) {
        free(buf);
        return SLQ_IO;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return SLQ_OK;
}

static int load_genesis(const char *home, uint8_t **genesis, size_t *len) {
    char path[PATH_BYTES], *text = NULL, why[GENESIS_WHY_BYTES] = "";
    size_t text_len = 0;
    snprintf(path, sizeof path, "%s/genesis.json", home);
    if (read_file(path, CODEC_GENESIS_JSON_BYTES_MAX, &text, &text_len) != SLQ_OK) {
        fprintf(stderr, "slqd verify: %s: cannot read it\n", path);
        return EXIT_USAGE;
    }
    slq_err err = codec_genesis_from_json(genesis, len, text, text_len, why, sizeof why);
    free(text);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd verify: %s: %s\n", path, why[0] != '\0' ? why : slq_err_str(err));
        return EXIT_USAGE;
    }
    return -1;
}

/* The regulator's key for --sign; its passphrase, if any, from SLQ_KEY_PASSPHRASE. Like the
 * node key, a key file group or others may read is refused (crypto_key_load_file). */
static int load_key(const char *path, crypto_key **key) {
    char why[2 * 4096 + 128] = ""; /* the mode refusal names the path twice */
    slq_err err = crypto_key_load_file(key, path, getenv("SLQ_KEY_PASSPHRASE"), why, sizeof why);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd verify: %s\n", why[0] != '\0' ? why : slq_err_str(err));
        return EXIT_USAGE;
    }
    return -1;
}

typedef struct {
    FILE *out;
    size_t count;
} failure_sink;

static void print_failure(void *arg, const char *line) {
    failure_sink *s = arg;
    if (s->count++ < FAILURES_SHOWN_MAX) fprintf(s->out, "FAIL %s\n", line);
}

static void print_summary(FILE *out, const verify_summary *r, const char *chain_id) {
    char tip[2 * CRYPTO_HASH_BYTES + 1], app[2 * CRYPTO_HASH_BYTES + 1];
    codec_hex_encode(tip, r->tip_hash, CRYPTO_HASH_BYTES);
    codec_hex_encode(app, r->app_hash, CRYPTO_HASH_BYTES);
    if (r->failures > FAILURES_SHOWN_MAX)
        fprintf(out, "... and %zu more failures\n", r->failures - FAILURES_SHOWN_MAX);
    if (r->failures > 0) {
        fprintf(out, "verify FAILED: %zu failures (chain %s, walked to height %llu)\n", r->failures,
                chain_id, (unsigned long long) r->height);
        return;
    }
    fprintf(out,
            "verified: chain %s height %llu tip %s: %llu blocks, %llu certificates, %llu "
            "transactions, %llu state rows; app hash %s\n",
            chain_id, (unsigned long long) r->height, tip, (unsigned long long) r->height,
            (unsigned long long) r->certs, (unsigned long long) r->txs,
            (unsigned long long) r->rows, app);
}

/* Prints the report of a verified chain on stdout, as asked. */
static int print_report(const verify *v, const verify_args *a, const crypto_key *key) {
    char *json = NULL, *text = NULL;
    size_t len = 0, text_len = 0;
    slq_err err = verify_report(v, a->year == 0 ? REPORT_ALL_YEARS : a->year, &json, &len);
    if (err == SLQ_OK && key != NULL)
        err = codec_report_sign(&text, &text_len, json, len, key);
    else if (err == SLQ_OK && !a->json)
        err = codec_report_format(&text, json, len, a->csv ? CODEC_REPORT_CSV : CODEC_REPORT_TABLE);
    if (err != SLQ_OK) {
        free(json);
        fprintf(stderr, "slqd verify: report: %s\n", slq_err_str(err));
        return EXIT_FAILED;
    }
    if (text != NULL)
        fputs(text, stdout);
    else
        printf("%s\n", json);
    free(text);
    free(json);
    return fflush(stdout) == 0 ? EXIT_VERIFIED : EXIT_FAILED;
}

static int run(const verify_args *a, const uint8_t *genesis, size_t genesis_len,
               const crypto_key *key) {
    char data[PATH_BYTES], why[RUN_WHY_BYTES] = "";
    snprintf(data, sizeof data, "%s/data", a->home);
    failure_sink sink = {.out = a->report ? stderr : stdout};
    verify_opts o = {.on_failure = print_failure, .arg = &sink, .progress = isatty(2) == 1};
    verify *v = NULL;
    slq_err err = verify_run(&v, genesis, genesis_len, data, &o, why, sizeof why);
    if (err != SLQ_OK) {
        fprintf(stderr, "slqd verify: %s\n", why);
        return err == SLQ_NOT_FOUND || err == SLQ_GENESIS_INVALID || err == SLQ_IO ? EXIT_USAGE
                                                                                   : EXIT_FAILED;
    }
    const verify_summary *r = verify_result(v);
    print_summary(sink.out, r, verify_chain_id(v));
    int rc = r->failures > 0 ? EXIT_FAILED : EXIT_VERIFIED;
    if (rc == EXIT_VERIFIED && a->report) rc = print_report(v, a, key);
    verify_free(v);
    return rc;
}

int verify_main(int argc, char **argv) {
    verify_args a = {0};
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0) return rc;
    slq_log_threshold = SLQ_LOG_ERROR; /* failures are reported as lines of their own */
    uint8_t *genesis = NULL;
    size_t genesis_len = 0;
    crypto_key *key = NULL;
    rc = load_genesis(a.home, &genesis, &genesis_len);
    if (rc < 0 && a.sign != NULL) rc = load_key(a.sign, &key);
    if (rc < 0) rc = run(&a, genesis, genesis_len, key);
    crypto_key_destroy(key);
    free(genesis);
    return rc;
}
