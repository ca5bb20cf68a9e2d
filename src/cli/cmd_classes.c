/* hesse classes: the three-level hierarchy of the outliers (Papyan 2019): class means of the
 * weighted gradients, the exact spectra of G_means, G_class and G_cross from their Gram
 * matrices, Lanczos spectra of H, G, G_within and E = H - G, the averaging approximation of the
 * top-C subspace, outliers, the trace identity tr G = tr G_means + tr G_within (exact: tr G_means
 * from the means, tr G_within derived from tr G), the means' two-way structure, and with
 * --density the spectral densities of every part on one grid. */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Top (and bottom) eigenpairs of an operator into spectra[name]. */
static int spectrum_of(const hesse_op *op, const char *name, int top, int bottom, double tol,
                       int vectors, cJSON *spectra, hesse_eigs *r, int64_t *products) {
    hesse_lanczos_params p = hesse_lanczos_defaults();
    p.top = top;
    p.bottom = bottom;
    p.tol = tol;
    p.want_vectors = vectors;
    cli_note("classes: Lanczos on %s (top %d%s)", name, top, bottom ? ", bottom too" : "");
    int rc = cli_lanczos_stoppable(op, &p, r);
    if (rc != HESSE_OK) return rc;
    *products += r->products;
    cJSON *o = cJSON_AddObjectToObject(spectra, name);
    hesse_json_add_doubles(o, "top", r->values, r->ntop);
    hesse_json_add_doubles(o, "residuals_top", r->residuals, r->ntop);
    if (bottom) {
        hesse_json_add_doubles(o, "bottom", r->values + r->ntop, r->nbottom);
        hesse_json_add_doubles(o, "residuals_bottom", r->residuals + r->ntop, r->nbottom);
    }
    cJSON_AddNumberToObject(o, "converged", r->nconverged);
    cJSON_AddNumberToObject(o, "products", (double)r->products);
    return HESSE_OK;
}

static int trace_of(const hesse_op *op, int probes, uint64_t seed, hesse_trace_result *t,
                    int64_t *products) {
    hesse_trace_params p = hesse_trace_defaults();
    p.samples = probes;
    p.seed = seed;
    int rc = hesse_trace_hutchpp(op, &p, t);
    if (rc == HESSE_OK) *products += t->products;
    return rc;
}

static int write_svg(const char *path, cJSON *res) {
    static const char *const names[] = {"means_eigenvalues", "class_eigenvalues",
                                        "cross_eigenvalues"};
    static const char *const labels[] = {"G_means (Gram)", "G_class (Gram)", "G_cross (Gram)",
                                         "H (Lanczos)",    "G (Lanczos)",    "G_within (Lanczos)"};
    hesse_series s[6];
    double *buf[6] = {0}, *idx = NULL;
    int ns = 0, maxn = 0, rc;
    cJSON *spectra = cJSON_GetObjectItem(res, "spectra");
    const cJSON *arrays[6];
    for (int i = 0; i < 3; i++) arrays[i] = cJSON_GetObjectItem(res, names[i]);
    const char *sp[3] = {"hessian", "ggn", "within"};
    for (int i = 0; i < 3; i++)
        arrays[3 + i] = cJSON_GetObjectItem(cJSON_GetObjectItem(spectra, sp[i]), "top");
    for (int i = 0; i < 6; i++) {
        int n = cJSON_GetArraySize(arrays[i]);
        if (n > maxn) maxn = n;
    }
    idx = malloc((size_t)(maxn > 0 ? maxn : 1) * sizeof *idx);
    for (int i = 0; idx && i < maxn; i++) idx[i] = i + 1;
    for (int i = 0; idx && i < 6; i++) {
        int n = cJSON_GetArraySize(arrays[i]);
        if (n == 0) continue;
        buf[i] = malloc((size_t)n * sizeof(double));
        if (!buf[i]) break;
        for (int j = 0; j < n; j++) buf[i][j] = cJSON_GetArrayItem(arrays[i], j)->valuedouble;
        s[ns++] = (hesse_series){
            labels[i], idx, buf[i], n, i < 3 ? HESSE_PLOT_POINTS : HESSE_PLOT_LINE, NULL, i >= 3};
    }
    hesse_plot p = hesse_plot_defaults();
    p.title = "Outlier hierarchy: spectra of the class-mean decomposition";
    p.xlabel = "rank k";
    p.ylabel = "eigenvalue";
    p.xlog = 1;
    p.ylog = 1;
    rc = idx ? hesse_svg_write(&p, s, ns, path)
             : hesse_error(HESSE_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < 6; i++) free(buf[i]);
    free(idx);
    return rc;
}

