/* hesse bench: median times of the gradient and the Hessian-vector product on the standard
 * cases, random weights, double precision: three MNIST-shaped ones on uniform random images,
 * vit-tiny on Fashion-MNIST images and gpt-tiny on windows of a generated text.
 * bench/compare.sh runs bench/torch_hvp.py beside it for the ratio; --save-dir writes each
 * case's weights, batch, probe vector and products for it to check against. */
#include "cli/cli.h"

#include <cblas.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a case's batch comes from. */
enum { DATA_UNIFORM, DATA_FASHION, DATA_TEXT };

/* A case: its architecture, input shape (c, h, w), classes, labels per sample, data and the
 * batch it runs without --batch. */
static const struct {
    const char *name, *arch;
    int c, h, w, classes, targets, data, batch;
} bench_cases[] = {
    {"mlp-small", "flatten,linear(784,100),relu,linear(100,100),relu,linear(100,10)", 1, 28, 28, 10,
     1, DATA_UNIFORM, 1000},
    {"mlp-large", "flatten,linear(784,1024),relu,linear(1024,1024),relu,linear(1024,10)", 1, 28, 28,
     10, 1, DATA_UNIFORM, 1000},
    {"lenet5",
     "conv2d(1,6,5,padding=2),relu,maxpool2d(2),conv2d(6,16,5),relu,maxpool2d(2),"
     "flatten,linear(400,120),relu,linear(120,84),relu,linear(84,10)",
     1, 28, 28, 10, 1, DATA_UNIFORM, 1000},
    {"vit-tiny", "vit-tiny", 1, 28, 28, 10, 1, DATA_FASHION, 256},
    {"gpt-tiny", "gpt-tiny", 1, 64, 1, 256, 64, DATA_TEXT, 64},
};
#define CASE_NAMES "mlp-small, mlp-large, lenet5, vit-tiny or gpt-tiny"
#define NUM_CASES  (int)(sizeof bench_cases / sizeof bench_cases[0])

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
        /* a linear layer on a sequence (c, h, w): c*h positions of w features */
        const int tokens = l->kind == HESSE_LAYER_LINEAR && (l->in_h > 1 || l->in_w > 1);
        const double rows = (double)batch * (tokens ? l->out_c : 1) * l->out_h * l->out_w;
        const double a = l->kind == HESSE_LAYER_CONV2D ? (double)l->in_c * l->kh * l->kw
                         : tokens                      ? (double)l->in_w
                                                       : (double)l->in_c;
        total += (first ? 6.0 : 16.0) * rows * a * (double)(tokens ? 1 : l->out_c);
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

/* The option values of hesse bench (batch 0: each case's own). */
typedef struct {
    const char *which, *out, *save_dir;
    int batch, repeat, block, threads, quiet, dgemm;
} bench_args;

/* One case: the model, its batch and probe vectors, the engines it times (cold, cached,
 * f32 and, with --block, the block engines) and the times of the runs (ms). */
typedef struct {
    hesse_model *m;
    hesse_engine *e, *ec, *e32, *eb, *eb32;
    hesse_samples s;
    double *g, *V, *Y;
    double *tg, *th, *tc, *tf, *tb, *tbf;
    int64_t n;
    int batch;
    char data[96]; /* where the batch came from */
} bench_case;

/* A deterministic English-like text of len bytes: words drawn from a fixed list with the
 * generator, a full stop and a new line now and then. */
static void text_generate(hesse_rng *rng, unsigned char *t, int64_t len) {
    static const char *words[] = {
        "the",   "of",  "and",  "to",    "in",      "a",         "is",       "that",    "for",
        "it",    "as",  "was",  "with",  "be",      "by",        "on",       "not",     "he",
        "this",  "are", "or",   "his",   "from",    "at",        "which",    "but",     "have",
        "an",    "had", "they", "you",   "were",    "their",     "one",      "all",     "we",
        "can",   "her", "has",  "there", "been",    "if",        "more",     "when",    "will",
        "would", "who", "so",   "no",    "hessian", "curvature", "spectrum", "network", "loss"};
    const int nw = (int)(sizeof words / sizeof words[0]);
    int64_t i = 0;
    while (i < len) {
        const char *w = words[hesse_rng_below(rng, (uint64_t)nw)];
        for (; *w && i < len; w++) t[i++] = (unsigned char)*w;
        if (i < len) t[i++] = hesse_rng_below(rng, 12) == 0 ? '\n' : ' ';
    }
}

