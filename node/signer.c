/* signer.c: the persisted signing guard behind signer.h.
 *
 * The decision is consensus/guard.h's (pure); this file makes it durable. The record is
 * one small file in guard_record_encode's fixed layout, replaced atomically (write a
 * temporary file, fsync it, rename it over the record, fsync the directory) before the
 * signature leaves this module. A record that does not read back is an error: a validator
 * that cannot know what it signed must not sign. */
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "slq/log.h"

struct signer {
    char path[4096];
    const crypto_key *key;
    guard_record rec;
};

/* Writes the record durably: temporary file, fsync, rename, fsync of the directory. */
static slq_err persist(const signer *s, const guard_record *rec) {
    uint8_t buf[GUARD_RECORD_BYTES];
    guard_record_encode(buf, rec);
    char tmp[4200], dir[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", s->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    bool ok = fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t) sizeof buf && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) ok = false;
    ok = ok && rename(tmp, s->path) == 0;
    snprintf(dir, sizeof dir, "%s", s->path);
    int dfd = ok ? open(dirname(dir), O_RDONLY | O_DIRECTORY) : -1;
    ok = ok && dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0) close(dfd);
    if (!ok) log_error("signer: persist: %s: %s", s->path, strerror(errno));
    return ok ? SLQ_OK : SLQ_IO;
}

slq_err signer_open(signer **out, const char *path, const crypto_key *key) {
    signer *s = calloc(1, sizeof *s);
    if (s == NULL) return SLQ_NO_MEMORY;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->key = key;
    FILE *f = fopen(path, "rb");
    slq_err err = SLQ_OK;
    if (f != NULL) {
        uint8_t buf[GUARD_RECORD_BYTES + 1];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        err = guard_record_decode(&s->rec, buf, n);
        if (err != SLQ_OK) log_error("signer: open: %s does not read back; refusing to sign", path);
    } else if (errno != ENOENT) {
        err = SLQ_IO;
    }
    if (err != SLQ_OK) {
        free(s);
        return err;
    }
    *out = s;
    return SLQ_OK;
}

void signer_close(signer *s) {
    free(s);
}

static tm_step step_of(consensus_msg_type t) {
    return t == CONSENSUS_PROPOSAL  ? TM_STEP_PROPOSE
           : t == CONSENSUS_PREVOTE ? TM_STEP_PREVOTE
                                    : TM_STEP_PRECOMMIT;
}

slq_err signer_sign(signer *s, const char *chain_id, const consensus_vote_fields *f,
                    uint8_t sig[CRYPTO_SIG_BYTES_MAX], size_t *sig_len) {
    guard_request req = {.height = f->height,
                         .round = f->round,
                         .step = step_of(f->type),
                         .pol_round = f->pol_round};
    if (f->block_hash != NULL) memcpy(req.block.hash, f->block_hash, sizeof req.block.hash);
    guard_verdict v = guard_check(&s->rec, &req);
    if (v == GUARD_REFUSE) {
        log_warn("signer: refused: height=%llu round=%u step=%d conflicts with what was signed",
                 (unsigned long long) f->height, f->round, (int) req.step);
        return SLQ_ROLE_FORBIDDEN;
    }
    if (v == GUARD_SIGN) {
        uint8_t msg[CONSENSUS_VOTE_BYTES_MAX], fresh[CRYPTO_SIG_BYTES_MAX];
        size_t n = consensus_vote_bytes(msg, chain_id, f), fresh_len = 0;
        slq_err err = crypto_sign(s->key, fresh, sizeof fresh, &fresh_len, msg, n);
        if (err != SLQ_OK) return err;
        guard_record next = s->rec;
        guard_record_set(&next, &req, fresh, fresh_len);
        err = persist(s, &next);
        if (err != SLQ_OK) return err;
        s->rec = next;
    }
    memcpy(sig, s->rec.sig, s->rec.sig_len);
    *sig_len = s->rec.sig_len;
    return SLQ_OK;
}
