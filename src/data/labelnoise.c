/* Label noise: a seeded, exactly sized corruption of the training labels (Zhang et al. 2017,
 * "Understanding deep learning requires rethinking generalization"; Xie et al. 2022 use it as a
 * knob of the Hessian's power law). */
#include "data-impl.h"

#include <math.h>
#include <stdlib.h>

int hesse_samples_label_noise(hesse_samples *s, double fraction, uint64_t seed, int64_t *changed) {
    if (changed) *changed = 0;
    if (!s || (s->n > 0 && !s->y))
        return hesse_error(HESSE_EINVAL, "hesse_samples_label_noise: no samples");
    if (!(fraction >= 0.0 && fraction < 1.0))
        return hesse_error(HESSE_EINVAL, "label noise: expected a fraction in [0, 1), got %g",
                           fraction);
    const int64_t n = s->n * hesse_samples_targets(s), m = llround(fraction * (double)n);
    if (m == 0) return HESSE_OK;
    const int C = s->num_classes;
    if (C < 2)
        return hesse_error(HESSE_EINVAL,
                           "label noise: the samples have %d class; a label can change only "
                           "among two or more",
                           C);
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx)
        return hesse_error(HESSE_ENOMEM, "label noise: cannot allocate %lld indices", (long long)n);
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, seed, 2);
    /* The first m steps of a Fisher-Yates shuffle: m distinct positions, uniformly. */
    for (int64_t i = 0; i < m; i++) {
        int64_t j = i + (int64_t)hesse_rng_below(&rng, (uint64_t)(n - i));
        int64_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
    /* y' = y + 1 + u mod C with u uniform in [0, C - 1): uniform over the other classes. */
    for (int64_t i = 0; i < m; i++) {
        int32_t *y = &s->y[idx[i]];
        *y = (int32_t)((*y + 1 + (int64_t)hesse_rng_below(&rng, (uint64_t)(C - 1))) % C);
    }
    free(idx);
    if (changed) *changed = m;
    return HESSE_OK;
}