/* The option values of hesse classes. */
typedef struct {
    cli_data_opts d;
    cli_model_opts mo;
    cli_curv_opts co;
    const char *out, *svg;
    int threads, quiet, top, probes, no_residual, density, density_probes, density_steps;
    double tol;
    uint64_t solver_seed;
} classes_args;

/* What a run holds: the operators, the class means and the spectra, and the figures of the
 * closing note. */
typedef struct {
    cli_curv c;
    hesse_class_means cm;
    hesse_op G, E, Gm, Gw;
    hesse_eigs rh, rg, rw, re;
    hesse_trace_result tg, tw;
    hesse_means_twoway tw2; /* the two-way split of the means and tr G_means, exactly */
    double *basis;          /* n x C: the top C directions of G_means */
    int C;
    int64_t n, products;
    double tr_means, tr_within, oh, og, gap, gap_tr, se;
    int outliers;
} classes_run;

static int parse_classes(classes_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(a->mo),
        CLI_DATA_OPTIONS(a->d),
        {"top", 0, OPT_INT, &a->top, "K", "Lanczos eigenvalues of H, G, G_within, E (default 2C)",
         1, 1e6, 0},
        {"tol", 0, OPT_DOUBLE, &a->tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"probes", 0, OPT_INT, &a->probes, "P", "Hutch++ products per trace (default 99)", 3, 1e7,
         0},
        {"no-residual", 0, OPT_FLAG, &a->no_residual, NULL, "skip the spectrum of E = H - G",
         CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &a->solver_seed, "S", "seed of the trace probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &a->svg, "FILE", "plot the spectra side by side", CLI_NO_RANGE, 0},
        {"density", 0, OPT_FLAG, &a->density, NULL,
         "spectral densities of H, G, E, G_within (SLQ) and G_means, G_class, G_cross (exact) "
         "on one grid",
         CLI_NO_RANGE, 0},
        {"density-probes", 0, OPT_INT, &a->density_probes, "P",
         "with --density: SLQ probes (default 10)", 1, 1e6, 0},
        {"density-steps", 0, OPT_INT, &a->density_steps, "S",
         "with --density: SLQ Lanczos steps per probe (default 80)", 2, 1e6, 0},
        CLI_CHUNK_OPTION(a->co.chunk),
        CLI_PRECISION_OPTION(a->co),
        CLI_COMMON_OPTIONS(a->out, a->threads, a->quiet),
    };
    cli_command_doc doc = {
        "classes", "the class-mean hierarchy of the Hessian's outliers (Papyan 2019)",
        "--model M [--data D] [--samples N] [--select balanced] [--top K] [-o out.json]",
        "G = G_means + G_within with G_means = sum_c pi_c sum_c' delta_{c,c'} delta_{c,c'}^T, "
        "delta_{c,c'} the mean over class c of sqrt(p_c') J^T (e_c' - p). The C^2 means cost C "
        "backward passes over the data; the nonzero spectra of G_means, G_class (c' = c) and "
        "G_cross (c' != c) come exactly from their Gram matrices. The averaging basis (top C "
        "of G_means) is compared with the top-C Lanczos eigenvectors of H and G. tr G_means is "
        "exact and tr G_within = tr G - tr G_means shares tr G's Hutch++ estimate (an "
        "independent estimate is reported as a check). The means are split as mu + a_c + b_c' + "
        "r_{c,c'} (two_way). Samples are class-balanced by default. See docs/results.md for the "
        "JSON keys."};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    int rc = cli_parse(&doc, argc, argv, opts, nopts);
    static const char *const density_only[] = {"density-probes", "density-steps", NULL};
    if (rc == HESSE_OK && !a->density)
        rc = cli_refuse_given(opts, nopts, density_only, "applies with --density");
    return rc;
}

/* --top: 2C by default, at least C (the class-mean directions), below the dimension, and with
 * room for the residual's top and bottom. */
