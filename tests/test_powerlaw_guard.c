/* The power-law fit's tolerance guard and sensitivity (analysis/powerlaw.c) on diagonal
 * operators with known spectra lambda_k = k^(-s): over the top K = 100 with s = 3.5 the values
 * span 7 decades, so at the default tolerance 1e-6 the smallest is known only to tol ||A|| /
 * lambda_K = 3.2 of itself; the guard must solve again, and the fit must then equal the fit
 * of the exact values. A steeper spectrum (16 decades) must be refused with the reason. */
#include <hesse/analysis.h>
#include <hesse/op.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

typedef struct {
    const hesse_op *op;
    int K, solves;
} solver;

static int solve(void *ctx, double tol, hesse_eigs *out) {
    solver *s = ctx;
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = s->K;
    p.tol = tol;
    p.want_vectors = 0;
    p.explicit_residuals = 1;
    s->solves++;
    return hesse_lanczos_eigs(s->op, &p, out);
}

static double *spectrum(int n, double s) {
    double *d = malloc(sizeof(double) * (size_t)n);
    for (int k = 0; k < n; k++) d[k] = pow(k + 1.0, -s);
    return d;
}

static void test_guard_fires(void) {
    const int n = 1000, K = 100;
    double *d = spectrum(n, 3.5);
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    solver sv = {&op, K, 0};
    hesse_eigs r;
    hesse_powerlaw_guard g;
    REQUIRE(hesse_powerlaw_eigs(solve, &sv, 1e-6, &r, &g) == HESSE_OK);
    printf("guard: tol %.3g -> %.3g after %d more solve(s), tol ||A|| / lambda_K = %.3g\n",
           g.tol_requested, g.tol_used, g.tightened, g.accuracy);
    /* 1e-6 / 100^-3.5 = 10 > 1e-3: it must fire, and end within the limit */
    CHECK(g.tightened >= 1 && sv.solves == g.tightened + 1 && !g.refused);
    CHECK(g.tol_used <= 0.5e-3 * pow(K, -3.5) * 1.01 && g.accuracy <= 1e-3);
    CHECK(r.ntop == K && r.nconverged == K);
    /* every fitted value within 1e-3 of itself (what the guard promises; in fact far better) */
    double worst = 0.0;
    for (int k = 0; k < K; k++) worst = fmax(worst, fabs(r.values[k] - d[k]) / d[k]);
    printf("guard: largest relative eigenvalue error %.3g\n", worst);
    CHECK_MSG(worst <= 1e-3, "relative error %.3g", worst);
    /* the fit equals the exact values' fit: s_ls = 3.5 exactly for a pure power law; s_mle
     * from the same values to the eigenvalues' accuracy propagated (1e-3 relative at worst) */
    hesse_powerlaw f, exact;
    REQUIRE(hesse_powerlaw_fit(r.values, K, &f) == HESSE_OK);
    REQUIRE(hesse_powerlaw_fit(d, K, &exact) == HESSE_OK);
    printf("guard: s_ls %.9f (exact values %.9f), s_mle %.6f (%.6f)\n", f.s_ls, exact.s_ls, f.s_mle,
           exact.s_mle);
    CHECK_CLOSE(exact.s_ls, 3.5, 1e-12, 0.0);
    CHECK_CLOSE(f.s_ls, exact.s_ls, 1e-4, 0.0);
    CHECK_CLOSE(f.s_mle, exact.s_mle, 1e-4, 0.0);
    /* sensitivity: residuals below tol ||A||, each value moved by at most 5e-4 of lambda_K:
     * s moves by less than 1e-3; and it is not zero (the refits do move it) */
    double sens = -1;
    REQUIRE(hesse_powerlaw_sensitivity(r.values, r.residuals, K, g.tol_used * r.anorm, &f, &sens) ==
            HESSE_OK);
    printf("guard: s_sensitivity %.3g\n", sens);
    CHECK(sens > 0 && sens < 1e-3);
    /* the same values with residuals of 10% of lambda_K: a visible sensitivity */
    double *big = malloc(sizeof(double) * K);
    for (int k = 0; k < K; k++) big[k] = 0.1 * d[K - 1];
    REQUIRE(hesse_powerlaw_sensitivity(r.values, big, K, 1.0, &f, &sens) == HESSE_OK);
    CHECK_MSG(sens > 1e-3, "sensitivity %.3g with residuals 0.1 lambda_K", sens);
    free(big);
    hesse_eigs_free(&r);
    /* why: the one solve at 1e-6 that the guard replaced fits a different exponent */
    REQUIRE(solve(&sv, 1e-6, &r) == HESSE_OK);
    hesse_powerlaw once;
    REQUIRE(hesse_powerlaw_fit(r.values, K, &once) == HESSE_OK);
    printf("unguarded (tol 1e-6): lambda_K %.4g (exact %.4g), s_ls %.6f, s_mle %.6f\n",
           r.values[K - 1], d[K - 1], once.s_ls, once.s_mle);
    CHECK(fabs(once.s_mle - exact.s_mle) > 1e-3 || fabs(once.s_ls - exact.s_ls) > 1e-3);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
}

static void test_guard_refuses(void) {
    const int n = 200, K = 40;
    double *d = spectrum(n, 10.0); /* 40^-10 = 1e-16: needs tol 5e-20 */
    hesse_op op;
    REQUIRE(hesse_op_diag(n, d, &op) == HESSE_OK);
    solver sv = {&op, K, 0};
    hesse_eigs r;
    memset(&r, 0, sizeof r);
    hesse_powerlaw_guard g;
    CHECK(hesse_powerlaw_eigs(solve, &sv, 1e-6, &r, &g) == HESSE_ENUMERIC);
    CHECK(g.refused && sv.solves == 1);
    CHECK_MSG(strstr(hesse_last_error(), "decades") && strstr(hesse_last_error(), "--top"),
              "message: %s", hesse_last_error());
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(d);
}

int main(void) {
    test_guard_fires();
    test_guard_refuses();
    return test_summary("powerlaw_guard");
}
