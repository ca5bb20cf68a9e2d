/* hesse powerlaw: the power-law test of the top of a spectrum (Xie et al.; PAPERS.md section 1)
 * over eigenvalues read from a file, or computed here by thick-restart Lanczos. */
#include "cli/cli.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

/* Appends x to the growing array *v (n used, cap allocated). */
static int push(double **v, int *n, int *cap, double x) {
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        double *nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return hesse_error(HESSE_ENOMEM, "out of memory reading eigenvalues");
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return HESSE_OK;
}

/* The eigenvalues of a JSON result: "top" (hesse spectrum) or else "eigenvalues" (hesse dense,
 * or a hesse powerlaw result). */
static int read_json(const char *path, const char *text, size_t len, double **v, int *n) {
    int rc = HESSE_OK, cap = 0;
    cJSON *doc = cJSON_ParseWithLength(text, len);
    if (!doc) {
        const char *at = cJSON_GetErrorPtr();
        return hesse_error(HESSE_EINPUT, "%s: not valid JSON (near byte %ld)", path,
                           at ? (long)(at - text) : -1L);
    }
    const char *key = "top";
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (!cJSON_IsArray(arr)) {
        key = "eigenvalues";
        arr = cJSON_GetObjectItemCaseSensitive(doc, key);
    }
    if (!cJSON_IsArray(arr)) {
        rc = hesse_error(HESSE_EINPUT,
                         "%s: expected a 'top' array (hesse spectrum) or an 'eigenvalues' array "
                         "(hesse dense)",
                         path);
        goto cleanup;
    }
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            rc = hesse_error(HESSE_EINPUT, "%s: %s[%d] is %s, expected a finite number", path, key,
                             i, cJSON_IsNull(e) ? "null (a non-finite value)" : "not a number");
            goto cleanup;
        }
        HESSE_CHECK(push(v, n, &cap, e->valuedouble));
    }
cleanup:
    cJSON_Delete(doc);
    return rc;
}

/* One number per line (a CSV column); blank lines are skipped and the first non-blank line may
 * be a header. */
static int read_text(const char *path, char *text, double **v, int *n) {
    int rc = HESSE_OK, cap = 0, lineno = 0, header_seen = 0;
    char *line = text;
    while (line) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        lineno++;
        char *end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1])) *--end = '\0';
        while (isspace((unsigned char)*line)) line++;
        if (*line) {
            char *stop = NULL;
            double x = strtod(line, &stop);
            if (stop == line || *stop != '\0') {
                if (*n == 0 && !header_seen) {
                    header_seen = 1; /* a header such as "eigenvalue" */
                } else {
                    rc = hesse_error(HESSE_EINPUT, "%s:%d: expected a number, got '%.40s'", path,
                                     lineno, line);
                    goto cleanup;
                }
            } else if (!isfinite(x)) {
                rc = hesse_error(HESSE_EINPUT, "%s:%d: expected a finite number, got '%.40s'", path,
                                 lineno, line);
                goto cleanup;
            } else {
                HESSE_CHECK(push(v, n, &cap, x));
            }
        }
        line = next;
    }
cleanup:
    return rc;
}

/* Reads every eigenvalue of `path` (JSON when it starts with '{', text otherwise). */
static int read_eigenvalues(const char *path, double **v, int *n) {
    unsigned char *data = NULL;
    size_t len = 0;
    *v = NULL;
    *n = 0;
    int rc =
        hesse_read_file_sized(path, hesse_read_size_text, NULL, HESSE_TEXT_STREAM_MAX, &data, &len);
    if (rc != HESSE_OK) return rc;
    const char *p = (const char *)data;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '{')
        rc = read_json(path, (const char *)data, len, v, n);
    else if (memchr(data, '\0', len))
        rc = hesse_error(HESSE_EINPUT, "%s: a binary file; expected JSON or one number per line",
                         path);
    else
        rc = read_text(path, (char *)data, v, n);
    if (rc == HESSE_OK && *n == 0)
        rc = hesse_error(HESSE_EINPUT,
                         "%s: no eigenvalues found (expected a JSON result of hesse spectrum or "
                         "hesse dense, or one number per line)",
                         path);
    free(data);
    if (rc != HESSE_OK) {
        free(*v);
        *v = NULL;
        *n = 0;
    }
    return rc;
}

