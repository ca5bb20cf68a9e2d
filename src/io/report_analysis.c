/* Report sections for the analyses (docs/results.md; PAPERS.md): powerlaw (Xie et al.),
 * classes (Papyan 2019), samples (Papyan 2018) and kronecker (Wu et al.). Their layouts are
 * young, so every key is looked up as optional-or-recorded and nothing here assumes that an
 * array has the length another key announces. */
#include "io/report-impl.h"

#include <hesse/analysis.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *at(const cJSON *arr, int64_t i) {
    return i >= 0 && i <= 0x7fffffff ? cJSON_GetArrayItem(arr, (int)i) : NULL;
}

static int array_size(const cJSON *a) {
    return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
}

/* A "k | column 1 | column 2 ..." table of arrays side by side, at most max_rows rows. */
static void columns_table(hesse_rep *s, const char *caption, int ncols, const char *const *labels,
                          const cJSON *const *arrays, const char *const *paths, int max_rows) {
    int rows = 0;
    for (int c = 0; c < ncols; c++)
        if (array_size(arrays[c]) > rows) rows = array_size(arrays[c]);
    if (rows == 0) return;
    const char *cols[8] = {"k"};
    for (int c = 0; c < ncols && c < 7; c++) cols[c + 1] = labels[c];
    char cap[160];
    if (rows > max_rows)
        snprintf(cap, sizeof cap, "%s: the first %d of %d", caption, max_rows, rows);
    else
        snprintf(cap, sizeof cap, "%s", caption);
    hesse_rep_table(s, "grid", cap, ncols + 1, cols);
    for (int k = 0; k < rows && k < max_rows; k++) {
        hesse_iobuf_printf(s->b, "<tr><td class=\"k\">%d</td>", k + 1);
        for (int c = 0; c < ncols && c < 7; c++) {
            const cJSON *v = at(arrays[c], k);
            if (v)
                hesse_rep_cell(s, v, "%s[%d]", paths[c], k);
            else
                hesse_iobuf_puts(s->b, "<td></td>");
        }
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);
}

/* n points spaced evenly in log between a and b (a, b > 0). */
static void log_space(double *x, int n, double a, double b) {
    for (int i = 0; i < n; i++) x[i] = a * pow(b / a, n > 1 ? (double)i / (n - 1) : 0.0);
}

/* ---- powerlaw ------------------------------------------------------------------------------ */

#define LINE_POINTS                64
#define NEED                       HESSE_REP_NEED
#define OPT                        HESSE_REP_OPT
#define KV(s, caption, doc, items) hesse_rep_kv(s, caption, doc, items, HESSE_REP_COUNT(items))

static const hesse_rep_item fitted_rows[] = {NEED("K"),
                                             OPT("K_requested"),
                                             OPT("fit.dropped"),
                                             OPT("fit.lambda_max"),
                                             OPT("fit.lambda_min"),
                                             OPT("K_cap"),
                                             OPT("source"),
                                             OPT("converged"),
                                             OPT("products"),
                                             OPT("seconds")};
static const hesse_rep_item rank_law_rows[] = {NEED("fit.s_ls"), NEED("fit.intercept_ls"),
                                               NEED("fit.r2_ls")};
static const hesse_rep_item density_law_rows[] = {NEED("fit.beta"), NEED("fit.beta_stderr"),
                                                  NEED("fit.s_mle")};
static const hesse_rep_item ks_rows[] = {NEED("fit.d_ks"), NEED("fit.d_c"), NEED("fit.accepted")};

