/* Block heterogeneity (Zhang, Chen, Ding, Li, Sun, Luo, "Why Transformers Need Adam: A Hessian
 * Perspective", NeurIPS 2024): per parameter block, the SLQ density of the diagonal Hessian block,
 * its top eigenvalues and trace; the blocks' densities rescaled by their 10th largest eigenvalue
 * and compared by the Jensen-Shannon distance; JS0, the mean over the pairs. The exact
 * definition, and what is done where the paper is silent, is in docs/analyses.md. */
#include <hesse/analysis.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Blocks ------------------------------------------------------------------------------- */

int hesse_block_group_parse(const char *name, hesse_block_group *g) {
    static const char *const names[] = {"tensor", "layer", "qkv"};
    for (int i = 0; name && g && i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *g = (hesse_block_group)i;
            return HESSE_OK;
        }
    return hesse_error(HESSE_EINVAL, "option --group: expected tensor, layer or qkv, got '%s'",
                       name ? name : "(null)");
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* 1 when t is a fused attention projection whose rows split into Q, K and V: "*in_proj_weight"
 * [3D, D] or "*in_proj_bias" [3D] (PyTorch nn.MultiheadAttention's names and layout). */
static int is_fused_qkv(const hesse_tensor_info *t) {
    if (ends_with(t->name, "in_proj_weight"))
        return t->ndim == 2 && t->shape[1] > 0 && t->shape[0] == 3 * t->shape[1];
    if (ends_with(t->name, "in_proj_bias")) return t->ndim == 1 && t->shape[0] % 3 == 0;
    return 0;
}

static void block_of_tensor(hesse_param_block *b, const hesse_tensor_info *t, int index,
                            int slice) {
    memset(b, 0, sizeof *b);
    b->first_tensor = index;
    b->ntensors = 1;
    b->slice = slice;
    b->nranges = 1;
    b->count = slice < 0 ? t->count : t->count / 3;
    b->offset[0] = t->offset + (slice < 0 ? 0 : slice * b->count);
    b->length[0] = b->count;
    if (slice < 0)
        snprintf(b->name, sizeof b->name, "%s", t->name);
    else
        snprintf(b->name, sizeof b->name, "%s.%c", t->name, "qkv"[slice]);
}

/* Adds tensor t to the layer block b (a new range unless it continues the last one). */
static int add_to_layer(hesse_param_block *b, const hesse_tensor_info *t) {
    int r = b->nranges - 1;
    b->ntensors++;
    b->count += t->count;
    if (b->offset[r] + b->length[r] == t->offset) {
        b->length[r] += t->count;
        return HESSE_OK;
    }
    if (b->nranges == HESSE_BLOCK_MAX_RANGES)
        return hesse_error(HESSE_EINVAL, "layer block %s: more than %d separate ranges", b->name,
                           HESSE_BLOCK_MAX_RANGES);
    b->offset[b->nranges] = t->offset;
    b->length[b->nranges++] = t->count;
    return HESSE_OK;
}

int hesse_param_blocks_of(const hesse_tensor_info *tensors, int nt, const char *const *layer_names,
                          hesse_block_group g, hesse_param_block **blocks, int *count) {
    if (!tensors || nt < 1 || !blocks || !count || (g == HESSE_GROUP_LAYER && !layer_names))
        return hesse_error(HESSE_EINVAL, "hesse_param_blocks: NULL argument or no tensors");
    *blocks = NULL;
    *count = 0;
    int n = 0, rc = HESSE_OK;
    hesse_param_block *b = hesse_alloc((size_t)(3 * nt) * sizeof *b);
    if (!b) return hesse_error(HESSE_ENOMEM, "hesse_param_blocks: out of memory");
    for (int i = 0; i < nt && rc == HESSE_OK; i++) {
        const hesse_tensor_info *t = &tensors[i];
        if (g == HESSE_GROUP_LAYER && n > 0 && tensors[b[n - 1].first_tensor].layer == t->layer) {
            rc = add_to_layer(&b[n - 1], t);
        } else if (g == HESSE_GROUP_QKV && is_fused_qkv(t)) {
            for (int s = 0; s < 3; s++) block_of_tensor(&b[n++], t, i, s);
        } else {
            block_of_tensor(&b[n], t, i, -1);
            if (g == HESSE_GROUP_LAYER)
                snprintf(b[n].name, sizeof b[n].name, "%s", layer_names[t->layer]);
            n++;
        }
    }
    if (rc != HESSE_OK) {
        hesse_free(b);
        return rc;
    }
    *blocks = b;
    *count = n;
    return HESSE_OK;
}

int hesse_param_blocks(const hesse_model *m, hesse_block_group g, hesse_param_block **blocks,
                       int *count) {
    if (!m) return hesse_error(HESSE_EINVAL, "hesse_param_blocks: NULL model");
    int nt = hesse_model_num_tensors(m), nl = hesse_model_num_layers(m);
    hesse_tensor_info *t = hesse_alloc((size_t)(nt > 0 ? nt : 1) * sizeof *t);
    const char **names = hesse_alloc((size_t)(nl > 0 ? nl : 1) * sizeof *names);
    int rc = t && names ? HESSE_OK : hesse_error(HESSE_ENOMEM, "hesse_param_blocks: out of memory");
    for (int i = 0; rc == HESSE_OK && i < nt; i++) t[i] = *hesse_model_tensor(m, i);
    for (int i = 0; rc == HESSE_OK && i < nl; i++) names[i] = hesse_model_layer(m, i)->name;
    if (rc == HESSE_OK) rc = hesse_param_blocks_of(t, nt, names, g, blocks, count);
    hesse_free(t);
    hesse_free(names);
    return rc;
}

/* ---- Jensen-Shannon distance and the rescaled densities ------------------------------------ */

/* sum of x, or NAN when a value is negative or not finite. */
static double mass(int64_t n, const double *x) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(x[i] >= 0) || !isfinite(x[i])) return NAN;
        s += x[i];
    }
    return s;
}

