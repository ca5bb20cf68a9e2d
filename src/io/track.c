/* The outputs of a tracked training run (issue 20): the "tracking" object of `hesse train
 * --json` (docs/results.md) as CSV, one row per measurement, and as an SVG of the sharpness
 * against step with the stability thresholds of Cohen et al. (2/eta for GD; (2 + 2 beta1) /
 * ((1 - beta1) eta) for Adam's preconditioned sharpness). Both read the object only. */
#include "io/io-impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The series keys in the order of their columns; keys not listed follow in the order they
 * first appear, so that a key added to the series later still reaches the CSV. */
static const char *const known_keys[] = {"step",
                                         "epoch",
                                         "loss",
                                         "accuracy",
                                         "lr",
                                         "top",
                                         "top_residuals",
                                         "bottom",
                                         "bottom_residuals",
                                         "products",
                                         "seconds",
                                         "products_cold",
                                         "seconds_cold",
                                         "trace",
                                         "trace_se",
                                         "trace_products",
                                         "powerlaw_s",
                                         "powerlaw_d_ks",
                                         "powerlaw_d_c",
                                         "powerlaw_K",
                                         "preconditioned",
                                         "preconditioned_residuals",
                                         "preconditioned_products"};
#define NUM_KNOWN (int)(sizeof known_keys / sizeof known_keys[0])

typedef struct {
    const char *key;
    int width; /* 0: a scalar column; k: an array's k columns key_1..key_k */
} track_column;

static int track_series(const cJSON *tracking, const cJSON **series, const char *fn) {
    if (!cJSON_IsObject(tracking))
        return hesse_error(HESSE_EINVAL, "%s: \"tracking\" is not a JSON object", fn);
    *series = cJSON_GetObjectItemCaseSensitive(tracking, "series");
    if (!cJSON_IsArray(*series))
        return hesse_error(HESSE_EINPUT, "%s: \"tracking\" has no \"series\" array", fn);
    const cJSON *row;
    int i = 0;
    cJSON_ArrayForEach(row, *series) {
        if (!cJSON_IsObject(row))
            return hesse_error(HESSE_EINPUT, "%s: tracking.series[%d] is not an object", fn, i);
        i++;
    }
    return HESSE_OK;
}

/* Adds key as a column (or widens it to an array of n), once. */
static void add_column(track_column *cols, int *ncols, const char *key, const cJSON *v) {
    int w = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    for (int c = 0; c < *ncols; c++)
        if (strcmp(cols[c].key, key) == 0) {
            if (w > cols[c].width) cols[c].width = w;
            return;
        }
    cols[*ncols] = (track_column){key, w};
    ++*ncols;
}

/* The columns of the series: the known keys present, then the others. *cols is malloc'd. */
static int track_columns(const cJSON *series, track_column **cols, int *ncols) {
    int cap = NUM_KNOWN;
    const cJSON *row, *v;
    cJSON_ArrayForEach(row, series) {
        cap += cJSON_GetArraySize(row);
    }
    *ncols = 0;
    *cols = malloc((size_t)cap * sizeof **cols);
    if (!*cols) return hesse_error(HESSE_ENOMEM, "hesse_track_csv: out of memory");
    for (int k = 0; k < NUM_KNOWN; k++) {
        cJSON_ArrayForEach(row, series) {
            v = cJSON_GetObjectItemCaseSensitive(row, known_keys[k]);
            if (v) add_column(*cols, ncols, known_keys[k], v);
        }
    }
    cJSON_ArrayForEach(row, series) {
        cJSON_ArrayForEach(v, row) {
            if (v->string && !cJSON_IsObject(v)) add_column(*cols, ncols, v->string, v);
        }
    }
    return HESSE_OK;
}

/* A CSV field: numbers that read back as the exact doubles, booleans as true/false, strings
 * quoted when they hold a separator, a quote or a line break; null and absent: empty. */
