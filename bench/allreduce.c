/* The cost of the one reduction a distributed product makes: hesse_dist_sum (MPI_Allreduce
 * with MPI_SUM) of n doubles, timed over ranks started by mpirun, for n from 10^3 to 10^7.
 * Prints one JSON line per size: the median seconds of `reps` calls, and the bus bandwidth
 * 2 (P - 1)/P * 8 n / t that a ring allreduce moves per rank (docs/scaling.md).
 *
 *   mpicc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude bench/allreduce.c \
 *      build/libhesse.a $(pkg-config --libs openblas lapacke libcjson) -lz -lm -o allreduce
 *   mpirun -np 2 ./allreduce [reps = 20]
 *
 * Not part of the test suite (no timed assertions). */
#include <hesse/core.h>
#include <hesse/dist.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (hesse_dist_init(&argc, &argv) != HESSE_OK) {
        fprintf(stderr, "allreduce: %s\n", hesse_last_error());
        return 1;
    }
    const int reps = argc > 1 ? atoi(argv[1]) : 20;
    const int P = hesse_dist_size(), root = hesse_dist_rank() == 0;
    double t[64];
    if (reps < 1 || reps > 64) {
        fprintf(stderr, "allreduce: reps must be 1..64\n");
        return 1;
    }
    for (long n = 1000; n <= 10000000; n *= 10) {
        double *x = malloc((size_t)n * sizeof *x);
        if (!x) return 1;
        for (long i = 0; i < n; i++) x[i] = 1.0;
        hesse_dist_sum(NULL, x, n); /* warm-up: pages, connections */
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            if (hesse_dist_sum(NULL, x, n) != HESSE_OK) {
                fprintf(stderr, "allreduce: %s\n", hesse_last_error());
                return 1;
            }
            t[r] = now() - t0;
        }
        qsort(t, (size_t)reps, sizeof *t, cmp);
        const double med = t[reps / 2];
        if (root)
            printf("{\"ranks\": %d, \"doubles\": %ld, \"seconds\": %.6e, \"bus_gb_per_s\": %.3f}\n",
                   P, n, med, 2.0 * (P - 1) / P * 8.0 * (double)n / med / 1e9);
        free(x);
    }
    int code = 0, first = -1;
    hesse_dist_conclude(0, 5.0, &code, &first);
    hesse_dist_finalize();
    return 0;
}
