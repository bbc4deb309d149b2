/* test_wal.c: the consensus write-ahead log: records come back in order, a torn tail is
 * cut off, damage before the end stops the replay, and a new height starts afresh with its
 * height first (what a restarted engine reads to know the log is of its next height). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "slq/assert.h"
#include "slq/be.h"
#include "wal.h"

typedef struct {
    int count;
    wal_kind kinds[16];
    size_t lens[16];
} seen;

static bool collect(void *arg, wal_kind kind, const uint8_t *p, size_t len) {
    seen *s = arg;
    (void) p;
    if (s->count < 16) s->kinds[s->count] = kind, s->lens[s->count] = len;
    s->count++;
    return true;
}

static void temp_path(char *out, size_t cap) {
    char dir[] = "/tmp/slq-wal-XXXXXX";
    SLQ_ASSERT(mkdtemp(dir) != NULL);
    snprintf(out, cap, "%s/consensus.wal", dir);
}

/* Removes the log at path and the directory temp_path made for it. */
static void temp_remove(const char *path) {
    char dir[64];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    unlink(path);
    if (slash != NULL) *slash = '\0';
    rmdir(dir);
}

static void write_three(const char *path) {
    wal *w;
    SLQ_ASSERT(wal_open(&w, path) == SLQ_OK);
    SLQ_ASSERT(wal_begin(w, 7) == SLQ_OK);
    uint8_t big[5000] = {1};
    SLQ_ASSERT(wal_append(w, WAL_VOTE, (const uint8_t *) "vote", 4) == SLQ_OK);
    SLQ_ASSERT(wal_append(w, WAL_PROPOSAL, big, sizeof big) == SLQ_OK);
    SLQ_ASSERT(wal_sync(w) == SLQ_OK);
    wal_close(w);
}

static void test_records_come_back_in_order_after_reopening(void) {
    char path[64];
    temp_path(path, sizeof path);
    write_three(path);
    wal *w;
    CHECK_ERR(wal_open(&w, path), SLQ_OK);
    seen s = {0};
    CHECK_ERR(wal_replay(w, collect, &s), SLQ_OK);
    CHECK_EQ_INT(s.count, 3);
    CHECK_EQ_INT(s.kinds[0], WAL_HEIGHT);
    CHECK_EQ_INT(s.kinds[1], WAL_VOTE);
    CHECK_EQ_INT(s.lens[2], 5000);
    CHECK_ERR(wal_begin(w, 8), SLQ_OK); /* a new height forgets the old one */
    seen t = {0};
    CHECK_ERR(wal_replay(w, collect, &t), SLQ_OK);
    CHECK_EQ_INT(t.count, 1);
    wal_close(w);
    temp_remove(path);
}

static void test_a_torn_tail_is_cut_off(void) {
    char path[64];
    temp_path(path, sizeof path);
    write_three(path);
    struct stat st;
    SLQ_ASSERT(stat(path, &st) == 0);
    SLQ_ASSERT(truncate(path, st.st_size - 100) == 0); /* the proposal half written */
    wal *w;
    CHECK_ERR(wal_open(&w, path), SLQ_OK);
    seen s = {0};
    CHECK_ERR(wal_replay(w, collect, &s), SLQ_OK);
    CHECK_EQ_INT(s.count, 2);
    CHECK_ERR(wal_append(w, WAL_TIMEOUT, (const uint8_t *) "t", 1), SLQ_OK);
    seen t = {0};
    CHECK_ERR(wal_replay(w, collect, &t), SLQ_OK);
    CHECK_EQ_INT(t.count, 3); /* appends go after the cut */
    CHECK_EQ_INT(t.kinds[2], WAL_TIMEOUT);
    wal_close(w);
    temp_remove(path);
}

