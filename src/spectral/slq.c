/* Stochastic Lanczos quadrature for the spectral density (Lin, Saad, Yang, "Approximating
 * spectral densities of large matrices", SIAM Review 58(1), 2016, sec. 3.2; Papyan 2018;
 * Ghorbani, Krishnan, Xiao 2019).
 *
 * For a unit probe z, m Lanczos steps give T_m = U diag(theta) U^T and
 *   z^T f(A) z ~= sum_j u_j[0]^2 f(theta_j)            (Gauss quadrature, exact to degree 2m-1)
 * so each probe yields nodes theta_j and weights u_j[0]^2 summing to 1; with E[z z^T] = I/n
 * their average over probes estimates (1/n) sum_i delta(lambda - lambda_i). The density on the
 * grid is that average convolved with a Gaussian of width sigma, normalised by the trapezoid
 * rule.
 *
 * Probes are advanced together in blocks: step j of every probe in a block is one block
 * product. Probe r draws from the stream (seed, r + 1) whatever the block size, so results do
 * not depend on it (up to the operator's own block arithmetic).
 *
 * A run is a state (the support, the quadratures of finished probes, and the current block's
 * Lanczos vectors and coefficients) advanced one step at a time; after any step it can be
 * checkpointed and later resumed to the same bits. */
#include "spectral-impl.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

hesse_slq_params hesse_slq_defaults(void) {
    hesse_slq_params p;
    memset(&p, 0, sizeof p);
    p.probes = 10;
    p.steps = 80;
    p.reorth = 1;
    p.probe = HESSE_PROBE_RADEMACHER;
    p.support_steps = 30;
    p.margin = 0.05;
    p.sigma = 0.005;
    p.points = 1000;
    p.eps = 1e-8;
    return p;
}

/* The state of a run. The current block holds probes r0 .. r0 + gg - 1, of which steps
 * 0 .. j-1 are done. */
typedef struct {
    int n, m, probes, g, reorth;
    hesse_probe_kind probe;
    uint64_t seed;
    double lo, hi;
    int r0, j;
    int64_t products;
    double seconds, seconds_products;
    /* the current block */
    double *basis;        /* g bases of (reorth ? m : 2) columns each */
    double *alpha, *beta; /* g x m */
    int *done;            /* per probe: steps taken once finished, 0 while running */
    double *scale;        /* per probe: max |alpha|, ||A v|| */
    /* scratch */
    double *X, *Y, *h, *h2;
} slq_state;

static int block_size(const slq_state *st) {
    return st->probes - st->r0 < st->g ? st->probes - st->r0 : st->g;
}

static double *probe_col(const slq_state *st, int q, int j) {
    int cols = st->reorth ? st->m : 2;
    int c = st->reorth ? j : j % 2;
    return st->basis + ((size_t)q * cols + c) * (size_t)st->n;
}

static int slq_alloc(slq_state *st, hesse_density *out) {
    size_t n = (size_t)st->n, m = (size_t)st->m, g = (size_t)st->g;
    size_t cols = st->reorth ? m : 2;
    st->basis = hesse_calloc(n * cols * g, sizeof(double)); /* written whole to checkpoints */
    st->X = hesse_alloc(sizeof(double) * n * g);
    st->Y = hesse_alloc(sizeof(double) * n * g);
    st->h = hesse_alloc(sizeof(double) * (m + 1));
    st->h2 = hesse_alloc(sizeof(double) * (m + 1));
    st->alpha = hesse_calloc(m * g, sizeof(double));
    st->beta = hesse_calloc(m * g, sizeof(double));
    st->done = hesse_calloc(g, sizeof(int));
    st->scale = hesse_calloc(g, sizeof(double));
    out->nodes = hesse_calloc((size_t)st->probes * m, sizeof(double));
    out->weights = hesse_calloc((size_t)st->probes * m, sizeof(double));
    out->nsteps = hesse_calloc((size_t)st->probes, sizeof(int));
    out->probes = st->probes;
    out->steps = st->m;
    if (!st->basis || !st->X || !st->Y || !st->h || !st->h2 || !st->alpha || !st->beta ||
        !st->done || !st->scale || !out->nodes || !out->weights || !out->nsteps) {
        hesse_error(HESSE_ENOMEM, "SLQ: cannot allocate %d probe bases of n = %d", st->g, st->n);
        return HESSE_ENOMEM; /* spelled out: the static analyzer cannot see hesse_error's value */
    }
    return HESSE_OK;
}

