/* Report sections for the measurement commands (docs/results.md): eval and train (history),
 * dense, spectrum, density, trace and bench. Each renders what its document holds and records
 * the keys it expected and did not find. */
#include "io/report-impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The i-th element of an array (NULL when out of range). */
static const cJSON *at(const cJSON *arr, int64_t i) {
    return i >= 0 && i <= 0x7fffffff ? cJSON_GetArrayItem(arr, (int)i) : NULL;
}

/* ---- eval / train ------------------------------------------------------------------------ */

static const char *const history_keys[] = {
    "epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"};
#define NUM_HISTORY_KEYS 7

/* A column of the history as doubles (NaN where a row lacks it). */
static double *history_column(hesse_rep *s, const cJSON *h, int n, const char *key) {
    double *v = malloc((size_t)n * sizeof *v);
    if (!v) {
        s->oom = 1;
        return NULL;
    }
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, h) {
        if (i >= n) break;
        v[i++] = hesse_rep_number(row, key);
    }
    return v;
}

static void history(hesse_rep *s, const cJSON *doc) {
    const cJSON *h = hesse_rep_need(s, doc, "history", "$");
    if (!h) return;
    int n = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : 0;
    if (n == 0) {
        hesse_rep_note(s, "note", "The training history is empty.");
        return;
    }
    int present[NUM_HISTORY_KEYS] = {0}, ncols = 0;
    const char *cols[NUM_HISTORY_KEYS];
    for (int k = 0; k < NUM_HISTORY_KEYS; k++) {
        const cJSON *row;
        cJSON_ArrayForEach(row, h) present[k] |= hesse_rep_opt(row, history_keys[k]) != NULL;
        if (present[k]) cols[ncols++] = history_keys[k];
    }
    hesse_rep_h3(s, "History");
    int fold = n > 25; /* long histories go in a fold under their plots */
    double *epoch = history_column(s, h, n, "epoch");
    double *col[4] = {NULL, NULL, NULL, NULL};
    static const char *const plotted[4] = {"train_loss", "test_loss", "train_accuracy",
                                           "test_accuracy"};
    for (int k = 0; k < 4; k++) col[k] = history_column(s, h, n, plotted[k]);
    if (epoch)
        for (int i = 0; i < n; i++)
            if (!isfinite(epoch[i])) epoch[i] = i + 1; /* rows without "epoch": their position */
    if (epoch && col[0] && col[1] && col[2] && col[3]) {
        hesse_plot_style style = n > 1 ? HESSE_PLOT_LINE : HESSE_PLOT_POINTS;
        hesse_series loss[2] = {{"train", epoch, col[0], n, style, NULL, 0},
                                {"test", epoch, col[1], n, style, NULL, 1}};
        hesse_series acc[2] = {{"train", epoch, col[2], n, style, NULL, 0},
                               {"test", epoch, col[3], n, style, NULL, 1}};
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Loss", "epoch", "loss", 0, 0);
        hesse_rep_plot(s, &p, loss, present[4] ? 2 : 1,
                       "$.history[*].train_loss and test_loss against epoch");
        p = hesse_rep_plot_spec("Accuracy", "epoch", "accuracy", 0, 0);
        hesse_rep_plot(s, &p, acc, present[5] ? 2 : 1,
                       "$.history[*].train_accuracy and test_accuracy against epoch");
        hesse_rep_plots_end(s);
    }
    free(epoch);
    for (int k = 0; k < 4; k++) free(col[k]);
    if (fold) hesse_iobuf_printf(s->b, "<details><summary>History: %d epochs</summary>\n", n);
    hesse_rep_table(s, "grid", NULL, ncols, cols);
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, h) {
        hesse_iobuf_puts(s->b, "<tr>");
        for (int k = 0; k < NUM_HISTORY_KEYS; k++)
            if (present[k])
                hesse_rep_cell(s, hesse_rep_opt(row, history_keys[k]), "$.history[%d].%s", i,
                               history_keys[k]);
        hesse_iobuf_puts(s->b, "</tr>\n");
        i++;
    }
    hesse_rep_table_end(s);
    if (fold) {
        hesse_rep_break(s);
        hesse_iobuf_puts(s->b, "</details>\n");
    }
}

#define NEED HESSE_REP_NEED
#define OPT  HESSE_REP_OPT