static void test_damage_before_the_end_stops_the_replay(void) {
    char path[64];
    temp_path(path, sizeof path);
    write_three(path);
    int fd = open(path, O_RDWR);
    SLQ_ASSERT(fd >= 0);
    uint8_t b;
    SLQ_ASSERT(pread(fd, &b, 1, 30) == 1); /* inside the vote record */
    b ^= 0x40;
    SLQ_ASSERT(pwrite(fd, &b, 1, 30) == 1);
    close(fd);
    wal *w;
    CHECK_ERR(wal_open(&w, path), SLQ_OK);
    seen s = {0};
    CHECK_ERR(wal_replay(w, collect, &s), SLQ_STORAGE_CORRUPT);
    wal_close(w);
    temp_remove(path);
}

/* Keeps the payload of the first record seen. */
typedef struct {
    wal_kind kind;
    uint8_t payload[16];
    size_t len;
} first_record;

static bool keep_first(void *arg, wal_kind kind, const uint8_t *p, size_t len) {
    first_record *f = arg;
    f->kind = kind;
    f->len = len;
    if (len <= sizeof f->payload) memcpy(f->payload, p, len);
    return false;
}

static void test_a_new_height_starts_with_its_height_big_endian(void) {
    char path[64];
    temp_path(path, sizeof path);
    write_three(path); /* height 7 */
    wal *w;
    CHECK_ERR(wal_open(&w, path), SLQ_OK);
    first_record f = {0};
    CHECK_ERR(wal_replay(w, keep_first, &f), SLQ_OK);
    CHECK_EQ_INT(f.kind, WAL_HEIGHT);
    CHECK_EQ_INT(f.len, 8);
    CHECK_EQ_INT(slq_get_be(f.payload, 8), 7);
    CHECK_ERR(wal_begin(w, 0x0102030405060708ull), SLQ_OK);
    CHECK_ERR(wal_replay(w, keep_first, &f), SLQ_OK);
    CHECK_EQ_INT(f.kind, WAL_HEIGHT);
    CHECK_EQ_INT(f.len, 8);
    const uint8_t want[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_MEM(f.payload, want, 8);
    wal_close(w);
    temp_remove(path);
}

/* An append that fails (here: cut short by the file size limit) leaves the log without that
 * input: no sync may then report the log whole, or the engine would sign on an input it
 * cannot replay (and the amnesia check could not see). A new height starts afresh. */
static void test_a_failed_append_fails_every_sync_until_the_next_height(void) {
    char path[64];
    temp_path(path, sizeof path);
    wal *w;
    CHECK_ERR(wal_open(&w, path), SLQ_OK);
    CHECK_ERR(wal_begin(w, 9), SLQ_OK);
    CHECK_ERR(wal_append(w, WAL_VOTE, (const uint8_t *) "vote", 4), SLQ_OK);
    static uint8_t big[8192] = {1};
    struct rlimit old, small = {.rlim_cur = 4096};
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    small.rlim_max = old.rlim_max;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    slq_err err = wal_append(w, WAL_PROPOSAL, big, sizeof big); /* written in part */
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, prev);
    CHECK_ERR(err, SLQ_IO);
    CHECK_ERR(wal_sync(w), SLQ_IO);
    CHECK_ERR(wal_append(w, WAL_VOTE, (const uint8_t *) "next", 4), SLQ_OK);
    CHECK_ERR(wal_sync(w), SLQ_IO); /* still: the failed record is missing before this one */
    CHECK_ERR(wal_begin(w, 10), SLQ_OK);
    CHECK_ERR(wal_append(w, WAL_VOTE, (const uint8_t *) "vote", 4), SLQ_OK);
    CHECK_ERR(wal_sync(w), SLQ_OK);
    wal_close(w);
    temp_remove(path);
}

TEST_MAIN("wal", TEST(test_records_come_back_in_order_after_reopening),
          TEST(test_a_torn_tail_is_cut_off), TEST(test_damage_before_the_end_stops_the_replay),
          TEST(test_a_new_height_starts_with_its_height_big_endian),
          TEST(test_a_failed_append_fails_every_sync_until_the_next_height))
