/* test_snapshot.c: the private view of a LevelDB directory that `slqd verify` opens
 * (storage/snapshot.c). Table files are hard links, the mutable files are copies, LOCK, the
 * info logs, foreign files, symlinks and subdirectories are left out, the original is never
 * changed, and a snapshot that cannot be made leaves nothing behind. Works on hand-made
 * directories (snapshot knows file names, not LevelDB's formats). */
#define _XOPEN_SOURCE 700 /* nftw */

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "slq/assert.h"
#include "snapshot.h"

static char src[] = "/tmp/slq-test-snapshot-src-XXXXXX";
static char tmpdir[] = "/tmp/slq-test-snapshot-tmp-XXXXXX";

static void put(const char *dir, const char *name, const char *text) {
    char path[SNAPSHOT_PATH_BYTES_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    SLQ_ASSERT(f != NULL);
    SLQ_ASSERT(fputs(text, f) >= 0);
    SLQ_ASSERT(fclose(f) == 0);
}

/* The contents of dir/name, or "" when it does not exist. */
static const char *get(const char *dir, const char *name) {
    static char buf[256];
    char path[SNAPSHOT_PATH_BYTES_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    buf[0] = '\0';
    FILE *f = fopen(path, "rb");
    if (f == NULL) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *dir, const char *name) {
    char path[SNAPSHOT_PATH_BYTES_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return lstat(path, &st) == 0;
}

static nlink_t links_of(const char *dir, const char *name) {
    char path[SNAPSHOT_PATH_BYTES_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_nlink : 0;
}

static size_t entries(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void make_store(void) {
    put(src, "CURRENT", "MANIFEST-000004\n");
    put(src, "MANIFEST-000004", "manifest");
    put(src, "000005.log", "log");
    put(src, "000003.ldb", "table");
    put(src, "000002.sst", "old table");
    put(src, "LOCK", "");
    put(src, "LOG", "info");
    put(src, "LOG.old", "info");
    put(src, "notes.txt", "not leveldb's");
    char path[SNAPSHOT_PATH_BYTES_MAX + 64];
    snprintf(path, sizeof path, "%s/sub.ldb", src);
    SLQ_ASSERT(mkdir(path, 0700) == 0);
    snprintf(path, sizeof path, "%s/000009.ldb", src);
    SLQ_ASSERT(symlink("/etc/passwd", path) == 0);
}

static void test_tables_are_linked_mutable_files_copied_and_the_rest_left_out(void) {
    char out[SNAPSHOT_PATH_BYTES_MAX], why[256] = "";
    CHECK_ERR(snapshot_create(out, sizeof out, src, why, sizeof why), SLQ_OK);
    CHECK(strncmp(out, tmpdir, strlen(tmpdir)) == 0); /* under $TMPDIR */
    CHECK(strcmp(get(out, "CURRENT"), "MANIFEST-000004\n") == 0);
    CHECK(strcmp(get(out, "MANIFEST-000004"), "manifest") == 0);
    CHECK(strcmp(get(out, "000005.log"), "log") == 0);
    CHECK(strcmp(get(out, "000003.ldb"), "table") == 0);
    CHECK(strcmp(get(out, "000002.sst"), "old table") == 0);
    CHECK_EQ_INT(links_of(src, "000003.ldb"), 2);      /* a hard link: no copy of a big table */
    CHECK_EQ_INT(links_of(src, "MANIFEST-000004"), 1); /* a copy: LevelDB rewrites it */
    CHECK_EQ_INT(links_of(src, "000005.log"), 1);
    CHECK(!exists(out, "LOCK"));
    CHECK(!exists(out, "LOG"));
    CHECK(!exists(out, "LOG.old"));
    CHECK(!exists(out, "notes.txt"));
    CHECK(!exists(out, "sub.ldb"));    /* a directory named like a table */
    CHECK(!exists(out, "000009.ldb")); /* a symlink is not followed */
    CHECK_EQ_INT(entries(out), 5);
    put(out, "MANIFEST-000004", "rewritten by the audit's LevelDB");
    CHECK(strcmp(get(src, "MANIFEST-000004"), "manifest") == 0); /* the original untouched */
    CHECK_ERR(snapshot_remove(out), SLQ_OK);
    CHECK(!exists(out, ""));
    CHECK_EQ_INT(links_of(src, "000003.ldb"), 1);
    CHECK(strcmp(get(src, "000003.ldb"), "table") == 0);
}

static void test_a_directory_without_current_is_not_a_store(void) {
    char empty[] = "/tmp/slq-test-snapshot-empty-XXXXXX";
    SLQ_ASSERT(mkdtemp(empty) != NULL);
    char out[SNAPSHOT_PATH_BYTES_MAX], why[256] = "";
    CHECK_ERR(snapshot_create(out, sizeof out, empty, why, sizeof why), SLQ_NOT_FOUND);
    CHECK(strstr(why, "not a LevelDB store (no CURRENT file)") != NULL);
    CHECK_ERR(snapshot_create(out, sizeof out, "/nonexistent/slq", why, sizeof why), SLQ_NOT_FOUND);
    CHECK_EQ_INT(entries(tmpdir), 0);
    rmdir(empty);
}

static void test_a_snapshot_that_cannot_be_made_leaves_nothing_behind(void) {
    char out[SNAPSHOT_PATH_BYTES_MAX], why[256] = "";
    CHECK_ERR(snapshot_create(out, 8, src, why, sizeof why), SLQ_IO); /* no room for the path */
    CHECK(strstr(why, "TMPDIR path too long") != NULL);
    setenv("TMPDIR", "/nonexistent/slq-tmp", 1);
    CHECK_ERR(snapshot_create(out, sizeof out, src, why, sizeof why), SLQ_IO);
    CHECK(strstr(why, "cannot create a snapshot directory") != NULL);
    setenv("TMPDIR", tmpdir, 1);
    /* A copy that cannot be written (a full disk, as root too): files may grow to 4 bytes,
     * and the 8-byte MANIFEST's copy fails with EFBIG instead of a SIGXFSZ. */
    struct rlimit was;
    SLQ_ASSERT(getrlimit(RLIMIT_FSIZE, &was) == 0);
    struct rlimit small = {4, was.rlim_max};
    void (*before)(int) = signal(SIGXFSZ, SIG_IGN);
    SLQ_ASSERT(setrlimit(RLIMIT_FSIZE, &small) == 0);
    CHECK_ERR(snapshot_create(out, sizeof out, src, why, sizeof why), SLQ_IO);
    SLQ_ASSERT(setrlimit(RLIMIT_FSIZE, &was) == 0);
    signal(SIGXFSZ, before);
    CHECK(strstr(why, "cannot copy into the snapshot") != NULL);
    CHECK_EQ_INT(entries(tmpdir), 0);
}

static void test_removing_what_is_not_there_is_an_error(void) {
    CHECK_ERR(snapshot_remove("/nonexistent/slqd-verify-x"), SLQ_IO);
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void) st;
    (void) flag;
    (void) ftw;
    remove(path);
    return 0;
}

int main(void) {
    SLQ_ASSERT(mkdtemp(src) != NULL);
    SLQ_ASSERT(mkdtemp(tmpdir) != NULL);
    setenv("TMPDIR", tmpdir, 1);
    make_store();
    static const check_test tests[] = {
        TEST(test_tables_are_linked_mutable_files_copied_and_the_rest_left_out),
        TEST(test_a_directory_without_current_is_not_a_store),
        TEST(test_a_snapshot_that_cannot_be_made_leaves_nothing_behind),
        TEST(test_removing_what_is_not_there_is_an_error)};
    int failures = check_run(tests, sizeof tests / sizeof tests[0], "snapshot");
    nftw(src, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    nftw(tmpdir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    return failures;
}
