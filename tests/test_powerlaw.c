/* Power-law fits (analysis/powerlaw.c): the maximum-likelihood exponent and the KS test on
 * samples drawn from known power laws and from other distributions, the rank law on exact
 * power sequences, the KS distance on hand-computed examples, and the input rules. */
#include <hesse/hesse.h>

#include "check.h"

#include <string.h>

/* Inverse-CDF sampling of p(x) = (beta - 1)/x_min (x/x_min)^(-beta), x >= x_min: with
 * u uniform on (0, 1], x = x_min u^(-1/(beta - 1)) has P(X > x) = (x/x_min)^(1 - beta). */
static void sample_power(hesse_rng *r, double beta, double xmin, int n, double *x) {
    for (int i = 0; i < n; i++) {
        double u = 1.0 - hesse_rng_uniform(r); /* (0, 1] */
        x[i] = xmin * pow(u, -1.0 / (beta - 1.0));
    }
}

enum { DIST_EXPONENTIAL, DIST_UNIFORM, DIST_LOGNORMAL };
static const char *dist_name[] = {"exponential", "uniform", "log-normal"};

static void sample_other(hesse_rng *r, int dist, int n, double *x) {
    for (int i = 0; i < n; i++) {
        switch (dist) {
        case DIST_EXPONENTIAL:
            x[i] = -log(1.0 - hesse_rng_uniform(r));
            break; /* rate 1 */
        case DIST_UNIFORM:
            x[i] = 1.0 + hesse_rng_uniform(r);
            break; /* on [1, 2) */
        default:
            x[i] = exp(0.25 * hesse_rng_normal(r));
            break; /* mu = 0, sigma = 0.25 */
        }
    }
}

/* beta_hat is within 3 standard errors of the true beta (a 3-sigma band: a miss has
 * probability ~0.3% per fit for an unbiased, asymptotically normal estimator; x_min = the
 * sample minimum biases beta_hat by O(1/K), far below the standard error), and the KS test
 * accepts. Estimating beta from the same sample makes the test conservative (Lilliefors): over
 * 400 samples per (K, beta) here it rejected 0-1.3% of them, not 5%. So across the 20 fits one
 * rejection is allowed (two or more have probability ~3% at a 1.3% rate, ~0.5% at the
 * 0.5% average), and even that one
 * must have d_KS < 1.5 d_c; the non-power laws below sit at 5-25 d_c. */
static void test_power_samples(void) {
    const int sizes[] = {1000, 5000};
    const double betas[] = {2.0, 2.5};
    double *x = malloc(5000 * sizeof *x);
    REQUIRE(x);
    int accepted = 0, fits = 0;
    for (int si = 0; si < 2; si++)
        for (int bi = 0; bi < 2; bi++)
            for (uint64_t seed = 1; seed <= 5; seed++) {
                const int K = sizes[si];
                const double beta = betas[bi];
                hesse_rng r;
                hesse_rng_seed(&r, 1000 * seed + (uint64_t)(10 * beta) + (uint64_t)K);
                sample_power(&r, beta, 0.01, K, x);
                hesse_powerlaw f;
                REQUIRE(hesse_powerlaw_fit(x, K, &f) == HESSE_OK);
                fits++;
                CHECK(f.K == K && f.dropped == 0);
                CHECK_MSG(fabs(f.beta - beta) <= 3 * f.beta_stderr,
                          "K %d beta %g seed %llu: beta_hat %.6g +- %.3g", K, beta,
                          (unsigned long long)seed, f.beta, f.beta_stderr);
                CHECK_CLOSE(f.beta_stderr, (f.beta - 1) / sqrt((double)K), 1e-15, 0);
                CHECK_CLOSE(f.s_mle, 1 / (f.beta - 1), 1e-15, 0);
                CHECK_CLOSE(f.d_c, 1.36 / sqrt((double)K), 1e-15, 0);
                CHECK(f.accepted == (f.d_ks < f.d_c));
                CHECK_MSG(f.d_ks < 1.5 * f.d_c, "K %d beta %g seed %llu: d_KS %.4g vs d_c %.4g", K,
                          beta, (unsigned long long)seed, f.d_ks, f.d_c);
                if (!f.accepted)
                    fprintf(stderr, "K %d beta %g seed %llu: rejected, d_KS %.4g vs d_c %.4g\n", K,
                            beta, (unsigned long long)seed, f.d_ks, f.d_c);
                accepted += f.accepted;
                /* the KS distance is at least the first step of the empirical CDF, 1/K,
                 * since F(lambda_K) = 0 */
                CHECK(f.d_ks >= 1.0 / K);
            }
    fprintf(stderr, "power-law samples: %d of %d accepted\n", accepted, fits);
    CHECK(fits == 20 && accepted >= fits - 1);
    free(x);
}

