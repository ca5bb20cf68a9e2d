/* Backward passes with given output gradients, and the Kronecker factors of layer Hessians
 * (E[x x^T] of each layer's input, E[M] of the loss Hessian in its output). */
#include "nn/engine-impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int hesse_backward_with(hesse_engine *e, const hesse_samples *s, hesse_logit_grad_fn fn, void *ctx,
                        double *grad) {
    if (!e || !fn || !grad) return hesse_error(HESSE_EINVAL, "hesse_backward_with: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t dim = hesse_samples_dim(s);
    memset(grad, 0, (size_t)e->m->n * sizeof *grad);
    for (int64_t c0 = 0; c0 < s->n; c0 += e->chunk) {
        int B = (int)(s->n - c0 < e->chunk ? s->n - c0 : e->chunk);
        double sum = 0.0;
        nn_forward_chunk(e, B, s->x + c0 * dim);
        int64_t bad = nn_loss_chunk(e, B, s->y + c0, 1.0, &sum, NULL); /* fills probs */
        if (bad >= 0)
            return hesse_error(HESSE_ENUMERIC, "the loss of sample %lld is not finite",
                               (long long)(s->source ? s->source[c0 + bad] : c0 + bad));
        /* the loss gradient in g[L] is replaced by the caller's */
        fn(ctx, c0, B, e->a[e->L], e->probs, s->y + c0, e->grad[e->L]);
        e->g[e->L] = e->grad[e->L];
        nn_backward_chunk(e, B, grad);
    }
    return HESSE_OK;
}

/* 1 when every layer after l is piecewise linear in its input (so that the logits are
 * piecewise linear in layer l's output and its output Hessian is J^T A J exactly). */
static int linear_after(const hesse_model *m, int l) {
    for (int k = l + 1; k < m->num_layers; k++) {
        hesse_layer_kind kind = m->layers[k].kind;
        if (kind == HESSE_LAYER_TANH || kind == HESSE_LAYER_SIGMOID || kind == HESSE_LAYER_GELU)
            return 0;
    }
    return 1;
}

void hesse_layer_factors_free(hesse_layer_factors *f, int count) {
    if (!f) return;
    for (int i = 0; i < count; i++) {
        hesse_free(f[i].xx);
        hesse_free(f[i].M);
    }
    free(f);
}

/* Adds the rows of a [B, Cout, P] layer-output array, one row of Cout values per (sample,
 * position), each scaled by w[b] (NULL: 1), into M += X^T X. */
static void add_outer(const hesse_layer *L, int B, const double *g, const double *w, double *tmp,
                      double *M) {
    const int Co = L->out_c;
    const int64_t P = L->kind == HESSE_LAYER_CONV2D ? nn_conv_p(L) : 1, BP = B * P;
    /* tmp [Cout, B*P] (the transpose of X), rows scaled by sqrt(w) */
    if (P == 1) {
        for (int b = 0; b < B; b++)
            for (int c = 0; c < Co; c++) tmp[c * BP + b] = g[(int64_t)b * Co + c];
    } else {
        nn_bcp_to_cbp(B, Co, (int)P, g, tmp);
    }
    if (w)
        for (int c = 0; c < Co; c++)
            for (int b = 0; b < B; b++) {
                double sw = sqrt(w[b]);
                for (int64_t p = 0; p < P; p++) tmp[c * BP + b * P + p] *= sw;
            }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Co, (int)BP, 1.0, tmp, (int)BP, 1.0, M,
                Co);
}

