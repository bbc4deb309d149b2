/* genesis_in.c: genesis.json text -> Genesis bytes, strictly (docs/genesis.md).
 *
 * The text is parsed strictly by codec_json_parse() (jansson: exact int64 integers, no key
 * given twice, no NUL or raw control character in a string) and read into a Slq__Genesis
 * whose arrays and byte fields live in a small arena and whose strings point into the JSON
 * tree; both are released once the message is packed. Every refusal names its JSON path,
 * or for text that is not JSON its line and column. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "crypto.h"
#include "slq/assert.h"

#define PATH_BYTES 160

typedef struct {
    void **ptrs;
    size_t count;
    size_t cap;
} arena;

typedef struct {
    arena mem;
    char *why;
    size_t why_cap;
    crypto_suite suite;
} reader;

static void *arena_calloc(arena *a, size_t n, size_t size) {
    if (a->count == a->cap) {
        size_t cap = a->cap == 0 ? 32 : 2 * a->cap;
        void **p = realloc(a->ptrs, cap * sizeof *p);
        if (p == NULL) return NULL;
        a->ptrs = p;
        a->cap = cap;
    }
    void *m = calloc(n == 0 ? 1 : n, size);
    if (m != NULL) a->ptrs[a->count++] = m;
    return m;
}

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->count; i++) free(a->ptrs[i]);
    free(a->ptrs);
    *a = (arena){0};
}

__attribute__((format(printf, 3, 4))) static slq_err fail(reader *rd, const char *path,
                                                          const char *fmt, ...) {
    if (rd->why == NULL || rd->why_cap == 0) return SLQ_GENESIS_INVALID;
    int n = snprintf(rd->why, rd->why_cap, "%s: ", path[0] != '\0' ? path : "genesis");
    if (n >= 0 && (size_t) n < rd->why_cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rd->why + n, rd->why_cap - (size_t) n, fmt, ap);
        va_end(ap);
    }
    return SLQ_GENESIS_INVALID;
}

/* Paths are short (the deepest is "policy.programs[31].edges[15]"); an unknown key of
 * absurd length is cut, and the reason still says what is wrong. */
static void path_done(char out[PATH_BYTES], int n) {
    if (n < 0 || n >= PATH_BYTES) memcpy(out + PATH_BYTES - 4, "...", 4);
}

static void path_key(char out[PATH_BYTES], const char *parent, const char *key) {
    path_done(out, snprintf(out, PATH_BYTES, "%s%s%s", parent, parent[0] != '\0' ? "." : "", key));
}

static void path_index(char out[PATH_BYTES], const char *parent, size_t i) {
    path_done(out, snprintf(out, PATH_BYTES, "%s[%zu]", parent, i));
}

/* Refuses keys of obj that are not in allowed[0..n) (the parser refuses keys given twice). */
static slq_err check_keys(reader *rd, const json_t *obj, const char *path,
                          const char *const *allowed, size_t n) {
    if (!json_is_object(obj)) return fail(rd, path, "must be an object");
    const char *unknown = NULL;
    if (codec_json_keys_check(obj, allowed, n, &unknown) == SLQ_OK) return SLQ_OK;
    char p[PATH_BYTES];
    path_key(p, path, unknown);
    return fail(rd, p, "unknown key");
}

/* The member `key` of obj, or NULL; *err is set when it is required and absent. */
static const json_t *member(reader *rd, const json_t *obj, const char *path, const char *key,
                            bool required, slq_err *err) {
    const json_t *m = json_object_get(obj, key);
    *err = SLQ_OK;
    if (m == NULL && required) {
        char p[PATH_BYTES];
        path_key(p, path, key);
        *err = fail(rd, p, "missing");
    }
    return m;
}

typedef struct {
    const char *key;
    bool required;
    int64_t min;
    int64_t max;
} int_spec;

/* Reads integer member spec->key of obj into *out (left alone when optional and absent). */
static slq_err get_int(reader *rd, const json_t *obj, const char *path, const int_spec *spec,
                       int64_t *out) {
    slq_err err;
    const json_t *m = member(rd, obj, path, spec->key, spec->required, &err);
    if (m == NULL) return err;
    char p[PATH_BYTES];
    path_key(p, path, spec->key);
    int64_t v = 0;
    if (!codec_json_int(m, &v) || v < spec->min || v > spec->max)
        return fail(rd, p, "must be an integer %lld..%lld", (long long) spec->min,
                    (long long) spec->max);
    *out = v;
    return SLQ_OK;
}

