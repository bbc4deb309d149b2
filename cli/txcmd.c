/* txcmd.c: the transaction commands (register, issue, transfer, redeem, settle, revoke,
 * apply, reject). Each reads and checks its flags first (bad input exits 1 before anything is
 * sent), then builds the TxBody and hands it to tx.c, which signs, submits and waits.
 * What depends on the chain (its hash function) or on the signer's nonce is filled in by a
 * callback once the node has told us. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "ledger.h"
#include "slq/limits.h"

#define DAY_MS 86400000LL
#define TX_FLAGS                                               \
    {"--key", true, NULL}, {"--passphrase-env", true, NULL}, { \
        "--no-wait", false, NULL                               \
    }
#define FLAGS_COUNT(f) (sizeof(f) / sizeof((f)[0]))

typedef int (*fill_fn)(const cli_signer *s, void *arg);

/* Opens the signer, lets fill() finish the body, signs, submits, waits. */
static int run_tx(cli *c, const cli_args *a, Slq__TxBody *body, fill_fn fill, void *arg) {
    cli_signer s;
    int rc = cli_signer_open(c, &s, cli_flag_get(a, "--key"), cli_flag_get(a, "--passphrase-env"));
    if (rc != CLI_PROCEED) return rc;
    if (fill != NULL) rc = fill(&s, arg);
    if (rc == CLI_PROCEED) rc = cli_tx_submit(c, &s, body, cli_flag_get(a, "--no-wait") != NULL);
    cli_signer_close(&s);
    return rc;
}

/* Parses the flags and checks the required ones (--key always). */
static int parse(cli *c, const cli_command *cmd, cli_args *a, int argc, char **argv,
                 const char *const *required) {
    int rc = cli_args_parse(c, cmd, a, argc, argv);
    if (rc == CLI_PROCEED) rc = cli_flags_require(cmd, a, (const char *const[]){"--key", NULL});
    if (rc == CLI_PROCEED) rc = cli_flags_require(cmd, a, required);
    return rc;
}

/* ------------------------------------------------------------------ register */

typedef struct {
    Slq__Register *reg;
    const char *credit_code; /* checked and upper-cased, or NULL */
    uint8_t hash[CRYPTO_HASH_BYTES];
} register_fill;

/* The credit code is stored as its hash under the chain's hash function. */
static int fill_register(const cli_signer *s, void *arg) {
    register_fill *f = arg;
    if (f->credit_code == NULL) return CLI_PROCEED;
    crypto_hash(s->suite, f->hash, (const uint8_t *) f->credit_code, strlen(f->credit_code));
    f->reg->credit_code_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, f->hash};
    return CLI_PROCEED;
}

/* Checks --credit-code (GB 32100-2015) into c->code, upper-cased; holder-class roles need
 * one. Sets *given. Exits 1 on a missing or wrong code: the ledger would refuse the first,
 * and a typo would register a code nobody has. */
static int parse_credit_code(const cli_command *cmd, const cli_args *a, Slq__Role role,
                             codec_credit_code *c, bool *given) {
    const char *text = cli_flag_get(a, "--credit-code");
    *given = text != NULL;
    if (text == NULL && ledger_role_needs_credit_code(role))
        return cli_usage(cmd,
                         "--role %s needs --credit-code, the 18-character unified social "
                         "credit code (统一社会信用代码)",
                         codec_role_name(role));
    if (text == NULL) return CLI_PROCEED;
    switch (codec_credit_code_parse(c, text)) {
        case CODEC_CREDIT_CODE_OK:
            return CLI_PROCEED;
        case CODEC_CREDIT_CODE_BAD_LENGTH:
            return cli_usage(cmd, "--credit-code \"%s\": must be 18 characters, got %zu", text,
                             c->length);
        case CODEC_CREDIT_CODE_BAD_CHAR:
            return cli_usage(cmd,
                             "--credit-code \"%s\": character %zu is not one of 0-9 and A-Z "
                             "without I, O, Z, S, V",
                             text, c->bad_at + 1);
        default:
            return cli_usage(cmd,
                             "--credit-code \"%s\": the check character (the 18th) is '%c', "
                             "expected '%c' (GB 32100-2015); is the code mistyped?",
                             text, c->code[CODEC_CREDIT_CODE_CHARS - 1], c->expected);
    }
}

