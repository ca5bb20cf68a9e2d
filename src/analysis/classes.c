/* The class-mean decomposition of the Gauss-Newton matrix (Papyan, "Measurements of
 * three-level hierarchical structure in the outliers in the spectrum of deepnet Hessians",
 * ICML 2019): class means of the weighted per-sample gradients, their Gram spectra, and
 * G_means as an operator. */
#include <hesse/analysis.h>

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int C, label; /* c' */
    hesse_loss_kind loss;
} delta_ctx;

/* g_i = sqrt(p_{i,c'}) (e_c' - p_i) for cross-entropy, sqrt(2/C) e_c' for MSE: the
 * factor of the loss Hessian A_i = sum_c' g g^T that defines delta_{i,c'} = J_i^T g_i. */
static void delta_grad(void *ctx, int64_t i0, int B, const double *z, const double *p,
                       const int32_t *y, double *gz) {
    (void)i0;
    (void)z;
    (void)y;
    const delta_ctx *d = ctx;
    const int C = d->C, c1 = d->label;
    for (int b = 0; b < B; b++) {
        const double *pb = p + (int64_t)b * C;
        double *g = gz + (int64_t)b * C;
        if (d->loss == HESSE_LOSS_MSE) {
            for (int c = 0; c < C; c++) g[c] = c == c1 ? sqrt(2.0 / C) : 0.0;
        } else {
            double w = sqrt(pb[c1]);
            for (int c = 0; c < C; c++) g[c] = w * ((c == c1) - pb[c]);
        }
    }
}

/* Logit gradients of zero: a pass that adds nothing to the sum (see join_pass). */
static void zero_grad(void *ctx, int64_t i0, int B, const double *z, const double *p,
                      const int32_t *y, double *gz) {
    (void)i0;
    (void)z;
    (void)p;
    (void)y;
    memset(gz, 0, (size_t)B * sizeof(double) * (size_t)((const delta_ctx *)ctx)->C);
}

void hesse_class_means_free(hesse_class_means *cm) {
    if (!cm) return;
    free(cm->counts);
    free(cm->pi);
    hesse_free(cm->delta);
    memset(cm, 0, sizeof *cm);
}

/* When s is one rank's shard of a distributed run (total > n), the engine sums every pass over
 * the ranks, but a rank may hold no sample of some class, and the engine takes no empty sample
 * set. Such a rank still joins every pass of that class, with one of its own samples whose
 * logit gradients are zero (they add nothing to the sum). The class sizes are summed over the
 * ranks with the engine's reduction (nothing to do in a serial run). */
static int count_classes(hesse_engine *e, const hesse_samples *s, int C, int64_t *counts) {
    double *cnt = calloc((size_t)C, sizeof *cnt);
    if (!cnt) return hesse_error(HESSE_ENOMEM, "class means: out of memory");
    for (int64_t i = 0; i < s->n; i++) cnt[s->y[i]] += 1.0;
    int rc = hesse_engine_reduce(e, cnt, C);
    for (int c = 0; rc == HESSE_OK && c < C; c++) counts[c] = llround(cnt[c]);
    free(cnt);
    return rc;
}

int hesse_class_means_supported(const hesse_model *m, const char *what) {
    const int P = hesse_model_positions(m);
    if (P == 1) return HESSE_OK;
    return hesse_error(HESSE_EINVAL,
                       "%s: the model's output is a sequence (%d positions of %d classes); the "
                       "class structure this measures needs one class per sample",
                       what, P, hesse_model_classes(m));
}

