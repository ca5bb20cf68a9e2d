/* io/track.c: the CSV and SVG of a tracked run, from the hand-written train documents
 * tests/data/track_gd.json (GD, top-1) and track_adam.json (Adam with every optional key).
 * The CSV is parsed back and every cell compared with the document's value (exact: the CSV
 * promises numbers that read back as the same doubles); the SVG is read as a reader reads it:
 * the y axis from its labelled tick lines, then the 2/eta line must sit where its value falls
 * on that axis. Both documents pass the strict schema check, and a key outside the contract
 * does not. */
#include <hesse/hesse.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_doc.h"

static cJSON *load(const char *name) {
    const char *dir = getenv("HESSE_TEST_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data", name);
    unsigned char *text = NULL;
    size_t len = 0;
    REQUIRE(hesse_read_file(path, &text, &len) == HESSE_OK);
    cJSON *d = cJSON_ParseWithLength((const char *)text, len);
    free(text);
    REQUIRE(d != NULL);
    return d;
}

static const cJSON *get(const cJSON *o, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* Splits s at `sep` in place into at most cap fields; returns the count. */
static int split(char *s, char sep, char **f, int cap) {
    int n = 0;
    f[n++] = s;
    for (char *p = s; *p && n < cap; p++)
        if (*p == sep) {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

/* The document's value for a CSV column name: "top_2" is row.top[1], "top_residual_1" is
 * row.top_residuals[0], anything else the scalar of that name. */
static const cJSON *value_of(const cJSON *row, const char *name) {
    const char *us = strrchr(name, '_');
    if (us && us[1] >= '1' && us[1] <= '9') {
        char base[64];
        snprintf(base, sizeof base, "%.*s", (int)(us - name), name);
        int j = atoi(us + 1) - 1;
        const cJSON *arr = get(row, base);
        if (!cJSON_IsArray(arr)) {
            strcat(base, "s");
            arr = get(row, base);
        }
        if (cJSON_IsArray(arr)) return cJSON_GetArrayItem(arr, j);
    }
    return get(row, name);
}

#define MAXF 64

static void check_csv(const cJSON *tracking, const char *expect_header) {
    char *csv = NULL;
    REQUIRE(hesse_track_csv(tracking, &csv) == HESSE_OK);
    const cJSON *series = get(tracking, "series");
    int nrows = cJSON_GetArraySize(series);
    char *lines[256];
    int nl = split(csv, '\n', lines, 256);
    CHECK_MSG(nl == nrows + 2 && lines[nl - 1][0] == '\0', "%d lines for %d rows", nl, nrows);
    CHECK_MSG(strcmp(lines[0], expect_header) == 0, "header %s", lines[0]);
    char *names[MAXF];
    char header[4096];
    snprintf(header, sizeof header, "%s", lines[0]);
    int ncols = split(header, ',', names, MAXF);
    int cells = 0, bad = 0;
    for (int i = 0; i < nrows && i + 1 < nl; i++) {
        const cJSON *row = cJSON_GetArrayItem(series, i);
        char *f[MAXF];
        int nf = split(lines[i + 1], ',', f, MAXF);
        CHECK_MSG(nf == ncols, "row %d: %d cells for %d columns", i, nf, ncols);
        for (int c = 0; c < nf && c < ncols; c++) {
            const cJSON *v = value_of(row, names[c]);
            cells++;
            if (!v || cJSON_IsNull(v)) { /* absent (step 0's preconditioned) or null */
                bad += f[c][0] != '\0';
                continue;
            }
            char *end = NULL;
            double x = strtod(f[c], &end);
            if (!cJSON_IsNumber(v) || *end || end == f[c] || x != v->valuedouble) {
                bad++;
                fprintf(stderr, "row %d column %s: \"%s\" vs %.17g\n", i, names[c], f[c],
                        v->valuedouble);
            }
        }
    }
    CHECK_MSG(bad == 0 && cells == nrows * ncols, "%d of %d cells differ", bad, cells);
    free(csv);
}

/* ---- SVG reading ---------------------------------------------------------------------------- */

typedef struct {
    double at[32], value[32]; /* pixel and labelled value of each tick */
    int n, integers;
} ticks;

/* The tick lines (grey grid lines) and the label that follows each: horizontal ones make the
 * y axis, vertical ones the x axis. */
static void read_ticks(const char *svg, ticks *tx, ticks *ty) {
    memset(tx, 0, sizeof *tx);
    memset(ty, 0, sizeof *ty);
    tx->integers = ty->integers = 1;
    for (const char *p = strstr(svg, "<line "); p; p = strstr(p + 1, "<line ")) {
        double x1, y1, x2, y2;
        const char *end = strchr(p, '>');
        const char *grid = strstr(p, "stroke=\"#e5e5e5\"");
        if (!grid || grid > end) continue;
        if (sscanf(p, "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\"", &x1, &y1, &x2, &y2) != 4)
            continue;
        const char *t = strstr(end, "<text"), *gt = t ? strchr(t, '>') : NULL;
        if (!gt) continue;
        char *stop = NULL;
        double v = strtod(gt + 1, &stop);
        int labelled = stop != gt + 1 && *stop == '<';
        ticks *k = y1 == y2 ? ty : tx;
        if (!labelled || k->n == 32) continue;
        k->at[k->n] = y1 == y2 ? y1 : x1;
        k->value[k->n] = v;
        k->integers &= v == floor(v);
        k->n++;
    }
}

/* The pixel of value v on an axis, from its first and last labelled ticks. */
static double to_pixel(const ticks *k, double v) {
    double a = k->at[0], b = k->at[k->n - 1], va = k->value[0], vb = k->value[k->n - 1];
    return a + (v - va) * (b - a) / (vb - va);
}

static int has(const char *s, const char *needle) {
    return strstr(s, needle) != NULL;
}

/* The legend's labels: the texts with no attribute but their position. */
static int legend_labels(const char *svg, char labels[][128], int cap) {
    int n = 0;
    for (const char *p = strstr(svg, "<text x=\""); p && n < cap; p = strstr(p + 1, "<text x=\"")) {
        double x, y;
        int used = 0;
        if (sscanf(p, "<text x=\"%lf\" y=\"%lf\">%n", &x, &y, &used) != 2 || used == 0) continue;
        const char *e = strstr(p + used, "</text>");
        snprintf(labels[n++], 128, "%.*s", (int)(e - p - used), p + used);
    }
    return n;
}

/* Every polyline's colour has a legend swatch (a short line of width 2 in that colour), and
 * every polyline point lies inside the frame. */
static void check_series(const char *svg) {
    double fx, fy, fw, fh;
    const char *fr = strstr(svg, "fill=\"none\" stroke=\"#444\"");
    REQUIRE(fr != NULL);
    while (fr > svg && strncmp(fr, "<rect", 5) != 0) fr--;
    REQUIRE(sscanf(fr, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\" height=\"%lf\"", &fx, &fy, &fw,
                   &fh) == 4);
    int outside = 0, polylines = 0;
    for (const char *p = strstr(svg, "<polyline"); p; p = strstr(p + 1, "<polyline")) {
        char color[16], swatch[64];
        REQUIRE(sscanf(p, "<polyline fill=\"none\" stroke=\"%15[^\"]\"", color) == 1);
        snprintf(swatch, sizeof swatch, "stroke=\"%s\" stroke-width=\"2\"", color);
        CHECK_MSG(has(svg, swatch), "series in %s has no legend entry", color);
        polylines++;
        const char *pts = strstr(p, "points=\"") + 8;
        double x, y;
        int used;
        while (sscanf(pts, "%lf,%lf %n", &x, &y, &used) == 2) {
            outside += x < fx || x > fx + fw || y < fy || y > fy + fh;
            pts += used;
        }
    }
    CHECK(polylines > 0 && outside == 0);
}

/* The horizontal dashed line of colour `color` that spans the frame: its y pixel (NAN: none). */
static double hline_y(const char *svg, const char *color) {
    char pat[64];
    snprintf(pat, sizeof pat, "stroke=\"%s\" stroke-width=\"1.2\"", color);
    const char *p = strstr(svg, pat);
    if (!p) return NAN;
    while (p > svg && strncmp(p, "<line", 5) != 0) p--;
    double x1, y1, x2, y2;
    if (sscanf(p, "<line x1=\"%lf\" y1=\"%lf\" x2=\"%lf\" y2=\"%lf\"", &x1, &y1, &x2, &y2) != 4 ||
        y1 != y2 || x2 - x1 < 300)
        return NAN;
    return y1;
}

static void check_svg(const cJSON *tracking, const char *const *legend, int nlegend, double thr,
                      double thr_pre) {
    char *svg = NULL;
    REQUIRE(hesse_track_svg(tracking, &svg) == HESSE_OK);
    ticks tx, ty;
    read_ticks(svg, &tx, &ty);
    CHECK_MSG(tx.n >= 2 && ty.n >= 2, "%d x ticks, %d y ticks", tx.n, ty.n);
    CHECK(tx.integers); /* steps: integer ticks */
    /* coordinates are printed to 0.1 px (ticks) and 0.01 px (lines): 0.15 px apart at most */
    double y = hline_y(svg, "#1f77b4");
    CHECK_MSG(fabs(y - to_pixel(&ty, thr)) < 0.15, "2/eta line at %g, expected %g", y,
              to_pixel(&ty, thr));
    if (thr_pre > 0) {
        y = hline_y(svg, "#d62728");
        CHECK_MSG(fabs(y - to_pixel(&ty, thr_pre)) < 0.15, "preconditioned line at %g, expected %g",
                  y, to_pixel(&ty, thr_pre));
    }
    char labels[16][128];
    int n = legend_labels(svg, labels, 16);
    CHECK_MSG(n == nlegend, "%d legend entries, expected %d", n, nlegend);
    for (int i = 0; i < nlegend && i < n; i++)
        CHECK_MSG(strcmp(labels[i], legend[i]) == 0, "legend %d: %s", i, labels[i]);
    check_series(svg);
    free(svg);
}

static void check_schema(cJSON *d) {
    char why[512] = "";
    CHECK_MSG(hesse_schema_check(d, why, sizeof why) == HESSE_OK, "%s", why);
    cJSON *row = cJSON_GetArrayItem(get(get(d, "tracking"), "series"), 1);
    cJSON_AddNumberToObject(row, "bogus", 1);
    CHECK(hesse_schema_check(d, why, sizeof why) == HESSE_EINPUT && has(why, "bogus"));
    cJSON_DeleteItemFromObject(row, "bogus");
    cJSON *tr = cJSON_GetObjectItemCaseSensitive(d, "tracking");
    cJSON *thr = cJSON_DetachItemFromObject(tr, "threshold");
    CHECK(hesse_schema_check(d, why, sizeof why) == HESSE_EINPUT && has(why, "threshold"));
    cJSON_AddItemToObject(tr, "threshold", thr);
    hesse_clear_error();
}

int main(void) {
    cJSON *gd = load("track_gd.json"), *adam = load("track_adam.json");
    const cJSON *tg = get(gd, "tracking"), *ta = get(adam, "tracking");
    check_csv(tg, "step,epoch,loss,accuracy,lr,top_1,top_residual_1,products,seconds");
    check_csv(ta, "step,epoch,loss,accuracy,lr,top_1,top_2,top_3,top_residual_1,top_residual_2,"
                  "top_residual_3,bottom_1,bottom_residual_1,products,seconds,products_cold,"
                  "seconds_cold,trace,trace_se,trace_products,powerlaw_s,powerlaw_d_ks,"
                  "powerlaw_d_c,powerlaw_K,preconditioned_1,preconditioned_2,preconditioned_3,"
                  "preconditioned_residual_1,preconditioned_residual_2,"
                  "preconditioned_residual_3,preconditioned_products");

    static const char *const gd_legend[] = {"λ₁ (sharpness)", "2/η = 40"};
    check_svg(tg, gd_legend, 2, 40, 0);
    static const char *const adam_legend[] = {"λ₂…λ₃", "λ₁ (sharpness)", "2/η = 200",
                                              "λ₁(P⁻¹H), preconditioned",
                                              "(2+2β₁)/((1−β₁)η) = 38/η = 3800"};
    check_svg(ta, adam_legend, 5, 200, 3800);

    /* four measurements, steps 0..30 and then 0..3: integer ticks even where a nice step
     * would be 0.5 */
    cJSON *few = cJSON_Duplicate(tg, 1);
    cJSON *fs = (cJSON *)get(few, "series");
    while (cJSON_GetArraySize(fs) > 4) cJSON_DeleteItemFromArray(fs, 4);
    for (int i = 0; i < 4; i++)
        cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(fs, i), "step"),
                             i);
    check_svg(few, gd_legend, 2, 40, 0);
    cJSON_Delete(few);

    check_schema(gd);
    check_schema(adam);

    char *out = (char *)1;
    CHECK(hesse_track_csv(NULL, &out) == HESSE_EINVAL && out == NULL);
    cJSON *empty = cJSON_CreateObject();
    CHECK(hesse_track_csv(empty, &out) == HESSE_EINPUT && has(hesse_last_error(), "series"));
    CHECK(hesse_track_svg(empty, &out) == HESSE_EINPUT && out == NULL);
    cJSON_AddItemToObject(empty, "series", cJSON_CreateArray());
    REQUIRE(hesse_track_csv(empty, &out) == HESSE_OK);
    CHECK(strcmp(out, "\n") == 0); /* no measurements: an empty header */
    free(out);
    CHECK(hesse_track_svg(empty, &out) == HESSE_EINVAL && out == NULL); /* nothing to draw */
    /* keys outside the contract follow the known ones (objects left out); strings with a
     * separator or a quote are quoted, booleans written as words; a row that is not an
     * object is refused naming it */
    cJSON *odd = doc("{'series':[{'note':'a,\\'b\\'','top':[2],'ok':true,'obj':{'x':1}},"
                     "{'step':1,'top':[3,4]}]}");
    REQUIRE(odd && hesse_track_csv(odd, &out) == HESSE_OK);
    CHECK_MSG(strcmp(out, "step,top_1,top_2,note,ok\n,2,,\"a,\"\"b\"\"\",true\n1,3,4,,\n") == 0,
              "%s", out);
    free(out);
    cJSON_AddItemToArray(cJSON_GetObjectItem(odd, "series"), cJSON_CreateNumber(1));
    CHECK(hesse_track_csv(odd, &out) == HESSE_EINPUT && has(hesse_last_error(), "series[2]"));
    cJSON_Delete(odd);
    cJSON_Delete(empty);
    cJSON_Delete(gd);
    cJSON_Delete(adam);
    return test_summary("test_track_out");
}
