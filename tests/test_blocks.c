/* Block heterogeneity (src/analysis/blocks.c): the Jensen-Shannon distance on distributions
 * with closed-form answers, the rescaled density against its closed form, the partition of a
 * model's parameters, and the per-block measurements of a block-diagonal matrix against
 * LAPACK (dsyev, not the dsyevd the library calls) and against the closed-form JS of spectra
 * chosen so that SLQ's quadrature is exact. */
#include <hesse/analysis.h>

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- Jensen-Shannon distance ------------------------------------------------------------- */

static void test_js_closed_forms(void) {
    /* identical (and identical up to a factor: both are divided by their sums) -> 0 */
    double p[4] = {0.1, 0.2, 0.3, 0.4}, q[4] = {1, 2, 3, 4};
    CHECK(hesse_js_distance(4, p, p) == 0);
    CHECK_CLOSE(hesse_js_distance(4, p, q), 0, 1, 1e-7); /* sqrt of rounding, ~1e-8 */
    /* disjoint supports -> sqrt(ln 2) nats^(1/2), the maximum */
    double a[4] = {1, 2, 0, 0}, b[4] = {0, 0, 5, 1};
    CHECK_CLOSE(hesse_js_distance(4, a, b), sqrt(log(2.0)), 1e-14, 0);
    /* (1, 0) vs (1/2, 1/2): m = (3/4, 1/4), KL(p||m) = ln(4/3), KL(q||m) = (ln(2/3) + ln 2)/2,
     * JSD = 3/4 ln(4/3) */
    double c[2] = {1, 0}, d[2] = {0.5, 0.5};
    CHECK_CLOSE(hesse_js_distance(2, c, d), sqrt(0.75 * log(4.0 / 3.0)), 1e-14, 0);
    CHECK_CLOSE(hesse_js_distance(2, d, c), sqrt(0.75 * log(4.0 / 3.0)), 1e-14, 0);
    /* U[0, 1] vs U[0.5, 1.5] on a grid of cell midpoints over [0, 1.5]: half the mass of each
     * is shared, JSD = 2 x (1/2)(1/2) ln 2 = ln(2) / 2 exactly (the grid splits at 0.5 and 1) */
    enum { G = 3000 };
    static double u[G], v[G];
    for (int i = 0; i < G; i++) {
        double x = (i + 0.5) * 1.5 / G;
        u[i] = x < 1.0 ? 1.0 : 0.0;
        v[i] = x > 0.5 ? 1.0 : 0.0;
    }
    CHECK_CLOSE(hesse_js_distance(G, u, v), sqrt(0.5 * log(2.0)), 1e-13, 0);
    /* a Gaussian's underflowing tail: the smallest subnormal a against 0 makes m = a/2 round
     * to 0 and 0.5 a round to 0, and 0 x log(a / 0) is NaN unless such terms are skipped;
     * (1, 4.9e-324, 0) vs (0, 0, 1) is disjoint to within 1e-300 */
    double tail[3] = {1, 4.9406564584124654e-324, 0}, one[3] = {0, 0, 1};
    CHECK_CLOSE(hesse_js_distance(3, tail, one), sqrt(log(2.0)), 1e-14, 0);
    /* refusals: a negative value, an empty distribution */
    double neg[2] = {1, -1}, zero[2] = {0, 0};
    CHECK(isnan(hesse_js_distance(2, neg, d)));
    CHECK(isnan(hesse_js_distance(2, zero, d)));
}

/* A single node at value a with weight 1, rescaled by a, is a Gaussian of width sigma centred
 * at 1: peak 1/(sqrt(2 pi) sigma) there when the grid holds the whole Gaussian. */