int hesse_class_means_compute(hesse_engine *e, const hesse_samples *s, hesse_class_means *out) {
    if (!e || !s || !out) return hesse_error(HESSE_EINVAL, "class means: NULL argument");
    memset(out, 0, sizeof *out);
    const hesse_model *m = hesse_engine_model(e);
    int rc = hesse_class_means_supported(m, "class means");
    if (rc != HESSE_OK) return rc;
    const int C = hesse_model_num_outputs(m);
    const int64_t n = hesse_model_num_params(m);
    const int64_t N = hesse_samples_total(s);
    if (C < 2)
        return hesse_error(HESSE_EINVAL,
                           "class means: the model has %d output; the decomposition into class "
                           "means needs at least 2 classes",
                           C);
    hesse_samples sub = {0};
    int64_t *idx = NULL;
    const double t0 = hesse_now();
    out->C = C;
    out->n = n;
    out->counts = calloc((size_t)C, sizeof *out->counts);
    out->pi = calloc((size_t)C, sizeof *out->pi);
    out->delta = hesse_calloc((size_t)n * (size_t)C * (size_t)C, sizeof(double));
    idx = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *idx);
    if (!out->counts || !out->pi || !out->delta || !idx) {
        rc = hesse_error(HESSE_ENOMEM, "class means: cannot hold %d x %d means of %lld parameters",
                         C, C, (long long)n);
        goto cleanup;
    }
    if (s->n <= 0 || !s->y) {
        rc = hesse_error(HESSE_EINVAL, "class means: no samples given");
        goto cleanup;
    }
    for (int64_t i = 0; i < s->n; i++)
        if (s->y[i] < 0 || s->y[i] >= C) {
            rc = hesse_error(HESSE_EINPUT, "sample %lld has label %d; the model has %d outputs",
                             (long long)i, (int)s->y[i], C);
            goto cleanup;
        }
    HESSE_CHECK(count_classes(e, s, C, out->counts));
    for (int c = 0; c < C; c++) {
        int64_t nc = 0; /* on this rank */
        for (int64_t i = 0; i < s->n; i++)
            if (s->y[i] == c) idx[nc++] = i;
        out->pi[c] = (double)out->counts[c] / (double)N;
        /* A class absent everywhere contributes nothing (pi_c = 0); every rank agrees. */
        if (out->counts[c] == 0) continue;
        const int64_t stand_in = 0;
        HESSE_CHECK(hesse_samples_alloc(nc > 0 ? nc : 1, s->c, s->h, s->w, s->num_classes, &sub));
        hesse_samples_gather(s, nc > 0 ? idx : &stand_in, nc > 0 ? nc : 1, &sub);
        for (int c1 = 0; c1 < C; c1++) {
            delta_ctx d = {C, c1, hesse_model_loss(m)};
            double *col = out->delta + (int64_t)(c * C + c1) * n;
            HESSE_CHECK(hesse_backward_with(e, &sub, nc > 0 ? delta_grad : zero_grad, &d, col));
            cblas_dscal((int)n, 1.0 / (double)out->counts[c], col, 1);
            out->passes++;
        }
        hesse_samples_free(&sub);
        hesse_progress pr = {"class means", c + 1, C, hesse_now() - t0, "", 0};
        hesse_report_progress(&pr);
    }
    /* the last line also when the last class had no samples */
    hesse_progress done = {"class means", C, C, hesse_now() - t0, "", 1};
    hesse_report_progress(&done);
cleanup:
    hesse_samples_free(&sub);
    free(idx);
    if (rc != HESSE_OK) hesse_class_means_free(out);
    return rc;
}

/* The columns of a part: their indices c * C + c' into delta, and their weights sqrt(pi_c). */
static int part_columns(const hesse_class_means *cm, hesse_means_part part, int *cols, double *w) {
    int k = 0;
    for (int c = 0; c < cm->C; c++)
        for (int c1 = 0; c1 < cm->C; c1++) {
            if ((part == HESSE_MEANS_CLASS && c1 != c) || (part == HESSE_MEANS_CROSS && c1 == c))
                continue;
            cols[k] = c * cm->C + c1;
            w[k++] = sqrt(cm->pi[c]);
        }
    return k;
}

/* S = [sqrt(pi_c) delta_{c,c'}] for the part, n x k. */
static double *stack_part(const hesse_class_means *cm, hesse_means_part part, int *k) {
    const int C2 = cm->C * cm->C;
    int *cols = malloc((size_t)C2 * sizeof *cols);
    double *w = malloc((size_t)C2 * sizeof *w), *S = NULL;
    if (cols && w) {
        *k = part_columns(cm, part, cols, w);
        S = hesse_alloc((size_t)cm->n * (size_t)(*k) * sizeof *S);
        for (int j = 0; S && j < *k; j++)
            for (int64_t i = 0; i < cm->n; i++)
                S[(int64_t)j * cm->n + i] = w[j] * cm->delta[(int64_t)cols[j] * cm->n + i];
    }
    free(cols);
    free(w);
    if (!S) hesse_error(HESSE_ENOMEM, "class means: out of memory");
    return S;
}

