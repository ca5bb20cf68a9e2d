/* hesse spectrum: extreme eigenvalues (and eigenvectors) of a curvature operator by
 * thick-restart Lanczos, PyHessian-style power iteration, or a dense decomposition. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Dense route for small operators: every eigenpair from LAPACK, the wanted ones kept. */
static int dense_eigs(const hesse_op *op, int top, int bottom, int want_vectors, hesse_eigs *out) {
    const int64_t n = op->n;
    int rc = hesse_dense_check_memory(n, 3, 0);
    if (rc != HESSE_OK) return rc;
    double *A = hesse_alloc((size_t)(n * n) * sizeof *A),
           *V = hesse_alloc((size_t)(n * n) * sizeof *V);
    double *w = hesse_alloc((size_t)n * sizeof *w);
    memset(out, 0, sizeof *out);
    hesse_op_stats st = {0, 0, 0};
    double t0 = hesse_now();
    if (!A || !V || !w) {
        rc = hesse_error(HESSE_ENOMEM,
                         "--method dense: cannot allocate two %lld x %lld matrices (%.3g GiB); "
                         "use --method lanczos",
                         (long long)n, (long long)n, (double)n * (double)n * 16.0 / 1073741824.0);
        goto cleanup;
    }
    HESSE_CHECK(hesse_op_to_dense(op, 64, A, NULL, &st));
    HESSE_CHECK(hesse_eigh(n, A, w, V));
    const int k = top + bottom;
    out->n = n;
    out->ntop = top;
    out->nbottom = bottom;
    out->values = malloc((size_t)k * sizeof(double));
    out->residuals = malloc((size_t)k * sizeof(double));
    out->vectors = want_vectors ? hesse_alloc((size_t)(n * k) * sizeof(double)) : NULL;
    if (!out->values || !out->residuals || (want_vectors && !out->vectors)) {
        rc = hesse_error(HESSE_ENOMEM, "--method dense: cannot allocate %d eigenpairs", k);
        goto cleanup;
    }
    double anorm = fmax(fabs(w[0]), fabs(w[n - 1]));
    for (int i = 0; i < k; i++) {
        int64_t col = i < top ? n - 1 - i : i - top;
        const double *v = V + col * n;
        out->values[i] = w[col];
        /* residual ||A v - lambda v|| against the assembled (symmetrised) matrix */
        double r2 = 0;
        for (int64_t a = 0; a < n; a++) {
            double s = -w[col] * v[a];
            for (int64_t b = 0; b < n; b++) s += A[b * n + a] * v[b];
            r2 += s * s;
        }
        out->residuals[i] = sqrt(r2);
        if (out->vectors) memcpy(out->vectors + (int64_t)i * n, v, (size_t)n * sizeof(double));
    }
    out->residuals_explicit = 1;
    out->nconverged = k;
    out->anorm = anorm;
    out->products = st.products;
    out->seconds_products = st.seconds;
    out->seconds = hesse_now() - t0;
cleanup:
    hesse_free(A);
    hesse_free(V);
    hesse_free(w);
    if (rc != HESSE_OK) hesse_eigs_free(out);
    return rc;
}

