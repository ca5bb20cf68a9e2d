/* Backward passes with given output gradients, and the Kronecker factors of layer Hessians
 * (E[x x^T] of each layer's input, E[M] of the loss Hessian in its output). */
#include "nn/layer-impl.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const hesse_samples *s;
    hesse_logit_grad_fn fn;
    void *ctx;
    int chunk;
    double *out;
} backward_job;

static void backward_job_run(hesse_engine *e, int idx, void *arg) {
    backward_job *j = arg;
    nn_work_f64 *w = nn_work64(e, idx);
    const int64_t dim = hesse_samples_dim(j->s);
    double *acc = idx == 0 ? j->out : w->c.acc;
    w->c.bad = -1;
    w->st = w->own;
    memset(acc, 0, (size_t)e->m->n * sizeof *acc);
    for (int64_t c0 = (int64_t)idx * j->chunk; c0 < j->s->n;
         c0 += (int64_t)e->nworkers * j->chunk) {
        int B = (int)(j->s->n - c0 < j->chunk ? j->s->n - c0 : j->chunk);
        double sum = 0.0;
        nn_forward_chunk_f64(e, w, B, j->s->x + c0 * dim);
        int64_t bad =
            nn_loss_chunk_f64(e, w, B, j->s->y + c0 * e->P, 1.0, &sum, NULL); /* fills probs */
        if (bad >= 0) {
            w->c.bad = c0 + bad;
            return;
        }
        /* the loss gradient in g[L] is replaced by the caller's */
        j->fn(j->ctx, c0, B, w->a[e->L], w->st.probs, j->s->y + c0 * e->P, w->st.grad[e->L]);
        w->g[e->L] = w->st.grad[e->L];
        nn_backward_chunk_f64(e, w, B, acc);
    }
}

/* The first non-finite sample over the workers, as an error; HESSE_OK when none. */
static int check_bad(hesse_engine *e, const hesse_samples *s) {
    int64_t bad = -1;
    for (int i = 0; i < e->nworkers; i++) {
        int64_t b = nn_work64(e, i)->c.bad;
        if (b >= 0 && (bad < 0 || b < bad)) bad = b;
    }
    if (!nn_any_failed(e, bad >= 0)) return HESSE_OK; /* every rank asks, failed or not */
    if (bad < 0)
        return hesse_error(HESSE_ENUMERIC, "a sample on another rank has a non-finite loss");
    return hesse_error(HESSE_ENUMERIC, "the loss of sample %lld is not finite",
                       (long long)(s->source ? s->source[bad] : bad));
}

int hesse_backward_with(hesse_engine *e, const hesse_samples *s, hesse_logit_grad_fn fn, void *ctx,
                        double *grad) {
    if (!e || !fn || !grad) return hesse_error(HESSE_EINVAL, "hesse_backward_with: NULL argument");
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    const int64_t n = e->m->n;
    if (e->prec->precision != HESSE_PRECISION_F64)
        return hesse_error(HESSE_EINVAL, "backward passes with given gradients need an engine of "
                                         "double precision");
    if (nn_ensure_acc(e, n) != HESSE_OK)
        return hesse_error(HESSE_ENOMEM, "backward: no memory for the workers");
    backward_job j = {s, fn, ctx, nn_chunk_size(e, s->n), grad};
    nn_run(e, backward_job_run, &j);
    if ((rc = check_bad(e, s)) != HESSE_OK) return rc;
    for (int i = 1; i < e->nworkers; i++)
        for (int64_t k = 0; k < n; k++) grad[k] += nn_work64(e, i)->c.acc[k];
    return nn_reduce(e, grad, n);
}

/* 1 when every layer after l is piecewise linear in its input (so that the logits are
 * piecewise linear in layer l's output and its output Hessian is J^T A J exactly): none is
 * NN_CURVED. Batch norm in evaluation mode, pooling and residual sums are linear; layer norm
 * is not. */