int cli_cmd_register(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--address", true, NULL},
                     {"--role", true, NULL},
                     {"--name", true, NULL},
                     {"--credit-code", true, NULL},
                     {"--affiliation", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc =
        parse(c, cmd, &a, argc, argv, (const char *const[]){"--address", "--role", "--name", NULL});
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    Slq__Register reg = SLQ__REGISTER__INIT;
    if (rc == CLI_PROCEED)
        rc = cli_parse_address(cmd, "--address", cli_flag_get(&a, "--address"), addr);
    if (rc == CLI_PROCEED && codec_role_parse(&reg.role, cli_flag_get(&a, "--role")) != SLQ_OK)
        rc = cli_usage(cmd,
                       "--role \"%s\": use centre, finance, enterprise, maker, research, "
                       "university, intermediary or regulator",
                       cli_flag_get(&a, "--role"));
    codec_credit_code code;
    bool coded = false;
    if (rc == CLI_PROCEED) rc = parse_credit_code(cmd, &a, reg.role, &code, &coded);
    if (rc != CLI_PROCEED) return rc;
    const char *affiliation = cli_flag_get(&a, "--affiliation");
    reg.address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, addr};
    reg.name = (char *) cli_flag_get(&a, "--name");
    reg.affiliation = (char *) (affiliation != NULL ? affiliation : "");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REGISTER;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REGISTER;
    body.register_ = &reg;
    register_fill f = {.reg = &reg, .credit_code = coded ? code.code : NULL};
    return run_tx(c, &a, &body, fill_register, &f);
}

/* ------------------------------------------------------------------ issue */

typedef struct {
    Slq__Issue *issue;
    char ref[SLQ_REF_BYTES_MAX + 1];
} issue_fill;

/* Without --ref: "cli:<issuer address>:<nonce>", unique per issuer transaction; against an
 * application none is needed (the application is the reference). */
static int fill_issue(const cli_signer *s, void *arg) {
    issue_fill *f = arg;
    if (f->issue->application_ref != NULL) return CLI_PROCEED;
    if (f->issue->application_id.len != 0) {
        f->issue->application_ref = "";
        return CLI_PROCEED;
    }
    snprintf(f->ref, sizeof f->ref, "cli:%s:%llu", s->address_text, (unsigned long long) s->nonce);
    f->issue->application_ref = f->ref;
    fprintf(stderr,
            "slq: note: no --ref given; using application reference %s (a retry "
            "will not be recognised as the same application)\n",
            f->ref);
    return CLI_PROCEED;
}

/* --expires YYYY-MM-DD (usable through that whole CST day) or --expires-ms MS. */
static int parse_expiry(const cli_command *cmd, const cli_args *a, int64_t *ms) {
    const char *day = cli_flag_get(a, "--expires"), *raw = cli_flag_get(a, "--expires-ms");
    *ms = 0;
    if (day != NULL && raw != NULL)
        return cli_usage(cmd, "give --expires or --expires-ms, not both");
    if (day != NULL) {
        int rc = cli_parse_date(cmd, "--expires", day, ms);
        *ms += DAY_MS; /* 00:00 CST of the next day */
        return rc;
    }
    uint64_t v = 0;
    if (raw == NULL) return CLI_PROCEED;
    int rc = cli_parse_u64(cmd, "--expires-ms", raw, 1, INT64_MAX, &v);
    *ms = (int64_t) v;
    return rc;
}

/* --application ID: holder, program and cost come from the application; the amount defaults
 * to the amount asked (0 on the wire). */
static int issue_application(const cli_command *cmd, const cli_args *a, Slq__Issue *is,
                             uint8_t *id) {
    static const char *const taken[] = {"--to", "--program", "--cost"};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        if (cli_flag_get(a, taken[i]) != NULL)
            return cli_usage(cmd, "%s: taken from the application, not given with --application",
                             taken[i]);
    int rc = cli_parse_id(cmd, "--application", cli_flag_get(a, "--application"), id, NULL);
    const char *amount = cli_flag_get(a, "--amount");
    if (rc == CLI_PROCEED && amount != NULL)
        rc = cli_parse_yuan(cmd, "--amount", amount, &is->amount_fen);
    if (rc == CLI_PROCEED) rc = parse_expiry(cmd, a, &is->expires_at_ms);
    const char *ref = cli_flag_get(a, "--ref");
    if (rc == CLI_PROCEED && ref != NULL && ref[0] == '\0')
        rc = cli_usage(cmd, "--ref must not be empty");
    is->application_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    is->program = "";
    is->application_ref = (char *) ref;
    return rc;
}