static void csv_field(hesse_iobuf *b, const cJSON *v) {
    if (cJSON_IsNumber(v)) {
        if (isfinite(v->valuedouble)) hesse_iobuf_json_number(b, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        hesse_iobuf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (!strpbrk(s, ",\"\r\n")) {
            hesse_iobuf_puts(b, s);
            return;
        }
        hesse_iobuf_puts(b, "\"");
        for (; *s; s++) {
            if (*s == '"') hesse_iobuf_puts(b, "\""); /* a quote is doubled */
            hesse_iobuf_append(b, s, 1);
        }
        hesse_iobuf_puts(b, "\"");
    }
}

/* "top" -> top_1..; "top_residuals" -> top_residual_1.. */
static void column_name(hesse_iobuf *b, const track_column *c, int j) {
    size_t len = strlen(c->key);
    if (c->width == 0) {
        hesse_iobuf_puts(b, c->key);
        return;
    }
    if (len > 10 && strcmp(c->key + len - 10, "_residuals") == 0) len--;
    hesse_iobuf_append(b, c->key, len);
    hesse_iobuf_printf(b, "_%d", j + 1);
}

int hesse_track_csv(const cJSON *tracking, char **text) {
    if (!text) return hesse_error(HESSE_EINVAL, "hesse_track_csv: NULL output");
    *text = NULL;
    const cJSON *series = NULL;
    int rc = track_series(tracking, &series, "hesse_track_csv");
    track_column *cols = NULL;
    int ncols = 0;
    if (rc == HESSE_OK) rc = track_columns(series, &cols, &ncols);
    if (rc != HESSE_OK) return rc;
    hesse_iobuf b = {0};
    for (int c = 0; c < ncols; c++)
        for (int j = 0; j < (cols[c].width ? cols[c].width : 1); j++) {
            if (c || j) hesse_iobuf_puts(&b, ",");
            column_name(&b, &cols[c], j);
        }
    hesse_iobuf_puts(&b, "\n");
    const cJSON *row;
    cJSON_ArrayForEach(row, series) {
        for (int c = 0; c < ncols; c++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, cols[c].key);
            for (int j = 0; j < (cols[c].width ? cols[c].width : 1); j++) {
                if (c || j) hesse_iobuf_puts(&b, ",");
                if (cols[c].width == 0)
                    csv_field(&b, cJSON_IsArray(v) ? NULL : v);
                else if (cJSON_IsArray(v))
                    csv_field(&b, cJSON_GetArrayItem(v, j));
            }
        }
        hesse_iobuf_puts(&b, "\n");
    }
    free(cols);
    rc = hesse_iobuf_status(&b);
    if (rc != HESSE_OK) {
        hesse_iobuf_free(&b);
        return rc;
    }
    *text = b.data;
    return HESSE_OK;
}

/* ---- The sharpness plot -------------------------------------------------------------------- */

/* Colours by meaning: the Hessian's sharpness and its threshold in blue (its lower top
 * eigenvalues lighter), the preconditioned sharpness and its threshold in red. */
#define COLOR_TOP1     "#1f77b4"
#define COLOR_TOPK     "#9ecae1"
#define COLOR_PRE      "#d62728"
#define MAX_TOP_SERIES 16

void hesse_track_data_free(hesse_track_data *d) {
    free(d->step);
    free(d->top);
    free(d->pre);
    free(d->thr);
    free(d->thr_pre);
    memset(d, 0, sizeof *d);
}

static double item(const cJSON *arr, int j) {
    const cJSON *v = cJSON_IsArray(arr) ? cJSON_GetArrayItem(arr, j) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static double number(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* (2 + 2 beta1) / (1 - beta1): the preconditioned threshold times eta (Cohen et al. 2022). */
static double adam_factor(double beta1) {
    return (2 + 2 * beta1) / (1 - beta1);
}

static void fill_row(hesse_track_data *d, const cJSON *row, int64_t i, double lr, double beta1) {
    d->step[i] = number(row, "step");
    const cJSON *top = cJSON_GetObjectItemCaseSensitive(row, "top");
    for (int j = 0; j < d->k; j++) d->top[(int64_t)j * d->n + i] = item(top, j);
    double lri = number(row, "lr");
    if (!isfinite(lri)) lri = lr;
    d->thr[i] = 2 / lri;
    if (d->pre) d->pre[i] = item(cJSON_GetObjectItemCaseSensitive(row, "preconditioned"), 0);
    if (d->thr_pre) d->thr_pre[i] = adam_factor(beta1) / lri;
}

int hesse_track_data_read(const cJSON *tracking, hesse_track_data *d, const char *fn) {
    memset(d, 0, sizeof *d);
    const cJSON *series = NULL, *row;
    int rc = track_series(tracking, &series, fn);
    if (rc != HESSE_OK) return rc;
    d->n = cJSON_GetArraySize(series);
    int pre = 0;
    cJSON_ArrayForEach(row, series) {
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(row, "top");
        if (cJSON_IsArray(top) && cJSON_GetArraySize(top) > d->k) d->k = cJSON_GetArraySize(top);
        pre |= cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(row, "preconditioned"));
    }
    if (d->k > MAX_TOP_SERIES) d->k = MAX_TOP_SERIES;
    double lr = number(tracking, "lr"), beta1 = number(tracking, "beta1");
    d->threshold = number(tracking, "threshold");
    if (!isfinite(d->threshold)) d->threshold = 2 / lr;
    d->threshold_pre = number(tracking, "threshold_preconditioned");
    if (!isfinite(d->threshold_pre)) d->threshold_pre = adam_factor(beta1) / lr;
    size_t sz = (size_t)(d->n ? d->n : 1) * sizeof(double);
    d->step = malloc(sz);
    d->top = malloc(sz * (size_t)(d->k ? d->k : 1));
    d->thr = malloc(sz);
    d->pre = pre ? malloc(sz) : NULL;
    d->thr_pre = isfinite(beta1) ? malloc(sz) : NULL;
    if (!d->step || !d->top || !d->thr || (pre && !d->pre) || (isfinite(beta1) && !d->thr_pre)) {
        hesse_track_data_free(d);
        return hesse_error(HESSE_ENOMEM, "%s: out of memory", fn);
    }
    for (int64_t i = 0; i < d->n * (d->k ? d->k : 1); i++) d->top[i] = NAN; /* k = 0 too */
    int64_t i = 0;
    cJSON_ArrayForEach(row, series) {
        fill_row(d, row, i++, lr, beta1);
    }
    return HESSE_OK;
}

/* 1 when every finite entry of v equals c to rounding (a constant step size). */
static int constant(const double *v, int64_t n, double c) {
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i]) && !(fabs(v[i] - c) <= 1e-12 * fabs(c))) return 0;
    return isfinite(c);
}

