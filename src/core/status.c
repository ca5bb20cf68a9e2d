/* Status codes, the thread-local error detail, and the log and progress hooks. */
#include <hesse/core.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

static _Thread_local char last_error[1024];

static hesse_log_fn log_fn;
static void *log_ctx;
static hesse_progress_fn progress_fn;
static void *progress_ctx;

const char *hesse_strerror(int status) {
    switch (status) {
    case HESSE_OK:
        return "success";
    case HESSE_EINVAL:
        return "invalid argument";
    case HESSE_EINPUT:
        return "bad input";
    case HESSE_ENUMERIC:
        return "numerical failure";
    case HESSE_ENOMEM:
        return "out of memory";
    case HESSE_EIO:
        return "I/O error";
    case HESSE_EINTR:
        return "interrupted";
    default:
        return "unknown error";
    }
}

int hesse_verror(int status, const char *fmt, va_list ap) {
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return status;
}

int hesse_error(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hesse_verror(status, fmt, ap);
    va_end(ap);
    return status;
}

const char *hesse_last_error(void) {
    return last_error;
}

void hesse_clear_error(void) {
    last_error[0] = '\0';
}

int hesse_exit_code(int status) {
    switch (status) {
    case HESSE_OK:
        return 0;
    case HESSE_EINVAL:
        return 1;
    case HESSE_EINPUT:
        return 2;
    case HESSE_ENUMERIC:
        return 3;
    case HESSE_ENOMEM:
    case HESSE_EIO:
        return 4;
    case HESSE_EINTR:
        return 130;
    default:
        return 4;
    }
}

void hesse_set_log(hesse_log_fn fn, void *ctx) {
    log_fn = fn;
    log_ctx = ctx;
}

void hesse_log(int level, const char *fmt, ...) {
    if (!log_fn) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(log_ctx, level, msg);
}

void hesse_set_progress(hesse_progress_fn fn, void *ctx) {
    progress_fn = fn;
    progress_ctx = ctx;
}

void hesse_report_progress(const hesse_progress *p) {
    if (progress_fn) progress_fn(progress_ctx, p);
}

double hesse_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

const char *hesse_version(void) {
    return HESSE_VERSION;
}
