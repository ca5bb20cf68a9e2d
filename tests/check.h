/* A small test harness: CHECK records a failure and goes on; CHECK_CLOSE compares within a
 * relative tolerance whose reason the caller states next to it. main() returns
 * test_summary(), non-zero when anything failed. */
#ifndef HESSE_TEST_CHECK_H
#define HESSE_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            test_failures++;                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* |a - b| <= tol * max(|a|, |b|, floor): relative, with an absolute floor near zero. */
static inline int test_close(double a, double b, double tol, double floor_) {
    double scale = fmax(fmax(fabs(a), fabs(b)), floor_);
    return fabs(a - b) <= tol * scale && isfinite(a) && isfinite(b);
}

#define CHECK_CLOSE(a, b, tol, floor_)                                                             \
    do {                                                                                           \
        double ca_ = (a), cb_ = (b);                                                               \
        CHECK_MSG(test_close(ca_, cb_, (tol), (floor_)), "%.17g vs %.17g (tol %g)", ca_, cb_,      \
                  (double)(tol));                                                                  \
    } while (0)

/* Stops the test at once (a failed set-up makes the rest meaningless). */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        test_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: REQUIRE failed: %s (%s)\n", __FILE__, __LINE__, #cond,         \
                    hesse_last_error());                                                           \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static inline int test_summary(const char *name) {
    if (test_checks == 0) {
        fprintf(stderr, "%s: no checks ran\n", name);
        return 1;
    }
    fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

#endif