static int linear_after(const hesse_model *m, int l) {
    for (int k = l + 1; k < m->num_layers; k++)
        if (nn_layer_type_of(m->layers[k].kind)->flags & NN_CURVED) return 0;
    return 1;
}

const char *hesse_factor_m_name(hesse_factor_m which) {
    return which == HESSE_FACTOR_M_GGN ? "ggn" : "exact";
}

int hesse_factor_m_parse(const char *name, hesse_factor_m *which) {
    if (name && strcmp(name, "exact") == 0) {
        *which = HESSE_FACTOR_M_EXACT;
    } else if (name && strcmp(name, "ggn") == 0) {
        *which = HESSE_FACTOR_M_GGN;
    } else {
        return hesse_error(HESSE_EINVAL, "option --M: expected exact or ggn, got '%s'",
                           name ? name : "");
    }
    return HESSE_OK;
}

/* Layers with Kronecker factors: those whose row has factor hooks (linear and conv; batch and
 * layer norm's parameters have none). */
static const nn_layer_type *factor_type(const hesse_layer *L) {
    const nn_layer_type *t = nn_layer_type_of(L->kind);
    return t->factor_dims ? t : NULL;
}

void hesse_layer_factors_free(hesse_layer_factors *f, int count) {
    if (!f) return;
    for (int i = 0; i < count; i++) {
        hesse_free(f[i].xx);
        hesse_free(f[i].M);
        hesse_free(f[i].x_mean);
    }
    free(f);
}

/* 1 when layer l's output is [positions, out] per sample (NN_TOKENWISE), else [out,
 * positions]; the same for one position. */
static int token_major(const hesse_model *m, const hesse_layer_factors *f) {
    return (nn_layer_type_of(m->layers[f->layer].kind)->flags & NN_TOKENWISE) != 0;
}

/* Adds the rows of a [B, Cout, P] layer-output array (P = f->positions; [B, P, Cout] when
 * tm), one row of Cout values per (sample, position), each scaled by w[b] (NULL: 1), into
 * M += X^T X. */
