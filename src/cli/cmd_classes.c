/* hesse classes: the three-level hierarchy of the outliers (Papyan 2019): class means of the
 * weighted gradients, the exact spectra of G_means, G_class and G_cross from their Gram
 * matrices, Lanczos spectra of H, G, G_within and E = H - G, the averaging approximation of the
 * top-C subspace, outliers, and the trace identity tr G = tr G_means + tr G_within. */
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
    p.stop = &cli_stop;
    cli_note("classes: Lanczos on %s (top %d%s)", name, top, bottom ? ", bottom too" : "");
    cli_stoppable(1);
    int rc = hesse_lanczos_eigs(op, &p, r);
    cli_stoppable(0);
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

int cmd_classes(int argc, char **argv) {
    cli_data_opts d = {"fashion-mnist", "train", 1000, "balanced", 0, NULL, NULL};
    cli_model_opts mo = {NULL, NULL, NULL};
    cli_curv_opts co = {"hessian", NULL, 8, 0, "f64"};
    const char *out = NULL, *svg = NULL;
    int threads = 0, quiet = 0, top = 0, probes = 99, no_residual = 0;
    double tol = 1e-8;
    uint64_t solver_seed = 0;
    cli_opt opts[] = {
        CLI_MODEL_OPTIONS(mo),
        CLI_DATA_OPTIONS(d),
        {"top", 0, OPT_INT, &top, "K", "Lanczos eigenvalues of H, G, G_within, E (default 2C)", 1,
         1e6, 0},
        {"tol", 0, OPT_DOUBLE, &tol, "T", "Lanczos tolerance (default 1e-8)", 1e-15, 1, 0},
        {"probes", 0, OPT_INT, &probes, "P", "Hutch++ products per trace (default 99)", 3, 1e7, 0},
        {"no-residual", 0, OPT_FLAG, &no_residual, NULL, "skip the spectrum of E = H - G",
         CLI_NO_RANGE, 0},
        {"solver-seed", 0, OPT_U64, &solver_seed, "S", "seed of the trace probes (default 0)",
         CLI_NO_RANGE, 0},
        {"svg", 0, OPT_STRING, &svg, "FILE", "plot the spectra side by side", CLI_NO_RANGE, 0},
        {"chunk", 0, OPT_INT, &co.chunk, "B", "samples per pass (default: from memory)", 1, 1 << 20,
         0},
        CLI_PRECISION_OPTION(co),
        CLI_COMMON_OPTIONS(out, threads, quiet),
    };
    cli_command_doc doc = {
        "classes", "the class-mean hierarchy of the Hessian's outliers (Papyan 2019)",
        "--model M [--data D] [--samples N] [--select balanced] [--top K] [-o out.json]",
        "G = G_means + G_within with G_means = sum_c pi_c sum_c' delta_{c,c'} delta_{c,c'}^T, "
        "delta_{c,c'} the mean over class c of sqrt(p_c') J^T (e_c' - p). The C^2 means cost C "
        "backward passes over the data; the nonzero spectra of G_means, G_class (c' = c) and "
        "G_cross (c' != c) come exactly from their Gram matrices. The averaging basis (top C "
        "of G_means) is compared with the top-C Lanczos eigenvectors of H and G. Samples are "
        "class-balanced by default. See docs/results.md for the JSON keys."};
    int rc = cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("classes", rc);
    cli_apply_common(threads, quiet);
    cli_signals_install();

    cli_curv c = {0};
    hesse_class_means cm = {0};
    hesse_op G = {0}, E = {0}, Gm = {0}, Gw = {0};
    hesse_eigs rh = {0}, rg = {0}, rw = {0}, re = {0};
    double *vals = NULL, *basis = NULL;
    cJSON *res = NULL;
    int64_t products = 0;
    double t0 = hesse_now();
    HESSE_CHECK(cli_check_output(out, "option --output"));
    HESSE_CHECK(cli_check_output(svg, "option --svg"));
    HESSE_CHECK(cli_curv_open(&mo, &d, &co, &c));
    const int C = hesse_model_num_outputs(c.model);
    const int64_t n = c.op.n;
    if (top == 0) top = 2 * C;
    if (top < C) {
        cli_note("classes: --top %d raised to %d (the class-mean directions need the top C)", top,
                 C);
        top = C;
    }
    if (top >= n) {
        cli_note("classes: --top %d capped at %lld (the operator's dimension - 1)", top,
                 (long long)n - 1);
        top = (int)n - 1;
    }
    if (!no_residual && 2 * (int64_t)top >= n) {
        rc = hesse_error(HESSE_EINVAL,
                         "option --top %d: the residual term's top and bottom %d need 2 x %d < "
                         "%lld parameters; give a smaller --top (default 2C) or --no-residual",
                         top, top, top, (long long)n);
        goto cleanup;
    }
    res = hesse_result_new("classes", argc, argv);
    cJSON *solver = cJSON_AddObjectToObject(res, "solver");
    cJSON_AddStringToObject(solver, "eigensolver", "lanczos");
    cJSON_AddNumberToObject(solver, "tol", tol);
    cJSON_AddNumberToObject(solver, "seed", (double)hesse_lanczos_defaults().seed);
    cJSON_AddStringToObject(solver, "trace", "hutchpp");
    cJSON_AddNumberToObject(solver, "trace_probes", probes);
    cJSON_AddNumberToObject(solver, "trace_seed", (double)solver_seed);
    cli_curv_describe(res, &c, mo.model);
    HESSE_CHECK(cli_curv_loss(&c, res));
    cJSON_AddNumberToObject(res, "classes", C);

    /* The class means and the Gram spectra (exact). */
    cli_note("classes: %d x %d class means (%d backward passes over %s)", C, C, C,
             c.data.description);
    HESSE_CHECK(hesse_class_means_compute(c.engine, &c.data.samples, &cm));
    hesse_json_add_doubles(res, "class_weights", cm.pi, C);
    basis = hesse_alloc((size_t)n * (size_t)C * sizeof *basis);
    if (!basis) {
        rc = hesse_error(HESSE_ENOMEM,
                         "classes: cannot allocate the %d class-mean directions "
                         "(%d x %lld doubles)",
                         C, C, (long long)n);
        goto cleanup;
    }
    static const char *const part_keys[] = {"means_eigenvalues", "class_eigenvalues",
                                            "cross_eigenvalues"};
    double tr_means = 0;
    for (int part = 0; part < 3; part++) {
        int count = 0;
        HESSE_CHECK(hesse_class_spectrum(&cm, (hesse_means_part)part, &vals, &count,
                                         part == 0 ? C : 0, part == 0 ? basis : NULL));
        hesse_json_add_doubles(res, part_keys[part], vals, count);
        if (part == 0)
            for (int j = 0; j < count; j++) tr_means += vals[j];
        free(vals);
        vals = NULL;
    }

    /* Lanczos spectra of H, G, G_within = G - G_means and E = H - G. */
    cJSON *spectra = cJSON_AddObjectToObject(res, "spectra");
    HESSE_CHECK(hesse_op_curvature(c.engine, &c.data.samples, HESSE_CURV_GGN, &G));
    HESSE_CHECK(hesse_op_class_means(&cm, HESSE_MEANS_ALL, &Gm));
    HESSE_CHECK(hesse_op_combine(&G, 1.0, &Gm, -1.0, &Gw));
    HESSE_CHECK(spectrum_of(&c.op, "hessian", top, 0, tol, 1, spectra, &rh, &products));
    HESSE_CHECK(spectrum_of(&G, "ggn", top, 0, tol, 1, spectra, &rg, &products));
    HESSE_CHECK(spectrum_of(&Gw, "within", top, 0, tol, 0, spectra, &rw, &products));
    if (!no_residual) {
        HESSE_CHECK(hesse_op_curvature(c.engine, &c.data.samples, HESSE_CURV_RESIDUAL, &E));
        HESSE_CHECK(spectrum_of(&E, "residual", top, top, tol, 0, spectra, &re, &products));
    }

    /* The averaging approximation of the top-C subspace, and the outliers. */
    cJSON *ov = cJSON_AddObjectToObject(res, "overlap");
    double oh = hesse_subspace_overlap(n, C, basis, C, rh.vectors);
    double og = hesse_subspace_overlap(n, C, basis, C, rg.vectors);
    cJSON_AddNumberToObject(ov, "averaging_vs_hessian", oh);
    cJSON_AddNumberToObject(ov, "averaging_vs_ggn", og);
    cJSON_AddNumberToObject(ov, "hessian_vs_ggn",
                            hesse_subspace_overlap(n, C, rh.vectors, C, rg.vectors));
    double gap;
    int outl = hesse_outlier_count(rh.values, rh.ntop, &gap);
    cJSON *oo = cJSON_AddObjectToObject(res, "outliers");
    cJSON_AddNumberToObject(oo, "count", outl);
    cJSON_AddNumberToObject(oo, "gap_ratio", gap);

    /* tr G = tr G_means + tr G_within: G and G_within estimated with independent probes. */
    hesse_trace_result tg = {0}, tw = {0};
    cli_note("classes: traces of G and G_within (Hutch++, %d products each)", probes);
    HESSE_CHECK(trace_of(&G, probes, solver_seed, &tg, &products));
    HESSE_CHECK(trace_of(&Gw, probes, solver_seed + 1, &tw, &products));
    cJSON *tr = cJSON_AddObjectToObject(res, "trace");
    cJSON_AddNumberToObject(tr, "ggn", tg.trace);
    cJSON_AddNumberToObject(tr, "ggn_stderr", tg.std_error);
    cJSON_AddNumberToObject(tr, "means", tr_means);
    cJSON_AddNumberToObject(tr, "within", tw.trace);
    cJSON_AddNumberToObject(tr, "within_stderr", tw.std_error);
    double gap_tr = tg.trace - tr_means - tw.trace;
    double se = sqrt(tg.std_error * tg.std_error + tw.std_error * tw.std_error);
    cJSON_AddNumberToObject(tr, "identity_gap", gap_tr);
    cJSON_AddNumberToObject(tr, "identity_stderr", se);

    cJSON_AddNumberToObject(res, "backward_passes", (double)cm.passes);
    cJSON_AddNumberToObject(res, "products", (double)products);
    cJSON_AddNumberToObject(res, "seconds", hesse_now() - t0);
    if (svg && cli_root) { /* rank 0 writes */
        HESSE_CHECK(write_svg(svg, res));
        cJSON_AddStringToObject(res, "svg", svg);
    }
    HESSE_CHECK(cli_emit(res, out));
    cli_note("classes: %d outliers (gap x%.2f); averaging-subspace overlap %.3f with H, %.3f with "
             "G; tr G %.6g = means %.6g + within %.6g (gap %.3g, stderr %.3g)",
             outl, gap, oh, og, tg.trace, tr_means, tw.trace, gap_tr, se);
cleanup:
    free(vals);
    hesse_free(basis);
    hesse_eigs_free(&rh);
    hesse_eigs_free(&rg);
    hesse_eigs_free(&rw);
    hesse_eigs_free(&re);
    hesse_op_free(&Gw);
    hesse_op_free(&Gm);
    hesse_op_free(&E);
    hesse_op_free(&G);
    hesse_class_means_free(&cm);
    cJSON_Delete(res);
    cli_curv_close(&c);
    return rc == HESSE_OK ? 0 : cli_fail("classes", rc);
}