/* A threshold: a labelled horizontal line at `level` when the step size is constant, else the
 * dashed curve thr[i] against step. */
static void threshold_series(hesse_series *se, int *ns, const hesse_track_data *d,
                             const double *thr, const double *level, const char *label,
                             const char *varying, const char *color) {
    if (constant(thr, d->n, *level))
        se[(*ns)++] = (hesse_series){label, d->step, level, 1, HESSE_PLOT_HLINE, color, 1};
    else
        se[(*ns)++] = (hesse_series){varying, d->step, thr, d->n, HESSE_PLOT_LINE, color, 1};
}

/* prefix then k in subscript digits ("…λ" 15 -> "…λ₁₅"). */
static void subscript(char *buf, size_t cap, const char *prefix, int k) {
    char digits[16];
    size_t len = (size_t)snprintf(buf, cap, "%s", prefix);
    snprintf(digits, sizeof digits, "%d", k);
    for (const char *c = digits; *c && len + 4 <= cap; c++) {
        /* U+2080 + digit: E2 82 80+d */
        buf[len++] = (char)0xE2;
        buf[len++] = (char)0x82;
        buf[len++] = (char)(0x80 + (*c - '0'));
    }
    buf[len < cap ? len : cap - 1] = '\0';
}

int hesse_track_svg(const cJSON *tracking, char **svg) {
    if (!svg) return hesse_error(HESSE_EINVAL, "hesse_track_svg: NULL output");
    *svg = NULL;
    hesse_track_data d;
    int rc = hesse_track_data_read(tracking, &d, "hesse_track_svg");
    if (rc != HESSE_OK) return rc;
    hesse_plot_style style = d.n > 1 ? HESSE_PLOT_LINE : HESSE_PLOT_POINTS;
    hesse_series se[MAX_TOP_SERIES + 3];
    int ns = 0;
    char rest[64], thr_label[64], pre_label[128];
    snprintf(rest, sizeof rest, "λ₂");
    if (d.k > 2) subscript(rest + strlen(rest), sizeof rest - strlen(rest), "…λ", d.k);
    for (int j = d.k - 1; j >= 1; j--) /* the lower ones first, under λ₁ */
        se[ns++] = (hesse_series){
            j == 1 ? rest : NULL, d.step, d.top + (int64_t)j * d.n, d.n, style, COLOR_TOPK, 0};
    if (d.k >= 1)
        se[ns++] = (hesse_series){"λ₁ (sharpness)", d.step, d.top, d.n, style, COLOR_TOP1, 0};
    snprintf(thr_label, sizeof thr_label, "2/η = %.6g", d.threshold);
    threshold_series(se, &ns, &d, d.thr, &d.threshold, thr_label, "2/η_t", COLOR_TOP1);
    if (d.pre) {
        se[ns++] =
            (hesse_series){"λ₁(P⁻¹H), preconditioned", d.step, d.pre, d.n, style, COLOR_PRE, 0};
        if (d.thr_pre) {
            snprintf(pre_label, sizeof pre_label, "(2+2β₁)/((1−β₁)η) = %.4g/η = %.6g",
                     adam_factor(number(tracking, "beta1")), d.threshold_pre);
            threshold_series(se, &ns, &d, d.thr_pre, &d.threshold_pre, pre_label,
                             "(2+2β₁)/((1−β₁)η_t)", COLOR_PRE);
        }
    }
    hesse_plot p = hesse_plot_defaults();
    p.title =
        d.pre ? "Sharpness and preconditioned sharpness against step" : "Sharpness against step";
    p.xlabel = "step";
    p.ylabel = "sharpness (top eigenvalue)";
    p.xint = 1;
    p.legend_right = 1; /* the corners hold the data: it rises to the threshold and stays */
    p.width = 760;
    rc = hesse_svg_render(&p, se, ns, svg);
    hesse_track_data_free(&d);
    return rc;
}