/* gpt-tiny's batch: window i holds bytes [iT, iT + T) of the generated text as ids and
 * [iT + 1, iT + T + 1) as targets. */
static int text_batch(int which, int batch, hesse_rng *rng, bench_case *bc) {
    const int T = bench_cases[which].h;
    int rc;
    HESSE_CHECK(hesse_samples_alloc_targets(batch, 1, T, 1, 256, T, &bc->s));
    const int64_t len = (int64_t)batch * T + 1;
    unsigned char *text = calloc((size_t)len, 1);
    if (!text) return hesse_error(HESSE_ENOMEM, "bench: out of memory for the text");
    text_generate(rng, text, len);
    for (int64_t i = 0; i < len - 1; i++) {
        bc->s.x[i] = text[i];
        bc->s.y[i] = text[i + 1];
    }
    free(text);
    snprintf(bc->data, sizeof bc->data, "generated text (seed 1), %d windows of %d bytes", batch,
             T);
cleanup:
    return rc;
}

/* vit-tiny's batch: the first `batch` Fashion-MNIST training images (pixels / 255); uniform
 * random images of the same shape when the data set is not installed. */
static int image_batch(int which, int batch, hesse_rng *rng, bench_case *bc) {
    hesse_dataset *ds = NULL;
    int rc = HESSE_OK;
    if (bench_cases[which].data == DATA_FASHION &&
        hesse_dataset_open("fashion-mnist", HESSE_SPLIT_TRAIN, &ds) == HESSE_OK) {
        hesse_selection sel = hesse_selection_defaults();
        sel.n = batch;
        rc = hesse_dataset_select(ds, &sel, NULL, &bc->s);
        hesse_dataset_free(ds);
        snprintf(bc->data, sizeof bc->data, "fashion-mnist/train, first %d", batch);
        return rc;
    }
    if (bench_cases[which].data == DATA_FASHION) {
        cli_note("bench: %s (uniform random images instead)", hesse_last_error());
        hesse_clear_error();
    }
    const int c = bench_cases[which].c, h = bench_cases[which].h, w = bench_cases[which].w;
    HESSE_CHECK(hesse_samples_alloc(batch, c, h, w, bench_cases[which].classes, &bc->s));
    for (int64_t i = 0; i < (int64_t)batch * c * h * w; i++) bc->s.x[i] = hesse_rng_uniform(rng);
    for (int i = 0; i < batch; i++)
        bc->s.y[i] = (int32_t)hesse_rng_below(rng, (uint64_t)bench_cases[which].classes);
    snprintf(bc->data, sizeof bc->data, "uniform random, %d samples", batch);
cleanup:
    return rc;
}

