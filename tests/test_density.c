/* Spectral densities: SLQ and KPM against the true eigenvalue distribution of Q D Q^T
 * operators (n = 10^4) in Wasserstein-1 distance, the quadrature nodes and weights, the KPM
 * moments against exact ones, and SLQ on a deflated operator (the bulk without outliers). */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <string.h>

#include "check.h"
#include "spectral_testops.h"

#define M_PI_ 3.14159265358979323846

#define N 10000

typedef struct {
    const char *name;
    void (*spec)(int, double *);
} spectrum;

static const spectrum spectra[] = {{"power-law", spec_powerlaw},
                                   {"indefinite", spec_indefinite},
                                   {"clustered", spec_clustered},
                                   {"repeated", spec_repeated}};

static void range_of(int n, const double *d, double *lo, double *hi) {
    *lo = d[0];
    *hi = d[0];
    for (int i = 1; i < n; i++) {
        *lo = fmin(*lo, d[i]);
        *hi = fmax(*hi, d[i]);
    }
}

/* Properties every density must have: a grid over [lo, hi] containing the spectrum,
 * density >= 0 with trapezoid integral 1 (1e-12: one normalisation of a sum of 1000 terms),
 * log10_density = log10(density + eps). */
static void check_density_shape(const hesse_density *ds, double lo, double hi) {
    CHECK(ds->points == 1000 && ds->grid[0] == ds->lo && ds->grid[999] == ds->hi);
    CHECK(ds->lo <= lo && ds->hi >= hi);
    double integral = 0.0;
    int ok = 1;
    for (int i = 0; i < ds->points; i++) {
        ok &= ds->density[i] >= 0.0;
        ok &= ds->log10_density[i] == log10(ds->density[i] + ds->eps);
        if (i)
            integral +=
                0.5 * (ds->density[i] + ds->density[i - 1]) * (ds->grid[i] - ds->grid[i - 1]);
    }
    CHECK(ok);
    CHECK_CLOSE(integral, 1.0, 1e-12, 1.0);
}

/* W1 between two discrete distributions given by sorted atoms and weights (sum 1 each). */
static double w1_discrete(int na, const double *xa, const double *wa, int nb, const double *xb,
                          const double *wb) {
    int i = 0, j = 0;
    double fa = 0.0, fb = 0.0, x = fmin(xa[0], xb[0]), w = 0.0;
    while (i < na || j < nb) {
        double nx = (j >= nb || (i < na && xa[i] <= xb[j])) ? xa[i] : xb[j];
        w += fabs(fa - fb) * (nx - x);
        x = nx;
        if (i < na && xa[i] == nx)
            fa += wa[i++];
        else
            fb += wb[j++];
    }
    return w;
}

typedef struct {
    double x, w;
} atom;

static int atom_cmp(const void *a, const void *b) {
    double x = ((const atom *)a)->x, y = ((const atom *)b)->x;
    return (x > y) - (x < y);
}

/* W1 of the raw quadrature measure (all probes' nodes, weights / probes) to the truth. */
static double w1_quadrature(const hesse_density *ds, int n, const double *d) {
    int cnt = 0;
    atom *a = malloc(sizeof(atom) * (size_t)ds->probes * ds->steps);
    for (int r = 0; r < ds->probes; r++)
        for (int j = 0; j < ds->nsteps[r]; j++) {
            a[cnt].x = ds->nodes[r * ds->steps + j];
            a[cnt++].w = ds->weights[r * ds->steps + j] / ds->probes;
        }
    qsort(a, (size_t)cnt, sizeof(atom), atom_cmp);
    double *xa = malloc(sizeof(double) * cnt), *wa = malloc(sizeof(double) * cnt);
    for (int i = 0; i < cnt; i++) {
        xa[i] = a[i].x;
        wa[i] = a[i].w;
    }
    double *xb = malloc(sizeof(double) * n), *wb = malloc(sizeof(double) * n);
    memcpy(xb, d, sizeof(double) * n);
    qsort(xb, (size_t)n, sizeof(double), cmp_asc);
    for (int i = 0; i < n; i++) wb[i] = 1.0 / n;
    double w = w1_discrete(cnt, xa, wa, n, xb, wb);
    free(a);
    free(xa);
    free(wa);
    free(xb);
    free(wb);
    return w;
}