static void add_fit(cJSON *res, const hesse_powerlaw *f) {
    cJSON *o = cJSON_AddObjectToObject(res, "fit");
    cJSON_AddNumberToObject(o, "s_ls", f->s_ls);
    cJSON_AddNumberToObject(o, "intercept_ls", f->intercept_ls);
    cJSON_AddNumberToObject(o, "r2_ls", f->r2_ls);
    cJSON_AddNumberToObject(o, "beta", f->beta);
    cJSON_AddNumberToObject(o, "beta_stderr", f->beta_stderr);
    cJSON_AddNumberToObject(o, "s_mle", f->s_mle);
    cJSON_AddNumberToObject(o, "d_ks", f->d_ks);
    cJSON_AddNumberToObject(o, "d_c", f->d_c);
    cJSON_AddBoolToObject(o, "accepted", f->accepted);
    cJSON_AddNumberToObject(o, "lambda_min", f->lambda_min);
    cJSON_AddNumberToObject(o, "lambda_max", f->lambda_max);
    cJSON_AddNumberToObject(o, "dropped", f->dropped);
}

/* The rank-log plot: lambda_k against k on log axes, with the least-squares line
 * exp(intercept) k^(-s_ls) and the likelihood line lambda_1 k^(-s_mle). */
static int write_svg(const char *path, const double *desc, const hesse_powerlaw *f,
                     const char *what) {
    const int K = f->K;
    double *k = malloc((size_t)K * 3 * sizeof *k);
    if (!k) return hesse_error(HESSE_ENOMEM, "out of memory plotting %s", path);
    double *ls = k + K, *ml = k + 2 * K;
    for (int i = 0; i < K; i++) {
        k[i] = i + 1;
        ls[i] = exp(f->intercept_ls - f->s_ls * log(k[i]));
        ml[i] = f->lambda_max * pow(k[i], -f->s_mle);
    }
    char lab_ls[64], lab_ml[64], title[160];
    snprintf(lab_ls, sizeof lab_ls, "least squares, s = %.3f", f->s_ls);
    snprintf(lab_ml, sizeof lab_ml, "max. likelihood, s = %.3f", f->s_mle);
    snprintf(title, sizeof title, "Rank-log plot of the top %d eigenvalues%s%s", K,
             what ? " of the " : "", what ? what : "");
    hesse_series s[3] = {{"eigenvalues", k, desc, K, HESSE_PLOT_POINTS, NULL, 0},
                         {lab_ls, k, ls, K, HESSE_PLOT_LINE, NULL, 0},
                         {lab_ml, k, ml, K, HESSE_PLOT_LINE, NULL, 1}};
    hesse_plot pl = hesse_plot_defaults();
    pl.title = title;
    pl.xlabel = "rank k";
    pl.ylabel = "eigenvalue lambda_k";
    pl.xlog = 1;
    pl.ylog = 1;
    int rc = hesse_svg_write(&pl, s, 3, path);
    free(k);
    return rc;
}

/* Options that only make sense with --model. */
static const char *const model_only[] = {"arch",        "loss",
                                         "data",        "split",
                                         "samples",     "select",
                                         "seed",        "mean",
                                         "std",         "operator",
                                         "layer",       "chunk",
                                         "block",       "precision",
                                         "tol",         "basis",
                                         "memory",      "max-restarts",
                                         "solver-seed", "no-verify",
                                         "checkpoint",  "checkpoint-every",
                                         "resume",      NULL};

