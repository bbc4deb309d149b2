/* worker.c: the worker-thread helpers of slq/worker.h. */
#include "slq/worker.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "slq/log.h"

#define WORKER_NICE 10 /* the niceness of a worker: below the loop thread's 0 */

void slq_worker_yield_to_loop(void) {
    static _Thread_local bool done;
    if (done) return;
    done = true;
    if (setpriority(PRIO_PROCESS, (id_t) syscall(SYS_gettid), WORKER_NICE) != 0)
        log_debug("worker: cannot lower a worker's priority");
}