/* SLQ with the defaults (10 Rademacher probes, 80 steps, sigma 0.005 of the support, which
 * is the true range widened by the Lanczos residual bound and 5% each side).
 * Measured W1 / range of the smoothed density (n = 10^4): power-law 0.0041, indefinite
 * 0.0041, clustered 0.0007, repeated 0.0004; the bound asked for is 0.01. Most of it is the
 * smoothing itself (a Gaussian of width sigma moves mass by ~0.8 sigma = 0.0044 of the
 * support). The raw quadrature measure (all nodes, weights / probes) measured 0.0000,
 * 0.0001, 0.0003, 0.0005 against a bound of 0.002: a Gauss rule of 80 nodes per probe whose
 * weights carry the probe's components. A wrong weight (u_j[1] instead of u_j[0]) or node
 * scaling gives W1 of several percent. */
static void test_slq(void) {
    for (size_t s = 0; s < sizeof spectra / sizeof spectra[0]; s++) {
        double *d = malloc(sizeof(double) * N), lo, hi;
        spectra[s].spec(N, d);
        range_of(N, d, &lo, &hi);
        hesse_op op = qdq_make(N, d, 3, 1);
        hesse_slq_params p = hesse_slq_defaults();
        hesse_density ds;
        REQUIRE(hesse_slq_density(&op, &p, &ds) == HESSE_OK);
        check_density_shape(&ds, lo, hi);
        CHECK(ds.weight_outside == 0.0); /* the estimated support holds every node */
        double w1 = wasserstein1(&ds, N, d) / (hi - lo);
        double wq = w1_quadrature(&ds, N, d) / (hi - lo);
        CHECK_MSG(w1 <= 0.01, "%s: SLQ W1 = %.4f of the range", spectra[s].name, w1);
        CHECK_MSG(wq <= 0.002, "%s: quadrature W1 = %.4f of the range", spectra[s].name, wq);
        /* nodes are Ritz values (inside [lambda_min, lambda_max] by interlacing), weights of a
         * probe sum to 1 */
        int ok = ds.probes == 10 && ds.steps == 80;
        for (int r = 0; r < ds.probes; r++) {
            double sum = 0.0;
            ok &= ds.nsteps[r] == 80;
            for (int j = 0; j < ds.nsteps[r]; j++) {
                double x = ds.nodes[r * ds.steps + j];
                ok &= x >= lo - 1e-12 * (hi - lo) && x <= hi + 1e-12 * (hi - lo);
                sum += ds.weights[r * ds.steps + j];
            }
            ok &= fabs(sum - 1.0) <= 1e-12;
        }
        CHECK(ok);
        CHECK(ds.products == 30 + 10 * 80); /* support estimate + probes * steps */
        fprintf(stderr, "  SLQ %-10s W1 %.4f (quadrature %.4f) of the range, %lld products\n",
                spectra[s].name, w1, wq, (long long)ds.products);
        hesse_density_free(&ds);

        if (s == 3) {
            /* repeated (uniform bulk): a support given too narrow, [lo, median]: the weight the
             * grid leaves out is the share of the eigenvalues beyond median + 3 sigma (to the
             * quadrature's resolution, a node weight of ~1/80) */
            hesse_density dn;
            hesse_slq_params q = p;
            double *sorted = malloc(sizeof(double) * N);
            memcpy(sorted, d, sizeof(double) * N);
            qsort(sorted, N, sizeof(double), cmp_asc);
            q.lo = lo;
            q.hi = sorted[N / 2];
            const double edge = q.hi + 3 * q.sigma * (q.hi - q.lo);
            REQUIRE(hesse_slq_density(&op, &q, &dn) == HESSE_OK);
            int beyond = 0;
            for (int i = 0; i < N; i++) beyond += d[i] > edge;
            CHECK_MSG(fabs(dn.weight_outside - (double)beyond / N) <= 0.05,
                      "SLQ weight outside %.4f vs %.4f", dn.weight_outside, (double)beyond / N);
            CHECK(beyond > N / 4);
            hesse_density_free(&dn);
            free(sorted);
        }
        if (s == 1) {
            /* probes advanced 3 at a time: the same nodes (to the operator's block rounding) */
            hesse_density d3;
            p.block = 3;
            REQUIRE(hesse_slq_density(&op, &p, &d3) == HESSE_OK);
            p.block = 10;
            REQUIRE(hesse_slq_density(&op, &p, &ds) == HESSE_OK);
            int same = 1;
            for (int i = 0; i < 10 * 80; i++)
                same &= test_close(d3.nodes[i], ds.nodes[i], 1e-10, 1e-12);
            CHECK(same);
            hesse_density_free(&d3);
            hesse_density_free(&ds);
            /* without reorthogonalisation Ritz values repeat ("ghosts") but the quadrature
             * stays a good measure in W1 */
            p.reorth = 0;
            REQUIRE(hesse_slq_density(&op, &p, &ds) == HESSE_OK);
            CHECK(wasserstein1(&ds, N, d) / (hi - lo) <= 0.01);
            hesse_density_free(&ds);
            /* a support given by the caller is used as is */
            p = hesse_slq_defaults();
            p.lo = -1.0;
            p.hi = 2.0;
            REQUIRE(hesse_slq_density(&op, &p, &ds) == HESSE_OK);
            CHECK(ds.lo == -1.0 && ds.hi == 2.0 && ds.products == 800);
            hesse_density_free(&ds);
            p.sigma = 0.0;
            CHECK(hesse_slq_density(&op, &p, &ds) == HESSE_EINVAL);
            p = hesse_slq_defaults();
            p.probe = (hesse_probe_kind)7;
            CHECK(hesse_slq_density(&op, &p, &ds) == HESSE_EINVAL);
        }
        hesse_op_free(&op);
        free(d);
    }
}

