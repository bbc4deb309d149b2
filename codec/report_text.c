/* report_text.c: the regulator's report (docs/audit.md) for people and for spreadsheets,
 * rendered from its JSON text, so that `slqd verify --report` and `slq audit` print the
 * same thing from the same bytes. The table shows amounts in yuan (two decimals, integer
 * arithmetic), times in CST, columns aligned by display width (CJK names take two columns).
 * The CSV is one fact per row: year,section,subject,metric,value, amounts in integer fen.
 * Integers are read back exactly (every int64: codec_json.h). No state; thread-safe. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "slq/cst.h"

#define TBL_COLS_MAX 12u
#define CELL_BYTES   256u
#define DAY_MS       86400000LL

/* ------------------------------------------------------------------ text buffer */

typedef struct {
    char *p;
    size_t len, cap;
    bool ok; /* false after a failed allocation: the text is dropped */
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (!b->ok) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->ok = false;
        return;
    }
    if (b->len + (size_t) n + 1 > b->cap) {
        size_t cap = (b->len + (size_t) n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->ok = false;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/* ------------------------------------------------------------------ members */

static const json_t *member(const json_t *o, const char *key) {
    return json_object_get(o, key);
}

static bool int_of(const json_t *m, int64_t *out) {
    return codec_json_int(m, out);
}

static int64_t num(const json_t *o, const char *key) {
    int64_t v = 0;
    return int_of(member(o, key), &v) ? v : 0;
}

static const char *str(const json_t *o, const char *key) {
    const char *s = codec_json_get_str(o, key);
    return s != NULL ? s : "";
}

/* Array member `key` of o, or NULL (which loops take as empty). */
static const json_t *list(const json_t *o, const char *key) {
    const json_t *m = member(o, key);
    return json_is_array(m) ? m : NULL;
}

/* Amount member `key` in yuan, or "-" when absent. */
static const char *yuan(char out[CODEC_YUAN_TEXT_BYTES], const json_t *o, const char *key) {
    int64_t v = 0;
    if (int_of(member(o, key), &v))
        codec_yuan_format(out, v);
    else
        snprintf(out, CODEC_YUAN_TEXT_BYTES, "-");
    return out;
}

static const char *yes_no(const json_t *o, const char *key) {
    const json_t *m = member(o, key);
    return !json_is_boolean(m) ? "-" : json_is_true(m) ? "yes" : "NO";
}

/* UTC ms as "YYYY-MM-DD HH:MM CST" (years 1970..9999; other times as ms). */
static void cst_text(char out[64], int64_t ms) {
    if (ms < 0 || ms >= 253402300800000LL) {
        snprintf(out, 64, "%lld ms", (long long) ms);
        return;
    }
    int64_t local = ms + SLQ_CST_OFFSET_MS, z = local / DAY_MS + 719468, rem = local % DAY_MS;
    int64_t era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, 64, "%04lld-%02lld-%02lld %02lld:%02lld CST",
             (long long) (yoe + era * 400 + (m <= 2)), (long long) m, (long long) d,
             (long long) (rem / 3600000), (long long) (rem / 60000 % 60));
}

/* ------------------------------------------------------------------ tables */

typedef struct {
    size_t cols, rows, cap;
    char **cells; /* rows * cols, owned; row 0 is the header */
    bool ok;
} tbl;

static void tbl_row(tbl *t, const char *const *cells) {
    if (!t->ok) return;
    if (t->rows == t->cap) {
        size_t cap = t->cap == 0 ? 8 : 2 * t->cap;
        char **p = realloc(t->cells, cap * t->cols * sizeof *p);
        if (p == NULL) {
            t->ok = false;
            return;
        }
        t->cells = p;
        t->cap = cap;
    }
    char **row = t->cells + t->rows * t->cols;
    for (size_t i = 0; i < t->cols; i++) {
        row[i] = strdup(cells[i] != NULL && cells[i][0] != '\0' ? cells[i] : "-");
        if (row[i] == NULL) {
            for (size_t j = 0; j < i; j++) free(row[j]);
            t->ok = false;
            return;
        }
    }
    t->rows++;
}

static tbl tbl_make(size_t cols, const char *const *header) {
    tbl t = {.cols = cols, .ok = cols <= TBL_COLS_MAX};
    tbl_row(&t, header);
    return t;
}

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

/* Prints the table (only its header when empty: "(none)" then) and frees it. */
static void tbl_emit(sbuf *b, tbl *t, const char *title) {
    size_t width[TBL_COLS_MAX] = {0};
    sb_printf(b, "\n%s\n", title);
    if (!t->ok) b->ok = false;
    for (size_t r = 0; t->ok && r < t->rows; r++)
        for (size_t c = 0; c < t->cols; c++) {
            size_t w = display_width(t->cells[r * t->cols + c]);
            if (w > width[c]) width[c] = w;
        }
    for (size_t r = 0; t->ok && r < t->rows; r++) {
        sb_printf(b, "  ");
        for (size_t c = 0; c < t->cols; c++) {
            const char *cell = t->cells[r * t->cols + c];
            bool last = c + 1 == t->cols;
            sb_printf(b, "%s%*s", cell, last ? 0 : (int) (width[c] + 2 - display_width(cell)), "");
        }
        sb_printf(b, "\n");
    }
    if (t->ok && t->rows == 1) sb_printf(b, "  (none)\n");
    for (size_t i = 0; i < t->rows * t->cols; i++) free(t->cells[i]);
    free(t->cells);
}

/* ------------------------------------------------------------------ the table form */

static void summary_line(sbuf *b, const char *label, const char *value) {
    sb_printf(b, "  %-26s %s\n", label, value);
}

static void year_totals(sbuf *b, const json_t *y) {
    char v[5][CODEC_YUAN_TEXT_BYTES], line[CELL_BYTES];
    summary_line(b, "cap", yuan(v[0], y, "cap_fen"));
    snprintf(line, sizeof line, "%s in %lld vouchers", yuan(v[0], y, "issued_fen"),
             (long long) num(y, "issued_count"));
    summary_line(b, "issued", line);
    snprintf(line, sizeof line, "%s (peak %s)", yuan(v[0], y, "cap_used_fen"),
             yuan(v[1], y, "cap_peak_fen"));
    summary_line(b, "counted against the cap", line);
    summary_line(b, "headroom", yuan(v[0], y, "headroom_fen"));
    summary_line(b, "cap held at every block", yes_no(y, "cap_held"));
    summary_line(b, "redeemed", yuan(v[0], y, "redeemed_fen"));
    summary_line(b, "  settled", yuan(v[0], y, "settled_fen"));
    summary_line(b, "  open claims", yuan(v[0], y, "open_claims_fen"));
    snprintf(line, sizeof line, "%s in %lld claim parts", yuan(v[0], y, "clawed_back_fen"),
             (long long) num(y, "rejected_claims"));
    summary_line(b, "  clawed back (rejected)", line);
    summary_line(b, "transferred", yuan(v[0], y, "transferred_fen"));
    summary_line(b, "revoked", yuan(v[0], y, "revoked_fen"));
    summary_line(b, "expired unredeemed", yuan(v[0], y, "expired_fen"));
    summary_line(b, "active", yuan(v[0], y, "active_fen"));
    summary_line(b, "outstanding", yuan(v[0], y, "outstanding_fen"));
    snprintf(line, sizeof line, "issued %s = active %s + redeemed %s + revoked %s + expired %s",
             yuan(v[0], y, "issued_fen"), yuan(v[1], y, "active_fen"),
             yuan(v[2], y, "redeemed_fen"), yuan(v[3], y, "revoked_fen"),
             yuan(v[4], y, "expired_fen"));
    summary_line(b, "conservation", line);
    snprintf(line, sizeof line, "redeemed %s = settled %s + open claims %s + clawed back %s",
             yuan(v[0], y, "redeemed_fen"), yuan(v[1], y, "settled_fen"),
             yuan(v[2], y, "open_claims_fen"), yuan(v[3], y, "clawed_back_fen"));
    summary_line(b, "", line);
    summary_line(b, "conservation holds", yes_no(y, "conservation_holds"));
    summary_line(b, "totals rows match", yes_no(y, "totals_match"));
    summary_line(b, "program caps held", yes_no(y, "program_caps_held"));
    summary_line(b, "holder caps held", yes_no(y, "holder_caps_held"));
}

static void year_programs(sbuf *b, const json_t *y) {
    static const char *const head[] = {"PROGRAM",     "POOL",    "ISSUED",   "CAP USED",
                                       "PEAK",        "HELD",    "REDEEMED", "SETTLED",
                                       "TRANSFERRED", "REVOKED", "EXPIRED",  "OUTSTANDING"};
    static const char *const keys[] = {
        "cap_fen",     "issued_fen",   "cap_used_fen",   "cap_peak_fen",
        NULL,          "redeemed_fen", "settled_fen",    "transferred_fen",
        "revoked_fen", "expired_fen",  "outstanding_fen"};
    tbl t = tbl_make(12, head);
    const json_t *p;
    for (size_t p_i = 0; (p = json_array_get(list(y, "programs"), p_i)) != NULL; p_i++) {
        char cells[11][CODEC_YUAN_TEXT_BYTES];
        const char *row[12] = {str(p, "name")};
        for (size_t i = 0; i < 11; i++)
            row[i + 1] = keys[i] != NULL ? yuan(cells[i], p, keys[i]) : yes_no(p, "cap_held");
        if (num(p, "cap_fen") == 0) row[1] = "none";
        tbl_row(&t, row);
    }
    tbl_emit(b, &t, "programs (POOL: the program's own annual pool)");
}

static void year_centres(sbuf *b, const json_t *y) {
    static const char *const head[] = {"CENTRE", "NAME", "REDEEMED", "SETTLED", "OPEN"};
    static const char *const chead[] = {"CENTRE",  "CLAIM",   "CONTRACT", "AMOUNT", "REVIEW",
                                        "SETTLED", "PAYMENT", "PAID",     "PAYER"};
    tbl t = tbl_make(5, head), c = tbl_make(9, chead);
    const json_t *ce;
    for (size_t ce_i = 0; (ce = json_array_get(list(y, "centres"), ce_i)) != NULL; ce_i++) {
        char v[3][CODEC_YUAN_TEXT_BYTES], paid[CODEC_YUAN_TEXT_BYTES];
        const char *row[] = {str(ce, "centre"), str(ce, "name"), yuan(v[0], ce, "redeemed_fen"),
                             yuan(v[1], ce, "settled_fen"), yuan(v[2], ce, "open_claims_fen")};
        tbl_row(&t, row);
        const json_t *cl;
        for (size_t cl_i = 0; (cl = json_array_get(list(ce, "claims"), cl_i)) != NULL; cl_i++) {
            const char *crow[] = {str(ce, "name"),         str(cl, "claim"),
                                  str(cl, "contract_ref"), yuan(v[0], cl, "amount_fen"),
                                  str(cl, "review"),       yes_no(cl, "settled"),
                                  str(cl, "payment_ref"),  yuan(paid, cl, "paid_fen"),
                                  str(cl, "payer")};
            tbl_row(&c, crow);
        }
    }
    tbl_emit(b, &t, "redeemed by centre");
    tbl_emit(b, &c, "settlement claims");
}

/* Claims reviewed: what rejections clawed back per program, and what each payer (the city,
 * a district) settled and paid. */
static void year_reviews(sbuf *b, const json_t *y) {
    static const char *const head[] = {"PROGRAM", "REJECTED PARTS", "CLAWED BACK"};
    static const char *const phead[] = {"PAYER", "SETTLED", "PAID", "CLAIM PARTS"};
    tbl t = tbl_make(3, head), u = tbl_make(4, phead);
    const json_t *p;
    for (size_t p_i = 0; (p = json_array_get(list(y, "programs"), p_i)) != NULL; p_i++) {
        char n[24], v[CODEC_YUAN_TEXT_BYTES];
        snprintf(n, sizeof n, "%lld", (long long) num(p, "rejected_claims"));
        const char *row[] = {str(p, "name"), n, yuan(v, p, "clawed_back_fen")};
        tbl_row(&t, row);
    }
    for (size_t p_i = 0; (p = json_array_get(list(y, "payers"), p_i)) != NULL; p_i++) {
        char n[24], v[2][CODEC_YUAN_TEXT_BYTES];
        snprintf(n, sizeof n, "%lld", (long long) num(p, "claim_parts"));
        const char *row[] = {str(p, "payer"), yuan(v[0], p, "settled_fen"),
                             yuan(v[1], p, "paid_fen"), n};
        tbl_row(&u, row);
    }
    tbl_emit(b, &t, "claims rejected, clawed back to the pool");
    tbl_emit(b, &u, "settled by payer");
}

static void year_holders(sbuf *b, const json_t *y) {
    static const char *const head[] = {"HOLDER", "NAME", "ROLE", "ISSUED", "HELD", "REDEEMED"};
    static const char *const chead[] = {"HOLDER", "PROGRAM", "USED", "PEAK", "CAP", "HELD"};
    tbl t = tbl_make(6, head), c = tbl_make(6, chead);
    const json_t *h;
    for (size_t h_i = 0; (h = json_array_get(list(y, "holders"), h_i)) != NULL; h_i++) {
        char v[3][CODEC_YUAN_TEXT_BYTES];
        const char *row[] = {str(h, "holder"),
                             str(h, "name"),
                             str(h, "role"),
                             yuan(v[0], h, "issued_fen"),
                             yuan(v[1], h, "held_fen"),
                             yuan(v[2], h, "redeemed_fen")};
        tbl_row(&t, row);
        const json_t *cap;
        for (size_t cap_i = 0; (cap = json_array_get(list(h, "caps"), cap_i)) != NULL; cap_i++) {
            const char *crow[] = {str(h, "holder"),
                                  str(cap, "program"),
                                  yuan(v[0], cap, "used_fen"),
                                  yuan(v[1], cap, "peak_fen"),
                                  num(cap, "cap_fen") == 0 ? "none" : yuan(v[2], cap, "cap_fen"),
                                  yes_no(cap, "cap_held")};
            tbl_row(&c, crow);
        }
    }
    tbl_emit(b, &t, "holders (REDEEMED: what they paid to centres that the centres redeemed)");
    tbl_emit(b, &c, "per-holder caps (USED: issued to the holder minus revoked)");
}

static void anomaly_row(tbl *t, const json_t *a) {
    char detail[CELL_BYTES], v[2][CODEC_YUAN_TEXT_BYTES];
    const char *kind = str(a, "kind"), *subject = str(a, "voucher");
    if (strcmp(kind, "near_holder_cap") == 0) {
        subject = str(a, "holder");
        snprintf(detail, sizeof detail, "%s: used %s of the holder cap %s", str(a, "program"),
                 yuan(v[0], a, "used_fen"), yuan(v[1], a, "cap_fen"));
    } else if (strcmp(kind, "affiliated_redemption") == 0) {
        snprintf(detail, sizeof detail, "%s redeemed at %s (group %s); %s %s of the group held it",
                 yuan(v[0], a, "amount_fen"), str(a, "holder"), str(a, "affiliation"),
                 str(a, "party_name"), str(a, "party"));
    } else {
        snprintf(detail, sizeof detail, "%s, %lld hops, %s, held by %s",
                 yuan(v[0], a, "amount_fen"), (long long) num(a, "hops"), str(a, "state"),
                 str(a, "holder"));
    }
    const char *row[] = {kind, subject, detail};
    tbl_row(t, row);
}

/* Applications per program and the contracts applied for in the year (docs/audit.md). */
static void year_applications(sbuf *b, const json_t *y) {
    static const char *const ahead[] = {"PROGRAM",         "APPLIED",       "ASKED (YUAN)",
                                        "ISSUED",          "ISSUED (YUAN)", "REJECTED",
                                        "REJECTED (YUAN)", "OPEN",          "OPEN (YUAN)"};
    static const char *const counts[] = {"count", "issued_count", "rejected_count", "open_count"};
    static const char *const amounts[] = {"asked_fen", "issued_fen", "rejected_fen", "open_fen"};
    tbl a = tbl_make(9, ahead);
    const json_t *o;
    for (size_t i = 0; (o = json_array_get(list(y, "applications"), i)) != NULL; i++) {
        char n[4][24], v[4][CODEC_YUAN_TEXT_BYTES];
        const char *row[9] = {str(o, "program")};
        for (size_t k = 0; k < 4; k++) {
            snprintf(n[k], sizeof n[k], "%lld", (long long) num(o, counts[k]));
            row[1 + 2 * k] = n[k];
            row[2 + 2 * k] = yuan(v[k], o, amounts[k]);
        }
        tbl_row(&a, row);
    }
    tbl_emit(b, &a, "applications (by the year they were made; REJECTED and OPEN: asked)");
    static const char *const chead[] = {
        "CONTRACT",      "APPLICANT",    "PROGRAM",    "COST (YUAN)", "ASKED (YUAN)",
        "ISSUED (YUAN)", "LIMIT (YUAN)", "SHARE (BP)", "LIMIT (BP)",  "SHARE HELD"};
    tbl c = tbl_make(10, chead);
    for (size_t i = 0; (o = json_array_get(list(y, "contracts"), i)) != NULL; i++) {
        char v[4][CODEC_YUAN_TEXT_BYTES], used[24], lim[24];
        snprintf(used, sizeof used, "%lld", (long long) num(o, "share_used_bp"));
        snprintf(lim, sizeof lim, "%lld", (long long) num(o, "share_limit_bp"));
        const char *row[] = {str(o, "contract_ref"),
                             str(o, "applicant"),
                             str(o, "program"),
                             yuan(v[0], o, "cost_fen"),
                             yuan(v[1], o, "asked_fen"),
                             yuan(v[2], o, "issued_fen"),
                             yuan(v[3], o, "share_limit_fen"),
                             used,
                             lim,
                             yes_no(o, "share_held")};
        tbl_row(&c, row);
    }
    tbl_emit(b, &c, "cost and share per contract (all its applications)");
}

/* The policy window, holder classes, centre payments and revocations (docs/audit.md). */
static void year_shows(sbuf *b, const json_t *y) {
    char from[64], until[64], line[CELL_BYTES];
    cst_text(from, num(y, "policy_valid_from_ms"));
    cst_text(until, num(y, "policy_valid_until_ms"));
    snprintf(line, sizeof line, "%s to %s; the year %s", from, until,
             json_is_true(member(y, "year_in_policy_window")) ? "lies in it" : "lies OUTSIDE it");
    sb_printf(b, "\n");
    summary_line(b, "policy window", line);
    static const char *const khead[] = {"CLASS", "ISSUED TO (YUAN)", "REDEEMED FROM (YUAN)",
                                        "HOLDING (YUAN)"};
    tbl k = tbl_make(4, khead);
    const json_t *o;
    for (size_t i = 0; (o = json_array_get(list(y, "holder_classes"), i)) != NULL; i++) {
        char v[3][CODEC_YUAN_TEXT_BYTES];
        const char *row[] = {str(o, "class"), yuan(v[0], o, "issued_fen"),
                             yuan(v[1], o, "redeemed_fen"), yuan(v[2], o, "held_fen")};
        tbl_row(&k, row);
    }
    tbl_emit(b, &k, "holder classes (REDEEMED FROM: by beneficiary)");
    static const char *const chead[] = {"CENTRE", "NAME",           "PAID TO (YUAN)",
                                        "CLAIMS", "CLAIMED (YUAN)", "SETTLED (YUAN)"};
    tbl c = tbl_make(6, chead);
    for (size_t i = 0; (o = json_array_get(list(y, "centre_payments"), i)) != NULL; i++) {
        char v[3][CODEC_YUAN_TEXT_BYTES], n[24];
        snprintf(n, sizeof n, "%lld", (long long) num(o, "claims_count"));
        const char *row[] = {str(o, "centre"),
                             str(o, "name"),
                             yuan(v[0], o, "paid_fen"),
                             n,
                             yuan(v[1], o, "claimed_fen"),
                             yuan(v[2], o, "settled_fen")};
        tbl_row(&c, row);
    }
    tbl_emit(b, &c, "centres: paid to and claimed");
    static const char *const rhead[] = {"VOUCHER", "AMOUNT (YUAN)", "HOLDER", "HEIGHT", "REASON"};
    tbl r = tbl_make(5, rhead);
    for (size_t i = 0; (o = json_array_get(list(y, "revocations"), i)) != NULL; i++) {
        char v[CODEC_YUAN_TEXT_BYTES], h[24];
        snprintf(h, sizeof h, "%lld", (long long) num(o, "height"));
        const char *row[] = {str(o, "voucher"), yuan(v, o, "amount_fen"), str(o, "holder"), h,
                             str(o, "reason")};
        tbl_row(&r, row);
    }
    tbl_emit(b, &r, "revocations");
    year_applications(b, y);
}

static void year_table(sbuf *b, const json_t *y) {
    static const char *const head[] = {"KIND", "SUBJECT", "DETAIL"};
    sb_printf(b, "\nbudget year %lld\n", (long long) num(y, "year"));
    year_totals(b, y);
    year_programs(b, y);
    year_centres(b, y);
    year_reviews(b, y);
    year_holders(b, y);
    year_shows(b, y);
    tbl t = tbl_make(3, head);
    const json_t *a;
    for (size_t a_i = 0; (a = json_array_get(list(y, "anomalies"), a_i)) != NULL; a_i++)
        anomaly_row(&t, a);
    tbl_emit(b, &t, "anomalies worth a look");
}

static void table_form(sbuf *b, const json_t *r) {
    char at[64];
    cst_text(at, num(r, "time_ms"));
    sb_printf(b, "slq report: chain %s (%s), height %lld, at %s\n", str(r, "chain_id"),
              str(r, "suite"), (long long) num(r, "height"), at);
    sb_printf(b, "tip %s\n", str(r, "tip_hash"));
    if (member(r, "year") != NULL) {
        year_table(b, r);
        return;
    }
    if (list(r, "years") == NULL) sb_printf(b, "\nno budget year has vouchers yet\n");
    const json_t *y;
    for (size_t y_i = 0; (y = json_array_get(list(r, "years"), y_i)) != NULL; y_i++)
        year_table(b, y);
}

/* ------------------------------------------------------------------ the CSV form */

/* One field, quoted when it holds a comma, a quote, a line break or edge spaces. */
static void csv_field(sbuf *b, const char *s) {
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || (n > 0 && (s[0] == ' ' || s[n - 1] == ' '));
    if (!quote) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const char *p = s; *p != '\0'; p++) sb_printf(b, *p == '"' ? "\"\"" : "%c", *p);
    sb_printf(b, "\"");
}

