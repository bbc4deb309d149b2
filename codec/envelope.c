/* envelope.c: the signed report (docs/audit.md). The regulator signs the report's JSON
 * bytes exactly as produced, under its own preimage, so that the signature can never be
 * replayed as a transaction, a vote or a handshake:
 *
 *   preimage = "slq/report" || 0x00 || report bytes
 *
 * and wraps them, unchanged, in an envelope whose first member is the report itself:
 *
 *   {"report":<report bytes>,"signer":"slq1...","suite":"ed25519-sha256",
 *    "pubkey":"<hex>","signature":"<hex>"}\n
 *
 * The verifier takes the report's bytes from the envelope as they are (the parser tells
 * where the value ends), never a re-encoding. No state; thread-safe. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "codec_json.h"
#include "slq/why.h"

#define ENVELOPE_HEAD "{\"report\":"
#define DOMAIN        "slq/report" /* followed by one zero byte in the preimage */

/* The preimage of a report's signature; *out malloc'd. */
static slq_err preimage(uint8_t **out, size_t *out_len, const char *report, size_t len) {
    size_t d = sizeof DOMAIN; /* the domain and its terminating zero byte */
    *out = malloc(d + len);
    if (*out == NULL) return SLQ_NO_MEMORY;
    memcpy(*out, DOMAIN, d);
    memcpy(*out + d, report, len);
    *out_len = d + len;
    return SLQ_OK;
}

slq_err codec_report_sign(char **out, size_t *out_len, const char *report, size_t len,
                          const crypto_key *key) {
    if (len == 0 || len > CODEC_REPORT_BYTES_MAX || report[0] != '{') return SLQ_FIELD_INVALID;
    crypto_suite suite = crypto_key_suite(key);
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX], addr[CRYPTO_ADDRESS_BYTES], sig[CRYPTO_SIG_BYTES_MAX];
    size_t pub_len = 0, sig_len = 0, msg_len = 0;
    uint8_t *msg = NULL;
    slq_err err = crypto_key_public(key, pub, sizeof pub, &pub_len);
    if (err == SLQ_OK) err = crypto_address(suite, addr, pub, pub_len);
    if (err == SLQ_OK) err = preimage(&msg, &msg_len, report, len);
    if (err == SLQ_OK) err = crypto_sign(key, sig, sizeof sig, &sig_len, msg, msg_len);
    free(msg);
    if (err != SLQ_OK) return err;
    char signer[CRYPTO_ADDRESS_TEXT_BYTES], pub_hex[2 * CRYPTO_PUBKEY_BYTES_MAX + 1],
        sig_hex[2 * CRYPTO_SIG_BYTES_MAX + 1];
    crypto_address_format(signer, addr);
    codec_hex_encode(pub_hex, pub, pub_len);
    codec_hex_encode(sig_hex, sig, sig_len);
    size_t cap = len + 512;
    *out = malloc(cap);
    if (*out == NULL) return SLQ_NO_MEMORY;
    int n = snprintf(*out, cap,
                     "%s%.*s,\"signer\":\"%s\",\"suite\":\"%s\",\"pubkey\":\"%s\","
                     "\"signature\":\"%s\"}\n",
                     ENVELOPE_HEAD, (int) len, report, signer, crypto_suite_name(suite), pub_hex,
                     sig_hex);
    if (n < 0 || (size_t) n >= cap) {
        free(*out);
        return SLQ_NO_MEMORY;
    }
    *out_len = (size_t) n;
    return SLQ_OK;
}

/* The envelope's text members, checked for presence and type. */
typedef struct {
    const char *signer, *suite, *pubkey, *signature;
} envelope_fields;

static slq_err envelope_fields_get(const json_t *env, envelope_fields *f, char *why,
                                   size_t why_cap) {
    static const char *const keys[] = {"report", "signer", "suite", "pubkey", "signature"};
    size_t members = json_object_size(env);
    const json_t *v[5];
    for (size_t i = 0; i < 5; i++) v[i] = json_object_get(env, keys[i]);
    if (members != 5 || !json_is_object(v[0])) {
        SLQ_WHY("not a signed report: want exactly report, signer, suite, pubkey, signature");
        return SLQ_SIG_INVALID;
    }
    for (size_t i = 1; i < 5; i++)
        if (!json_is_string(v[i])) {
            SLQ_WHY("%s is not a string", keys[i]);
            return SLQ_SIG_INVALID;
        }
    *f = (envelope_fields){json_string_value(v[1]), json_string_value(v[2]),
                           json_string_value(v[3]), json_string_value(v[4])};
    return SLQ_OK;
}

