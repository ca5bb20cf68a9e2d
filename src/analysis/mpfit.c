/* Marchenko-Pastur fit of a bulk spectral density (Papyan, "The full spectrum of deepnet
 * Hessians at scale", 2018/2020: the bulk of a deflated Hessian is heavier-tailed than the
 * Marchenko-Pastur law of a random Wishart matrix).
 *
 * The law (Marchenko, Pastur 1967) of the eigenvalues of W = X X^T / m for X p x m with iid
 * entries of variance sigma^2, ratio gamma = p / m:
 *   rho(x) = sqrt((b - x)(x - a)) / (2 pi sigma^2 gamma x) on [a, b],
 *   a, b = sigma^2 (1 -+ sqrt(gamma))^2,
 * plus an atom of mass 1 - 1/gamma at 0 when gamma > 1 (W has rank m < p). Its moments, the
 * atom included: m1 = sigma^2, m2 = sigma^4 (1 + gamma). The fit matches them:
 *   sigma^2 = m1,  gamma = m2 / m1^2 - 1,
 * so the atom at zero is part of the law fitted (a Gauss-Newton matrix of rank N (C - 1) has
 * one of mass 1 - N (C - 1) / n, which gamma > 1 reproduces).
 *
 * Moments are what a heavy tail moves most (its second moment may not even exist): a few per
 * cent of mass far out inflates m2, and the moment fit widens its edge until the tail is
 * inside. The fit reported first is therefore the minimum Kolmogorov-Smirnov distance one,
 * argmin over (gamma, sigma^2) of sup_x |F_measured(x) - F_MP(x)|, in which a tail weighs at
 * most its mass: a search over a grid of log gamma and log sigma^2 / m1, refined by
 * Nelder-Mead in those coordinates. The moment fit is kept beside it. */
#include <hesse/analysis.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MP_TABLE 4096 /* midpoints in theta of the continuous part */
#define W1_CELLS 65536
#define KS_CELLS 16384
#define PI       3.14159265358979323846

/* The continuous part on a grid in theta: x(theta) = a + (b - a)(1 - cos theta) / 2 turns
 * rho(x) dx into (b - a)^2 sin^2(theta) / (8 pi sigma^2 gamma x(theta)) dtheta, smooth on
 * [0, pi], so midpoints converge fast. x[k], mass[k] at theta_k = (k + 1/2) pi / M; the masses
 * are scaled to sum exactly to the continuous mass min(1, 1/gamma). */
typedef struct {
    double a, b, atom;
    double x[MP_TABLE], mass[MP_TABLE], cum[MP_TABLE + 1];
} mp_table;

static void mp_table_build(double gamma, double sigma2, mp_table *t) {
    const double r = sqrt(gamma), h = PI / MP_TABLE;
    t->a = sigma2 * (1 - r) * (1 - r);
    t->b = sigma2 * (1 + r) * (1 + r);
    t->atom = gamma > 1 ? 1 - 1 / gamma : 0.0;
    const double w = t->b - t->a;
    double total = 0.0;
    for (int k = 0; k < MP_TABLE; k++) {
        const double th = (k + 0.5) * h, sn = sin(th);
        t->x[k] = t->a + w * (1 - cos(th)) / 2;
        t->mass[k] = w * w * sn * sn / (8 * PI * sigma2 * gamma * t->x[k]) * h;
        total += t->mass[k];
    }
    const double want = 1 - t->atom;
    t->cum[0] = 0.0;
    for (int k = 0; k < MP_TABLE; k++) {
        t->mass[k] *= want / total;
        t->cum[k + 1] = t->cum[k] + t->mass[k];
    }
}

/* F(x) = mass of the law at or below x: the atom, then the table's cumulative mass linear in
 * theta between cell boundaries. */
static double mp_table_cdf(const mp_table *t, double x) {
    if (x < 0) return 0.0;
    if (x <= t->a) return t->atom;
    if (x >= t->b) return 1.0;
    const double th = acos(1 - 2 * (x - t->a) / (t->b - t->a)), u = th / PI * MP_TABLE;
    int k = (int)u;
    if (k >= MP_TABLE) k = MP_TABLE - 1;
    return t->atom + t->cum[k] + (u - k) * t->mass[k];
}

