/* err.c: messages and names of slq_err, from the one table in slq/err.h. */
#include "slq/err.h"

const char *slq_err_str(slq_err e) {
    switch (e) {
#define X(name, num, msg) \
    case SLQ_##name:      \
        return msg;
        SLQ_ERRORS(X)
#undef X
    }
    return "unknown error";
}

const char *slq_err_name(slq_err e) {
    switch (e) {
#define X(name, num, msg) \
    case SLQ_##name:      \
        return #name;
        SLQ_ERRORS(X)
#undef X
    }
    return "UNKNOWN";
}
