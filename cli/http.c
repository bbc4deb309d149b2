/* http.c: talking to the node's HTTP JSON API (docs/api.md) with libcurl.
 *
 * One easy handle per process, made on first use and reused (keep-alive). Timeouts:
 * CLI_CONNECT_TIMEOUT_MS to connect, CLI_REQUEST_TIMEOUT_MS for a whole request. Only
 * http and https, no redirects; otherwise curl's defaults apply (including http_proxy and
 * no_proxy from the environment). A response body is capped at CLI_RESPONSE_BYTES_MAX.
 * Failing to connect or to get an answer in time is exit 3; an answer with an error
 * status is the node refusing (exit 2) or unable (exit 3), see cli_response_check(). */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "slq/assert.h"

typedef struct {
    char *data;
    size_t len;
    bool too_big;
} sink;

static size_t write_cb(char *p, size_t size, size_t n, void *arg) {
    sink *s = arg;
    size_t add = size * n;
    if (s->len + add > CLI_RESPONSE_BYTES_MAX) {
        s->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    char *d = realloc(s->data, s->len + add + 1);
    if (d == NULL) return 0;
    memcpy(d + s->len, p, add);
    s->data = d;
    s->len += add;
    s->data[s->len] = '\0';
    return add;
}

static CURL *handle(cli *c) {
    if (c->curl == NULL) c->curl = curl_easy_init();
    return c->curl;
}

/* Sets the options of one request. false when curl refuses one. */
static bool setup(CURL *h, const char *url, const char *body, struct curl_slist *headers, sink *s,
                  char *errbuf) {
    curl_easy_reset(h);
    bool ok = curl_easy_setopt(h, CURLOPT_URL, url) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CLI_CONNECT_TIMEOUT_MS) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CLI_REQUEST_TIMEOUT_MS) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_WRITEDATA, s) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
    ok = ok && curl_easy_setopt(h, CURLOPT_USERAGENT, "slq/0.1") == CURLE_OK;
    if (body != NULL) ok = ok && curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) == CURLE_OK;
    return ok;
}

/* Request headers; a POST sends JSON and skips the "Expect: 100-continue" round trip. */
static struct curl_slist *make_headers(bool post) {
    static const char *const lines[] = {"Accept: application/json",
                                        "Content-Type: application/json", "Expect:"};
    struct curl_slist *headers = NULL;
    for (size_t i = 0; i < (post ? 3u : 1u); i++) {
        struct curl_slist *more = curl_slist_append(headers, lines[i]);
        if (more == NULL) {
            curl_slist_free_all(headers);
            return NULL;
        }
        headers = more;
    }
    return headers;
}

int cli_http(cli *c, const char *path, const char *body, cli_response *r) {
    SLQ_ASSERT(path[0] == '/');
    *r = (cli_response){0};
    size_t url_len = strlen(c->node) + strlen(path) + 1;
    char *url = malloc(url_len);
    CURL *h = handle(c);
    if (url == NULL || h == NULL) {
        free(url);
        return cli_fail(CLI_EXIT_UNREACHABLE, "out of memory");
    }
    snprintf(url, url_len, "%s%s", c->node, path);
    struct curl_slist *headers = make_headers(body != NULL);
    if (headers == NULL) {
        free(url);
        return cli_fail(CLI_EXIT_UNREACHABLE, "out of memory");
    }
    sink s = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    CURLcode rc =
        setup(h, url, body, headers, &s, errbuf) ? curl_easy_perform(h) : CURLE_FAILED_INIT;
    curl_slist_free_all(headers);
    free(url);
    if (rc != CURLE_OK) {
        free(s.data);
        const char *why = s.too_big           ? "response too large"
                          : errbuf[0] != '\0' ? errbuf
                                              : curl_easy_strerror(rc);
        return cli_fail(CLI_EXIT_UNREACHABLE, "node unreachable at %s: %s", c->node, why);
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK) r->status = 0;
    r->body = s.data;
    r->len = s.len;
    if (r->body != NULL) r->json = codec_json_parse(r->body, r->len, NULL, 0);
    return CLI_PROCEED;
}

void cli_response_free(cli_response *r) {
    json_decref(r->json);
    free(r->body);
    *r = (cli_response){0};
}

int cli_response_check(const cli *c, const cli_response *r) {
    if (r->status >= 200 && r->status < 300 && json_is_object(r->json)) return CLI_PROCEED;
    const char *name = cli_json_str(r->json, "error");
    const char *message = cli_json_str(r->json, "message");
    bool refused = r->status >= 400 && r->status < 500 && r->status != 429;
    if (name != NULL) {
        return cli_fail(refused ? CLI_EXIT_REJECTED : CLI_EXIT_UNREACHABLE, "%s: %s", name,
                        message != NULL ? message : "");
    }
    return cli_fail(refused ? CLI_EXIT_REJECTED : CLI_EXIT_UNREACHABLE,
                    "node at %s answered HTTP %ld without a JSON object", c->node, r->status);
}

int cli_get(cli *c, const char *path, cli_response *r) {
    int rc = cli_http(c, path, NULL, r);
    if (rc == CLI_PROCEED) rc = cli_response_check(c, r);
    if (rc != CLI_PROCEED) cli_response_free(r);
    return rc;
}

void cli_http_close(cli *c) {
    if (c->curl != NULL) curl_easy_cleanup(c->curl);
    c->curl = NULL;
}