double hesse_js_distance(int64_t n, const double *p, const double *q) {
    if (n <= 0 || !p || !q) return NAN;
    double sp = mass(n, p), sq = mass(n, q);
    if (!(sp > 0) || !(sq > 0)) return NAN;
    double js = 0;
    for (int64_t i = 0; i < n; i++) {
        double a = p[i] / sp, b = q[i] / sq, m = 0.5 * (a + b);
        /* terms below DBL_MIN add under 1e-305 and could meet an m rounded to 0 */
        if (a >= DBL_MIN) js += 0.5 * a * (log(a) - log(m));
        if (b >= DBL_MIN) js += 0.5 * b * (log(b) - log(m));
    }
    return sqrt(js > 0 ? js : 0); /* rounding may leave -1e-17 for identical inputs */
}

int hesse_density_rescaled(const hesse_density *d, double scale, int points, const double *grid,
                           double sigma, double *out) {
    if (!d || !d->nodes || !d->weights || !d->nsteps || d->probes < 1 || !grid || !out ||
        points < 2 || !(scale > 0) || !(sigma > 0))
        return hesse_error(HESSE_EINVAL, "hesse_density_rescaled: no quadrature or bad arguments");
    memset(out, 0, (size_t)points * sizeof *out);
    const double c = 1.0 / (2.50662827463100050242 * sigma * d->probes), h = grid[1] - grid[0];
    for (int r = 0; r < d->probes; r++)
        for (int j = 0; j < d->nsteps[r]; j++) {
            double x = d->nodes[(int64_t)r * d->steps + j] / scale;
            double w = d->weights[(int64_t)r * d->steps + j] * c;
            /* only grid points within 40 sigma: exp(-800) underflows to 0 anyway */
            int i0 = (int)floor((x - 40 * sigma - grid[0]) / h),
                i1 = (int)ceil((x + 40 * sigma - grid[0]) / h);
            if (i0 < 0) i0 = 0;
            if (i1 > points - 1) i1 = points - 1;
            for (int i = i0; i <= i1; i++) {
                double z = (grid[i] - x) / sigma;
                out[i] += w * exp(-0.5 * z * z);
            }
        }
    double area = 0;
    for (int i = 0; i + 1 < points; i++)
        area += 0.5 * (out[i] + out[i + 1]) * (grid[i + 1] - grid[i]);
    if (!(area > 0) || !isfinite(area))
        return hesse_error(HESSE_EINVAL, "hesse_density_rescaled: the density misses the grid");
    for (int i = 0; i < points; i++) out[i] /= area;
    return HESSE_OK;
}

/* ---- One block ------------------------------------------------------------------------------ */

hesse_blocks_params hesse_blocks_defaults(void) {
    hesse_blocks_params p = {0};
    p.probes = 10;
    p.steps = 80;
    p.rank = 10;
    p.points = 4000;
    p.sigma = 0.002;
    p.margin = 0.05;
    p.trace_samples = 99;
    p.tol = 1e-8;
    p.dense_below = 64;
    return p;
}