static void slq_free(slq_state *st) {
    hesse_free(st->basis);
    hesse_free(st->X);
    hesse_free(st->Y);
    hesse_free(st->h);
    hesse_free(st->h2);
    hesse_free(st->alpha);
    hesse_free(st->beta);
    hesse_free(st->done);
    hesse_free(st->scale);
}

/* Draws the block's probe vectors (step 0). */
static void slq_start_block(slq_state *st) {
    for (int q = 0; q < block_size(st); q++) {
        hesse_rng rng;
        hesse_rng_seed_stream(&rng, st->seed, (uint64_t)(st->r0 + q) + 1);
        double *v = probe_col(st, q, 0);
        hesse_sp_fill(&rng, st->probe, st->n, v);
        cblas_dscal(st->n, 1.0 / cblas_dnrm2(st->n, v, 1), v, 1);
        st->done[q] = 0;
        st->scale[q] = 0.0;
    }
}

/* Lanczos step j of every running probe of the block: one block product. Returns 0 in
 * *running when every probe of the block has finished. */
static int slq_step(const hesse_op *op, slq_state *st, hesse_op_stats *ops, int *running) {
    int n = st->n, m = st->m, j = st->j, gg = block_size(st);
    int k = 0, list[256]; /* g <= 256 */
    for (int q = 0; q < gg; q++)
        if (!st->done[q]) {
            memcpy(st->X + (size_t)k * n, probe_col(st, q, j), sizeof(double) * (size_t)n);
            list[k++] = q;
        }
    *running = k;
    if (k == 0) return HESSE_OK;
    int rc = hesse_op_apply(op, k, st->X, st->Y, ops);
    if (rc != HESSE_OK) return rc;
    for (int t = 0; t < k; t++) {
        int q = list[t];
        double *w = st->Y + (size_t)t * n, *v = probe_col(st, q, j);
        double *al = st->alpha + (size_t)q * m, *be = st->beta + (size_t)q * m;
        st->scale[q] = fmax(st->scale[q], cblas_dnrm2(n, w, 1));
        double a = cblas_ddot(n, v, 1, w, 1);
        cblas_daxpy(n, -a, v, 1, w, 1);
        if (j > 0) cblas_daxpy(n, -be[j - 1], probe_col(st, q, j - 1), 1, w, 1);
        double nrm;
        if (st->reorth) {
            nrm = hesse_sp_orth(n, j + 1, probe_col(st, q, 0), w, st->h, st->h2);
            a += st->h[j];
        } else {
            nrm = cblas_dnrm2(n, w, 1);
        }
        al[j] = a;
        be[j] = nrm;
        st->scale[q] = fmax(st->scale[q], fabs(a));
        if (j + 1 == m) {
            st->done[q] = m;
        } else if (nrm <= 1e-12 * st->scale[q]) {
            st->done[q] = j + 1; /* invariant subspace: the quadrature is exact */
        } else {
            double *vn = probe_col(st, q, j + 1);
            for (int i = 0; i < n; i++) vn[i] = w[i] / nrm;
        }
    }
    return HESSE_OK;
}

/* Gauss quadrature of every probe of the finished block into out. */
static int slq_finish_block(slq_state *st, hesse_density *out, double *theta, double *U) {
    int m = st->m;
    for (int q = 0; q < block_size(st); q++) {
        int ms = st->done[q], r = st->r0 + q;
        int rc =
            hesse_sp_tridiag_eig(ms, st->alpha + (size_t)q * m, st->beta + (size_t)q * m, theta, U);
        if (rc != HESSE_OK) return rc;
        out->nsteps[r] = ms;
        for (int j = 0; j < ms; j++) {
            double u0 = U[(size_t)j * ms]; /* first component of eigenvector j */
            out->nodes[(size_t)r * m + j] = theta[j];
            out->weights[(size_t)r * m + j] = u0 * u0;
        }
    }
    return HESSE_OK;
}

