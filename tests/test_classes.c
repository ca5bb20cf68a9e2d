/* analysis/classes.c against an independent assembly: per-sample Jacobians J_i by central
 * differences of the logits (error ~1e-10), per-sample delta_{i,c'} = sqrt(p_c') J_i^T (e_c' -
 * p_i) (MSE: sqrt(2/C) J_i^T e_c'), and from them the dense G_means and G_within.
 *
 * Checks: the engine's class means equal the means of those deltas; the Gram spectrum of
 * G_means (and its class and cross parts) equals the dense eigenvalues; G_means + G_within
 * equals the GGN assembled from exact products; the averaging basis spans the dense top
 * eigenvectors; the G_means operator is the dense G_means. */
#include <hesse/analysis.h>

#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NS 12 /* samples */

/* G_within as the op algebra makes it (G - G_means) equals the dense within-class covariance. */
static void dense_within(const hesse_op *G, const hesse_op *Mop, const double *Gw, int64_t n) {
    hesse_op W;
    REQUIRE(hesse_op_combine(G, 1.0, Mop, -1.0, &W) == HESSE_OK);
    double *A = malloc((size_t)(n * n) * sizeof *A), err = 0, mx = 0;
    REQUIRE(hesse_op_to_dense(&W, 8, A, NULL, NULL) == HESSE_OK);
    for (int64_t k = 0; k < n * n; k++) {
        err = fmax(err, fabs(A[k] - Gw[k]));
        mx = fmax(mx, fabs(Gw[k]));
    }
    /* finite-difference Jacobians behind Gw: 1e-8 relative, as above */
    CHECK_MSG(err <= 1e-8 * mx, "G - G_means operator vs dense G_within: %.3g", err / mx);
    free(A);
    hesse_op_free(&W);
}

/* The two-way split against a plain-loop analysis of variance of the finite-difference means
 * (mean: n x C^2, column c * C + c'), and tr G_means against the trace of the dense matrix. */
static void dense_twoway(const hesse_class_means *cm, const double *mean, const double *pi,
                         const double *Gm, int64_t n) {
    const int C = 3;
    double tr = 0, grand = 0, cls = 0, lab = 0, inter = 0, g0 = 0, g1 = 0, g2 = 0;
    for (int64_t a = 0; a < n; a++) tr += Gm[a * n + a];
    for (int64_t p = 0; p < n; p++) {
        double d[3][3], mu = 0, row[3] = {0}, col[3] = {0};
        for (int c = 0; c < C; c++)
            for (int c1 = 0; c1 < C; c1++) d[c][c1] = mean[(int64_t)(c * C + c1) * n + p];
        for (int c = 0; c < C; c++)
            for (int c1 = 0; c1 < C; c1++) {
                row[c] += d[c][c1] / C;
                col[c1] += pi[c] * d[c][c1];
                mu += pi[c] * d[c][c1] / C;
            }
        grand += C * mu * mu;
        for (int c = 0; c < C; c++) {
            cls += C * pi[c] * (row[c] - mu) * (row[c] - mu);
            lab += (col[c] - mu) * (col[c] - mu);
            double dc = 0;
            for (int c1 = 0; c1 < C; c1++) {
                double r = d[c][c1] - row[c] - col[c1] + mu;
                inter += pi[c] * r * r;
                if (c1 != c) dc += d[c][c1] / (C - 1);
            }
            g0 += pi[c] * d[c][c] * d[c][c];
            g1 += pi[c] * (C - 1) * dc * dc;
            for (int c1 = 0; c1 < C; c1++)
                if (c1 != c) g2 += pi[c] * (d[c][c1] - dc) * (d[c][c1] - dc);
        }
    }
    hesse_means_twoway t;
    REQUIRE(hesse_class_means_twoway(cm, &t) == HESSE_OK);
    /* the engine's means equal the finite-difference ones to ~1e-10 relative (above) */
    CHECK_CLOSE(t.total, tr, 1e-8, 0);
    CHECK_CLOSE(t.grand_mean, grand, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.class_effect, cls, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.label_effect, lab, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.interaction, inter, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.class_terms, g0, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.cross_class_means, g1, 1e-8, 1e-8 * tr);
    CHECK_CLOSE(t.cross_deviations, g2, 1e-8, 1e-8 * tr);
}

