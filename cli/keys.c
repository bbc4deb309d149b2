/* keys.c: key files. `slq keygen` writes a fresh PKCS#8 PEM key (0600, never over an
 * existing file, optionally encrypted with a passphrase from an environment variable) and
 * prints its address; `slq address` prints the address of any key file, including those
 * made by `openssl genpkey -algorithm ed25519|SM2` (the suite comes from the key). Keys
 * are used locally and never sent; their bytes are wiped after use. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "slq/limits.h"

#define KEY_WHY_BYTES (2u * 4096u + 128u) /* a key file's refusal names its path twice */

int cli_passphrase(const char *env, const char **out) {
    *out = NULL;
    if (env == NULL) return CLI_PROCEED;
    const char *p = getenv(env);
    if (p == NULL || p[0] == '\0')
        return cli_fail(CLI_EXIT_USAGE, "--passphrase-env %s: the variable is not set", env);
    *out = p;
    return CLI_PROCEED;
}

int cli_key_load(const char *path, const char *passphrase_env, crypto_key **out) {
    const char *pass = NULL;
    int rc = cli_passphrase(passphrase_env, &pass);
    if (rc != CLI_PROCEED) return rc;
    char why[KEY_WHY_BYTES] = "";
    slq_err err = crypto_key_load_file(out, path, pass, why, sizeof why);
    if (err == SLQ_OK) return CLI_PROCEED;
    if (err == SLQ_KEY_PASSPHRASE && pass == NULL)
        return cli_fail(CLI_EXIT_USAGE, "key %s is encrypted: give --passphrase-env VAR", path);
    if (err == SLQ_KEY_PASSPHRASE)
        return cli_fail(CLI_EXIT_USAGE, "key %s: wrong passphrase", path);
    if (err == SLQ_KEY_FILE_MODE) return cli_fail(CLI_EXIT_USAGE, "%s", why);
    return cli_fail(CLI_EXIT_USAGE, "key %s", why[0] != '\0' ? why : slq_err_str(err));
}

int cli_key_address(const crypto_key *key, crypto_suite suite, uint8_t addr[CRYPTO_ADDRESS_BYTES],
                    char text[CRYPTO_ADDRESS_TEXT_BYTES]) {
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX];
    size_t n = 0;
    slq_err err = crypto_key_public(key, pub, sizeof pub, &n);
    if (err == SLQ_OK) err = crypto_address(suite, addr, pub, n);
    if (err != SLQ_OK) return cli_fail(CLI_EXIT_USAGE, "key: %s", slq_err_str(err));
    crypto_address_format(text, addr);
    return CLI_PROCEED;
}

int cli_write_new_file(const char *path, const char *data, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0 && errno == EEXIST)
        return cli_fail(CLI_EXIT_USAGE, "%s already exists: refusing to overwrite it", path);
    if (fd < 0) return cli_fail(CLI_EXIT_USAGE, "%s: %s", path, strerror(errno));
    size_t done = 0;
    errno = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += (size_t) w;
    }
    bool ok = done == len;
    int saved = ok ? 0 : (errno != 0 ? errno : EIO);
    if (ok && fsync(fd) != 0) ok = false, saved = errno;
    if (close(fd) != 0 && ok) ok = false, saved = errno;
    if (ok) return CLI_PROCEED;
    unlink(path);
    return cli_fail(CLI_EXIT_USAGE, "%s: write failed: %s", path, strerror(saved));
}

static void wipe(volatile char *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = 0;
}

int cli_key_write(const crypto_key *key, const char *path, const char *passphrase) {
    char pem[SLQ_KEY_FILE_BYTES_MAX];
    size_t len = 0;
    slq_err err = crypto_key_write_pem(key, pem, sizeof pem, &len, passphrase);
    if (err != SLQ_OK) return cli_fail(CLI_EXIT_USAGE, "%s: %s", path, slq_err_str(err));
    int rc = cli_write_new_file(path, pem, len, 0600);
    wipe(pem, sizeof pem);
    return rc;
}

static int parse_suite(const cli_command *cmd, const char *text, crypto_suite *out) {
    if (text == NULL || strcmp(text, "ed25519") == 0 || strcmp(text, "ed25519-sha256") == 0) {
        *out = CRYPTO_SUITE_ED25519_SHA256;
    } else if (strcmp(text, "sm2") == 0 || strcmp(text, "sm2-sm3") == 0) {
        *out = CRYPTO_SUITE_SM2_SM3;
    } else {
        return cli_usage(cmd, "--suite \"%s\": use ed25519 or sm2", text);
    }
    return CLI_PROCEED;
}

/* Prints an address (and with --json the key's suite and file). */
static int print_address(const cli *c, const char *addr, crypto_suite suite, const char *file) {
    if (!c->json) {
        printf("%s\n", addr);
        return CLI_EXIT_OK;
    }
    json_t *o = json_object();
    bool ok = codec_json_set_str(o, "address", addr) &&
              codec_json_set_str(o, "suite", crypto_suite_name(suite)) &&
              codec_json_set_str(o, "key_file", file);
    int rc = ok ? cli_print_json(o) : cli_fail(CLI_EXIT_USAGE, "out of memory");
    json_decref(o);
    return rc;
}

int cli_cmd_keygen(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag f[] = {
        {"--out", true, NULL}, {"--suite", true, NULL}, {"--passphrase-env", true, NULL}};
    cli_args a = {.flags = f, .flags_count = 3};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    if (rc == CLI_PROCEED) rc = cli_flags_require(cmd, &a, (const char *const[]){"--out", NULL});
    crypto_suite suite = CRYPTO_SUITE_ED25519_SHA256;
    if (rc == CLI_PROCEED) rc = parse_suite(cmd, cli_flag_get(&a, "--suite"), &suite);
    const char *pass = NULL;
    if (rc == CLI_PROCEED) rc = cli_passphrase(cli_flag_get(&a, "--passphrase-env"), &pass);
    if (rc != CLI_PROCEED) return rc;
    crypto_key *key = NULL;
    if (crypto_key_generate(&key, suite) != SLQ_OK)
        return cli_fail(CLI_EXIT_USAGE, "could not generate a key");
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    const char *out = cli_flag_get(&a, "--out");
    rc = cli_key_address(key, suite, addr, text);
    if (rc == CLI_PROCEED) rc = cli_key_write(key, out, pass);
    crypto_key_destroy(key);
    return rc == CLI_PROCEED ? print_address(c, text, suite, out) : rc;
}

int cli_cmd_address(cli *c, const cli_command *cmd, int argc, char **argv) {
    cli_flag f[] = {{"--key", true, NULL}, {"--passphrase-env", true, NULL}};
    cli_args a = {.flags = f, .flags_count = 2};
    int rc = cli_args_parse(c, cmd, &a, argc, argv);
    if (rc == CLI_PROCEED) rc = cli_flags_require(cmd, &a, (const char *const[]){"--key", NULL});
    if (rc != CLI_PROCEED) return rc;
    crypto_key *key = NULL;
    const char *path = cli_flag_get(&a, "--key");
    rc = cli_key_load(path, cli_flag_get(&a, "--passphrase-env"), &key);
    if (rc != CLI_PROCEED) return rc;
    crypto_suite suite = crypto_key_suite(key);
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    rc = cli_key_address(key, suite, addr, text);
    crypto_key_destroy(key);
    return rc == CLI_PROCEED ? print_address(c, text, suite, path) : rc;
}
