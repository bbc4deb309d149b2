/* wal.c: the consensus write-ahead log behind wal.h: one append-only file, records with a
 * truncated SHA-256 each, fdatasync before signing. */
#include "wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "slq/assert.h"
#include "slq/be.h"
#include "slq/log.h"

#define HEAD_BYTES 5u    /* kind u8 | length u32 */
#define SUM_BYTES  8u    /* the first bytes of SHA-256(head | payload) */
#define PATH_BYTES 4096u /* the log's path, with its NUL (for messages) */
#define FILE_MODE  0600  /* the log is the node's own: owner read and write only */

struct wal {
    int fd;
    char path[PATH_BYTES];
    bool dirty;  /* appended since the last sync */
    bool failed; /* an append failed since the log began: it is never synced as whole */
};

static void checksum(uint8_t out[SUM_BYTES], const uint8_t head[HEAD_BYTES], const uint8_t *payload,
                     size_t len) {
    crypto_hasher h;
    uint8_t full[CRYPTO_HASH_BYTES];
    crypto_hasher_init(&h, CRYPTO_SUITE_ED25519_SHA256);
    crypto_hasher_update(&h, head, HEAD_BYTES);
    crypto_hasher_update(&h, payload, len);
    crypto_hasher_final(&h, full);
    memcpy(out, full, SUM_BYTES);
}

slq_err wal_open(wal **out, const char *path) {
    wal *w = calloc(1, sizeof *w);
    if (w == NULL) return SLQ_NO_MEMORY;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->fd = open(path, O_RDWR | O_CREAT | O_APPEND, FILE_MODE);
    if (w->fd < 0) {
        log_error("wal: open: %s: %s", path, strerror(errno));
        free(w);
        return SLQ_IO;
    }
    *out = w;
    return SLQ_OK;
}

void wal_close(wal *w) {
    if (w == NULL) return;
    close(w->fd);
    free(w);
}

const char *wal_path(const wal *w) {
    return w->path;
}

static bool read_all(int fd, uint8_t *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        ssize_t r = read(fd, buf + *got, n - *got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r == 0;
        *got += (size_t) r;
    }
    return true;
}

/* Reads one record at the current offset. SLQ_NOT_FOUND at a clean end; SLQ_STORAGE_CORRUPT
 * for a record that is short or fails its checksum (*torn_at tells where it starts). */
static slq_err read_record(wal *w, uint8_t **payload, size_t *len, wal_kind *kind) {
    uint8_t head[HEAD_BYTES], sum[SUM_BYTES], want[SUM_BYTES];
    size_t got = 0;
    if (!read_all(w->fd, head, HEAD_BYTES, &got)) return SLQ_IO;
    if (got == 0) return SLQ_NOT_FOUND;
    if (got < HEAD_BYTES) return SLQ_STORAGE_CORRUPT;
    *len = (size_t) head[1] << 24 | (size_t) head[2] << 16 | (size_t) head[3] << 8 | head[4];
    *kind = (wal_kind) head[0];
    if (*len > WAL_RECORD_BYTES_MAX) return SLQ_STORAGE_CORRUPT;
    *payload = malloc(*len == 0 ? 1 : *len);
    if (*payload == NULL) return SLQ_NO_MEMORY;
    bool ok = read_all(w->fd, *payload, *len, &got) && got == *len &&
              read_all(w->fd, sum, SUM_BYTES, &got) && got == SUM_BYTES;
    if (ok) checksum(want, head, *payload, *len);
    if (!ok || memcmp(sum, want, SUM_BYTES) != 0) {
        free(*payload);
        return SLQ_STORAGE_CORRUPT;
    }
    return SLQ_OK;
}

slq_err wal_replay(wal *w, wal_record_fn fn, void *arg) {
    if (lseek(w->fd, 0, SEEK_SET) < 0) return SLQ_IO;
    off_t good = 0;
    for (bool more = true; more;) {
        uint8_t *payload = NULL;
        size_t len = 0;
        wal_kind kind;
        slq_err err = read_record(w, &payload, &len, &kind);
        if (err == SLQ_NOT_FOUND) return SLQ_OK;
        if (err == SLQ_STORAGE_CORRUPT) {
            /* Torn tail or damage: it is a tail only if nothing follows that reads. */
            struct stat st;
            if (fstat(w->fd, &st) != 0) return SLQ_IO;
            off_t bad_end = lseek(w->fd, 0, SEEK_CUR);
            if (bad_end < st.st_size) {
                log_error("wal: replay: %s: damaged record at offset %lld", w->path,
                          (long long) good);
                return SLQ_STORAGE_CORRUPT;
            }
            log_warn("wal: replay: cutting a torn tail at offset %lld", (long long) good);
            return ftruncate(w->fd, good) == 0 ? SLQ_OK : SLQ_IO;
        }
        if (err != SLQ_OK) return err;
        more = fn(arg, kind, payload, len);
        free(payload);
        good = lseek(w->fd, 0, SEEK_CUR);
    }
    return SLQ_OK;
}

slq_err wal_append(wal *w, wal_kind kind, const uint8_t *payload, size_t len) {
    SLQ_ASSERT(kind >= WAL_HEIGHT);
    SLQ_ASSERT(kind <= WAL_VALUE);
    SLQ_ASSERT(payload != NULL || len == 0);
    if (len > WAL_RECORD_BYTES_MAX) return SLQ_INVALID_ARGUMENT;
    uint8_t head[HEAD_BYTES] = {(uint8_t) kind, (uint8_t) (len >> 24), (uint8_t) (len >> 16),
                                (uint8_t) (len >> 8), (uint8_t) len};
    uint8_t sum[SUM_BYTES];
    checksum(sum, head, payload, len);
    struct iovec {
        const void *b;
        size_t n;
    } parts[3] = {{head, HEAD_BYTES}, {payload, len}, {sum, SUM_BYTES}};
    for (size_t i = 0; i < 3; i++) {
        const uint8_t *p = parts[i].b;
        for (size_t done = 0; done < parts[i].n;) {
            ssize_t r = write(w->fd, p + done, parts[i].n - done);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                log_error("wal: append: %s: %s", w->path, strerror(errno));
                w->failed = true;
                return SLQ_IO;
            }
            done += (size_t) r;
        }
    }
    w->dirty = true;
    return SLQ_OK;
}

slq_err wal_sync(wal *w) {
    /* A record that failed (or was written in part) is not in the log: a signature made after
     * this sync could rest on an input the log does not hold (amnesia.c counts on it). */
    if (w->failed) return SLQ_IO;
    if (!w->dirty) return SLQ_OK;
    if (fdatasync(w->fd) != 0) {
        log_error("wal: sync: %s: %s", w->path, strerror(errno));
        return SLQ_IO;
    }
    w->dirty = false;
    return SLQ_OK;
}

slq_err wal_begin(wal *w, uint64_t height) {
    if (ftruncate(w->fd, 0) != 0) return SLQ_IO;
    w->failed = false; /* a fresh log: nothing of it is missing */
    uint8_t h[WAL_HEIGHT_RECORD_BYTES];
    slq_put_be(h, height, sizeof h);
    slq_err err = wal_append(w, WAL_HEIGHT, h, sizeof h);
    return err == SLQ_OK ? wal_sync(w) : err;
}