/* The exact density of G_means against Gaussians (the same width, on the same grid) centred on
 * the eigenvalues of the dense matrix, each of weight 1/n. w: the dense eigenvalues. */
static void dense_density(const hesse_class_means *cm, const double *w, int64_t n) {
    hesse_slq_params p = hesse_slq_defaults();
    p.points = 400;
    p.sigma = 0.01;
    hesse_density d;
    REQUIRE(hesse_class_density(cm, HESSE_MEANS_ALL, &p, &d) == HESSE_OK);
    CHECK(d.lo < w[0] && d.hi > w[n - 1] && d.products == 0);
    CHECK_CLOSE(d.sigma, 0.01 * (d.hi - d.lo), 1e-14, 0);
    double *ref = calloc((size_t)d.points, sizeof *ref), mass = 0, err = 0, mx = 0;
    for (int i = 0; i < d.points; i++)
        for (int64_t j = 0; j < n; j++) {
            double z = (d.grid[i] - w[j]) / d.sigma;
            ref[i] += exp(-0.5 * z * z) / (sqrt(2 * 3.14159265358979323846) * d.sigma * n);
        }
    for (int i = 0; i + 1 < d.points; i++)
        mass += 0.5 * (ref[i] + ref[i + 1]) * (d.grid[i + 1] - d.grid[i]);
    for (int i = 0; i < d.points; i++) {
        err = fmax(err, fabs(d.density[i] - ref[i] / mass));
        mx = fmax(mx, ref[i] / mass);
    }
    /* the dense zero eigenvalues are ~1e-17, not 0: far below 1e-9 of the kernel's width */
    CHECK_MSG(err <= 1e-9 * mx, "exact density of G_means vs dense eigenvalues: %.3g", err / mx);
    free(ref);
    hesse_density_free(&d);
}