int hesse_layer_factors_compute(hesse_engine *e, const hesse_samples *s, hesse_layer_factors **out,
                                int *count) {
    if (!e || !out || !count)
        return hesse_error(HESSE_EINVAL, "hesse_layer_factors_compute: NULL argument");
    *out = NULL;
    *count = 0;
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const hesse_model *m = e->m;
    const int C = e->C, L = e->L;
    const int64_t dim = hesse_samples_dim(s);
    int nf = 0;
    for (int l = 0; l < L; l++) nf += m->layers[l].weight_count > 0;
    hesse_layer_factors *f = calloc((size_t)nf, sizeof *f);
    double **q = calloc((size_t)nf, sizeof *q); /* CE: sum_c p_c J_c rows, [B, out size] */
    double *tmp = NULL, *qm = NULL, *pc = hesse_alloc((size_t)e->chunk * sizeof(double));
    int64_t max_tmp = 0, max_out = 0;
    if (!f || !q || !pc) {
        rc = hesse_error(HESSE_ENOMEM, "layer factors: out of memory");
        goto cleanup;
    }
    for (int l = 0, i = 0; l < L; l++) {
        const hesse_layer *Ly = &m->layers[l];
        if (!Ly->weight_count) continue;
        hesse_layer_factors *fi = &f[i];
        int conv = Ly->kind == HESSE_LAYER_CONV2D;
        fi->layer = l;
        fi->in = conv ? nn_conv_k(Ly) : Ly->in_c;
        fi->out = Ly->out_c;
        fi->positions = conv ? nn_conv_p(Ly) : 1;
        fi->M_exact = linear_after(m, l);
        fi->xx = hesse_calloc((size_t)(fi->in * fi->in), sizeof(double));
        fi->M = hesse_calloc((size_t)(fi->out * fi->out), sizeof(double));
        q[i] = hesse_alloc((size_t)e->chunk * (size_t)e->size[l + 1] * sizeof(double));
        if (!fi->xx || !fi->M || !q[i]) {
            rc = hesse_error(HESSE_ENOMEM, "layer factors: out of memory for layer %d", Ly->index);
            goto cleanup;
        }
        if (e->size[l + 1] > max_tmp) max_tmp = e->size[l + 1];
        if (fi->out > max_out) max_out = fi->out;
        i++;
    }
    tmp = hesse_alloc((size_t)e->chunk * (size_t)max_tmp * sizeof(double));
    qm = hesse_alloc((size_t)(max_out * max_out) * sizeof(double));
    if (!tmp || !qm) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    const int ce = m->loss == HESSE_LOSS_CROSS_ENTROPY;
    for (int64_t c0 = 0; c0 < s->n; c0 += e->chunk) {
        int B = (int)(s->n - c0 < e->chunk ? s->n - c0 : e->chunk);
        double sum = 0.0;
        nn_forward_chunk(e, B, s->x + c0 * dim);
        int64_t bad = nn_loss_chunk(e, B, s->y + c0, 1.0, &sum, NULL);
        if (bad >= 0) {
            rc = hesse_error(HESSE_ENUMERIC, "the loss of sample %lld is not finite",
                             (long long)(s->source ? s->source[c0 + bad] : c0 + bad));
            goto cleanup;
        }
        /* Inputs: xx += x^T x (linear) or cols cols^T (conv; patches of every position). */
        for (int i = 0; i < nf; i++) {
            const hesse_layer *Ly = &m->layers[f[i].layer];
            if (Ly->kind == HESSE_LAYER_CONV2D)
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)f[i].in,
                            (int)(B * f[i].positions), 1.0, e->cols[f[i].layer],
                            (int)(B * f[i].positions), 1.0, f[i].xx, (int)f[i].in);
            else
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)f[i].in, B, 1.0,
                            e->a[f[i].layer], (int)f[i].in, 1.0, f[i].xx, (int)f[i].in);
            memset(q[i], 0, (size_t)B * (size_t)e->size[f[i].layer + 1] * sizeof(double));
        }
        /* Outputs: one backward pass per logit c gives J_c = d f_c / d z for every layer.
         * Cross-entropy: A = diag(p) - p p^T, so M = sum_c p_c J_c^T J_c - q^T q with
         * q = sum_c p_c J_c. MSE (mean over C outputs): A = (2/C) I. */
        for (int c = 0; c < C; c++) {
            double *gz = e->grad[L];
            memset(gz, 0, (size_t)B * C * sizeof *gz);
            for (int b = 0; b < B; b++) {
                gz[(int64_t)b * C + c] = 1.0;
                pc[b] = ce ? e->probs[(int64_t)b * C + c] : 2.0 / C;
            }
            e->g[L] = gz;
            nn_backward_chunk(e, B, NULL);
            for (int i = 0; i < nf; i++) {
                const hesse_layer *Ly = &m->layers[f[i].layer];
                const double *g = e->g[f[i].layer + 1];
                add_outer(Ly, B, g, pc, tmp, f[i].M);
                if (!ce) continue;
                const int64_t sz = e->size[f[i].layer + 1];
                for (int b = 0; b < B; b++)
                    cblas_daxpy((int)sz, pc[b], g + b * sz, 1, q[i] + b * sz, 1);
            }
        }
        if (ce)
            for (int i = 0; i < nf; i++) {
                /* M -= q^T q: the same outer products, into scratch, subtracted */
                const hesse_layer *Ly = &m->layers[f[i].layer];
                const int64_t oo = f[i].out * f[i].out;
                memset(qm, 0, (size_t)oo * sizeof *qm);
                add_outer(Ly, B, q[i], NULL, tmp, qm);
                for (int64_t k = 0; k < oo; k++) f[i].M[k] -= qm[k];
            }
    }
    /* Means, and the lower triangles from the upper ones. */
    for (int i = 0; i < nf; i++) {
        double sx = 1.0 / ((double)s->n * (double)f[i].positions), sm = 1.0 / (double)s->n;
        int64_t a = f[i].in, o = f[i].out;
        for (int64_t r = 0; r < a; r++)
            for (int64_t c = r; c < a; c++) f[i].xx[c * a + r] = f[i].xx[r * a + c] *= sx;
        for (int64_t r = 0; r < o; r++)
            for (int64_t c = r; c < o; c++) f[i].M[c * o + r] = f[i].M[r * o + c] *= sm;
    }
    *out = f;
    *count = nf;
    f = NULL;
cleanup:
    for (int i = 0; q && i < nf; i++) hesse_free(q[i]);
    free(q);
    hesse_free(tmp);
    hesse_free(qm);
    hesse_free(pc);
    hesse_layer_factors_free(f, nf);
    return rc;
}
