/* Warm-started against cold Lanczos over a sequence of slowly changing operators with a
 * Hessian-like spectrum: ten outliers (40 .. 4.8) that grow by 1% a measurement (progressive
 * sharpening), a positive power-law bulk 0.5/k with a negative tail -0.1/k on 2% of it, and one
 * bulk eigenvalue that rises from 2 by `rise` per measurement, crossing into the top 5 from
 * outside the old span. A_t = Q_t D_t Q_t^T, Q_t a product of 4 Householder reflections
 * whose vectors drift by `drift` (relative) per measurement, so the eigenvectors turn by
 * about that much. Each measurement runs cold (seed t) and warm (from the previous warm
 * run's top-k vectors) with the same settings and checks that both give the same values.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/bench_warm.c -Itests \
 *      build/libhesse_spectral.a $(pkg-config --libs openblas lapacke) -lm -o bench_warm
 *   OPENBLAS_NUM_THREADS=1 ./bench_warm [n = 20000] [top = 5] [drift = 1e-2] [verify = 0]
 *                                       [measurements = 25] [tol = 1e-8] [rise = 0.25]
 *
 * Not part of the test suite (no timed assertions). */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <stdio.h>

#include "spectral_testops.h" /* qdq_apply: Q D Q^T with Householder reflections */

enum { NREF = 4 };

/* The drifting reflection vectors: u = normalise(u0 + drift t w), in q.u (qdq_apply). */
typedef struct {
    qdq_ctx q;
    double *d, *u0, *w;
} seq_op;

/* The operator of measurement t. */
static void seq_set(seq_op *s, int t, double drift, double rise) {
    int n = s->q.n;
    static const double out[] = {40, 30, 22, 17, 13, 10, 8, 6.5, 5.5, 4.8};
    for (int i = 0; i < 10; i++) s->d[i] = out[i] * (1.0 + 0.01 * t);
    int bulk = n - 10, neg = bulk / 50;
    for (int i = 0; i < bulk - neg; i++) s->d[10 + i] = 0.5 / (i + 1);
    for (int i = 0; i < neg; i++) s->d[n - neg + i] = -0.1 / (i + 1);
    s->d[n / 2] = 2.0 + rise * t; /* the riser, from inside the bulk */
    for (int r = 0; r < NREF; r++) {
        double *u = s->q.u + (size_t)r * n;
        for (int i = 0; i < n; i++)
            u[i] = s->u0[(size_t)r * n + i] + drift * t * s->w[(size_t)r * n + i];
        cblas_dscal(n, 1.0 / cblas_dnrm2(n, u, 1), u, 1);
    }
}

int main(int argc, char **argv) {
    hesse_blas_prepare(argc, argv);
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    int top = argc > 2 ? atoi(argv[2]) : 5;
    double drift = argc > 3 ? atof(argv[3]) : 1e-2;
    int verify = argc > 4 ? atoi(argv[4]) : 0;
    int meas = argc > 5 ? atoi(argv[5]) : 25;
    double tol = argc > 6 ? atof(argv[6]) : 1e-8;
    double rise = argc > 7 ? atof(argv[7]) : 0.25;
    seq_op s = {{n, NREF, NULL, NULL, NULL, 0}, NULL, NULL, NULL};
    s.d = malloc(sizeof(double) * (size_t)n);
    s.q.d = s.d;
    s.u0 = malloc(sizeof(double) * (size_t)n * NREF);
    s.w = malloc(sizeof(double) * (size_t)n * NREF);
    s.q.u = malloc(sizeof(double) * (size_t)n * NREF);
    hesse_rng rng;
    hesse_rng_seed(&rng, 12345);
    for (size_t i = 0; i < (size_t)n * NREF; i++) s.u0[i] = hesse_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)n * NREF; i++) s.w[i] = hesse_rng_normal(&rng);
    hesse_op op = {n, qdq_apply, &s.q, 0, NULL, 0};
    double *prev = malloc(sizeof(double) * (size_t)n * top);
    int have_prev = 0;
    long long tot_cold = 0, tot_warm = 0;
    double worst_diff = 0.0;
    printf("n %d, top %d, drift %g, rise %g, verify %d, tol %g\n", n, top, drift, rise, verify,
           tol);
    printf("  t   cold   warm   ratio   lambda_1      lambda_k      max rel diff\n");
    for (int t = 0; t < meas; t++) {
        seq_set(&s, t, drift, rise);
        hesse_lanczos_params p = hesse_lanczos_defaults();
        p.top = top;
        p.tol = tol;
        p.verify = verify;
        p.seed = (uint64_t)t + 1;
        hesse_eigs cold, warm;
        if (hesse_lanczos_eigs(&op, &p, &cold) != HESSE_OK) goto fail;
        if (have_prev) {
            p.start = prev;
            p.nstart = top;
        }
        if (hesse_lanczos_eigs(&op, &p, &warm) != HESSE_OK) goto fail;
        double diff = 0.0;
        for (int i = 0; i < top; i++)
            diff = fmax(diff, fabs(cold.values[i] - warm.values[i]) / fabs(cold.values[i]));
        worst_diff = fmax(worst_diff, diff);
        memcpy(prev, warm.vectors, sizeof(double) * (size_t)n * top);
        have_prev = 1;
        if (t > 0) { /* the first measurement has nothing to start from */
            tot_cold += cold.products;
            tot_warm += warm.products;
        }
        printf("%3d %6lld %6lld %7.3f %12.6f %12.6f %12.2e%s\n", t, (long long)cold.products,
               (long long)warm.products, (double)warm.products / (double)cold.products,
               warm.values[0], warm.values[top - 1], diff,
               warm.nconverged < top || cold.nconverged < top ? "  (not converged)" : "");
        hesse_eigs_free(&cold);
        hesse_eigs_free(&warm);
    }
    printf("total over measurements 1 .. %d: cold %lld, warm %lld, warm / cold %.3f; max relative "
           "difference of the values %.2e\n",
           meas - 1, tot_cold, tot_warm, (double)tot_warm / (double)tot_cold, worst_diff);
    return 0;
fail:
    fprintf(stderr, "%s\n", hesse_last_error());
    return 1;
}
