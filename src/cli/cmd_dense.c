/* hesse dense: the whole spectrum of the Hessian (or GGN) of a small network, exactly. */
#include "cli/cli.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_dense(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    const char *out = NULL, *op_name = "hessian", *csv = NULL;
    int threads = 0, quiet = 0, block = 64;
    double max_gib = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        {"operator", 0, OPT_STRING, &op_name, "OP",
         "hessian (default), ggn, residual (H - G) or efisher", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &block, "K", "columns per pass over the data (default 64)", 1, 4096,
         0},
        {"max-memory", 0, OPT_DOUBLE, &max_gib, "GIB",
         "refuse if the matrix needs more (default: memory available)", 0.001, 1e6, 0},
        {"csv", 0, OPT_STRING, &csv, "FILE", "also write the eigenvalues, one per line",
         CLI_NO_RANGE, 0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "dense", "the exact full spectrum of the Hessian or GGN (small networks)",
        "--model M [--arch A] [--data D] [--samples N] [--operator hessian|ggn] [-o out.json]",
        "Assembles the n x n matrix from exact block products (n = number of parameters), "
        "symmetrises it and computes every eigenvalue with LAPACK dsyevd. Needs 8 n^2 bytes; "
        "refuses before starting when that does not fit. Default 1000 samples. JSON keys: "
        "eigenvalues (ascending), trace, frobenius, loss, n_params, products, seconds."};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("dense", rc);
    cli_apply_common(threads, quiet);

    cli_data data = {0};
    hesse_model *m = NULL;
    hesse_engine *e = NULL;
    hesse_op op = {0};
    char *pre = NULL;
    double *A = NULL, *ev = NULL;
    cJSON *res = NULL;
    hesse_curv_kind kind = HESSE_CURV_HESSIAN;
    HESSE_CHECK(hesse_curv_parse(op_name, &kind));
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_output(csv, "option --csv"));
    HESSE_CHECK(cli_data_open(&d, &data));
    HESSE_CHECK(cli_load_model(&mo, data.dataset, &m, &pre));
    const int64_t n = hesse_model_num_params(m);
    HESSE_CHECK(hesse_dense_check_memory(n, 1, (uint64_t)(max_gib * 1073741824.0)));
    HESSE_CHECK(cli_data_select(&d, pre, &data));
    if (block > n) block = (int)n;
    hesse_engine_params ep = cli_engine_defaults();
    ep.max_block = block;
    HESSE_CHECK(hesse_engine_create(m, &ep, &e));
    HESSE_CHECK(cli_distribute(&data, m, e)); /* this rank's shard */
    const int64_t N = hesse_samples_total(&data.samples);
    HESSE_CHECK(hesse_op_curvature(e, &data.samples, kind, &op));
    A = hesse_alloc((size_t)n * (size_t)n * sizeof *A);
    ev = hesse_alloc((size_t)n * sizeof *ev);
    if (!A || !ev) {
        rc = hesse_error(HESSE_ENOMEM,
                         "dense: cannot allocate the %lld x %lld matrix (%.3g GiB); use hesse "
                         "spectrum or density for a network this size",
                         (long long)n, (long long)n, (double)n * (double)n * 8.0 / 1073741824.0);
        goto cleanup;
    }
    cli_note("dense: %s of %lld parameters on %s", op_name, (long long)n, data.description);
    double t0 = hesse_now(), loss, asym;
    int64_t correct;
    HESSE_CHECK(hesse_loss_grad(e, &data.samples, &loss, NULL, &correct));
    hesse_op_stats st = {0, 0, 0};
    HESSE_CHECK(hesse_op_to_dense(&op, block, A, &asym, &st));
    double trace = 0, frob = 0;
    for (int64_t i = 0; i < n; i++) trace += A[i * n + i];
    for (int64_t i = 0; i < n * n; i++) frob += A[i] * A[i];
    frob = sqrt(frob);
    double te = hesse_now();
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'U', (lapack_int)n, A, (lapack_int)n, ev);
    if (info != 0) {
        rc = hesse_error(HESSE_ENUMERIC, "LAPACK dsyevd failed (info %d)", (int)info);
        goto cleanup;
    }
    double eig_seconds = hesse_now() - te, seconds = hesse_now() - t0;
    /* Eigenvalues within the solver's backward error (~ n eps ||A||) of zero are not
     * counted as negative: a positive semidefinite GGN shows rounding-level negatives. */
    const double zero_tol = (double)n * 2.220446049250313e-16 * fmax(fabs(ev[0]), fabs(ev[n - 1]));
    int64_t negative = 0;
    for (int64_t i = 0; i < n; i++) negative += ev[i] < -zero_tol;

    res = hesse_result_new("dense", argc, argv);
    cli_describe_model(res, m, mo.model);
    cli_describe_data(res, &data);
    cJSON_AddStringToObject(res, "operator", op_name);
    cli_describe_ranks(res);
    cJSON_AddNumberToObject(res, "samples", (double)N);
    cJSON_AddNumberToObject(res, "loss", loss);
    cJSON_AddNumberToObject(res, "accuracy", (double)correct / (double)N);
    cJSON_AddNumberToObject(res, "trace", trace);
    cJSON_AddNumberToObject(res, "frobenius", frob);
    cJSON_AddNumberToObject(res, "max", ev[n - 1]);
    cJSON_AddNumberToObject(res, "min", ev[0]);
    cJSON_AddNumberToObject(res, "negative_count", (double)negative);
    cJSON_AddNumberToObject(res, "negative_threshold", -zero_tol);
    cJSON_AddNumberToObject(res, "asymmetry", asym);
    cJSON_AddNumberToObject(res, "products", (double)st.products);
    cJSON_AddNumberToObject(res, "product_seconds", st.seconds);
    cJSON_AddNumberToObject(res, "eigensolver_seconds", eig_seconds);
    cJSON_AddNumberToObject(res, "seconds", seconds);
    hesse_json_add_doubles(res, "eigenvalues", ev, n);
    if (csv && cli_root) { /* rank 0 writes */
        size_t cap = (size_t)n * 26 + 32, len = 0;
        char *text = malloc(cap);
        if (!text) {
            rc = hesse_error(HESSE_ENOMEM, "out of memory formatting %s", csv);
            goto cleanup;
        }
        len += (size_t)snprintf(text, cap, "eigenvalue\n");
        for (int64_t i = 0; i < n; i++)
            len += (size_t)snprintf(text + len, cap - len, "%.17g\n", ev[i]);
        rc = hesse_write_file_atomic(csv, text, len);
        free(text);
        if (rc != HESSE_OK) goto cleanup;
    }
    HESSE_CHECK(cli_emit(res, out));
    cli_note("dense: %s spectrum of %lld parameters (%lld products, %.2fs): trace %.6g, "
             "frobenius %.6g, %lld negative",
             op_name, (long long)n, (long long)st.products, seconds, trace, frob,
             (long long)negative);
    if (!cli_quiet) {
        int show = n < 5 ? (int)n : 5;
        fprintf(stderr, "  top:   ");
        for (int i = 0; i < show; i++) fprintf(stderr, " %12.6g", ev[n - 1 - i]);
        fprintf(stderr, "\n  bottom:");
        for (int i = 0; i < show; i++) fprintf(stderr, " %12.6g", ev[i]);
        fprintf(stderr, "\n");
    }
cleanup:
    cJSON_Delete(res);
    hesse_free(A);
    hesse_free(ev);
    hesse_op_free(&op);
    free(pre);
    hesse_engine_free(e);
    hesse_model_free(m);
    cli_data_free(&data);
    return rc == HESSE_OK ? 0 : cli_fail("dense", rc);
}