static const hesse_rep_item eval_rows[] = {NEED("loss"),      NEED("accuracy"), NEED("correct"),
                                           NEED("grad_norm"), NEED("samples"),  NEED("seconds")};

void hesse_rep_eval(hesse_rep *s, const cJSON *doc) {
    hesse_rep_kv(s, "Result", doc, eval_rows, HESSE_REP_COUNT(eval_rows));
    if (hesse_rep_opt(doc, "history")) history(s, doc);
}

void hesse_rep_train(hesse_rep *s, const cJSON *doc) {
    history(s, doc);
    hesse_rep_tracking(s, doc);
}

/* ---- dense ------------------------------------------------------------------------------- */

#define HIST_BINS 60

static const hesse_rep_item dense_rows[] = {NEED("max"),
                                            NEED("min"),
                                            NEED("trace"),
                                            NEED("frobenius"),
                                            NEED("negative_count"),
                                            OPT("negative_threshold"),
                                            NEED("asymmetry"),
                                            OPT("products"),
                                            OPT("seconds")};

void hesse_rep_dense(hesse_rep *s, const cJSON *doc) {
    double *ev = NULL;
    int64_t n = hesse_rep_array(s, doc, "eigenvalues", "$", &ev);
    hesse_rep_table(s, "kv", "Spectrum", 0, NULL);
    if (n >= 0) {
        hesse_iobuf_puts(s->b, "<tr><th>eigenvalues</th>");
        hesse_rep_cell_computed(s, (double)n, "length of $.eigenvalues");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_rows(s, doc, "$", "", dense_rows, HESSE_REP_COUNT(dense_rows));
    hesse_rep_table_end(s);
    if (n <= 0) {
        free(ev);
        return;
    }
    /* The extremes: eigenvalues are ascending, the largest last. */
    const cJSON *arr = hesse_rep_opt(doc, "eigenvalues");
    int64_t m = n < 8 ? n : 8;
    static const char *const cols[] = {"k", "k-th largest", "k-th smallest"};
    hesse_rep_table(s, "grid", "Extremes", 3, cols);
    for (int64_t k = 0; k < m; k++) {
        hesse_iobuf_printf(s->b, "<tr><td class=\"k\">%lld</td>", (long long)k + 1);
        hesse_rep_cell(s, at(arr, n - 1 - k), "$.eigenvalues[%lld]", (long long)(n - 1 - k));
        hesse_rep_cell(s, at(arr, k), "$.eigenvalues[%lld]", (long long)k);
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);

    double *idx = hesse_rep_iota(s, n, 1);
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ev[i])) {
            lo = fmin(lo, ev[i]);
            hi = fmax(hi, ev[i]);
        }
    double centre[HIST_BINS], count[HIST_BINS] = {0};
    double w = hi > lo ? (hi - lo) / HIST_BINS : 1;
    for (int b = 0; b < HIST_BINS; b++) centre[b] = lo + (b + 0.5) * w;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(ev[i])) continue;
        int b = (int)((ev[i] - lo) / w);
        count[b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b] += 1;
    }
    if (idx) {
        /* beyond a few thousand values a line draws the same curve in a fraction of the bytes */
        hesse_series all = {NULL, idx, ev, n, n > 2000 ? HESSE_PLOT_LINE : HESSE_PLOT_POINTS,
                            NULL, 0};
        /* A one-point line draws nothing but takes the log axis down to 0.5, so that bins
         * holding a single eigenvalue show as stems rather than dots on the frame. */
        double floor_x = centre[0], floor_y = 0.5;
        hesse_series hist[2] = {{NULL, centre, count, HIST_BINS, HESSE_PLOT_STEMS, "#444", 0},
                                {NULL, &floor_x, &floor_y, 1, HESSE_PLOT_LINE, "none", 0}};
        hesse_rep_plots_begin(s);
        hesse_plot p =
            hesse_rep_plot_spec("Eigenvalues by index", "index (ascending)", "eigenvalue", 0, 0);
        char cap[96];
        snprintf(cap, sizeof cap, "$.eigenvalues, all %lld, in the document's ascending order",
                 (long long)n);
        hesse_rep_plot(s, &p, &all, 1, cap);
        p = hesse_rep_plot_spec("Histogram (60 bins, log count)", "eigenvalue", "count", 0, 1);
        hesse_rep_plot(s, &p, hist, 2,
                       "counts of $.eigenvalues in 60 equal bins between min and max (computed "
                       "here; empty bins not drawn)");
        hesse_rep_plots_end(s);
    }
    free(idx);
    free(ev);
}

