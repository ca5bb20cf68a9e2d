/* The density of known point masses (the exact spectrum of a low-rank operator), smoothed and
 * gridded exactly as stochastic Lanczos quadrature smooths its Ritz values, so that the two
 * can be drawn on one figure. */
#include "spectral/spectral-impl.h"

#include <math.h>
#include <string.h>

static int points_check(int count, const double *values, const double *weights,
                        const hesse_slq_params *p) {
    if (!values || !weights || !p) return hesse_error(HESSE_EINVAL, "point density: NULL argument");
    if (count < 1) return hesse_error(HESSE_EINVAL, "point density: no point masses");
    if (p->points < 2 || !(p->sigma > 0) || p->margin < 0 || p->eps < 0)
        return hesse_error(HESSE_EINVAL,
                           "point density: need points >= 2, sigma > 0, margin >= 0, eps >= 0");
    for (int j = 0; j < count; j++)
        if (!isfinite(values[j]) || !isfinite(weights[j]) || weights[j] < 0)
            return hesse_error(HESSE_EINVAL,
                               "point density: mass %d is (%g, weight %g); expected finite "
                               "values and finite weights >= 0",
                               j, values[j], weights[j]);
    return HESSE_OK;
}

int hesse_density_points(int count, const double *values, const double *weights,
                         const hesse_slq_params *p, hesse_density *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "point density: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = points_check(count, values, weights, p);
    if (rc != HESSE_OK) return rc;
    const double t0 = hesse_now();
    double lo = p->lo, hi = p->hi;
    if (!(lo < hi)) {
        double a = values[0], b = values[0];
        for (int j = 1; j < count; j++) {
            a = fmin(a, values[j]);
            b = fmax(b, values[j]);
        }
        hesse_sp_widen(a, b, p->margin, &lo, &hi);
    }
    HESSE_CHECK(hesse_sp_density_grid(out, p->points, lo, hi, p->eps));
    /* SLQ's kernel (slq.c): a Gaussian of width sigma (hi - lo), cut at 10 sigma. */
    const double sigma = p->sigma * (hi - lo), norm = 1.0 / (sqrt(2.0 * HESSE_SP_PI) * sigma);
    out->sigma = sigma;
    double outside = 0;
    for (int j = 0; j < count; j++) {
        const double x0 = values[j];
        if (x0 < lo - 3 * sigma || x0 > hi + 3 * sigma) outside += weights[j];
        hesse_sp_gauss_add(out, p->points, x0, sigma, weights[j] * norm);
    }
    HESSE_CHECK(hesse_sp_density_normalise(out));
    out->weight_outside = outside;
    out->seconds = hesse_now() - t0;
cleanup:
    if (rc != HESSE_OK) hesse_density_free(out);
    return rc;
}