static int settle_top(classes_args *a, const classes_run *r) {
    const int C = r->C;
    const int64_t n = r->n;
    if (a->top == 0) a->top = 2 * C;
    if (a->top < C) {
        cli_note("classes: --top %d raised to %d (the class-mean directions need the top C)",
                 a->top, C);
        a->top = C;
    }
    if (a->top >= n) {
        cli_note("classes: --top %d capped at %lld (the operator's dimension - 1)", a->top,
                 (long long)n - 1);
        a->top = (int)n - 1;
    }
    if (!a->no_residual && 2 * (int64_t)a->top >= n)
        return hesse_error(HESSE_EINVAL,
                           "option --top %d: the residual term's top and bottom %d need 2 x %d < "
                           "%lld parameters; give a smaller --top (default 2C) or --no-residual",
                           a->top, a->top, a->top, (long long)n);
    return HESSE_OK;
}

/* The solvers, the model, the data, the operator, its loss and the class count. */
static int describe(const classes_args *a, classes_run *r, cJSON *res) {
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "eigensolver", "lanczos");
    cJSON_AddNumberToObject(solver, "tol", a->tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddStringToObject(solver, "trace", "hutchpp");
    cJSON_AddNumberToObject(solver, "trace_probes", a->probes);
    cJSON_AddNumberToObject(solver, "trace_seed", (double)a->solver_seed);
    cli_curv_describe(res, &r->c, a->mo.model);
    int rc = cli_curv_loss(&r->c, res);
    if (rc == HESSE_OK) cJSON_AddNumberToObject(res, "classes", r->C);
    return rc;
}

/* "two_way": the additive two-way structure of the means (hesse_means_twoway): each term's sum of
 * squares and its share of tr G_means, the main effects' share of the variation about the grand
 * mean, and Papyan's split of G_means into G_class + G_1 + G_2. */
static void two_way(const hesse_means_twoway *t, cJSON *res) {
    cJSON *o = cJSON_AddObjectToObject(res, "two_way");
    cJSON_AddStringToObject(o, "weights", "pi_c on the true class c, 1/C on the label c'");
    const double tot = t->total, about = t->total - t->grand_mean;
    cJSON_AddNumberToObject(o, "total", tot);
    cJSON_AddNumberToObject(o, "grand_mean", t->grand_mean);
    cJSON_AddNumberToObject(o, "class_effect", t->class_effect);
    cJSON_AddNumberToObject(o, "label_effect", t->label_effect);
    cJSON_AddNumberToObject(o, "interaction", t->interaction);
    cJSON_AddNumberToObject(o, "share_grand_mean", tot > 0 ? t->grand_mean / tot : 0);
    cJSON_AddNumberToObject(o, "share_class_effect", tot > 0 ? t->class_effect / tot : 0);
    cJSON_AddNumberToObject(o, "share_label_effect", tot > 0 ? t->label_effect / tot : 0);
    cJSON_AddNumberToObject(o, "share_interaction", tot > 0 ? t->interaction / tot : 0);
    cJSON_AddNumberToObject(o, "additive_share",
                            about > 0 ? (t->class_effect + t->label_effect) / about : 0);
    cJSON_AddNumberToObject(o, "class_terms", t->class_terms);
    cJSON_AddNumberToObject(o, "cross_class_means", t->cross_class_means);
    cJSON_AddNumberToObject(o, "cross_deviations", t->cross_deviations);
}

/* The class means and the exact spectra of G_means, G_class and G_cross from their Gram
 * matrices; keeps the top C directions of G_means (the averaging basis) and tr G_means. */