int hesse_class_spectrum(const hesse_class_means *cm, hesse_means_part part, double **values,
                         int *count, int k, double *basis) {
    if (!cm || !values || !count) return hesse_error(HESSE_EINVAL, "class spectrum: NULL argument");
    *values = NULL;
    *count = 0;
    int m = 0, rc = HESSE_OK;
    double *S = stack_part(cm, part, &m), *gram = NULL, *w = NULL, *U = NULL;
    if (!S) return HESSE_ENOMEM;
    if (k > m) {
        rc = hesse_error(HESSE_EINVAL, "class spectrum: %d basis vectors from %d means", k, m);
        goto cleanup;
    }
    gram = hesse_alloc((size_t)m * m * sizeof *gram);
    w = hesse_alloc((size_t)m * sizeof *w);
    U = hesse_alloc((size_t)m * m * sizeof *U);
    if (!gram || !w || !U) {
        rc = hesse_error(HESSE_ENOMEM, "class spectrum: out of memory");
        goto cleanup;
    }
    /* The nonzero eigenvalues of S S^T (n x n) are those of S^T S (m x m). */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, m, (int)cm->n, 1.0, S, (int)cm->n, S,
                (int)cm->n, 0.0, gram, m);
    HESSE_CHECK(hesse_eigh(m, gram, w, U));
    for (int i = 0; i < m / 2; i++) { /* descending */
        double t = w[i];
        w[i] = w[m - 1 - i];
        w[m - 1 - i] = t;
    }
    for (int j = 0; basis && j < k; j++) {
        /* eigenvector j (descending) of S S^T: S u / sqrt(lambda) */
        const double *u = U + (int64_t)(m - 1 - j) * m;
        double *b = basis + (int64_t)j * cm->n;
        cblas_dgemv(CblasColMajor, CblasNoTrans, (int)cm->n, m, 1.0, S, (int)cm->n, u, 1, 0.0, b,
                    1);
        double nrm = cblas_dnrm2((int)cm->n, b, 1);
        if (nrm > 0) cblas_dscal((int)cm->n, 1.0 / nrm, b, 1);
    }
    *values = w;
    *count = m;
    w = NULL;
cleanup:
    hesse_free(S);
    hesse_free(gram);
    hesse_free(U);
    hesse_free(w);
    return rc;
}

typedef struct {
    double *S; /* n x k */
    int64_t n;
    int k;
    double *t; /* k x block scratch */
    int cap;
} means_op;

static void means_op_free(void *p) {
    means_op *o = p;
    if (!o) return;
    hesse_free(o->S);
    hesse_free(o->t);
    free(o);
}

static int means_apply(void *ctx, int kk, const double *X, double *Y) {
    means_op *o = ctx;
    if (kk > o->cap) {
        hesse_free(o->t);
        o->t = hesse_alloc((size_t)o->k * (size_t)kk * sizeof(double));
        o->cap = o->t ? kk : 0;
        if (!o->t) return HESSE_ENOMEM;
    }
    /* Y = S (S^T X) */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, o->k, kk, (int)o->n, 1.0, o->S, (int)o->n,
                X, (int)o->n, 0.0, o->t, o->k);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)o->n, kk, o->k, 1.0, o->S,
                (int)o->n, o->t, o->k, 0.0, Y, (int)o->n);
    return HESSE_OK;
}

int hesse_op_class_means(const hesse_class_means *cm, hesse_means_part part, hesse_op *out) {
    if (!cm || !out) return hesse_error(HESSE_EINVAL, "class means operator: NULL argument");
    means_op *o = calloc(1, sizeof *o);
    if (!o) return hesse_error(HESSE_ENOMEM, "out of memory");
    o->n = cm->n;
    o->S = stack_part(cm, part, &o->k);
    if (!o->S) {
        free(o);
        return HESSE_ENOMEM;
    }
    *out = (hesse_op){cm->n, means_apply, o, 0, means_op_free, 0};
    return HESSE_OK;
}

/* ---- The two-way structure of the means ------------------------------------------------------ */

/* ||x||^2 accumulated in long double: the shares are differences of sums of up to C^2 n
 * squares. */
static long double sumsq(int64_t n, const double *x) {
    long double s = 0;
    for (int64_t i = 0; i < n; i++) s += (long double)x[i] * x[i];
    return s;
}

/* The grand mean mu, the row means m_c = (1/C) sum_c' delta_{c,c'} and the pi-weighted column
 * means k_c' = sum_c pi_c delta_{c,c'} (n each). */
static void twoway_means(const hesse_class_means *cm, double *mu, double *row, double *col) {
    const int C = cm->C;
    const int64_t n = cm->n;
    memset(mu, 0, (size_t)n * sizeof *mu);
    memset(row, 0, (size_t)n * C * sizeof *row);
    memset(col, 0, (size_t)n * C * sizeof *col);
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = cm->delta + (int64_t)(c * C + c1) * n;
            cblas_daxpy((int)n, 1.0 / C, d, 1, row + (int64_t)c * n, 1);
            cblas_daxpy((int)n, cm->pi[c], d, 1, col + (int64_t)c1 * n, 1);
        }
    for (int c = 0; c < C; c++) cblas_daxpy((int)n, cm->pi[c], row + (int64_t)c * n, 1, mu, 1);
}

/* Papyan's split of G_cross (his code's G_1 and G_2): delta_c = mean over c' != c of
 * delta_{c,c'}; G_1 = sum_c pi_c (C - 1) delta_c delta_c^T, G_2 = sum_c pi_c sum_{c' != c}
 * (delta_{c,c'} - delta_c)(...)^T. w is n scratch. */
