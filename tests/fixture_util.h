/* Helpers shared by the tests against PyTorch fixtures (test_torch_fixtures.c,
 * test_resnet_fixtures.c): reading an expected tensor and the relative error of a vector. */
#ifndef HESSE_TESTS_FIXTURE_UTIL_H
#define HESSE_TESTS_FIXTURE_UTIL_H

#include <hesse/io.h>

#include <math.h>
#include <stdlib.h>

#include "check.h"

/* ||a - b|| / ||b|| (||a - b|| when b is zero). */
static inline double fixture_rel_err(const double *a, const double *b, int64_t n) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        s += b[i] * b[i];
    }
    return s > 0 ? sqrt(d) / sqrt(s) : sqrt(d);
}

/* max |a_i - b_i| / max |b_i| (the largest difference when b is zero). */
static inline double fixture_max_rel(const double *a, const double *b, int64_t n) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        s = fmax(s, fabs(b[i]));
    }
    return s > 0 ? d / s : d;
}

/* The float64 tensor `name` of `count` elements (malloc'd); the test stops when it is missing,
 * mis-sized or unreadable. */
static inline double *fixture_read(const hesse_st_file *f, const char *name, int64_t count) {
    const hesse_st_tensor *t = hesse_st_find(f, name);
    REQUIRE(t != NULL);
    REQUIRE(t->numel == count);
    double *v = malloc((size_t)count * sizeof *v);
    REQUIRE(v != NULL);
    REQUIRE(hesse_st_read_f64(f, t, v) == HESSE_OK);
    return v;
}

#endif