static slq_err get_string(reader *rd, const json_t *obj, const char *path, const char *key,
                          bool required, char **out) {
    slq_err err;
    const json_t *m = member(rd, obj, path, key, required, &err);
    if (m == NULL) return err;
    if (!json_is_string(m)) {
        char p[PATH_BYTES];
        path_key(p, path, key);
        return fail(rd, p, "must be a string");
    }
    /* Slq__Genesis's fields are char * but are only read (packed) while the tree lives. */
    *out = (char *) json_string_value(m);
    return SLQ_OK;
}

static slq_err get_bool(reader *rd, const json_t *obj, const char *path, const char *key,
                        protobuf_c_boolean *out) {
    slq_err err;
    const json_t *m = member(rd, obj, path, key, false, &err);
    if (m == NULL) return err;
    if (!json_is_boolean(m)) {
        char p[PATH_BYTES];
        path_key(p, path, key);
        return fail(rd, p, "must be true or false");
    }
    *out = json_is_true(m);
    return SLQ_OK;
}

/* Reads lowercase hex of exactly n bytes into arena memory. */
static slq_err get_hex(reader *rd, const json_t *obj, const char *path, const char *key, size_t n,
                       bool required, ProtobufCBinaryData *out) {
    char *s = NULL;
    slq_err err = get_string(rd, obj, path, key, required, &s);
    if (err != SLQ_OK || s == NULL) return err;
    uint8_t *b = arena_calloc(&rd->mem, n, 1);
    if (b == NULL) return SLQ_NO_MEMORY;
    if (codec_hex_decode(b, n, s) != SLQ_OK) {
        char p[PATH_BYTES];
        path_key(p, path, key);
        return fail(rd, p, "must be %zu bytes as %zu lowercase hex digits", n, 2 * n);
    }
    *out = (ProtobufCBinaryData){n, b};
    return SLQ_OK;
}

/* Reads array member `key` (required) of at most max elements; allocates *items. */
static slq_err get_array(reader *rd, const json_t *obj, const char *path, const char *key,
                         size_t max, void ***items, size_t *count) {
    slq_err err;
    const json_t *m = member(rd, obj, path, key, true, &err);
    if (m == NULL) return err;
    char p[PATH_BYTES];
    path_key(p, path, key);
    if (!json_is_array(m)) return fail(rd, p, "must be an array");
    size_t n = json_array_size(m);
    if (n > max) return fail(rd, p, "at most %zu entries", max);
    *items = arena_calloc(&rd->mem, n, sizeof(void *));
    if (*items == NULL) return SLQ_NO_MEMORY;
    *count = n;
    return SLQ_OK;
}

static const json_t *array_item(const json_t *obj, const char *key, size_t i) {
    return json_array_get(json_object_get(obj, key), i);
}

static slq_err read_edge(reader *rd, const json_t *e, const char *path, Slq__TransferEdge *out) {
    slq__transfer_edge__init(out);
    const char *from = json_string_value(json_array_get(e, 0)); /* NULL unless a string */
    const char *to = json_string_value(json_array_get(e, 1));
    bool ok = json_array_size(e) == 2 && from != NULL && to != NULL &&
              codec_party_parse(&out->from, from) == SLQ_OK &&
              codec_party_parse(&out->to, to) == SLQ_OK;
    if (!ok)
        return fail(rd, path,
                    "must be a pair [from, to] of \"holder\", \"centre\", \"intermediary\"");
    return SLQ_OK;
}

static slq_err read_edges(reader *rd, const json_t *obj, const char *path, Slq__Program *p) {
    slq_err err =
        get_array(rd, obj, path, "edges", SLQ_EDGES_MAX, (void ***) &p->edges, &p->n_edges);
    char ep[PATH_BYTES], ip[PATH_BYTES];
    path_key(ep, path, "edges");
    for (size_t i = 0; err == SLQ_OK && i < p->n_edges; i++) {
        path_index(ip, ep, i);
        p->edges[i] = arena_calloc(&rd->mem, 1, sizeof *p->edges[i]);
        if (p->edges[i] == NULL) return SLQ_NO_MEMORY;
        err = read_edge(rd, array_item(obj, "edges", i), ip, p->edges[i]);
    }
    return err;
}