static int class_means(classes_run *r, cJSON *res) {
    static const char *const part_keys[] = {"means_eigenvalues", "class_eigenvalues",
                                            "cross_eigenvalues"};
    const int C = r->C;
    cli_note("classes: %d x %d class means (%d backward passes over %s)", C, C, C,
             r->c.data.description);
    int rc = hesse_class_means_compute(r->c.engine, &r->c.data.samples, &r->cm);
    if (rc != HESSE_OK) return rc;
    hesse_json_add_doubles(res, "class_weights", r->cm.pi, C);
    r->basis = hesse_alloc((size_t)r->n * (size_t)C * sizeof *r->basis);
    if (!r->basis)
        return hesse_error(HESSE_ENOMEM,
                           "classes: cannot allocate the %d class-mean directions "
                           "(%d x %lld doubles)",
                           C, C, (long long)r->n);
    for (int part = 0; part < 3 && rc == HESSE_OK; part++) {
        double *vals = NULL;
        int count = 0;
        rc = hesse_class_spectrum(&r->cm, (hesse_means_part)part, &vals, &count, part == 0 ? C : 0,
                                  part == 0 ? r->basis : NULL);
        if (rc == HESSE_OK) hesse_json_add_doubles(res, part_keys[part], vals, count);
        hesse_free(vals);
    }
    if (rc == HESSE_OK) rc = hesse_class_means_twoway(&r->cm, &r->tw2);
    if (rc == HESSE_OK) two_way(&r->tw2, res);
    r->tr_means = r->tw2.total; /* exact: the weighted sum of the means' squared norms */
    return rc;
}

/* Lanczos spectra of H, G, G_within = G - G_means and E = H - G. */
static int spectra(const classes_args *a, classes_run *r, cJSON *res) {
    const hesse_samples *s = &r->c.data.samples;
    const int top = a->top;
    const double tol = a->tol;
    cJSON *sp = cJSON_AddObjectToObject(res, "spectra");
    int rc;
    HESSE_CHECK(hesse_op_curvature(r->c.engine, s, HESSE_CURV_GGN, &r->G));
    HESSE_CHECK(hesse_op_class_means(&r->cm, HESSE_MEANS_ALL, &r->Gm));
    HESSE_CHECK(hesse_op_combine(&r->G, 1.0, &r->Gm, -1.0, &r->Gw));
    HESSE_CHECK(spectrum_of(&r->c.op, "hessian", top, 0, tol, 1, sp, &r->rh, &r->products));
    HESSE_CHECK(spectrum_of(&r->G, "ggn", top, 0, tol, 1, sp, &r->rg, &r->products));
    HESSE_CHECK(spectrum_of(&r->Gw, "within", top, 0, tol, 0, sp, &r->rw, &r->products));
    if (!a->no_residual) {
        HESSE_CHECK(hesse_op_curvature(r->c.engine, s, HESSE_CURV_RESIDUAL, &r->E));
        HESSE_CHECK(spectrum_of(&r->E, "residual", top, top, tol, 0, sp, &r->re, &r->products));
    }
cleanup:
    return rc;
}

/* The averaging approximation of the top-C subspace, and the outliers. */
static void overlaps(classes_run *r, cJSON *res) {
    const int C = r->C;
    const int64_t n = r->n;
    cJSON *ov = cJSON_AddObjectToObject(res, "overlap");
    r->oh = hesse_subspace_overlap(n, C, r->basis, C, r->rh.vectors);
    r->og = hesse_subspace_overlap(n, C, r->basis, C, r->rg.vectors);
    cJSON_AddNumberToObject(ov, "averaging_vs_hessian", r->oh);
    cJSON_AddNumberToObject(ov, "averaging_vs_ggn", r->og);
    cJSON_AddNumberToObject(ov, "hessian_vs_ggn",
                            hesse_subspace_overlap(n, C, r->rh.vectors, C, r->rg.vectors));
    r->outliers = hesse_outlier_count(r->rh.values, r->rh.ntop, &r->gap);
    cJSON *oo = cJSON_AddObjectToObject(res, "outliers");
    cJSON_AddNumberToObject(oo, "count", r->outliers);
    cJSON_AddNumberToObject(oo, "gap_ratio", r->gap);
}

/* One density into densities.operators[name] (the grid is shared and written once). */
static void add_density(cJSON *ops, const char *name, const char *method, const hesse_density *d) {
    cJSON *o = cJSON_AddObjectToObject(ops, name);
    cJSON_AddStringToObject(o, "method", method);
    hesse_json_add_doubles(o, "density", d->density, d->points);
    hesse_json_add_doubles(o, "log10_density", d->log10_density, d->points);
    cJSON_AddNumberToObject(o, "weight_outside", d->weight_outside);
    cJSON_AddNumberToObject(o, "products", (double)d->products);
}