static void test_rescaled_closed_form(void) {
    double node = 7.5, weight = 1;
    int nsteps = 1;
    hesse_density d = {0};
    d.probes = 1;
    d.steps = 1;
    d.nodes = &node;
    d.weights = &weight;
    d.nsteps = &nsteps;
    enum { P = 2001 };
    static double grid[P], out[P];
    for (int i = 0; i < P; i++) grid[i] = i * 2.0 / (P - 1); /* [0, 2], 1.0 at i = 1000 */
    const double sigma = 0.01;
    REQUIRE(hesse_density_rescaled(&d, node, P, grid, sigma, out) == HESSE_OK);
    /* the trapezoid rule on a Gaussian 10 spacings wide is exact to far below 1e-12, so the
     * normalisation leaves the peak at its analytic value */
    CHECK_CLOSE(out[1000], 1.0 / (sqrt(2 * 3.14159265358979323846) * sigma), 1e-12, 0);
    CHECK_CLOSE(out[1005], out[995], 1e-12, 0); /* centred at 1 */
    CHECK(out[999] < out[1000] && out[1001] < out[1000]);
    CHECK(hesse_density_rescaled(&d, -1, P, grid, sigma, out) == HESSE_EINVAL);
}

/* ---- The partition of a model's parameters ------------------------------------------------- */

static void test_partition(void) {
    hesse_model *m = NULL;
    REQUIRE(hesse_model_create("conv2d(1,2,3),relu,flatten,linear(8,3),relu,linear(3,2,bias=False)",
                               1, 4, 4, HESSE_LOSS_CROSS_ENTROPY, &m) == HESSE_OK);
    hesse_param_block *b = NULL;
    int n = 0;
    REQUIRE(hesse_param_blocks(m, HESSE_GROUP_TENSOR, &b, &n) == HESSE_OK);
    CHECK(n == 5);
    static const char *const names[] = {"0.weight", "0.bias", "3.weight", "3.bias", "5.weight"};
    static const int64_t counts[] = {18, 2, 24, 3, 6};
    for (int i = 0; i < n && i < 5; i++) {
        CHECK(strcmp(b[i].name, names[i]) == 0);
        CHECK(b[i].count == counts[i] && b[i].nranges == 1 && b[i].slice == -1);
        CHECK(b[i].offset[0] == hesse_model_tensor(m, i)->offset);
    }
    hesse_free(b);
    REQUIRE(hesse_param_blocks(m, HESSE_GROUP_LAYER, &b, &n) == HESSE_OK);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(strcmp(b[0].name, "0") == 0 && b[0].count == 20 && b[0].ntensors == 2);
        CHECK(strcmp(b[1].name, "3") == 0 && b[1].count == 27 && b[1].offset[0] == 20);
        CHECK(strcmp(b[2].name, "5") == 0 && b[2].count == 6 && b[2].nranges == 1);
    }
    hesse_free(b);
    /* no fused projection: qkv groups as tensor does */
    REQUIRE(hesse_param_blocks(m, HESSE_GROUP_QKV, &b, &n) == HESSE_OK);
    CHECK(n == 5);
    hesse_free(b);
    hesse_block_group g;
    CHECK(hesse_block_group_parse("qkv", &g) == HESSE_OK && g == HESSE_GROUP_QKV);
    CHECK(hesse_block_group_parse("heads", &g) == HESSE_EINVAL);
    hesse_model_free(m);
}

/* --group qkv on a tensor table with nn.MultiheadAttention(8, 2)'s names and shapes
 * (in_proj_weight [24, 8], in_proj_bias [24], out_proj.weight [8, 8], out_proj.bias [8]) after
 * a linear layer: the fused projections split into row slices of 64 and 8 parameters. */
static hesse_tensor_info tensor(const char *name, int layer, int ndim, int64_t d0, int64_t d1,
                                int64_t offset) {
    hesse_tensor_info t;
    memset(&t, 0, sizeof t);
    snprintf(t.name, sizeof t.name, "%s", name);
    t.layer = layer;
    t.ndim = ndim;
    t.shape[0] = d0;
    t.shape[1] = d1;
    t.offset = offset;
    t.count = ndim == 1 ? d0 : d0 * d1;
    return t;
}

