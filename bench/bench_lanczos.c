/* Where the time of Lanczos goes when products are cheap: a diagonal operator of size n and a
 * basis of m vectors, so that full reorthogonalisation (2 dgemv passes over the basis per
 * step) dominates. Reports the split between products, reorthogonalisation and restarts.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/bench_lanczos.c \
 *      build/libhesse_spectral.a $(pkg-config --libs openblas lapacke) -lm -o bench_lanczos
 *   OPENBLAS_NUM_THREADS=1 ./bench_lanczos [n = 1000000] [basis = 200] [top = 20] [bottom = 0]
 *
 * The bottom of 1/k is a cluster (gaps ~ 1/n^2) that does not converge: with bottom > 0 the
 * run is capped at 3 restarts, so every cycle expands the whole basis.
 *
 * Not part of the test suite (no timed assertions). */
#include <hesse/op.h>
#include <hesse/spectral.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    hesse_blas_prepare(argc, argv);
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int basis = argc > 2 ? atoi(argv[2]) : 200;
    int top = argc > 3 ? atoi(argv[3]) : 20;
    int bottom = argc > 4 ? atoi(argv[4]) : 0;
    double *d = malloc(sizeof(double) * (size_t)n);
    if (!d) return 1;
    for (long i = 0; i < n; i++) d[i] = 1.0 / (double)(i + 1); /* power law 1/k */
    hesse_op op;
    if (hesse_op_diag(n, d, &op) != HESSE_OK) return 1;
    hesse_blas_info info;
    hesse_blas_get_info(&info);
    printf("n = %ld, basis %d, top %d; BLAS core %s, %d thread(s), CPU %s\n", n, basis, top,
           info.core, info.threads, info.cpu_model);

    /* 1. one Lanczos run of `basis` steps with full reorthogonalisation */
    double *alpha = malloc(sizeof(double) * basis), *beta = malloc(sizeof(double) * basis);
    hesse_op_stats st = {0, 0, 0};
    double t0 = hesse_now();
    int steps = 0;
    int rc = hesse_lanczos_tridiag(&op, NULL, 1, basis, 1, alpha, beta, NULL, &steps, &st);
    double total = hesse_now() - t0;
    if (rc != HESSE_OK) {
        fprintf(stderr, "%s\n", hesse_last_error());
        return 1;
    }
    printf("tridiag  %d steps: %.2f s total, products %.2f s (%lld), reorth + recurrence %.2f s\n",
           steps, total, st.seconds, (long long)st.products, total - st.seconds);

    /* 2. thick-restart Lanczos with the same basis */
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.basis = basis;
    if (bottom > 0) p.max_restarts = 3;
    hesse_eigs r;
    rc = hesse_lanczos_eigs(&op, &p, &r);
    if (rc != HESSE_OK) {
        fprintf(stderr, "%s\n", hesse_last_error());
        return 1;
    }
    printf(
        "trlan    top %d bottom %d: %.2f s total, products %.2f s (%lld), reorth %.2f s, restart "
        "%.2f s, %d restarts, %d fresh starts, %d/%d converged, lambda_1 = %.15g\n",
        top, bottom, r.seconds, r.seconds_products, (long long)r.products, r.seconds_ortho,
        r.seconds_restart, r.restarts, r.fresh_starts, r.nconverged, top + bottom, r.values[0]);
    hesse_eigs_free(&r);
    hesse_op_free(&op);
    free(alpha);
    free(beta);
    free(d);
    return 0;
}