/* The top min(rank, n) eigenvalues: dense for small blocks, thick-restart Lanczos otherwise. */
static int block_top(const hesse_op *op, const hesse_blocks_params *p, hesse_eigs *top) {
    int k = p->rank < op->n ? p->rank : (int)op->n;
    if (op->n <= p->dense_below) {
        hesse_dense_params dp = hesse_dense_defaults();
        dp.top = k;
        dp.want_vectors = 0;
        return hesse_dense_eigs(op, &dp, top);
    }
    hesse_lanczos_params lp = hesse_lanczos_defaults();
    lp.top = k;
    lp.tol = p->tol;
    lp.seed = p->seed;
    return hesse_lanczos_eigs(op, &lp, top);
}

static int block_trace(const hesse_op *op, const hesse_blocks_params *p, hesse_block_result *r) {
    hesse_trace_params tp = hesse_trace_defaults();
    tp.seed = p->seed;
    tp.samples = p->trace_samples;
    r->trace_exact = op->n <= p->trace_samples;
    return r->trace_exact ? hesse_trace_exact(op, &tp, &r->trace)
                          : hesse_trace_hutchpp(op, &tp, &r->trace);
}

/* Density, top eigenvalues and trace of one diagonal block; whether it enters the JS matrix. */
static int block_measure(const hesse_op *full, const hesse_param_block *def,
                         const hesse_blocks_params *p, hesse_block_result *r) {
    double t0 = hesse_now();
    hesse_op op = {0};
    r->def = *def;
    r->lambda_ref = NAN;
    int rc = hesse_op_restrict(full, def->nranges, def->offset, def->length, &op);
    if (rc != HESSE_OK) return rc;
    hesse_slq_params sp = hesse_slq_defaults();
    sp.probes = p->probes;
    sp.steps = p->steps < op.n ? p->steps : (int)op.n;
    sp.seed = p->seed;
    HESSE_CHECK(hesse_slq_density(&op, &sp, &r->density));
    HESSE_CHECK(block_top(&op, p, &r->top));
    HESSE_CHECK(block_trace(&op, p, r));
    r->products = r->density.products + r->top.products + r->trace.products;
    if (op.n < p->rank) {
        r->excluded = "fewer parameters than the normalising rank";
    } else {
        /* below tol x |lambda_max| it is zero to the solver's accuracy (the output bias of a
         * softmax classifier has an exact 0 there), and no scale */
        r->lambda_ref = r->top.values[p->rank - 1];
        if (!(r->lambda_ref > p->tol * fabs(r->top.values[0])))
            r->excluded = "normalising eigenvalue not positive (at most tol x |lambda_max|)";
    }
    r->included = r->excluded == NULL;
cleanup:
    hesse_op_free(&op);
    r->seconds = hesse_now() - t0;
    return rc;
}

/* ---- The JS matrix -------------------------------------------------------------------------- */

/* The common grid: every included block's rescaled Ritz nodes, widened by margin each side. */
static void common_range(const hesse_blocks *b, double margin, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < b->count; i++) {
        const hesse_block_result *r = &b->blocks[i];
        if (!r->included) continue;
        for (int k = 0; k < r->density.probes; k++)
            for (int j = 0; j < r->density.nsteps[k]; j++) {
                double x = r->density.nodes[(int64_t)k * r->density.steps + j] / r->lambda_ref;
                if (x < *lo) *lo = x;
                if (x > *hi) *hi = x;
            }
    }
    double w = *hi - *lo;
    if (!(w > 0)) w = fabs(*hi) > 0 ? fabs(*hi) : 1;
    *lo -= margin * w;
    *hi += margin * w;
}

static int js_matrix(hesse_blocks *b, const hesse_blocks_params *p) {
    int n = b->count, inc = 0;
    for (int i = 0; i < n * n; i++) b->js[i] = NAN;
    for (int i = 0; i < n; i++) inc += b->blocks[i].included;
    b->js0 = NAN;
    if (inc < 2) return HESSE_OK;
    common_range(b, p->margin, &b->lo, &b->hi);
    b->sigma = p->sigma * (b->hi - b->lo);
    if (p->width > 0) { /* one width in units of lambda_k for all blocks, spacing width / 5 */
        b->sigma = p->width;
        b->points = (int)fmin(HESSE_BLOCKS_MAX_POINTS, ceil((b->hi - b->lo) / (p->width / 5)) + 1);
    }
    b->grid = hesse_alloc((size_t)b->points * sizeof(double));
    if (!b->grid) return hesse_error(HESSE_ENOMEM, "hesse_blocks_compute: out of memory");
    for (int g = 0; g < b->points; g++) b->grid[g] = b->lo + (b->hi - b->lo) * g / (b->points - 1);
    for (int i = 0; i < n; i++) {
        hesse_block_result *r = &b->blocks[i];
        if (!r->included) continue;
        r->rescaled = hesse_alloc((size_t)b->points * sizeof(double));
        if (!r->rescaled) return hesse_error(HESSE_ENOMEM, "hesse_blocks_compute: out of memory");
        int rc = hesse_density_rescaled(&r->density, r->lambda_ref, b->points, b->grid, b->sigma,
                                        r->rescaled);
        if (rc != HESSE_OK) return rc;
    }
    double sum = 0;
    for (int i = 0; i < n; i++) {
        if (!b->blocks[i].included) continue;
        b->js[i * n + i] = 0;
        for (int j = i + 1; j < n; j++) {
            if (!b->blocks[j].included) continue;
            double d = hesse_js_distance(b->points, b->blocks[i].rescaled, b->blocks[j].rescaled);
            b->js[i * n + j] = b->js[j * n + i] = d;
            sum += d;
            b->pairs++;
        }
    }
    b->js0 = sum / b->pairs;
    return HESSE_OK;
}