/* ---- Checkpoints --------------------------------------------------------------------------
 *   header  magic "HESSESLQ", version, byte order; n, m, probes, g, reorth, probe, seed, lo,
 *           hi, r0, j, products, seconds, seconds_products
 *   done    out->nsteps[probes], out->nodes and out->weights [probes * m]
 *   block   done[g], scale[g], alpha[g * m], beta[g * m], then for each probe of the block
 *           the basis columns the next steps read (reorth: 0 .. j; otherwise both). */
#define SLQ_MAGIC   "HESSESLQ"
#define SLQ_VERSION 1u

static void slq_write(hesse_sp_writer *w, const slq_state *st, const hesse_density *out) {
    size_t pm = (size_t)st->probes * (size_t)st->m, gm = (size_t)st->g * (size_t)st->m;
    hesse_sp_put_magic(w, SLQ_MAGIC, SLQ_VERSION);
    hesse_sp_put_i32(w, st->n);
    hesse_sp_put_i32(w, st->m);
    hesse_sp_put_i32(w, st->probes);
    hesse_sp_put_i32(w, st->g);
    hesse_sp_put_i32(w, st->reorth);
    hesse_sp_put_i32(w, (int32_t)st->probe);
    hesse_sp_put_u64(w, st->seed);
    hesse_sp_put_f64(w, st->lo);
    hesse_sp_put_f64(w, st->hi);
    hesse_sp_put_i32(w, st->r0);
    hesse_sp_put_i32(w, st->j);
    hesse_sp_put_i64(w, st->products);
    hesse_sp_put_f64(w, st->seconds);
    hesse_sp_put_f64(w, st->seconds_products);
    hesse_sp_put(w, w->p ? out->nsteps : NULL, sizeof(int) * (size_t)st->probes);
    hesse_sp_put_doubles(w, out->nodes, pm);
    hesse_sp_put_doubles(w, out->weights, pm);
    hesse_sp_put(w, w->p ? st->done : NULL, sizeof(int) * (size_t)st->g);
    hesse_sp_put_doubles(w, st->scale, (size_t)st->g);
    hesse_sp_put_doubles(w, st->alpha, gm);
    hesse_sp_put_doubles(w, st->beta, gm);
    int cols = st->reorth ? (st->j + 1 < st->m ? st->j + 1 : st->m) : 2;
    for (int q = 0; q < st->g; q++)
        hesse_sp_put_doubles(w, w->p ? probe_col(st, q, 0) : NULL, (size_t)cols * (size_t)st->n);
}

static int slq_checkpoint(const slq_state *st, const hesse_density *out,
                          const hesse_slq_params *p) {
    hesse_sp_writer w = {NULL, 0};
    slq_write(&w, st, out);
    size_t size = w.used;
    w.p = hesse_alloc(size);
    if (!w.p) return HESSE_ENOMEM;
    w.used = 0;
    slq_write(&w, st, out);
    hesse_blob_part part = {w.p, size};
    int rc = p->checkpoint(p->checkpoint_ctx, &part, 1, size);
    hesse_free(w.p);
    if (rc != HESSE_OK && hesse_last_error()[0] == '\0')
        hesse_error(rc, "SLQ: the checkpoint callback failed");
    return rc;
}

static int mismatch(const char *what, long long blob, long long given) {
    return hesse_error(HESSE_EINVAL,
                       "SLQ resume: the checkpoint was made with %s = %lld, this run asks for %lld",
                       what, blob, given);
}

/* Reads the problem fields and checks them against st (already set from the caller); then
 * allocates and fills the state. */