int cmd_spectrum(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 0, 0, "f64"};
    const char *out = NULL, *method = "lanczos", *vectors = NULL, *svg = NULL;
    const char *ckpt = NULL, *resume = NULL, *residuals = "explicit";
    int threads = 0, quiet = 0, top = 0, bottom = 0, basis = 0, max_restarts = 0, no_verify = 0;
    int max_iter = 0;
    double tol = -1, ckpt_every = 300, memory_gib = 0;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        CLI_CURV_OPTIONS(co),
        {"top", 0, OPT_INT, &top, "K", "largest eigenvalues wanted", 0, 1e8, 0},
        {"bottom", 0, OPT_INT, &bottom, "K", "smallest (most negative) eigenvalues wanted", 0, 1e8,
         0},
        {"method", 0, OPT_STRING, &method, "M",
         "lanczos (default), power (PyHessian's power iteration) or dense", CLI_NO_RANGE, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T",
         "residual tolerance relative to ||A|| (default 1e-8; power: 1e-3 relative change)", 1e-15,
         1, 0},
        {"basis", 0, OPT_INT, &basis, "B", "Lanczos basis size (default from memory)", 3, 1e7, 0},
        {"memory", 0, OPT_DOUBLE, &memory_gib, "GIB", "memory for the Lanczos basis", 0.001, 1e6,
         0},
        {"max-restarts", 0, OPT_INT, &max_restarts, "R", "Lanczos restarts at most (default 1000)",
         1, 1e9, 0},
        {"max-iter", 0, OPT_INT, &max_iter, "I", "power iterations per eigenvalue (default 100)", 1,
         1e9, 0},
        {"residuals", 0, OPT_STRING, &residuals, "R",
         "explicit (default: one final block product) or relation (the Lanczos relation, no "
         "extra products)",
         CLI_NO_RANGE, 0},
        {"no-verify", 0, OPT_FLAG, &no_verify, NULL,
         "skip the fresh-start check for repeated eigenvalues", CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the start vectors (default 0)",
         CLI_NO_RANGE, 0},
        {"vectors", 0, OPT_STRING, &vectors, "FILE", "write the eigenvectors (safetensors)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &svg, "FILE", "plot the eigenvalues", CLI_NO_RANGE, 0},
        {"checkpoint", 0, OPT_STRING, &ckpt, "FILE",
         "save the Lanczos state here periodically and on SIGINT/SIGTERM", CLI_NO_RANGE, 0},
        {"checkpoint-every", 0, OPT_DOUBLE, &ckpt_every, "SEC",
         "seconds between checkpoints (default 300; 0: every restart)", 0, 1e9, 0},
        {"resume", 0, OPT_STRING, &resume, "FILE", "continue from a checkpoint", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &co.block, "K", "vectors per pass over the data (default 8)", 1, 4096,
         0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "spectrum", "extreme eigenvalues of the Hessian, GGN, residual or empirical Fisher",
        "--model M [--arch A] [--data D] [--samples N] --top K [--bottom K] [--operator OP] "
        "[--method lanczos|power|dense] [--tol T] [-o out.json]",
        "Lanczos: thick restart with full reorthogonalisation; a pair is converged when "
        "||Av - lambda v|| <= tol ||A||, and the reported residuals are computed from one final "
        "product with the eigenvectors. Power: PyHessian's algorithm (top only). Dense: LAPACK "
        "on the assembled matrix (small n). JSON keys: top (descending), bottom (ascending), "
        "residuals_top, residuals_bottom, products, seconds. Default 1000 samples.\n"
        "Long runs: --checkpoint FILE saves the state every --checkpoint-every seconds and on "
        "Ctrl-C; rerun the same command with --resume FILE to continue."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("spectrum", rc);
    cli_apply_common(threads, quiet);
    cli_signals_install(); /* a signal stops Lanczos at its next boundary */
    if (co.block == 0) co.block = 8;

    cli_curv c = {0};
    hesse_eigs r = {0};
    cJSON *res = NULL, *header = NULL;
    cli_checkpoint_ctx cc = {ckpt, NULL, 0};
    int is_lanczos = strcmp(method, "lanczos") == 0, is_power = strcmp(method, "power") == 0;
    int is_dense = strcmp(method, "dense") == 0;
    if (!is_lanczos && !is_power && !is_dense) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --method: expected lanczos, power or dense, got '%s'", method);
        goto cleanup;
    }
    if (strcmp(residuals, "explicit") != 0 && strcmp(residuals, "relation") != 0) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --residuals: expected explicit or relation, got '%s'", residuals);
        goto cleanup;
    }
    if (top + bottom == 0) {
        rc = hesse_error(HESSE_EINVAL, "nothing to compute: give --top K and/or --bottom K");
        goto cleanup;
    }
    if (is_power && bottom > 0) {
        rc = hesse_error(HESSE_EINVAL, "option --bottom: power iteration finds only the largest "
                                       "eigenvalues; use --method lanczos");
        goto cleanup;
    }
    if ((ckpt || resume) && !is_lanczos) {
        rc = hesse_error(HESSE_EINVAL, "options --checkpoint/--resume need --method lanczos");
        goto cleanup;
    }
    static const char *const lanczos_only[] = {"basis",     "memory",    "max-restarts",
                                               "no-verify", "residuals", NULL};
    static const char *const power_only[] = {"max-iter", NULL};
    static const char *const iterative_only[] = {"tol", "solver-seed", NULL};
    if (!is_lanczos)
        HESSE_CHECK(cli_refuse_given(opts, nopts, lanczos_only, "applies to --method lanczos"));
    if (!is_power)
        HESSE_CHECK(cli_refuse_given(opts, nopts, power_only, "applies to --method power"));
    if (is_dense)
        HESSE_CHECK(cli_refuse_given(opts, nopts, iterative_only,
                                     "applies to --method lanczos or power (dense is exact)"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, ckpt));
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_output(vectors, "option --vectors"));
    HESSE_CHECK(cli_check_output(svg, "option --svg"));
    HESSE_CHECK(cli_check_checkpoint(ckpt));
    HESSE_CHECK(cli_curv_open(&mo, &d, &co, &c));
    if (top + bottom > c.op.n) {
        rc = hesse_error(HESSE_EINVAL, "asked for %d eigenvalues of an operator of dimension %lld",
                         top + bottom, (long long)c.op.n);
        goto cleanup;
    }
    res = hesse_result_new("spectrum", argc, argv);
    cli_curv_describe(res, &c, mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));

    /* What a checkpoint must agree on to be resumed. */
    header = cli_run_header("spectrum", &c);
    cc.header = header;

    double t0 = hesse_now();
    cli_eig_watch watch;
    hesse_op watched = cli_eig_watch_start(&watch, "spectrum", &c.op, top + bottom);
    cli_note("spectrum: %s of %lld parameters on %s: top %d, bottom %d by %s",
             hesse_curv_name(c.kind), (long long)c.op.n, c.data.description, top, bottom, method);
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "method", method);
    if (is_lanczos) {
        hesse_lanczos_params p = hesse_lanczos_defaults();
        p.top = top;
        p.bottom = bottom;
        if (tol >= 0) p.tol = tol;
        p.basis = basis;
        if (memory_gib > 0) p.memory_budget = (size_t)(memory_gib * 1073741824.0);
        if (max_restarts > 0) p.max_restarts = max_restarts;
        p.seed = solver_seed;
        p.verify = !no_verify;
        p.explicit_residuals = strcmp(residuals, "explicit") == 0;
        p.want_vectors = 1;
        HESSE_CHECK(cli_lanczos_run(&watched, &p, &watch, &cc, ckpt_every, resume, &r));
        cJSON_AddNumberToObject(solver, "tol", p.tol);
        cJSON_AddNumberToObject(solver, "basis", r.basis);
        cJSON_AddNumberToObject(solver, "seed", (double)p.seed);
        cJSON_AddBoolToObject(solver, "verify", p.verify);
        cJSON_AddNumberToObject(solver, "restarts", r.restarts);
        cJSON_AddNumberToObject(solver, "breakdowns", r.breakdowns);
        cJSON_AddNumberToObject(solver, "fresh_starts", r.fresh_starts);
        if (resume) cJSON_AddStringToObject(solver, "resumed_from", resume);
    } else if (is_power) {
        hesse_power_params p = hesse_power_defaults();
        p.top = top;
        if (tol >= 0) p.tol = tol;
        if (max_iter > 0) p.max_iter = max_iter;
        p.seed = solver_seed;
        p.monitor = cli_eig_monitor;
        p.monitor_ctx = &watch;
        HESSE_CHECK(hesse_power_eigs(&watched, &p, &r));
        cJSON_AddNumberToObject(solver, "tol", p.tol);
        cJSON_AddNumberToObject(solver, "max_iter", p.max_iter);
        cJSON_AddNumberToObject(solver, "seed", (double)p.seed);
    } else {
        HESSE_CHECK(dense_eigs(&c.op, top, bottom, vectors != NULL, &r));
    }
    hesse_progress pr = {"spectrum", r.nconverged, top + bottom, hesse_now() - t0, "", 1};
    hesse_report_progress(&pr);

    cJSON_AddNumberToObject(solver, "iterations", (double)r.iterations);
    cJSON_AddNumberToObject(res, "converged", r.nconverged);
    cJSON_AddNumberToObject(res, "anorm", r.anorm);
    cJSON_AddBoolToObject(res, "residuals_explicit", r.residuals_explicit);
    if (is_lanczos) cJSON_AddNumberToObject(res, "orthogonality", r.orthogonality);
    hesse_json_add_doubles(res, "top", r.values, r.ntop);
    hesse_json_add_doubles(res, "bottom", r.values + r.ntop, r.nbottom);
    hesse_json_add_doubles(res, "residuals_top", r.residuals, r.ntop);
    hesse_json_add_doubles(res, "residuals_bottom", r.residuals + r.ntop, r.nbottom);
    cJSON_AddNumberToObject(res, "products", (double)r.products);
    cJSON_AddNumberToObject(res, "seconds", r.seconds);
    cJSON *split = cJSON_AddObjectToObject(res, "seconds_split");
    cJSON_AddNumberToObject(split, "products", r.seconds_products);
    cJSON_AddNumberToObject(split, "orthogonalisation", r.seconds_ortho);
    cJSON_AddNumberToObject(split, "restart", r.seconds_restart);
    cJSON_AddNumberToObject(split, "checkpoint", r.seconds_checkpoint);
    cJSON_AddNumberToObject(res, "peak_rss_bytes", (double)hesse_peak_rss());
    if (r.nconverged < top + bottom)
        hesse_log(HESSE_LOG_WARN,
                  "only %d of %d eigenpairs reached the tolerance; the others are "
                  "estimates (see residuals)",
                  r.nconverged, top + bottom);

    if (vectors && r.vectors) {
        HESSE_CHECK(cli_write_vectors(&c, vectors, r.ntop + r.nbottom, r.vectors, r.values,
                                      "top then bottom"));
        cJSON_AddStringToObject(res, "vectors", vectors);
    }
    if (svg && cli_root) { /* rank 0 writes */
        int k = r.ntop > r.nbottom ? r.ntop : r.nbottom;
        double *idx = malloc((size_t)k * sizeof *idx);
        if (!idx) {
            rc = hesse_error(HESSE_ENOMEM, "%s: out of memory", svg);
            goto cleanup;
        }
        for (int i = 0; i < k; i++) idx[i] = i + 1;
        hesse_series s[2] = {
            {"top", idx, r.values, r.ntop, HESSE_PLOT_STEMS, NULL, 0},
            {"bottom", idx, r.values + r.ntop, r.nbottom, HESSE_PLOT_STEMS, NULL, 0}};
        hesse_plot pl = hesse_plot_defaults();
        char title[128];
        snprintf(title, sizeof title, "Extreme eigenvalues of the %s", hesse_curv_name(c.kind));
        pl.title = title;
        pl.xlabel = "rank k";
        pl.ylabel = "eigenvalue";
        rc = hesse_svg_write(&pl, r.ntop ? s : s + 1, (r.ntop ? 1 : 0) + (r.nbottom ? 1 : 0), svg);
        free(idx);
        if (rc != HESSE_OK) goto cleanup;
        cJSON_AddStringToObject(res, "svg", svg);
    }
    HESSE_CHECK(cli_emit(res, out));
    if (!cli_quiet) {
        fprintf(stderr, "spectrum: %d/%d converged, %lld products, %.2fs\n", r.nconverged,
                top + bottom, (long long)r.products, r.seconds);
        for (int i = 0; i < r.ntop + r.nbottom && i < 12; i++)
            fprintf(stderr, "  %-6s %3d  %+.10e  (residual %.2e)\n", i < r.ntop ? "top" : "bottom",
                    i < r.ntop ? i + 1 : i - r.ntop + 1, r.values[i], r.residuals[i]);
    }
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(header);
    hesse_eigs_free(&r);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("spectrum", rc);
}