/* Samples of the same sizes from distributions without a power-law tail: the test rejects.
 * Their d_KS is several times d_c, so this holds for any seed, not only those drawn here. */
static void test_other_samples(void) {
    const int sizes[] = {1000, 5000};
    double *x = malloc(5000 * sizeof *x);
    REQUIRE(x);
    for (int si = 0; si < 2; si++)
        for (int dist = 0; dist < 3; dist++)
            for (uint64_t seed = 1; seed <= 3; seed++) {
                const int K = sizes[si];
                hesse_rng r;
                hesse_rng_seed(&r, 77 * seed + (uint64_t)dist + (uint64_t)K);
                sample_other(&r, dist, K, x);
                hesse_powerlaw f;
                REQUIRE(hesse_powerlaw_fit(x, K, &f) == HESSE_OK);
                CHECK_MSG(!f.accepted && f.d_ks >= f.d_c, "%s K %d seed %llu: d_KS %.4g < d_c %.4g",
                          dist_name[dist], K, (unsigned long long)seed, f.d_ks, f.d_c);
                if (seed == 1)
                    fprintf(stderr, "%-11s K %4d: d_KS %.4f vs d_c %.4f\n", dist_name[dist], K,
                            f.d_ks, f.d_c);
            }
    free(x);
}

/* Exact rank laws lambda_k = c k^(-s): ln lambda_k = ln c - s ln k holds to rounding of the
 * logarithms (~1e-16 relative), so least squares returns s and ln c to ~1e-14 and R^2 = 1 to
 * ~1e-15; 1e-12 leaves room for the sums over K terms. */
static void test_rank_law(void) {
    const double cs[] = {3.7, 1e-3, 250.0};
    const double ss[] = {1.0, 1.3, 0.45};
    const int Ks[] = {200, 1000, 37};
    double *x = malloc(1000 * sizeof *x);
    REQUIRE(x);
    for (int t = 0; t < 3; t++) {
        const int K = Ks[t];
        /* filled ascending, to check that the order of the input does not matter */
        for (int k = 1; k <= K; k++) x[K - k] = cs[t] * pow(k, -ss[t]);
        hesse_powerlaw f;
        REQUIRE(hesse_powerlaw_fit(x, K, &f) == HESSE_OK);
        CHECK_CLOSE(f.s_ls, ss[t], 1e-12, 0);
        CHECK_CLOSE(exp(f.intercept_ls), cs[t], 1e-12, 0);
        CHECK_CLOSE(f.r2_ls, 1.0, 1e-12, 0);
        CHECK(f.lambda_max == cs[t] && f.lambda_min == x[0]);
        /* lambda_k = k^(-s) are the quantiles of a density law with beta = 1 + 1/s
         * (P(X > lambda_k) ~ k/K), so the likelihood estimate agrees with the rank law up to
         * O(ln K / K) discretisation: within 10% at K >= 200. */
        if (K >= 200) {
            CHECK_CLOSE(f.s_mle, ss[t], 0.1, 0);
            CHECK_MSG(f.accepted, "exact rank law K %d s %g: d_KS %.4g vs d_c %.4g", K, ss[t],
                      f.d_ks, f.d_c);
        }
    }
    free(x);
}