static int slq_restore(slq_state *st, hesse_density *out, const void *blob, size_t size,
                       int block_given) {
    hesse_sp_reader r = {blob, size, 0, 0};
    int rc = hesse_sp_get_magic(&r, SLQ_MAGIC, SLQ_VERSION, "SLQ resume");
    if (rc != HESSE_OK) return rc;
    int n = hesse_sp_get_i32(&r), m = hesse_sp_get_i32(&r), probes = hesse_sp_get_i32(&r);
    int g = hesse_sp_get_i32(&r), reorth = hesse_sp_get_i32(&r), probe = hesse_sp_get_i32(&r);
    uint64_t seed = hesse_sp_get_u64(&r);
    if (r.short_read) return hesse_error(HESSE_EINPUT, "SLQ resume: checkpoint is truncated");
    if (n != st->n) return mismatch("n", n, st->n);
    if (m != st->m) return mismatch("steps", m, st->m);
    if (probes != st->probes) return mismatch("probes", probes, st->probes);
    if (block_given && g != st->g) return mismatch("block", g, st->g);
    if (reorth != st->reorth) return mismatch("reorth", reorth, st->reorth);
    if (probe != (int)st->probe) return mismatch("probe", probe, (int)st->probe);
    if (seed != st->seed) return mismatch("seed", (long long)seed, (long long)st->seed);
    if (g < 1 || g > 256 || g > probes)
        return hesse_error(HESSE_EINPUT, "SLQ resume: checkpoint has an invalid block %d", g);
    st->g = g;
    st->lo = hesse_sp_get_f64(&r);
    st->hi = hesse_sp_get_f64(&r);
    st->r0 = hesse_sp_get_i32(&r);
    st->j = hesse_sp_get_i32(&r);
    st->products = hesse_sp_get_i64(&r);
    st->seconds = hesse_sp_get_f64(&r);
    st->seconds_products = hesse_sp_get_f64(&r);
    if (r.short_read || st->r0 < 0 || st->r0 >= probes || st->r0 % g != 0 || st->j < 0 ||
        st->j > m || !(st->lo < st->hi) || !isfinite(st->hi - st->lo) || st->products < 0 ||
        st->products > ((int64_t)1 << 62)) /* grows by the block size: no overflow */
        return hesse_error(HESSE_EINPUT, "SLQ resume: checkpoint state is inconsistent");
    hesse_sp_writer meas = {NULL, 0};
    slq_write(&meas, st, out);
    if (meas.used != size)
        return hesse_error(HESSE_EINPUT,
                           "SLQ resume: checkpoint has %zu bytes, its header implies %zu "
                           "(truncated or damaged)",
                           size, meas.used);
    if ((rc = slq_alloc(st, out)) != HESSE_OK) return rc;
    size_t pm = (size_t)probes * (size_t)m, gm = (size_t)g * (size_t)m;
    hesse_sp_get(&r, out->nsteps, sizeof(int) * (size_t)probes);
    hesse_sp_get(&r, out->nodes, sizeof(double) * pm);
    hesse_sp_get(&r, out->weights, sizeof(double) * pm);
    hesse_sp_get(&r, st->done, sizeof(int) * (size_t)g);
    hesse_sp_get(&r, st->scale, sizeof(double) * (size_t)g);
    hesse_sp_get(&r, st->alpha, sizeof(double) * gm);
    hesse_sp_get(&r, st->beta, sizeof(double) * gm);
    int cols = st->reorth ? (st->j + 1 < m ? st->j + 1 : m) : 2;
    for (int q = 0; q < g; q++)
        hesse_sp_get(&r, probe_col(st, q, 0), sizeof(double) * (size_t)cols * (size_t)n);
    if (r.short_read || r.at != size)
        return hesse_error(HESSE_EINPUT, "SLQ resume: checkpoint is truncated");
    /* Step counts index the quadratures and the tridiagonal matrices: a finished probe took 1
     * to m steps, a later one none yet; a probe of the current block finished after at most j
     * steps (0: still running), and after step m - 1 every one has finished. */
    int gg = block_size(st);
    for (int q = 0; q < probes; q++)
        if (q < st->r0 ? out->nsteps[q] < 1 || out->nsteps[q] > m : out->nsteps[q] != 0)
            return hesse_error(HESSE_EINPUT,
                               "SLQ resume: checkpoint has %d steps for probe %d (expected %s)",
                               out->nsteps[q], q, q < st->r0 ? "1 to the step count" : "0");
    /* The density is a sum of these: each finished probe's quadrature has finite nodes and
     * weights >= 0 that sum to 1 (the squared first components of an orthonormal basis). */
    for (int q = 0; q < st->r0; q++) {
        double sum = 0;
        for (int k = 0; k < out->nsteps[q]; k++) {
            double x = out->nodes[(size_t)q * m + k], w = out->weights[(size_t)q * m + k];
            if (!isfinite(x) || !(w >= 0 && w <= 1))
                return hesse_error(HESSE_EINPUT,
                                   "SLQ resume: checkpoint has node %g with weight %g for probe %d "
                                   "(expected a finite node, a weight in [0, 1])",
                                   x, w, q);
            sum += w;
        }
        if (!(fabs(sum - 1) <= 1e-9))
            return hesse_error(HESSE_EINPUT,
                               "SLQ resume: checkpoint has weights summing to %.17g for probe %d "
                               "(expected 1)",
                               sum, q);
    }
    for (int q = 0; q < gg; q++)
        if (st->done[q] < 0 || st->done[q] > st->j || (st->j == m && st->done[q] == 0))
            return hesse_error(HESSE_EINPUT,
                               "SLQ resume: checkpoint has probe %d of its block finished after "
                               "%d steps, at step %d",
                               st->r0 + q, st->done[q], st->j);
    return HESSE_OK;
}

