/* Power-law fits of the top of a spectrum (Xie, Tang, Cai, Sun, Li, "On the Power-Law
 * Hessian Spectrums in Deep Learning"; PAPERS.md section 1), with the estimators and the
 * goodness-of-fit test of Clauset, Shalizi, Newman, "Power-law distributions in empirical
 * data", SIAM Review 51(4), 2009. */
#include <hesse/analysis.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Rank law (Xie et al.): ln lambda_k = intercept - s ln k, k = 1..K, by ordinary least squares
 * with centred sums (two passes, so that exact power laws come back to rounding). */
static void rank_law(const double *desc, int K, hesse_powerlaw *out) {
    double mx = 0, my = 0;
    for (int k = 0; k < K; k++) {
        mx += log(k + 1.0);
        my += log(desc[k]);
    }
    mx /= K;
    my /= K;
    double sxx = 0, sxy = 0, syy = 0;
    for (int k = 0; k < K; k++) {
        double dx = log(k + 1.0) - mx, dy = log(desc[k]) - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    double slope = sxy / sxx, intercept = my - slope * mx, ssr = 0;
    for (int k = 0; k < K; k++) {
        double e = log(desc[k]) - (intercept + slope * log(k + 1.0));
        ssr += e * e;
    }
    out->s_ls = -slope;
    out->intercept_ls = intercept;
    out->r2_ls = 1.0 - ssr / syy; /* syy > 0: the values are not all equal */
}

/* Kolmogorov-Smirnov distance between the empirical CDF of the K values and the fitted
 * F(x) = 1 - (x / x_min)^(1 - beta), D = max_x |S(x) - F(x)| as Clauset et al. 2009 define
 * it for their goodness-of-fit test, and as Xie et al. apply it. With the values ascending, x_(1)
 * <= ... <= x_(K), the empirical CDF steps from (i-1)/K to i/K at x_(i), and the supremum is
 * reached at one side of a step: D = max_i max(F(x_(i)) - (i-1)/K, i/K - F(x_(i))). Tied values
 * need no special case: the largest of the terms for a run of ties is at the run's two ends. */
static double ks_distance(const double *desc, int K, double beta) {
    const double xmin = desc[K - 1];
    double d = 0;
    for (int i = 1; i <= K; i++) {
        double x = desc[K - i];                                 /* x_(i), ascending */
        double F = -expm1((1.0 - beta) * (log(x) - log(xmin))); /* 1 - (x/xmin)^(1-beta) */
        double lo = F - (double)(i - 1) / K, hi = (double)i / K - F;
        if (lo > d) d = lo;
        if (hi > d) d = hi;
    }
    return d;
}

int hesse_powerlaw_fit(const double *lambda, int count, hesse_powerlaw *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_powerlaw_fit: out is NULL");
    memset(out, 0, sizeof *out);
    if (count < 0 || (count > 0 && !lambda))
        return hesse_error(HESSE_EINVAL, "hesse_powerlaw_fit: %d values at %p", count,
                           (const void *)lambda);
    int K = 0;
    for (int i = 0; i < count; i++) {
        if (!isfinite(lambda[i]))
            return hesse_error(HESSE_EINVAL, "power-law fit: value %d is not finite", i + 1);
        K += lambda[i] > 0;
    }
    if (K < 3)
        return hesse_error(HESSE_EINVAL,
                           "power-law fit: %d positive value%s among %d, at least 3 needed", K,
                           K == 1 ? "" : "s", count);
    double *desc = hesse_alloc((size_t)K * sizeof *desc);
    if (!desc) return HESSE_ENOMEM;
    int rc = HESSE_OK;
    for (int i = 0, j = 0; i < count; i++)
        if (lambda[i] > 0) desc[j++] = lambda[i];
    qsort(desc, (size_t)K, sizeof *desc, descending);
    if (desc[0] == desc[K - 1]) {
        rc = hesse_error(HESSE_EINVAL,
                         "power-law fit: the %d positive values are all equal (%.17g)", K, desc[0]);
        goto cleanup;
    }
    out->K = K;
    out->dropped = count - K;
    out->lambda_max = desc[0];
    out->lambda_min = desc[K - 1];
    rank_law(desc, K, out);

    /* Maximum likelihood for the continuous power law above x_min = lambda_K (Clauset et al.
     * 2009, eq. 3.1): beta = 1 + K / sum_k ln(lambda_k / x_min); its standard error
     * (beta - 1) / sqrt(K) (eq. 3.2); the rank exponent s = 1 / (beta - 1) (PAPERS.md
     * section 1: beta = 1 + 1/s). */
    double sum_log = 0; /* differences of logs: the ratios overflow beyond ~1e308 of range */
    for (int k = 0; k < K; k++) sum_log += log(desc[k]) - log(desc[K - 1]);
    out->beta = 1.0 + K / sum_log;
    out->beta_stderr = (out->beta - 1.0) / sqrt((double)K);
    out->s_mle = 1.0 / (out->beta - 1.0);

    /* The test of Xie et al.: accept at the 5% level when D < 1.36 / sqrt(K), the asymptotic
     * Kolmogorov critical value. */
    out->d_ks = ks_distance(desc, K, out->beta);
    out->d_c = 1.36 / sqrt((double)K);
    out->accepted = out->d_ks < out->d_c;
cleanup:
    hesse_free(desc);
    if (rc != HESSE_OK) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- The solver's accuracy over many decades -------------------------------------------- */

/* The smallest positive value of count values (0 when none). */
double hesse_powerlaw_mle_rank(const hesse_powerlaw *f, double k) {
    if (!f || f->K < 1 || !(f->lambda_min > 0) || !isfinite(f->s_mle)) return NAN;
    return f->lambda_min * pow(k / (double)f->K, -f->s_mle);
}

static double smallest_positive(const double *v, int count) {
    double m = 0.0;
    for (int i = 0; i < count; i++)
        if (v[i] > 0 && (m == 0.0 || v[i] < m)) m = v[i];
    return m;
}

int hesse_powerlaw_eigs(hesse_powerlaw_solve_fn solve, void *ctx, double tol, hesse_eigs *out,
                        hesse_powerlaw_guard *g) {
    if (!solve || !out || !g || !(tol > 0))
        return hesse_error(HESSE_EINVAL, "hesse_powerlaw_eigs: needs a solver, tol > 0, out, g");
    memset(g, 0, sizeof *g);
    g->tol_requested = tol;
    g->limit = HESSE_POWERLAW_ACCURACY;
    for (;;) {
        int rc = solve(ctx, tol, out);
        if (rc != HESSE_OK) return rc;
        g->tol_used = tol;
        const double lk = smallest_positive(out->values, out->ntop);
        if (!(lk > 0) || !(out->anorm > 0)) return HESSE_OK; /* the fit will say why */
        g->lambda_min = lk;
        g->anorm = out->anorm;
        g->accuracy = tol * out->anorm / lk;
        if (g->accuracy <= g->limit) return HESSE_OK;
        /* half the limit: lambda_K itself moves when the pairs converge further */
        const double want = 0.5 * g->limit * lk / out->anorm;
        if (want < HESSE_POWERLAW_TOL_MIN || g->tightened >= 3) {
            g->refused = 1;
            return hesse_error(
                HESSE_ENUMERIC,
                "the top %d eigenvalues span %.1f decades (lambda_1 / lambda_K = %.3g): an "
                "eigenvalue error of at most %g lambda_K needs a relative Lanczos tolerance "
                "(--tol) of %.2g, below the %g that double precision attains here; fit fewer "
                "values (a smaller --top)",
                out->ntop, log10(out->anorm / lk), out->anorm / lk, g->limit, want,
                HESSE_POWERLAW_TOL_MIN);
        }
        hesse_log(HESSE_LOG_WARN,
                  "powerlaw: tol %.3g x ||A|| = %.3g is %.3g of the smallest fitted eigenvalue "
                  "%.4g (more than %g): solving again at tol %.3g",
                  tol, tol * out->anorm, g->accuracy, lk, g->limit, want);
        hesse_eigs_free(out);
        tol = want;
        g->tightened++;
    }
}

/* max(|s_ls' - s_ls|, |s_mle' - s_mle|) of a refit of v against f; 0 when the refit fails
 * (fewer than 3 positive values left). */
static double refit_change(const double *v, int count, const hesse_powerlaw *f) {
    hesse_powerlaw r;
    if (hesse_powerlaw_fit(v, count, &r) != HESSE_OK) return 0.0;
    return fmax(fabs(r.s_ls - f->s_ls), fabs(r.s_mle - f->s_mle));
}

int hesse_powerlaw_sensitivity(const double *desc, const double *residuals, int K, double bound,
                               const hesse_powerlaw *f, double *s_sensitivity) {
    if (!desc || !residuals || !f || !s_sensitivity || K < 3)
        return hesse_error(HESSE_EINVAL, "hesse_powerlaw_sensitivity: needs K >= 3 values, "
                                         "their residuals and their fit");
    double *v = hesse_alloc(sizeof *v * (size_t)K);
    if (!v) return HESSE_ENOMEM;
    double worst = 0.0;
    for (int sign = -1; sign <= 1; sign += 2) { /* every value moved by its residual, down, up */
        for (int k = 0; k < K; k++) v[k] = desc[k] + sign * residuals[k];
        worst = fmax(worst, refit_change(v, K, f));
    }
    int kept = 0; /* the pairs whose residual is within the bound only */
    for (int k = 0; k < K; k++)
        if (residuals[k] <= bound) v[kept++] = desc[k];
    if (kept < K) worst = fmax(worst, refit_change(v, kept, f));
    hesse_free(v);
    *s_sensitivity = worst;
    return HESSE_OK;
}