/* --density: SLQ densities of H, G, E and G_within and the exact densities of G_means, G_class
 * and G_cross (their Gram eigenvalues at 1/n each and zero at (n - k)/n, smoothed by the same
 * Gaussian), all on one grid: the union of the operators' estimated supports (and the means'
 * eigenvalues, which lie inside G's), widened by SLQ's margin. */
static int densities(const classes_args *a, classes_run *r, cJSON *res) {
    const char *names[] = {"hessian", "ggn", "within", "residual"};
    const hesse_op *ops[] = {&r->c.op, &r->G, &r->Gw, &r->E};
    const int nops = a->no_residual ? 3 : 4;
    hesse_slq_params p = hesse_slq_defaults();
    if (a->density_probes) p.probes = a->density_probes;
    if (a->density_steps) p.steps = a->density_steps;
    p.stop = &cli_stop;
    hesse_op_stats st = {0, 0, 0.0};
    double lo = 0, hi = 0;
    int rc = HESSE_OK;
    cli_note("classes: densities (SLQ, %d probes x %d steps, and exact for the means)", p.probes,
             p.steps);
    for (int i = 0; i < nops; i++) {
        double a0, b0;
        HESSE_CHECK(hesse_spectral_support(ops[i], p.support_steps, p.seed, &a0, &b0, &st));
        lo = fmin(lo, a0);
        hi = fmax(hi, b0);
    }
    r->products += st.products;
    const double width = hi - lo;
    p.lo = lo - p.margin * width;
    p.hi = hi + p.margin * width;
    cJSON *o = cJSON_AddObjectToObject(res, "densities");
    cJSON_AddNumberToObject(o, "lo", p.lo);
    cJSON_AddNumberToObject(o, "hi", p.hi);
    cJSON_AddNumberToObject(o, "sigma", p.sigma * (p.hi - p.lo));
    cJSON_AddNumberToObject(o, "probes", p.probes);
    cJSON_AddNumberToObject(o, "steps", p.steps);
    cJSON_AddNumberToObject(o, "eps", p.eps);
    cJSON *by = cJSON_AddObjectToObject(o, "operators");
    hesse_density d = {0};
    for (int i = 0; i < nops + 3; i++) {
        cli_stoppable(1);
        rc = i < nops ? hesse_slq_density(ops[i], &p, &d)
                      : hesse_class_density(&r->cm, (hesse_means_part)(i - nops), &p, &d);
        cli_stoppable(0);
        if (rc != HESSE_OK) goto cleanup;
        if (i == 0) hesse_json_add_doubles(o, "grid", d.grid, d.points);
        static const char *const parts[] = {"means", "class", "cross"};
        add_density(by, i < nops ? names[i] : parts[i - nops], i < nops ? "slq" : "exact", &d);
        r->products += d.products;
        hesse_density_free(&d);
    }
cleanup:
    hesse_density_free(&d);
    return rc;
}

/* tr G by Hutch++; tr G_means exact (class_means); tr G_within = tr G - tr G_means from that same
 * estimate, so tr G = tr G_means + tr G_within holds to rounding and tr G_within carries tr G's
 * standard error. As a check, an independent Hutch++ estimate of tr G_within (its own probes:
 * seed + 1) and its difference from the derived value, with that difference's standard error. */
static int traces(const classes_args *a, classes_run *r, cJSON *res) {
    cli_note("classes: traces of G and (a check) G_within (Hutch++, %d products each)", a->probes);
    int rc = trace_of(&r->G, a->probes, a->solver_seed, &r->tg, &r->products);
    if (rc == HESSE_OK) rc = trace_of(&r->Gw, a->probes, a->solver_seed + 1, &r->tw, &r->products);
    if (rc != HESSE_OK) return rc;
    const hesse_trace_result *tg = &r->tg, *tw = &r->tw;
    r->tr_within = tg->trace - r->tr_means;
    cJSON *tr = cJSON_AddObjectToObject(res, "trace");
    cJSON_AddNumberToObject(tr, "ggn", tg->trace);
    cJSON_AddNumberToObject(tr, "ggn_stderr", tg->std_error);
    cJSON_AddNumberToObject(tr, "means", r->tr_means);
    cJSON_AddNumberToObject(tr, "within", r->tr_within);
    cJSON_AddNumberToObject(tr, "within_stderr", tg->std_error);
    cJSON_AddNumberToObject(tr, "identity_gap", tg->trace - (r->tr_means + r->tr_within));
    cJSON_AddNumberToObject(tr, "identity_stderr", 0.0); /* no sampling error: one estimate */
    r->gap_tr = tw->trace - r->tr_within;
    r->se = sqrt(tg->std_error * tg->std_error + tw->std_error * tw->std_error);
    cJSON_AddNumberToObject(tr, "within_hutchpp", tw->trace);
    cJSON_AddNumberToObject(tr, "within_hutchpp_stderr", tw->std_error);
    cJSON_AddNumberToObject(tr, "within_hutchpp_gap", r->gap_tr);
    cJSON_AddNumberToObject(tr, "within_hutchpp_gap_stderr", r->se);
    return HESSE_OK;
}