static void add_outer(const hesse_layer_factors *f, int tm, int B, const double *g, const double *w,
                      double *tmp, double *M) {
    const int Co = (int)f->out;
    const int64_t P = f->positions, BP = B * P;
    /* tmp [Cout, B*P] (the transpose of X), rows scaled by sqrt(w) */
    if (P == 1) {
        for (int b = 0; b < B; b++)
            for (int c = 0; c < Co; c++) tmp[c * BP + b] = g[(int64_t)b * Co + c];
    } else if (tm) {
        for (int64_t r = 0; r < BP; r++)
            for (int c = 0; c < Co; c++) tmp[c * BP + r] = g[r * Co + c];
    } else {
        nn_bcp_to_cbp_f64(B, Co, (int)P, g, tmp);
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

/* One worker's accumulators for the factors: per layer xx, the input sums xs and M, and
 * scratch. */
typedef struct {
    double **xx, **xs, **M; /* [nf] */
    double **q;             /* CE: sum_c p_c J_c rows of the chunk, [B, out size] */
    double *tmp, *qm, *pc;
    double *zero; /* residual nets, exact M: zero R-values before the layer, [block, B, max] */
    int rc;
} factor_acc;

typedef struct {
    const hesse_samples *s;
    const hesse_layer_factors *f; /* the layers, their sizes */
    int nf, chunk;
    int64_t max_tmp, max_out;
    const char *rpass; /* [nf]: M by R-passes (exact, a curved layer after it) */
    int any_rpass, any_ggn;
    double scale; /* of one sample's loss: 1/P (cross-entropy), 1/C (MSE, mean over outputs) */
} factor_job;

static void factor_acc_free(factor_acc *a, int nf) {
    if (!a) return;
    for (int i = 0; i < nf; i++) {
        if (a->xx) hesse_free(a->xx[i]);
        if (a->xs) hesse_free(a->xs[i]);
        if (a->M) hesse_free(a->M[i]);
        if (a->q) hesse_free(a->q[i]);
    }
    free(a->xx);
    free(a->xs);
    free(a->M);
    free(a->q);
    hesse_free(a->tmp);
    hesse_free(a->qm);
    hesse_free(a->pc);
    hesse_free(a->zero);
    free(a);
}

static factor_acc *factor_acc_alloc(const hesse_engine *e, const factor_job *j) {
    factor_acc *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    const int nf = j->nf;
    a->xx = calloc((size_t)nf, sizeof *a->xx);
    a->xs = calloc((size_t)nf, sizeof *a->xs);
    a->M = calloc((size_t)nf, sizeof *a->M);
    a->q = calloc((size_t)nf, sizeof *a->q);
    a->tmp = hesse_alloc((size_t)j->chunk * (size_t)j->max_tmp * sizeof(double));
    a->qm = hesse_alloc((size_t)(j->max_out * j->max_out) * sizeof(double));
    a->pc = hesse_alloc((size_t)j->chunk * sizeof(double));
    int ok = a->xx && a->xs && a->M && a->q && a->tmp && a->qm && a->pc;
    if (ok && e->residual && j->any_rpass) {
        nn_scratch sc;
        nn_scratch_size(e, e->max_block, &sc);
        a->zero = hesse_calloc((size_t)e->max_block * (size_t)j->chunk * (size_t)sc.max_size,
                               sizeof(double));
        ok = a->zero != NULL;
    }
    for (int i = 0; ok && i < nf; i++) {
        a->xx[i] = hesse_calloc((size_t)(j->f[i].in * j->f[i].in), sizeof(double));
        a->xs[i] = hesse_calloc((size_t)j->f[i].in, sizeof(double));
        a->M[i] = hesse_calloc((size_t)(j->f[i].out * j->f[i].out), sizeof(double));
        a->q[i] =
            hesse_alloc((size_t)j->chunk * (size_t)e->size[j->f[i].layer + 1] * sizeof(double));
        ok = a->xx[i] && a->xs[i] && a->M[i] && a->q[i];
    }
    if (!ok) {
        factor_acc_free(a, nf);
        return NULL;
    }
    return a;
}

/* The exact M of one layer over the chunk, by R-passes: for blocks of k output directions
 * e_(c,p) (value c*P + p of the layer's [Cout, P] output; p*Cout + c of a token-major
 * [P, Cout] one), the output Hessian's columns, of which M keeps the rows at the same
 * position p: M[c', c] += sum_b sum_p d^2 l_b / dz_{c',p} dz_{c,p}. Needs the chunk's forward
 * and backward state in place. */
static void rpass_M_chunk(hesse_engine *e, nn_work_f64 *w, const factor_acc *a, int B,
                          const hesse_layer_factors *f, double scale, double *M) {
    const int l = f->layer, Co = (int)f->out, kb = e->max_block, tm = token_major(e->m, f);
    const int64_t P = f->positions, S = e->size[l + 1];
    const int64_t sc = tm ? 1 : P, sp = tm ? Co : 1; /* strides of channel and position */
    double *Ra = w->ract[l + 1]; /* layer l's own R-output: nothing after l writes it */
    memset(Ra, 0, (size_t)((int64_t)kb * B * S) * sizeof *Ra);
    for (int64_t d0 = 0; d0 < S; d0 += kb) {
        const int k = (int)(S - d0 < kb ? S - d0 : kb);
        for (int j = 0; j < k; j++)
            for (int b = 0; b < B; b++) Ra[((int64_t)j * B + b) * S + d0 + j] = 1.0;
        w->ra[l + 1] = Ra;
        for (int t = 0; a->zero && t <= l; t++) w->ra[t] = a->zero; /* a block's input */
        const double *Rg = nn_output_hessian_chunk_f64(e, w, B, k, l, scale);
        for (int j = 0; j < k; j++) {
            const int64_t u = d0 + j, c = tm ? u % Co : u / P, p = tm ? u / Co : u % P;
            for (int b = 0; b < B; b++) {
                const double *r = Rg + ((int64_t)j * B + b) * S + p * sp;
                for (int o = 0; o < Co; o++) M[o * Co + c] += r[o * sc];
            }
        }
        for (int j = 0; j < k; j++)
            for (int b = 0; b < B; b++) Ra[((int64_t)j * B + b) * S + d0 + j] = 0.0;
    }
}

/* M -= w q^T q for the layers not done by R-passes, and q = 0: the outer products of q into
 * scratch, subtracted. */
static void ggn_M_subtract_q(const hesse_engine *e, factor_acc *a, const factor_job *j, int B,
                             double w) {
    const hesse_layer_factors *f = j->f;
    for (int i = 0; i < j->nf; i++) {
        if (j->rpass[i]) continue;
        const int64_t oo = f[i].out * f[i].out;
        memset(a->qm, 0, (size_t)oo * sizeof *a->qm);
        add_outer(&f[i], token_major(e->m, &f[i]), B, a->q[i], NULL, a->tmp, a->qm);
        for (int64_t k = 0; k < oo; k++) a->M[i][k] -= w * a->qm[k];
        memset(a->q[i], 0, (size_t)B * (size_t)e->size[f[i].layer + 1] * sizeof(double));
    }
}

/* The Gauss-Newton M of the layers not done by R-passes: one backward pass per logit c gives
 * J_c = d f_c / d z for every layer. Cross-entropy over P positions of V classes (a sample's
 * loss the mean over them): A = (1/P) blockdiag_t (diag(p_t) - p_t p_t^T), so M = (1/P) sum_t
 * (sum_c p_c J_c^T J_c - q_t^T q_t) with q_t = sum_{c at t} p_c J_c. MSE (mean over C outputs):
 * A = (2/C) I. */
static void ggn_M_chunk(hesse_engine *e, nn_work_f64 *w, factor_acc *a, const factor_job *j,
                        int B) {
    const int C = e->C, V = e->V, L = e->L, nf = j->nf;
    const int ce = e->m->loss == HESSE_LOSS_CROSS_ENTROPY;
    const double inv_p = 1.0 / e->P; /* exactly 1 for a classifier */
    const hesse_layer_factors *f = j->f;
    for (int c = 0; c < C; c++) {
        double *gz = w->st.grad[L];
        memset(gz, 0, (size_t)B * C * sizeof *gz);
        for (int b = 0; b < B; b++) {
            gz[(int64_t)b * C + c] = 1.0;
            a->pc[b] = ce ? w->st.probs[(int64_t)b * C + c] * inv_p : 2.0 / C;
        }
        w->g[L] = gz;
        nn_backward_chunk_f64(e, w, B, NULL);
        for (int i = 0; i < nf; i++) {
            if (j->rpass[i]) continue;
            const double *g = w->g[f[i].layer + 1];
            add_outer(&f[i], token_major(e->m, &f[i]), B, g, a->pc, a->tmp, a->M[i]);
            if (!ce) continue;
            const int64_t sz = e->size[f[i].layer + 1];
            for (int b = 0; b < B; b++) /* q_t: the unscaled p_c */
                cblas_daxpy((int)sz, w->st.probs[(int64_t)b * C + c], g + b * sz, 1,
                            a->q[i] + b * sz, 1);
        }
        if (ce && c % V == V - 1) ggn_M_subtract_q(e, a, j, B, inv_p); /* position t done */
    }
}

static void factor_job_run(hesse_engine *e, int idx, void *arg) {
    factor_job *j = arg;
    nn_work_f64 *w = nn_work64(e, idx);
    factor_acc *a = w->extra;
    const hesse_model *m = e->m;
    const int nf = j->nf;
    const int64_t dim = hesse_samples_dim(j->s);
    const hesse_layer_factors *f = j->f;
    w->c.bad = -1;
    w->st = w->own;
    for (int64_t c0 = (int64_t)idx * j->chunk; c0 < j->s->n;
         c0 += (int64_t)e->nworkers * j->chunk) {
        int B = (int)(j->s->n - c0 < j->chunk ? j->s->n - c0 : j->chunk);
        double sum = 0.0;
        nn_forward_chunk_f64(e, w, B, j->s->x + c0 * dim);
        int64_t bad = nn_loss_chunk_f64(e, w, B, j->s->y + c0 * e->P, j->scale, &sum, NULL);
        if (bad >= 0) {
            w->c.bad = c0 + bad;
            return;
        }
        /* Inputs: xx += x^T x (linear) or cols cols^T (conv; patches of every position). */
        for (int i = 0; i < nf; i++) {
            factor_type(&m->layers[f[i].layer])->factor_xx(w, B, &f[i], a->xx[i], a->xs[i]);
            memset(a->q[i], 0, (size_t)B * (size_t)e->size[f[i].layer + 1] * sizeof(double));
        }
        /* Outputs: the loss's own backward pass, then R-passes, for the exact M behind curved
         * layers; C backward passes with unit logit gradients for the Gauss-Newton M. */
        if (j->any_rpass) {
            nn_backward_chunk_f64(e, w, B, NULL);
            for (int i = 0; i < nf; i++)
                if (j->rpass[i]) rpass_M_chunk(e, w, a, B, &f[i], j->scale, a->M[i]);
        }
        if (j->any_ggn) ggn_M_chunk(e, w, a, j, B);
    }
}

/* Sums the workers' accumulators of factor i into f (worker order), over the ranks too, and
 * takes the means; the lower triangles are filled from the upper ones. */
static int reduce_factor(hesse_engine *e, const hesse_samples *s, int i, hesse_layer_factors *f) {
    factor_acc *a0 = nn_work64(e, 0)->extra;
    f->xx = a0->xx[i];
    f->M = a0->M[i];
    f->x_mean = a0->xs[i];
    a0->xx[i] = a0->M[i] = a0->xs[i] = NULL;
    const int64_t ia = f->in, o = f->out;
    for (int t = 1; t < e->nworkers; t++) {
        factor_acc *at = nn_work64(e, t)->extra;
        for (int64_t k = 0; k < ia * ia; k++) f->xx[k] += at->xx[i][k];
        for (int64_t k = 0; k < ia; k++) f->x_mean[k] += at->xs[i][k];
        for (int64_t k = 0; k < o * o; k++) f->M[k] += at->M[i][k];
    }
    int rc;
    if ((rc = nn_reduce(e, f->xx, ia * ia)) != HESSE_OK) return rc;
    if ((rc = nn_reduce(e, f->x_mean, ia)) != HESSE_OK) return rc;
    if ((rc = nn_reduce(e, f->M, o * o)) != HESSE_OK) return rc;
    const double total = (double)hesse_samples_total(s);
    double sx = 1.0 / (total * (double)f->positions), sm = 1.0 / total;
    for (int64_t r = 0; r < ia; r++)
        for (int64_t c = r; c < ia; c++) f->xx[c * ia + r] = f->xx[r * ia + c] *= sx;
    for (int64_t k = 0; k < ia; k++) f->x_mean[k] *= sx;
    for (int64_t r = 0; r < o; r++)
        for (int64_t c = r; c < o; c++) f->M[c * o + r] = f->M[r * o + c] *= sm;
    return HESSE_OK;
}

int64_t hesse_layer_factors_rpasses(const hesse_engine *e, hesse_factor_m which) {
    int64_t count = 0;
    for (int l = 0; e && which == HESSE_FACTOR_M_EXACT && l < e->L; l++)
        if (factor_type(&e->m->layers[l]) && !linear_after(e->m, l)) count += e->size[l + 1];
    return count;
}

/* The factor layers' sizes and which M each gets, into f and j (rpass, allocated). */
static int plan_factors(const hesse_engine *e, hesse_factor_m which, hesse_layer_factors *f,
                        factor_job *j) {
    const hesse_model *m = e->m;
    char *rpass = calloc(j->nf ? (size_t)j->nf : 1, 1);
    if (!rpass) return hesse_error(HESSE_ENOMEM, "layer factors: out of memory");
    for (int l = 0, i = 0; l < e->L; l++) {
        const nn_layer_type *t = factor_type(&m->layers[l]);
        if (!t) continue;
        f[i].layer = l;
        t->factor_dims(&m->layers[l], &f[i]);
        f[i].M_kind = which;
        /* piecewise linear after l: J^T A J is the exact M, and the cheaper route */
        rpass[i] = which == HESSE_FACTOR_M_EXACT && !linear_after(m, l);
        f[i].M_exact = which == HESSE_FACTOR_M_EXACT || linear_after(m, l);
        j->any_rpass |= rpass[i];
        j->any_ggn |= !rpass[i];
        if (e->size[l + 1] > j->max_tmp) j->max_tmp = e->size[l + 1];
        if (f[i].out > j->max_out) j->max_out = f[i].out;
        i++;
    }
    j->rpass = rpass;
    return HESSE_OK;
}

int hesse_layer_factors_compute(hesse_engine *e, const hesse_samples *s, hesse_factor_m which,
                                hesse_layer_factors **out, int *count) {
    if (!e || !out || !count)
        return hesse_error(HESSE_EINVAL, "hesse_layer_factors_compute: NULL argument");
    *out = NULL;
    *count = 0;
    if (which != HESSE_FACTOR_M_EXACT && which != HESSE_FACTOR_M_GGN)
        return hesse_error(HESSE_EINVAL, "layer factors: unknown M %d", (int)which);
    int rc = nn_check_samples(e, s);
    if (rc != HESSE_OK) return rc;
    if (e->prec->precision != HESSE_PRECISION_F64)
        return hesse_error(HESSE_EINVAL, "layer factors need an engine of double precision");
    int nf = 0;
    for (int l = 0; l < e->L; l++) nf += factor_type(&e->m->layers[l]) != NULL;
    hesse_layer_factors *f = calloc(nf ? (size_t)nf : 1, sizeof *f);
    factor_job j = {s, f, nf, nn_chunk_size(e, s->n), 0, 0, NULL, 0, 0, nn_loss_scale(e, 1)};
    if (!f) return hesse_error(HESSE_ENOMEM, "layer factors: out of memory");
    if ((rc = plan_factors(e, which, f, &j)) != HESSE_OK) goto cleanup;
    for (int i = 0; i < e->nworkers; i++) {
        nn_work64(e, i)->extra = factor_acc_alloc(e, &j);
        if (!nn_work64(e, i)->extra) {
            rc = hesse_error(HESSE_ENOMEM, "layer factors: out of memory for worker %d", i);
            goto cleanup;
        }
    }
    nn_run(e, factor_job_run, &j);
    if ((rc = check_bad(e, s)) != HESSE_OK) goto cleanup;
    for (int i = 0; i < nf; i++)
        if ((rc = reduce_factor(e, s, i, &f[i])) != HESSE_OK) goto cleanup;
    *out = f;
    *count = nf;
    f = NULL;
cleanup:
    for (int i = 0; i < e->nworkers; i++) {
        factor_acc_free(nn_work64(e, i)->extra, nf);
        nn_work64(e, i)->extra = NULL;
    }
    free((void *)j.rpass);
    hesse_layer_factors_free(f, nf);
    return rc;
}
