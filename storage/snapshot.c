/* snapshot.c: the snapshot of snapshot.h: directory listing, hard links and copies. Every
 * file is classified by its name as LevelDB writes them (CURRENT, LOCK, LOG, LOG.old,
 * MANIFEST-NNNNNN, NNNNNN.log, NNNNNN.ldb, NNNNNN.sst); anything else is not LevelDB's and
 * is left out. Only regular files are taken (lstat: no symlink is followed). */
#include "snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slq/why.h"

typedef enum { TAKE_NONE, TAKE_LINK, TAKE_COPY } take_kind;

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

#define MANIFEST_PREFIX "MANIFEST-"

static take_kind classify(const char *name) {
    if (ends_with(name, ".ldb") || ends_with(name, ".sst")) return TAKE_LINK; /* immutable */
    if (strcmp(name, "CURRENT") == 0 ||
        strncmp(name, MANIFEST_PREFIX, sizeof MANIFEST_PREFIX - 1) == 0 || ends_with(name, ".log"))
        return TAKE_COPY;
    return TAKE_NONE; /* LOCK, LOG, LOG.old, anything else */
}

static slq_err write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return SLQ_IO;
        p += w;
        n -= (size_t) w;
    }
    return SLQ_OK;
}

#define COPY_FILE_MODE   0600 /* the store's files are its owner's only */
#define COPY_CHUNK_BYTES (64u * 1024)

/* Copies src to a new file dst (mode COPY_FILE_MODE). */
static slq_err copy_file(const char *src, const char *dst) {
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return SLQ_IO;
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, COPY_FILE_MODE);
    if (out < 0) {
        close(in);
        return SLQ_IO;
    }
    char buf[COPY_CHUNK_BYTES];
    slq_err err = SLQ_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n < 0) err = SLQ_IO;
            break;
        }
        err = write_all(out, buf, (size_t) n);
        if (err != SLQ_OK) break;
    }
    if (close(out) != 0) err = SLQ_IO;
    (void) close(in); /* opened read-only: a failed close loses nothing */
    return err;
}

/* Takes one directory entry into the snapshot. */
static slq_err take(const char *src_dir, const char *dst_dir, const char *name, char *why,
                    size_t why_cap) {
    take_kind kind = classify(name);
    if (kind == TAKE_NONE) return SLQ_OK;
    char src[SNAPSHOT_PATH_BYTES_MAX], dst[SNAPSHOT_PATH_BYTES_MAX];
    if ((size_t) snprintf(src, sizeof src, "%s/%s", src_dir, name) >= sizeof src ||
        (size_t) snprintf(dst, sizeof dst, "%s/%s", dst_dir, name) >= sizeof dst) {
        SLQ_WHY("%s/%s: path too long", src_dir, name);
        return SLQ_IO;
    }
    struct stat st;
    if (lstat(src, &st) != 0 || !S_ISREG(st.st_mode)) return SLQ_OK; /* not a plain file */
    if (kind == TAKE_LINK && link(src, dst) == 0) return SLQ_OK;
    if (copy_file(src, dst) != SLQ_OK) {
        SLQ_WHY("%s: cannot copy into the snapshot: %s", src, strerror(errno));
        return SLQ_IO;
    }
    return SLQ_OK;
}

/* Takes every LevelDB file of src into dst. */
static slq_err take_all(const char *src, const char *dst, char *why, size_t why_cap) {
    DIR *d = opendir(src);
    if (d == NULL) {
        SLQ_WHY("%s: %s", src, strerror(errno));
        return SLQ_IO;
    }
    slq_err err = SLQ_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (e == NULL) {
            if (errno != 0) {
                SLQ_WHY("%s: %s", src, strerror(errno));
                err = SLQ_IO;
            }
            break;
        }
        err = take(src, dst, e->d_name, why, why_cap);
        if (err != SLQ_OK) break;
    }
    if (closedir(d) != 0 && err == SLQ_OK) err = SLQ_IO;
    return err;
}

slq_err snapshot_create(char *out, size_t out_cap, const char *src, char *why, size_t why_cap) {
    char current[SNAPSHOT_PATH_BYTES_MAX];
    struct stat st;
    snprintf(current, sizeof current, "%s/CURRENT", src);
    if (stat(current, &st) != 0 || !S_ISREG(st.st_mode)) {
        SLQ_WHY("%s: not a LevelDB store (no CURRENT file)", src);
        return SLQ_NOT_FOUND;
    }
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
    if ((size_t) snprintf(out, out_cap, "%s/slqd-verify-XXXXXX", tmp) >= out_cap) {
        SLQ_WHY("%s: TMPDIR path too long", tmp);
        return SLQ_IO;
    }
    if (mkdtemp(out) == NULL) {
        SLQ_WHY("%s: cannot create a snapshot directory: %s", tmp, strerror(errno));
        return SLQ_IO;
    }
    slq_err err = take_all(src, out, why, why_cap);
    if (err != SLQ_OK && snapshot_remove(out) != SLQ_OK)
        fprintf(stderr, "slqd: could not remove %s\n", out);
    return err;
}

slq_err snapshot_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return SLQ_IO;
    slq_err err = SLQ_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char path[SNAPSHOT_PATH_BYTES_MAX];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            unlink(path) != 0)
            err = SLQ_IO;
    }
    if (closedir(d) != 0) err = SLQ_IO;
    if (rmdir(dir) != 0) err = SLQ_IO;
    return err;
}