/* The counts, the plot (rank 0) and the document; the summary on stderr. */
static int emit(const classes_args *a, const classes_run *r, double t0, cJSON *res) {
    cJSON_AddNumberToObject(res, "backward_passes", (double)r->cm.passes);
    cJSON_AddNumberToObject(res, "products", (double)r->products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    int rc;
    if (a->svg && cli_root) { /* rank 0 writes */
        HESSE_CHECK(write_svg(a->svg, res));
        cJSON_AddStringToObject(res, "svg", a->svg);
    }
    HESSE_CHECK(cli_emit(res, a->out));
    cli_note("classes: %d outliers (gap x%.2f); averaging-subspace overlap %.3f with H, %.3f with "
             "G; tr G %.6g = means %.6g (exact) + within %.6g (independent estimate %.6g, %+.2f "
             "standard errors)",
             r->outliers, r->gap, r->oh, r->og, r->tg.trace, r->tr_means, r->tr_within, r->tw.trace,
             r->se > 0 ? r->gap_tr / r->se : 0.0);
    const hesse_means_twoway *t = &r->tw2;
    cli_note("classes: means = grand mean %.1f%% + class effect %.1f%% + label effect %.1f%% + "
             "interaction %.1f%% of tr G_means",
             100 * t->grand_mean / t->total, 100 * t->class_effect / t->total,
             100 * t->label_effect / t->total, 100 * t->interaction / t->total);
cleanup:
    return rc;
}

static void classes_run_free(classes_run *r) {
    hesse_free(r->basis);
    hesse_eigs_free(&r->rh);
    hesse_eigs_free(&r->rg);
    hesse_eigs_free(&r->rw);
    hesse_eigs_free(&r->re);
    hesse_op_free(&r->Gw);
    hesse_op_free(&r->Gm);
    hesse_op_free(&r->E);
    hesse_op_free(&r->G);
    hesse_class_means_free(&r->cm);
    cli_curv_close(&r->c);
}

int cmd_classes(int argc, char **argv) {
    classes_args a = {.d = {"fashion-mnist", "train", 1000, "balanced", 0, NULL, NULL, 0, 0},
                      .co = {"hessian", NULL, 8, 0, "f64"},
                      .probes = 99,
                      .tol = 1e-8};
    int rc = parse_classes(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("classes", rc);
    cli_apply_common(a.threads, a.quiet);
    cli_signals_install();

    classes_run r = {0};
    cJSON *res = NULL;
    double t0 = hesse_now();
    HESSE_CHECK(cli_check_output(a.out, "option --output"));
    HESSE_CHECK(cli_check_output(a.svg, "option --svg"));
    HESSE_CHECK(cli_curv_open(&a.mo, &a.d, &a.co, &r.c));
    HESSE_CHECK(hesse_class_means_supported(r.c.model, "classes"));
    r.C = hesse_model_num_outputs(r.c.model);
    r.n = r.c.op.n;
    HESSE_CHECK(settle_top(&a, &r));
    res = hesse_result_new("classes", argc, argv);
    HESSE_CHECK(describe(&a, &r, res));
    HESSE_CHECK(class_means(&r, res));
    HESSE_CHECK(spectra(&a, &r, res));
    overlaps(&r, res);
    HESSE_CHECK(traces(&a, &r, res));
    if (a.density) HESSE_CHECK(densities(&a, &r, res));
    HESSE_CHECK(emit(&a, &r, t0, res));
cleanup:
    cJSON_Delete(res);
    classes_run_free(&r);
    return rc == HESSE_OK ? 0 : cli_fail("classes", rc);
}
