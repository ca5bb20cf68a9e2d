/* Marchenko-Pastur fit (analysis/mpfit.c) against closed forms: the law's CDF at gamma = 1
 * (F(x) = (2 phi + sin 2 phi) / pi, phi = asin(sqrt(x) / 2), by substituting x = 4 sin^2 phi);
 * the eigenvalues of Wishart matrices X X^T / m built here from a seeded generator and
 * LAPACK (the law they follow as p, m grow); the same spectrum through SLQ on a diagonal
 * operator (Rademacher probes make its Hutchinson moments exact, so the fitted parameters must
 * equal the exact moments' to rounding); and a heavy-tailed spectrum, whose mass beyond the
 * fitted edge must show. */
#include <hesse/analysis.h>
#include <hesse/op.h>

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The p eigenvalues (ascending) of X X^T / m, X p x m with N(0, sigma2) entries. */
static double *wishart(int p, int m, double sigma2, uint64_t seed) {
    double *X = malloc(sizeof(double) * (size_t)p * m), *W = calloc((size_t)p * p, sizeof *W);
    double *ev = malloc(sizeof(double) * (size_t)p);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)p * m; i++) X[i] = sqrt(sigma2) * hesse_rng_normal(&rng);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, p, m, 1.0 / m, X, p, 0.0, W, p);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', p, W, p, ev) == 0);
    free(X);
    free(W);
    return ev;
}

static void fit_equal(int p, const double *ev, hesse_mp_fit *f) {
    double *w = malloc(sizeof(double) * (size_t)p);
    for (int i = 0; i < p; i++) w[i] = 1.0;
    REQUIRE(hesse_mp_fit_atoms(p, ev, w, f) == HESSE_OK);
    free(w);
}

static void test_cdf(void) {
    /* the table's midpoint rule in theta and linear interpolation: ~1e-7 at M = 4096 */
    for (double x = 0.25; x < 4; x += 0.5) {
        const double phi = asin(sqrt(x) / 2), want = (2 * phi + sin(2 * phi)) / 3.14159265358979;
        CHECK_MSG(fabs(hesse_mp_cdf(1.0, 1.0, x) - want) < 1e-6, "F(%g) %.9f vs %.9f", x,
                  hesse_mp_cdf(1.0, 1.0, x), want);
    }
    CHECK(hesse_mp_cdf(4.0, 1.0, -1e-9) == 0.0);
    CHECK_CLOSE(hesse_mp_cdf(4.0, 1.0, 0.5), 0.75, 1e-15, 1.0); /* atom 1 - 1/4, a = 1 */
    CHECK(hesse_mp_cdf(0.25, 2.0, 2.0 * 1.5 * 1.5 + 1e-9) == 1.0);
}

/* Wishart spectra: m1 is exact to O(1/sqrt(p m)), m2 / m1^2 - 1 = gamma + 1/m + O(1/p), so
 * gamma within 3% and sigma2 within 1%; the largest eigenvalue passes the edge by
 * O(m^(-2/3)) (Tracy-Widom), a few of p at most: tail mass <= 5/p; W1 at finite size ~ 1/p
 * of the width. */
static void check_law(const char *what, const hesse_mp_law *f, double gamma, double sigma2,
                      double tol, int p) {
    printf("%s: gamma %.4f (%.4f) sigma2 %.4f (%.4f) edges [%.4f, %.4f] zero mass %.4f KS %.4g "
           "W1/sigma2 %.4g tail %.4g\n",
           what, f->gamma, gamma, f->sigma2, sigma2, f->lambda_minus, f->lambda_plus, f->zero_mass,
           f->ks, f->w1_relative, f->tail_mass);
    CHECK_CLOSE(f->gamma, gamma, tol, 0.0);
    CHECK_CLOSE(f->sigma2, sigma2, tol, 0.0);
    CHECK_CLOSE(f->lambda_plus, sigma2 * (1 + sqrt(gamma)) * (1 + sqrt(gamma)), tol, 0.0);
    CHECK(f->tail_mass <= 5.0 / p);
    CHECK_MSG(f->w1_relative < 0.02, "W1/sigma2 %.4g", f->w1_relative);
    CHECK_MSG(f->ks < 0.03, "KS %.4g", f->ks);
    if (gamma > 1) CHECK_CLOSE(f->zero_mass, 1 - 1 / gamma, tol, 0.0);
}

/* Wishart spectra: m1 is exact to O(1/sqrt(p m)), m2 / m1^2 - 1 = gamma + 1/m + O(1/p), so the
 * moment fit is within 3%; the KS fit matches a CDF known to O(1/sqrt(p)) ~ 4%, its parameters
 * to 5%; the largest eigenvalue passes the edge by O(m^(-2/3)) (Tracy-Widom), a few of p at
 * most: tail mass <= 5/p; KS and W1 at finite size ~ 1/p. */
static void test_wishart(int p, int m, double sigma2) {
    double *ev = wishart(p, m, sigma2, 42);
    hesse_mp_fit f;
    fit_equal(p, ev, &f);
    const double gamma = (double)p / m;
    CHECK(f.fitted);
    printf("Wishart %dx%d\n", p, m);
    check_law("  moments", &f.moments, gamma, sigma2, 0.03, p);
    check_law("  min KS", &f.ks, gamma, sigma2, 0.05, p);
    free(ev);
}