void hesse_rep_powerlaw(hesse_rep *s, const cJSON *doc) {
    const cJSON *fit = hesse_rep_need(s, doc, "fit", "$");
    KV(s, "Eigenvalues fitted", doc, fitted_rows);
    if (fit) {
        KV(s, "Rank law λ_k ∝ k^(−s), least squares", doc, rank_law_rows);
        KV(s, "Density law p(λ) ∝ λ^(−β), maximum likelihood", doc, density_law_rows);
        KV(s, "Kolmogorov–Smirnov test", doc, ks_rows);
        double dks = hesse_rep_number(fit, "d_ks"), dc = hesse_rep_number(fit, "d_c");
        const cJSON *acc = hesse_rep_opt(fit, "accepted");
        if (isfinite(dks) && isfinite(dc)) {
            int ok = cJSON_IsBool(acc) ? cJSON_IsTrue(acc) : dks < dc;
            hesse_rep_note(s, ok ? "verdict ok" : "verdict bad",
                           "d_KS = %.4g %s d_c = %.4g: the power law is %s at the 5%% level.", dks,
                           dks < dc ? "<" : "≥", dc, ok ? "accepted" : "rejected");
            if (cJSON_IsBool(acc) && cJSON_IsTrue(acc) != (dks < dc))
                hesse_rep_note(s, "missing",
                               "$.fit.accepted disagrees with d_KS < d_c as printed here.");
        }
    }
    double *ev = NULL;
    int64_t K = hesse_rep_array(s, doc, "eigenvalues", "$", &ev);
    double *k = K > 0 ? hesse_rep_iota(s, K, 1) : NULL;
    if (k) {
        hesse_powerlaw f = {0};
        double fk = hesse_rep_number(doc, "K"); /* the fitted values: the positive ones */
        f.K = isfinite(fk) && fk >= 1 && fk <= (double)K ? (int)fk : (int)K;
        f.lambda_min = hesse_rep_number(fit, "lambda_min");
        if (!isfinite(f.lambda_min)) f.lambda_min = ev[f.K - 1];
        f.s_mle = hesse_rep_number(fit, "s_mle");
        double smle = f.s_mle, sls = hesse_rep_number(fit, "s_ls");
        double b = hesse_rep_number(fit, "intercept_ls");
        double lx[LINE_POINTS], lmle[LINE_POINTS], lls[LINE_POINTS];
        log_space(lx, LINE_POINTS, 1, K > 1 ? (double)K : 2);
        /* The lines stay within the values' range so that a poor fit cannot squash them. */
        double lo = INFINITY, hi = 0;
        for (int64_t i = 0; i < K; i++)
            if (ev[i] > 0) {
                lo = fmin(lo, ev[i]);
                hi = fmax(hi, ev[i]);
            }
        for (int i = 0; i < LINE_POINTS; i++) {
            lmle[i] = hesse_powerlaw_mle_rank(&f, lx[i]);
            lls[i] = exp(b - sls * log(lx[i]));
            if (!(lmle[i] >= 0.5 * lo && lmle[i] <= 2 * hi)) lmle[i] = NAN;
            if (!(lls[i] >= 0.5 * lo && lls[i] <= 2 * hi)) lls[i] = NAN;
        }
        /* the order (and so the colours) of the CLI's plot: values, least squares, likelihood */
        hesse_series se[3] = {
            {"λ_k", k, ev, K, HESSE_PLOT_POINTS, NULL, 0},
            {"least squares", lx, lls, LINE_POINTS, HESSE_PLOT_LINE, NULL, 0},
            {"λ_K (k/K)^(−s_mle)", lx, lmle, LINE_POINTS, HESSE_PLOT_LINE, NULL, 1}};
        int ns = 1;
        if (isfinite(b) && isfinite(sls)) ns = 2;
        if (f.lambda_min > 0 && isfinite(smle)) {
            if (ns == 1) se[1] = se[2];
            ns++;
        }
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Rank plot", "k", "λ_k", 1, 1);
        hesse_rep_plot(
            s, &p, se, ns,
            "$.eigenvalues against k (log-log); lines from $.fit: exp(intercept_ls)·k^(−s_ls) "
            "and λ_K·(k/K)^(−s_mle) (through (K, λ_K))");
        hesse_rep_plots_end(s);
    }
    free(k);
    free(ev);
}

/* ---- classes --------------------------------------------------------------------------------- */

#define CLASS_SERIES 6

static const hesse_rep_item outlier_rows[] = {NEED("classes"), NEED("outliers.count"),
                                              NEED("outliers.gap_ratio")};
static const hesse_rep_item identity_rows[] = {
    NEED("trace.ggn"),
    {"trace.ggn_stderr", 0, "  standard error"},
    NEED("trace.means"),
    NEED("trace.within"),
    {"trace.within_stderr", 0, "  standard error"},
    NEED("trace.identity_gap"),
    NEED("trace.identity_stderr"),
    OPT("trace.within_hutchpp"),
    {"trace.within_hutchpp_stderr", 0, "  standard error"},
    OPT("trace.within_hutchpp_gap"),
    {"trace.within_hutchpp_gap_stderr", 0, "  standard error"}};
static const hesse_rep_item two_way_rows[] = {
    NEED("two_way.weights"),       NEED("two_way.total"),
    NEED("two_way.grand_mean"),    NEED("two_way.share_grand_mean"),
    NEED("two_way.class_effect"),  NEED("two_way.share_class_effect"),
    NEED("two_way.label_effect"),  NEED("two_way.share_label_effect"),
    NEED("two_way.interaction"),   NEED("two_way.share_interaction"),
    NEED("two_way.additive_share")};