static void run(hesse_loss_kind loss) {
    const int C = 3;
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(4,5),tanh,linear(5,3)", 1, 2, 2, loss, &m) ==
            HESSE_OK);
    hesse_model_init(m, 21);
    const int64_t n = hesse_model_num_params(m);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(NS, 1, 2, 2, C, &s) == HESSE_OK);
    hesse_rng r;
    hesse_rng_seed(&r, 8);
    for (int i = 0; i < NS * 4; i++) s.x[i] = hesse_rng_normal(&r);
    const int32_t labels[NS] = {0, 1, 2, 0, 0, 1, 2, 2, 0, 1, 0, 0}; /* 6, 3, 3 */
    memcpy(s.y, labels, sizeof labels);
    hesse_engine_params ep = hesse_engine_defaults();
    ep.chunk = 5;
    ep.max_block = 8;
    ep.threads = 3; /* class means through the workers' backward passes */
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, &ep, &e) == HESSE_OK);

    /* per-sample deltas from finite-difference Jacobians */
    double *theta = hesse_model_params(m), Z[NS * 3], Zp[NS * 3], Zm[NS * 3];
    double *J = malloc((size_t)(NS * C * n) * sizeof *J);
    REQUIRE(hesse_forward(e, &s, Z) == HESSE_OK);
    for (int64_t p = 0; p < n; p++) {
        double t = theta[p];
        theta[p] = t + 1e-5;
        REQUIRE(hesse_forward(e, &s, Zp) == HESSE_OK);
        theta[p] = t - 1e-5;
        REQUIRE(hesse_forward(e, &s, Zm) == HESSE_OK);
        theta[p] = t;
        for (int k = 0; k < NS * C; k++) J[(int64_t)k * n + p] = (Zp[k] - Zm[k]) / 2e-5;
    }
    double *D = calloc((size_t)(NS * C * n), sizeof *D); /* delta_{i,c'} at (i*C + c') * n */
    for (int i = 0; i < NS; i++) {
        double pr[3], mx = fmax(Z[i * 3], fmax(Z[i * 3 + 1], Z[i * 3 + 2])), sum = 0;
        for (int c = 0; c < C; c++) sum += pr[c] = exp(Z[i * 3 + c] - mx);
        for (int c = 0; c < C; c++) pr[c] /= sum;
        for (int c1 = 0; c1 < C; c1++)
            for (int c = 0; c < C; c++) {
                double g = loss == HESSE_LOSS_MSE ? (c == c1 ? sqrt(2.0 / C) : 0.0)
                                                  : sqrt(pr[c1]) * ((c == c1) - pr[c]);
                for (int64_t p = 0; p < n; p++)
                    D[(int64_t)(i * C + c1) * n + p] += g * J[(int64_t)(i * C + c) * n + p];
            }
    }
    /* class means, G_means and G_within assembled densely */
    double pi[3] = {6.0 / NS, 3.0 / NS, 3.0 / NS}, nc[3] = {6, 3, 3};
    double *mean = calloc((size_t)(C * C * n), sizeof *mean);
    for (int i = 0; i < NS; i++)
        for (int c1 = 0; c1 < C; c1++)
            for (int64_t p = 0; p < n; p++)
                mean[(int64_t)(labels[i] * C + c1) * n + p] +=
                    D[(int64_t)(i * C + c1) * n + p] / nc[labels[i]];
    double *Gm = calloc((size_t)(n * n), sizeof *Gm), *Gw = calloc((size_t)(n * n), sizeof *Gw);
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = mean + (int64_t)(c * C + c1) * n;
            for (int64_t a = 0; a < n; a++)
                for (int64_t b = 0; b < n; b++) Gm[a * n + b] += pi[c] * d[a] * d[b];
        }
    for (int i = 0; i < NS; i++)
        for (int c1 = 0; c1 < C; c1++) {
            const double *d = D + (int64_t)(i * C + c1) * n,
                         *mu = mean + (int64_t)(labels[i] * C + c1) * n;
            for (int64_t a = 0; a < n; a++)
                for (int64_t b = 0; b < n; b++)
                    Gw[a * n + b] += (d[a] - mu[a]) * (d[b] - mu[b]) / NS;
        }

    hesse_class_means cm;
    REQUIRE(hesse_class_means_compute(e, &s, &cm) == HESSE_OK);
    CHECK(cm.C == C && cm.counts[0] == 6 && cm.pi[1] == 3.0 / NS && cm.passes == C * C);
    double err = 0, scale = 0;
    for (int64_t k = 0; k < C * C * n; k++) {
        err = fmax(err, fabs(cm.delta[k] - mean[k]));
        scale = fmax(scale, fabs(mean[k]));
    }
    /* finite-difference Jacobians: 1e-8 of the largest mean is a safe margin over ~1e-10 */
    CHECK_MSG(err <= 1e-8 * scale, "class means vs finite differences: %.3g", err / scale);

    /* Gram spectrum = the dense top C^2 eigenvalues of G_means */
    double *w = malloc((size_t)n * sizeof *w), *A = malloc((size_t)(n * n) * sizeof *A);
    memcpy(A, Gm, (size_t)(n * n) * sizeof *A);
    REQUIRE(LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, w) == 0);
    double *vals = NULL, *basis = malloc((size_t)(3 * n) * sizeof *basis);
    int count = 0;
    REQUIRE(hesse_class_spectrum(&cm, HESSE_MEANS_ALL, &vals, &count, 3, basis) == HESSE_OK);
    CHECK(count == C * C);
    double ev_err = 0;
    for (int j = 0; j < count; j++) ev_err = fmax(ev_err, fabs(vals[j] - w[n - 1 - j]));
    CHECK_MSG(ev_err <= 1e-8 * w[n - 1], "Gram spectrum vs dense G_means: %.3g", ev_err / w[n - 1]);
    /* the averaging basis spans the dense top 3 eigenvectors */
    double ov = hesse_subspace_overlap(n, 3, basis, 3, A + (n - 3) * n);
    CHECK_MSG(ov > 1 - 1e-8, "averaging basis overlap %.12f", ov);
    double tr_all = 0, tr_parts = 0;
    for (int j = 0; j < count; j++) tr_all += vals[j];
    hesse_free(vals);
    for (int part = HESSE_MEANS_CLASS; part <= HESSE_MEANS_CROSS; part++) {
        REQUIRE(hesse_class_spectrum(&cm, (hesse_means_part)part, &vals, &count, 0, NULL) ==
                HESSE_OK);
        CHECK(count == (part == HESSE_MEANS_CLASS ? C : C * (C - 1)));
        for (int j = 0; j < count; j++) tr_parts += vals[j];
        hesse_free(vals);
    }
    CHECK_CLOSE(tr_all, tr_parts, 1e-12, 1e-300); /* tr G_means = tr G_class + tr G_cross */

    /* G_means + G_within = G (exact products) */
    hesse_op G;
    REQUIRE(hesse_op_curvature(e, &s, HESSE_CURV_GGN, &G) == HESSE_OK);
    double *Gd = malloc((size_t)(n * n) * sizeof *Gd);
    REQUIRE(hesse_op_to_dense(&G, 8, Gd, NULL, NULL) == HESSE_OK);
    double gerr = 0, gmax = 0;
    for (int64_t k = 0; k < n * n; k++) {
        gerr = fmax(gerr, fabs(Gm[k] + Gw[k] - Gd[k]));
        gmax = fmax(gmax, fabs(Gd[k]));
    }
    CHECK_MSG(gerr <= 1e-8 * gmax, "G_means + G_within vs G: %.3g", gerr / gmax);

    /* the G_means operator is S S^T */
    hesse_op Mop;
    REQUIRE(hesse_op_class_means(&cm, HESSE_MEANS_ALL, &Mop) == HESSE_OK);
    REQUIRE(hesse_op_to_dense(&Mop, 4, A, NULL, NULL) == HESSE_OK);
    double merr = 0;
    for (int64_t k = 0; k < n * n; k++) merr = fmax(merr, fabs(A[k] - Gm[k]));
    CHECK_MSG(merr <= 1e-8 * w[n - 1], "G_means operator: %.3g", merr / w[n - 1]);

    dense_within(&G, &Mop, Gw, n);
    dense_twoway(&cm, mean, pi, Gm, n);
    dense_density(&cm, w, n);

    hesse_op_free(&Mop);
    hesse_op_free(&G);
    hesse_class_means_free(&cm);
    free(Gd);
    free(w);
    free(A);
    free(basis);
    free(J);
    free(D);
    free(mean);
    free(Gm);
    free(Gw);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

