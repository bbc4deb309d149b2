/* signer.c: the persisted signing guard behind signer.h.
 *
 * The decision is consensus/guard.h's (pure); this file makes it durable before a signature
 * leaves this module. The file holds two slots, each in its own 4 KiB block: a sequence
 * number, the record in guard_record_encode's fixed layout and a checksum (SHA-256 of the
 * two, truncated). Each new record goes to the slot its sequence number selects, written in
 * place and fdatasynced: one sync per signature, and the file never changes size or name.
 * Opening takes the valid slot with the higher sequence number. A crash while a slot is
 * written can only damage that slot, whose signature has not left yet, so the other slot is
 * then the truth. A file in which no slot reads back (or of another size) is an error: a
 * validator that cannot know what it signed must not sign.
 *
 * The file is created (and a record of the earlier one-record layout converted) by writing
 * a temporary file, fsyncing it, renaming it over the record and fsyncing the directory. */
#include "signer.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "slq/assert.h"
#include "slq/be.h"
#include "slq/log.h"
#include "slq/why.h"

#define SLOTS        2u    /* slot seq & 1 gets record number seq */
#define SLOT_SPACING 4096u /* slot i starts at i * SLOT_SPACING */
#define SEQ_BYTES    8u    /* u64 record number, from 1 */
#define SUM_BYTES    8u    /* the first bytes of SHA-256(seq | record) */
#define SLOT_BYTES   (SEQ_BYTES + GUARD_RECORD_BYTES + SUM_BYTES)
#define FILE_BYTES   (SLOTS * SLOT_SPACING)
#define PATH_BYTES   4096u  /* the record's path, with its NUL */
#define TMP_SUFFIX   ".tmp" /* the file is made under its path with this added, then renamed */
#define FILE_MODE    0600   /* the record is the validator's own: owner read and write only */

_Static_assert(SLOT_BYTES <= SLOT_SPACING, "a slot fits its block");
_Static_assert(SLOTS == 2u, "seq & 1 picks the slot");

struct signer {
    char path[PATH_BYTES];
    const crypto_key *key;
    guard_record rec;
    uint64_t seq; /* of rec; 0: nothing stored in the two-slot layout yet */
    int fd;       /* the two-slot file, open for writing in place; -1 until it exists */
    bool found;   /* a record was there when opened */
};

static void slot_sum(uint8_t out[SUM_BYTES], const uint8_t *slot) {
    uint8_t full[CRYPTO_HASH_BYTES];
    crypto_hasher h;
    crypto_hasher_init(&h, CRYPTO_SUITE_ED25519_SHA256);
    crypto_hasher_update(&h, slot, SEQ_BYTES + GUARD_RECORD_BYTES);
    crypto_hasher_final(&h, full);
    memcpy(out, full, SUM_BYTES);
}

static void slot_encode(uint8_t out[SLOT_BYTES], uint64_t seq, const guard_record *rec) {
    SLQ_ASSERT(seq != 0); /* slot_decode refuses record number 0 */
    slq_put_be(out, seq, SEQ_BYTES);
    guard_record_encode(out + SEQ_BYTES, rec);
    slot_sum(out + SEQ_BYTES + GUARD_RECORD_BYTES, out);
}

/* SLQ_OK with the slot's sequence number and record, or SLQ_STORAGE_CORRUPT. */
static slq_err slot_decode(const uint8_t *in, uint64_t *seq, guard_record *rec) {
    uint8_t sum[SUM_BYTES];
    slot_sum(sum, in);
    if (memcmp(sum, in + SEQ_BYTES + GUARD_RECORD_BYTES, SUM_BYTES) != 0)
        return SLQ_STORAGE_CORRUPT;
    *seq = slq_get_be(in, SEQ_BYTES);
    if (*seq == 0) return SLQ_STORAGE_CORRUPT;
    return guard_record_decode(rec, in + SEQ_BYTES, GUARD_RECORD_BYTES);
}

/* Makes the file anew with rec in its slot: temporary file, fsync, rename, fsync of the
 * directory; then keeps it open. */
static slq_err create_file(signer *s, uint64_t seq, const guard_record *rec) {
    uint8_t image[FILE_BYTES] = {0};
    slot_encode(image + (seq & 1u) * SLOT_SPACING, seq, rec);
    char tmp[PATH_BYTES + sizeof TMP_SUFFIX], dir[PATH_BYTES];
    snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, s->path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, FILE_MODE);
    bool ok = fd >= 0 && write(fd, image, sizeof image) == (ssize_t) sizeof image && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) ok = false;
    ok = ok && rename(tmp, s->path) == 0;
    snprintf(dir, sizeof dir, "%s", s->path);
    int dfd = ok ? open(dirname(dir), O_RDONLY | O_DIRECTORY) : -1;
    ok = ok && dfd >= 0 && fsync(dfd) == 0;
    if (dfd >= 0) close(dfd);
    if (ok) {
        s->fd = open(s->path, O_RDWR | O_CLOEXEC);
        ok = s->fd >= 0;
    }
    if (!ok) log_error("signer: persist: %s: %s", s->path, strerror(errno));
    return ok ? SLQ_OK : SLQ_IO;
}