static const hesse_rep_item papyan_rows[] = {NEED("two_way.class_terms"),
                                             NEED("two_way.cross_class_means"),
                                             NEED("two_way.cross_deviations")};
static const hesse_rep_item overlap_rows[] = {NEED("overlap.averaging_vs_hessian"),
                                              NEED("overlap.averaging_vs_ggn"),
                                              OPT("overlap.hessian_vs_ggn")};
static const hesse_rep_item weights_row[] = {NEED("class_weights")};

/* The identity: exact to rounding now (tr G_within derived from tr G), with the independent
 * estimate as the check; a document from before (independent estimates only) by its gap. */
static void identity_verdict(hesse_rep *s, const cJSON *trace) {
    const double gap = hesse_rep_number(trace, "identity_gap");
    const double gse = hesse_rep_number(trace, "identity_stderr");
    const double tg = hesse_rep_number(trace, "ggn");
    const double ind = hesse_rep_number(trace, "within_hutchpp_gap");
    const double ise = hesse_rep_number(trace, "within_hutchpp_gap_stderr");
    if (isfinite(ind) && isfinite(ise) && isfinite(gap) && isfinite(tg)) {
        const int exact = fabs(gap) <= 1e-12 * fabs(tg);
        hesse_rep_note(s, exact ? "verdict ok" : "verdict bad",
                       "Trace identity: tr G_means is exact and tr G_within = tr G − tr G_means "
                       "shares tr G's Hutch++ estimate, so the gap is rounding (|gap| = %.3g%s "
                       "1e-12 tr G). The independent Hutch++ estimate of tr G_within differs from "
                       "it by %.3g standard errors.",
                       fabs(gap), exact ? " ≤" : ", more than", ise > 0 ? ind / ise : 0.0);
    } else if (isfinite(gap) && isfinite(gse)) {
        hesse_rep_note(s, fabs(gap) <= 2 * gse ? "verdict ok" : "verdict bad",
                       "Trace identity: |gap| = %.4g %s 2 standard errors = %.4g.", fabs(gap),
                       fabs(gap) <= 2 * gse ? "≤" : ">", 2 * gse);
    }
}

/* The means' two-way analysis of variance, Papyan's split of G_means, and a verdict in words on
 * the main effects' share of the variation about the grand mean. */
static void two_way(hesse_rep *s, const cJSON *doc) {
    KV(s,
       "Two-way structure of the means: δ_{c,c′} = μ + a_c + b_c′ + r_{c,c′} (shares of tr "
       "G_means)",
       doc, two_way_rows);
    KV(s, "Papyan's split: tr G_means = tr G_class + tr G_1 + tr G_2", doc, papyan_rows);
    const cJSON *t = hesse_rep_opt(doc, "two_way");
    const double add = hesse_rep_number(t, "additive_share");
    const double ra = hesse_rep_number(t, "share_interaction");
    if (!isfinite(add) || !isfinite(ra)) return;
    const char *words = add >= 0.9   ? "The means are additive"
                        : add >= 0.5 ? "The means are mostly additive"
                                     : "The means are not additive";
    hesse_rep_note(s, add >= 0.5 ? "verdict ok" : "verdict bad",
                   "%s: the class effect a_c and the label effect b_c′ explain %.1f %% of their "
                   "variation about the grand mean, the interaction r_{c,c′} the other %.1f %% "
                   "(%.1f %% of tr G_means). Papyan 2019 finds an additive two-way structure.",
                   words, 100 * add, 100 * (1 - add), 100 * ra);
}

