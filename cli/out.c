/* out.c: what slq prints: one-line errors on stderr, JSON on stdout, and for people the
 * node's JSON objects as aligned "key  value" lines (amounts in yuan, times in CST) and
 * lists as aligned tables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "slq/assert.h"

int cli_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("slq: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

int cli_usage(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slq %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see slq %s --help)\n", cmd->name);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

char *cli_json_text(const json_t *j) {
    return codec_json_text(j, CODEC_JSON_PRETTY, NULL);
}

int cli_print_json(const json_t *j) {
    char *text = cli_json_text(j);
    if (text == NULL) return cli_fail(CLI_EXIT_USAGE, "out of memory");
    fputs(text, stdout);
    free(text);
    return CLI_EXIT_OK;
}

const char *cli_json_str(const json_t *obj, const char *key) {
    return codec_json_get_str(obj, key);
}

static bool number_int(const json_t *m, int64_t *out) {
    return codec_json_int(m, out);
}

bool cli_json_int(const json_t *obj, const char *key, int64_t *out) {
    return codec_json_get_int(obj, key, out);
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* The value of a scalar member as text for people. */
static void scalar_text(char *out, size_t cap, const char *key, const json_t *m) {
    int64_t v = 0;
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        snprintf(out, cap, "%s", s[0] != '\0' ? s : "-");
    } else if (json_is_boolean(m)) {
        snprintf(out, cap, "%s", json_is_true(m) ? "yes" : "no");
    } else if (number_int(m, &v) && ends_with(key, "_fen")) {
        char y[CODEC_YUAN_TEXT_BYTES];
        codec_yuan_format(y, v);
        snprintf(out, cap, "%s yuan", y);
    } else if (number_int(m, &v) && ends_with(key, "_ms") && v > 0) {
        char t[32];
        cli_format_cst(t, v);
        snprintf(out, cap, "%s CST", t);
    } else if (number_int(m, &v)) {
        snprintf(out, cap, "%lld", (long long) v);
    } else if (json_is_real(m)) {
        snprintf(out, cap, "%g", json_real_value(m));
    } else {
        snprintf(out, cap, "-");
    }
}

/* The key as people read it: "amount_fen" -> "amount", "expires_at_ms" -> "expires_at". */
static void label(char *out, size_t cap, const char *key) {
    size_t n = strlen(key);
    if (ends_with(key, "_fen"))
        n -= 4;
    else if (ends_with(key, "_ms"))
        n -= 3;
    snprintf(out, cap, "%.*s", (int) n, key);
}

static bool is_scalar(const json_t *m) {
    return !json_is_array(m) && !json_is_object(m);
}

static void print_array(const json_t *arr, const char *key, int indent, int width) {
    char name[64], text[256];
    label(name, sizeof name, key);
    if (json_array_size(arr) == 0) {
        printf("%*s%-*s  -\n", indent, "", width, name);
        return;
    }
    printf("%*s%s:\n", indent, "", name);
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        if (is_scalar(e)) {
            scalar_text(text, sizeof text, key, e);
            printf("%*s  %s\n", indent, "", text);
        } else {
            printf("%*s  -\n", indent, "");
            cli_print_object(e, indent + 4);
        }
    }
}

void cli_print_object(const json_t *obj, int indent) {
    int width = 0;
    char name[64], text[256];
    const char *key;
    const json_t *m;
    /* json_object_foreach takes a non-const object; it only reads it. */
    json_object_foreach((json_t *) obj, key, m) {
        label(name, sizeof name, key);
        if ((int) strlen(name) > width) width = (int) strlen(name);
    }
    json_object_foreach((json_t *) obj, key, m) {
        label(name, sizeof name, key);
        if (json_is_array(m)) {
            print_array(m, key, indent, width);
        } else if (json_is_object(m)) {
            printf("%*s%s:\n", indent, "", name);
            cli_print_object(m, indent + 2);
        } else {
            scalar_text(text, sizeof text, key, m);
            printf("%*s%-*s  %s\n", indent, "", width, name, text);
        }
    }
}

/* ------------------------------------------------------------------ tables */

struct cli_table {
    size_t cols;
    size_t rows; /* the header included */
    size_t cap;
    char **cells; /* rows * cols, owned */
};

static bool wide(unsigned cp) {
    return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
           (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
           (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
}

/* Display width of UTF-8 text: East Asian wide characters take two columns. */
static size_t display_width(const char *s) {
    size_t w = 0;
    const unsigned char *p = (const unsigned char *) s;
    while (*p != '\0') {
        unsigned c = *p;
        size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        unsigned cp = n == 1 ? c : n == 2 ? c & 0x1fu : n == 3 ? c & 0x0fu : c & 0x07u;
        size_t i = 1;
        for (; i < n && (p[i] & 0xc0) == 0x80; i++) cp = cp << 6 | (p[i] & 0x3fu);
        w += wide(cp) ? 2 : 1;
        p += i;
    }
    return w;
}

cli_table *cli_table_create(size_t cols, const char *const *header) {
    cli_table *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->cols = cols;
    if (!cli_table_add(t, header)) {
        cli_table_destroy(t);
        return NULL;
    }
    return t;
}

bool cli_table_add(cli_table *t, const char *const *cells) {
    if (t->rows == t->cap) {
        size_t cap = t->cap == 0 ? 16 : 2 * t->cap;
        char **p = realloc(t->cells, cap * t->cols * sizeof *p);
        if (p == NULL) return false;
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->rows * t->cols;
    for (size_t i = 0; i < t->cols; i++) {
        row[i] = strdup(cells[i] != NULL ? cells[i] : "-");
        if (row[i] == NULL) {
            for (size_t j = 0; j < i; j++) free(row[j]);
            return false;
        }
    }
    t->rows++;
    return true;
}

void cli_table_print(const cli_table *t) {
    size_t width[16] = {0};
    SLQ_ASSERT(t->cols <= 16);
    for (size_t r = 0; r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            size_t w = display_width(t->cells[r * t->cols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t c = 0; c < t->cols; c++) {
            const char *cell = t->cells[r * t->cols + c];
            bool last = c + 1 == t->cols;
            fputs(cell, stdout);
            for (size_t k = display_width(cell); !last && k < width[c] + 2; k++) putchar(' ');
        }
        putchar('\n');
    }
}

void cli_table_destroy(cli_table *t) {
    if (t == NULL) return;
    for (size_t i = 0; i < t->rows * t->cols; i++) free(t->cells[i]);
    free(t->cells);
    free(t);
}