/* The KS distance on examples worked by hand.
 *
 * (a) {1, 2, 4, 512} = 2^{0, 1, 2, 9}, K = 4, x_min = 1:
 *     sum ln(x/x_min) = (0 + 1 + 2 + 9) ln 2 = 12 ln 2, beta = 1 + 4 / (12 ln 2)
 *     = 1 + 1/(3 ln 2) = 1.4808983469629880; F(2^m) = 1 - 2^(-m/(3 ln 2)) = 1 - e^(-m/3).
 *     steps i = 1..4 at m = 0, 1, 2, 9, terms F - (i-1)/4 and i/4 - F:
 *       m = 0: F = 0                                  -> 0,        0.25
 *       m = 1: F = 1 - e^(-1/3) = 0.2834686894       -> 0.0334687, 0.2165313
 *       m = 2: F = 1 - e^(-2/3) = 0.4865828810       -> -0.0134171, 0.2634171
 *       m = 9: F = 1 - e^(-3)   = 0.9502129316       -> 0.2002129, 0.0497871
 *     D = 3/4 - (1 - e^(-2/3)) = e^(-2/3) - 1/4 = 0.263417119032592.
 *
 * (b) with ties, {1, 2, 2, 512}: sum = (0 + 1 + 1 + 9) ln 2 = 11 ln 2,
 *     beta = 1 + 4/(11 ln 2) = 1.5246163785050775; F(2^m) = 1 - e^(-4m/11).
 *       m = 0: F = 0                                  -> 0,         0.25
 *       m = 1 (i = 2 and 3): F = 1 - e^(-4/11) = 0.3048560716
 *                                 i = 2               -> 0.0548561, 0.1951439
 *                                 i = 3               -> -0.1951439, 0.4451439
 *       m = 9: F = 1 - e^(-36/11) = 0.9620970856     -> 0.2120971, 0.0379029
 *     D = 3/4 - (1 - e^(-4/11)) = e^(-4/11) - 1/4 = 0.445143928398879.
 *
 * (c) the fitted CDF above the empirical one, {1, 16, 32, 64} = 2^{0, 4, 5, 6}: sum = 15 ln 2,
 *     beta = 1 + 4/(15 ln 2) = 1.3847186775703904; F(2^m) = 1 - e^(-4m/15).
 *       m = 0: F = 0                                  -> 0,         0.25
 *       m = 4: F = 1 - e^(-16/15) = 0.6558462131     -> 0.4058462, -0.1558462
 *       m = 5: F = 1 - e^(-4/3)   = 0.7364028619     -> 0.2364029, 0.0135971
 *       m = 6: F = 1 - e^(-8/5)   = 0.7981034820     -> 0.0481035, 0.2018965
 *     D = (1 - e^(-16/15)) - 1/4 = 3/4 - e^(-16/15) = 0.405846213134588. */
static void test_ks_by_hand(void) {
    const double a[] = {512, 1, 4, 2};
    hesse_powerlaw f;
    REQUIRE(hesse_powerlaw_fit(a, 4, &f) == HESSE_OK);
    /* only the rounding of a few logs and exps separates the two: 1e-14 */
    CHECK_CLOSE(f.beta, 1.4808983469629880, 1e-14, 0);
    CHECK_CLOSE(f.d_ks, 0.263417119032592, 1e-14, 0);
    CHECK_CLOSE(f.d_c, 0.68, 1e-15, 0);
    CHECK(f.accepted); /* 0.263 < 1.36 / 2 */

    const double b[] = {2, 512, 2, 1};
    REQUIRE(hesse_powerlaw_fit(b, 4, &f) == HESSE_OK);
    CHECK_CLOSE(f.beta, 1.5246163785050775, 1e-14, 0);
    CHECK_CLOSE(f.d_ks, 0.445143928398879, 1e-14, 0);

    const double c[] = {64, 32, 16, 1};
    REQUIRE(hesse_powerlaw_fit(c, 4, &f) == HESSE_OK);
    CHECK_CLOSE(f.beta, 1.3847186775703904, 1e-14, 0);
    CHECK_CLOSE(f.d_ks, 0.405846213134588, 1e-14, 0);

    /* A range beyond double's (1e400: the ratios to x_min overflow, their logs do not):
     * sum_k ln(lambda_k / x_min) = (400 + 300 + 100) ln 10, beta = 1 + 4 / that. */
    const double wide[] = {1e200, 1e100, 1e-100, 1e-200};
    REQUIRE(hesse_powerlaw_fit(wide, 4, &f) == HESSE_OK);
    CHECK_CLOSE(f.beta, 1.0 + 4.0 / (800.0 * log(10.0)), 1e-14, 0);
    CHECK(isfinite(f.s_mle) && f.d_ks > 0 && f.d_ks < 1);
}

