/* Synthetic class-structured data: a mixture of C isotropic Gaussians around seeded class means
 * with a known pairwise separation, so that an analysis can be seen to find a structure that is
 * known to be there (Papyan 2019's class hierarchy). The generator is exact and deterministic:
 * the means from stream 0 of the seed, the training split from stream 1, the test split from
 * stream 2, so neither split depends on the other's size. */
#include "data-impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GAUSSMIX_PREFIX "gaussmix:"
/* The most values (samples x dim) one split may hold: 2 GiB of doubles. */
#define GAUSSMIX_MAX_VALUES ((int64_t)1 << 28)
#define GAUSSMIX_MAX_DIM    (1 << 20)

hesse_gaussmix hesse_gaussmix_defaults(void) {
    hesse_gaussmix g = {0, 0, 0.0, 0, 5000, 1000, 1.0};
    return g;
}

int hesse_gaussmix_is_spec(const char *spec) {
    return spec && strncmp(spec, GAUSSMIX_PREFIX, sizeof GAUSSMIX_PREFIX - 1) == 0;
}

/* One "key=value" item of the spec into g; `item` is NUL-free up to len. */
static int parse_item(const char *spec, const char *item, size_t len, hesse_gaussmix *g,
                      unsigned *seen) {
    static const struct {
        const char *key, *expect;
        int real;
        double min, max;
    } keys[] = {
        {"classes", "an integer from 2 to 1048576", 0, 2, HESSE_MAX_CLASSES},
        {"dim", "an integer from 1 to 1048576", 0, 1, GAUSSMIX_MAX_DIM},
        {"separation", "a finite number > 0", 1, 0, INFINITY},
        {"seed", "an integer from 0 to 2^64 - 1", 0, 0, 18446744073709551615.0},
        {"samples", "an integer from 1 to 2^28", 0, 1, (double)GAUSSMIX_MAX_VALUES},
        {"test", "an integer from 1 to 2^28", 0, 1, (double)GAUSSMIX_MAX_VALUES},
        {"noise", "a finite number > 0", 1, 0, INFINITY},
    };
    const char *eq = memchr(item, '=', len);
    size_t klen = eq ? (size_t)(eq - item) : len;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if (strlen(keys[k].key) != klen || strncmp(item, keys[k].key, klen) != 0) continue;
        char text[64] = "";
        size_t vlen = eq ? len - klen - 1 : 0;
        if (eq && vlen < sizeof text) {
            memcpy(text, eq + 1, vlen);
            text[vlen] = '\0';
        }
        char *end = NULL;
        errno = 0;
        double v = keys[k].real ? strtod(text, &end) : 0.0;
        unsigned long long u = keys[k].real ? 0 : strtoull(text, &end, 10);
        if (!keys[k].real) v = (double)u;
        int bad = !eq || vlen == 0 || vlen >= sizeof text || *end != '\0' || errno == ERANGE ||
                  (!keys[k].real && text[0] == '-') || !isfinite(v) ||
                  (keys[k].real ? !(v > keys[k].min) : v < keys[k].min || v > keys[k].max);
        if (bad)
            return hesse_error(HESSE_EINVAL, "%s: %s expects %s, got '%.*s'", spec, keys[k].key,
                               keys[k].expect, (int)(eq ? vlen : 0), eq ? eq + 1 : "");
        if (*seen & (1u << k))
            return hesse_error(HESSE_EINVAL, "%s: %s given twice", spec, keys[k].key);
        *seen |= 1u << k;
        switch (k) {
        case 0:
            g->classes = (int)u;
            break;
        case 1:
            g->dim = (int)u;
            break;
        case 2:
            g->separation = v;
            break;
        case 3:
            g->seed = (uint64_t)u;
            break;
        case 4:
            g->samples = (int64_t)u;
            break;
        case 5:
            g->test = (int64_t)u;
            break;
        default:
            g->noise = v;
            break;
        }
        return HESSE_OK;
    }
    return hesse_error(HESSE_EINVAL,
                       "%s: unknown key '%.*s' (expected classes, dim, separation, seed, samples, "
                       "test, noise)",
                       spec, (int)klen, item);
}

int hesse_gaussmix_parse(const char *spec, hesse_gaussmix *out) {
    if (!spec || !out) return hesse_error(HESSE_EINVAL, "hesse_gaussmix_parse: NULL argument");
    if (!hesse_gaussmix_is_spec(spec))
        return hesse_error(HESSE_EINVAL, "%s: expected gaussmix:key=value,...", spec);
    hesse_gaussmix g = hesse_gaussmix_defaults();
    unsigned seen = 0;
    const char *p = spec + sizeof GAUSSMIX_PREFIX - 1;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int rc = parse_item(spec, p, len, &g, &seen);
        if (rc != HESSE_OK) return rc;
        p += len + (comma ? 1 : 0);
    }
    if ((seen & 7u) != 7u)
        return hesse_error(HESSE_EINVAL, "%s: classes, dim and separation are required", spec);
    if (g.classes > g.dim)
        return hesse_error(HESSE_EINVAL,
                           "%s: %d classes need dim >= %d (the class means are orthogonal), got "
                           "dim=%d",
                           spec, g.classes, g.classes, g.dim);
    int64_t most = g.samples > g.test ? g.samples : g.test;
    if (most > GAUSSMIX_MAX_VALUES / g.dim)
        return hesse_error(HESSE_EINVAL,
                           "%s: %lld samples of dim %d exceed the 2^28 values a split may hold",
                           spec, (long long)most, g.dim);
    *out = g;
    return HESSE_OK;
}

