/* test_config.c: a node's config.json (node/config.c) is read strictly: every key has its
 * default, each bad value is refused with the file and the key named, and an unknown key is
 * an error, not a silent typo. Table-driven over files written to a temporary home. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "slq/assert.h"

static char home[] = "/tmp/slq-test-config-XXXXXX";

static slq_err load_text(node_config *cfg, const char *text, char *why, size_t why_cap) {
    char path[sizeof home + 16];
    snprintf(path, sizeof path, "%s/config.json", home);
    FILE *f = fopen(path, "wb");
    SLQ_ASSERT(f != NULL);
    SLQ_ASSERT(fwrite(text, 1, strlen(text), f) == strlen(text));
    SLQ_ASSERT(fclose(f) == 0);
    return node_config_load(cfg, home, why, why_cap);
}

static void test_an_empty_object_gives_every_default(void) {
    node_config c;
    char why[512];
    CHECK_ERR(load_text(&c, "{}", why, sizeof why), SLQ_OK);
    CHECK(strcmp(c.api_host, "127.0.0.1") == 0);
    CHECK_EQ_INT(c.api_port, 7601);
    CHECK(strcmp(c.p2p_host, "127.0.0.1") == 0);
    CHECK_EQ_INT(c.p2p_port, 7600);
    CHECK(strcmp(c.key_file, "node.pem") == 0);
    CHECK_EQ_INT(c.block_interval_ms, 50);
    CHECK_EQ_INT(c.empty_block_interval_ms, 3000);
    CHECK_EQ_INT(c.peers_count, 0);
    CHECK_EQ_INT(c.observers_count, 0);
}

static void test_every_key_is_read(void) {
    node_config c;
    char why[512];
    char text[1024];
    snprintf(text, sizeof text,
             "{\"chain_id\": \"slq-x\", \"api_listen\": \"[::1]:8001\", "
             "\"p2p_listen\": \"0.0.0.0:8000\", \"key_file\": \"k.pem\", "
             "\"block_interval_ms\": 10, \"empty_block_interval_ms\": 100, "
             "\"peers\": [\"127.0.0.1:7700\", \"[::1]:7701\"], \"observers\": [\"%064d\"]}",
             7);
    CHECK_ERR(load_text(&c, text, why, sizeof why), SLQ_OK);
    CHECK(strcmp(c.chain_id, "slq-x") == 0);
    CHECK(strcmp(c.api_host, "::1") == 0);
    CHECK_EQ_INT(c.api_port, 8001);
    CHECK(strcmp(c.p2p_host, "0.0.0.0") == 0);
    CHECK_EQ_INT(c.p2p_port, 8000);
    CHECK(strcmp(c.key_file, "k.pem") == 0);
    CHECK_EQ_INT(c.block_interval_ms, 10);
    CHECK_EQ_INT(c.empty_block_interval_ms, 100);
    CHECK_EQ_INT(c.peers_count, 2);
    CHECK(strcmp(c.peers[1], "[::1]:7701") == 0);
    CHECK_EQ_INT(c.observers_count, 1);
    CHECK_EQ_INT(c.observers[0][31], 7);
}

static const struct {
    const char *text;
    const char *key; /* named in the reason; NULL: the reason is about the whole file */
    const char *why;
} bad[] = {
    {"[]", NULL, "not a JSON object"},
    {"{\"api_listen\": \"127.0.0.1\"", NULL, "not a JSON object"},
    {"{\"api_listen\": \"127.0.0.1:7601\", \"colour\": 1}", "colour", NULL},
    {"{\"api_listen\": 7601}", "api_listen", NULL},
    {"{\"api_listen\": \"127.0.0.1\"}", "api_listen", NULL},
    {"{\"api_listen\": \":7601\"}", "api_listen", NULL},
    {"{\"api_listen\": \"127.0.0.1:\"}", "api_listen", NULL},
    {"{\"api_listen\": \"127.0.0.1:65536\"}", "api_listen", NULL},
    {"{\"api_listen\": \"127.0.0.1:76x1\"}", "api_listen", NULL},
    {"{\"p2p_listen\": \"[::1:7600\"}", "p2p_listen", NULL},
    {"{\"p2p_listen\": \"[]:7600\"}", "p2p_listen", NULL},
    {"{\"block_interval_ms\": 9}", "block_interval_ms", NULL},
    {"{\"block_interval_ms\": 60001}", "block_interval_ms", NULL},
    {"{\"block_interval_ms\": 50.5}", "block_interval_ms", NULL},
    {"{\"block_interval_ms\": \"50\"}", "block_interval_ms", NULL},
    {"{\"block_interval_ms\": 50.0}", "block_interval_ms", NULL},
    {"{\"chain_id\": \"a\", \"chain_id\": \"b\"}", NULL, "key given twice"},
    {"{\"empty_block_interval_ms\": 99}", "empty_block_interval_ms", NULL},
    {"{\"empty_block_interval_ms\": 3600001}", "empty_block_interval_ms", NULL},
    {"{\"block_interval_ms\": 5000, \"empty_block_interval_ms\": 4000}", NULL,
     "block_interval_ms (5000) is above empty_block_interval_ms (4000)"},
    {"{\"chain_id\": 5}", "chain_id", NULL},
    {"{\"key_file\": [\"a\"]}", "key_file", NULL},
    {"{\"peers\": \"127.0.0.1:7600\"}", "peers", NULL},
    {"{\"peers\": [7600]}", "peers", NULL},
    {"{\"observers\": [\"abcd\"]}", "observers", NULL},
    {"{\"observers\": [\"zz00000000000000000000000000000000000000000000000000000000000000\"]}",
     "observers", NULL},
    {"{\"observers\": [1]}", "observers", NULL},
};