static void test_partition_qkv(void) {
    const hesse_tensor_info t[] = {
        tensor("0.weight", 0, 2, 8, 4, 0),
        tensor("1.in_proj_weight", 1, 2, 24, 8, 32),
        tensor("1.in_proj_bias", 1, 1, 24, 0, 224),
        tensor("1.out_proj.weight", 1, 2, 8, 8, 248),
        tensor("1.out_proj.bias", 1, 1, 8, 0, 312),
        tensor("2.in_proj_weight", 2, 2, 24, 7, 320), /* not [3D, D]: stays whole */
    };
    hesse_param_block *b = NULL;
    int n = 0;
    REQUIRE(hesse_param_blocks_of(t, 6, NULL, HESSE_GROUP_QKV, &b, &n) == HESSE_OK);
    static const char *const names[] = {
        "0.weight",         "1.in_proj_weight.q", "1.in_proj_weight.k", "1.in_proj_weight.v",
        "1.in_proj_bias.q", "1.in_proj_bias.k",   "1.in_proj_bias.v",   "1.out_proj.weight",
        "1.out_proj.bias",  "2.in_proj_weight"};
    static const int64_t offsets[] = {0, 32, 96, 160, 224, 232, 240, 248, 312, 320};
    static const int64_t counts[] = {32, 64, 64, 64, 8, 8, 8, 64, 8, 168};
    CHECK(n == 10);
    for (int i = 0; i < n && i < 10; i++) {
        CHECK_MSG(strcmp(b[i].name, names[i]) == 0, "%s vs %s", b[i].name, names[i]);
        CHECK(b[i].offset[0] == offsets[i] && b[i].count == counts[i] && b[i].nranges == 1);
    }
    CHECK(n == 10 && b[1].slice == 0 && b[2].slice == 1 && b[6].slice == 2 && b[9].slice == -1);
    hesse_free(b);
    /* --group layer keeps the attention's four tensors together, in one range */
    const char *const layers[] = {"0", "1", "2"};
    REQUIRE(hesse_param_blocks_of(t, 6, layers, HESSE_GROUP_LAYER, &b, &n) == HESSE_OK);
    CHECK(n == 3 && strcmp(b[1].name, "1") == 0 && b[1].count == 288 && b[1].ntensors == 4 &&
          b[1].nranges == 1 && b[1].offset[0] == 32);
    hesse_free(b);
}

/* ---- Blocks of a block-diagonal matrix ------------------------------------------------------ */

enum { N1 = 100, N3 = 20, N4 = 12, N5 = 5, N6 = 10, NB = 6 };
static const int sizes[NB] = {N1, N1, N3, N4, N5, N6};

/* Block i's matrix (column-major, n x n): 0 = Q diag(1..100) Q^T with a Householder Q, 1 = 3 x
 * block 0, 2 = diag(1 x10, -5 x10), 3 = diag(10 x9, 1 x3), 4 = diag(1..5), 5 = diag(-1..-10). */
static void block_matrix(int i, double *B) {
    int n = sizes[i];
    memset(B, 0, (size_t)n * n * sizeof *B);
    if (i <= 1) {
        double v[N1], vv = 0;
        for (int k = 0; k < n; k++) v[k] = sin(1.0 + k), vv += v[k] * v[k];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++) {
                double s = 0; /* (Q D Q)_{rc}, Q = I - 2 v v^T / vv symmetric */
                for (int k = 0; k < n; k++) {
                    double qr = (r == k) - 2 * v[r] * v[k] / vv,
                           qc = (c == k) - 2 * v[c] * v[k] / vv;
                    s += qr * (k + 1.0) * qc;
                }
                B[r + (int64_t)c * n] = (i == 1 ? 3.0 : 1.0) * s;
            }
        return;
    }
    for (int k = 0; k < n; k++) {
        double e = i == 2   ? (k < 10 ? 1.0 : -5.0)
                   : i == 3 ? (k < 9 ? 10.0 : 1.0)
                   : i == 4 ? k + 1.0
                            : -(k + 1.0);
        B[k + (int64_t)k * n] = e;
    }
}