/* --density: the log10 densities of every operator on the shared grid, one figure. */
static void class_densities(hesse_rep *s, const cJSON *d) {
    static const char *const keys[] = {"hessian", "ggn",   "residual", "within",
                                       "means",   "class", "cross"};
    static const char *const labels[] = {"H (SLQ)",        "G (SLQ)",         "E = H − G (SLQ)",
                                         "G_within (SLQ)", "G_means (exact)", "G_class (exact)",
                                         "G_cross (exact)"};
    enum { ND = 7 };
    double *grid = NULL, *ys[ND] = {0};
    hesse_series se[ND];
    int ns = 0;
    int64_t ng = hesse_rep_array(s, d, "grid", "$.densities", &grid);
    const cJSON *ops = hesse_rep_need(s, d, "operators", "$.densities");
    for (int j = 0; j < ND && ng > 1; j++) {
        const cJSON *o = hesse_rep_opt(ops, keys[j]);
        if (!o || hesse_rep_doubles(s, hesse_rep_opt(o, "log10_density"), &ys[j]) != ng) continue;
        se[ns++] = (hesse_series){labels[j], grid, ys[j], ng, HESSE_PLOT_LINE, NULL, j >= 4};
    }
    if (ns > 0) {
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Spectral densities of the decomposition (log10)",
                                           "eigenvalue", "log10(density + eps)", 0, 0);
        p.width = 760;
        p.height = 440;
        hesse_rep_plot(s, &p, se, ns,
                       "$.densities.operators.*.log10_density against $.densities.grid: SLQ "
                       "(solid) and, dashed, the exact spectra of the low-rank means operators "
                       "(eigenvalues at 1/n each, zero at (n − k)/n) smoothed by the same "
                       "Gaussian ($.densities.sigma)");
        hesse_rep_plots_end(s);
    }
    free(grid);
    for (int j = 0; j < ND; j++) free(ys[j]);
}

void hesse_rep_classes(hesse_rep *s, const cJSON *doc) {
    const cJSON *spectra = hesse_rep_need(s, doc, "spectra", "$");
    const cJSON *trace = hesse_rep_need(s, doc, "trace", "$");
    hesse_rep_need(s, doc, "overlap", "$");
    hesse_rep_need(s, doc, "outliers", "$");
    const cJSON *hess = hesse_rep_need(s, spectra, "hessian", "$.spectra");
    const cJSON *ggn = hesse_rep_need(s, spectra, "ggn", "$.spectra");
    const cJSON *within = hesse_rep_need(s, spectra, "within", "$.spectra");
    const cJSON *resid = hesse_rep_opt(spectra, "residual");

    KV(s, "Outliers", doc, outlier_rows);
    KV(s, "Trace identity: tr G = tr G_means + tr G_within", doc, identity_rows);
    KV(s, "Overlap of top-C subspaces", doc, overlap_rows);
    const cJSON *w = hesse_rep_need(s, doc, "class_weights", "$");
    int nw = array_size(w);
    if (nw > 0 && nw <= 20) { /* one row: c across, π_c below */
        hesse_rep_table(s, "grid", "Class weights π_c", 0, NULL);
        hesse_iobuf_puts(s->b, "<tr><th>c</th>");
        for (int c = 0; c < nw; c++) hesse_iobuf_printf(s->b, "<th>%d</th>", c);
        hesse_iobuf_puts(s->b, "</tr>\n<tr><th>π_c</th>");
        for (int c = 0; c < nw; c++) hesse_rep_cell(s, at(w, c), "$.class_weights[%d]", c);
        hesse_iobuf_puts(s->b, "</tr>\n");
        hesse_rep_table_end(s);
    } else if (w) {
        KV(s, NULL, doc, weights_row);
    }
    identity_verdict(s, trace);
    if (hesse_rep_opt(doc, "two_way")) two_way(s, doc);

    static const char *const labels[CLASS_SERIES] = {"G_means", "G_class", "G_cross",
                                                     "H top",   "G top",   "G_within top"};
    static const char *const paths[CLASS_SERIES] = {"$.means_eigenvalues", "$.class_eigenvalues",
                                                    "$.cross_eigenvalues", "$.spectra.hessian.top",
                                                    "$.spectra.ggn.top",   "$.spectra.within.top"};
    const cJSON *arr[CLASS_SERIES] = {hesse_rep_need(s, doc, "means_eigenvalues", "$"),
                                      hesse_rep_need(s, doc, "class_eigenvalues", "$"),
                                      hesse_rep_need(s, doc, "cross_eigenvalues", "$"),
                                      hesse_rep_need(s, hess, "top", "$.spectra.hessian"),
                                      hesse_rep_need(s, ggn, "top", "$.spectra.ggn"),
                                      hesse_rep_need(s, within, "top", "$.spectra.within")};
    int C = hesse_rep_int(doc, "classes");
    columns_table(s, "Spectra side by side (descending)", CLASS_SERIES, labels, arr, paths,
                  C > 0 && C < 12 ? 2 * C + 2 : 24);
    if (resid) {
        const cJSON *ra[2] = {hesse_rep_opt(resid, "top"), hesse_rep_opt(resid, "bottom")};
        static const char *const rl[2] = {"E top", "E bottom"};
        static const char *const rp[2] = {"$.spectra.residual.top", "$.spectra.residual.bottom"};
        columns_table(s, "Residual E = H − G", 2, rl, ra, rp, 24);
    }

    /* The stems of each spectrum, shifted a little along k so that they stand side by side. */
    hesse_series se[CLASS_SERIES];
    double *xs[CLASS_SERIES] = {0}, *ys[CLASS_SERIES] = {0};
    int ns = 0, dropped[CLASS_SERIES] = {0};
    for (int j = 0; j < CLASS_SERIES; j++) {
        int64_t n = hesse_rep_doubles(s, arr[j], &ys[j]);
        if (n <= 0) continue;
        xs[j] = hesse_rep_iota(s, n, 1);
        if (!xs[j]) continue;
        for (int64_t i = 0; i < n; i++) {
            xs[j][i] += (j - 0.5 * (CLASS_SERIES - 1)) * 0.12;
            dropped[j] += !(ys[j][i] > 0);
        }
        se[ns++] = (hesse_series){labels[j], xs[j], ys[j], n, HESSE_PLOT_STEMS, NULL, 0};
    }
    if (ns > 0) {
        char cap[400];
        int len = snprintf(cap, sizeof cap,
                           "$.means_eigenvalues, $.class_eigenvalues, $.cross_eigenvalues and "
                           "$.spectra.{hessian,ggn,within}.top against k (shifted by series)");
        for (int j = 0; j < CLASS_SERIES; j++)
            if (dropped[j] && len > 0 && (size_t)len < sizeof cap)
                len += snprintf(cap + len, sizeof cap - (size_t)len,
                                "; %s: %d non-positive not drawn", labels[j], dropped[j]);
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Class-mean hierarchy", "k", "eigenvalue", 0, 1);
        p.width = 760;
        p.height = 420;
        hesse_rep_plot(s, &p, se, ns, cap);
        hesse_rep_plots_end(s);
    }
    for (int j = 0; j < CLASS_SERIES; j++) {
        free(xs[j]);
        free(ys[j]);
    }
    if (hesse_rep_opt(doc, "densities")) class_densities(s, hesse_rep_opt(doc, "densities"));
}