/* KPM with the defaults (256 moments, 10 Rademacher probes: 128 products each). Measured
 * W1 / range (n = 10^4): power-law 0.0020, indefinite 0.0047, clustered 0.0005, repeated
 * 0.0005; bound 0.01. The Jackson kernel's resolution is about pi / M of the half-width, so
 * W1 ~ 1.2 range / M = 0.005 at worst; 16 moments give 0.03 - 0.07 and fail.
 * Moments against the exact mu_m = (1/n) sum_i T_m(x_i): Rademacher probes estimate them with
 * standard deviation <= sqrt(2 / (n probes)) = 0.0045 (|T_m| <= 1); 5 of those, 0.022, bounds
 * the error of every moment. */
static void test_kpm(void) {
    for (size_t s = 0; s < sizeof spectra / sizeof spectra[0]; s++) {
        double *d = malloc(sizeof(double) * N), lo, hi;
        spectra[s].spec(N, d);
        range_of(N, d, &lo, &hi);
        hesse_op op = qdq_make(N, d, 3, 1);
        hesse_kpm_params p = hesse_kpm_defaults();
        hesse_density ds;
        REQUIRE(hesse_kpm_density(&op, &p, &ds) == HESSE_OK);
        check_density_shape(&ds, lo, hi);
        double w1 = wasserstein1(&ds, N, d) / (hi - lo);
        CHECK_MSG(w1 <= 0.01, "%s: KPM W1 = %.4f of the range", spectra[s].name, w1);
        CHECK(ds.moments == 256 && ds.products == 30 + 10 * 128);
        CHECK(fabs(ds.mu[0] - 1.0) <= 1e-14);
        double a = (ds.hi - ds.lo) / (2.0 - 0.01), b = 0.5 * (ds.hi + ds.lo), worst = 0.0;
        for (int m = 0; m < ds.moments; m++) {
            double mu = 0.0;
            for (int i = 0; i < N; i++) mu += cos(m * acos((d[i] - b) / a));
            worst = fmax(worst, fabs(mu / N - ds.mu[m]));
        }
        CHECK_MSG(worst <= 0.022, "%s: moment error %g", spectra[s].name, worst);
        fprintf(stderr, "  KPM %-10s W1 %.4f of the range, moment error %.1e, %lld products\n",
                spectra[s].name, w1, worst, (long long)ds.products);
        hesse_density_free(&ds);
        hesse_op_free(&op);
        free(d);
    }
    double d[4] = {1, 2, 3, 4};
    hesse_op op;
    REQUIRE(hesse_op_diag(4, d, &op) == HESSE_OK);
    hesse_kpm_params p = hesse_kpm_defaults();
    hesse_density ds;
    p.moments = 7; /* odd */
    CHECK(hesse_kpm_density(&op, &p, &ds) == HESSE_EINVAL);
    p = hesse_kpm_defaults();
    p.eps = -1;
    CHECK(hesse_kpm_density(&op, &p, &ds) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "eps >= 0") != NULL);
    /* a support that misses part of the spectrum is detected through |mu_m| > 1 */
    p = hesse_kpm_defaults();
    p.lo = 0.5;
    p.hi = 3.0;
    CHECK(hesse_kpm_density(&op, &p, &ds) == HESSE_ENUMERIC);
    CHECK(strstr(hesse_last_error(), "support") != NULL);
    CHECK(ds.density == NULL);
    hesse_op_free(&op);
}

