/* The n = 10^5 cases (Release only: listed in SLOW_UNDER_ASAN): thick-restart Lanczos for both
 * ends of an indefinite spectrum, repeated eigenvalues, and an SLQ density, on Q D Q^T
 * operators applied implicitly (no n x n matrix). Tolerances as in test_lanczos.c and
 * test_density.c. */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "spectral_testops.h"

#define N 100000

/* top 20 and bottom 20 to 1e-8 relative (tol 1e-10: error <= 1e-10 ||A|| / |lambda| <=
 * 4e-9), residuals recomputed, orthonormal vectors. */
static void test_ends(void) {
    double *d = malloc(sizeof(double) * N);
    spec_indefinite(N, d);
    hesse_op op = qdq_make(N, d, 3, 21);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = 20;
    p.bottom = 20;
    p.tol = 1e-10;
    hesse_eigs r;
    REQUIRE(hesse_lanczos_eigs(&op, &p, &r) == HESSE_OK);
    double top[20], bot[20];
    spec_ends(N, d, 20, top, 20, bot);
    for (int i = 0; i < 20; i++) CHECK_CLOSE(r.values[i], top[i], 1e-8, 0.0);
    for (int i = 0; i < 20; i++) CHECK_CLOSE(r.values[20 + i], bot[i], 1e-8, 0.0);
    CHECK(r.nconverged == 40);
    CHECK(max_residual(&op, 40, r.vectors, r.values) <= 1.01 * p.tol * 1.0);
    CHECK(orth_error(N, 40, r.vectors) <= 1e-12);
    fprintf(stderr,
            "  n = %d, top/bottom 20: %lld products, %d restarts, %.2f s (products %.2f, "
            "reorth %.2f, restart %.2f)\n",
            N, (long long)r.products, r.restarts, r.seconds, r.seconds_products, r.seconds_ortho,
            r.seconds_restart);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
}

/* 10 x3 and -3 x3 found with their multiplicity (see test_lanczos.c, test_multiplicity). */
static void test_repeated(void) {
    check_repeated(N, 22, 1, NULL);
}

/* SLQ of the 1/k power law: W1 <= 1% of the range (measured 0.0041, the smoothing's share). */
static void test_slq(void) {
    double *d = malloc(sizeof(double) * N);
    spec_powerlaw(N, d);
    hesse_op op = qdq_make(N, d, 3, 23);
    hesse_slq_params p = hesse_slq_defaults();
    hesse_density ds;
    REQUIRE(hesse_slq_density(&op, &p, &ds) == HESSE_OK);
    double w1 = wasserstein1(&ds, N, d) / (1.0 - 1.0 / N);
    CHECK_MSG(w1 <= 0.01, "SLQ W1 = %.4f", w1);
    fprintf(stderr, "  n = %d, SLQ power law: W1 %.4f of the range, %.2f s\n", N, w1, ds.seconds);
    hesse_density_free(&ds);
    hesse_op_free(&op);
    free(d);
}

int main(void) {
    test_ends();
    test_repeated();
    test_slq();
    return test_summary("test_spectral_large");
}
