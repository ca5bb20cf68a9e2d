/* hesse_norm2 (the Frobenius norm of `hesse dense`) against exact references: values k 2^-30
 * with small integers k have exact squares k^2 2^-60, so the sum of squares is an integer sum
 * done exactly in 64 bits; the naive running sum is shown to lose digits on the same input. */
#include <hesse/spectral.h>

#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* One value 1 (k = 2^30) then count - 1 values k 2^-30, k in [1, 8): each square is below
 * half an ulp of the running sum (~1), so a naive sum drops every one of them. Returns the
 * exact sum of squares in units of 2^-60. */
static uint64_t fill_lossy(int64_t count, double *x) {
    hesse_rng rng;
    hesse_rng_seed(&rng, 17);
    uint64_t exact = (uint64_t)1 << 60; /* + at most 49 count: fits in 64 bits */
    x[0] = 1.0;
    for (int64_t i = 1; i < count; i++) {
        uint64_t k = 1 + (uint64_t)(hesse_rng_uniform(&rng) * 7.0);
        if (k > 7) k = 7;
        x[i] = ldexp((double)k, -30);
        exact += k * k;
    }
    return exact;
}

static double naive(int64_t count, const double *x) {
    double s = 0.0;
    for (int64_t i = 0; i < count; i++) s += x[i] * x[i];
    return sqrt(s);
}

static void test_lossy_sum(void) {
    const int64_t count = 4000000; /* the size of a 2,000-parameter dense Hessian */
    double *x = malloc(sizeof(double) * (size_t)count);
    const uint64_t exact = fill_lossy(count, x);
    /* the exact sum in units of 2^-60, rounded once to long double (64-bit mantissa) */
    const long double ref = sqrtl(ldexpl((long double)exact, -60));
    const double got = hesse_norm2(count, x), plain = naive(count, x);
    const double err = fabs((double)(((long double)got - ref) / ref));
    const double err_naive = fabs((double)(((long double)plain - ref) / ref));
    printf("norm2: relative error %.3g (naive running sum %.3g)\n", err, err_naive);
    /* the squares dropped by the naive sum carry ~ 4e6 * 20 * 2^-60 = 7e-11 of the total: the
     * input does what it is built for */
    CHECK_MSG(err_naive >= 1e-12, "naive error %.3g", err_naive);
    /* double-double accumulation: one rounding of the sum and one of the square root */
    CHECK_MSG(err <= 2e-16, "error %.3g", err);
    free(x);
}

/* Scaling: entries near the overflow and the underflow threshold, whose squares a naive sum
 * cannot represent: sqrt(3) 1e200 and sqrt(2) 1e-200 (two roundings of the constants). */
static void test_scaling(void) {
    const double big[3] = {1e200, -1e200, 1e200}, tiny[2] = {1e-200, 1e-200};
    CHECK_CLOSE(hesse_norm2(3, big), sqrt(3.0) * 1e200, 4e-16, 0.0);
    CHECK_CLOSE(hesse_norm2(2, tiny), sqrt(2.0) * 1e-200, 4e-16, 0.0);
    CHECK(!isfinite(naive(3, big)) && naive(2, tiny) == 0.0);
    const double mixed[4] = {3.0, 0.0, -4.0, 0.0};
    CHECK(hesse_norm2(4, mixed) == 5.0);
    CHECK(hesse_norm2(0, mixed) == 0.0);
    const double bad[2] = {1.0, NAN}, inf[2] = {INFINITY, 1.0};
    CHECK(isnan(hesse_norm2(2, bad)));
    CHECK(isinf(hesse_norm2(2, inf)));
}

int main(void) {
    test_lossy_sum();
    test_scaling();
    return test_summary("frobenius");
}
