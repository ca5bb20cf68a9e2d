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
 * exp(intercept) k^(-s_ls) and the likelihood line lambda_K (k / K)^(-s_mle), which passes
 * through (K, lambda_K). */
static int write_svg(const char *path, const double *desc, const hesse_powerlaw *f,
                     const char *what) {
    const int K = f->K;
    double *k = malloc((size_t)K * 3 * sizeof *k);
    if (!k) return hesse_error(HESSE_ENOMEM, "out of memory plotting %s", path);
    double *ls = k + K, *ml = k + 2 * K;
    for (int i = 0; i < K; i++) {
        k[i] = i + 1;
        ls[i] = exp(f->intercept_ls - f->s_ls * log(k[i]));
        ml[i] = hesse_powerlaw_mle_rank(f, k[i]);
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
                                         "resume",      "keep-checkpoint",
                                         NULL};

typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    cli_lanczos_opts lo;
    const char *out, *eigfile, *svg;
    int threads, quiet, top;
} powerlaw_args;

typedef struct {
    cli_curv c;
    hesse_eigs r;
    hesse_powerlaw_guard guard;
    double s_sensitivity; /* -1: not computed (--eigenvalues) */
    hesse_powerlaw fit;
    cJSON *res, *header;
    double *values, *desc; /* every value, descending; the fitted (positive) ones */
    int count, K_cap;
    cli_checkpoint_ctx cc;
} powerlaw_run;

static const cli_command_doc doc = {
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
    "s_mle, d_ks, d_c, accepted, lambda_min, lambda_max, dropped), source; with --model "
    "also tol_guard (tol_requested, tol_used, limit 1e-3, accuracy = tol_used ||A|| / "
    "lambda_K, tightened, reason) and s_sensitivity: the largest change of s_ls or s_mle over "
    "three refits, every eigenvalue moved down by its residual, moved up by it, and only the "
    "converged pairs kept (compare it with the fit's standard error)."};