typedef struct {
    const char *year, *section, *subject;
} csv_row;

/* One row for a scalar member m: year,section,subject,metric,value. */
static void csv_value(sbuf *b, const csv_row *r, const char *key, const json_t *m) {
    char value[CELL_BYTES];
    int64_t v = 0;
    if (json_is_string(m))
        snprintf(value, sizeof value, "%s", json_string_value(m));
    else if (json_is_boolean(m))
        snprintf(value, sizeof value, "%s", json_is_true(m) ? "true" : "false");
    else if (int_of(m, &v))
        snprintf(value, sizeof value, "%lld", (long long) v);
    else
        value[0] = '\0';
    sb_printf(b, "%s,%s,", r->year, r->section);
    csv_field(b, r->subject);
    sb_printf(b, ",%s,", key);
    csv_field(b, value);
    sb_printf(b, "\n");
}

/* The scalar members of o, one row each, except `skip` (the one that names the subject). */
static void csv_object(sbuf *b, const csv_row *r, const json_t *o, const char *skip) {
    const char *key;
    const json_t *m;
    /* json_object_foreach takes a non-const object; it only reads it. */
    json_object_foreach((json_t *) o, key, m) {
        if (!json_is_array(m) && !json_is_object(m) && (skip == NULL || strcmp(key, skip) != 0))
            csv_value(b, r, key, m);
    }
}