/* ---- samples --------------------------------------------------------------------------------- */

#define MAX_RUNS 16

static const hesse_rep_item runs_rows[] = {NEED("classes"), NEED("sizes")};

void hesse_rep_samples(hesse_rep *s, const cJSON *doc) {
    KV(s, "Runs", doc, runs_rows);
    const cJSON *runs = hesse_rep_need(s, doc, "runs", "$");
    int nr = array_size(runs), C = hesse_rep_int(doc, "classes");
    if (nr == 0) return;
    static const char *const cols[] = {"N",         "outlier values", "λ_1",    "λ_C",
                                       "bulk edge", "products",       "seconds"};
    hesse_rep_table(s, "grid", "Per sample size", 7, cols);
    for (int r = 0; r < nr; r++) {
        const cJSON *run = at(runs, r), *out = hesse_rep_opt(run, "outliers");
        char p[24];
        snprintf(p, sizeof p, "$.runs[%d]", r);
        hesse_iobuf_puts(s->b, "<tr>");
        hesse_rep_cell(s, hesse_rep_need(s, run, "samples", p), "%s.samples", p);
        if (cJSON_IsArray(out))
            hesse_rep_cell_computed(s, array_size(out), "length of outliers");
        else
            hesse_rep_cell(s, hesse_rep_need(s, run, "outliers", p), "%s.outliers", p);
        hesse_rep_cell(s, at(out, 0), "%s.outliers[0]", p);
        hesse_rep_cell(s, C > 0 ? at(out, C - 1) : NULL, "%s.outliers[%d]", p, C - 1);
        hesse_rep_cell(s, hesse_rep_need(s, run, "bulk_edge", p), "%s.bulk_edge", p);
        hesse_rep_cell(s, hesse_rep_opt(run, "products"), "%s.products", p);
        hesse_rep_cell(s, hesse_rep_opt(run, "seconds"), "%s.seconds", p);
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);

    /* Overlaid log densities, one per size. */
    hesse_series se[MAX_RUNS];
    double *g[MAX_RUNS] = {0}, *ld[MAX_RUNS] = {0};
    char labels[MAX_RUNS][32];
    int ns = 0;
    for (int r = 0; r < nr && r < MAX_RUNS; r++) {
        const cJSON *run = at(runs, r);
        int64_t n = hesse_rep_doubles(s, hesse_rep_opt(run, "grid"), &g[r]);
        int64_t m = hesse_rep_doubles(s, hesse_rep_opt(run, "log10_density"), &ld[r]);
        if (n <= 0 || m != n) continue;
        snprintf(labels[r], sizeof labels[r], "N = %.0f", hesse_rep_number(run, "samples"));
        se[ns++] = (hesse_series){labels[r], g[r], ld[r], n, HESSE_PLOT_LINE, NULL, r >= 8};
    }
    hesse_rep_plots_begin(s);
    if (ns > 0) {
        hesse_plot p = hesse_rep_plot_spec("Bulk density by sample size (top C deflated)",
                                           "eigenvalue", "log10 density", 0, 0);
        hesse_rep_plot(s, &p, se, ns,
                       nr > MAX_RUNS ? "$.runs[i].log10_density against $.runs[i].grid (the "
                                       "first 16 runs)"
                                     : "$.runs[i].log10_density against $.runs[i].grid");
    } else {
        hesse_rep_note(s, "note", "No run has a grid and a log10 density of the same length.");
    }
    for (int r = 0; r < MAX_RUNS; r++) {
        free(g[r]);
        free(ld[r]);
    }

    /* Outliers against N: one line per outlier index, the bulk edge dashed. */
    int m = 0;
    for (int r = 0; r < nr; r++)
        if (array_size(hesse_rep_opt(at(runs, r), "outliers")) > m)
            m = array_size(hesse_rep_opt(at(runs, r), "outliers"));
    if (m > 64) m = 64;
    double *N = malloc((size_t)nr * sizeof *N), *Y = malloc((size_t)(m + 1) * nr * sizeof *Y);
    hesse_series *os = malloc((size_t)(m + 1) * sizeof *os);
    if (!N || !Y || !os) {
        s->oom = 1;
    } else {
        for (int r = 0; r < nr; r++) {
            const cJSON *run = at(runs, r), *out = hesse_rep_opt(run, "outliers");
            N[r] = hesse_rep_number(run, "samples");
            for (int j = 0; j < m; j++) {
                const cJSON *v = at(out, j);
                Y[(size_t)j * nr + r] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
            }
            Y[(size_t)m * nr + r] = hesse_rep_number(run, "bulk_edge");
        }
        hesse_plot_style style = nr > 1 ? HESSE_PLOT_LINE : HESSE_PLOT_POINTS;
        for (int j = 0; j < m; j++)
            os[j] = (hesse_series){j == 0   ? "outliers (top C)"
                                   : j == C ? "margin"
                                            : NULL,
                                   N,
                                   Y + (size_t)j * nr,
                                   nr,
                                   style,
                                   j < C || C <= 0 ? "#1f77b4" : "#9aa5b1",
                                   0};
        os[m] = (hesse_series){"bulk edge", N, Y + (size_t)m * nr, nr, style, "#d62728", 1};
        hesse_plot p = hesse_rep_plot_spec("Outliers and bulk edge against N", "samples N",
                                           "eigenvalue", 1, 0);
        hesse_rep_plot(s, &p, os, m + 1,
                       "$.runs[i].outliers[j] and $.runs[i].bulk_edge against $.runs[i].samples "
                       "(log x)");
    }
    hesse_rep_plots_end(s);
    free(N);
    free(Y);
    free(os);
}

