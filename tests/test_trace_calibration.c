/* Calibration of the Hutch++ standard error: over 400 seeds the z-scores (trace - exact) /
 * std_error must have mean ~0 and standard deviation ~1, on two operators Q D Q^T with known
 * traces (n = 2000, D a power law 1/k and an indefinite spectrum; spectral_testops.h) and at
 * two budgets (30 products: 10 Hutchinson probes; the default 99: 33).
 *
 * Tolerances: with 400 independent z-scores the sample sd has a standard deviation of about
 * 1/sqrt(2 * 399) = 0.035 and the mean 1/sqrt(400) = 0.05, so [0.9, 1.1] is three of them and
 * |mean| <= 0.2 leaves room for the small negative bias of a right-skewed quadratic form (a low
 * mean comes with a low sample variance). Before the Student-t factor of trace.c the sd was 1.15
 * (power law) and 1.09 (indefinite) at 30 products. */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include "check.h"
#include "spectral_testops.h"

#define N     2000
#define SEEDS 400

static void calibrate(const char *name, void (*spec)(int, double *), int samples) {
    double *d = malloc(sizeof(double) * N);
    spec(N, d);
    double tr = 0.0;
    for (int i = 0; i < N; i++) tr += d[i];
    hesse_op op = qdq_make(N, d, 4, 1);
    double sz = 0.0, szz = 0.0;
    for (int s = 0; s < SEEDS; s++) {
        hesse_trace_params p = hesse_trace_defaults();
        p.samples = samples;
        p.seed = 1000 + (uint64_t)s;
        hesse_trace_result r;
        REQUIRE(hesse_trace_hutchpp(&op, &p, &r) == HESSE_OK);
        const double z = (r.trace - tr) / r.std_error;
        sz += z;
        szz += z * z;
    }
    const double mean = sz / SEEDS, sd = sqrt((szz - SEEDS * mean * mean) / (SEEDS - 1));
    printf("Hutch++ calibration, %s, %d products: z mean %.3f, sd %.3f over %d seeds\n", name,
           samples, mean, sd, SEEDS);
    CHECK_MSG(sd >= 0.9 && sd <= 1.1, "%s, %d products: z sd %.3f", name, samples, sd);
    CHECK_MSG(fabs(mean) <= 0.2, "%s, %d products: z mean %.3f", name, samples, mean);
    hesse_op_free(&op);
    free(d);
}

int main(void) {
    calibrate("power law 1/k", spec_powerlaw, 30);
    calibrate("power law 1/k", spec_powerlaw, 99);
    calibrate("indefinite", spec_indefinite, 30);
    calibrate("indefinite", spec_indefinite, 99);
    return test_summary("trace_calibration");
}
