/* genesis_out.c: Genesis -> pretty-printed genesis.json (docs/genesis.md).
 *
 * Integers are written as exact JSON integers (int64, never through a double), so every
 * value survives. Optional keys are written only when they differ from
 * the default, and the reader takes an absent key as the default, so
 * codec_genesis_from_json(codec_genesis_to_json(g)) packs to the same bytes as g. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "crypto.h"
#include "slq/assert.h"

/* A writer remembers its first failure, so that building the tree needs no branches. */
typedef struct {
    slq_err err;
} writer;

static void invalid(writer *w) {
    if (w->err == SLQ_OK) w->err = SLQ_GENESIS_INVALID;
}

/* Records a failed set (out of memory). */
static void check(writer *w, bool ok) {
    if (!ok && w->err == SLQ_OK) w->err = SLQ_NO_MEMORY;
}

static json_t *checked(writer *w, json_t *child) {
    check(w, child != NULL);
    return child;
}

static void add_int(writer *w, json_t *obj, const char *key, int64_t v) {
    check(w, codec_json_set_i64(obj, key, v));
}

static void add_uint(writer *w, json_t *obj, const char *key, uint64_t v) {
    if (v > (uint64_t) INT64_MAX) {
        invalid(w);
        return;
    }
    check(w, codec_json_set_u64(obj, key, v));
}

static void add_string(writer *w, json_t *obj, const char *key, const char *s) {
    check(w, codec_json_set_str(obj, key, s));
}

static void add_hex(writer *w, json_t *obj, const char *key, ProtobufCBinaryData b) {
    check(w, codec_json_set_hex(obj, key, b.data, b.len));
}

static void add_edges(writer *w, json_t *obj, const Slq__Program *p) {
    json_t *edges = checked(w, codec_json_add_array(obj, "edges"));
    for (size_t i = 0; edges != NULL && i < p->n_edges; i++) {
        const char *from = codec_party_name(p->edges[i]->from);
        const char *to = codec_party_name(p->edges[i]->to);
        if (from == NULL || to == NULL) {
            invalid(w);
            return;
        }
        json_t *pair = checked(w, codec_json_add_array(edges, NULL));
        if (pair == NULL) return;
        add_string(w, pair, NULL, from);
        add_string(w, pair, NULL, to);
    }
}

/* The program's centres, when it names any, as slq1 addresses. */
static void add_centres(writer *w, json_t *obj, const Slq__Program *p) {
    if (p->n_centres == 0) return;
    json_t *arr = checked(w, codec_json_add_array(obj, "centres"));
    for (size_t i = 0; arr != NULL && i < p->n_centres; i++) {
        if (p->centres[i].len != CRYPTO_ADDRESS_BYTES) {
            invalid(w);
            return;
        }
        char text[CRYPTO_ADDRESS_TEXT_BYTES];
        crypto_address_format(text, p->centres[i].data);
        add_string(w, arr, NULL, text);
    }
}

static void add_program(writer *w, json_t *arr, const Slq__Program *p) {
    json_t *o = checked(w, codec_json_add_object(arr, NULL));
    if (o == NULL) return;
    add_string(w, o, "name", p->name);
    add_int(w, o, "annual_cap_fen", p->annual_cap_fen);
    check(w, codec_json_set_bool(o, "outside_city_cap", p->outside_city_cap));
    add_int(w, o, "holder_annual_cap_fen", p->holder_annual_cap_fen);
    add_uint(w, o, "max_share_bp", p->max_share_bp);
    add_int(w, o, "expiry_ms", p->expiry_ms);
    add_edges(w, o, p);
    add_centres(w, o, p);
    check(w, codec_json_set_bool(o, "applications_required", p->applications_required));
    add_int(w, o, "redeem_grace_ms", p->redeem_grace_ms);
}

static void add_policy(writer *w, json_t *root, const Slq__Policy *pol) {
    if (pol == NULL) {
        invalid(w);
        return;
    }
    json_t *o = checked(w, codec_json_add_object(root, "policy"));
    if (o == NULL) return;
    add_int(w, o, "valid_from_ms", pol->valid_from_ms);
    add_int(w, o, "valid_until_ms", pol->valid_until_ms);
    add_int(w, o, "city_annual_cap_fen", pol->city_annual_cap_fen);
    json_t *arr = checked(w, codec_json_add_array(o, "programs"));
    for (size_t i = 0; arr != NULL && i < pol->n_programs; i++)
        add_program(w, arr, pol->programs[i]);
    if (pol->n_payers == 0) return;
    json_t *payers = checked(w, codec_json_add_array(o, "payers"));
    for (size_t i = 0; payers != NULL && i < pol->n_payers; i++)
        add_string(w, payers, NULL, pol->payers[i]);
}

static void add_validators(writer *w, json_t *root, const Slq__Genesis *g) {
    json_t *arr = checked(w, codec_json_add_array(root, "validators"));
    for (size_t i = 0; arr != NULL && i < g->n_validators; i++) {
        const Slq__Validator *v = g->validators[i];
        json_t *o = checked(w, codec_json_add_object(arr, NULL));
        if (o == NULL) return;
        add_hex(w, o, "pubkey", v->pubkey);
        add_string(w, o, "name", v->name);
        add_uint(w, o, "power", v->power);
    }
}

static void add_account(writer *w, json_t *arr, const Slq__GenesisAccount *a) {
    const char *role = codec_role_name(a->role);
    if (role == NULL) {
        invalid(w);
        return;
    }
    if (a->address.len != 0 && a->address.len != CRYPTO_ADDRESS_BYTES) {
        invalid(w);
        return;
    }
    json_t *o = checked(w, codec_json_add_object(arr, NULL));
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

slq_err codec_genesis_to_json(char **out, const Slq__Genesis *g) {
    SLQ_ASSERT(out != NULL);
    SLQ_ASSERT(g != NULL);
    writer w = {SLQ_OK};
    json_t *root = json_object();
    if (root == NULL) return SLQ_NO_MEMORY;
    add_string(&w, root, "chain_id", g->chain_id);
    add_string(&w, root, "suite", g->suite);
    add_int(&w, root, "time_ms", g->time_ms);
    add_validators(&w, root, g);
    json_t *accounts = checked(&w, codec_json_add_array(root, "accounts"));
    for (size_t i = 0; accounts != NULL && i < g->n_accounts; i++)
        add_account(&w, accounts, g->accounts[i]);
    add_policy(&w, root, g->policy);
    slq_err err = w.err;
    if (err == SLQ_OK) {
        *out = codec_json_text(root, CODEC_JSON_PRETTY, NULL);
        if (*out == NULL) err = SLQ_NO_MEMORY;
    }
    json_decref(root);
    return err;
}
