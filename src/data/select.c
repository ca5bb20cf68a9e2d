/* Choosing samples from a split (first n, per-class balanced, seeded random) and turning the
 * chosen ones into preprocessed doubles. Only the chosen samples are ever converted: the
 * split itself stays in its stored type (uint8 pixels take an eighth of the memory). */
#include "data-impl.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

hesse_selection hesse_selection_defaults(void) {
    hesse_selection s = {HESSE_SELECT_FIRST, 0, 0};
    return s;
}

hesse_preprocess hesse_preprocess_defaults(void) {
    hesse_preprocess p;
    memset(&p, 0, sizeof p);
    return p;
}

void hesse_selection_describe(const hesse_selection *sel, char *buf, size_t cap) {
    if (!buf || cap == 0) return;
    if (!sel || sel->n <= 0) {
        snprintf(buf, cap, "all");
        return;
    }
    long long n = (long long)sel->n;
    switch (sel->mode) {
    case HESSE_SELECT_BALANCED:
        snprintf(buf, cap, "balanced %lld", n);
        break;
    case HESSE_SELECT_RANDOM:
        snprintf(buf, cap, "random %lld (seed %llu)", n, (unsigned long long)sel->seed);
        break;
    default:
        snprintf(buf, cap, "first %lld", n);
        break;
    }
}

/* ---- Choosing indices ------------------------------------------------------------------------
 * Each writes n indices into the split, ascending (file order). */

/* Class k gets n/C samples, and one more when k < n mod C, so that the counts for n are
 * contained in those for any larger n (class k's quota is the number of j < n with
 * j mod C == k); each class takes its quota from the front of the file, hence nesting. */
static int pick_balanced(const hesse_dataset *ds, int64_t n, int64_t *idx) {
    int C = ds->num_classes;
    int64_t *quota = calloc((size_t)C, sizeof *quota);
    if (!quota) return hesse_error(HESSE_ENOMEM, "cannot allocate %d class counts", C);
    for (int k = 0; k < C; k++) quota[k] = n / C + (k < n % C ? 1 : 0);
    int64_t taken = 0;
    for (int64_t i = 0; i < ds->n && taken < n; i++) {
        int32_t k = ds->labels[i];
        if (quota[k] > 0) {
            quota[k]--;
            idx[taken++] = i;
        }
    }
    int rc = HESSE_OK;
    for (int k = 0; k < C && taken < n; k++)
        if (quota[k] > 0) {
            int64_t need = n / C + (k < n % C ? 1 : 0);
            rc = hesse_error(HESSE_EINVAL,
                             "%s: a balanced selection of %lld needs %lld samples of class %d, "
                             "found %lld",
                             ds->name, (long long)n, (long long)need, k,
                             (long long)(need - quota[k]));
            break;
        }
    free(quota);
    return rc;
}

/* Floyd's algorithm: n distinct indices of [0, N) with n draws, uniformly over subsets. */
static int pick_random(const hesse_dataset *ds, int64_t n, uint64_t seed, int64_t *idx) {
    int64_t N = ds->n;
    unsigned char *chosen = calloc((size_t)N, 1);
    if (!chosen) return hesse_error(HESSE_ENOMEM, "cannot allocate %lld flags", (long long)N);
    hesse_rng rng;
    hesse_rng_seed(&rng, seed);
    for (int64_t j = N - n; j < N; j++) {
        int64_t t = (int64_t)hesse_rng_below(&rng, (uint64_t)j + 1);
        chosen[chosen[t] ? j : t] = 1;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < N; i++)
        if (chosen[i]) idx[m++] = i;
    free(chosen);
    return HESSE_OK;
}

/* ---- Preprocessing --------------------------------------------------------------------------- */