double hesse_mp_cdf(double gamma, double sigma2, double x) {
    if (!(gamma > 0) || !(sigma2 > 0)) return NAN;
    mp_table *t = malloc(sizeof *t);
    if (!t) return NAN;
    mp_table_build(gamma, sigma2, t);
    const double f = mp_table_cdf(t, x);
    free(t);
    return f;
}

typedef struct {
    double x, w;
} atom;

static int by_x(const void *p, const void *q) {
    const double a = ((const atom *)p)->x, b = ((const atom *)q)->x;
    return (a > b) - (a < b);
}

/* W1 = integral of |F_measured - F_MP| over x, by the midpoint rule on W1_CELLS cells spanning
 * both supports (error at most one cell width: each jump of the measured CDF is misplaced by
 * less than a cell). */
static double wasserstein1(const atom *at, int count, const mp_table *t) {
    const double lo = fmin(at[0].x, 0.0), hi = fmax(at[count - 1].x, t->b);
    const double h = (hi - lo) / W1_CELLS;
    double F = 0.0, w1 = 0.0;
    int j = 0;
    for (int c = 0; c < W1_CELLS; c++) {
        const double x = lo + (c + 0.5) * h;
        while (j < count && at[j].x <= x) F += at[j++].w;
        w1 += fabs(F - mp_table_cdf(t, x)) * h;
    }
    return w1;
}

/* The measured CDF at the midpoints of KS_CELLS cells over [min(x, 0), max(x)] (beyond the
 * largest atom it is 1 and |1 - F_MP| only falls, so the sup is inside). */
typedef struct {
    double lo, h;
    double F[KS_CELLS];
} ks_grid;

static void ks_grid_build(const atom *at, int count, ks_grid *g) {
    g->lo = fmin(at[0].x, 0.0);
    g->h = (fmax(at[count - 1].x, g->lo + 1e-300) - g->lo) / KS_CELLS;
    double F = 0.0;
    int j = 0;
    for (int c = 0; c < KS_CELLS; c++) {
        const double x = g->lo + (c + 0.5) * g->h;
        while (j < count && at[j].x <= x) F += at[j++].w;
        g->F[c] = F;
    }
}

/* sup |F_measured - F_MP| over every stride-th cell. */
static double ks_distance(const ks_grid *g, const mp_table *t, int stride) {
    double d = 0.0;
    for (int c = 0; c < KS_CELLS; c += stride)
        d = fmax(d, fabs(g->F[c] - mp_table_cdf(t, g->lo + (c + 0.5) * g->h)));
    return d;
}

static double ks_at(const ks_grid *g, mp_table *t, const double *v, int stride) {
    mp_table_build(exp(v[0]), exp(v[1]), t);
    return ks_distance(g, t, stride);
}

/* Nelder-Mead (reflection 1, expansion 2, contraction 1/2, shrink 1/2) on the KS distance in
 * (ln gamma, ln sigma^2) from v, steps `step` wide; v receives the best vertex. */