/* Optional `centres`: addresses as slq1 + 40 hex, like an account's `address`. */
static slq_err read_centres(reader *rd, const json_t *obj, const char *path, Slq__Program *p) {
    if (json_object_get(obj, "centres") == NULL) return SLQ_OK;
    void **items = NULL;
    slq_err err =
        get_array(rd, obj, path, "centres", SLQ_PROGRAM_CENTRES_MAX, &items, &p->n_centres);
    if (err != SLQ_OK) return err;
    p->centres = arena_calloc(&rd->mem, p->n_centres, sizeof *p->centres);
    if (p->centres == NULL) return SLQ_NO_MEMORY;
    char cp[PATH_BYTES], ip[PATH_BYTES];
    path_key(cp, path, "centres");
    for (size_t i = 0; i < p->n_centres; i++) {
        const char *text = json_string_value(array_item(obj, "centres", i)); /* NULL unless one */
        uint8_t *b = arena_calloc(&rd->mem, CRYPTO_ADDRESS_BYTES, 1);
        if (b == NULL) return SLQ_NO_MEMORY;
        path_index(ip, cp, i);
        if (text == NULL || crypto_address_parse(b, text) != SLQ_OK)
            return fail(rd, ip, "must be slq1 followed by 40 lowercase hex digits");
        p->centres[i] = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, b};
    }
    return SLQ_OK;
}

static slq_err read_program(reader *rd, const json_t *obj, const char *path, Slq__Program *p) {
    static const char *const keys[] = {"name",
                                       "annual_cap_fen",
                                       "outside_city_cap",
                                       "holder_annual_cap_fen",
                                       "max_share_bp",
                                       "expiry_ms",
                                       "edges",
                                       "centres",
                                       "applications_required",
                                       "redeem_grace_ms"};
    static const int_spec cap = {"annual_cap_fen", false, 0, INT64_MAX};
    static const int_spec holder = {"holder_annual_cap_fen", false, 0, INT64_MAX};
    static const int_spec share = {"max_share_bp", false, 0, 10000};
    static const int_spec expiry = {"expiry_ms", false, 0, INT64_MAX};
    static const int_spec grace = {"redeem_grace_ms", false, 0, INT64_MAX};
    slq__program__init(p);
    int64_t bp = 0;
    slq_err err = check_keys(rd, obj, path, keys, sizeof keys / sizeof keys[0]);
    if (err == SLQ_OK) err = get_string(rd, obj, path, "name", true, &p->name);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &cap, &p->annual_cap_fen);
    if (err == SLQ_OK) err = get_bool(rd, obj, path, "outside_city_cap", &p->outside_city_cap);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &holder, &p->holder_annual_cap_fen);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &share, &bp);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &expiry, &p->expiry_ms);
    if (err == SLQ_OK) err = read_edges(rd, obj, path, p);
    if (err == SLQ_OK) err = read_centres(rd, obj, path, p);
    if (err == SLQ_OK)
        err = get_bool(rd, obj, path, "applications_required", &p->applications_required);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &grace, &p->redeem_grace_ms);
    p->max_share_bp = (uint32_t) bp;
    return err;
}

/* Optional `payers`: the names that may pay a settled claim ("city", districts). */
static slq_err read_payers(reader *rd, const json_t *obj, Slq__Policy *pol) {
    if (json_object_get(obj, "payers") == NULL) return SLQ_OK;
    void **items = NULL;
    slq_err err = get_array(rd, obj, "policy", "payers", SLQ_PAYERS_MAX, &items, &pol->n_payers);
    if (err != SLQ_OK) return err;
    pol->payers = (char **) items;
    char ip[PATH_BYTES];
    for (size_t i = 0; i < pol->n_payers; i++) {
        const char *text = json_string_value(array_item(obj, "payers", i)); /* NULL unless one */
        path_index(ip, "policy.payers", i);
        if (text == NULL) return fail(rd, ip, "must be a string");
        pol->payers[i] = (char *) text; /* read only while the tree lives, as get_string's */
    }
    return SLQ_OK;
}

static slq_err read_policy(reader *rd, const json_t *root, Slq__Policy *pol) {
    static const char *const keys[] = {"valid_from_ms", "valid_until_ms", "city_annual_cap_fen",
                                       "programs", "payers"};
    static const int_spec from = {"valid_from_ms", true, 0, INT64_MAX};
    static const int_spec until = {"valid_until_ms", true, 0, INT64_MAX};
    static const int_spec cap = {"city_annual_cap_fen", true, 0, INT64_MAX};
    slq__policy__init(pol);
    slq_err err;
    const json_t *obj = member(rd, root, "", "policy", true, &err);
    if (obj == NULL) return err;
    err = check_keys(rd, obj, "policy", keys, sizeof keys / sizeof keys[0]);
    if (err == SLQ_OK) err = get_int(rd, obj, "policy", &from, &pol->valid_from_ms);
    if (err == SLQ_OK) err = get_int(rd, obj, "policy", &until, &pol->valid_until_ms);
    if (err == SLQ_OK) err = get_int(rd, obj, "policy", &cap, &pol->city_annual_cap_fen);
    if (err == SLQ_OK)
        err = get_array(rd, obj, "policy", "programs", SLQ_PROGRAMS_MAX, (void ***) &pol->programs,
                        &pol->n_programs);
    char p[PATH_BYTES];
    for (size_t i = 0; err == SLQ_OK && i < pol->n_programs; i++) {
        path_index(p, "policy.programs", i);
        pol->programs[i] = arena_calloc(&rd->mem, 1, sizeof *pol->programs[i]);
        if (pol->programs[i] == NULL) return SLQ_NO_MEMORY;
        err = read_program(rd, array_item(obj, "programs", i), p, pol->programs[i]);
    }
    if (err == SLQ_OK) err = read_payers(rd, obj, pol);
    return err;
}