static void test_block_diagonal(void) {
    int64_t n = 0, off[NB];
    for (int i = 0; i < NB; i++) off[i] = n, n += sizes[i];
    double *A = calloc((size_t)(n * n), sizeof *A), *B = malloc((size_t)N1 * N1 * sizeof *B);
    REQUIRE(A && B);
    hesse_param_block defs[NB];
    for (int i = 0; i < NB; i++) {
        block_matrix(i, B);
        for (int c = 0; c < sizes[i]; c++)
            for (int r = 0; r < sizes[i]; r++)
                A[(off[i] + r) + (off[i] + c) * n] = B[r + (int64_t)c * sizes[i]];
        memset(&defs[i], 0, sizeof defs[i]);
        snprintf(defs[i].name, sizeof defs[i].name, "b%d", i);
        defs[i].slice = -1;
        defs[i].nranges = 1;
        defs[i].offset[0] = off[i];
        defs[i].length[0] = defs[i].count = sizes[i];
    }
    hesse_op op;
    REQUIRE(hesse_op_dense(n, A, &op) == HESSE_OK);
    hesse_blocks_params p = hesse_blocks_defaults();
    hesse_blocks r;
    REQUIRE(hesse_blocks_compute(&op, defs, NB, &p, &r) == HESSE_OK);
    REQUIRE(r.count == NB);

    /* top eigenvalues and the normalising 10th against LAPACK dsyev of each block; the trace
     * exactly (blocks up to 99 parameters) or within 4 standard errors (Hutch++ on block 0) */
    for (int i = 0; i < NB; i++) {
        int m = sizes[i];
        double w[N1];
        block_matrix(i, B);
        REQUIRE(LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'U', m, B, m, w) == 0);
        const hesse_block_result *b = &r.blocks[i];
        int k = m < 10 ? m : 10;
        CHECK(b->top.ntop == k);
        for (int j = 0; j < k && j < b->top.ntop; j++) /* Lanczos tol 1e-8 relative to ||A|| */
            CHECK_CLOSE(b->top.values[j], w[m - 1 - j], 1e-7, fabs(w[m - 1]));
        double tr = 0;
        for (int j = 0; j < m; j++) tr += w[j];
        CHECK(b->trace_exact == (m <= 99)); /* the exact trace up to trace_samples = 99 */
        if (b->trace_exact)
            CHECK_CLOSE(b->trace.trace, tr, 1e-12, 1);
        else
            CHECK_MSG(fabs(b->trace.trace - tr) <= 4 * b->trace.std_error + 1e-9 * fabs(tr),
                      "block %d trace %g vs %g (stderr %g)", i, b->trace.trace, tr,
                      b->trace.std_error);
        if (m >= 10 && w[m - 10] > 0) CHECK_CLOSE(b->lambda_ref, w[m - 10], 1e-7, fabs(w[m - 1]));
    }
    /* exclusions: block 4 has 5 parameters, block 5's 10th largest eigenvalue is -10 */
    CHECK(r.blocks[0].included && r.blocks[1].included && r.blocks[2].included &&
          r.blocks[3].included);
    CHECK(!r.blocks[4].included && r.blocks[4].excluded != NULL && isnan(r.blocks[4].lambda_ref));
    CHECK(!r.blocks[5].included && r.blocks[5].excluded != NULL);
    CHECK(isnan(r.js[4 * NB + 0]) && isnan(r.js[5 * NB + 5]));
    CHECK(r.pairs == 6);

    /* a block and 3 x itself (the same probes: the same seed, the same size) have the same
     * rescaled spectrum: JS = 0 up to the square root of rounding */
    CHECK_CLOSE(r.js[0 * NB + 1], 0, 1, 1e-6);
    /* blocks 2 and 3 are diagonal, so Rademacher probes give the exact weights: block 2 is
     * 1/2 at 1 and 1/2 at -5 (lambda_10 = 1), block 3 is 3/4 at 10/1 and 1/4 at 1 (lambda_10 =
     * 1). The Gaussians (sigma 0.002 of the grid) do not overlap: p = (1/2, 1/2, 0), q = (0,
     * 1/4, 3/4) over (-5, 1, 10), m = (1/4, 3/8, 3/8). Normalising by the top eigenvalue
     * instead would move block 3 to (0.1, 1) and change the answer. */
    double klp = 0.5 * log(2.0) + 0.5 * log(4.0 / 3.0),
           klq = 0.25 * log(2.0 / 3.0) + 0.75 * log(2.0);
    CHECK_CLOSE(r.js[2 * NB + 3], sqrt(0.5 * (klp + klq)), 1e-9, 0);
    CHECK(r.js[3 * NB + 2] == r.js[2 * NB + 3]);
    /* JS0 is the mean over the 6 included pairs */
    double sum = 0;
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++) sum += r.js[i * NB + j];
    CHECK_CLOSE(r.js0, sum / 6, 1e-15, 0);
    CHECK(r.products > 0);
    hesse_blocks_free(&r);
    /* --width: one Gaussian width in units of lambda_k for every block, grid spacing width / 5;
     * the peaks at -5, 1 and 10 stay apart, so the closed form holds again */
    p.width = 0.05;
    REQUIRE(hesse_blocks_compute(&op, defs, NB, &p, &r) == HESSE_OK);
    CHECK(r.sigma == 0.05 && r.points == (int)ceil((r.hi - r.lo) / 0.01) + 1);
    CHECK_CLOSE(r.grid[1] - r.grid[0], 0.01, 1e-3, 0); /* (hi - lo) / (points - 1) <= 0.01 */
    CHECK_CLOSE(r.js[2 * NB + 3], sqrt(0.5 * (klp + klq)), 1e-9, 0);
    hesse_blocks_free(&r);
    hesse_op_free(&op);
    free(A);
    free(B);
}

