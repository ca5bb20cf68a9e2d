/* The report section of a tracked training run (hesse train --track; "tracking" in the train
 * document): the papers it tests and the verdict measured from the series (Cohen, Kaur, Li,
 * Kolter & Talwalkar, ICLR 2021 for gradient descent; Cohen et al. 2022 for Adam's
 * preconditioned sharpness), the sharpness plot (hesse_track_svg), the settings, the time and
 * products of the measurements, and the series as a table. */
#include "io/report-impl.h"

#include <hesse/analysis.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Within +-10 % of the threshold: issue 20's acceptance band, reached at 90 %. */
#define EDGE_BAND 0.1
/* Longer series are shown as a sample of about this many rows (every row is in the CSV). */
#define TABLE_ROWS 40
#define TABLE_TOP  5

#define NEED HESSE_REP_NEED
#define OPT  HESSE_REP_OPT

static const hesse_rep_item setting_rows[] = {
    NEED("tracking.spec"),   NEED("tracking.optimizer"), NEED("tracking.lr"),
    OPT("tracking.beta1"),   NEED("tracking.threshold"), OPT("tracking.threshold_preconditioned"),
    NEED("tracking.every"),  NEED("tracking.top"),       OPT("tracking.bottom"),
    OPT("tracking.samples"), OPT("tracking.tol"),        OPT("tracking.cold")};
static const hesse_rep_item cost_rows[] = {
    NEED("tracking.seconds_training"), NEED("tracking.seconds_measuring"),
    NEED("tracking.products"), OPT("tracking.products_cold")};

/* The step of measurement i, for the text. */
static double step_of(const hesse_track_data *d, int64_t i) {
    return i >= 0 && i < d->n ? d->step[i] : NAN;
}

/* One verdict: `what` names the sharpness ("λ₁", "λ₁(P⁻¹H)"), `thr` its threshold ("2/η"),
 * `ratio` the ratio's name ("λ₁·η/2"). regime 0: the run is outside the paper's setting, the
 * numbers are given as a note. */
static void edge_verdict(hesse_rep *s, const hesse_track_data *d, const double *sharp,
                         const double *thr, const char *what, const char *tname, const char *ratio,
                         int regime) {
    hesse_edge_verdict v;
    if (hesse_edge_of_stability(sharp, thr, d->n, EDGE_BAND, &v) != HESSE_OK || v.points == 0) {
        hesse_clear_error();
        hesse_rep_note(s, "missing", "No measurement has both %s and %s: no verdict.", what, tname);
        return;
    }
    const char *cls = !regime ? "note" : v.at_edge ? "verdict ok" : "verdict bad";
    const char *head = !regime ? "Not in the paper's regime" : v.at_edge ? "Matches" : "Differs";
    if (v.first < 0) {
        hesse_rep_note(s, cls,
                       "%s: %s never reaches 0.9 · %s over %lld measurements (steps %.0f to "
                       "%.0f); its largest %s is %.4g, at step %.0f.",
                       regime ? "Not reached" : head, what, tname, (long long)v.points,
                       step_of(d, 0), step_of(d, d->n - 1), ratio, v.max_ratio,
                       step_of(d, v.argmax));
        return;
    }
    hesse_rep_note(s, cls,
                   "%s: %s first reaches 0.9 · %s at step %.0f (%s = %.4g); from there to step "
                   "%.0f, %s lies in [%.4g, %.4g], %s [0.9, 1.1]%s.",
                   head, what, tname, step_of(d, v.first), ratio, sharp[v.first] / thr[v.first],
                   step_of(d, d->n - 1), ratio, v.min_after, v.max_after,
                   v.at_edge ? "within" : "not within", v.at_edge ? ": the edge of stability" : "");
}

static void papers(hesse_rep *s, const cJSON *tr, const hesse_track_data *d) {
    const cJSON *opt = hesse_rep_opt(tr, "optimizer");
    const char *o = cJSON_IsString(opt) ? opt->valuestring : "";
    int adam = strncmp(o, "adam", 4) == 0;
    hesse_rep_h3(s, adam ? "Adaptive edge of stability" : "Edge of stability");
    if (!adam) {
        hesse_rep_note(s, "note",
                       "Paper: Cohen, Kaur, Li, Kolter & Talwalkar, “Gradient Descent on Neural "
                       "Networks Typically Occurs at the Edge of Stability”, ICLR 2021. Claim: "
                       "under full-batch gradient descent with step size η the sharpness λ₁ "
                       "rises (progressive sharpening) until it reaches 2/η, then hovers just "
                       "above it while the loss keeps decreasing, non-monotonically.");
        if (strcmp(o, "gd") != 0)
            hesse_rep_note(s, "note",
                           "This run used %s, not full-batch gradient descent: the numbers "
                           "below are for comparison only.",
                           *o ? o : "an unnamed optimizer");
        edge_verdict(s, d, d->top, d->thr, "λ₁", "2/η", "λ₁ · η/2", strcmp(o, "gd") == 0);
        return;
    }
    hesse_rep_note(s, "note",
                   "Paper: Cohen et al., “Adaptive Gradient Methods at the Edge of Stability”, "
                   "2022. Claim: under Adam the preconditioned sharpness λ₁(P⁻¹H), with P "
                   "Adam's current diagonal preconditioner, rises until it reaches (2 + "
                   "2β₁)/((1 − β₁)η) (38/η at β₁ = 0.9) and then settles there.");
    if (!d->pre || !d->thr_pre)
        hesse_rep_note(s, "missing",
                       "No preconditioned sharpness in $.tracking.series (track with "
                       "`preconditioned`, and beta1 in $.tracking): no verdict.");
    else
        edge_verdict(s, d, d->pre, d->thr_pre, "λ₁(P⁻¹H)", "(2+2β₁)/((1−β₁)η)",
                     "λ₁(P⁻¹H) · (1−β₁)η/(2+2β₁)", 1);
}