int cmd_powerlaw(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "first", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 0, 0, "f64"};
    const char *out = NULL, *eigfile = NULL, *svg = NULL, *ckpt = NULL, *resume = NULL;
    int threads = 0, quiet = 0, top = 1000, basis = 0, max_restarts = 0, no_verify = 0;
    double tol = 1e-6, ckpt_every = 300, memory_gib = 0;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        {"eigenvalues", 'e', OPT_STRING, &eigfile, "FILE",
         "fit these eigenvalues: a JSON result of hesse spectrum (top) or hesse dense "
         "(eigenvalues), or one number per line",
         CLI_NO_RANGE, 0},
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        CLI_CURV_OPTIONS(co),
        {"top", 0, OPT_INT, &top, "K",
         "fit the K largest eigenvalues (default 1000; with --model at most the dimension - 1)", 1,
         1e8, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T",
         "Lanczos residual tolerance relative to ||A|| (default 1e-6: an eigenvalue is then within "
         "1e-6 ||A|| of the exact one, so ln lambda_k is off by at most 1e-6 lambda_1/lambda_k, "
         "well below the fit's standard error (beta - 1)/sqrt(K) (~3% at K = 1000) unless the "
         "top K span more than four decades; smaller values cost restarts for no change)",
         1e-15, 1, 0},
        {"basis", 0, OPT_INT, &basis, "B", "Lanczos basis size (default from memory)", 3, 1e7, 0},
        {"memory", 0, OPT_DOUBLE, &memory_gib, "GIB", "memory for the Lanczos basis", 0.001, 1e6,
         0},
        {"max-restarts", 0, OPT_INT, &max_restarts, "R", "Lanczos restarts at most (default 1000)",
         1, 1e9, 0},
        {"no-verify", 0, OPT_FLAG, &no_verify, NULL,
         "skip the fresh-start check for repeated eigenvalues", CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the start vectors (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &svg, "FILE",
         "the rank-log plot: the eigenvalues and both fitted lines", CLI_NO_RANGE, 0},
        {"checkpoint", 0, OPT_STRING, &ckpt, "FILE",
         "save the Lanczos state here periodically and on SIGINT/SIGTERM", CLI_NO_RANGE, 0},
        {"checkpoint-every", 0, OPT_DOUBLE, &ckpt_every, "SEC",
         "seconds between checkpoints (default 300; 0: every restart)", 0, 1e9, 0},
        {"resume", 0, OPT_STRING, &resume, "FILE", "continue from a checkpoint", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &co.block, "K", "vectors per pass over the data (default 8)", 1, 4096,
         0},
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    cli_command_doc doc = {
        "powerlaw", "power-law fit and Kolmogorov-Smirnov test of the top eigenvalues",
        "--eigenvalues FILE [--top K] | --model M [--arch A] [--data D] [--samples N] "
        "[--operator OP] [--layer L] [--top K] [--svg plot.svg] [-o out.json]",
        "The test of Xie et al. (On the Power-Law Hessian Spectrums in Deep Learning): over the "
        "K largest positive eigenvalues l_1 >= ... >= l_K, the rank law l_k ~ l_1 k^-s by least "
        "squares of ln l_k on ln k; the density law p(l) ~ l^-beta by maximum likelihood with "
        "l_K as the lower cut-off, beta = 1 + K / sum ln(l_k / l_K), standard error "
        "(beta - 1)/sqrt(K), s = 1/(beta - 1) (Clauset, Shalizi, Newman 2009); the "
        "Kolmogorov-Smirnov distance d_KS to the fitted CDF, accepted when below 1.36/sqrt(K). "
        "Non-positive eigenvalues are left out and counted.\n"
        "With --eigenvalues only the fit runs. With --model the top K eigenvalues are computed "
        "by thick-restart Lanczos first (as hesse spectrum --top K; default 1000 samples), and "
        "--checkpoint/--resume work as there. JSON keys: K, K_requested, eigenvalues "
        "(descending, the fitted ones), fit (s_ls, intercept_ls, r2_ls, beta, beta_stderr, "
        "s_mle, d_ks, d_c, accepted, lambda_min, lambda_max, dropped), source."};
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("powerlaw", rc);
    cli_apply_common(threads, quiet);
    if (co.block == 0) co.block = 8;

    cli_curv c = {0};
    hesse_eigs r = {0};
    hesse_powerlaw fit;
    cJSON *res = NULL, *header = NULL;
    double *values = NULL, *desc = NULL;
    int count = 0, K_cap = 0;
    cli_checkpoint_ctx cc = {ckpt, NULL, 0};
    if (eigfile && mo.model) {
        rc = hesse_error(HESSE_EINVAL, "options --eigenvalues and --model: give one of them");
        goto cleanup;
    }
    if (!eigfile && !mo.model) {
        rc = hesse_error(HESSE_EINVAL, "give --eigenvalues FILE (fit only) or --model M (compute "
                                       "the top eigenvalues, then fit)");
        goto cleanup;
    }
    if (eigfile)
        HESSE_CHECK(cli_refuse_given(opts, nopts, model_only,
                                     "needs --model (with --eigenvalues only the fit runs)"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, ckpt));
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_output(svg, "option --svg"));
    HESSE_CHECK(cli_check_checkpoint(ckpt));

    if (eigfile) {
        HESSE_CHECK(read_eigenvalues(eigfile, &values, &count));
        qsort(values, (size_t)count, sizeof *values, descending);
        if (count > top) count = top; /* the K largest */
        res = hesse_result_new("powerlaw", argc, argv);
    } else {
        cli_signals_install(); /* a signal stops Lanczos at its next boundary */
        HESSE_CHECK(cli_curv_open(&mo, &d, &co, &c));
        if (c.op.n < 4) {
            rc = hesse_error(HESSE_EINVAL,
                             "the operator has dimension %lld; a power-law fit needs at least 3 "
                             "of its eigenvalues, and Lanczos at most the dimension - 1",
                             (long long)c.op.n);
            goto cleanup;
        }
        int wanted = top;
        if ((int64_t)top > c.op.n - 1) {
            K_cap = (int)(c.op.n - 1);
            wanted = K_cap;
            cli_note("powerlaw: --top %d capped at %d (the operator's dimension - 1)", top, K_cap);
        }
        res = hesse_result_new("powerlaw", argc, argv);
        cli_curv_describe(res, &c, mo.model);
        HESSE_CHECK(cli_curv_loss(&c, res));
        header = cli_run_header("powerlaw", &c);
        cc.header = header;

        double t0 = hesse_now();
        cli_eig_watch watch;
        hesse_op watched = cli_eig_watch_start(&watch, "powerlaw", &c.op, wanted);
        cli_note("powerlaw: %s of %lld parameters on %s: top %d by lanczos",
                 hesse_curv_name(c.kind), (long long)c.op.n, c.data.description, wanted);
        hesse_lanczos_params p = hesse_lanczos_defaults();
        p.top = wanted;
        p.tol = tol;
        p.basis = basis;
        if (memory_gib > 0) p.memory_budget = (size_t)(memory_gib * 1073741824.0);
        if (max_restarts > 0) p.max_restarts = max_restarts;
        p.seed = solver_seed;
        p.verify = !no_verify;
        p.want_vectors = 0;
        p.explicit_residuals = 1;
        HESSE_CHECK(cli_lanczos_run(&watched, &p, &watch, &cc, ckpt_every, resume, &r));
        hesse_progress pr = {"powerlaw", r.nconverged, wanted, hesse_now() - t0, "", 1};
        hesse_report_progress(&pr);
        if (r.nconverged < wanted)
            hesse_log(HESSE_LOG_WARN,
                      "only %d of %d eigenpairs reached the tolerance; the others are "
                      "estimates (see residuals)",
                      r.nconverged, wanted);
        count = r.ntop;
        values = malloc((size_t)count * sizeof *values);
        if (!values) {
            rc = hesse_error(HESSE_ENOMEM, "out of memory");
            goto cleanup;
        }
        memcpy(values, r.values, (size_t)count * sizeof *values); /* descending */

        cJSON *solver = cJSON_AddObjectToObject(res, "solver");
        cJSON_AddStringToObject(solver, "method", "lanczos");
        cJSON_AddNumberToObject(solver, "tol", p.tol);
        cJSON_AddNumberToObject(solver, "basis", r.basis);
        cJSON_AddNumberToObject(solver, "seed", (double)p.seed);
        cJSON_AddBoolToObject(solver, "verify", p.verify);
        cJSON_AddNumberToObject(solver, "restarts", r.restarts);
        cJSON_AddNumberToObject(solver, "iterations", (double)r.iterations);
        if (resume) cJSON_AddStringToObject(solver, "resumed_from", resume);
        cJSON_AddNumberToObject(res, "converged", r.nconverged);
        cJSON_AddNumberToObject(res, "anorm", r.anorm);
        cJSON_AddBoolToObject(res, "residuals_explicit", r.residuals_explicit);
        cJSON_AddNumberToObject(res, "orthogonality", r.orthogonality);
        cJSON_AddNumberToObject(res, "products", (double)r.products);
        cJSON_AddNumberToObject(res, "seconds", r.seconds);
    }

    rc = hesse_powerlaw_fit(values, count, &fit);
    if (rc == HESSE_EINVAL) { /* too few positive values, or all equal: the input's fault */
        char why[256];
        snprintf(why, sizeof why, "%s", hesse_last_error());
        if (eigfile)
            rc = hesse_error(HESSE_EINPUT, "%s: %s", eigfile, why);
        else
            rc = hesse_error(HESSE_ENUMERIC, "the top %d eigenvalues of the %s: %s", count,
                             hesse_curv_name(c.kind), why);
    }
    if (rc != HESSE_OK) goto cleanup;
    /* the fitted values: the positive ones, descending */
    desc = malloc((size_t)fit.K * sizeof *desc);
    if (!desc) {
        rc = hesse_error(HESSE_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0, j = 0; i < count; i++)
        if (values[i] > 0) desc[j++] = values[i];
    if (!eigfile) {
        /* An eigenvalue is known to within its residual, at most tol ||A||: positive values
         * below that may be zero eigenvalues (a null space) moved by rounding, and their logs
         * then drive both fits. */
        int noise = 0;
        while (noise < fit.K && desc[fit.K - 1 - noise] <= tol * r.anorm) noise++;
        if (noise)
            hesse_log(HESSE_LOG_WARN,
                      "the %d smallest fitted eigenvalues are below the solver's accuracy "
                      "(tol x ||A|| = %.3g) and may be zero eigenvalues moved by rounding; "
                      "consider a smaller --top",
                      noise, tol * r.anorm);
    }

    cJSON_AddNumberToObject(res, "K", fit.K);
    cJSON_AddNumberToObject(res, "K_requested", top);
    if (K_cap) cJSON_AddNumberToObject(res, "K_cap", K_cap);
    hesse_json_add_doubles(res, "eigenvalues", desc, fit.K);
    if (!eigfile) /* residuals of the fitted pairs: the positive ones lead the descending list */
        hesse_json_add_doubles(res, "residuals", r.residuals, fit.K);
    add_fit(res, &fit);
    cJSON_AddStringToObject(res, "source", eigfile ? eigfile : "lanczos");
    if (svg && cli_root) { /* rank 0 writes */
        HESSE_CHECK(write_svg(svg, desc, &fit, eigfile ? NULL : hesse_curv_name(c.kind)));
        cJSON_AddStringToObject(res, "svg", svg);
    }
    HESSE_CHECK(cli_emit(res, out));
    cli_note("powerlaw: K = %d%s: s_ls = %.4g (R^2 %.4f), beta = %.4g +- %.2g, s = %.4g, "
             "d_KS = %.4g vs d_c = %.4g: power law %s",
             fit.K, fit.dropped ? " (non-positive left out)" : "", fit.s_ls, fit.r2_ls, fit.beta,
             fit.beta_stderr, fit.s_mle, fit.d_ks, fit.d_c, fit.accepted ? "accepted" : "rejected");
cleanup:
    cJSON_Delete(res);
    cJSON_Delete(header);
    free(values);
    free(desc);
    hesse_eigs_free(&r);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("powerlaw", rc);
}
