/* main.c: slq's entry point: global flags, the command's name, dispatch (docs/cli.md).
 * main() owns the one `cli` handle and libcurl's global state. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const cli_command *find_command(const char *name) {
    for (size_t i = 0; i < cli_commands_count; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}

/* Global flags before the command; *i ends at the command's name. */
static int global_flags(cli *c, int argc, char **argv, int *i) {
    for (; *i < argc && argv[*i][0] == '-'; ++*i) {
        const char *w = argv[*i];
        if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
            fputs(cli_global_help, stdout);
            return CLI_EXIT_OK;
        }
        int rc = CLI_PROCEED;
        if (strcmp(w, "--json") == 0)
            c->json = true;
        else if (strncmp(w, "--node=", 7) == 0)
            rc = cli_node_set(c, w + 7);
        else if (strcmp(w, "--node") == 0 && *i + 1 < argc)
            rc = cli_node_set(c, argv[++*i]);
        else if (strcmp(w, "--node") == 0)
            rc = cli_fail(CLI_EXIT_USAGE, "--node needs a URL");
        else
            rc = cli_fail(CLI_EXIT_USAGE, "unknown flag %s (see slq --help)", w);
        if (rc != CLI_PROCEED) return rc;
    }
    if (*i == argc) return cli_fail(CLI_EXIT_USAGE, "missing command (see slq --help)");
    return CLI_PROCEED;
}

static int run(cli *c, int argc, char **argv) {
    const char *env = getenv("SLQ_NODE");
    int rc = cli_node_set(c, env != NULL && env[0] != '\0' ? env : CLI_DEFAULT_NODE);
    if (rc != CLI_PROCEED) return cli_fail(rc, "(the URL came from $SLQ_NODE)");
    int i = 1;
    rc = global_flags(c, argc, argv, &i);
    if (rc != CLI_PROCEED) return rc;
    const cli_command *cmd = find_command(argv[i]);
    if (cmd == NULL)
        return cli_fail(CLI_EXIT_USAGE, "unknown command \"%s\" (see slq --help)", argv[i]);
    return cmd->run(c, cmd, argc - i - 1, argv + i + 1);
}

int main(int argc, char **argv) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("slq: libcurl failed to initialise\n", stderr);
        return CLI_EXIT_UNREACHABLE;
    }
    cli c;
    memset(&c, 0, sizeof c);
    int rc = run(&c, argc, argv);
    cli_http_close(&c);
    curl_global_cleanup();
    return rc == CLI_PROCEED ? CLI_EXIT_OK : rc;
}