/* ---- kronecker ------------------------------------------------------------------------------- */

static const hesse_rep_item layer_rows[] = {NEED("overlap"), NEED("outliers")};
static const hesse_rep_item classes_minus_one_row[] = {NEED("classes_minus_one")};
static const hesse_rep_item layer_more_rows[] = {
    OPT("outlier_gap_ratio"), OPT("M_outliers"),    OPT("M"),
    OPT("M_exact"),           OPT("shape"),         OPT("positions"),
    OPT("products"),          OPT("x_mean_norm"),   OPT("x_mean_ratio_fro"),
    OPT("x_mean_ratio_2"),    OPT("x_mean_overlap")};
static const hesse_rep_item settings_rows[] = {NEED("classes"), NEED("k"), OPT("M"), OPT("models")};

static void kron_layer(hesse_rep *s, const cJSON *layer, int i, int C) {
    char p[32], title[256], cap[160];
    snprintf(p, sizeof p, "$.layers[%d]", i);
    const cJSON *name = hesse_rep_need(s, layer, "name", p), *kind = hesse_rep_opt(layer, "kind");
    const cJSON *shape = hesse_rep_opt(layer, "shape");
    int len = snprintf(title, sizeof title, "Layer %s",
                       cJSON_IsString(name) ? name->valuestring : "(unnamed)");
    if (cJSON_IsString(kind) && len > 0 && (size_t)len < sizeof title)
        len += snprintf(title + len, sizeof title - (size_t)len, " (%s", kind->valuestring);
    if (array_size(shape) == 2 && len > 0 && (size_t)len < sizeof title)
        len +=
            snprintf(title + len, sizeof title - (size_t)len, "%s%.0f × %.0f",
                     cJSON_IsString(kind) ? ", " : " (", cJSON_GetArrayItem(shape, 0)->valuedouble,
                     cJSON_GetArrayItem(shape, 1)->valuedouble);
    if (len > 0 && (size_t)len < sizeof title - 1 &&
        (cJSON_IsString(kind) || array_size(shape) == 2))
        snprintf(title + len, sizeof title - (size_t)len, ")");
    hesse_rep_h3(s, title);

    hesse_rep_table(s, "kv", "Summary", 0, NULL);
    hesse_rep_rows(s, layer, p, "layers[]", layer_rows, HESSE_REP_COUNT(layer_rows));
    if (hesse_rep_opt(layer, "classes_minus_one")) {
        hesse_rep_rows(s, layer, p, "layers[]", classes_minus_one_row, 1);
    } else if (C > 0) {
        hesse_iobuf_puts(s->b, "<tr><th>");
        hesse_rep_text(s->b, hesse_rep_label(s, "layers[].classes_minus_one"));
        hesse_iobuf_puts(s->b, "</th>");
        hesse_rep_cell_computed(s, C - 1, "$.classes - 1");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_rows(s, layer, p, "layers[]", layer_more_rows, HESSE_REP_COUNT(layer_more_rows));
    hesse_rep_table_end(s);
    char pe[48], pk[48], pr[48], pres[48];
    snprintf(pe, sizeof pe, "%s.exact_top", p);
    snprintf(pk, sizeof pk, "%s.kron_top", p);
    snprintf(pr, sizeof pr, "%s.rank_one", p);
    snprintf(pres, sizeof pres, "%s.exact_residuals", p);
    const cJSON *arrs[4] = {
        hesse_rep_need(s, layer, "exact_top", p), hesse_rep_need(s, layer, "kron_top", p),
        hesse_rep_need(s, layer, "rank_one", p), hesse_rep_opt(layer, "exact_residuals")};
    static const char *const labels[4] = {"exact λ_k", "Kronecker μ_a ν_b", "rank-one ratio",
                                          "residual"};
    const char *paths[4] = {pe, pk, pr, pres};
    columns_table(s, "Top eigenvalues", arrs[3] ? 4 : 3, labels, arrs, paths, 32);

    double *ex = NULL, *kr = NULL, *m = NULL, *xx = NULL;
    int64_t ne = hesse_rep_doubles(s, arrs[0], &ex), nk = hesse_rep_doubles(s, arrs[1], &kr);
    int64_t nm = hesse_rep_doubles(s, hesse_rep_opt(layer, "M_eigenvalues"), &m);
    int64_t nx = hesse_rep_doubles(s, hesse_rep_opt(layer, "xx_eigenvalues"), &xx);
    int64_t most = ne;
    if (nk > most) most = nk;
    if (nm > most) most = nm;
    if (nx > most) most = nx;
    double *k = most > 0 ? hesse_rep_iota(s, most, 1) : NULL;
    if (k) {
        hesse_rep_plots_begin(s);
        hesse_series se[2];
        int ns = 0;
        if (ne > 0) se[ns++] = (hesse_series){"exact", k, ex, ne, HESSE_PLOT_POINTS, NULL, 0};
        if (nk > 0)
            se[ns++] = (hesse_series){"Kronecker", k, kr, nk, HESSE_PLOT_LINE, "#d62728", 1};
        hesse_plot pl =
            hesse_rep_plot_spec("Exact vs Kronecker top eigenvalues", "k", "eigenvalue", 0, 1);
        snprintf(cap, sizeof cap, "%s and %s against k (log y)", pe, pk);
        if (ns > 0) hesse_rep_plot(s, &pl, se, ns, cap);
        ns = 0;
        if (nm > 0) se[ns++] = (hesse_series){"E[M]", k, m, nm, HESSE_PLOT_POINTS, NULL, 0};
        if (nx > 0) se[ns++] = (hesse_series){"E[xxᵀ]", k, xx, nx, HESSE_PLOT_POINTS, NULL, 0};
        pl = hesse_rep_plot_spec("Factor spectra", "index", "eigenvalue", 0, 1);
        snprintf(cap, sizeof cap, "%s.M_eigenvalues and %s.xx_eigenvalues (log y)", p, p);
        if (ns > 0) hesse_rep_plot(s, &pl, se, ns, cap);
        hesse_rep_plots_end(s);
    }
    free(k);
    free(ex);
    free(kr);
    free(m);
    free(xx);
}

/* The mean of cross_model_overlap[c].pairs[].overlap for the entry named `name` (its index in
 * *c), or NAN when there is none. */
static double cross_mean(const cJSON *cross, const char *name, int *c) {
    for (int i = 0; i < array_size(cross); i++) {
        const cJSON *e = at(cross, i), *n = hesse_rep_opt(e, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0) continue;
        const cJSON *pairs = hesse_rep_opt(e, "pairs");
        double sum = 0;
        int count = 0;
        for (int j = 0; j < array_size(pairs); j++) {
            const cJSON *o = hesse_rep_opt(at(pairs, j), "overlap");
            if (cJSON_IsNumber(o)) sum += o->valuedouble, count++;
        }
        *c = i;
        return count ? sum / count : NAN;
    }
    return NAN;
}

/* Wu et al. sec. 4 side by side: E[x]'s dominance in E[xx^T] per layer of the first model,
 * and the overlap of the layer's top-k eigenspace across the models (mean over the pairs). */
static void kron_dominance(hesse_rep *s, const cJSON *doc, const cJSON *layers) {
    static const char *const cols[] = {"layer", "‖E[x]‖²/‖E[xxᵀ]‖_F", "‖E[x]‖²/λ_max",
                                       "|⟨u₁, E[x]/‖E[x]‖⟩|", "top-k overlap across models"};
    static const char *const keys[] = {"x_mean_ratio_fro", "x_mean_ratio_2", "x_mean_overlap"};
    const cJSON *cross = hesse_rep_opt(doc, "cross_model_overlap");
    const cJSON *first = at(hesse_rep_opt(doc, "models"), 0);
    int any = 0;
    for (int i = 0; i < array_size(layers); i++) any |= hesse_rep_opt(at(layers, i), keys[0]) != 0;
    if (!any) return;
    hesse_rep_h3(s, "E[x] dominance and overlap across models");
    hesse_rep_table(s, "grid", "Per layer (first model)", 5, cols);
    for (int i = 0; i < array_size(layers); i++) {
        const cJSON *L = at(layers, i), *name = hesse_rep_opt(L, "name"),
                    *model = hesse_rep_opt(L, "model");
        if (!cJSON_IsString(name) || !hesse_rep_opt(L, keys[0])) continue;
        if (cJSON_IsString(first) && cJSON_IsString(model) &&
            strcmp(first->valuestring, model->valuestring) != 0)
            continue;
        const cJSON *n0 = hesse_rep_opt(at(layers, 0), "name");
        if (i > 0 && cJSON_IsString(n0) && strcmp(n0->valuestring, name->valuestring) == 0)
            break; /* the next model's layers (the same file given twice) */
        hesse_iobuf_puts(s->b, "<tr>");
        hesse_rep_cell(s, name, "$.layers[%d].name", i);
        for (int k = 0; k < 3; k++)
            hesse_rep_cell(s, hesse_rep_opt(L, keys[k]), "$.layers[%d].%s", i, keys[k]);
        int c = -1;
        double ov = cross_mean(cross, name->valuestring, &c);
        char how[96];
        snprintf(how, sizeof how, "mean of $.cross_model_overlap[%d].pairs[].overlap", c);
        if (c >= 0)
            hesse_rep_cell_computed(s, ov, how);
        else
            hesse_iobuf_puts(s->b, "<td>(one model)</td>");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);
}

void hesse_rep_kronecker(hesse_rep *s, const cJSON *doc) {
    KV(s, "Settings", doc, settings_rows);
    const cJSON *layers = hesse_rep_need(s, doc, "layers", "$");
    int C = hesse_rep_int(doc, "classes");
    kron_dominance(s, doc, layers);
    for (int i = 0; i < array_size(layers); i++) kron_layer(s, at(layers, i), i, C);
    const cJSON *cross = hesse_rep_opt(doc, "cross_model_overlap");
    if (cross) {
        hesse_rep_h3(s, "Overlap across models");
        hesse_rep_values(s, cross, "$.cross_model_overlap");
    }
}
