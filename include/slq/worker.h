/* worker.h: for code running on libuv's worker threads. */
#ifndef SLQ_WORKER_H
#define SLQ_WORKER_H

/* Lowers the calling worker thread's priority below the loop thread's, once per thread. The
 * loop thread admits what the workers verified, answers the clients and builds blocks; if it
 * shared the cores evenly with four busy workers, it would get a fifth of them, fall behind,
 * and the clients (waiting for its answers) would leave the workers without work. With the
 * workers niced, the loop runs whenever it has something to do and the workers take the rest. */
void slq_worker_yield_to_loop(void);

#endif