static void test_each_bad_value_is_refused_naming_the_file_and_the_key(void) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        node_config c;
        char why[512] = "";
        slq_err err = load_text(&c, bad[i].text, why, sizeof why);
        char want[128];
        if (bad[i].key != NULL)
            snprintf(want, sizeof want, "key \"%s\": unknown or invalid value", bad[i].key);
        else
            snprintf(want, sizeof want, "%s", bad[i].why);
        bool ok = err == SLQ_CONFIG_INVALID && strstr(why, want) != NULL &&
                  strstr(why, "/config.json: ") != NULL;
        if (!ok)
            fprintf(stderr, "  row %zu %s: %s: \"%s\"\n", i, bad[i].text, slq_err_name(err), why);
        CHECK(ok);
    }
}

static void test_a_missing_or_oversized_file_is_an_io_error_naming_it(void) {
    node_config c;
    char why[512];
    char path[sizeof home + 16];
    snprintf(path, sizeof path, "%s/config.json", home);
    unlink(path);
    CHECK_ERR(node_config_load(&c, home, why, sizeof why), SLQ_IO);
    CHECK(strstr(why, "config.json") != NULL);
    size_t big_len = 64 * 1024 + 1;
    char *big = malloc(big_len + 1);
    SLQ_ASSERT(big != NULL);
    memset(big, ' ', big_len);
    big[0] = '{';
    big[big_len - 1] = '}';
    big[big_len] = '\0';
    CHECK_ERR(load_text(&c, big, why, sizeof why), SLQ_IO);
    CHECK(strstr(why, "file too large") != NULL);
    free(big);
    unlink(path);
}

int main(void) {
    SLQ_ASSERT(mkdtemp(home) != NULL);
    static const check_test tests[] = {
        TEST(test_an_empty_object_gives_every_default), TEST(test_every_key_is_read),
        TEST(test_each_bad_value_is_refused_naming_the_file_and_the_key),
        TEST(test_a_missing_or_oversized_file_is_an_io_error_naming_it)};
    int failures = check_run(tests, sizeof tests / sizeof tests[0], "config");
    char path[sizeof home + 16];
    snprintf(path, sizeof path, "%s/config.json", home);
    unlink(path);
    rmdir(home);
    return failures;
}
