/* The report section of hesse.blocks/1 (block heterogeneity, Zhang et al. 2024): the settings
 * and JS0, a table of the blocks, the JS matrix as a heat map and the rescaled densities. */
#include "io/report-impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define NEED HESSE_REP_NEED
#define OPT  HESSE_REP_OPT

static const hesse_rep_item settings[] = {
    NEED("js0"),           NEED("pairs"),        NEED("group"),    NEED("rank"),
    NEED("js_log"),        NEED("js_max"),       NEED("points"),   NEED("sigma"),
    NEED("solver.probes"), NEED("solver.steps"), NEED("products"), NEED("seconds")};

static void block_table(hesse_rep *s, const cJSON *blocks) {
    static const char *const cols[] = {"block", "parameters", "λ_max", "λ_k",
                                       "trace", "trace by",   "in JS", "why not"};
    static const char *const keys[] = {"name",  "parameters",   "top",      "lambda_k",
                                       "trace", "trace_method", "included", "excluded"};
    hesse_rep_table(s, "grid", "Blocks", 8, cols);
    for (int i = 0; i < cJSON_GetArraySize(blocks); i++) {
        const cJSON *b = cJSON_GetArrayItem(blocks, i);
        hesse_iobuf_puts(s->b, "<tr>");
        for (int k = 0; k < 8; k++) {
            const cJSON *v = hesse_rep_opt(b, keys[k]);
            if (!v && k == 7)
                hesse_iobuf_puts(s->b, "<td></td>");
            else
                hesse_rep_cell(s, v, "$.blocks[%d].%s", i, keys[k]);
        }
        hesse_iobuf_puts(s->b, "</tr>\n");
    }
    hesse_rep_table_end(s);
}

/* The JS matrix ($.js, rows of numbers or null) as a heat map with the blocks' names. */
static void heat_map(hesse_rep *s, const cJSON *doc, const cJSON *blocks) {
    const cJSON *js = hesse_rep_need(s, doc, "js", "$");
    int n = cJSON_GetArraySize(blocks);
    if (!cJSON_IsArray(js) || n < 1 || cJSON_GetArraySize(js) != n) return;
    double *v = malloc((size_t)n * (size_t)n * sizeof *v);
    const char **labels = malloc((size_t)n * sizeof *labels);
    if (!v || !labels) {
        s->oom = 1;
        free(v);
        free(labels);
        return;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *name = hesse_rep_opt(cJSON_GetArrayItem(blocks, i), "name");
        labels[i] = cJSON_IsString(name) ? name->valuestring : "?";
        const cJSON *row = cJSON_GetArrayItem(js, i);
        for (int j = 0; j < n; j++) {
            const cJSON *x = cJSON_GetArrayItem(row, j);
            v[i * n + j] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
    }
    double top = hesse_rep_number(doc, "js_max");
    hesse_heatmap h = {"Jensen-Shannon distances",
                       n,
                       v,
                       labels,
                       0,
                       isfinite(top) && top > 0 ? top : sqrt(log(2.0)),
                       "JS distance"};
    char *svg = NULL;
    int rc = hesse_heatmap_render(&h, &svg);
    if (rc == HESSE_OK)
        hesse_rep_figure(s, svg, "$.js (grey: a block left out, $.blocks[].excluded)");
    else if (rc == HESSE_ENOMEM)
        s->oom = 1;
    free(svg);
    free(v);
    free(labels);
}

/* Every included block's density on the common grid ($.grid, $.blocks[].density), log y. */
static void densities(hesse_rep *s, const cJSON *doc, const cJSON *blocks) {
    double *grid = NULL;
    int64_t g = hesse_rep_array(s, doc, "grid", "$", &grid);
    int n = cJSON_GetArraySize(blocks), ns = 0;
    hesse_series *se = calloc((size_t)(n > 0 ? n : 1), sizeof *se);
    double **ys = calloc((size_t)(n > 0 ? n : 1), sizeof *ys);
    if (!se || !ys) s->oom = 1;
    for (int i = 0; se && ys && g > 1 && i < n; i++) {
        const cJSON *b = cJSON_GetArrayItem(blocks, i), *name = hesse_rep_opt(b, "name");
        int64_t m = hesse_rep_doubles(s, hesse_rep_opt(b, "density"), &ys[ns]);
        if (m != g) {
            free(ys[ns]);
            ys[ns] = NULL;
            continue;
        }
        se[ns] = (hesse_series){cJSON_IsString(name) ? name->valuestring : NULL,
                                grid,
                                ys[ns],
                                g,
                                HESSE_PLOT_LINE,
                                NULL,
                                0};
        ns++;
    }
    if (ns > 0) {
        hesse_rep_plots_begin(s);
        hesse_plot p = hesse_rep_plot_spec("Densities rescaled by λ_k", "λ / λ_k", "density", 0, 1);
        hesse_rep_plot(s, &p, se, ns, "$.blocks[].density against $.grid (log y)");
        hesse_rep_plots_end(s);
    }
    for (int i = 0; ys && i < ns; i++) free(ys[i]);
    free(ys);
    free(se);
    free(grid);
}

void hesse_rep_blocks(hesse_rep *s, const cJSON *doc) {
    hesse_rep_kv(s, "Settings", doc, settings, HESSE_REP_COUNT(settings));
    const cJSON *blocks = hesse_rep_need(s, doc, "blocks", "$");
    if (!cJSON_IsArray(blocks)) return;
    block_table(s, blocks);
    heat_map(s, doc, blocks);
    densities(s, doc, blocks);
}