/* SLQ's quadrature over diag(ev) with Rademacher probes: z^T A^k z = tr(A^k) exactly for
 * every probe, and Gauss quadrature with >= 2 nodes integrates x and x^2 exactly, so the fit
 * equals the fit of the eigenvalues themselves to rounding (1e-9: Lanczos on 600 steps). */
static void test_slq(void) {
    const int p = 600;
    double *ev = wishart(p, 1200, 1.0, 7);
    hesse_mp_fit exact, f;
    fit_equal(p, ev, &exact);
    hesse_op op;
    REQUIRE(hesse_op_diag(p, ev, &op) == HESSE_OK);
    hesse_slq_params sp = hesse_slq_defaults();
    sp.probes = 4;
    sp.steps = 40;
    hesse_density d;
    REQUIRE(hesse_slq_density(&op, &sp, &d) == HESSE_OK);
    REQUIRE(hesse_mp_fit_density(&d, &f) == HESSE_OK);
    CHECK_CLOSE(f.m1, exact.m1, 1e-9, 0.0);
    CHECK_CLOSE(f.m2, exact.m2, 1e-9, 0.0);
    CHECK_CLOSE(f.moments.gamma, exact.moments.gamma, 1e-8, 0.0);
    /* 4 x 40 nodes resolve the CDF coarsely (a step of 1/40 per probe at worst): the KS fit
     * within 5% of the exact spectrum's, W1 within 3% of sigma2, KS below 0.05 */
    printf("SLQ: min-KS gamma %.4f (eigenvalues: %.4f) sigma2 %.4f (%.4f) KS %.4g W1/sigma2 "
           "%.4g tail %.4g\n",
           f.ks.gamma, exact.ks.gamma, f.ks.sigma2, exact.ks.sigma2, f.ks.ks, f.ks.w1_relative,
           f.ks.tail_mass);
    CHECK_CLOSE(f.ks.gamma, exact.ks.gamma, 0.05, 0.0);
    CHECK_CLOSE(f.ks.sigma2, exact.ks.sigma2, 0.05, 0.0);
    CHECK_MSG(f.ks.w1_relative < 0.03, "SLQ W1/sigma2 %.4g", f.ks.w1_relative);
    CHECK_MSG(f.ks.ks < 0.05, "SLQ KS %.4g", f.ks.ks);
    CHECK(f.ks.tail_mass <= 0.01);
    /* the smoothed curve integrates to 1 over a grid wide enough (trapezoid, 1e-3) */
    double *y = malloc(sizeof(double) * (size_t)d.points);
    REQUIRE(hesse_mp_curve(&f.ks, d.sigma, d.points, d.grid, y) == HESSE_OK);
    double mass = 0.0;
    for (int i = 0; i + 1 < d.points; i++)
        mass += 0.5 * (y[i] + y[i + 1]) * (d.grid[i + 1] - d.grid[i]);
    CHECK_CLOSE(mass, 1.0, 1e-3, 1.0);
    free(y);
    hesse_density_free(&d);
    hesse_op_free(&op);
    free(ev);
    CHECK(hesse_mp_fit_density(&(hesse_density){0}, &f) == HESSE_EINVAL);
}

/* Heavy tail: 5% of a Wishart spectrum (gamma 0.5, edge 2.91) replaced by Pareto values
 * 3 * u^(-1/1.5) (all above 3, most far beyond): the moment fit widens its edge to absorb
 * part of them, but a clear share stays beyond it, and W1 grows. */
static void test_heavy(void) {
    const int p = 800;
    double *ev = wishart(p, 1600, 1.0, 9);
    hesse_rng rng;
    hesse_rng_seed(&rng, 3);
    for (int i = 0; i < p; i += 20) ev[i] = 3.0 * pow(1 - hesse_rng_uniform(&rng), -1 / 1.5);
    hesse_mp_fit f;
    fit_equal(p, ev, &f);
    printf("heavy tail: moments gamma %.4f sigma2 %.4f edge %.4f tail %.4g; min KS gamma %.4f "
           "sigma2 %.4f edge %.4f KS %.4g W1/sigma2 %.4g tail %.4g\n",
           f.moments.gamma, f.moments.sigma2, f.moments.lambda_plus, f.moments.tail_mass,
           f.ks.gamma, f.ks.sigma2, f.ks.lambda_plus, f.ks.ks, f.ks.w1_relative, f.ks.tail_mass);
    /* the KS fit keeps the bulk's law (gamma 0.5, sigma2 ~1 up to the 5% removed) and leaves
     * the planted 5% beyond its edge; the moment fit swallows most of it */
    CHECK_MSG(f.ks.tail_mass >= 0.04, "tail mass %.4g", f.ks.tail_mass);
    CHECK_CLOSE(f.ks.gamma, 0.5, 0.15, 0.0);
    CHECK_MSG(f.moments.tail_mass < f.ks.tail_mass, "moments tail %.4g", f.moments.tail_mass);
    free(ev);
    /* a spectrum with m2 = m1^2 (all equal) has no law */
    const double one[3] = {2, 2, 2}, w[3] = {1, 1, 1};
    REQUIRE(hesse_mp_fit_atoms(3, one, w, &f) == HESSE_OK);
    CHECK(!f.fitted && f.m1 == 2.0);
}

int main(void) {
    test_cdf();
    test_wishart(600, 1200, 2.0);
    test_wishart(800, 400, 1.0);
    test_slq();
    test_heavy();
    return test_summary("mpfit");
}