/* Writes rec durably as record number seq. */
static slq_err persist(signer *s, uint64_t seq, const guard_record *rec) {
    SLQ_ASSERT(seq == s->seq + 1); /* the other slot: never the one of the record in force */
    if (s->fd < 0) return create_file(s, seq, rec);
    uint8_t slot[SLOT_BYTES];
    slot_encode(slot, seq, rec);
    off_t at = (off_t) ((seq & 1u) * SLOT_SPACING);
    if (pwrite(s->fd, slot, sizeof slot, at) != (ssize_t) sizeof slot || fdatasync(s->fd) != 0) {
        log_error("signer: persist: %s: %s", s->path, strerror(errno));
        return SLQ_IO;
    }
    return SLQ_OK;
}

/* Reads the whole file (at most cap bytes, one more than a valid file has); sets *n. */
static slq_err read_all(int fd, uint8_t *buf, size_t cap, size_t *n) {
    *n = 0;
    while (*n < cap) {
        ssize_t r = pread(fd, buf + *n, cap - *n, (off_t) *n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return SLQ_IO;
        if (r == 0) break;
        *n += (size_t) r;
    }
    return SLQ_OK;
}

/* Takes the valid slot with the higher sequence number of a two-slot image into s. */
static slq_err take_slots(signer *s, const uint8_t *buf) {
    slq_err err = SLQ_STORAGE_CORRUPT;
    for (unsigned i = 0; i < SLOTS; i++) {
        uint64_t seq = 0;
        guard_record rec;
        if (slot_decode(buf + i * SLOT_SPACING, &seq, &rec) != SLQ_OK || seq <= s->seq) continue;
        s->seq = seq;
        s->rec = rec;
        err = SLQ_OK;
    }
    return err;
}

/* Reads the record at s->path into s (nothing there: nothing signed). */
static slq_err load(signer *s, char *why, size_t why_cap) {
    int fd = open(s->path, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return SLQ_OK;
    if (fd < 0) {
        SLQ_WHY("signer state %s cannot be opened: %s", s->path, strerror(errno));
        return SLQ_IO;
    }
    s->found = true;
    uint8_t buf[FILE_BYTES + 1];
    size_t n = 0;
    slq_err err = read_all(fd, buf, sizeof buf, &n);
    if (err != SLQ_OK) SLQ_WHY("signer state %s cannot be read: %s", s->path, strerror(errno));
    if (err == SLQ_OK && n == GUARD_RECORD_BYTES) { /* the earlier layout: rewritten on sign */
        close(fd);
        err = guard_record_decode(&s->rec, buf, n);
        if (err != SLQ_OK)
            SLQ_WHY("signer state %s is corrupt: its record (earlier layout) does not read back",
                    s->path);
        return err;
    }
    if (err == SLQ_OK && n != FILE_BYTES) {
        SLQ_WHY("signer state %s is corrupt: %zu bytes, not %u", s->path, n, FILE_BYTES);
        err = SLQ_STORAGE_CORRUPT;
    } else if (err == SLQ_OK && take_slots(s, buf) != SLQ_OK) {
        SLQ_WHY("signer state %s is corrupt: neither of its two records reads back", s->path);
        err = SLQ_STORAGE_CORRUPT;
    }
    if (err != SLQ_OK) {
        close(fd);
        return err;
    }
    s->fd = fd;
    return SLQ_OK;
}

slq_err signer_open(signer **out, const char *path, const crypto_key *key, char *why,
                    size_t why_cap) {
    SLQ_ASSERT(key != NULL);
    signer *s = calloc(1, sizeof *s);
    if (s == NULL) return SLQ_NO_MEMORY;
    snprintf(s->path, sizeof s->path, "%s", path);
    s->key = key;
    s->fd = -1;
    char reason[PATH_BYTES + 128] = "";
    slq_err err = load(s, reason, sizeof reason);
    if (err != SLQ_OK) {
        log_error("signer: open: %s; refusing to sign", reason);
        SLQ_WHY("%s", reason);
        free(s);
        return err;
    }
    *out = s;
    return SLQ_OK;
}

bool signer_found(const signer *s) {
    return s->found;
}

void signer_close(signer *s) {
    if (s == NULL) return;
    if (s->fd >= 0) close(s->fd);
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
        err = persist(s, s->seq + 1, &next);
        if (err != SLQ_OK) return err;
        s->seq++;
        s->rec = next;
    }
    SLQ_ASSERT(s->rec.sig_len <= CRYPTO_SIG_BYTES_MAX);
    memcpy(sig, s->rec.sig, s->rec.sig_len);
    *sig_len = s->rec.sig_len;
    return SLQ_OK;
}

slq_err signer_fence(signer *s, const char *chain_id, uint64_t height) {
    consensus_vote_fields f = {.type = CONSENSUS_PRECOMMIT,
                               .height = height,
                               .round = UINT32_MAX,
                               .pol_round = -1,
                               .block_hash = NULL};
    guard_request req = {
        .height = height, .round = UINT32_MAX, .step = TM_STEP_PRECOMMIT, .pol_round = -1};
    if (guard_check(&s->rec, &req) != GUARD_SIGN) return SLQ_OK; /* at or past it already */
    uint8_t sig[CRYPTO_SIG_BYTES_MAX];
    size_t sig_len = 0;
    return signer_sign(s, chain_id, &f, sig, &sig_len); /* the caller logs the fence */
}