static int check_preprocess(const hesse_dataset *ds, const hesse_preprocess *pre) {
    if (!isfinite(pre->scale) || pre->scale < 0)
        return hesse_error(HESSE_EINVAL, "%s: preprocessing scale %g is not a finite value >= 0",
                           ds->name, pre->scale);
    if (pre->channels == 0) return HESSE_OK;
    if (ds->tokens)
        return hesse_error(HESSE_EINVAL,
                           "%s: token ids take no per-channel normalisation (--mean/--std)",
                           ds->name);
    if (pre->channels != ds->c)
        return hesse_error(HESSE_EINVAL,
                           "%s: normalisation has %d channel(s), the data has %d (give one mean "
                           "and one std per channel)",
                           ds->name, pre->channels, ds->c);
    for (int ch = 0; ch < pre->channels; ch++)
        if (!isfinite(pre->mean[ch]) || !isfinite(pre->std[ch]) || !(pre->std[ch] > 0))
            return hesse_error(HESSE_EINVAL,
                               "%s: channel %d has mean %g and std %g (expected finite values, std "
                               "> 0)",
                               ds->name, ch, pre->mean[ch], pre->std[ch]);
    return HESSE_OK;
}

/* x = (raw * scale - mean) / std. The automatic scale for bytes divides by 255 rather than
 * multiplying by 1/255, so that values equal torchvision's ToTensor (raw / 255) computed in
 * double, bit for bit. */
static double convert(double raw, const hesse_preprocess *pre, int bytes, int ch) {
    double v = pre->scale != 0 ? raw * pre->scale : bytes ? raw / 255.0 : raw;
    return pre->channels ? (v - pre->mean[ch]) / pre->std[ch] : v;
}

static void fill(const hesse_dataset *ds, const hesse_preprocess *pre, const int64_t *idx,
                 hesse_samples *out) {
    int64_t hw = (int64_t)ds->h * ds->w, dim = ds->c * hw;
    if (ds->bytes) {
        /* Every byte value maps to one double per channel: a table does the arithmetic once.
         * Without normalisation every channel shares row 0, so any channel count works. */
        double table[HESSE_MAX_CHANNELS][256];
        const int rows = pre->channels ? ds->c : 1;
        for (int ch = 0; ch < rows; ch++)
            for (int v = 0; v < 256; v++) table[ch][v] = convert(v, pre, !ds->tokens, ch);
        for (int64_t i = 0; i < out->n; i++) {
            const uint8_t *src = ds->bytes + idx[i] * dim;
            double *dst = out->x + i * dim;
            for (int ch = 0; ch < ds->c; ch++) {
                const double *t = table[rows > 1 ? ch : 0];
                for (int64_t p = 0; p < hw; p++) dst[ch * hw + p] = t[src[ch * hw + p]];
            }
        }
    } else {
        for (int64_t i = 0; i < out->n; i++) {
            const double *src = ds->values + idx[i] * dim;
            double *dst = out->x + i * dim;
            for (int ch = 0; ch < ds->c; ch++)
                for (int64_t p = 0; p < hw; p++)
                    dst[ch * hw + p] = convert(src[ch * hw + p], pre, 0, ch);
        }
    }
    const int P = hesse_data_targets(ds);
    for (int64_t i = 0; i < out->n; i++) {
        if (P == 1)
            out->y[i] = ds->labels[idx[i]];
        else
            memcpy(out->y + i * P, ds->labels + idx[i] * P, (size_t)P * sizeof *out->y);
        out->source[i] = idx[i];
    }
}

