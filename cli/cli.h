/* cli.h: what the source files of `slq`, the command-line client, share.
 *
 * One process runs one command. Everything a command needs is reached through a `cli`
 * handle that main() owns (node URL, output mode, the libcurl handle); there is no global
 * mutable state. Every function that can end the command returns an exit code
 * (docs/cli.md): 0 success, 1 bad usage or input caught here, 2 refused by the node or the
 * ledger, 3 node unreachable or timed out. CLI_PROCEED (-1) means "carry on". Messages are
 * printed where the problem is found, one line each, on stderr. */
#ifndef SLQ_CLI_H
#define SLQ_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "codec_json.h"
#include "crypto.h"
#include "slq.pb-c.h"

enum {
    CLI_PROCEED = -1,
    CLI_EXIT_OK = 0,
    CLI_EXIT_USAGE = 1,
    CLI_EXIT_REJECTED = 2,
    CLI_EXIT_UNREACHABLE = 3,
};

#define CLI_DEFAULT_NODE       "http://127.0.0.1:7601"
#define CLI_NODE_URL_BYTES_MAX 512u
#define CLI_CONNECT_TIMEOUT_MS 3000L
#define CLI_REQUEST_TIMEOUT_MS 30000L
#define CLI_WAIT_MS            30000L /* how long a transaction command waits for its block */
#define CLI_POLL_MS            100L
#define CLI_RESPONSE_BYTES_MAX (16u * 1024 * 1024)
#define CLI_ID_HEX_BYTES       65u /* 64 hex digits and a NUL */

typedef struct {
    char node[CLI_NODE_URL_BYTES_MAX]; /* base URL without a trailing slash */
    bool json;                         /* --json: machine-readable output on stdout */
    void *curl;                        /* CURL *, made on first use */
} cli;

/* ---- commands (help.c holds the table: names, synopses, help texts) ---- */

struct cli_command;
typedef int (*cli_run_fn)(cli *c, const struct cli_command *cmd, int argc, char **argv);

typedef struct cli_command {
    const char *name;
    cli_run_fn run;
    const char *synopsis; /* the usage line, without "slq " */
    const char *help;     /* what --help prints after the usage line */
} cli_command;

extern const cli_command cli_commands[];
extern const size_t cli_commands_count;
extern const char cli_global_help[];

