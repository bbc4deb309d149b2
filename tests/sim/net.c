/* net.c: the simulator's fake clock and fake network.
 *
 * The clock is an event queue: a binary heap ordered by time, ties broken by the sequence
 * number of insertion, so a run is a pure function of its seed. The network delivers each
 * message as an event after a random delay; before heal_at it also drops, duplicates and
 * (through the random delays) reorders messages, and drops those that cross a partition.
 * Faults (partitions, crashes and restarts) are scheduled up front from the seed; at heal_at
 * the partition ends, every crashed node restarts and the network becomes timely. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

uint64_t sim_rand(sim_rng *r) {
    r->s ^= r->s >> 12; /* xorshift64* */
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ULL;
}

uint64_t sim_below(sim_rng *r, uint64_t n) {
    SLQ_ASSERT(n > 0);
    return sim_rand(r) % n;
}

bool sim_chance(sim_rng *r, uint32_t percent) {
    return sim_below(r, 100) < percent;
}

void sim_trace(sim *s, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        s->trace ^= (v >> (8 * i)) & 0xffu;
        s->trace *= 1099511628211ULL; /* FNV-1a */
    }
}

void sim_log(const sim *s, const char *fmt, ...) {
    if (!s->verbose) return;
    printf("[%6lld.%03lld] ", (long long) (s->now / 1000), (long long) (s->now % 1000));
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

void sim_violation(sim *s, const char *fmt, ...) {
    fprintf(stderr, "  seed %llu t=%lldms: VIOLATION: ", (unsigned long long) s->seed,
            (long long) s->now);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    s->violations++;
}

/* ---- the event queue ---- */

static bool before(const sim_event *a, const sim_event *b) {
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void swap(sim_event *a, sim_event *b) {
    sim_event t = *a;
    *a = *b;
    *b = t;
}

void sim_push(sim *s, const sim_event *e) {
    SLQ_ASSERT(e->at >= s->now);
    if (s->ev_n == s->ev_cap) {
        s->ev_cap = s->ev_cap ? 2 * s->ev_cap : 1024;
        s->ev = realloc(s->ev, s->ev_cap * sizeof *s->ev);
        SLQ_ASSERT(s->ev != NULL);
    }
    size_t i = s->ev_n++;
    s->ev[i] = *e;
    s->ev[i].seq = s->seq++;
    while (i > 0 && before(&s->ev[i], &s->ev[(i - 1) / 2])) {
        swap(&s->ev[i], &s->ev[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

bool sim_pop(sim *s, sim_event *out) {
    if (s->ev_n == 0) return false;
    *out = s->ev[0];
    s->ev[0] = s->ev[--s->ev_n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->ev_n && before(&s->ev[l], &s->ev[m])) m = l;
        if (r < s->ev_n && before(&s->ev[r], &s->ev[m])) m = r;
        if (m == i) break;
        swap(&s->ev[i], &s->ev[m]);
        i = m;
    }
    return true;
}

/* ---- the network ---- */

void sim_send(sim *s, uint32_t from, uint32_t to, const sim_msg *m) {
    SLQ_ASSERT(from != to && to < s->nodes_n);
    if (s->opts.filter != NULL && s->opts.filter(s, from, to, m)) return;
    if (s->part_mask != 0 && ((s->part_mask >> from) & 1u) != ((s->part_mask >> to) & 1u)) return;
    bool faulty = s->now < s->heal_at;
    bool precommit = m->kind == MSG_VOTE && m->u.vote.type == TM_PRECOMMIT;
    if (faulty && sim_chance(&s->rng, precommit ? s->drop_precommit_pct : s->drop_pct)) return;
    int copies = faulty && sim_chance(&s->rng, s->dup_pct) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        sim_event e;
        memset(&e, 0, sizeof e);
        uint64_t delay_max = faulty ? (uint64_t) s->delay_max_ms : 40;
        e.at = s->now + 1 + (int64_t) sim_below(&s->rng, delay_max);
        e.kind = EV_DELIVER;
        e.node = to;
        e.msg = *m;
        e.msg.from = from;
        sim_push(s, &e);
    }
}

/* A message a node hands itself (its own, fed back, or one it buffered): never lost, but not
 * across a crash. m->from is kept. */
void sim_send_self(sim *s, const sim_node *nd, const sim_msg *m) {
    sim_event e;
    memset(&e, 0, sizeof e);
    e.at = s->now;
    e.kind = EV_DELIVER;
    e.node = nd->idx;
    e.inc = nd->incarnation;
    e.msg = *m;
    sim_push(s, &e);
}

void sim_broadcast(sim *s, uint32_t from, uint32_t except, const sim_msg *m) {
    for (uint32_t to = 0; to < s->nodes_n; to++)
        if (to != from && to != except) sim_send(s, from, to, m);
}

void sim_push_at(sim *s, int64_t at, sim_ev_kind kind, uint32_t node, uint32_t mask) {
    sim_event e;
    memset(&e, 0, sizeof e);
    e.at = at;
    e.kind = kind;
    e.node = node;
    e.mask = mask;
    sim_push(s, &e);
}

/* A node other than the Byzantine validator (crashes are for correct nodes). */
static uint32_t some_correct_node(sim *s) {
    for (;;) {
        uint32_t i = (uint32_t) sim_below(&s->rng, s->nodes_n);
        if (!s->nodes[i].byz) return i;
    }
}

/* One seed in eight is calm; the others get up to 30 s of loss, delay, duplication,
 * partitions and crashes, then heal. A quarter of those are harsh: most messages lost, and
 * delays longer than the timeouts, so that nodes see different things and rounds change
 * under locks. */
void sim_schedule_faults(sim *s) {
    sim_rng *r = &s->rng;
    bool calm = sim_below(r, 8) == 0 || s->opts.calm;
    bool harsh = sim_below(r, 4) == 0;
    s->harsh = harsh && !calm;
    s->heal_at = calm ? 0 : 2000 + (int64_t) sim_below(r, 28000);
    s->drop_pct = harsh ? 30 + (uint32_t) sim_below(r, 31) : (uint32_t) sim_below(r, 25);
    s->drop_precommit_pct = harsh ? 50 + (uint32_t) sim_below(r, 41) : s->drop_pct;
    s->dup_pct = (uint32_t) sim_below(r, harsh ? 20 : 10);
    s->delay_max_ms =
        harsh ? 500 + (int64_t) sim_below(r, 3500) : 20 + (int64_t) sim_below(r, 1500);
    size_t partitions = calm ? 0 : (size_t) sim_below(r, 3);
    size_t crashes = calm ? 0 : (size_t) sim_below(r, 4);
    for (size_t i = 0; i < partitions; i++) {
        int64_t at = (int64_t) sim_below(r, (uint64_t) s->heal_at);
        int64_t end = at + 500 + (int64_t) sim_below(r, 8000);
        uint32_t mask = 1u + (uint32_t) sim_below(r, (1u << s->nodes_n) - 2u);
        sim_push_at(s, at, EV_PARTITION, 0, mask);
        sim_push_at(s, end < s->heal_at ? end : s->heal_at, EV_PARTITION, 0, 0);
    }
    for (size_t i = 0; i < crashes; i++) {
        uint32_t node = some_correct_node(s);
        int64_t at = (int64_t) sim_below(r, (uint64_t) s->heal_at);
        int64_t end = at + 300 + (int64_t) sim_below(r, 10000);
        sim_push_at(s, at, EV_CRASH, node, 0);
        sim_push_at(s, end < s->heal_at ? end : s->heal_at, EV_RESTART, node, 0);
    }
    sim_push_at(s, s->heal_at, EV_HEAL, 0, 0);
    sim_log(s,
            "faults%s: heal at %lld ms, drop %u%% (precommits %u%%), dup %u%%, delay <= %lld "
            "ms, %zu partitions, %zu crashes\n",
            s->harsh ? " (harsh)" : "", (long long) s->heal_at, s->drop_pct, s->drop_precommit_pct,
            s->dup_pct, (long long) s->delay_max_ms, partitions, crashes);
}