static void papyan_split(const hesse_class_means *cm, double *w, hesse_means_twoway *out) {
    const int C = cm->C;
    const int64_t n = cm->n;
    long double g1 = 0, g2 = 0, gc = 0;
    for (int c = 0; c < C; c++) {
        if (cm->pi[c] == 0) continue;
        memset(w, 0, (size_t)n * sizeof *w);
        for (int c1 = 0; c1 < C; c1++)
            if (c1 != c)
                cblas_daxpy((int)n, 1.0 / (C - 1), cm->delta + (int64_t)(c * C + c1) * n, 1, w, 1);
        g1 += (long double)cm->pi[c] * (C - 1) * sumsq(n, w);
        gc += cm->pi[c] * sumsq(n, cm->delta + (int64_t)(c * C + c) * n);
        for (int c1 = 0; c1 < C; c1++) {
            if (c1 == c) continue;
            const double *d = cm->delta + (int64_t)(c * C + c1) * n;
            long double s = 0;
            for (int64_t i = 0; i < n; i++) s += (long double)(d[i] - w[i]) * (d[i] - w[i]);
            g2 += cm->pi[c] * s;
        }
    }
    out->class_terms = (double)gc;
    out->cross_class_means = (double)g1;
    out->cross_deviations = (double)g2;
}

int hesse_class_means_twoway(const hesse_class_means *cm, hesse_means_twoway *out) {
    if (!cm || !out || !cm->delta || !cm->pi)
        return hesse_error(HESSE_EINVAL, "two-way split: NULL argument");
    memset(out, 0, sizeof *out);
    const int C = cm->C;
    const int64_t n = cm->n;
    double *mu = hesse_alloc((size_t)n * sizeof *mu);
    double *row = hesse_alloc((size_t)n * C * sizeof *row);
    double *col = hesse_alloc((size_t)n * C * sizeof *col);
    if (!mu || !row || !col) {
        hesse_free(mu);
        hesse_free(row);
        hesse_free(col);
        return hesse_error(HESSE_ENOMEM,
                           "two-way split: cannot hold %d x 2 + 1 means of %lld "
                           "parameters",
                           C, (long long)n);
    }
    twoway_means(cm, mu, row, col);
    long double total = 0, rows = 0, cols = 0, inter = 0;
    for (int c = 0; c < C; c++) {
        const double *m = row + (int64_t)c * n;
        long double a = 0; /* ||m_c - mu||^2 */
        for (int64_t i = 0; i < n; i++) a += (long double)(m[i] - mu[i]) * (m[i] - mu[i]);
        rows += cm->pi[c] * a;
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = cm->delta + (int64_t)(c * C + c1) * n, *k = col + (int64_t)c1 * n;
            long double r = 0;
            for (int64_t i = 0; i < n; i++) {
                const double e = d[i] - m[i] - k[i] + mu[i];
                r += (long double)e * e;
            }
            inter += cm->pi[c] * r;
            total += cm->pi[c] * sumsq(n, d);
        }
    }
    for (int c1 = 0; c1 < C; c1++) {
        const double *k = col + (int64_t)c1 * n;
        for (int64_t i = 0; i < n; i++) cols += (long double)(k[i] - mu[i]) * (k[i] - mu[i]);
    }
    out->total = (double)total;
    out->grand_mean = (double)(C * sumsq(n, mu));
    out->class_effect = (double)(C * rows);
    out->label_effect = (double)cols;
    out->interaction = (double)inter;
    papyan_split(cm, mu, out); /* mu is no longer needed: scratch */
    hesse_free(mu);
    hesse_free(row);
    hesse_free(col);
    return HESSE_OK;
}

int hesse_class_density(const hesse_class_means *cm, hesse_means_part part,
                        const hesse_slq_params *p, hesse_density *out) {
    if (!cm || !p || !out) return hesse_error(HESSE_EINVAL, "class density: NULL argument");
    double *vals = NULL;
    int m = 0;
    int rc = hesse_class_spectrum(cm, part, &vals, &m, 0, NULL);
    if (rc != HESSE_OK) return rc;
    double *v = hesse_alloc((size_t)(m + 1) * sizeof *v),
           *w = hesse_alloc((size_t)(m + 1) * sizeof *w);
    if (!v || !w) {
        rc = hesse_error(HESSE_ENOMEM, "class density: out of memory");
        goto cleanup;
    }
    /* the m Gram eigenvalues at 1/n each, and the zero eigenvalue of multiplicity n - m */
    for (int j = 0; j < m; j++) {
        v[j] = vals[j];
        w[j] = 1.0 / (double)cm->n;
    }
    v[m] = 0.0;
    w[m] = (double)(cm->n - m) / (double)cm->n;
    rc = hesse_density_points(cm->n > m ? m + 1 : m, v, w, p, out);
cleanup:
    hesse_free(vals);
    hesse_free(v);
    hesse_free(w);
    return rc;
}