static int issue_fields(const cli_command *cmd, const cli_args *a, Slq__Issue *is, uint8_t *to) {
    int rc =
        cli_flags_require(cmd, a, (const char *const[]){"--to", "--amount", "--program", NULL});
    if (rc == CLI_PROCEED) rc = cli_parse_address(cmd, "--to", cli_flag_get(a, "--to"), to);
    if (rc == CLI_PROCEED)
        rc = cli_parse_yuan(cmd, "--amount", cli_flag_get(a, "--amount"), &is->amount_fen);
    const char *cost = cli_flag_get(a, "--cost");
    if (rc == CLI_PROCEED && cost != NULL) rc = cli_parse_yuan(cmd, "--cost", cost, &is->cost_fen);
    if (rc == CLI_PROCEED) rc = parse_expiry(cmd, a, &is->expires_at_ms);
    const char *ref = cli_flag_get(a, "--ref");
    if (rc == CLI_PROCEED && ref != NULL && ref[0] == '\0')
        rc = cli_usage(cmd, "--ref must not be empty");
    is->holder = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, to};
    is->program = (char *) cli_flag_get(a, "--program");
    is->application_ref = (char *) ref;
    return rc;
}

int cli_cmd_issue(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--to", true, NULL},
                     {"--amount", true, NULL},
                     {"--program", true, NULL},
                     {"--cost", true, NULL},
                     {"--expires", true, NULL},
                     {"--expires-ms", true, NULL},
                     {"--ref", true, NULL},
                     {"--application", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc = parse(c, cmd, &a, argc, argv, (const char *const[]){NULL});
    Slq__Issue is = SLQ__ISSUE__INIT;
    uint8_t to[CRYPTO_ADDRESS_BYTES], app[CRYPTO_HASH_BYTES];
    if (rc == CLI_PROCEED && cli_flag_get(&a, "--application") != NULL)
        rc = issue_application(cmd, &a, &is, app);
    else if (rc == CLI_PROCEED)
        rc = issue_fields(cmd, &a, &is, to);
    if (rc != CLI_PROCEED) return rc;
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_ISSUE;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_ISSUE;
    body.issue = &is;
    issue_fill f = {.issue = &is};
    return run_tx(c, &a, &body, fill_issue, &f);
}

/* ------------------------------------------------------------------ transfer */

int cli_cmd_transfer(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {
        TX_FLAGS, {"--voucher", true, NULL}, {"--to", true, NULL}, {"--amount", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc =
        parse(c, cmd, &a, argc, argv, (const char *const[]){"--voucher", "--to", "--amount", NULL});
    Slq__Transfer t = SLQ__TRANSFER__INIT;
    uint8_t id[CRYPTO_HASH_BYTES], to[CRYPTO_ADDRESS_BYTES];
    if (rc == CLI_PROCEED)
        rc = cli_parse_id(cmd, "--voucher", cli_flag_get(&a, "--voucher"), id, NULL);
    if (rc == CLI_PROCEED) rc = cli_parse_address(cmd, "--to", cli_flag_get(&a, "--to"), to);
    if (rc == CLI_PROCEED)
        rc = cli_parse_yuan(cmd, "--amount", cli_flag_get(&a, "--amount"), &t.amount_fen);
    if (rc != CLI_PROCEED) return rc;
    t.voucher_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    t.to = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, to};
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_TRANSFER;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_TRANSFER;
    body.transfer = &t;
    return run_tx(c, &a, &body, NULL, NULL);
}

/* ------------------------------------------------------------------ redeem */

typedef struct {
    Slq__Redeem *redeem;
    FILE *evidence; /* NULL: hash the contract reference */
    const char *evidence_path;
    uint8_t hash[CRYPTO_HASH_BYTES];
} redeem_fill;

/* hash = H(the file's bytes), or H(ref) when there is no file. */
static int hash_evidence(crypto_suite suite, uint8_t hash[CRYPTO_HASH_BYTES], FILE *file,
                         const char *path, const char *ref) {
    crypto_hasher h;
    crypto_hasher_init(&h, suite);
    if (file == NULL) crypto_hasher_update(&h, (const uint8_t *) ref, strlen(ref));
    uint8_t buf[8192];
    size_t n = 0;
    while (file != NULL && (n = fread(buf, 1, sizeof buf, file)) > 0)
        crypto_hasher_update(&h, buf, n);
    crypto_hasher_final(&h, hash);
    if (file != NULL && ferror(file))
        return cli_fail(CLI_EXIT_USAGE, "--evidence %s: read failed", path);
    return CLI_PROCEED;
}

/* evidence_hash = H(file bytes), or H(contract reference) without --evidence. */
static int fill_redeem(const cli_signer *s, void *arg) {
    redeem_fill *f = arg;
    int rc =
        hash_evidence(s->suite, f->hash, f->evidence, f->evidence_path, f->redeem->contract_ref);
    if (rc != CLI_PROCEED) return rc;
    f->redeem->evidence_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, f->hash};
    return CLI_PROCEED;
}

/* Splits "ID,ID,..." into ids (at most SLQ_REDEEM_VOUCHERS_MAX). */
static int parse_ids(const cli_command *cmd, const char *list, uint8_t (*ids)[CRYPTO_HASH_BYTES],
                     ProtobufCBinaryData *out, size_t *count) {
    *count = 0;
    for (const char *p = list;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t) (comma - p) : strlen(p);
        if (*count == SLQ_REDEEM_VOUCHERS_MAX)
            return cli_usage(cmd, "--voucher: at most %u vouchers", SLQ_REDEEM_VOUCHERS_MAX);
        if (n != 2 * CRYPTO_HASH_BYTES)
            return cli_usage(cmd, "--voucher \"%.*s\": not an id (64 hex digits)", (int) n, p);
        char one[CLI_ID_HEX_BYTES];
        memcpy(one, p, n);
        one[n] = '\0';
        int rc = cli_parse_id(cmd, "--voucher", one, ids[*count], NULL);
        if (rc != CLI_PROCEED) return rc;
        out[*count] = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, ids[*count]};
        ++*count;
        if (comma == NULL) return CLI_PROCEED;
        p = comma + 1;
    }
}