static int options(powerlaw_args *a, cli_opt *opts) {
    const cli_opt t[] = {
        {"eigenvalues", 'e', OPT_STRING, &a->eigfile, "FILE",
         "fit these eigenvalues: a JSON result of hesse spectrum (top) or hesse dense "
         "(eigenvalues), or one number per line",
         CLI_NO_RANGE, 0},
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        CLI_CURV_OPTIONS(a->co),
        {"top", 0, OPT_INT, &a->top, "K",
         "fit the K largest eigenvalues (default 1000; with --model at most the dimension - 1)", 1,
         1e8, 0},
        CLI_LANCZOS_OPTIONS(
            a->lo,
            "Lanczos residual tolerance relative to ||A|| (default 1e-6: an eigenvalue is then "
            "within 1e-6 ||A|| of the exact one, so ln lambda_k is off by at most 1e-6 "
            "lambda_1/lambda_k, well below the fit's standard error (beta - 1)/sqrt(K) (~3% at "
            "K = 1000) unless the top K span more than four decades; smaller values cost restarts "
            "for no change). Guard: when tol x ||A|| / lambda_K (lambda_K the smallest fitted) "
            "exceeds 1e-3 the top K are solved again at 0.5e-3 lambda_K / ||A|| (JSON "
            "tol_guard), or refused when that is below 1e-13"),
        {"svg", 0, OPT_STRING, &a->svg, "FILE",
         "the rank-log plot: the eigenvalues and both fitted lines", CLI_NO_RANGE, 0},
        {"block", 0, OPT_INT, &a->co.block, "K", "vectors per pass over the data (default 8)", 1,
         4096, 0},
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    CLI_OPTS_RETURN(opts, t);
}

static int validate(const powerlaw_args *a, const cli_opt *opts, int nopts) {
    if (a->eigfile && a->mo.model)
        return hesse_error(HESSE_EINVAL, "options --eigenvalues and --model: give one of them");
    if (!a->eigfile && !a->mo.model)
        return hesse_error(HESSE_EINVAL, "give --eigenvalues FILE (fit only) or --model M "
                                         "(compute the top eigenvalues, then fit)");
    int rc = HESSE_OK;
    if (a->eigfile)
        HESSE_CHECK(cli_refuse_given(opts, nopts, model_only,
                                     "needs --model (with --eigenvalues only the fit runs)"));
    HESSE_CHECK(cli_checkpoint_options(opts, nopts, a->lo.checkpoint));
    HESSE_CHECK(cli_check_output(a->out, "option --output"));
    HESSE_CHECK(cli_check_output(a->svg, "option --svg"));
    HESSE_CHECK(cli_check_checkpoint(a->lo.checkpoint));
cleanup:
    return rc;
}

/* --eigenvalues: the file's K largest, descending. */
static int read_values(const powerlaw_args *a, powerlaw_run *s, int argc, char **argv) {
    int rc = read_eigenvalues(a->eigfile, &s->values, &s->count);
    if (rc != HESSE_OK) return rc;
    qsort(s->values, (size_t)s->count, sizeof *s->values, descending);
    if (s->count > a->top) s->count = a->top;
    s->res = hesse_result_new("powerlaw", argc, argv);
    return HESSE_OK;
}

/* One Lanczos solve at tol for hesse_powerlaw_eigs: a tightened solve starts afresh (no
 * --resume; its checkpoints carry the tightened tolerance). */
typedef struct {
    const powerlaw_args *a;
    powerlaw_run *s;
    hesse_lanczos_params *p;
    int calls;
    int64_t products; /* over every solve */
    double seconds;
} solve_ctx;

static int solve_at(void *ctx, double tol, hesse_eigs *out) {
    solve_ctx *c = ctx;
    cli_lanczos_opts lo = c->a->lo;
    if (c->calls++ > 0) lo.resume = NULL;
    c->p->tol = tol;
    int rc = cli_lanczos_solve(&c->s->c, "powerlaw", &lo, c->p, &c->s->cc, out);
    if (rc == HESSE_OK) {
        c->products += out->products;
        c->seconds += out->seconds;
    }
    return rc;
}

static void add_guard(cJSON *res, const hesse_powerlaw_guard *g) {
    cJSON *o = cJSON_AddObjectToObject(res, "tol_guard");
    cJSON_AddNumberToObject(o, "tol_requested", g->tol_requested);
    cJSON_AddNumberToObject(o, "tol_used", g->tol_used);
    cJSON_AddNumberToObject(o, "limit", g->limit);
    cJSON_AddNumberToObject(o, "accuracy", g->accuracy);
    cJSON_AddNumberToObject(o, "tightened", g->tightened);
    if (g->tightened)
        cJSON_AddStringToObject(o, "reason",
                                "tol x ||A|| / lambda_K exceeded the limit at the requested "
                                "tolerance: solved again at 0.5 limit x lambda_K / ||A||");
}

/* --model: the top K by Lanczos (K at most the dimension - 1), descending. */
static int compute_values(const powerlaw_args *a, powerlaw_run *s, int argc, char **argv) {
    cli_signals_install(); /* a signal stops Lanczos at its next boundary */
    int rc = cli_curv_open(&a->mo, &a->d, &a->co, &s->c);
    if (rc != HESSE_OK) return rc;
    const int64_t n = s->c.op.n;
    if (n < 4)
        return hesse_error(HESSE_EINVAL,
                           "the operator has dimension %lld; a power-law fit needs at least 3 "
                           "of its eigenvalues, and Lanczos at most the dimension - 1",
                           (long long)n);
    int wanted = a->top;
    if ((int64_t)a->top > n - 1) {
        s->K_cap = wanted = (int)(n - 1);
        cli_note("powerlaw: --top %d capped at %d (the operator's dimension - 1)", a->top, wanted);
    }
    s->res = hesse_result_new("powerlaw", argc, argv);
    cli_curv_describe(s->res, &s->c, a->mo.model);
    HESSE_CHECK(cli_curv_loss(&s->c, s->res));
    s->header = cli_run_header("powerlaw", &s->c);
    s->cc = (cli_checkpoint_ctx){a->lo.checkpoint, s->header, 0};
    cli_note("powerlaw: %s of %lld parameters on %s: top %d by lanczos", hesse_curv_name(s->c.kind),
             (long long)n, s->c.data.description, wanted);
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = wanted;
    cli_lanczos_params(&a->lo, &p);
    p.want_vectors = 0;
    p.explicit_residuals = 1;
    solve_ctx sc = {a, s, &p, 0, 0, 0.0};
    HESSE_CHECK(hesse_powerlaw_eigs(solve_at, &sc, p.tol, &s->r, &s->guard));
    if (s->guard.tightened)
        cli_note("powerlaw: tolerance tightened from %.3g to %.3g (tol x ||A|| / lambda_K now "
                 "%.3g <= %g)",
                 s->guard.tol_requested, s->guard.tol_used, s->guard.accuracy, s->guard.limit);
    add_guard(s->res, &s->guard);
    s->count = s->r.ntop;
    s->values = malloc((size_t)s->count * sizeof *s->values);
    if (!s->values) return hesse_error(HESSE_ENOMEM, "out of memory");
    memcpy(s->values, s->r.values, (size_t)s->count * sizeof *s->values); /* descending */
    cJSON *solver = cJSON_AddObjectToObject(s->res, "solver");
    cJSON_AddStringToObject(solver, "method", "lanczos");
    cli_lanczos_describe(solver, &p, &s->r, a->lo.resume);
    cli_eigs_describe(s->res, &s->r, 1);
    cJSON_AddNumberToObject(s->res, "products", (double)sc.products); /* every solve's */
    cJSON_AddNumberToObject(s->res, "seconds", sc.seconds);
cleanup:
    return rc;
}

/* The fit over the positive values; a warning when the smallest fitted ones are below the
 * solver's accuracy. */
static int fit(const powerlaw_args *a, powerlaw_run *s) {
    int rc = hesse_powerlaw_fit(s->values, s->count, &s->fit);
    if (rc == HESSE_EINVAL) { /* too few positive values, or all equal: the input's fault */
        char why[256];
        snprintf(why, sizeof why, "%s", hesse_last_error());
        if (a->eigfile) return hesse_error(HESSE_EINPUT, "%s: %s", a->eigfile, why);
        return hesse_error(HESSE_ENUMERIC, "the top %d eigenvalues of the %s: %s", s->count,
                           hesse_curv_name(s->c.kind), why);
    }
    if (rc != HESSE_OK) return rc;
    const int K = s->fit.K;
    s->desc = malloc((size_t)K * sizeof *s->desc);
    if (!s->desc) return hesse_error(HESSE_ENOMEM, "out of memory");
    for (int i = 0, j = 0; i < s->count; i++)
        if (s->values[i] > 0) s->desc[j++] = s->values[i];
    if (a->eigfile) return HESSE_OK;
    rc = hesse_powerlaw_sensitivity(s->desc, s->r.residuals, K, s->guard.tol_used * s->r.anorm,
                                    &s->fit, &s->s_sensitivity);
    if (rc != HESSE_OK) return rc;
    /* An eigenvalue is known to within its residual, at most tol ||A||: positive values below
     * that may be zero eigenvalues (a null space) moved by rounding, and their logs then drive
     * both fits. */
    const double floor = s->guard.tol_used * s->r.anorm;
    int noise = 0;
    while (noise < K && s->desc[K - 1 - noise] <= floor) noise++;
    if (noise)
        hesse_log(HESSE_LOG_WARN,
                  "the %d smallest fitted eigenvalues are below the solver's accuracy "
                  "(tol x ||A|| = %.3g) and may be zero eigenvalues moved by rounding; "
                  "consider a smaller --top",
                  noise, floor);
    return HESSE_OK;
}

static int emit(const powerlaw_args *a, powerlaw_run *s) {
    const hesse_powerlaw *f = &s->fit;
    cJSON_AddNumberToObject(s->res, "K", f->K);
    cJSON_AddNumberToObject(s->res, "K_requested", a->top);
    if (s->K_cap) cJSON_AddNumberToObject(s->res, "K_cap", s->K_cap);
    hesse_json_add_doubles(s->res, "eigenvalues", s->desc, f->K);
    if (!a->eigfile) /* residuals of the fitted pairs: the positive ones lead the list */
        hesse_json_add_doubles(s->res, "residuals", s->r.residuals, f->K);
    add_fit(s->res, f);
    if (s->s_sensitivity >= 0) cJSON_AddNumberToObject(s->res, "s_sensitivity", s->s_sensitivity);
    cJSON_AddStringToObject(s->res, "source", a->eigfile ? a->eigfile : "lanczos");
    int rc = HESSE_OK;
    if (a->svg && cli_root) { /* rank 0 writes */
        HESSE_CHECK(write_svg(a->svg, s->desc, f, a->eigfile ? NULL : hesse_curv_name(s->c.kind)));
        cJSON_AddStringToObject(s->res, "svg", a->svg);
    }
    HESSE_CHECK(cli_emit(s->res, a->out));
    cli_note("powerlaw: K = %d%s: s_ls = %.4g (R^2 %.4f), beta = %.4g +- %.2g, s = %.4g, "
             "d_KS = %.4g vs d_c = %.4g: power law %s",
             f->K, f->dropped ? " (non-positive left out)" : "", f->s_ls, f->r2_ls, f->beta,
             f->beta_stderr, f->s_mle, f->d_ks, f->d_c, f->accepted ? "accepted" : "rejected");
cleanup:
    return rc;
}

int cmd_powerlaw(int argc, char **argv) {
    powerlaw_args a = {{"fashion-mnist", "train", 1000, "first", 0, NULL, NULL, 0, 0},
                       {NULL, NULL, NULL},
                       {"hessian", NULL, 0, 0, "f64"},
                       CLI_LANCZOS_DEFAULTS,
                       NULL,
                       NULL,
                       NULL,
                       0,
                       0,
                       1000};
    a.lo.tol = 1e-6;
    cli_opt opts[CLI_MAX_OPTS];
    const int nopts = options(&a, opts);
    int rc = cli_start(&doc, argc, argv, opts, nopts, &a.threads, &a.quiet);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("powerlaw", rc);
    if (a.co.block == 0) a.co.block = 8;
    powerlaw_run s = {0};
    s.s_sensitivity = -1;
    rc = validate(&a, opts, nopts);
    if (rc == HESSE_OK)
        rc = a.eigfile ? read_values(&a, &s, argc, argv) : compute_values(&a, &s, argc, argv);
    if (rc == HESSE_OK) rc = fit(&a, &s);
    if (rc == HESSE_OK) rc = emit(&a, &s);
    cJSON_Delete(s.res);
    cJSON_Delete(s.header);
    free(s.values);
    free(s.desc);
    hesse_eigs_free(&s.r);
    cli_curv_close(&s.c);
    return rc == HESSE_OK ? 0 : cli_fail("powerlaw", rc);
}