static double nelder_mead(const ks_grid *g, mp_table *t, double *v, double step) {
    double P[3][2] = {{v[0], v[1]}, {v[0] + step, v[1]}, {v[0], v[1] + step}}, f[3];
    for (int i = 0; i < 3; i++) f[i] = ks_at(g, t, P[i], 1);
    for (int it = 0; it < 300; it++) {
        int b = 0, w = 0;
        for (int i = 1; i < 3; i++) {
            if (f[i] < f[b]) b = i;
            if (f[i] > f[w]) w = i;
        }
        const int m = 3 - b - w; /* the middle vertex */
        if (f[w] - f[b] < 1e-9 && fabs(P[w][0] - P[b][0]) + fabs(P[w][1] - P[b][1]) < 1e-7) break;
        double c[2], r[2], e[2], k[2];
        for (int d = 0; d < 2; d++) {
            c[d] = 0.5 * (P[b][d] + P[m][d]);
            r[d] = 2 * c[d] - P[w][d];
            e[d] = 3 * c[d] - 2 * P[w][d];
            k[d] = 0.5 * (c[d] + P[w][d]);
        }
        const double fr = ks_at(g, t, r, 1);
        if (fr < f[b]) {
            const double fe = ks_at(g, t, e, 1);
            memcpy(P[w], fe < fr ? e : r, sizeof r);
            f[w] = fmin(fe, fr);
        } else if (fr < f[m]) {
            memcpy(P[w], r, sizeof r);
            f[w] = fr;
        } else {
            const double fk = ks_at(g, t, k, 1);
            if (fk < f[w]) {
                memcpy(P[w], k, sizeof k);
                f[w] = fk;
            } else {
                for (int i = 0; i < 3; i++)
                    if (i != b) {
                        for (int d = 0; d < 2; d++) P[i][d] = 0.5 * (P[i][d] + P[b][d]);
                        f[i] = ks_at(g, t, P[i], 1);
                    }
            }
        }
    }
    int b = 0;
    for (int i = 1; i < 3; i++)
        if (f[i] < f[b]) b = i;
    v[0] = P[b][0];
    v[1] = P[b][1];
    return f[b];
}

/* The minimum-KS fit: a grid over ln gamma in [ln 1e-3, ln 1e3] and sigma^2 / m1 in
 * [1e-2, 1e1] on every 16th cell, then Nelder-Mead on all cells. */
static void fit_ks(const ks_grid *g, mp_table *t, double m1, double *gamma, double *sigma2) {
    double best = INFINITY, v[2] = {0, log(m1)};
    for (int i = 0; i <= 60; i++)
        for (int j = 0; j <= 60; j++) {
            const double u[2] = {log(10.0) * (-3 + 0.1 * i), log(m1) + log(10.0) * (-2 + 0.05 * j)};
            const double d = ks_at(g, t, u, 16);
            if (d < best) {
                best = d;
                v[0] = u[0];
                v[1] = u[1];
            }
        }
    nelder_mead(g, t, v, 0.05);
    *gamma = exp(v[0]);
    *sigma2 = exp(v[1]);
}

/* Edges, atom, distances and tail mass of the law (gamma, sigma2) against the atoms. */
static void describe(const atom *at, int count, const ks_grid *g, mp_table *t, double gamma,
                     double sigma2, hesse_mp_law *out) {
    mp_table_build(gamma, sigma2, t);
    out->gamma = gamma;
    out->sigma2 = sigma2;
    out->lambda_minus = t->a;
    out->lambda_plus = t->b;
    out->zero_mass = t->atom;
    out->ks = ks_distance(g, t, 1);
    out->w1 = wasserstein1(at, count, t);
    out->w1_relative = out->w1 / sigma2;
    double tail = 0.0;
    for (int i = count - 1; i >= 0 && at[i].x > t->b; i--) tail += at[i].w;
    out->tail_mass = tail;
}

static int fill(hesse_mp_fit *out, atom *at, int count) {
    qsort(at, (size_t)count, sizeof *at, by_x);
    double m1 = 0.0, m2 = 0.0;
    for (int i = 0; i < count; i++) {
        m1 += at[i].w * at[i].x;
        m2 += at[i].w * at[i].x * at[i].x;
    }
    out->m1 = m1;
    out->m2 = m2;
    if (!(m1 > 0) || !(m2 > m1 * m1 * (1 + 1e-12))) {
        out->fitted = 0; /* no MP law has these moments */
        return HESSE_OK;
    }
    out->fitted = 1;
    mp_table *t = malloc(sizeof *t);
    ks_grid *g = malloc(sizeof *g);
    if (!t || !g) {
        free(t);
        free(g);
        return hesse_error(HESSE_ENOMEM, "Marchenko-Pastur fit: out of memory");
    }
    ks_grid_build(at, count, g);
    describe(at, count, g, t, m2 / (m1 * m1) - 1, m1, &out->moments);
    double gamma, sigma2;
    fit_ks(g, t, m1, &gamma, &sigma2);
    describe(at, count, g, t, gamma, sigma2, &out->ks);
    if (out->moments.ks < out->ks.ks) out->ks = out->moments; /* the search missed it */
    free(t);
    free(g);
    return HESSE_OK;
}