static slq_err read_validator(reader *rd, const json_t *obj, const char *path, Slq__Validator *v) {
    static const char *const keys[] = {"pubkey", "name", "power"};
    static const int_spec power = {"power", true, 1, 1000000};
    slq__validator__init(v);
    int64_t pw = 0;
    slq_err err = check_keys(rd, obj, path, keys, 3);
    size_t key_len = crypto_pubkey_len(rd->suite);
    if (err == SLQ_OK) err = get_hex(rd, obj, path, "pubkey", key_len, true, &v->pubkey);
    if (err == SLQ_OK) err = get_string(rd, obj, path, "name", true, &v->name);
    if (err == SLQ_OK) err = get_int(rd, obj, path, &power, &pw);
    v->power = (uint64_t) pw;
    return err;
}

static slq_err read_address(reader *rd, const json_t *obj, const char *path,
                            Slq__GenesisAccount *a) {
    char *text = NULL;
    slq_err err = get_string(rd, obj, path, "address", false, &text);
    if (err != SLQ_OK || text == NULL) return err;
    uint8_t *b = arena_calloc(&rd->mem, CRYPTO_ADDRESS_BYTES, 1);
    if (b == NULL) return SLQ_NO_MEMORY;
    char p[PATH_BYTES];
    path_key(p, path, "address");
    if (crypto_address_parse(b, text) != SLQ_OK)
        return fail(rd, p, "must be slq1 followed by 40 lowercase hex digits");
    a->address = (ProtobufCBinaryData){CRYPTO_ADDRESS_BYTES, b};
    return SLQ_OK;
}

static slq_err read_role(reader *rd, const json_t *obj, const char *path, Slq__Role *role) {
    char *text = NULL;
    slq_err err = get_string(rd, obj, path, "role", true, &text);
    if (err != SLQ_OK) return err;
    if (codec_role_parse(role, text) == SLQ_OK) return SLQ_OK;
    char p[PATH_BYTES];
    path_key(p, path, "role");
    return fail(rd, p,
                "must be one of issuer, centre, finance, enterprise, maker, research, "
                "university, intermediary, regulator");
}

static slq_err read_account(reader *rd, const json_t *obj, const char *path,
                            Slq__GenesisAccount *a) {
    static const char *const keys[] = {"pubkey", "address",          "role",
                                       "name",   "credit_code_hash", "affiliation"};
    slq__genesis_account__init(a);
    slq_err err = check_keys(rd, obj, path, keys, sizeof keys / sizeof keys[0]);
    size_t key_len = crypto_pubkey_len(rd->suite);
    if (err == SLQ_OK) err = get_hex(rd, obj, path, "pubkey", key_len, false, &a->pubkey);
    if (err == SLQ_OK) err = read_address(rd, obj, path, a);
    if (err == SLQ_OK && a->pubkey.len == 0 && a->address.len == 0)
        err = fail(rd, path, "needs \"pubkey\" or \"address\"");
    if (err == SLQ_OK) err = read_role(rd, obj, path, &a->role);
    if (err == SLQ_OK) err = get_string(rd, obj, path, "name", true, &a->name);
    if (err == SLQ_OK)
        err = get_hex(rd, obj, path, "credit_code_hash", CRYPTO_HASH_BYTES, false,
                      &a->credit_code_hash);
    if (err == SLQ_OK) err = get_string(rd, obj, path, "affiliation", false, &a->affiliation);
    return err;
}

/* Reads the array `key` of root: allocates each element (elem_size) and reads it with fn. */
typedef slq_err (*elem_reader)(reader *, const json_t *, const char *, void *);