/* The bulk without its outliers (Papyan 2018): deflate the top 20 of the "clustered" spectrum
 * (found by Lanczos) and run SLQ on P A P. Its spectrum is the bulk plus 20 zeros. */
static void test_deflated(void) {
    double *d = malloc(sizeof(double) * N), lo, hi;
    spec_clustered(N, d);
    hesse_op op = qdq_make(N, d, 3, 1);
    hesse_lanczos_params lp = hesse_lanczos_defaults();
    lp.top = 20;
    hesse_eigs top;
    REQUIRE(hesse_lanczos_eigs(&op, &lp, &top) == HESSE_OK);
    hesse_op bulk;
    REQUIRE(hesse_op_deflate(&op, 20, top.vectors, &bulk) == HESSE_OK);
    hesse_slq_params p = hesse_slq_defaults();
    hesse_density ds;
    REQUIRE(hesse_slq_density(&bulk, &p, &ds) == HESSE_OK);
    double *e = malloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) e[i] = i < 20 ? 0.0 : d[i]; /* spec_clustered puts them first */
    range_of(N, e, &lo, &hi);
    double w1 = wasserstein1(&ds, N, e) / (hi - lo);
    CHECK_MSG(w1 <= 0.01, "deflated SLQ W1 = %.4f", w1); /* measured 0.0001 */
    CHECK(ds.hi < 1.5); /* the outliers (>= 5) are gone from the support */
    fprintf(stderr, "  SLQ deflated bulk: support [%.3f, %.3f], W1 %.4f of the range\n", ds.lo,
            ds.hi, w1);
    hesse_density_free(&ds);
    hesse_op_free(&bulk);
    hesse_eigs_free(&top);
    hesse_op_free(&op);
    free(d);
    free(e);
}

/* Keeps the blob of the keep-th checkpoint call. */
typedef struct {
    int calls, keep;
    unsigned char *blob;
    size_t size;
} store;

static int store_blob(void *ctx, const hesse_blob_part *parts, int nparts, size_t total) {
    store *s = ctx;
    if (++s->calls != s->keep) return HESSE_OK;
    s->blob = malloc(total);
    s->size = 0;
    for (int i = 0; i < nparts; i++) {
        memcpy(s->blob + s->size, parts[i].data, parts[i].size);
        s->size += parts[i].size;
    }
    return s->size == total ? HESSE_OK : HESSE_EIO;
}

static int same_density(const hesse_density *a, const hesse_density *b) {
    size_t pm = (size_t)a->probes * a->steps;
    return a->points == b->points && a->products == b->products && a->lo == b->lo &&
           a->hi == b->hi && memcmp(a->density, b->density, sizeof(double) * a->points) == 0 &&
           memcmp(a->nodes, b->nodes, sizeof(double) * pm) == 0 &&
           memcmp(a->weights, b->weights, sizeof(double) * pm) == 0 &&
           memcmp(a->nsteps, b->nsteps, sizeof(int) * a->probes) == 0;
}

static volatile sig_atomic_t stop_flag;

/* An SLQ run checkpointed mid-block (and at a block boundary, and with and without
 * reorthogonalisation) and resumed gives the uninterrupted run's density bit for bit; a stop
 * returns HESSE_EINTR after a checkpoint; a mismatched or damaged blob is refused. */