/* The model (seed 0), the batch, the engines and the buffers of case `which`. */
static int case_setup(const bench_args *a, int which, bench_case *bc) {
    const int repeat = a->repeat, block = a->block;
    const int batch = bc->batch = a->batch > 0 ? a->batch : bench_cases[which].batch;
    int rc;
    HESSE_CHECK(hesse_model_create(bench_cases[which].arch, bench_cases[which].c,
                                   bench_cases[which].h, bench_cases[which].w,
                                   HESSE_LOSS_CROSS_ENTROPY, &bc->m));
    hesse_model_init(bc->m, 0);
    hesse_rng rng;
    hesse_rng_seed(&rng, 1);
    if (bench_cases[which].data == DATA_TEXT)
        HESSE_CHECK(text_batch(which, batch, &rng, bc));
    else
        HESSE_CHECK(image_batch(which, batch, &rng, bc));
    const int64_t n = bc->n = hesse_model_num_params(bc->m);
    const int kmax = block > 1 ? block : 1;
    hesse_engine_params ep = hesse_engine_defaults();
    ep.threads = a->threads;
    ep.cache = 0; /* cold products: forward, backward and R-passes every time */
    HESSE_CHECK(hesse_engine_create(bc->m, &ep, &bc->e));
    ep.cache = 1; /* repeated products on one batch, as in an eigensolver */
    HESSE_CHECK(hesse_engine_create(bc->m, &ep, &bc->ec));
    ep.cache = 0;
    ep.precision = HESSE_PRECISION_F32; /* cold products in single precision */
    HESSE_CHECK(hesse_engine_create(bc->m, &ep, &bc->e32));
    if (block > 1) { /* engines made for blocks: scratch for kmax vectors at once */
        ep.max_block = kmax;
        HESSE_CHECK(hesse_engine_create(bc->m, &ep, &bc->eb32));
        ep.precision = HESSE_PRECISION_F64;
        HESSE_CHECK(hesse_engine_create(bc->m, &ep, &bc->eb));
    }
    bc->g = hesse_alloc((size_t)n * sizeof *bc->g);
    bc->V = hesse_alloc((size_t)n * kmax * sizeof *bc->V);
    bc->Y = hesse_alloc((size_t)n * kmax * sizeof *bc->Y);
    double **times[] = {&bc->tg, &bc->th, &bc->tb, &bc->tc, &bc->tf, &bc->tbf};
    for (int i = 0; i < 6; i++) *times[i] = calloc((size_t)repeat, sizeof **times[i]);
    if (!bc->g || !bc->V || !bc->Y || !bc->tg || !bc->th || !bc->tb || !bc->tc || !bc->tf ||
        !bc->tbf) {
        rc = hesse_error(HESSE_ENOMEM, "bench: out of memory");
        goto cleanup;
    }
    for (int64_t i = 0; i < n * kmax; i++) bc->V[i] = hesse_rng_normal(&rng);
cleanup:
    return rc;
}