static void csv_nested(sbuf *b, const char *year, const json_t *y) {
    char subject[CELL_BYTES];
    const json_t *ce;
    for (size_t ce_i = 0; (ce = json_array_get(list(y, "centres"), ce_i)) != NULL; ce_i++) {
        csv_object(b, &(csv_row){year, "centre", str(ce, "centre")}, ce, "centre");
        const json_t *cl;
        for (size_t cl_i = 0; (cl = json_array_get(list(ce, "claims"), cl_i)) != NULL; cl_i++) {
            snprintf(subject, sizeof subject, "%s/%s", str(ce, "centre"), str(cl, "claim"));
            csv_object(b, &(csv_row){year, "claim", subject}, cl, "claim");
        }
    }
    const json_t *h;
    for (size_t h_i = 0; (h = json_array_get(list(y, "holders"), h_i)) != NULL; h_i++) {
        csv_object(b, &(csv_row){year, "holder", str(h, "holder")}, h, "holder");
        const json_t *c;
        for (size_t c_i = 0; (c = json_array_get(list(h, "caps"), c_i)) != NULL; c_i++) {
            snprintf(subject, sizeof subject, "%s/%s", str(h, "holder"), str(c, "program"));
            csv_object(b, &(csv_row){year, "holder_cap", subject}, c, "program");
        }
    }
    long long i = 0;
    const json_t *a;
    for (size_t a_i = 0; (a = json_array_get(list(y, "anomalies"), a_i)) != NULL; a_i++) {
        snprintf(subject, sizeof subject, "%lld", ++i);
        csv_object(b, &(csv_row){year, "anomaly", subject}, a, NULL);
    }
}