/* Decodes the key and signature and checks that the key is the signer's. */
static slq_err envelope_key(const envelope_fields *f, crypto_suite *suite, uint8_t *pub,
                            size_t *pub_len, uint8_t *sig, size_t *sig_len, char *why,
                            size_t why_cap) {
    if (crypto_suite_parse(suite, f->suite) != SLQ_OK) {
        SLQ_WHY("unknown suite \"%.32s\"", f->suite);
        return SLQ_SIG_INVALID;
    }
    *pub_len = crypto_pubkey_len(*suite);
    *sig_len = strlen(f->signature) / 2;
    uint8_t addr[CRYPTO_ADDRESS_BYTES];
    char text[CRYPTO_ADDRESS_TEXT_BYTES];
    if (codec_hex_decode(pub, *pub_len, f->pubkey) != SLQ_OK ||
        crypto_address(*suite, addr, pub, *pub_len) != SLQ_OK) {
        SLQ_WHY("pubkey is not a %s public key in hex", f->suite);
        return SLQ_SIG_INVALID;
    }
    crypto_address_format(text, addr);
    if (strcmp(text, f->signer) != 0) {
        SLQ_WHY("signer %.48s is not the address of pubkey (%s)", f->signer, text);
        return SLQ_SIG_INVALID;
    }
    if (*sig_len == 0 || *sig_len > CRYPTO_SIG_BYTES_MAX ||
        codec_hex_decode(sig, *sig_len, f->signature) != SLQ_OK) {
        SLQ_WHY("signature is not hex of a signature");
        return SLQ_SIG_INVALID;
    }
    return SLQ_OK;
}

/* Where the report's bytes are: right after the head, up to where its value ends. */
static slq_err report_span(const char *env, size_t len, size_t *start, size_t *n) {
    size_t head = strlen(ENVELOPE_HEAD);
    if (len <= head || memcmp(env, ENVELOPE_HEAD, head) != 0 || env[head] != '{')
        return SLQ_SIG_INVALID;
    size_t end = 0;
    json_t *r = codec_json_parse_prefix(env + head, len - head, &end, NULL, 0);
    json_decref(r);
    if (r == NULL || end == 0) return SLQ_SIG_INVALID;
    *start = head;
    *n = end;
    return SLQ_OK;
}

static slq_err verify_signature(const char *env, size_t len, const json_t *parsed,
                                char signer[CRYPTO_ADDRESS_TEXT_BYTES], char *why, size_t why_cap) {
    envelope_fields f;
    crypto_suite suite;
    uint8_t pub[CRYPTO_PUBKEY_BYTES_MAX], sig[CRYPTO_SIG_BYTES_MAX];
    size_t pub_len = 0, sig_len = 0, start = 0, n = 0, msg_len = 0;
    slq_err err = envelope_fields_get(parsed, &f, why, why_cap);
    if (err == SLQ_OK) err = envelope_key(&f, &suite, pub, &pub_len, sig, &sig_len, why, why_cap);
    if (err != SLQ_OK) return err;
    if (report_span(env, len, &start, &n) != SLQ_OK) {
        SLQ_WHY("the envelope does not start with its report");
        return SLQ_SIG_INVALID;
    }
    uint8_t *msg = NULL;
    err = preimage(&msg, &msg_len, env + start, n);
    if (err != SLQ_OK) return err;
    err = crypto_verify(suite, pub, pub_len, msg, msg_len, sig, sig_len);
    free(msg);
    if (err != SLQ_OK) {
        SLQ_WHY("the signature of %s does not verify over the report", f.signer);
        return SLQ_SIG_INVALID;
    }
    snprintf(signer, CRYPTO_ADDRESS_TEXT_BYTES, "%s", f.signer);
    return SLQ_OK;
}

slq_err codec_report_verify(const char *envelope, size_t len,
                            char signer[CRYPTO_ADDRESS_TEXT_BYTES], char *why, size_t why_cap) {
    if (len > CODEC_REPORT_BYTES_MAX + 1024) {
        SLQ_WHY("larger than %u bytes", CODEC_REPORT_BYTES_MAX + 1024);
        return SLQ_SIG_INVALID;
    }
    json_t *env = codec_json_parse(envelope, len, NULL, 0);
    if (!json_is_object(env)) {
        json_decref(env);
        SLQ_WHY("not JSON: the file is damaged or not a signed report");
        return SLQ_SIG_INVALID;
    }
    slq_err err = verify_signature(envelope, len, env, signer, why, why_cap);
    json_decref(env);
    return err;
}