/* The time split and the products of warm and cold starts, with their ratios. */
static void costs(hesse_rep *s, const cJSON *doc, const cJSON *tr) {
    hesse_rep_table(s, "kv", "Time and Hessian-vector products", 0, NULL);
    hesse_rep_rows(s, doc, "$", "", cost_rows, HESSE_REP_COUNT(cost_rows));
    double tt = hesse_rep_number(tr, "seconds_training"),
           tm = hesse_rep_number(tr, "seconds_measuring");
    double pw = hesse_rep_number(tr, "products"), pc = hesse_rep_number(tr, "products_cold");
    if (isfinite(tt) && isfinite(tm) && tt + tm > 0) {
        hesse_iobuf_puts(s->b, "<tr><th>share of time measuring</th>");
        hesse_rep_cell_computed(s, tm / (tt + tm),
                                "seconds_measuring / (seconds_training + seconds_measuring)");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    if (isfinite(pw) && isfinite(pc) && pc > 0) {
        hesse_iobuf_puts(s->b, "<tr><th>products warm / cold</th>");
        hesse_rep_cell_computed(s, pw / pc, "$.tracking.products / $.tracking.products_cold");
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);
}

/* The rows shown: all of a short series; of a long one about TABLE_ROWS evenly spaced, the
 * last, and the first at 90 % of the threshold. show[i] is 1 for the rows shown. */
static int pick_rows(const hesse_track_data *d, char *show) {
    int pre = d->pre && d->thr_pre;
    hesse_edge_verdict v;
    int64_t first = hesse_edge_of_stability(pre ? d->pre : d->top, pre ? d->thr_pre : d->thr, d->n,
                                            EDGE_BAND, &v) == HESSE_OK
                        ? v.first
                        : -1;
    hesse_clear_error();
    int64_t every = d->n <= TABLE_ROWS ? 1 : (d->n + TABLE_ROWS - 1) / TABLE_ROWS;
    int shown = 0;
    for (int64_t i = 0; i < d->n; i++) {
        show[i] = i % every == 0 || i == d->n - 1 || i == first;
        shown += show[i];
    }
    return shown;
}

typedef struct {
    const char *key, *head; /* series key and column heading */
    int element;            /* -1: a scalar; j: element j of the array */
} track_col;

static int table_columns(const cJSON *series, const hesse_track_data *d, track_col *cols) {
    static const track_col scalars[] = {{"step", "step", -1},
                                        {"epoch", "epoch", -1},
                                        {"loss", "loss", -1},
                                        {"accuracy", "accuracy", -1},
                                        {"lr", "η", -1}};
    static const track_col tail[] = {
        {"trace", "trace", -1},       {"trace_se", "± se", -1},
        {"powerlaw_s", "ŝ", -1},      {"powerlaw_d_ks", "d_KS", -1},
        {"products", "products", -1}, {"products_cold", "products cold", -1},
        {"seconds", "seconds", -1},   {"seconds_cold", "seconds cold", -1}};
    static const char *const top_heads[TABLE_TOP] = {"λ₁", "λ₂", "λ₃", "λ₄", "λ₅"};
    int n = 0;
    const cJSON *row;
    for (int c = 0; c < 5; c++) cols[n++] = scalars[c];
    for (int j = 0; j < d->k && j < TABLE_TOP; j++) cols[n++] = (track_col){"top", top_heads[j], j};
    cols[n++] = (track_col){NULL, "λ₁ · η/2", 0}; /* computed: top[0] / thr */
    if (d->pre) cols[n++] = (track_col){"preconditioned", "λ₁(P⁻¹H)", 0};
    if (d->pre && d->thr_pre) /* computed: preconditioned[0] / thr_pre */
        cols[n++] = (track_col){NULL, "λ₁(P⁻¹H) / threshold", 1};
    for (size_t c = 0; c < sizeof tail / sizeof tail[0]; c++) {
        int present = 0;
        cJSON_ArrayForEach(row, series) present |= hesse_rep_opt(row, tail[c].key) != NULL;
        if (present) cols[n++] = tail[c];
    }
    return n;
}

static void table_cell(hesse_rep *s, const cJSON *row, const track_col *col,
                       const hesse_track_data *d, int64_t i) {
    const cJSON *v = col->key ? hesse_rep_opt(row, col->key) : NULL;
    if (!col->key && col->element == 0)
        hesse_rep_cell_computed(s, d->top[i] / d->thr[i], "top[0] · lr / 2");
    else if (!col->key)
        hesse_rep_cell_computed(s, d->pre[i] / d->thr_pre[i],
                                "preconditioned[0] · (1 − beta1) lr / (2 + 2 beta1)");
    else if (!v && strcmp(col->key, "preconditioned") == 0) /* step 0: no preconditioner yet */
        hesse_iobuf_printf(s->b,
                           "<td title=\"$.tracking.series[%lld].preconditioned: absent "
                           "(no preconditioner before the first step)\">–</td>",
                           (long long)i);
    else if (col->element < 0)
        hesse_rep_cell(s, v, "$.tracking.series[%lld].%s", (long long)i, col->key);
    else
        hesse_rep_cell(s, cJSON_IsArray(v) ? cJSON_GetArrayItem(v, col->element) : NULL,
                       "$.tracking.series[%lld].%s[%d]", (long long)i, col->key, col->element);
}

static void series_table(hesse_rep *s, const cJSON *series, const hesse_track_data *d) {
    track_col cols[32];
    const char *heads[32];
    int ncols = table_columns(series, d, cols);
    for (int c = 0; c < ncols; c++) heads[c] = cols[c].head;
    char *show = malloc((size_t)(d->n ? d->n : 1));
    if (!show) {
        s->oom = 1;
        return;
    }
    int shown = pick_rows(d, show);
    char caption[160];
    if (shown < d->n)
        snprintf(caption, sizeof caption,
                 "%d of %lld measurements (evenly spaced, the first at 90 %% of the threshold and "
                 "the last; every one is in the JSON and the CSV)",
                 shown, (long long)d->n);
    else
        snprintf(caption, sizeof caption, "All %lld measurements", (long long)d->n);
    hesse_rep_table(s, "grid", caption, ncols, heads);
    int64_t i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, series) {
        if (i < d->n && show[i]) {
            hesse_iobuf_puts(s->b, "<tr>");
            for (int c = 0; c < ncols; c++) table_cell(s, row, &cols[c], d, i);
            hesse_iobuf_puts(s->b, "</tr>\n");
        }
        i++;
    }
    hesse_rep_table_end(s);
    free(show);
}