/* Non-positive values are dropped and counted; the fit equals the fit of the positive ones. */
static void test_dropped(void) {
    const double pos[] = {9.0, 5.5, 3.0, 2.25, 1.5, 1.1};
    const double mixed[] = {1.5, 0.0, 9.0, -3.0, 5.5, -0.0, 3.0, 1.1, -1e-12, 2.25};
    hesse_powerlaw f, g;
    REQUIRE(hesse_powerlaw_fit(pos, 6, &f) == HESSE_OK);
    REQUIRE(hesse_powerlaw_fit(mixed, 10, &g) == HESSE_OK);
    CHECK(f.dropped == 0 && g.dropped == 4 && g.K == 6);
    CHECK(g.beta == f.beta && g.s_ls == f.s_ls && g.intercept_ls == f.intercept_ls &&
          g.r2_ls == f.r2_ls && g.d_ks == f.d_ks && g.lambda_min == 1.1 && g.lambda_max == 9.0);
}

static void test_errors(void) {
    hesse_powerlaw f;
    const double two[] = {3.0, 0.0, 2.0, -1.0};
    CHECK(hesse_powerlaw_fit(two, 4, &f) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "2 positive values among 4") != NULL);
    CHECK(hesse_powerlaw_fit(two, 0, &f) == HESSE_EINVAL);
    CHECK(hesse_powerlaw_fit(NULL, 3, &f) == HESSE_EINVAL);
    const double three[] = {3.0, 1.0, 2.0};
    CHECK(hesse_powerlaw_fit(three, 3, NULL) == HESSE_EINVAL);
    CHECK(hesse_powerlaw_fit(three, 3, &f) == HESSE_OK && f.K == 3);
    const double nan_in[] = {3.0, NAN, 2.0, 1.0};
    CHECK(hesse_powerlaw_fit(nan_in, 4, &f) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "value 2") != NULL);
    const double inf_in[] = {INFINITY, 3.0, 2.0, 1.0};
    CHECK(hesse_powerlaw_fit(inf_in, 4, &f) == HESSE_EINVAL);
    const double equal[] = {2.0, 2.0, 2.0, -1.0};
    CHECK(hesse_powerlaw_fit(equal, 4, &f) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "all equal") != NULL);
}

/* The likelihood fit's rank curve lambda_K (k/K)^(-s_mle): through (K, lambda_K) exactly, and on
 * exact quantiles of a Pareto law with s = 0.8 within 3 % of lambda_1 at k = 1 (s_mle is
 * s (1 - O(ln K / K)) there); NaN without a fit. */
static void test_mle_rank(void) {
    enum { K = 2000 };
    static double v[K];
    for (int k = 1; k <= K; k++) v[k - 1] = 0.5 * pow((double)k / K, -0.8);
    hesse_powerlaw f;
    REQUIRE(hesse_powerlaw_fit(v, K, &f) == HESSE_OK);
    CHECK(hesse_powerlaw_mle_rank(&f, K) == v[K - 1]);
    CHECK_CLOSE(hesse_powerlaw_mle_rank(&f, 1), 0.5 * pow((double)K, f.s_mle), 1e-14, 0);
    CHECK_CLOSE(hesse_powerlaw_mle_rank(&f, 1), v[0], 0.03, 0);
    const double few[] = {9.0, 5.5, 3.0, 2.25};
    REQUIRE(hesse_powerlaw_fit(few, 4, &f) == HESSE_OK);
    CHECK(hesse_powerlaw_mle_rank(&f, 4) == 2.25);
    hesse_powerlaw none = {0};
    CHECK(isnan(hesse_powerlaw_mle_rank(&none, 1)) && isnan(hesse_powerlaw_mle_rank(NULL, 1)));
}

int main(void) {
    test_mle_rank();
    test_power_samples();
    test_other_samples();
    test_rank_law();
    test_ks_by_hand();
    test_dropped();
    test_errors();
    return test_summary("test_powerlaw");
}
