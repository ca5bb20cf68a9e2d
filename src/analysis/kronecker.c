/* The Kronecker decoupling of layer Hessians (Wu et al., "Dissecting Hessian", 2020):
 * eigen-decomposed factors, the top eigenpairs of their Kronecker product, and rank-one
 * ratios of eigenvectors reshaped to weight matrices. */
#include <hesse/analysis.h>

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void hesse_kron_layer_free(hesse_kron_layer *kl) {
    if (!kl) return;
    hesse_free(kl->M_values);
    hesse_free(kl->xx_values);
    hesse_free(kl->M_vectors);
    hesse_free(kl->xx_vectors);
    memset(kl, 0, sizeof *kl);
}

/* Eigenpairs of a symmetric d x d matrix, descending. */
static int eig_desc(int64_t d, const double *A, double **values, double **vectors) {
    double *w = hesse_alloc((size_t)d * sizeof *w), *V = hesse_alloc((size_t)(d * d) * sizeof *V);
    double *wv = hesse_alloc((size_t)d * sizeof *wv),
           *VV = hesse_alloc((size_t)(d * d) * sizeof *V);
    int rc = w && V && wv && VV ? hesse_eigh(d, A, wv, VV) : HESSE_ENOMEM;
    if (rc == HESSE_OK)
        for (int64_t j = 0; j < d; j++) {
            w[j] = wv[d - 1 - j];
            memcpy(V + j * d, VV + (d - 1 - j) * d, (size_t)d * sizeof *V);
        }
    hesse_free(wv);
    hesse_free(VV);
    if (rc != HESSE_OK) {
        hesse_free(w);
        hesse_free(V);
        return rc;
    }
    *values = w;
    *vectors = V;
    return HESSE_OK;
}

/* sqrt(sum x_i^2) without overflow or underflow: scaled by the running largest |x_i| (the
 * LAPACK dnrm2 recurrence). */
static double norm2(int64_t count, const double *x) {
    double scale = 0.0, ssq = 1.0;
    for (int64_t i = 0; i < count; i++) {
        const double a = fabs(x[i]);
        if (a == 0.0) continue;
        if (scale < a) {
            ssq = 1.0 + ssq * (scale / a) * (scale / a);
            scale = a;
        } else {
            ssq += (a / scale) * (a / scale);
        }
    }
    return scale * sqrt(ssq);
}

hesse_mean_dominance hesse_mean_dominance_of(int64_t in, const double *m, const double *S,
                                             double lambda1, const double *u1) {
    hesse_mean_dominance d = {NAN, NAN, NAN, NAN};
    if (!m || !S || in < 1) return d;
    d.norm = norm2(in, m);
    if (!(d.norm > 0.0)) return d;
    const double sq = d.norm * d.norm, fro = norm2(in * in, S);
    d.ratio_fro = sq / fro;
    d.ratio_2 = sq / lambda1;
    double dot = 0.0;
    for (int64_t i = 0; u1 && i < in; i++) dot += u1[i] * m[i];
    d.overlap = u1 ? fabs(dot) / d.norm : NAN;
    return d;
}

int hesse_kron_layer_from_factors(const hesse_layer_factors *f, hesse_kron_layer *out) {
    if (!f || !out) return hesse_error(HESSE_EINVAL, "Kronecker layer: NULL argument");
    memset(out, 0, sizeof *out);
    out->layer = f->layer;
    out->out = f->out;
    out->in = f->in;
    out->M_exact = f->M_exact;
    out->M_kind = f->M_kind;
    int rc = eig_desc(f->out, f->M, &out->M_values, &out->M_vectors);
    if (rc == HESSE_OK) rc = eig_desc(f->in, f->xx, &out->xx_values, &out->xx_vectors);
    if (rc != HESSE_OK) {
        hesse_kron_layer_free(out);
        return rc;
    }
    out->mean =
        hesse_mean_dominance_of(f->in, f->x_mean, f->xx, out->xx_values[0], out->xx_vectors);
    return HESSE_OK;
}

typedef struct {
    double v;
    int a, b;
} kron_pair;

static int pair_desc(const void *x, const void *y) {
    const kron_pair *p = x, *q = y;
    if (p->v != q->v) return p->v < q->v ? 1 : -1;
    if (p->a != q->a) return p->a - q->a;
    return p->b - q->b;
}

int hesse_kron_top(const hesse_kron_layer *kl, int k, double *values, double *vectors) {
    if (!kl || !values || k < 1) return hesse_error(HESSE_EINVAL, "Kronecker top: bad arguments");
    const int64_t o = kl->out, in = kl->in, all = o * in;
    if (k > all)
        return hesse_error(HESSE_EINVAL, "Kronecker top: %d of %lld eigenvalues", k,
                           (long long)all);
    kron_pair *p = malloc((size_t)all * sizeof *p);
    if (!p) return hesse_error(HESSE_ENOMEM, "Kronecker top: out of memory");
    for (int64_t a = 0, t = 0; a < o; a++)
        for (int64_t b = 0; b < in; b++, t++)
            p[t] = (kron_pair){kl->M_values[a] * kl->xx_values[b], (int)a, (int)b};
    qsort(p, (size_t)all, sizeof *p, pair_desc);
    for (int j = 0; j < k; j++) {
        values[j] = p[j].v;
        if (!vectors) continue;
        /* (u_a (x) w_b)[o * in + i] = u_a[o] w_b[i] */
        const double *u = kl->M_vectors + (int64_t)p[j].a * o,
                     *w = kl->xx_vectors + (int64_t)p[j].b * in;
        double *v = vectors + (int64_t)j * all;
        for (int64_t r = 0; r < o; r++)
            for (int64_t c = 0; c < in; c++) v[r * in + c] = u[r] * w[c];
    }
    free(p);
    return HESSE_OK;
}

double hesse_rank_one_ratio(const double *v, int64_t rows, int64_t cols) {
    int64_t mn = rows < cols ? rows : cols;
    double *A = malloc((size_t)(rows * cols) * sizeof *A), *s = malloc((size_t)mn * sizeof *s);
    double result = NAN;
    if (A && s) {
        memcpy(A, v, (size_t)(rows * cols) * sizeof *A);
        /* the row-major rows x cols matrix is the column-major cols x rows transpose: same
         * singular values */
        lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)cols, (lapack_int)rows,
                                         A, (lapack_int)cols, s, NULL, 1, NULL, 1);
        double total = 0;
        for (int64_t i = 0; info == 0 && i < mn; i++) total += s[i] * s[i];
        if (info == 0 && total > 0) result = s[0] * s[0] / total;
    }
    free(A);
    free(s);
    return result;
}