/* A block of rounding-level values (attention's key bias has an exact zero Hessian, whose
 * products are ~1e-18) is left out: its lambda_10 is noise, not a scale. Two blocks of 12:
 * diag(1..12) and 1e-18 diag(1..12); without the rule the second would be included and JS
 * between the two (the same rescaled spectrum) would be 0 over one pair. */
static void test_zero_block(void) {
    enum { M = 12 };
    double A[2 * M * 2 * M] = {0};
    for (int k = 0; k < M; k++) {
        A[k + k * 2 * M] = k + 1.0;
        A[(M + k) + (M + k) * 2 * M] = 1e-18 * (k + 1.0);
    }
    hesse_param_block defs[2];
    for (int i = 0; i < 2; i++) {
        memset(&defs[i], 0, sizeof defs[i]);
        snprintf(defs[i].name, sizeof defs[i].name, "z%d", i);
        defs[i].slice = -1;
        defs[i].nranges = 1;
        defs[i].offset[0] = i * M;
        defs[i].length[0] = defs[i].count = M;
    }
    hesse_op op;
    REQUIRE(hesse_op_dense(2 * M, A, &op) == HESSE_OK);
    hesse_blocks_params p = hesse_blocks_defaults();
    hesse_blocks r;
    REQUIRE(hesse_blocks_compute(&op, defs, 2, &p, &r) == HESSE_OK);
    CHECK(r.blocks[0].included);
    CHECK_MSG(!r.blocks[1].included && r.blocks[1].excluded &&
                  strstr(r.blocks[1].excluded, "zero block") != NULL,
              "the 1e-18 block is %s", r.blocks[1].included ? "included" : "excluded otherwise");
    CHECK(r.pairs == 0 && isnan(r.js0));
    hesse_blocks_free(&r);
    hesse_op_free(&op);
}

int main(void) {
    test_js_closed_forms();
    test_rescaled_closed_form();
    test_partition();
    test_partition_qkv();
    test_block_diagonal();
    test_zero_block();
    return test_summary("test_blocks");
}