/* The rows of year_shows' sections. */
static void csv_shows(sbuf *b, const char *year, const json_t *y) {
    char subject[CELL_BYTES];
    const json_t *o;
    for (size_t i = 0; (o = json_array_get(list(y, "holder_classes"), i)) != NULL; i++)
        csv_object(b, &(csv_row){year, "holder_class", str(o, "class")}, o, "class");
    for (size_t i = 0; (o = json_array_get(list(y, "centre_payments"), i)) != NULL; i++)
        csv_object(b, &(csv_row){year, "centre_payment", str(o, "centre")}, o, "centre");
    for (size_t i = 0; (o = json_array_get(list(y, "revocations"), i)) != NULL; i++) {
        snprintf(subject, sizeof subject, "%zu", i + 1);
        csv_object(b, &(csv_row){year, "revocation", subject}, o, NULL);
    }
    for (size_t i = 0; (o = json_array_get(list(y, "applications"), i)) != NULL; i++)
        csv_object(b, &(csv_row){year, "application", str(o, "program")}, o, "program");
    for (size_t i = 0; (o = json_array_get(list(y, "contracts"), i)) != NULL; i++)
        csv_object(b, &(csv_row){year, "contract", str(o, "contract_ref")}, o, "contract_ref");
}

static const char *const report_header[] = {"chain_id", "suite",    "genesis_hash",
                                            "height",   "tip_hash", "time_ms"};

