/* args.c: the command line of one command: flags (--name VALUE, --name=VALUE, switches),
 * positional words, and the global flags (--node URL, --json) accepted anywhere.
 * Strict: an unknown flag, a flag given twice, a missing value or a stray word is a usage
 * error (exit 1, one line). A value may not start with "--" unless written --name=VALUE,
 * so that a forgotten value does not swallow the next flag. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "slq/assert.h"

static cli_flag *find_flag(cli_args *a, const char *name, size_t name_len) {
    for (size_t i = 0; i < a->flags_count; i++) {
        const char *n = a->flags[i].name;
        if (strlen(n) == name_len && strncmp(n, name, name_len) == 0) return &a->flags[i];
    }
    return NULL;
}

int cli_node_set(cli *c, const char *url) {
    bool scheme = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') n--;
    if (!scheme || n >= sizeof c->node || n <= 8)
        return cli_fail(CLI_EXIT_USAGE, "--node %s: not an http:// or https:// URL", url);
    memcpy(c->node, url, n);
    c->node[n] = '\0';
    return CLI_PROCEED;
}

static void print_help(const cli_command *cmd) {
    printf("usage: slq %s\n\n%s", cmd->synopsis, cmd->help);
    printf("\nGlobal flags: --node URL (default $SLQ_NODE, else %s), --json.\n", CLI_DEFAULT_NODE);
}

/* Handles one word that starts with "--"; *i moves past its value if it takes one. */
static int parse_flag(cli *c, const cli_command *cmd, cli_args *a, int argc, char **argv, int *i) {
    const char *word = argv[*i];
    const char *eq = strchr(word, '=');
    size_t name_len = eq != NULL ? (size_t) (eq - word) : strlen(word);
    bool is_node = name_len == 6 && strncmp(word, "--node", 6) == 0;
    cli_flag node_flag = {"--node", true, NULL};
    cli_flag *f = is_node ? &node_flag : find_flag(a, word, name_len);
    if (name_len == 6 && strncmp(word, "--json", 6) == 0 && eq == NULL) {
        c->json = true;
        return CLI_PROCEED;
    }
    if (f == NULL) return cli_usage(cmd, "unknown flag %.*s", (int) name_len, word);
    if (f->value != NULL) return cli_usage(cmd, "%s given twice", f->name);
    if (!f->takes_value) {
        if (eq != NULL) return cli_usage(cmd, "%s takes no value", f->name);
        f->value = "";
        return CLI_PROCEED;
    }
    if (eq != NULL) {
        f->value = eq + 1;
    } else {
        if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0)
            return cli_usage(cmd, "%s needs a value", f->name);
        f->value = argv[++*i];
    }
    return is_node ? cli_node_set(c, f->value) : CLI_PROCEED;
}

int cli_args_parse(cli *c, const cli_command *cmd, cli_args *a, int argc, char **argv) {
    SLQ_ASSERT(a->pos_max <= CLI_POSITIONAL_MAX);
    SLQ_ASSERT(a->pos_min <= a->pos_max);
    for (size_t k = 0; k < a->flags_count; k++) a->flags[k].value = NULL;
    a->pos_count = 0;
    for (int i = 0; i < argc; i++) {
        const char *word = argv[i];
        if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0) {
            print_help(cmd);
            return CLI_EXIT_OK;
        }
        if (strncmp(word, "--", 2) == 0 && word[2] != '\0') {
            int rc = parse_flag(c, cmd, a, argc, argv, &i);
            if (rc != CLI_PROCEED) return rc;
        } else if (a->pos_count < a->pos_max) {
            a->pos[a->pos_count++] = word;
        } else {
            return cli_usage(cmd, "unexpected argument \"%s\"", word);
        }
    }
    if (a->pos_count < a->pos_min) return cli_usage(cmd, "missing argument");
    return CLI_PROCEED;
}

const char *cli_flag_get(const cli_args *a, const char *name) {
    for (size_t i = 0; i < a->flags_count; i++)
        if (strcmp(a->flags[i].name, name) == 0) return a->flags[i].value;
    bool flag_declared = false; /* a command asked for a flag it does not declare: a bug */
    SLQ_ASSERT(flag_declared);
    return NULL;
}

int cli_flags_require(const cli_command *cmd, const cli_args *a, const char *const *names) {
    for (size_t i = 0; names[i] != NULL; i++)
        if (cli_flag_get(a, names[i]) == NULL) return cli_usage(cmd, "missing %s", names[i]);
    return CLI_PROCEED;
}