static void glossary(hesse_rep *s) {
    hesse_rep_note(s, "note",
                   "Glossary. step: optimizer steps taken before the measurement (step 0: the "
                   "initial parameters). Sharpness λ₁: the largest eigenvalue of the Hessian of "
                   "the training loss on the measurement subset. η: the step size. 2/η: the "
                   "largest sharpness at which gradient descent on a quadratic is stable. "
                   "λ₁(P⁻¹H): the largest eigenvalue of the Hessian preconditioned by Adam's "
                   "divisor P = diag(√v̂ + ε). Products: Hessian-vector products the "
                   "measurement took; warm: each Lanczos run started from the previous "
                   "measurement's Ritz vectors; cold: from a random vector.");
}

void hesse_rep_tracking(hesse_rep *s, const cJSON *doc) {
    const cJSON *tr = hesse_rep_opt(doc, "tracking");
    if (!tr) return;
    hesse_track_data d;
    int rc = hesse_track_data_read(tr, &d, "report");
    if (rc == HESSE_ENOMEM) s->oom = 1;
    if (rc != HESSE_OK) {
        hesse_rep_note(s, "missing", "$.tracking: %s", hesse_last_error());
        hesse_clear_error();
        return;
    }
    papers(s, tr, &d);
    char *svg = NULL;
    rc = hesse_track_svg(tr, &svg);
    if (rc == HESSE_OK) {
        hesse_rep_plots_begin(s);
        hesse_rep_figure(s, svg,
                         "$.tracking.series[*].top against step, with $.tracking.threshold; "
                         "preconditioned[0] with threshold_preconditioned when present");
        hesse_rep_plots_end(s);
    } else if (rc == HESSE_ENOMEM)
        s->oom = 1;
    else
        hesse_rep_note(s, "note", "Sharpness plot: no drawable values.");
    hesse_clear_error();
    free(svg);
    hesse_rep_kv(s, "Tracking", doc, setting_rows, HESSE_REP_COUNT(setting_rows));
    costs(s, doc, tr);
    hesse_rep_break(s);
    series_table(s, hesse_rep_opt(tr, "series"), &d);
    glossary(s);
    hesse_track_data_free(&d);
}