/* ---- spectrum ---------------------------------------------------------------------------- */

static const hesse_rep_item spectrum_rows[] = {OPT("solver.method"),
                                               OPT("solver.tol"),
                                               OPT("solver.basis"),
                                               OPT("solver.restarts"),
                                               OPT("solver.iterations"),
                                               OPT("solver.seed"),
                                               NEED("converged"),
                                               NEED("anorm"),
                                               NEED("residuals_explicit"),
                                               NEED("products"),
                                               NEED("seconds"),
                                               OPT("peak_rss_bytes"),
                                               OPT("vectors")};

void hesse_rep_spectrum(hesse_rep *s, const cJSON *doc) {
    hesse_rep_need(s, doc, "solver", "$");
    hesse_rep_kv(s, "Solver", doc, spectrum_rows, HESSE_REP_COUNT(spectrum_rows));

    const cJSON *top = hesse_rep_need(s, doc, "top", "$");
    const cJSON *bottom = hesse_rep_need(s, doc, "bottom", "$");
    const cJSON *rtop = hesse_rep_need(s, doc, "residuals_top", "$");
    const cJSON *rbot = hesse_rep_need(s, doc, "residuals_bottom", "$");
    int nt = cJSON_IsArray(top) ? cJSON_GetArraySize(top) : 0;
    int nb = cJSON_IsArray(bottom) ? cJSON_GetArraySize(bottom) : 0;
    int rows = nt > nb ? nt : nb;
    if (rows > 0) {
        static const char *const cols[] = {"k", "top λ_k", "residual", "bottom λ_k", "residual"};
        hesse_rep_table(s, "grid", "Eigenvalues (top: descending; bottom: ascending)", 5, cols);
        for (int k = 0; k < rows && k < 200; k++) {
            hesse_iobuf_printf(s->b, "<tr><td class=\"k\">%d</td>", k + 1);
            if (k < nt) {
                hesse_rep_cell(s, at(top, k), "$.top[%d]", k);
                hesse_rep_cell(s, at(rtop, k), "$.residuals_top[%d]", k);
            } else {
                hesse_iobuf_puts(s->b, "<td></td><td></td>");
            }
            if (k < nb) {
                hesse_rep_cell(s, at(bottom, k), "$.bottom[%d]", k);
                hesse_rep_cell(s, at(rbot, k), "$.residuals_bottom[%d]", k);
            } else {
                hesse_iobuf_puts(s->b, "<td></td><td></td>");
            }
            hesse_iobuf_puts(s->b, "</tr>\n");
        }
        hesse_rep_table_end(s);
    }
    double *t = NULL, *b = NULL;
    int64_t ntv = hesse_rep_doubles(s, top, &t), nbv = hesse_rep_doubles(s, bottom, &b);
    int64_t most = ntv > nbv ? ntv : nbv;
    double *k = most > 0 ? hesse_rep_iota(s, most, 1) : NULL;
    if (k) {
        hesse_series se[2];
        int ns = 0;
        if (ntv > 0)
            se[ns++] = (hesse_series){"top (k-th largest)", k, t, ntv, HESSE_PLOT_STEMS, NULL, 0};
        if (nbv > 0)
            se[ns++] =
                (hesse_series){"bottom (k-th smallest)", k, b, nbv, HESSE_PLOT_STEMS, "#d62728", 0};
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Extreme eigenvalues", "k", "eigenvalue", 0, 0);
        hesse_rep_plot(s, &p, se, ns, "$.top[k-1] and $.bottom[k-1] against k");
        hesse_rep_plots_end(s);
    }
    free(k);
    free(t);
    free(b);
}

/* ---- density ----------------------------------------------------------------------------- */

static const hesse_rep_item density_solver_rows[] = {
    OPT("solver.method"), OPT("solver.probes"), OPT("solver.steps"), OPT("solver.moments"),
    OPT("solver.probe"),  NEED("lo"),           NEED("hi"),          NEED("sigma"),
    NEED("eps")};