int hesse_mp_fit_atoms(int count, const double *x, const double *w, hesse_mp_fit *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Marchenko-Pastur fit: out is NULL");
    memset(out, 0, sizeof *out);
    if (count < 1 || !x || !w)
        return hesse_error(HESSE_EINVAL, "Marchenko-Pastur fit: need at least one atom");
    atom *at = malloc(sizeof *at * (size_t)count);
    if (!at) return hesse_error(HESSE_ENOMEM, "Marchenko-Pastur fit: out of memory");
    double total = 0.0;
    int rc = HESSE_OK;
    for (int i = 0; i < count; i++) {
        if (!isfinite(x[i]) || !isfinite(w[i]) || w[i] < 0) {
            rc = hesse_error(HESSE_EINVAL,
                             "Marchenko-Pastur fit: atom %d (x %g, weight %g) is not finite "
                             "with a weight >= 0",
                             i, x[i], w[i]);
            goto cleanup;
        }
        at[i] = (atom){x[i], w[i]};
        total += w[i];
    }
    if (!(total > 0)) {
        rc = hesse_error(HESSE_EINVAL, "Marchenko-Pastur fit: the weights sum to zero");
        goto cleanup;
    }
    for (int i = 0; i < count; i++) at[i].w /= total;
    rc = fill(out, at, count);
cleanup:
    free(at);
    return rc;
}

int hesse_mp_fit_density(const hesse_density *d, hesse_mp_fit *out) {
    if (!out) return hesse_error(HESSE_EINVAL, "Marchenko-Pastur fit: out is NULL");
    memset(out, 0, sizeof *out);
    if (!d || !d->nodes || !d->weights || !d->nsteps || d->probes < 1)
        return hesse_error(HESSE_EINVAL, "Marchenko-Pastur fit: needs an SLQ density (its "
                                         "quadrature nodes and weights)");
    int count = 0;
    for (int r = 0; r < d->probes; r++) count += d->nsteps[r];
    double *x = malloc(sizeof *x * (size_t)(count > 0 ? count : 1));
    double *w = malloc(sizeof *w * (size_t)(count > 0 ? count : 1));
    int rc = HESSE_OK;
    if (!x || !w) {
        rc = hesse_error(HESSE_ENOMEM, "Marchenko-Pastur fit: out of memory");
        goto cleanup;
    }
    int k = 0; /* every probe's weights sum to 1: each probe counts 1 / probes */
    for (int r = 0; r < d->probes; r++)
        for (int j = 0; j < d->nsteps[r]; j++, k++) {
            x[k] = d->nodes[(int64_t)r * d->steps + j];
            w[k] = d->weights[(int64_t)r * d->steps + j] / d->probes;
        }
    rc = hesse_mp_fit_atoms(count, x, w, out);
cleanup:
    free(x);
    free(w);
    return rc;
}

int hesse_mp_curve(const hesse_mp_law *f, double sigma, int points, const double *grid,
                   double *out) {
    if (!f || !(f->gamma > 0) || !(f->sigma2 > 0) || !(sigma > 0) || points < 1 || !grid || !out)
        return hesse_error(HESSE_EINVAL, "Marchenko-Pastur curve: needs a fitted law, a width "
                                         "sigma > 0 and a grid");
    mp_table *t = malloc(sizeof *t);
    if (!t) return hesse_error(HESSE_ENOMEM, "Marchenko-Pastur curve: out of memory");
    mp_table_build(f->gamma, f->sigma2, t);
    const double norm = 1 / (sigma * sqrt(2 * PI)), cut = 8 * sigma;
    for (int i = 0; i < points; i++) {
        const double g = grid[i];
        double y = fabs(g) < cut ? t->atom * exp(-0.5 * (g / sigma) * (g / sigma)) : 0.0;
        for (int k = 0; k < MP_TABLE; k++) {
            const double u = (g - t->x[k]) / sigma;
            if (fabs(u) < 8) y += t->mass[k] * exp(-0.5 * u * u);
        }
        out[i] = y * norm;
    }
    free(t);
    return HESSE_OK;
}
