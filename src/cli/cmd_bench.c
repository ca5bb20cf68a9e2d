/* hesse bench: median times of the gradient and the Hessian-vector product on the standard
 * cases, random weights and data of MNIST shape, double precision. bench/compare.sh runs
 * bench/torch_hvp.py beside it for the ratio. */
#include "cli/cli.h"

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *arch;
} bench_cases[] = {
    {"mlp-small", "flatten,linear(784,100),relu,linear(100,100),relu,linear(100,10)"},
    {"mlp-large", "flatten,linear(784,1024),relu,linear(1024,1024),relu,linear(1024,10)"},
    {"lenet5", "conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),"
               "flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)"},
};
#define NUM_CASES (int)(sizeof bench_cases / sizeof bench_cases[0])

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Multiply-adds of one Hessian-vector product on `batch` samples, counted over the GEMMs of
 * the linear and conv2d layers (elementwise work, pooling and biases left out). A layer is a
 * GEMM of m = batch x output positions rows, a = inputs per output (in_features, or
 * in_channels kh kw) and b = outputs (out_features or out_channels); the product takes
 * forward 2mab, R-forward 4mab (2mab for the first layer: its input has no R-part),
 * backward to the input 2mab and R-backward 8mab (4mab to the weights, 4mab to the input);
 * the first parametrised layer skips every input term: 6mab, every other one 16mab. */
#define HVP_FLOPS_FORMULA                                                                          \
    "sum over linear/conv2d layers of c*m*a*b; m = batch*output positions, a = inputs per "        \
    "output (in_features or in_channels*kh*kw), b = outputs; c = 6 for the first layer "           \
    "(forward 2, R-forward 2, R-backward to weights 2), 16 for the others (forward 2, "            \
    "R-forward 4, backward to the input 2, R-backward 8)"

static double hvp_flops(const hesse_model *m, int batch) {
    double total = 0.0;
    int first = 1;
    for (int i = 0; i < hesse_model_num_layers(m); i++) {
        const hesse_layer *l = hesse_model_layer(m, i);
        if (l->kind != HESSE_LAYER_LINEAR && l->kind != HESSE_LAYER_CONV2D) continue;
        const double rows = (double)batch * l->out_h * l->out_w;
        const double a = l->kind == HESSE_LAYER_LINEAR ? (double)l->in_c * l->in_h * l->in_w
                                                       : (double)l->in_c * l->kh * l->kw;
        total += (first ? 6.0 : 16.0) * rows * a * (double)l->out_c;
        first = 0;
    }
    return total;
}

/* The reference rate: C = A B with square n x n doubles, median of `repeat` runs. */
static int dgemm_rate(int n, int repeat, cJSON *res) {
    double *A = hesse_alloc((size_t)n * n * sizeof *A), *B = hesse_alloc((size_t)n * n * sizeof *B);
    double *C = hesse_alloc((size_t)n * n * sizeof *C), *t = calloc((size_t)repeat, sizeof *t);
    int rc = HESSE_OK;
    if (!A || !B || !C || !t) {
        rc = hesse_error(HESSE_ENOMEM, "bench: out of memory for the %d x %d DGEMM", n, n);
        goto cleanup;
    }
    hesse_rng rng;
    hesse_rng_seed(&rng, 2);
    for (int64_t i = 0; i < (int64_t)n * n; i++) {
        A[i] = hesse_rng_uniform(&rng);
        B[i] = hesse_rng_uniform(&rng);
    }
    /* With the BLAS threads of the products, then with one thread: OpenBLAS's own threading
     * of one multiply can fall short of what the cores reach on independent ones (the
     * engine's workers each run single-threaded GEMMs). */
    hesse_blas_info bi;
    hesse_blas_get_info(&bi);
    const double flops = 2.0 * n * (double)n * n;
    double sec[2];
    for (int pass = 0; pass < 2; pass++) {
        hesse_blas_set_threads(pass == 0 ? bi.threads : 1);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
        for (int r = 0; r < repeat; r++) {
            double t0 = hesse_now();
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C,
                        n);
            t[r] = hesse_now() - t0;
        }
        sec[pass] = median(t, repeat);
    }
    hesse_blas_set_threads(bi.threads);
    cJSON *d = cJSON_AddObjectToObject(res, "dgemm");
    cJSON_AddNumberToObject(d, "n", n);
    cJSON_AddNumberToObject(d, "threads", bi.threads);
    cJSON_AddNumberToObject(d, "ms", 1e3 * sec[0]);
    cJSON_AddNumberToObject(d, "gflops", flops / sec[0] / 1e9);
    cJSON_AddNumberToObject(d, "ms_one_thread", 1e3 * sec[1]);
    cJSON_AddNumberToObject(d, "gflops_one_thread", flops / sec[1] / 1e9);
    cli_note("dgemm      n=%-8d %9.3f ms   %.1f GFLOP/s (%d threads), %.1f GFLOP/s (1 thread)", n,
             1e3 * sec[0], flops / sec[0] / 1e9, bi.threads, flops / sec[1] / 1e9);