static bool is_report_header(const char *key) {
    for (size_t i = 0; i < sizeof report_header / sizeof report_header[0]; i++)
        if (strcmp(key, report_header[i]) == 0) return true;
    return false;
}

static void csv_year(sbuf *b, const json_t *y) {
    char year[24];
    snprintf(year, sizeof year, "%lld", (long long) num(y, "year"));
    csv_row row = {year, "year", ""};
    const char *key;
    const json_t *m;
    json_object_foreach((json_t *) y, key, m) {
        if (!json_is_array(m) && !json_is_object(m) && !is_report_header(key) &&
            strcmp(key, "year") != 0)
            csv_value(b, &row, key, m);
    }
    const json_t *p;
    for (size_t p_i = 0; (p = json_array_get(list(y, "programs"), p_i)) != NULL; p_i++)
        csv_object(b, &(csv_row){year, "program", str(p, "name")}, p, "name");
    for (size_t p_i = 0; (p = json_array_get(list(y, "payers"), p_i)) != NULL; p_i++)
        csv_object(b, &(csv_row){year, "payer", str(p, "payer")}, p, "payer");
    csv_nested(b, year, y);
    csv_shows(b, year, y);
}

static void csv_form(sbuf *b, const json_t *r) {
    sb_printf(b, "year,section,subject,metric,value\n");
    csv_row row = {"", "report", ""};
    const char *key;
    const json_t *m;
    json_object_foreach((json_t *) r, key, m) {
        if (is_report_header(key)) csv_value(b, &row, key, m);
    }
    if (member(r, "year") != NULL) {
        csv_year(b, r);
        return;
    }
    const json_t *y;
    for (size_t y_i = 0; (y = json_array_get(list(r, "years"), y_i)) != NULL; y_i++) csv_year(b, y);
}

/* ------------------------------------------------------------------ entry point */

slq_err codec_report_format(char **out, const char *json, size_t len, codec_report_style style) {
    json_t *r = codec_json_parse(json, len, NULL, 0);
    if (r == NULL) return SLQ_FIELD_INVALID;
    if (!json_is_object(r) || (member(r, "year") == NULL && member(r, "years") == NULL)) {
        json_decref(r);
        return SLQ_FIELD_INVALID;
    }
    sbuf b = {.ok = true};
    if (style == CODEC_REPORT_CSV)
        csv_form(&b, r);
    else
        table_form(&b, r);
    json_decref(r);
    if (!b.ok || b.p == NULL) {
        free(b.p);
        return SLQ_NO_MEMORY;
    }
    *out = b.p;
    return SLQ_OK;
}