int hesse_dataset_select(const hesse_dataset *ds, const hesse_selection *sel,
                         const hesse_preprocess *pre, hesse_samples *out) {
    int rc = HESSE_OK;
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_dataset_select: out is NULL");
    memset(out, 0, sizeof *out);
    if (!ds) return hesse_error(HESSE_EINVAL, "hesse_dataset_select: no dataset");
    hesse_selection s = sel ? *sel : hesse_selection_defaults();
    hesse_preprocess p = pre ? *pre : hesse_preprocess_defaults();
    if (s.mode != HESSE_SELECT_FIRST && s.mode != HESSE_SELECT_BALANCED &&
        s.mode != HESSE_SELECT_RANDOM)
        return hesse_error(HESSE_EINVAL, "%s: unknown selection mode %d", ds->name, (int)s.mode);
    int64_t n = s.n <= 0 ? ds->n : s.n;
    if (n > ds->n)
        return hesse_error(HESSE_EINVAL, "%s: cannot select %lld samples, the split has %lld",
                           ds->name, (long long)n, (long long)ds->n);
    if ((rc = check_preprocess(ds, &p)) != HESSE_OK) return rc;

    HESSE_CHECK(hesse_samples_alloc_targets(n, ds->c, ds->h, ds->w, ds->num_classes,
                                            hesse_data_targets(ds), out));
    int64_t *idx = out->source; /* the indices are chosen in place, then filled in */
    /* sequences have no class per sample: balanced is first there (hesse_select_mode) */
    const int balanced_first = s.mode == HESSE_SELECT_BALANCED && hesse_data_targets(ds) > 1;
    if (s.n <= 0 || s.mode == HESSE_SELECT_FIRST || balanced_first) {
        for (int64_t i = 0; i < n; i++) idx[i] = i;
    } else if (s.mode == HESSE_SELECT_BALANCED) {
        HESSE_CHECK(pick_balanced(ds, n, idx));
    } else {
        HESSE_CHECK(pick_random(ds, n, s.seed, idx));
    }
    fill(ds, &p, idx, out);
    return HESSE_OK;
cleanup:
    hesse_samples_free(out);
    return rc;
}

/* ---- Parsing "m1,m2,..." -------------------------------------------------------------------- */

static int parse_list(const char *text, const char *option, const char *what, double *vals,
                      int *count) {
    *count = 0;
    const char *p = text;
    for (;;) {
        if (*count == HESSE_MAX_CHANNELS)
            return hesse_error(HESSE_EINVAL, "%s: more than %d %s values in \"%s\"", option,
                               HESSE_MAX_CHANNELS, what, text);
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        while (end != p && (*end == ' ' || *end == '\t')) end++;
        if (end != p && (*end == ',' || *end == '\0') && errno == ERANGE)
            return hesse_error(HESSE_EINVAL,
                               "%s: %s value \"%.*s\" is too %s for double precision (magnitudes "
                               "from %g to %g)",
                               option, what, (int)(end - p), p, fabs(v) < 1.0 ? "small" : "large",
                               DBL_MIN, DBL_MAX);
        if (end == p || (*end != ',' && *end != '\0') || errno == ERANGE || !isfinite(v))
            return hesse_error(HESSE_EINVAL,
                               "%s: %s \"%s\" is not a comma-separated list of numbers", option,
                               what, text);
        vals[(*count)++] = v;
        if (*end == '\0') return HESSE_OK;
        p = end + 1;
    }
}

int hesse_preprocess_parse(const char *mean, const char *std, const char *option,
                           hesse_preprocess *pre) {
    if (!pre) return hesse_error(HESSE_EINVAL, "hesse_preprocess_parse: pre is NULL");
    *pre = hesse_preprocess_defaults();
    if (!option) option = "normalisation";
    if (!mean || !std)
        return hesse_error(HESSE_EINVAL, "%s: needs both a mean and a std list", option);
    int nm = 0, ns = 0, rc;
    hesse_preprocess p = hesse_preprocess_defaults();
    if ((rc = parse_list(mean, option, "mean", p.mean, &nm)) != HESSE_OK) return rc;
    if ((rc = parse_list(std, option, "std", p.std, &ns)) != HESSE_OK) return rc;
    if (nm != ns)
        return hesse_error(HESSE_EINVAL, "%s: %d mean value(s) but %d std value(s)", option, nm,
                           ns);
    for (int i = 0; i < ns; i++)
        if (!(p.std[i] > 0))
            return hesse_error(HESSE_EINVAL, "%s: std %g of channel %d is not positive", option,
                               p.std[i], i);
    p.channels = nm;
    *pre = p;
    return HESSE_OK;
}
