/* genesis_out.c: Genesis -> pretty-printed genesis.json (docs/genesis.md).
 *
 * Integers are written from their exact decimal text (cJSON raw values), never through a
 * double, so every int64 survives. Optional keys are written only when they differ from
 * the default, and the reader takes an absent key as the default, so
 * codec_genesis_from_json(codec_genesis_to_json(g)) packs to the same bytes as g. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "slq/assert.h"

/* A writer remembers its first failure, so that building the tree needs no branches. */
typedef struct {
    slq_err err;
} writer;

static cJSON *add(writer *w, cJSON *obj, const char *key, cJSON *item) {
    if (item == NULL) {
        if (w->err == SLQ_OK) w->err = SLQ_NO_MEMORY;
        return NULL;
    }
    bool ok = key != NULL ? cJSON_AddItemToObject(obj, key, item) : cJSON_AddItemToArray(obj, item);
    if (!ok) {
        cJSON_Delete(item);
        if (w->err == SLQ_OK) w->err = SLQ_NO_MEMORY;
        return NULL;
    }
    return item;
}

static void add_int(writer *w, cJSON *obj, const char *key, int64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%" PRId64, v);
    add(w, obj, key, cJSON_CreateRaw(text));
}

static void add_uint(writer *w, cJSON *obj, const char *key, uint64_t v) {
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    add(w, obj, key, cJSON_CreateRaw(text));
}

static void add_string(writer *w, cJSON *obj, const char *key, const char *s) {
    add(w, obj, key, cJSON_CreateString(s != NULL ? s : ""));
}

static void add_hex(writer *w, cJSON *obj, const char *key, ProtobufCBinaryData b) {
    char *text = malloc(2 * b.len + 1);
    if (text == NULL) {
        if (w->err == SLQ_OK) w->err = SLQ_NO_MEMORY;
        return;
    }
    codec_hex_encode(text, b.data, b.len);
    add(w, obj, key, cJSON_CreateString(text));
    free(text);
}

static void invalid(writer *w) {
    if (w->err == SLQ_OK) w->err = SLQ_GENESIS_INVALID;
}

static void add_edges(writer *w, cJSON *obj, const Slq__Program *p) {
    cJSON *edges = add(w, obj, "edges", cJSON_CreateArray());
    for (size_t i = 0; edges != NULL && i < p->n_edges; i++) {
        const char *from = codec_party_name(p->edges[i]->from);
        const char *to = codec_party_name(p->edges[i]->to);
        if (from == NULL || to == NULL) {
            invalid(w);
            return;
        }
        cJSON *pair = add(w, edges, NULL, cJSON_CreateArray());
        if (pair == NULL) return;
        add_string(w, pair, NULL, from);
        add_string(w, pair, NULL, to);
    }
}

static void add_program(writer *w, cJSON *arr, const Slq__Program *p) {
    cJSON *o = add(w, arr, NULL, cJSON_CreateObject());
    if (o == NULL) return;
    add_string(w, o, "name", p->name);
    add_int(w, o, "annual_cap_fen", p->annual_cap_fen);
    add(w, o, "outside_city_cap", cJSON_CreateBool(p->outside_city_cap));
    add_int(w, o, "holder_annual_cap_fen", p->holder_annual_cap_fen);
    add_uint(w, o, "max_share_bp", p->max_share_bp);
    add_int(w, o, "expiry_ms", p->expiry_ms);
    add_edges(w, o, p);
}

static void add_policy(writer *w, cJSON *root, const Slq__Policy *pol) {
    if (pol == NULL) {
        invalid(w);
        return;
    }
    cJSON *o = add(w, root, "policy", cJSON_CreateObject());
    if (o == NULL) return;
    add_int(w, o, "valid_from_ms", pol->valid_from_ms);
    add_int(w, o, "valid_until_ms", pol->valid_until_ms);
    add_int(w, o, "city_annual_cap_fen", pol->city_annual_cap_fen);
    cJSON *arr = add(w, o, "programs", cJSON_CreateArray());
    for (size_t i = 0; arr != NULL && i < pol->n_programs; i++)
        add_program(w, arr, pol->programs[i]);
}

static void add_validators(writer *w, cJSON *root, const Slq__Genesis *g) {
    cJSON *arr = add(w, root, "validators", cJSON_CreateArray());
    for (size_t i = 0; arr != NULL && i < g->n_validators; i++) {
        const Slq__Validator *v = g->validators[i];
        cJSON *o = add(w, arr, NULL, cJSON_CreateObject());
        if (o == NULL) return;
        add_hex(w, o, "pubkey", v->pubkey);
        add_string(w, o, "name", v->name);
        add_uint(w, o, "power", v->power);
    }
}

static void add_account(writer *w, cJSON *arr, const Slq__GenesisAccount *a) {
    const char *role = codec_role_name(a->role);
    if (role == NULL) {
        invalid(w);
        return;
    }
    if (a->address.len != 0 && a->address.len != CRYPTO_ADDRESS_BYTES) {
        invalid(w);
        return;
    }
    cJSON *o = add(w, arr, NULL, cJSON_CreateObject());
    if (o == NULL) return;
    if (a->pubkey.len != 0) add_hex(w, o, "pubkey", a->pubkey);
    if (a->address.len != 0) {
        char text[CRYPTO_ADDRESS_TEXT_BYTES];
        crypto_address_format(text, a->address.data);
        add_string(w, o, "address", text);
    }
    add_string(w, o, "role", role);
    add_string(w, o, "name", a->name);
    if (a->credit_code_hash.len != 0) add_hex(w, o, "credit_code_hash", a->credit_code_hash);
    if (a->affiliation != NULL && a->affiliation[0] != '\0')
        add_string(w, o, "affiliation", a->affiliation);
}

/* Copies cJSON's text into memory of our own, indented with two spaces instead of tabs,
 * one space after each colon, and a final newline. cJSON escapes tabs inside strings, so
 * every raw tab in its output is layout. */
static slq_err finish(char **out, cJSON *root) {
    char *text = cJSON_Print(root);
    if (text == NULL) return SLQ_NO_MEMORY;
    size_t n = strlen(text), tabs = 0;
    for (size_t i = 0; i < n; i++) tabs += text[i] == '\t';
    *out = malloc(n + tabs + 2);
    size_t k = 0;
    for (size_t i = 0; *out != NULL && i < n; i++) {
        if (text[i] != '\t')
            (*out)[k++] = text[i];
        else if (i > 0 && text[i - 1] == ':')
            (*out)[k++] = ' ';
        else
            (*out)[k++] = ' ', (*out)[k++] = ' ';
    }
    if (*out != NULL) memcpy(*out + k, "\n", 2);
    cJSON_free(text);
    return *out != NULL ? SLQ_OK : SLQ_NO_MEMORY;
}

slq_err codec_genesis_to_json(char **out, const Slq__Genesis *g) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(g != NULL);
    writer w = {SLQ_OK};
    cJSON *root = cJSON_CreateObject();
    if (root == NULL) return SLQ_NO_MEMORY;
    add_string(&w, root, "chain_id", g->chain_id);
    add_string(&w, root, "suite", g->suite);
    add_int(&w, root, "time_ms", g->time_ms);
    add_validators(&w, root, g);
    cJSON *accounts = add(&w, root, "accounts", cJSON_CreateArray());
    for (size_t i = 0; accounts != NULL && i < g->n_accounts; i++)
        add_account(&w, accounts, g->accounts[i]);
    add_policy(&w, root, g->policy);
    slq_err err = w.err == SLQ_OK ? finish(out, root) : w.err;
    cJSON_Delete(root);
    return err;
}