/* ---- Driver ------------------------------------------------------------------------------ */

static int slq_check(const hesse_op *op, const hesse_slq_params *p) {
    if (!op || !op->apply || op->n <= 0 || op->n > INT_MAX || !p)
        return hesse_error(HESSE_EINVAL, "SLQ: invalid operator or parameters");
    if (p->probes < 1 || p->steps < 1 || p->points < 2 || !(p->sigma > 0.0) || p->margin < 0 ||
        p->eps < 0)
        return hesse_error(HESSE_EINVAL,
                           "SLQ: need probes >= 1, steps >= 1, points >= 2, sigma > 0, margin >= "
                           "0, eps >= 0 (got %d, %d, %d, %g, %g, %g)",
                           p->probes, p->steps, p->points, p->sigma, p->margin, p->eps);
    if (p->probe != HESSE_PROBE_RADEMACHER && p->probe != HESSE_PROBE_NORMAL)
        return hesse_error(HESSE_EINVAL, "SLQ: unknown probe kind %d", (int)p->probe);
    return HESSE_OK;
}

/* The problem fields of the state from the parameters; g from the caller or the budget.
 * HESSE_ENOMEM, before any product, when not even one probe's basis fits the budget. */
static int slq_setup(const hesse_op *op, const hesse_slq_params *p, slq_state *st) {
    memset(st, 0, sizeof *st);
    st->n = (int)op->n;
    st->m = p->steps < st->n ? p->steps : st->n;
    st->probes = p->probes;
    st->reorth = p->reorth ? 1 : 0;
    st->probe = p->probe;
    st->seed = p->seed;
    int cols = st->reorth ? st->m : 2;
    size_t per_probe = sizeof(double) * (size_t)st->n * (size_t)(cols + 2);
    size_t budget = hesse_sp_budget(p->memory_budget);
    if ((double)st->n * (double)(cols + 2) * sizeof(double) > (double)budget)
        return hesse_error(HESSE_ENOMEM,
                           "SLQ: a basis of %d steps for n = %d needs %.0f bytes for each probe, "
                           "the budget is %zu (fewer steps, or more memory)",
                           st->m, st->n, (double)st->n * (double)(cols + 2) * sizeof(double),
                           budget);
    int g = p->block;
    if (g <= 0) {
        size_t fit = budget / per_probe;
        g = fit < 1 ? 1 : (fit > 256 ? 256 : (int)fit);
    }
    if (g > 256) g = 256;
    if (g > p->probes) g = p->probes;
    st->g = g;
    return HESSE_OK;
}