/* One untimed warm-up of each product, then `repeat` timed runs. */
static int case_time(const bench_args *a, const char *name, bench_case *bc) {
    const int repeat = a->repeat, block = a->block;
    const hesse_samples *s = &bc->s;
    const double *V = bc->V;
    double *Y = bc->Y, loss;
    int rc;
    HESSE_CHECK(hesse_loss_grad(bc->e, s, &loss, bc->g, NULL));
    HESSE_CHECK(hesse_curv_product(bc->e, s, HESSE_CURV_HESSIAN, 1, V, Y));
    HESSE_CHECK(hesse_curv_product(bc->ec, s, HESSE_CURV_HESSIAN, 1, V, Y)); /* fills the cache */
    HESSE_CHECK(hesse_curv_product(bc->e32, s, HESSE_CURV_HESSIAN, 1, V, Y));
    if (block > 1) {
        HESSE_CHECK(hesse_curv_product(bc->eb, s, HESSE_CURV_HESSIAN, block, V, Y));
        HESSE_CHECK(hesse_curv_product(bc->eb32, s, HESSE_CURV_HESSIAN, block, V, Y));
    }
    const double t_start = hesse_now();
    for (int r = 0; r < repeat; r++) {
        double t0 = hesse_now();
        HESSE_CHECK(hesse_loss_grad(bc->e, s, &loss, bc->g, NULL));
        double t1 = hesse_now();
        HESSE_CHECK(hesse_curv_product(bc->e, s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t2 = hesse_now();
        bc->tg[r] = 1e3 * (t1 - t0);
        bc->th[r] = 1e3 * (t2 - t1);
        HESSE_CHECK(hesse_curv_product(bc->ec, s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t3 = hesse_now();
        bc->tc[r] = 1e3 * (t3 - t2);
        HESSE_CHECK(hesse_curv_product(bc->e32, s, HESSE_CURV_HESSIAN, 1, V, Y));
        double t4 = hesse_now();
        bc->tf[r] = 1e3 * (t4 - t3);
        if (block > 1) {
            HESSE_CHECK(hesse_curv_product(bc->eb, s, HESSE_CURV_HESSIAN, block, V, Y));
            double t5 = hesse_now();
            bc->tb[r] = 1e3 * (t5 - t4);
            HESSE_CHECK(hesse_curv_product(bc->eb32, s, HESSE_CURV_HESSIAN, block, V, Y));
            bc->tbf[r] = 1e3 * (hesse_now() - t5);
        }
        const double elapsed = hesse_now() - t_start;
        hesse_progress p = {name, r + 1, repeat, elapsed, "", r + 1 == repeat};
        hesse_report_progress(&p);
    }
cleanup:
    return rc;
}

/* The case's row: every run, the medians, the counted FLOPs and the engines' settings. */
static void case_emit(const bench_args *a, const char *name, bench_case *bc, cJSON *cases) {
    const int repeat = a->repeat, block = a->block;
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "case", name);
    cJSON_AddStringToObject(row, "arch", hesse_model_arch(bc->m));
    cJSON_AddNumberToObject(row, "n_params", (double)bc->n);
    cJSON_AddNumberToObject(row, "batch", bc->batch);
    cJSON_AddStringToObject(row, "data", bc->data);
    hesse_json_add_doubles(row, "grad_ms_runs", bc->tg, repeat);
    hesse_json_add_doubles(row, "hvp_ms_runs", bc->th, repeat);
    hesse_json_add_doubles(row, "hvp_cached_ms_runs", bc->tc, repeat);
    double mg = median(bc->tg, repeat), mh = median(bc->th, repeat), mc = median(bc->tc, repeat);
    cJSON_AddNumberToObject(row, "grad_ms", mg);
    cJSON_AddNumberToObject(row, "hvp_ms", mh);
    cJSON_AddNumberToObject(row, "hvp_cached_ms", mc);
    const double flops = hvp_flops(bc->m, bc->batch);
    cJSON_AddNumberToObject(row, "hvp_flops", flops);
    cJSON_AddNumberToObject(row, "hvp_gflops", flops / mh / 1e6);
    cJSON_AddNumberToObject(row, "threads", hesse_engine_threads(bc->e));
    cJSON_AddNumberToObject(row, "chunk", hesse_engine_chunk(bc->e));
    cJSON_AddNumberToObject(row, "cache_bytes", (double)hesse_engine_cache_bytes(bc->ec));
    double mf = median(bc->tf, repeat);
    cJSON_AddNumberToObject(row, "hvp_f32_ms", mf);
    cJSON_AddNumberToObject(row, "f32_speedup", mh / mf);
    if (block > 1) {
        double mb = median(bc->tb, repeat), mbf = median(bc->tbf, repeat);
        cJSON_AddNumberToObject(row, "block", block);
        cJSON_AddNumberToObject(row, "block_per_pass", hesse_engine_max_block(bc->eb));
        cJSON_AddNumberToObject(row, "hvp_block_ms", mb);
        cJSON_AddNumberToObject(row, "block_cost_in_hvps", mb / mh);
        cJSON_AddNumberToObject(row, "hvp_block_f32_ms", mbf);
        cJSON_AddNumberToObject(row, "block_f32_cost_in_hvps", mbf / mf);
    }
    cJSON_AddItemToArray(cases, row);
    cli_note("%-10s n=%-8lld grad %9.3f ms   hvp %9.3f ms   cached %9.3f ms   f32 %9.3f ms", name,
             (long long)bc->n, mg, mh, mc, mf);
}

/* Adds every parameter tensor of the model as prefix + name (F64), values from vec laid out
 * as the parameter vector; names[i] holds the names until the writer has written. */
static int save_vector(hesse_st_writer *w, const hesse_model *m, const char *prefix,
                       const double *vec, char (*names)[HESSE_NAME_MAX + 8]) {
    int rc = HESSE_OK;
    for (int i = 0; i < hesse_model_num_tensors(m) && rc == HESSE_OK; i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, i);
        snprintf(names[i], sizeof names[i], "%s%s", prefix, t->name);
        rc = hesse_st_add(w, names[i], HESSE_DTYPE_F64, t->ndim, t->shape, vec + t->offset);
    }
    return rc;
}

/* --save-dir: DIR/<case>.safetensors with the weights (w.<tensor>), the probe vector
 * (v.<tensor>), the products of the f64 and f32 engines (hvp.<tensor>, hvp_f32.<tensor>),
 * the batch (x [n, c, h, w] F64, y [n, P] I32) and the architecture in the metadata, for
 * bench/torch_hvp.py to compute the same product from. */
static int case_save(const bench_args *a, const char *name, bench_case *bc) {
    const hesse_model *m = bc->m;
    const int nt = hesse_model_num_tensors(m), P = hesse_samples_targets(&bc->s);
    const int64_t n = bc->n, xs[4] = {bc->s.n, bc->s.c, bc->s.h, bc->s.w}, ys[2] = {bc->s.n, P};
    char path[4096];
    char(*names)[HESSE_NAME_MAX + 8] = calloc((size_t)nt * 4, sizeof *names);
    double *h = hesse_alloc((size_t)n * 2 * sizeof *h);
    hesse_st_writer *w = NULL;
    int rc;
    if (!names || !h) {
        rc = hesse_error(HESSE_ENOMEM, "bench: out of memory for --save-dir");
        goto cleanup;
    }
    HESSE_CHECK(hesse_curv_product(bc->e, &bc->s, HESSE_CURV_HESSIAN, 1, bc->V, h));
    HESSE_CHECK(hesse_curv_product(bc->e32, &bc->s, HESSE_CURV_HESSIAN, 1, bc->V, h + n));
    HESSE_CHECK(hesse_st_writer_create(&w));
    HESSE_CHECK(save_vector(w, m, "w.", hesse_model_params_const(m), names));
    HESSE_CHECK(save_vector(w, m, "v.", bc->V, names + nt));
    HESSE_CHECK(save_vector(w, m, "hvp.", h, names + 2 * nt));
    HESSE_CHECK(save_vector(w, m, "hvp_f32.", h + n, names + 3 * nt));
    HESSE_CHECK(hesse_st_add(w, "x", HESSE_DTYPE_F64, 4, xs, bc->s.x));
    HESSE_CHECK(hesse_st_add(w, "y", HESSE_DTYPE_I32, 2, ys, bc->s.y));
    HESSE_CHECK(hesse_st_add_meta(w, "hesse.arch", hesse_model_arch(m)));
    HESSE_CHECK(hesse_st_add_meta(w, "bench.case", name));
    HESSE_CHECK(hesse_st_add_meta(w, "bench.data", bc->data));
    snprintf(path, sizeof path, "%s/%s.safetensors", a->save_dir, name);
    HESSE_CHECK(hesse_st_write(w, path));
cleanup:
    hesse_st_writer_free(w);
    hesse_free(h);
    free(names);
    return rc;
}

static void case_free(bench_case *bc) {
    free(bc->tg);
    free(bc->th);
    free(bc->tb);
    free(bc->tc);
    free(bc->tf);
    free(bc->tbf);
    hesse_free(bc->g);
    hesse_free(bc->V);
    hesse_free(bc->Y);
    hesse_samples_free(&bc->s);
    hesse_engine_free(bc->e);
    hesse_engine_free(bc->ec);
    hesse_engine_free(bc->e32);
    hesse_engine_free(bc->eb);
    hesse_engine_free(bc->eb32);
    hesse_model_free(bc->m);
}

static int run_case(const bench_args *a, int which, cJSON *cases) {
    bench_case bc = {0};
    int rc = case_setup(a, which, &bc);
    if (rc == HESSE_OK) rc = case_time(a, bench_cases[which].name, &bc);
    if (rc == HESSE_OK) case_emit(a, bench_cases[which].name, &bc, cases);
    if (rc == HESSE_OK && a->save_dir) rc = case_save(a, bench_cases[which].name, &bc);
    case_free(&bc);
    return rc;
}

static int parse_bench(bench_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        {"case", 0, OPT_STRING, &a->which, "C",
         "comma-separated cases: " CASE_NAMES " (default: all)", CLI_NO_RANGE, 0},
        {"batch", 0, OPT_INT, &a->batch, "B",
         "samples per product (default 1000; vit-tiny 256, gpt-tiny 64)", 1, 1 << 20, 0},
        {"save-dir", 0, OPT_STRING, &a->save_dir, "DIR",
         "write DIR/<case>.safetensors: weights, batch, probe vector and products "
         "(bench/torch_hvp.py --from checks them)",
         CLI_NO_RANGE, 0},
        {"repeat", 0, OPT_INT, &a->repeat, "R", "timed runs; the median is reported (default 5)", 1,
         10000, 0},
        {"block", 0, OPT_INT, &a->block, "K", "also time a block of K products (default: off)", 1,
         1024, 0},
        {"dgemm", 0, OPT_INT, &a->dgemm, "N",
         "the reference rate: a square N x N DGEMM (default 2048; 0: skip)", 0, 16384, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {
        "bench", "time gradients and Hessian-vector products on standard cases",
        "[--case mlp-small,mlp-large,lenet5,vit-tiny,gpt-tiny] [--batch B] [--repeat R] "
        "[--save-dir DIR] [-o bench.json]",
        "Random weights (PyTorch's default init), cross-entropy, double precision. "
        "mlp-small, mlp-large, lenet5: uniform random inputs of MNIST shape, 10 "
        "classes; vit-tiny: the first 256 Fashion-MNIST training images; gpt-tiny: 64 "
        "windows of 64 bytes of a generated text. JSON keys per case: grad_ms, hvp_ms "
        "(medians), n_params, batch, data, hvp_flops (counted as hvp_flops_formula "
        "says) and hvp_gflops; dgemm: n, ms, gflops."};
    return cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
}

/* The cases --case names (all when not given): chosen[i] = 1 for case i. */
static int choose_cases(const char *which, int chosen[NUM_CASES]) {
    for (int i = 0; i < NUM_CASES; i++) chosen[i] = which == NULL;
    if (!which) return HESSE_OK;
    for (const char *p = which;;) {
        const size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < NUM_CASES; i++)
            if (strlen(bench_cases[i].name) == len && strncmp(p, bench_cases[i].name, len) == 0)
                found = chosen[i] = 1;
        if (!found)
            return hesse_error(HESSE_EINVAL,
                               "option --case: expected " CASE_NAMES
                               " (comma-separated), got '%.*s'",
                               (int)len, p);
        if (p[len] == '\0') return HESSE_OK;
        p += len + 1;
    }
}

int cmd_bench(int argc, char **argv) {
    bench_args a = {NULL, NULL, NULL, 0, 5, 1, 0, 0, 2048};
    int rc = parse_bench(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("bench", rc);
    cli_apply_common(a.threads, a.quiet);
    int chosen[NUM_CASES];
    if ((rc = choose_cases(a.which, chosen)) != HESSE_OK) return cli_fail("bench", rc);
    if ((rc = cli_check_output(a.out, "option --output")) != HESSE_OK) return cli_fail("bench", rc);
    cJSON *res = hesse_result_new("bench", argc, argv);
    cJSON_AddStringToObject(res, "precision", "f64");
    cJSON_AddNumberToObject(res, "repeat", a.repeat);
    cJSON_AddStringToObject(res, "hvp_flops_formula", HVP_FLOPS_FORMULA);
    if (a.dgemm > 0) rc = dgemm_rate(a.dgemm, a.repeat, res);
    cJSON *cases = cJSON_AddArrayToObject(res, "cases");
    for (int i = 0; i < NUM_CASES && rc == HESSE_OK; i++)
        if (chosen[i]) rc = run_case(&a, i, cases);
    if (rc == HESSE_OK) rc = cli_emit(res, a.out);
    cJSON_Delete(res);
    return rc == HESSE_OK ? 0 : cli_fail("bench", rc);
}
