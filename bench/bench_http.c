/* bench_http.c: the benchmark's HTTP client, one libcurl easy handle per thread.
 *
 * The handle is kept between requests, so each client thread talks to the node over one
 * keep-alive connection, as a real submitter would. Each handle owns one growing response
 * buffer (at most BENCH_RESPONSE_BYTES_MAX), reused by every request. No proxy: the node is
 * local. curl_global_init() must have run before the first bench_http_open(). */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "slq/assert.h"

#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 60000L
#define URL_BYTES_MAX      512u

struct bench_http {
    CURL *curl;
    struct curl_slist *headers;
    char base[URL_BYTES_MAX];
    char *buf;
    size_t len, cap;
    bool too_big;
};

static size_t write_cb(char *p, size_t size, size_t n, void *arg) {
    bench_http *h = arg;
    size_t add = size * n;
    if (h->len + add + 1 > BENCH_RESPONSE_BYTES_MAX) {
        h->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (h->len + add + 1 > h->cap) {
        size_t cap = h->cap * 2 > h->len + add + 1 ? h->cap * 2 : h->len + add + 1;
        char *d = realloc(h->buf, cap);
        if (d == NULL) return 0;
        h->buf = d;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, p, add);
    h->len += add;
    h->buf[h->len] = '\0';
    return add;
}

/* Options that stay the same for every request of the handle. */
static bool set_fixed_options(bench_http *h) {
    CURL *c = h->curl;
    bool ok = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_NOPROXY, "*") == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_WRITEDATA, h) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers) == CURLE_OK;
    ok = ok && curl_easy_setopt(c, CURLOPT_USERAGENT, "slq-bench/0.1") == CURLE_OK;
    return ok;
}

bool bench_http_open(bench_http **out, const char *base_url) {
    size_t n = strlen(base_url);
    while (n > 0 && base_url[n - 1] == '/') n--;
    if (n == 0 || n >= URL_BYTES_MAX - 128)
        return bench_fail("--node \"%s\": not a usable URL", base_url);
    bench_http *h = calloc(1, sizeof *h);
    if (h == NULL) return bench_fail("out of memory");
    memcpy(h->base, base_url, n);
    h->base[n] = '\0';
    h->curl = curl_easy_init();
    /* JSON bodies; no "Expect: 100-continue" round trip before a large POST. */
    static const char *const lines[] = {"Accept: application/json",
                                        "Content-Type: application/json", "Expect:"};
    for (size_t i = 0; i < 3; i++) {
        struct curl_slist *more = curl_slist_append(h->headers, lines[i]);
        if (more == NULL) break;
        h->headers = more;
    }
    if (h->curl == NULL || h->headers == NULL || !set_fixed_options(h)) {
        bench_http_close(h);
        return bench_fail("cannot set up libcurl");
    }
    *out = h;
    return true;
}

void bench_http_close(bench_http *h) {
    if (h == NULL) return;
    if (h->curl != NULL) curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->buf);
    free(h);
}

bool bench_http_do(bench_http *h, bench_reply *r, const char *path, const char *body,
                   size_t body_len) {
    SLQ_ASSERT(path[0] == '/');
    char url[URL_BYTES_MAX];
    int n = snprintf(url, sizeof url, "%s%s", h->base, path);
    SLQ_ASSERT(n > 0 && (size_t) n < sizeof url);
    h->len = 0;
    h->too_big = false;
    if (h->buf != NULL) h->buf[0] = '\0';
    bool ok = curl_easy_setopt(h->curl, CURLOPT_URL, url) == CURLE_OK;
    if (body != NULL) {
        ok = ok && curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body) == CURLE_OK;
        ok = ok && curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len) ==
                       CURLE_OK;
    } else {
        ok = ok && curl_easy_setopt(h->curl, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    }
    if (!ok) return bench_fail("%s: libcurl refused an option", url);
    CURLcode rc = curl_easy_perform(h->curl);
    if (rc != CURLE_OK)
        return bench_fail("node unreachable at %s: %s", url,
                          h->too_big ? "response too large" : curl_easy_strerror(rc));
    if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status) != CURLE_OK)
        return bench_fail("%s: no HTTP status", url);
    r->body = h->buf != NULL ? h->buf : "";
    r->len = h->len;
    return true;
}

bool bench_http_get_json(bench_http *h, json_t **out, const char *path) {
    bench_reply r;
    if (!bench_http_do(h, &r, path, NULL, 0)) return false;
    if (r.status != 200) return bench_fail("GET %s: HTTP %ld: %.300s", path, r.status, r.body);
    json_t *j = codec_json_parse(r.body, r.len, NULL, 0);
    if (!json_is_object(j)) {
        json_decref(j);
        return bench_fail("GET %s: the answer is not a JSON object", path);
    }
    *out = j;
    return true;
}

/* Finds "\nNAME VALUE" (or NAME at the start) in Prometheus text; strict digits. */
static bool metric_parse(uint64_t *out, const char *text, const char *name) {
    size_t name_len = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
        if (*p == '\n') p++;
        if (strncmp(p, name, name_len) != 0 || p[name_len] != ' ') continue;
        const char *v = p + name_len + 1;
        char *end = NULL;
        if (*v < '0' || *v > '9') return false;
        unsigned long long x = strtoull(v, &end, 10);
        if (end == v || (*end != '\n' && *end != '\0')) return false;
        *out = (uint64_t) x;
        return true;
    }
    return false;
}

bool bench_metrics(bench_http *h, uint64_t *out, const char *const *names, size_t count) {
    bench_reply r;
    if (!bench_http_do(h, &r, "/metrics", NULL, 0)) return false;
    if (r.status != 200) return bench_fail("GET /metrics: HTTP %ld", r.status);
    for (size_t i = 0; i < count; i++)
        if (!metric_parse(&out[i], r.body, names[i]))
            return bench_fail("GET /metrics: no plain value for %s", names[i]);
    return true;
}