/* One output: no decomposition into classes; a clear error, not an empty or failed eigensolve
 * later. */
static void one_output(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("flatten,linear(4,1)", 1, 2, 2, HESSE_LOSS_MSE, &m) == HESSE_OK);
    hesse_model_init(m, 1);
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(4, 1, 2, 2, 1, &s) == HESSE_OK);
    for (int i = 0; i < 16; i++) s.x[i] = 0.25 * i;
    for (int i = 0; i < 4; i++) s.y[i] = 0;
    hesse_engine *e = NULL;
    REQUIRE(hesse_engine_create(m, NULL, &e) == HESSE_OK);
    hesse_class_means cm;
    CHECK(hesse_class_means_compute(e, &s, &cm) == HESSE_EINVAL);
    CHECK(strstr(hesse_last_error(), "needs at least 2 classes") != NULL);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_model_free(m);
}

/* The two-way split on constructed means with a known answer: an exactly additive table
 * (interaction 0, each effect's share in closed form), a pure interaction (share 1), and
 * Papyan's G_2 = 0 when every cross-class mean of a class is the same vector. */
static void twoway_closed_forms(void) {
    enum { C = 3, N = 5 };
    const double pi[C] = {0.5, 0.3, 0.2};
    double mu[N], a[C][N], b[C][N], z[N];
    hesse_rng r;
    hesse_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) {
        mu[i] = hesse_rng_normal(&r);
        z[i] = hesse_rng_normal(&r);
        for (int c = 0; c < C; c++) {
            a[c][i] = hesse_rng_normal(&r);
            b[c][i] = hesse_rng_normal(&r);
        }
    }
    /* centre: sum_c pi_c a_c = 0, sum_c' b_c' = 0 */
    for (int i = 0; i < N; i++) {
        double ma = 0, mb = 0;
        for (int c = 0; c < C; c++) {
            ma += pi[c] * a[c][i];
            mb += b[c][i] / C;
        }
        for (int c = 0; c < C; c++) {
            a[c][i] -= ma;
            b[c][i] -= mb;
        }
    }
    double delta[C * C * N], mu2 = 0, a2 = 0, b2 = 0;
    int64_t counts[C] = {5, 3, 2};
    double pis[C] = {pi[0], pi[1], pi[2]};
    hesse_class_means cm = {C, N, counts, pis, delta, 0};
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++)
            for (int i = 0; i < N; i++) delta[(c * C + c1) * N + i] = mu[i] + a[c][i] + b[c1][i];
    for (int i = 0; i < N; i++) {
        mu2 += mu[i] * mu[i];
        for (int c = 0; c < C; c++) {
            a2 += pi[c] * a[c][i] * a[c][i];
            b2 += b[c][i] * b[c][i];
        }
    }
    hesse_means_twoway t;
    REQUIRE(hesse_class_means_twoway(&cm, &t) == HESSE_OK);
    CHECK_CLOSE(t.grand_mean, C * mu2, 1e-13, 0);
    CHECK_CLOSE(t.class_effect, C * a2, 1e-13, 0);
    CHECK_CLOSE(t.label_effect, b2, 1e-13, 0);
    CHECK_MSG(t.interaction <= 1e-26 * t.total, "additive table: interaction %.3g of %.3g",
              t.interaction, t.total);
    CHECK_CLOSE(t.total, C * mu2 + C * a2 + b2, 1e-13, 0); /* orthogonality */

    /* pure interaction r_{c,c'} = u_c v_c' z with sum_c pi_c u_c = 0, sum_c' v_c' = 0 */
    const double u[C] = {0.4, -1.0, 0.5}, v[C] = {1.0, -2.0, 1.0}; /* 0.2 - 0.3 + 0.1 = 0 */
    double z2 = 0, uv = 0;
    for (int i = 0; i < N; i++) z2 += z[i] * z[i];
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++) {
            uv += pi[c] * u[c] * u[c] * v[c1] * v[c1];
            for (int i = 0; i < N; i++) delta[(c * C + c1) * N + i] = u[c] * v[c1] * z[i];
        }
    REQUIRE(hesse_class_means_twoway(&cm, &t) == HESSE_OK);
    CHECK_CLOSE(t.interaction, uv * z2, 1e-13, 0);
    CHECK_CLOSE(t.total, uv * z2, 1e-13, 0);
    CHECK(t.grand_mean + t.class_effect + t.label_effect <= 1e-26 * t.total);

    /* Papyan's split: delta_{c,c'} = m_c for every c' != c leaves G_2 = 0 and G_1 = sum_c pi_c
     * (C - 1) ||m_c||^2; the class terms are sum_c pi_c ||delta_{c,c}||^2 */
    double g1 = 0, g0 = 0;
    for (int c = 0; c < C; c++)
        for (int c1 = 0; c1 < C; c1++)
            for (int i = 0; i < N; i++) {
                double x = c1 == c ? b[c][i] : a[c][i];
                delta[(c * C + c1) * N + i] = x;
                if (c1 == c) g0 += pi[c] * x * x;
                if (c1 == (c + 1) % C) g1 += pi[c] * (C - 1) * x * x;
            }
    REQUIRE(hesse_class_means_twoway(&cm, &t) == HESSE_OK);
    CHECK_CLOSE(t.class_terms, g0, 1e-13, 0);
    CHECK_CLOSE(t.cross_class_means, g1, 1e-13, 0);
    CHECK(t.cross_deviations <= 1e-26 * t.total);
    CHECK_CLOSE(t.total, g0 + g1, 1e-13, 0);
}

int main(void) {
    run(HESSE_LOSS_CROSS_ENTROPY);
    run(HESSE_LOSS_MSE);
    one_output();
    twoway_closed_forms();
    return test_summary("test_classes");
}