int cli_cmd_keygen(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_address(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_testnet(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_register(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_issue(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_transfer(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_redeem(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_settle(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_review(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_revoke(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_apply(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_reject(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_applications(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_balance(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_vouchers(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_account(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_voucher(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_tx(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_block(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_claims(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_status(cli *c, const cli_command *cmd, int argc, char **argv);
int cli_cmd_audit(cli *c, const cli_command *cmd, int argc, char **argv);

/* ---- arguments (args.c) ---- */

typedef struct {
    const char *name;  /* "--amount" */
    bool takes_value;  /* false: a switch */
    const char *value; /* after parsing: the value ("" for a switch), NULL when absent */
} cli_flag;

#define CLI_POSITIONAL_MAX 2u

typedef struct {
    cli_flag *flags;
    size_t flags_count;
    size_t pos_min; /* positional arguments expected */
    size_t pos_max;
    const char *pos[CLI_POSITIONAL_MAX];
    size_t pos_count;
} cli_args;

/* Parses argv[0..argc) (the words after the command name) into a, and the global flags
 * (--node URL, --json) into c. --help prints the command's help: returns 0. A usage error
 * prints one line: returns 1. Otherwise CLI_PROCEED. */
int cli_args_parse(cli *c, const cli_command *cmd, cli_args *a, int argc, char **argv);
/* The value of flag `name`, or NULL when it was not given. */
const char *cli_flag_get(const cli_args *a, const char *name);
/* Returns 1 (after one line naming the first missing flag) unless all of names[] (ending
 * with NULL) were given; else CLI_PROCEED. */
int cli_flags_require(const cli_command *cmd, const cli_args *a, const char *const *names);
/* Sets c->node from a URL (http:// or https://), without trailing slashes. 1 or PROCEED. */
int cli_node_set(cli *c, const char *url);

/* ---- parsing user input (input.c); each prints its own one-line error ---- */

/* Each returns CLI_PROCEED or 1 after "slq CMD: FLAG: reason". */
int cli_parse_yuan(const cli_command *cmd, const char *flag, const char *text, int64_t *fen);
int cli_parse_address(const cli_command *cmd, const char *flag, const char *text,
                      uint8_t out[CRYPTO_ADDRESS_BYTES]);
/* 64 hex digits (either case) into out[32]; hex (if not NULL) gets the lowercase form. */
int cli_parse_id(const cli_command *cmd, const char *flag, const char *text,
                 uint8_t out[CRYPTO_HASH_BYTES], char hex[CLI_ID_HEX_BYTES]);
int cli_parse_u64(const cli_command *cmd, const char *flag, const char *text, uint64_t min,
                  uint64_t max, uint64_t *out);
/* YYYY-MM-DD (a real calendar date, years 1970..9999) -> UTC ms of 00:00 CST that day. */
int cli_parse_date(const cli_command *cmd, const char *flag, const char *text, int64_t *ms);
/* UTC ms of 00:00 CST today (from the system clock). */
int64_t cli_today_cst_ms(void);
/* The CST calendar date of UTC ms. */
void cli_cst_date(int64_t ms, int64_t *y, unsigned *m, unsigned *d);
/* Formats UTC ms as "YYYY-MM-DD HH:MM" in CST into out. */
void cli_format_cst(char out[32], int64_t ms);

/* ---- output (out.c) ---- */

/* Prints "slq: " + message on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "slq CMD: message (see slq CMD --help)" and returns 1. */
int cli_usage(const cli_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON value as pretty text (two-space indent, final newline), malloc'd; NULL: no memory. */
char *cli_json_text(const json_t *j);
/* Prints a JSON value on stdout, pretty, with a newline. 0, or 1 when out of memory. */
int cli_print_json(const json_t *j);
/* Prints a node's JSON object for people: one "key  value" line per member, amounts
 * (*_fen) in yuan, times (*_ms) in CST, nested objects and arrays indented. */
void cli_print_object(const json_t *obj, int indent);

/* A text table with aligned columns (display width aware for CJK text). */
typedef struct cli_table cli_table;
cli_table *cli_table_create(size_t cols, const char *const *header); /* NULL: no memory */
/* Adds a row of cols cells (NULL cells print "-"). false: no memory. */
bool cli_table_add(cli_table *t, const char *const *cells);
void cli_table_print(const cli_table *t);
void cli_table_destroy(cli_table *t);

/* Members of a node's JSON object: NULL/false when absent or of another type. */
const char *cli_json_str(const json_t *obj, const char *key);
/* An integer member, exact for all of int64 (codec_json.h); false for a real ("1.0"). */
bool cli_json_int(const json_t *obj, const char *key, int64_t *out);

/* ---- HTTP (http.c) ---- */

typedef struct {
    long status; /* HTTP status code */
    char *body;  /* NUL-terminated, owned */
    size_t len;
    json_t *json; /* the parsed body, or NULL; owned (json_decref) */
} cli_response;

/* GET (body == NULL) or POST body as JSON to c->node + path. On a response (any status)
 * returns CLI_PROCEED with *r filled (cli_response_free() it); when the node cannot be
 * reached or does not answer in time prints "slq: node unreachable at URL: why" and
 * returns 3. */
int cli_http(cli *c, const char *path, const char *body, cli_response *r);
void cli_response_free(cli_response *r);
/* For a response that should be a 2xx JSON object: CLI_PROCEED if so; else prints the
 * node's error ("slq: NAME: message") and returns 2 for a 4xx refusal, or 3 for 429, a
 * 5xx or a body that is not JSON. */
int cli_response_check(const cli *c, const cli_response *r);
/* cli_http GET + cli_response_check. On CLI_PROCEED *r is yours. */
int cli_get(cli *c, const char *path, cli_response *r);
/* Releases the curl handle. */
void cli_http_close(cli *c);

/* ---- keys (keys.c) ---- */

/* Reads the passphrase from environment variable env (NULL: none). 1 if it is unset. */
int cli_passphrase(const char *env, const char **out);
/* Loads a PEM key file (at most SLQ_KEY_FILE_BYTES_MAX). 1 with a reason on failure. */
int cli_key_load(const char *path, const char *passphrase_env, crypto_key **out);
/* The address of a key, as text. */
int cli_key_address(const crypto_key *key, crypto_suite suite, uint8_t addr[CRYPTO_ADDRESS_BYTES],
                    char text[CRYPTO_ADDRESS_TEXT_BYTES]);
/* Writes len bytes to a new file (refusing to overwrite) with mode. 1 on failure. */
int cli_write_new_file(const char *path, const char *data, size_t len, mode_t mode);
/* Writes key as PEM into a new 0600 file. */
int cli_key_write(const crypto_key *key, const char *path, const char *passphrase);

/* ---- transactions (tx.c) ---- */

/* Who signs, on which chain, with which nonce. */
typedef struct {
    crypto_key *key; /* owned */
    crypto_suite suite;
    char chain_id[80];
    uint8_t address[CRYPTO_ADDRESS_BYTES];
    char address_text[CRYPTO_ADDRESS_TEXT_BYTES];
    uint64_t nonce; /* the nonce to sign with: pending_nonce + 1 */
} cli_signer;

/* Loads the key (1 on a bad file or passphrase), then asks the node for the chain's id
 * and suite (refusing a key of another suite: 1) and for the signer's pending nonce (an
 * unknown signer signs with nonce 1, so that the ledger's SIGNER_UNKNOWN reaches the user).
 * On CLI_PROCEED, close with cli_signer_close(). */
int cli_signer_open(cli *c, cli_signer *s, const char *key_path, const char *passphrase_env);
void cli_signer_close(cli_signer *s);
/* Signs body (its nonce is set here), submits it, and unless no_wait waits for its block;
 * prints the outcome. Returns 0 committed (or accepted with no_wait), 2 rejected, 3
 * unreachable or not committed within CLI_WAIT_MS. */
int cli_tx_submit(cli *c, const cli_signer *s, Slq__TxBody *body, bool no_wait);

#endif