static slq_err read_list(reader *rd, const json_t *root, const char *key, size_t max,
                         size_t elem_size, elem_reader fn, void ***items, size_t *count) {
    slq_err err = get_array(rd, root, "", key, max, items, count);
    char p[PATH_BYTES];
    for (size_t i = 0; err == SLQ_OK && i < *count; i++) {
        path_index(p, key, i);
        (*items)[i] = arena_calloc(&rd->mem, 1, elem_size);
        if ((*items)[i] == NULL) return SLQ_NO_MEMORY;
        err = fn(rd, array_item(root, key, i), p, (*items)[i]);
    }
    return err;
}

static slq_err read_validator_cb(reader *rd, const json_t *o, const char *path, void *out) {
    return read_validator(rd, o, path, out);
}

static slq_err read_account_cb(reader *rd, const json_t *o, const char *path, void *out) {
    return read_account(rd, o, path, out);
}

static slq_err read_suite(reader *rd, const json_t *root, Slq__Genesis *g) {
    slq_err err = get_string(rd, root, "", "suite", true, &g->suite);
    if (err != SLQ_OK) return err;
    if (crypto_suite_parse(&rd->suite, g->suite) != SLQ_OK)
        return fail(rd, "suite", "must be \"ed25519-sha256\" or \"sm2-sm3\"");
    return SLQ_OK;
}

static slq_err read_genesis(reader *rd, const json_t *root, Slq__Genesis *g, Slq__Policy *pol) {
    static const char *const keys[] = {"chain_id",   "suite",    "time_ms",
                                       "validators", "accounts", "policy"};
    static const int_spec time = {"time_ms", true, 1, INT64_MAX};
    slq_err err = check_keys(rd, root, "", keys, sizeof keys / sizeof keys[0]);
    if (err == SLQ_OK) err = get_string(rd, root, "", "chain_id", true, &g->chain_id);
    if (err == SLQ_OK) err = read_suite(rd, root, g);
    if (err == SLQ_OK) err = get_int(rd, root, "", &time, &g->time_ms);
    if (err == SLQ_OK)
        err = read_list(rd, root, "validators", SLQ_VALIDATORS_MAX, sizeof(Slq__Validator),
                        read_validator_cb, (void ***) &g->validators, &g->n_validators);
    if (err == SLQ_OK)
        err = read_list(rd, root, "accounts", SLQ_GENESIS_ACCOUNTS_MAX, sizeof(Slq__GenesisAccount),
                        read_account_cb, (void ***) &g->accounts, &g->n_accounts);
    if (err == SLQ_OK) err = read_policy(rd, root, pol);
    g->policy = pol;
    return err;
}

/* Parses the text into *root; text that is not JSON is refused with its line and column. */
static slq_err parse_text(reader *rd, const char *json, size_t len, json_t **root) {
    char why[200];
    *root = codec_json_parse(json, len, why, sizeof why);
    if (*root == NULL) {
        /* why starts with "line L column C": it takes the place of the path. */
        if (rd->why != NULL && rd->why_cap > 0) snprintf(rd->why, rd->why_cap, "%s", why);
        return SLQ_GENESIS_INVALID;
    }
    return SLQ_OK;
}

static slq_err pack(reader *rd, const Slq__Genesis *g, uint8_t **out, size_t *out_len) {
    size_t n = slq__genesis__get_packed_size(g);
    if (n > SLQ_GENESIS_BYTES_MAX)
        return fail(rd, "", "encodes to %zu bytes, more than %u", n, SLQ_GENESIS_BYTES_MAX);
    *out = malloc(n == 0 ? 1 : n);
    if (*out == NULL) return SLQ_NO_MEMORY;
    size_t w = slq__genesis__pack(g, *out);
    SLQ_ASSERT(w == n);
    *out_len = n;
    return SLQ_OK;
}

slq_err codec_genesis_from_json(uint8_t **out, size_t *out_len, const char *json, size_t len,
                                char *why, size_t why_cap) {
    SLQ_ASSERT(out != NULL && out_len != NULL);
    SLQ_ASSERT(json != NULL || len == 0);
    reader rd = {.why = why, .why_cap = why_cap};
    if (why != NULL && why_cap > 0) why[0] = '\0';
    if (len > CODEC_GENESIS_JSON_BYTES_MAX)
        return fail(&rd, "", "genesis.json exceeds %u bytes", CODEC_GENESIS_JSON_BYTES_MAX);
    json_t *root = NULL;
    slq_err err = parse_text(&rd, json, len, &root);
    Slq__Genesis g = SLQ__GENESIS__INIT;
    Slq__Policy pol = SLQ__POLICY__INIT;
    if (err == SLQ_OK) err = read_genesis(&rd, root, &g, &pol);
    if (err == SLQ_OK) err = pack(&rd, &g, out, out_len);
    arena_free(&rd.mem);
    json_decref(root);
    return err;
}