cleanup:
    hesse_free(A);
    hesse_free(B);
    hesse_free(C);
    free(t);
    return rc;
}

static int run_case(int which, int batch, int repeat, int block, int threads, cJSON *cases) {
    hesse_model *m = NULL;
    hesse_engine *e = NULL, *ec = NULL, *e32 = NULL, *eb = NULL, *eb32 = NULL;
    hesse_samples s = {0};
    double *g = NULL, *V = NULL, *Y = NULL, *tg = NULL, *th = NULL, *tb = NULL, *tc = NULL;
    double *tf = NULL, *tbf = NULL;
    int rc;
    HESSE_CHECK(
        hesse_model_create(bench_cases[which].arch, 1, 28, 28, HESSE_LOSS_CROSS_ENTROPY, &m));
    hesse_model_init(m, 0);
    HESSE_CHECK(hesse_samples_alloc(batch, 1, 28, 28, 10, &s));
    hesse_rng rng;
    hesse_rng_seed(&rng, 1);
    for (int64_t i = 0; i < (int64_t)batch * 784; i++) s.x[i] = hesse_rng_uniform(&rng);
    for (int i = 0; i < batch; i++) s.y[i] = (int32_t)hesse_rng_below(&rng, 10);
    const int64_t n = hesse_model_num_params(m);
    const int kmax = block > 1 ? block : 1;
    hesse_engine_params ep = hesse_engine_defaults();
    ep.threads = threads;
    ep.cache = 0; /* cold products: forward, backward and R-passes every time */
    HESSE_CHECK(hesse_engine_create(m, &ep, &e));
    ep.cache = 1; /* repeated products on one batch, as in an eigensolver */
    HESSE_CHECK(hesse_engine_create(m, &ep, &ec));
    ep.cache = 0;
    ep.precision = HESSE_PRECISION_F32; /* cold products in single precision */
    HESSE_CHECK(hesse_engine_create(m, &ep, &e32));
    if (block > 1) { /* engines made for blocks: scratch for kmax vectors at once */
        ep.max_block = kmax;
        HESSE_CHECK(hesse_engine_create(m, &ep, &eb32));
        ep.precision = HESSE_PRECISION_F64;
        HESSE_CHECK(hesse_engine_create(m, &ep, &eb));
    }
    g = hesse_alloc((size_t)n * sizeof *g);
    V = hesse_alloc((size_t)n * kmax * sizeof *V);
    Y = hesse_alloc((size_t)n * kmax * sizeof *Y);
    tg = calloc((size_t)repeat, sizeof *tg);
    th = calloc((size_t)repeat, sizeof *th);
    tb = calloc((size_t)repeat, sizeof *tb);
    tc = calloc((size_t)repeat, sizeof *tc);
    tf = calloc((size_t)repeat, sizeof *tf);
    tbf = calloc((size_t)repeat, sizeof *tbf);
    if (!g || !V || !Y || !tg || !th || !tb || !tc || !tf || !tbf) {
        rc = hesse_error(HESSE_ENOMEM, "bench: out of memory");
        goto cleanup;
    }
    for (int64_t i = 0; i < n * kmax; i++) V[i] = hesse_rng_normal(&rng);
    double loss;
    /* one untimed warm-up of each, then `repeat` timed runs */
    HESSE_CHECK(hesse_loss_grad(e, &s, &loss, g, NULL));
    HESSE_CHECK(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 1, V, Y));
    HESSE_CHECK(hesse_curv_product(ec, &s, HESSE_CURV_HESSIAN, 1, V, Y)); /* fills the cache */
    HESSE_CHECK(hesse_curv_product(e32, &s, HESSE_CURV_HESSIAN, 1, V, Y));
    if (block > 1) {
        HESSE_CHECK(hesse_curv_product(eb, &s, HESSE_CURV_HESSIAN, block, V, Y));
        HESSE_CHECK(hesse_curv_product(eb32, &s, HESSE_CURV_HESSIAN, block, V, Y));
    }
    const double t_start = hesse_now();
    for (int r = 0; r < repeat; r++) {
        double t0 = hesse_now();
        HESSE_CHECK(hesse_loss_grad(e, &s, &loss, g, NULL));
        double t1 = hesse_now();
        HESSE_CHECK(hesse_curv_product(e, &s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t2 = hesse_now();
        tg[r] = 1e3 * (t1 - t0);
        th[r] = 1e3 * (t2 - t1);
        HESSE_CHECK(hesse_curv_product(ec, &s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t3 = hesse_now();
        tc[r] = 1e3 * (t3 - t2);
        HESSE_CHECK(hesse_curv_product(e32, &s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t4 = hesse_now();
        tf[r] = 1e3 * (t4 - t3);
        if (block > 1) {
            HESSE_CHECK(hesse_curv_product(eb, &s, HESSE_CURV_HESSIAN, block, V, Y));
            double t5 = hesse_now();
            tb[r] = 1e3 * (t5 - t4);
            HESSE_CHECK(hesse_curv_product(eb32, &s, HESSE_CURV_HESSIAN, block, V, Y));
            tbf[r] = 1e3 * (hesse_now() - t5);
        }
        const double elapsed = hesse_now() - t_start;
        hesse_progress p = {bench_cases[which].name, r + 1, repeat, elapsed, "", r + 1 == repeat};
        hesse_report_progress(&p);
    }
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "case", bench_cases[which].name);
    cJSON_AddStringToObject(row, "arch", hesse_model_arch(m));
    cJSON_AddNumberToObject(row, "n_params", (double)n);
    cJSON_AddNumberToObject(row, "batch", batch);
    hesse_json_add_doubles(row, "grad_ms_runs", tg, repeat);
    hesse_json_add_doubles(row, "hvp_ms_runs", th, repeat);
    hesse_json_add_doubles(row, "hvp_cached_ms_runs", tc, repeat);
    double mg = median(tg, repeat), mh = median(th, repeat), mc = median(tc, repeat);
    cJSON_AddNumberToObject(row, "grad_ms", mg);
    cJSON_AddNumberToObject(row, "hvp_ms", mh);
    cJSON_AddNumberToObject(row, "hvp_cached_ms", mc);
    const double flops = hvp_flops(m, batch);
    cJSON_AddNumberToObject(row, "hvp_flops", flops);
    cJSON_AddNumberToObject(row, "hvp_gflops", flops / mh / 1e6);
    cJSON_AddNumberToObject(row, "threads", hesse_engine_threads(e));
    cJSON_AddNumberToObject(row, "chunk", hesse_engine_chunk(e));
    cJSON_AddNumberToObject(row, "cache_bytes", (double)hesse_engine_cache_bytes(ec));
    double mf = median(tf, repeat);
    cJSON_AddNumberToObject(row, "hvp_f32_ms", mf);
    cJSON_AddNumberToObject(row, "f32_speedup", mh / mf);
    if (block > 1) {
        double mb = median(tb, repeat), mbf = median(tbf, repeat);
        cJSON_AddNumberToObject(row, "block", block);
        cJSON_AddNumberToObject(row, "block_per_pass", hesse_engine_max_block(eb));
        cJSON_AddNumberToObject(row, "hvp_block_ms", mb);
        cJSON_AddNumberToObject(row, "block_cost_in_hvps", mb / mh);
        cJSON_AddNumberToObject(row, "hvp_block_f32_ms", mbf);
        cJSON_AddNumberToObject(row, "block_f32_cost_in_hvps", mbf / mf);
    }
    cJSON_AddItemToArray(cases, row);
    cli_note("%-10s n=%-8lld grad %9.3f ms   hvp %9.3f ms   cached %9.3f ms   f32 %9.3f ms",
             bench_cases[which].name, (long long)n, mg, mh, mc, mf);
cleanup:
    free(tg);
    free(th);
    free(tb);
    free(tc);
    free(tf);
    free(tbf);
    hesse_free(g);
    hesse_free(V);
    hesse_free(Y);
    hesse_samples_free(&s);
    hesse_engine_free(e);
    hesse_engine_free(ec);
    hesse_engine_free(e32);
    hesse_engine_free(eb);
    hesse_engine_free(eb32);
    hesse_model_free(m);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    const char *which = NULL, *out = NULL;
    int batch = 1000, repeat = 5, block = 1, threads = 0, quiet = 0, dgemm = 2048;
    cli_opt opts[] = {
        {"case", 0, OPT_STRING, &which, "C", "mlp-small, mlp-large or lenet5 (default: all)",
         CLI_NO_RANGE, 0},
        {"batch", 0, OPT_INT, &batch, "B", "samples per product (default 1000)", 1, 1 << 20, 0},
        {"repeat", 0, OPT_INT, &repeat, "R", "timed runs; the median is reported (default 5)", 1,
         10000, 0},
        {"block", 0, OPT_INT, &block, "K", "also time a block of K products (default: off)", 1,
         1024, 0},
        {"dgemm", 0, OPT_INT, &dgemm, "N",
         "the reference rate: a square N x N DGEMM (default 2048; 0: skip)", 0, 16384, 0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "bench", "time gradients and Hessian-vector products on standard cases",
        "[--case mlp-small|mlp-large|lenet5] [--batch 1000] [--repeat R] "
        "[-o bench.json]",
        "Random weights (PyTorch's default init) and uniform random inputs of "
        "MNIST shape, 10 classes, cross-entropy, double precision. JSON keys per "
        "case: grad_ms, hvp_ms (medians), n_params, batch, hvp_flops (counted as "
        "hvp_flops_formula says) and hvp_gflops; dgemm: n, ms, gflops."};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("bench", rc);
    cli_apply_common(threads, quiet);
    int first = 0, last = NUM_CASES - 1;
    if (which) {
        first = -1;
        for (int i = 0; i < NUM_CASES; i++)
            if (strcmp(which, bench_cases[i].name) == 0) first = last = i;
        if (first < 0) {
            hesse_error(HESSE_EINVAL,
                        "option --case: expected mlp-small, mlp-large or lenet5, got '%s'", which);
            return cli_fail("bench", HESSE_EINVAL);
        }
    }
    if ((rc = cli_check_output(out, "option --output")) != HESSE_OK) return cli_fail("bench", rc);
    cJSON *res = hesse_result_new("bench", argc, argv);
    cJSON_AddStringToObject(res, "precision", "f64");
    cJSON_AddNumberToObject(res, "repeat", repeat);
    cJSON_AddStringToObject(res, "hvp_flops_formula", HVP_FLOPS_FORMULA);
    if (dgemm > 0) rc = dgemm_rate(dgemm, repeat, res);
    cJSON *cases = cJSON_AddArrayToObject(res, "cases");
    for (int i = first; i <= last && rc == HESSE_OK; i++)
        rc = run_case(i, batch, repeat, block, threads, cases);
    if (rc == HESSE_OK) rc = cli_emit(res, out);
    cJSON_Delete(res);
    return rc == HESSE_OK ? 0 : cli_fail("bench", rc);
}