/* Runs the state to the end, checkpointing at step boundaries, then smooths. */
static int slq_run(const hesse_op *op, const hesse_slq_params *p, slq_state *st,
                   hesse_density *out) {
    double t0 = hesse_now(), last_ckpt = t0, base_seconds = st->seconds;
    hesse_op_stats ops = {0, 0, 0.0};
    int64_t base_products = st->products;
    double base_seconds_products = st->seconds_products;
    int m = st->m, rc = HESSE_OK;
    double *theta = hesse_alloc(sizeof(double) * (size_t)m);
    double *U = hesse_alloc(sizeof(double) * (size_t)m * (size_t)m);
    if (!theta || !U) {
        rc = HESSE_ENOMEM;
        goto cleanup;
    }
    while (st->r0 < st->probes) {
        if (st->j == 0) slq_start_block(st);
        int running = 1;
        while (st->j < m && running) {
            HESSE_CHECK(slq_step(op, st, &ops, &running));
            if (!running) break;
            st->j++;
            st->products = base_products + ops.products;
            st->seconds_products = base_seconds_products + ops.seconds;
            st->seconds = base_seconds + (hesse_now() - t0);
            int stop = p->stop && *p->stop;
            if (p->checkpoint && (stop || (p->checkpoint_interval >= 0 &&
                                           hesse_now() - last_ckpt >= p->checkpoint_interval))) {
                HESSE_CHECK(slq_checkpoint(st, out, p));
                last_ckpt = hesse_now();
            }
            if (stop) {
                rc = hesse_error(HESSE_EINTR, "SLQ stopped after %lld products%s",
                                 (long long)st->products,
                                 p->checkpoint ? " (state checkpointed)" : "");
                goto cleanup;
            }
        }
        HESSE_CHECK(slq_finish_block(st, out, theta, U));
        st->r0 += st->g;
        st->j = 0;
    }

    /* Gaussian smoothing on the grid; terms beyond 10 sigma are below 2e-22 and skipped. */
    HESSE_CHECK(hesse_sp_density_grid(out, p->points, st->lo, st->hi, p->eps));
    double sigma = p->sigma * (st->hi - st->lo);
    out->sigma = sigma;
    double norm = 1.0 / (sqrt(2.0 * HESSE_SP_PI) * sigma * st->probes);
    for (int r = 0; r < st->probes; r++)
        for (int j = 0; j < out->nsteps[r]; j++) {
            const size_t at = (size_t)r * m + j;
            hesse_sp_gauss_add(out, p->points, out->nodes[at], sigma, out->weights[at] * norm);
        }
    HESSE_CHECK(hesse_sp_density_normalise(out));
    double outside = 0, far_lo = st->lo, far_hi = st->hi;
    for (int r = 0; r < st->probes; r++)
        for (int j = 0; j < out->nsteps[r]; j++) {
            const double x0 = out->nodes[(size_t)r * m + j];
            if (x0 < st->lo - 3 * sigma || x0 > st->hi + 3 * sigma) {
                outside += out->weights[(size_t)r * m + j] / st->probes;
                far_lo = fmin(far_lo, x0);
                far_hi = fmax(far_hi, x0);
            }
        }
    out->weight_outside = outside;
    if (outside > 1e-3)
        hesse_log(HESSE_LOG_WARN,
                  "SLQ: %.3g of the spectral weight lies outside the grid [%g, %g] (Ritz values "
                  "down to %g and up to %g); the density leaves it out: widen the support",
                  outside, st->lo, st->hi, far_lo, far_hi);
    out->products = base_products + ops.products;
    out->seconds_products = base_seconds_products + ops.seconds;
    out->seconds = base_seconds + (hesse_now() - t0);
cleanup:
    hesse_free(theta);
    hesse_free(U);
    return rc;
}

int hesse_slq_density(const hesse_op *op, const hesse_slq_params *p, hesse_density *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "SLQ: out is NULL");
    memset(out, 0, sizeof *out);
    int rc = slq_check(op, p);
    if (rc != HESSE_OK) return rc;
    slq_state st;
    rc = slq_setup(op, p, &st);
    if (rc != HESSE_OK) return rc;
    double t0 = hesse_now();
    hesse_op_stats ops = {0, 0, 0.0};
    HESSE_CHECK(hesse_sp_support(op, p->lo, p->hi, p->support_steps, p->margin, p->seed, &st.lo,
                                 &st.hi, &ops));
    st.products = ops.products;
    st.seconds_products = ops.seconds;
    st.seconds = hesse_now() - t0;
    HESSE_CHECK(slq_alloc(&st, out));
    rc = slq_run(op, p, &st, out);
cleanup:
    slq_free(&st);
    if (rc != HESSE_OK) hesse_density_free(out);
    return rc;
}

int hesse_slq_resume(const hesse_op *op, const hesse_slq_params *p, const void *blob, size_t size,
                     hesse_density *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "SLQ resume: out is NULL");
    memset(out, 0, sizeof *out);
    if (!blob) return hesse_error(HESSE_EINVAL, "SLQ resume: no checkpoint given");
    int rc = slq_check(op, p);
    if (rc != HESSE_OK) return rc;
    slq_state st;
    rc = slq_setup(op, p, &st);
    if (rc != HESSE_OK) return rc;
    HESSE_CHECK(slq_restore(&st, out, blob, size, p->block > 0));
    rc = slq_run(op, p, &st, out);
cleanup:
    slq_free(&st);
    if (rc != HESSE_OK) hesse_density_free(out);
    return rc;
}