static void test_slq_resume(void) {
    const int n = 2000;
    double *d = malloc(sizeof(double) * n);
    spec_powerlaw(n, d);
    hesse_op op = qdq_make(n, d, 3, 2);
    for (int reorth = 0; reorth <= 1; reorth++) {
        hesse_slq_params p = hesse_slq_defaults();
        p.probes = 5;
        p.block = 2; /* blocks of 2, 2, 1 probes */
        p.steps = 30;
        p.reorth = reorth;
        hesse_density ref, r;
        REQUIRE(hesse_slq_density(&op, &p, &ref) == HESSE_OK);
        const int keeps[3] = {7, 30, 45}; /* mid-block 1, end of block 1, mid-block 2 */
        for (int t = 0; t < 3; t++) {
            store s = {0, keeps[t], NULL, 0};
            hesse_slq_params pc = p;
            pc.checkpoint = store_blob;
            pc.checkpoint_ctx = &s;
            pc.checkpoint_interval = 0; /* every step */
            REQUIRE(hesse_slq_density(&op, &pc, &r) == HESSE_OK);
            CHECK(same_density(&ref, &r)); /* checkpointing changes nothing */
            hesse_density_free(&r);
            REQUIRE(s.blob != NULL);
            REQUIRE(hesse_slq_resume(&op, &p, s.blob, s.size, &r) == HESSE_OK);
            CHECK_MSG(same_density(&ref, &r), "SLQ resumed from checkpoint %d (reorth %d) differs",
                      keeps[t], reorth);
            hesse_density_free(&r);
            if (t == 0) {
                hesse_slq_params bad = p;
                bad.seed = 9;
                CHECK(hesse_slq_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
                CHECK(strstr(hesse_last_error(), "seed") != NULL);
                bad = p;
                bad.steps = 31;
                CHECK(hesse_slq_resume(&op, &bad, s.blob, s.size, &r) == HESSE_EINVAL);
                CHECK(hesse_slq_resume(&op, &p, s.blob, s.size - 8, &r) == HESSE_EINPUT);
                CHECK(hesse_slq_resume(&op, &p, s.blob + 8, s.size - 8, &r) == HESSE_EINPUT);
            }
            free(s.blob);
        }
        /* a stop (as from a signal handler) checkpoints and returns HESSE_EINTR */
        store s = {0, 1, NULL, 0};
        hesse_slq_params ps = p;
        ps.checkpoint = store_blob;
        ps.checkpoint_ctx = &s;
        ps.checkpoint_interval = -1;
        ps.stop = &stop_flag;
        stop_flag = 1;
        CHECK(hesse_slq_density(&op, &ps, &r) == HESSE_EINTR && s.calls == 1 && r.density == NULL);
        stop_flag = 0;
        REQUIRE(s.blob != NULL);
        REQUIRE(hesse_slq_resume(&op, &p, s.blob, s.size, &r) == HESSE_OK);
        CHECK(same_density(&ref, &r));
        hesse_density_free(&r);
        free(s.blob);
        hesse_density_free(&ref);
    }
    hesse_op_free(&op);
    free(d);
}

/* Known point masses: two Gaussians in closed form on the grid, the support rule, and the weight
 * outside a support given too narrow. */
static void test_points(void) {
    const double v[2] = {0.0, 1.0}, w[2] = {0.25, 0.75};
    hesse_slq_params p = hesse_slq_defaults();
    p.points = 301;
    p.lo = -1.0;
    p.hi = 2.0;
    p.sigma = 0.01; /* 0.03 absolute */
    hesse_density d;
    REQUIRE(hesse_density_points(2, v, w, &p, &d) == HESSE_OK);
    CHECK_CLOSE(d.sigma, 0.03, 1e-14, 0);
    CHECK(d.products == 0 && d.weight_outside == 0);
    double err = 0, s = 0.03;
    for (int i = 0; i < d.points; i++) {
        double x = d.grid[i], f = 0;
        for (int j = 0; j < 2; j++)
            f += w[j] * exp(-0.5 * (x - v[j]) * (x - v[j]) / (s * s)) / (sqrt(2 * M_PI_) * s);
        err = fmax(err, fabs(d.density[i] - f));
    }
    /* the grid (step 0.01 = sigma / 3) integrates the Gaussians to ~1e-9 of 1, and the density
     * is rescaled by that integral */
    CHECK_MSG(err <= 1e-6 * 0.75 / (sqrt(2 * M_PI_) * s), "point density: %.3g", err);
    hesse_density_free(&d);
    /* estimated support: [0, 1] widened by the margin each side */
    p.lo = p.hi = 0;
    p.margin = 0.1;
    REQUIRE(hesse_density_points(2, v, w, &p, &d) == HESSE_OK);
    CHECK_CLOSE(d.lo, -0.1, 1e-14, 0);
    CHECK_CLOSE(d.hi, 1.1, 1e-14, 0);
    hesse_density_free(&d);
    /* a support that leaves out the mass at 1 */
    p.lo = -1.0;
    p.hi = 0.5;
    REQUIRE(hesse_density_points(2, v, w, &p, &d) == HESSE_OK);
    CHECK_CLOSE(d.weight_outside, 0.75, 1e-15, 0);
    hesse_density_free(&d);
    const double bad[1] = {-1.0};
    CHECK(hesse_density_points(1, v, bad, &p, &d) == HESSE_EINVAL);
}

int main(void) {
    test_points();
    test_slq_resume();
    test_slq();
    test_kpm();
    test_deflated();
    return test_summary("test_density");
}