int hesse_gaussmix_means(const hesse_gaussmix *g, double *means) {
    if (!g || !means || g->classes < 1 || g->dim < g->classes)
        return hesse_error(HESSE_EINVAL, "hesse_gaussmix_means: invalid mixture");
    const int C = g->classes, D = g->dim;
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, g->seed, 0);
    for (int64_t i = 0; i < (int64_t)C * D; i++) means[i] = hesse_rng_normal(&rng);
    /* Orthonormal rows by modified Gram-Schmidt, done twice ("twice is enough"); a Gaussian
     * C x D matrix with C <= D has full rank with probability one. */
    for (int c = 0; c < C; c++) {
        double *q = means + (int64_t)c * D;
        for (int pass = 0; pass < 2; pass++)
            for (int j = 0; j < c; j++) {
                const double *r = means + (int64_t)j * D;
                double dot = 0;
                for (int d = 0; d < D; d++) dot += q[d] * r[d];
                for (int d = 0; d < D; d++) q[d] -= dot * r[d];
            }
        double norm = 0;
        for (int d = 0; d < D; d++) norm += q[d] * q[d];
        norm = sqrt(norm);
        if (!(norm > 0))
            return hesse_error(HESSE_ENUMERIC, "gaussmix: class mean %d is degenerate", c);
        for (int d = 0; d < D; d++) q[d] /= norm;
    }
    /* Centred and scaled, mu_c = (S / sqrt 2)(q_c - mean_c' q_c'): the vertices of a regular
     * simplex around the origin, ||mu_c - mu_c'|| = S for every pair, and no direction common
     * to all classes. */
    const double scale = g->separation / sqrt(2.0);
    for (int d = 0; d < D; d++) {
        double centre = 0;
        for (int c = 0; c < C; c++) centre += means[(int64_t)c * D + d];
        centre /= C;
        for (int c = 0; c < C; c++)
            means[(int64_t)c * D + d] = scale * (means[(int64_t)c * D + d] - centre);
    }
    return HESSE_OK;
}

/* The shortest %g text that reads back as v ("0.3", not "0.29999999999999999"). */
static void shortest(double v, char buf[32]) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

void hesse_gaussmix_name(const hesse_gaussmix *g, char *buf, size_t cap) {
    char sep[32], noise[32];
    shortest(g->separation, sep);
    shortest(g->noise, noise);
    snprintf(buf, cap,
             "gaussmix:classes=%d,dim=%d,separation=%s,seed=%llu,samples=%lld,test=%lld,"
             "noise=%s",
             g->classes, g->dim, sep, (unsigned long long)g->seed, (long long)g->samples,
             (long long)g->test, noise);
}

int hesse_dataset_gaussmix(const hesse_gaussmix *g, hesse_split split, hesse_dataset **out) {
    if (!g || !out) return hesse_error(HESSE_EINVAL, "hesse_dataset_gaussmix: NULL argument");
    *out = NULL;
    if (split != HESSE_SPLIT_TRAIN && split != HESSE_SPLIT_TEST)
        return hesse_error(HESSE_EINVAL, "gaussmix: unknown split %d", (int)split);
    const int C = g->classes, D = g->dim;
    const int64_t n = split == HESSE_SPLIT_TRAIN ? g->samples : g->test;
    if (C < 2 || D < C || n < 1 || n > GAUSSMIX_MAX_VALUES / D || !(g->separation > 0) ||
        !isfinite(g->separation) || !(g->noise > 0) || !isfinite(g->noise))
        return hesse_error(HESSE_EINVAL, "gaussmix: invalid mixture (see hesse_gaussmix_parse)");
    char name[HESSE_DATA_PATH_MAX];
    hesse_gaussmix_name(g, name, sizeof name - 8);
    const size_t len = strlen(name);
    snprintf(name + len, sizeof name - len, "%s", split == HESSE_SPLIT_TRAIN ? "/train" : "/test");
    int rc = HESSE_OK;
    double *means = malloc((size_t)C * (size_t)D * sizeof *means);
    hesse_dataset *ds = hesse_data_new(name);
    if (ds) {
        ds->values = malloc((size_t)(n * D) * sizeof *ds->values);
        ds->labels = malloc((size_t)n * sizeof *ds->labels);
    }
    if (!means || !ds || !ds->values || !ds->labels) {
        rc = hesse_error(HESSE_ENOMEM, "gaussmix: cannot allocate %lld samples of dim %d",
                         (long long)n, D);
        goto cleanup;
    }
    if ((rc = hesse_gaussmix_means(g, means)) != HESSE_OK) goto cleanup;
    hesse_rng rng;
    hesse_rng_seed_stream(&rng, g->seed, split == HESSE_SPLIT_TRAIN ? 1 : 2);
    for (int64_t i = 0; i < n; i++) { /* labels cycle 0, 1, ..., C-1: any prefix is balanced */
        const int y = (int)(i % C);
        const double *mu = means + (int64_t)y * D;
        double *x = ds->values + i * D;
        for (int d = 0; d < D; d++) x[d] = mu[d] + g->noise * hesse_rng_normal(&rng);
        ds->labels[i] = y;
    }
    ds->n = n;
    ds->c = D;
    ds->h = ds->w = 1;
    ds->num_classes = C;
    *out = ds;
    ds = NULL;
cleanup:
    free(means);
    hesse_dataset_free(ds);
    return rc;
}
