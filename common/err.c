/* err.c: messages and names of slq_err, from the one table in slq/err.h. */
#include "slq/err.h"

const char *slq_err_str(slq_err e) {
    switch (e) {
#define X(name, num, status, msg) \
    case SLQ_##name:              \
        return msg;
        SLQ_ERRORS(X)
#undef X
    }
    return "unknown error";
}

const char *slq_err_name(slq_err e) {
    switch (e) {
#define X(name, num, status, msg) \
    case SLQ_##name:              \
        return #name;
        SLQ_ERRORS(X)
#undef X
    }
    return "UNKNOWN";
}

int slq_err_http_status(slq_err e) {
    switch (e) {
#define X(name, num, status, msg) \
    case SLQ_##name:              \
        return status;
        SLQ_ERRORS(X)
#undef X
    }
    return 500;
}

bool slq_err_retryable(slq_err e) {
    return slq_err_http_status(e) == 503;
}
