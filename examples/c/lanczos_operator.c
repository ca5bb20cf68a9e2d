/* hesse's Lanczos solver on an operator of your own: the 1-D Laplacian T = tridiag(-1, 2, -1)
 * of order n, whose eigenvalues are known in closed form, lambda_j = 2 - 2 cos(j pi / (n + 1)).
 * The solver sees only the block callback below, never a network: any symmetric operator that
 * can multiply a block of vectors works the same way (hesse/op.h, hesse/spectral.h).
 * Build: cc lanczos_operator.c $(pkg-config --cflags --libs hesse) -lm, or see CMakeLists.txt.
 * Usage: lanczos_operator [N [K]]: the K largest and K smallest eigenvalues (default 200, 3). */
#include <hesse/hesse.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Y = T X for a block of k vectors, column-major with leading dimension n. */
static int laplacian(void *ctx, int k, const double *X, double *Y) {
    const int64_t n = *(const int64_t *)ctx;
    for (int c = 0; c < k; c++) {
        const double *x = X + (size_t)c * n;
        double *y = Y + (size_t)c * n;
        for (int64_t i = 0; i < n; i++)
            y[i] = 2 * x[i] - (i > 0 ? x[i - 1] : 0) - (i + 1 < n ? x[i + 1] : 0);
    }
    return HESSE_OK;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 200;
    int k = argc > 2 ? atoi(argv[2]) : 3;
    if (n < 2 || k < 1 || 2 * (int64_t)k > n) {
        fprintf(stderr, "usage: %s [N [K]] with N >= 2 and 1 <= K <= N/2\n", argv[0]);
        return 2;
    }
    hesse_op T = {.n = n, .apply = laplacian, .ctx = &n}; /* ctx borrowed: free_ctx = NULL */
    hesse_lanczos_params p = hesse_lanczos_defaults();    /* tolerance 1e-8 relative to ||T|| */
    p.top = k;
    p.bottom = k;
    hesse_eigs r = {0};
    int rc = hesse_lanczos_eigs(&T, &p, &r);
    if (rc != HESSE_OK) {
        fprintf(stderr, "lanczos_operator: %s: %s\n", hesse_strerror(rc), hesse_last_error());
        return 1;
    }
    const double pi = acos(-1.0);
    for (int i = 0; i < r.ntop + r.nbottom; i++) {
        int64_t j = i < r.ntop ? n - i : i - r.ntop + 1; /* top: n, n-1, ...; bottom: 1, 2, ... */
        double exact = 2 - 2 * cos((double)j * pi / (double)(n + 1));
        printf("%s lambda_%lld = %.17g  exact %.17g  residual %.3e\n",
               i < r.ntop ? "top" : "bottom", (long long)j, r.values[i], exact, r.residuals[i]);
    }
    printf("converged %d of %d, ||T|| ~ %.17g, products %lld, restarts %d\n", r.nconverged,
           r.ntop + r.nbottom, r.anorm, (long long)r.products, r.restarts);
    hesse_eigs_free(&r);
    return 0;
}
