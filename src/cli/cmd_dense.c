/* hesse dense: the whole spectrum of the Hessian (or GGN) of a small network, exactly. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *csv;
    int threads, quiet;
    double max_gib;
} dense_args;

typedef struct {
    cli_curv c;
    double *A, *ev; /* the matrix (then LAPACK's workspace), its eigenvalues ascending */
    double loss, accuracy, asym, trace, frob, seconds, eig_seconds;
    int64_t negative;
    hesse_op_stats st;
    cJSON *res;
} dense_run;

static const cli_command_doc doc = {
    "dense", "the exact full spectrum of the Hessian or GGN (small networks)",
    "--model M [--arch A] [--data D] [--samples N] [--operator hessian|ggn] [--layer L] "
    "[-o out.json]",
    "Assembles the n x n matrix from exact block products (n = number of parameters, or of the "
    "--layer block), symmetrises it and computes every eigenvalue with LAPACK dsyevd. Needs "
    "8 n^2 bytes; refuses before starting when that does not fit. Default 1000 samples. JSON "
    "keys: eigenvalues (ascending), trace, frobenius, loss, n_params, products, seconds."};

static int options(dense_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"block", 0, OPT_INT, &a->co.block, "K", "columns per pass over the data (default 64)", 1,
         4096, 0},
        {"max-memory", 0, OPT_DOUBLE, &a->max_gib, "GIB",
         "refuse if the matrix needs more (default: memory available)", 0.001, 1e6, 0},
        {"csv", 0, OPT_STRING, &a->csv, "FILE", "also write the eigenvalues, one per line",
         CLI_NO_RANGE, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    CLI_OPTS_RETURN(opts, t);
}

/* The matrix, its trace and Frobenius norm, and every eigenvalue. */
static int decompose(dense_run *s, int block) {
    const int64_t n = s->c.op.n;
    s->A = hesse_alloc((size_t)n * (size_t)n * sizeof *s->A);
    s->ev = hesse_alloc((size_t)n * sizeof *s->ev);
    if (!s->A || !s->ev)
        return hesse_error(HESSE_ENOMEM,
                           "dense: cannot allocate the %lld x %lld matrix (%.3g GiB); use hesse "
                           "spectrum or density for a network this size",
                           (long long)n, (long long)n, (double)n * (double)n * 8.0 / 1073741824.0);
    double t0 = hesse_now();
    int64_t correct;
    int rc = hesse_loss_grad(s->c.engine, &s->c.data.samples, &s->loss, NULL, &correct);
    if (rc != HESSE_OK) return rc;
    s->accuracy = (double)correct / (double)hesse_samples_positions(&s->c.data.samples);
    rc = hesse_op_to_dense(&s->c.op, block, s->A, &s->asym, &s->st);
    if (rc != HESSE_OK) return rc;
    for (int64_t i = 0; i < n; i++) s->trace += s->A[i * n + i];
    s->frob = hesse_norm2(n * n, s->A);
    double te = hesse_now();
    rc = hesse_eigh_inplace(n, s->A, s->ev, 0);
    if (rc != HESSE_OK) return rc;
    s->eig_seconds = hesse_now() - te;
    s->seconds = hesse_now() - t0;
    return HESSE_OK;
}