static const hesse_rep_item run_rows[] = {OPT("products"), OPT("seconds")};
/* --mp: the minimum-KS law, then the moment fit beside it */
static const hesse_rep_item mp_rows[] = {OPT("mp.gamma"),         OPT("mp.sigma2"),
                                         OPT("mp.lambda_minus"),  OPT("mp.lambda_plus"),
                                         OPT("mp.zero_mass"),     OPT("mp.ks"),
                                         OPT("mp.w1_relative"),   OPT("mp.tail_mass"),
                                         OPT("mp.moments.gamma"), OPT("mp.moments.lambda_plus"),
                                         OPT("mp.moments.ks"),    OPT("mp.moments.tail_mass")};

/* The Marchenko-Pastur curve (mp.curve or mp.log10_curve, by key) to draw over the density when
 * it has the grid's n values (malloc'd); NULL otherwise. */
static double *mp_curve_of(hesse_rep *s, const cJSON *doc, int64_t n, const char *key) {
    const cJSON *mp = hesse_rep_opt(doc, "mp");
    if (!mp) return NULL;
    double *y = NULL;
    if (hesse_rep_doubles(s, hesse_rep_opt(mp, key), &y) != n) {
        free(y);
        y = NULL;
    }
    return y;
}

void hesse_rep_density(hesse_rep *s, const cJSON *doc) {
    hesse_rep_need(s, doc, "solver", "$");
    double *grid = NULL, *dens = NULL, *logd = NULL;
    int64_t n = hesse_rep_array(s, doc, "grid", "$", &grid);
    int64_t nd = hesse_rep_array(s, doc, "density", "$", &dens);
    int64_t nl = hesse_rep_array(s, doc, "log10_density", "$", &logd);
    hesse_rep_table(s, "kv", "Density", 0, NULL);
    hesse_rep_rows(s, doc, "$", "", density_solver_rows, HESSE_REP_COUNT(density_solver_rows));
    if (n > 1 && nd == n) {
        double mass = 0;
        for (int64_t i = 0; i + 1 < n; i++)
            mass += 0.5 * (grid[i + 1] - grid[i]) * (dens[i] + dens[i + 1]);
        hesse_iobuf_puts(s->b, "<tr><th>grid points</th>");
        hesse_rep_cell_computed(s, (double)n, "length of $.grid");
        hesse_iobuf_puts(s->b, "</tr>\n<tr><th>mass</th>");
        hesse_rep_cell_computed(s, mass, "trapezoid integral of $.density over $.grid");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_rows(s, doc, "$", "", run_rows, HESSE_REP_COUNT(run_rows));
    hesse_rep_table_end(s);
    if (hesse_rep_opt(doc, "mp")) {
        hesse_rep_table(s, "kv", "Marchenko-Pastur fit of the bulk (min KS; moments)", 0, NULL);
        hesse_rep_rows(s, doc, "$", "", mp_rows, HESSE_REP_COUNT(mp_rows));
        hesse_rep_table_end(s);
    }

    const cJSON *defl = hesse_rep_opt(doc, "deflated");
    if (cJSON_IsArray(defl)) {
        const cJSON *res = hesse_rep_opt(doc, "deflated_residuals");
        static const char *const cols[] = {"k", "outlier λ_k", "residual"};
        hesse_rep_table(s, "grid", "Deflated outliers (removed before the density)", 3, cols);
        for (int k = 0; k < cJSON_GetArraySize(defl) && k < 200; k++) {
            hesse_iobuf_printf(s->b, "<tr><td class=\"k\">%d</td>", k + 1);
            hesse_rep_cell(s, at(defl, k), "$.deflated[%d]", k);
            hesse_rep_cell(s, at(res, k), "$.deflated_residuals[%d]", k);
            hesse_iobuf_puts(s->b, "</tr>\n");
        }
        hesse_rep_table_end(s);
    }
    const cJSON *quad = hesse_rep_opt(doc, "quadrature");
    if (cJSON_IsArray(quad))
        hesse_rep_note(s, "note",
                       "Quadrature: %d probes, each with its Gauss nodes and weights "
                       "($.quadrature[i].nodes, .weights).",
                       cJSON_GetArraySize(quad));
    if (n > 0) {
        hesse_rep_plots_begin(s);
        double *mp = mp_curve_of(s, doc, n, "curve"), *mpl = mp_curve_of(s, doc, n, "log10_curve");
        if (nd == n) {
            hesse_series se[2] = {
                {mp ? "measured" : NULL, grid, dens, n, HESSE_PLOT_LINE, NULL, 0},
                {"Marchenko-Pastur (min KS)", grid, mp, n, HESSE_PLOT_LINE, NULL, 1}};
            hesse_plot p = hesse_rep_plot_spec("Spectral density", "eigenvalue", "density", 0, 0);
            hesse_rep_plot(s, &p, se, mp ? 2 : 1,
                           mp ? "$.density and $.mp.curve against $.grid"
                              : "$.density against $.grid");
        } else if (nd >= 0) {
            hesse_rep_note(s, "note", "$.density has %lld values for %lld grid points.",
                           (long long)nd, (long long)n);
        }
        if (nl == n) {
            hesse_series se[2] = {
                {mpl ? "measured" : NULL, grid, logd, n, HESSE_PLOT_LINE, "#d62728", 0},
                {"Marchenko-Pastur (min KS)", grid, mpl, n, HESSE_PLOT_LINE, NULL, 1}};
            hesse_plot p = hesse_rep_plot_spec("Spectral density (log10)", "eigenvalue",
                                               "log10 density", 0, 0);
            hesse_rep_plot(s, &p, se, mpl ? 2 : 1,
                           mpl ? "$.log10_density and $.mp.log10_curve against $.grid"
                               : "$.log10_density against $.grid");
        } else if (nl >= 0) {
            hesse_rep_note(s, "note", "$.log10_density has %lld values for %lld grid points.",
                           (long long)nl, (long long)n);
        }
        hesse_rep_plots_end(s);
        free(mp);
        free(mpl);
    }
    free(grid);
    free(dens);
    free(logd);
}

/* ---- trace -------------------------------------------------------------------------------- */

static const hesse_rep_item trace_rows[] = {NEED("trace"), NEED("stderr")};
static const hesse_rep_item trace_solver_rows[] = {
    OPT("solver.method"), OPT("solver.probes"), OPT("solver.probe"), OPT("lowrank_rank"),
    OPT("lowrank_trace"), OPT("products"),      OPT("seconds")};

void hesse_rep_trace(hesse_rep *s, const cJSON *doc) {
    hesse_rep_need(s, doc, "solver", "$");
    hesse_rep_table(s, "kv", "Trace", 0, NULL);
    hesse_rep_rows(s, doc, "$", "", trace_rows, HESSE_REP_COUNT(trace_rows));
    double t = hesse_rep_number(doc, "trace"), se = hesse_rep_number(doc, "stderr");
    if (isfinite(t) && isfinite(se) && se > 0) {
        hesse_iobuf_puts(s->b, "<tr><th>95% interval from</th>");
        hesse_rep_cell_computed(s, t - 1.96 * se, "$.trace - 1.96 $.stderr");
        hesse_iobuf_puts(s->b, "</tr>\n<tr><th>95% interval to</th>");
        hesse_rep_cell_computed(s, t + 1.96 * se, "$.trace + 1.96 $.stderr");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_rows(s, doc, "$", "", trace_solver_rows, HESSE_REP_COUNT(trace_solver_rows));
    hesse_rep_table_end(s);
}

/* ---- bench -------------------------------------------------------------------------------- */

void hesse_rep_bench(hesse_rep *s, const cJSON *doc) {
    const cJSON *cases = hesse_rep_need(s, doc, "cases", "$");
    if (!cJSON_IsArray(cases)) return;
    static const char *const keys[] = {"case", "arch", "n_params", "batch", "grad_ms", "hvp_ms"};
    const char *cols[7];
    for (int k = 0; k < 6; k++) {
        char spath[32];
        snprintf(spath, sizeof spath, "cases[].%s", keys[k]);
        cols[k] = hesse_rep_label(s, spath);
    }
    cols[6] = "HVP / grad";
    hesse_rep_table(s, "grid", "Cases (median times)", 7, cols);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        hesse_iobuf_puts(s->b, "<tr>");
        for (int k = 0; k < 6; k++) {
            const cJSON *v = hesse_rep_opt(c, keys[k]);
            if (!v) {
                char p[24];
                snprintf(p, sizeof p, "$.cases[%d]", i);
                hesse_rep_need(s, c, keys[k], p);
            }
            hesse_rep_cell(s, v, "$.cases[%d].%s", i, keys[k]);
        }
        double g = hesse_rep_number(c, "grad_ms"), h = hesse_rep_number(c, "hvp_ms");
        hesse_rep_cell_computed(s, h / g, "hvp_ms / grad_ms");
        hesse_iobuf_puts(s->b, "</tr>\n");
        i++;
    }
    hesse_rep_table_end(s);
}