static int check_args(const hesse_op *full, const hesse_param_block *blocks, int count,
                      const hesse_blocks_params *p) {
    if (!full || !blocks || count < 1 || !p)
        return hesse_error(HESSE_EINVAL, "hesse_blocks_compute: NULL argument or no blocks");
    if (p->probes < 1 || p->steps < 2 || p->rank < 1 || p->points < 2 || !(p->sigma > 0) ||
        !(p->width >= 0) || !(p->margin >= 0) || p->trace_samples < 4)
        return hesse_error(HESSE_EINVAL, "hesse_blocks_compute: bad parameters");
    for (int i = 0; i < count; i++)
        for (int k = 0; k < blocks[i].nranges; k++)
            if (blocks[i].offset[k] < 0 || blocks[i].length[k] < 1 ||
                blocks[i].offset[k] + blocks[i].length[k] > full->n)
                return hesse_error(HESSE_EINVAL, "block %s: coordinates outside [0, %lld)",
                                   blocks[i].name, (long long)full->n);
    return HESSE_OK;
}

/* A block whose largest eigenvalue is at most tol x the largest block's is zero to the solver's
 * accuracy (attention's key bias: the softmax ignores it, and its products are rounding): its
 * lambda_k is noise, not a scale, and it is left out of the comparison. */
static void exclude_zero_blocks(hesse_blocks *b, double tol) {
    double scale = 0;
    for (int i = 0; i < b->count; i++)
        if (b->blocks[i].top.ntop > 0) scale = fmax(scale, fabs(b->blocks[i].top.values[0]));
    for (int i = 0; i < b->count; i++) {
        hesse_block_result *r = &b->blocks[i];
        if (!r->included || !(fabs(r->top.values[0]) <= tol * scale)) continue;
        r->excluded = "a zero block to the solver's accuracy (|lambda_max| at most tol x the "
                      "largest block's)";
        r->included = 0;
    }
}

int hesse_blocks_compute(const hesse_op *full, const hesse_param_block *blocks, int count,
                         const hesse_blocks_params *p, hesse_blocks *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "hesse_blocks_compute: NULL output");
    memset(out, 0, sizeof *out);
    int rc = check_args(full, blocks, count, p);
    if (rc != HESSE_OK) return rc;
    double t0 = hesse_now();
    out->count = count;
    out->rank = p->rank;
    out->points = p->points;
    out->blocks = calloc((size_t)count, sizeof *out->blocks);
    out->js = hesse_alloc((size_t)count * (size_t)count * sizeof(double));
    if (!out->blocks || !out->js) {
        rc = hesse_error(HESSE_ENOMEM, "hesse_blocks_compute: out of memory");
        goto cleanup;
    }
    for (int i = 0; i < count; i++) {
        if (p->monitor) p->monitor(p->monitor_ctx, i, count, &blocks[i]);
        HESSE_CHECK(block_measure(full, &blocks[i], p, &out->blocks[i]));
        out->products += out->blocks[i].products;
    }
    exclude_zero_blocks(out, p->tol);
    HESSE_CHECK(js_matrix(out, p));
    out->seconds = hesse_now() - t0;
cleanup:
    if (rc != HESSE_OK) hesse_blocks_free(out);
    return rc;
}

void hesse_blocks_free(hesse_blocks *b) {
    if (!b) return;
    for (int i = 0; b->blocks && i < b->count; i++) {
        hesse_density_free(&b->blocks[i].density);
        hesse_eigs_free(&b->blocks[i].top);
        hesse_free(b->blocks[i].rescaled);
    }
    free(b->blocks);
    hesse_free(b->grid);
    hesse_free(b->js);
    memset(b, 0, sizeof *b);
}