static int run(const dense_args *a, dense_run *s) {
    int rc = cli_check_output(a->out, "option --output");
    if (rc == HESSE_OK) rc = cli_check_output(a->csv, "option --csv");
    if (rc == HESSE_OK) rc = cli_curv_open(&a->mo, &a->d, &a->co, &s->c);
    if (rc != HESSE_OK) return rc;
    const int64_t n = s->c.op.n;
    rc = hesse_dense_check_memory(n, 1, (uint64_t)(a->max_gib * 1073741824.0));
    if (rc != HESSE_OK) return rc;
    cli_note("dense: %s of %lld parameters on %s", hesse_curv_name(s->c.kind), (long long)n,
             s->c.data.description);
    rc = decompose(s, a->co.block < n ? a->co.block : (int)n);
    if (rc != HESSE_OK) return rc;
    /* Eigenvalues within the solver's backward error (~ n eps ||A||) of zero are not
     * counted as negative: a positive semidefinite GGN shows rounding-level negatives. */
    const double zero_tol =
        (double)n * 2.220446049250313e-16 * fmax(fabs(s->ev[0]), fabs(s->ev[n - 1]));
    for (int64_t i = 0; i < n; i++) s->negative += s->ev[i] < -zero_tol;
    cJSON *res = s->res;
    cli_curv_describe(res, &s->c, a->mo.model);
    cJSON_AddNumberToObject(res, "samples", (double)hesse_samples_total(&s->c.data.samples));
    cJSON_AddNumberToObject(res, "loss", s->loss);
    cJSON_AddNumberToObject(res, "accuracy", s->accuracy);
    cJSON_AddNumberToObject(res, "trace", s->trace);
    cJSON_AddNumberToObject(res, "frobenius", s->frob);
    cJSON_AddNumberToObject(res, "max", s->ev[n - 1]);
    cJSON_AddNumberToObject(res, "min", s->ev[0]);
    cJSON_AddNumberToObject(res, "negative_count", (double)s->negative);
    cJSON_AddNumberToObject(res, "negative_threshold", -zero_tol);
    cJSON_AddNumberToObject(res, "asymmetry", s->asym);
    cJSON_AddNumberToObject(res, "products", (double)s->st.products);
    cJSON_AddNumberToObject(res, "product_seconds", s->st.seconds);
    cJSON_AddNumberToObject(res, "eigensolver_seconds", s->eig_seconds);
    cJSON_AddNumberToObject(res, "seconds", s->seconds);
    hesse_json_add_doubles(res, "eigenvalues", s->ev, n);
    return HESSE_OK;
}

/* --csv: one eigenvalue a line under a header. */
static int write_csv(const char *csv, const double *ev, int64_t n) {
    size_t cap = (size_t)n * 26 + 32, len = 0;
    char *text = malloc(cap);
    if (!text) return hesse_error(HESSE_ENOMEM, "out of memory formatting %s", csv);
    len += (size_t)snprintf(text, cap, "eigenvalue\n");
    for (int64_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%.17g\n", ev[i]);
    int rc = hesse_write_file_atomic(csv, text, len);
    free(text);
    return rc;
}

static int emit(const dense_args *a, const dense_run *s) {
    const int64_t n = s->c.op.n;
    int rc = HESSE_OK;
    if (a->csv && cli_root) rc = write_csv(a->csv, s->ev, n); /* rank 0 writes */
    if (rc == HESSE_OK) rc = cli_emit(s->res, a->out);
    if (rc != HESSE_OK) return rc;
    cli_note("dense: %s spectrum of %lld parameters (%lld products, %.2fs): trace %.6g, "
             "frobenius %.6g, %lld negative",
             hesse_curv_name(s->c.kind), (long long)n, (long long)s->st.products, s->seconds,
             s->trace, s->frob, (long long)s->negative);
    if (!cli_quiet) {
        int show = n < 5 ? (int)n : 5;
        fprintf(stderr, "  top:   ");
        for (int i = 0; i < show; i++) fprintf(stderr, " %12.6g", s->ev[n - 1 - i]);
        fprintf(stderr, "\n  bottom:");
        for (int i = 0; i < show; i++) fprintf(stderr, " %12.6g", s->ev[i]);
        fprintf(stderr, "\n");
    }
    return HESSE_OK;
}

int cmd_dense(int argc, char **argv) {
    dense_args a = {{"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                    {NULL, NULL, NULL},
                    {"hessian", NULL, 0, 0, "f64"},
                    .out = NULL};
    cli_opt opts[CLI_MAX_OPTS];
    const int nopts = options(&a, opts);
    int rc = cli_start(&doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("dense", rc);
    if (a.co.block == 0) a.co.block = 64;
    dense_run s = {0};
    hesse_curv_kind kind; /* a bad --operator is refused before the outputs are checked */
    rc = hesse_curv_parse(a.co.operator_name, &kind);
    if (rc == HESSE_OK) {
        s.res = hesse_result_new("dense", argc, argv);
        rc = run(&a, &s);
    }
    if (rc == HESSE_OK) rc = emit(&a, &s);
    cJSON_Delete(s.res);
    hesse_free(s.A);
    hesse_free(s.ev);
    cli_curv_close(&s.c);
    return rc == HESSE_OK ? 0 : cli_fail("dense", rc);
}
