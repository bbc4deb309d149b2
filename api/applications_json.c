/* applications_json.c: GET /v1/applications and GET /v1/applications/ID (docs/api.md), built
 * over a pinned view of the store on a libuv worker (documents.c): the list is a scan of every
 * application, which grows with the chain. An application's document carries its contract's
 * cumulative figures, so the issuer sees how much of the contract's share is left. */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "slq/amount.h"
#include "slq/keys.h"

static const char *status_name(Slq__ApplicationStatus s) {
    switch (s) {
        case SLQ__APPLICATION_STATUS__APPLICATION_OPEN:
            return "open";
        case SLQ__APPLICATION_STATUS__APPLICATION_ISSUED:
            return "issued";
        case SLQ__APPLICATION_STATUS__APPLICATION_REJECTED:
            return "rejected";
        default:
            return "unknown";
    }
}

bool api_application_status_parse(const char *text, int *status) {
    static const Slq__ApplicationStatus all[] = {SLQ__APPLICATION_STATUS__APPLICATION_OPEN,
                                                 SLQ__APPLICATION_STATUS__APPLICATION_ISSUED,
                                                 SLQ__APPLICATION_STATUS__APPLICATION_REJECTED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(text, status_name(all[i])) == 0) {
            *status = (int) all[i];
            return true;
        }
    return false;
}

static void hex_or_null(json_t *o, const char *key, const ProtobufCBinaryData *b) {
    if (b->len > 0)
        codec_json_set_hex(o, key, b->data, b->len);
    else
        codec_json_set_null(o, key);
}

static json_t *application_json(const ledger *l, const Slq__Application *ap) {
    const Slq__Policy *pol = ledger_genesis(l)->policy;
    json_t *o = json_object();
    codec_json_set_hex(o, "id", ap->id.data, ap->id.len);
    if (ap->applicant.len == CRYPTO_ADDRESS_BYTES)
        codec_json_set_address(o, "applicant", ap->applicant.data);
    else
        codec_json_set_null(o, "applicant");
    codec_json_set_str(
        o, "program", ap->program < pol->n_programs ? pol->programs[ap->program]->name : "unknown");
    codec_json_set_i64(o, "asked_fen", ap->asked_fen);
    codec_json_set_i64(o, "issued_fen", ap->issued_fen);
    codec_json_set_str(o, "contract_ref", ap->contract_ref);
    hex_or_null(o, "contract_key", &ap->contract_key);
    codec_json_set_i64(o, "cost_fen", ap->cost_fen);
    hex_or_null(o, "evidence_hash", &ap->evidence_hash);
    codec_json_set_str(o, "status", status_name(ap->status));
    codec_json_set_str(o, "reason", ap->reason);
    codec_json_set_u64(o, "applied_height", ap->applied_height);
    codec_json_set_u64(o, "closed_height", ap->closed_height);
    hex_or_null(o, "apply_tx", &ap->apply_tx);
    hex_or_null(o, "close_tx", &ap->close_tx);
    hex_or_null(o, "voucher", &ap->voucher_id);
    return o;
}

typedef struct {
    const ledger *l;
    json_t *list;
    const uint8_t *holder; /* NULL: every applicant */
    int status;            /* 0: every status */
    slq_err err;
} applications_scan;

static bool applications_cb(void *arg, const uint8_t *key, size_t key_len, const uint8_t *val,
                            size_t val_len) {
    (void) key, (void) key_len;
    applications_scan *sc = arg;
    Slq__Application *ap = slq__application__unpack(NULL, val_len, val);
    if (ap == NULL) {
        sc->err = SLQ_STORAGE_CORRUPT;
        return false;
    }
    bool holder_ok =
        sc->holder == NULL || (ap->applicant.len == CRYPTO_ADDRESS_BYTES &&
                               memcmp(ap->applicant.data, sc->holder, CRYPTO_ADDRESS_BYTES) == 0);
    if (holder_ok && (sc->status == 0 || (int) ap->status == sc->status))
        codec_json_set(sc->list, NULL, application_json(sc->l, ap));
    slq__application__free_unpacked(ap, NULL);
    return true;
}

slq_err api_applications_json(const api_view *view, const uint8_t *holder, int status,
                              json_t **out) {
    json_t *o = json_object();
    applications_scan sc = {.l = view->l,
                            .list = codec_json_add_array(o, "applications"),
                            .holder = holder,
                            .status = status};
    uint8_t prefix = SLQ_KEY_APPLICATION;
    slq_err err = storage_pin_scan(view->pin, &prefix, 1, applications_cb, &sc);
    if (err == SLQ_OK) err = sc.err;
    if (err != SLQ_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return SLQ_OK;
}

/* Reads and unpacks one row through the pin. */
static slq_err pin_row(const api_view *view, const slq_key *k, const ProtobufCMessageDescriptor *d,
                       ProtobufCMessage **out) {
    uint8_t *v = NULL;
    size_t len = 0;
    slq_err err = storage_pin_get(view->pin, k->bytes, k->len, &v, &len);
    if (err != SLQ_OK) return err;
    *out = protobuf_c_message_unpack(d, NULL, len, v);
    free(v);
    return *out == NULL ? SLQ_STORAGE_CORRUPT : SLQ_OK;
}

/* The contract's cumulative figures and what its program's share still leaves. */
static json_t *contract_json(const ledger *l, const Slq__ContractShare *c) {
    const Slq__Policy *pol = ledger_genesis(l)->policy;
    json_t *o = json_object();
    codec_json_set_i64(o, "cost_fen", c->cost_fen);
    codec_json_set_i64(o, "asked_fen", c->asked_fen);
    codec_json_set_i64(o, "issued_fen", c->issued_fen);
    codec_json_set_u64(o, "applications", c->applications);
    uint32_t bp = c->program < pol->n_programs ? pol->programs[c->program]->max_share_bp : 0;
    int64_t limit = 0;
    if (bp > 0 && amount_share_bp(&limit, c->cost_fen, bp) == SLQ_OK)
        codec_json_set_i64(o, "share_limit_fen", limit);
    else
        codec_json_set_null(o, "share_limit_fen");
    return o;
}

slq_err api_application_json(const api_view *view, const uint8_t id[CRYPTO_HASH_BYTES],
                             json_t **out) {
    slq_key k = slq_key_bytes(SLQ_KEY_APPLICATION, id, CRYPTO_HASH_BYTES);
    Slq__Application *ap = NULL;
    slq_err err = pin_row(view, &k, &slq__application__descriptor, (ProtobufCMessage **) &ap);
    if (err != SLQ_OK) return err;
    json_t *o = application_json(view->l, ap);
    Slq__ContractShare *c = NULL;
    if (ap->contract_key.len == CRYPTO_HASH_BYTES) {
        slq_key ck = slq_key_bytes(SLQ_KEY_CONTRACT, ap->contract_key.data, CRYPTO_HASH_BYTES);
        err = pin_row(view, &ck, &slq__contract_share__descriptor, (ProtobufCMessage **) &c);
    }
    if (err == SLQ_OK && c != NULL) codec_json_set(o, "contract", contract_json(view->l, c));
    if (err == SLQ_NOT_FOUND) err = SLQ_STORAGE_CORRUPT; /* an application without its contract */
    slq__contract_share__free_unpacked(c, NULL);
    slq__application__free_unpacked(ap, NULL);
    if (err != SLQ_OK) {
        json_decref(o);
        return err;
    }
    *out = o;
    return SLQ_OK;
}