int cli_cmd_redeem(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--voucher", true, NULL},
                     {"--contract", true, NULL},
                     {"--evidence", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc = parse(c, cmd, &a, argc, argv, (const char *const[]){"--voucher", "--contract", NULL});
    uint8_t ids[SLQ_REDEEM_VOUCHERS_MAX][CRYPTO_HASH_BYTES];
    ProtobufCBinaryData list[SLQ_REDEEM_VOUCHERS_MAX];
    Slq__Redeem r = SLQ__REDEEM__INIT;
    if (rc == CLI_PROCEED)
        rc = parse_ids(cmd, cli_flag_get(&a, "--voucher"), ids, list, &r.n_voucher_ids);
    redeem_fill f = {.redeem = &r, .evidence_path = cli_flag_get(&a, "--evidence")};
    if (rc == CLI_PROCEED && f.evidence_path != NULL &&
        (f.evidence = fopen(f.evidence_path, "rb")) == NULL)
        rc = cli_fail(CLI_EXIT_USAGE, "--evidence %s: %s", f.evidence_path, strerror(errno));
    if (rc != CLI_PROCEED) return rc;
    r.voucher_ids = list;
    r.contract_ref = (char *) cli_flag_get(&a, "--contract");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REDEEM;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REDEEM;
    body.redeem = &r;
    rc = run_tx(c, &a, &body, fill_redeem, &f);
    if (f.evidence != NULL) fclose(f.evidence);
    return rc;
}

/* ------------------------------------------------------------------ settle, review, revoke */

int cli_cmd_settle(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--claim", true, NULL},
                     {"--payment", true, NULL},
                     {"--payer", true, NULL},
                     {"--amount", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc = parse(c, cmd, &a, argc, argv,
                   (const char *const[]){"--claim", "--payment", "--payer", NULL});
    uint8_t id[CRYPTO_HASH_BYTES];
    if (rc == CLI_PROCEED) rc = cli_parse_id(cmd, "--claim", cli_flag_get(&a, "--claim"), id, NULL);
    Slq__Settle st = SLQ__SETTLE__INIT;
    const char *amount = rc == CLI_PROCEED ? cli_flag_get(&a, "--amount") : NULL;
    if (amount != NULL) rc = cli_parse_yuan(cmd, "--amount", amount, &st.amount_fen);
    if (rc != CLI_PROCEED) return rc;
    st.claim_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    st.payment_ref = (char *) cli_flag_get(&a, "--payment");
    st.payer = (char *) cli_flag_get(&a, "--payer");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_SETTLE;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_SETTLE;
    body.settle = &st;
    return run_tx(c, &a, &body, NULL, NULL);
}

int cli_cmd_review(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--claim", true, NULL},
                     {"--approve", false, NULL},
                     {"--reject", false, NULL},
                     {"--reason", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc = parse(c, cmd, &a, argc, argv, (const char *const[]){"--claim", "--reason", NULL});
    bool approve = rc == CLI_PROCEED && cli_flag_get(&a, "--approve") != NULL;
    bool reject = rc == CLI_PROCEED && cli_flag_get(&a, "--reject") != NULL;
    if (rc == CLI_PROCEED && approve == reject)
        rc = cli_usage(cmd, "give exactly one of --approve and --reject");
    uint8_t id[CRYPTO_HASH_BYTES];
    if (rc == CLI_PROCEED) rc = cli_parse_id(cmd, "--claim", cli_flag_get(&a, "--claim"), id, NULL);
    if (rc != CLI_PROCEED) return rc;
    Slq__ReviewClaim r = SLQ__REVIEW_CLAIM__INIT;
    r.claim_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    r.approve = approve;
    r.reason = (char *) cli_flag_get(&a, "--reason");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REVIEW_CLAIM;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REVIEW_CLAIM;
    body.review_claim = &r;
    return run_tx(c, &a, &body, NULL, NULL);
}

int cli_cmd_revoke(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS, {"--voucher", true, NULL}, {"--reason", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc = parse(c, cmd, &a, argc, argv, (const char *const[]){"--voucher", "--reason", NULL});
    uint8_t id[CRYPTO_HASH_BYTES];
    if (rc == CLI_PROCEED)
        rc = cli_parse_id(cmd, "--voucher", cli_flag_get(&a, "--voucher"), id, NULL);
    if (rc != CLI_PROCEED) return rc;
    Slq__Revoke rv = SLQ__REVOKE__INIT;
    rv.voucher_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    rv.reason = (char *) cli_flag_get(&a, "--reason");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REVOKE;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REVOKE;
    body.revoke = &rv;
    return run_tx(c, &a, &body, NULL, NULL);
}

/* ------------------------------------------------------------------ apply, reject */

typedef struct {
    Slq__Apply *apply;
    FILE *evidence;
    const char *evidence_path;
    uint8_t hash[CRYPTO_HASH_BYTES];
} apply_fill;

/* evidence_hash = H(the contract or quotation file's bytes). */
static int fill_apply(const cli_signer *s, void *arg) {
    apply_fill *f = arg;
    int rc = hash_evidence(s->suite, f->hash, f->evidence, f->evidence_path, "");
    if (rc != CLI_PROCEED) return rc;
    f->apply->evidence_hash = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, f->hash};
    return CLI_PROCEED;
}

int cli_cmd_apply(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS,
                     {"--program", true, NULL},
                     {"--amount", true, NULL},
                     {"--contract", true, NULL},
                     {"--cost", true, NULL},
                     {"--evidence", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc =
        parse(c, cmd, &a, argc, argv,
              (const char *const[]){"--program", "--amount", "--contract", "--evidence", NULL});
    Slq__Apply ap = SLQ__APPLY__INIT;
    if (rc == CLI_PROCEED)
        rc = cli_parse_yuan(cmd, "--amount", cli_flag_get(&a, "--amount"), &ap.amount_fen);
    const char *cost = rc == CLI_PROCEED ? cli_flag_get(&a, "--cost") : NULL;
    if (cost != NULL) rc = cli_parse_yuan(cmd, "--cost", cost, &ap.cost_fen);
    apply_fill f = {.apply = &ap, .evidence_path = cli_flag_get(&a, "--evidence")};
    if (rc == CLI_PROCEED && (f.evidence = fopen(f.evidence_path, "rb")) == NULL)
        rc = cli_fail(CLI_EXIT_USAGE, "--evidence %s: %s", f.evidence_path, strerror(errno));
    if (rc != CLI_PROCEED) return rc;
    ap.program = (char *) cli_flag_get(&a, "--program");
    ap.contract_ref = (char *) cli_flag_get(&a, "--contract");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_APPLY;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_APPLY;
    body.apply = &ap;
    rc = run_tx(c, &a, &body, fill_apply, &f);
    fclose(f.evidence);
    return rc;
}

int cli_cmd_reject(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag fl[] = {TX_FLAGS, {"--application", true, NULL}, {"--reason", true, NULL}};
    cli_args a = {.flags = fl, .flags_count = FLAGS_COUNT(fl)};
    int rc =
        parse(c, cmd, &a, argc, argv, (const char *const[]){"--application", "--reason", NULL});
    uint8_t id[CRYPTO_HASH_BYTES];
    if (rc == CLI_PROCEED)
        rc = cli_parse_id(cmd, "--application", cli_flag_get(&a, "--application"), id, NULL);
    if (rc != CLI_PROCEED) return rc;
    Slq__RejectApplication r = SLQ__REJECT_APPLICATION__INIT;
    r.application_id = (ProtobufCBinaryData){CRYPTO_HASH_BYTES, id};
    r.reason = (char *) cli_flag_get(&a, "--reason");
    Slq__TxBody body = SLQ__TX_BODY__INIT;
    body.kind = SLQ__TX_KIND__TX_REJECT_APPLICATION;
    body.payload_case = SLQ__TX_BODY__PAYLOAD_REJECT_APPLICATION;
    body.reject_application = &r;
    return run_tx(c, &a, &body, NULL, NULL);
}
