/* The edge-of-stability verdict over a tracked sharpness series (Cohen, Kaur, Li, Kolter &
 * Talwalkar, ICLR 2021; Cohen et al. 2022 for Adam's preconditioned sharpness): where the
 * sharpness first comes within `band` of its threshold, and how far it strays from it after. */
#include <hesse/analysis.h>

#include <math.h>

int hesse_edge_of_stability(const double *sharpness, const double *threshold, int64_t n,
                            double band, hesse_edge_verdict *v) {
    if (!v) return hesse_error(HESSE_EINVAL, "hesse_edge_of_stability: NULL verdict");
    if (n < 0 || (n > 0 && (!sharpness || !threshold)))
        return hesse_error(HESSE_EINVAL, "hesse_edge_of_stability: no series (n = %lld)",
                           (long long)n);
    if (!(band > 0 && band < 1))
        return hesse_error(HESSE_EINVAL, "hesse_edge_of_stability: band %g outside (0, 1)", band);
    *v = (hesse_edge_verdict){-1, -1, NAN, NAN, NAN, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(sharpness[i]) || !isfinite(threshold[i]) || !(threshold[i] > 0)) continue;
        double r = sharpness[i] / threshold[i];
        v->points++;
        if (v->argmax < 0 || r > v->max_ratio) {
            v->max_ratio = r;
            v->argmax = i;
        }
        if (v->first < 0 && r >= 1 - band) {
            v->first = i;
            v->min_after = v->max_after = r;
        } else if (v->first >= 0) {
            v->min_after = fmin(v->min_after, r);
            v->max_after = fmax(v->max_after, r);
        }
    }
    v->at_edge = v->first >= 0 && v->min_after >= 1 - band && v->max_after <= 1 + band;
    return HESSE_OK;
}
