/* SVG plots: axes with "nice" ticks (linear) or decades (log10), line / point / stem series,
 * a legend. Output is a standalone document that also embeds inline in HTML. */
#include "io/io-impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define PALETTE_SIZE (int)(sizeof palette / sizeof palette[0])

hesse_plot hesse_plot_defaults(void) {
    hesse_plot p = {NULL, NULL, NULL, 0, 0, 640, 400, 0, 0};
    return p;
}

typedef struct {
    double lo, hi; /* data range in axis units (log10 for log axes) */
    int log;
    double px0, px1; /* pixel range */
} axis;

static int usable(double v, int log) {
    return isfinite(v) && (!log || v > 0);
}

static double to_axis(double v, int log) {
    return log ? log10(v) : v;
}

static double to_px(const axis *a, double v) {
    double t = (to_axis(v, a->log) - a->lo) / (a->hi - a->lo);
    return a->px0 + t * (a->px1 - a->px0);
}

/* Widens a degenerate range and adds a small margin (linear axes). */
static void finish_range(axis *a, int margin) {
    if (!(a->hi > a->lo)) {
        double w = a->log ? 0.5 : (fabs(a->lo) > 0 ? 0.1 * fabs(a->lo) : 1.0);
        a->lo -= w;
        a->hi += w;
    } else if (margin && !a->log) {
        double w = 0.04 * (a->hi - a->lo);
        a->lo -= w;
        a->hi += w;
    }
}

/* A step of 1, 2 or 5 times a power of ten giving about `target` ticks. */
static double nice_step(double span, int target) {
    double raw = span / target, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void format_tick(char *buf, size_t cap, double v, int log) {
    if (log) {
        snprintf(buf, cap, "1e%d", (int)lround(v));
        return;
    }
    if (v == 0 || (fabs(v) >= 1e-3 && fabs(v) < 1e5))
        snprintf(buf, cap, "%.6g", v);
    else
        snprintf(buf, cap, "%.2g", v);
}

static void xml_text(hesse_iobuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<':
            hesse_iobuf_puts(b, "&lt;");
            break;
        case '>':
            hesse_iobuf_puts(b, "&gt;");
            break;
        case '&':
            hesse_iobuf_puts(b, "&amp;");
            break;
        case '"':
            hesse_iobuf_puts(b, "&quot;");
            break;
        default:
            hesse_iobuf_append(b, s, 1);
        }
    }
}

/* integer: an axis of integer values, whose ticks are integers too. */
static void draw_ticks(hesse_iobuf *b, const axis *a, int vertical, int integer, double other0,
                       double other1) {
    double step = a->log ? fmax(1.0, ceil((a->hi - a->lo) / 6)) : nice_step(a->hi - a->lo, 6);
    if (integer && !a->log) step = fmax(1.0, step);
    double first = ceil(a->lo / step - 1e-9) * step;
    for (double t = first; t <= a->hi + 1e-9 * step; t += step) {
        if (fabs(t) < 1e-9 * step) t = 0.0; /* no "-0" from accumulated steps */
        double v = a->log ? pow(10.0, t) : t;
        double px = to_px(a, v);
        char label[32];
        format_tick(label, sizeof label, t, a->log);
        if (vertical) {
            hesse_iobuf_printf(b,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"#e5e5e5\"/>\n",
                               other0, px, other1, px);
            hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                               other0 - 6, px + 4, label);
        } else {
            hesse_iobuf_printf(b,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"#e5e5e5\"/>\n",
                               px, other0, px, other1);
            hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                               px, other0 + 16, label);
        }
    }
}

/* The width of the legend when it stands right of the frame: its longest label at about 6.5
 * px per character (UTF-8 continuation bytes not counted), the swatch and margins. */
static double legend_width(const hesse_series *series, int nseries) {
    double widest = 0;
    for (int s = 0; s < nseries; s++) {
        int chars = 0;
        for (const char *c = series[s].label; c && *c; c++)
            chars += ((unsigned char)*c & 0xC0) != 0x80;
        widest = fmax(widest, 6.5 * chars);
    }
    return widest + 42;
}

/* The ranges of both axes over every usable point (stems keep zero in range). */
static int fit_axes(const hesse_plot *d, const hesse_series *series, int nseries, axis *ax,
                    axis *ay) {
    double right = d->legend_right ? legend_width(series, nseries) : 20;
    *ax = (axis){INFINITY, -INFINITY, d->xlog, 70, d->width - right};
    *ay = (axis){INFINITY, -INFINITY, d->ylog, d->height - 50, d->title ? 34 : 14};
    int stems = 0;
    for (int s = 0; s < nseries; s++) {
        stems |= series[s].style == HESSE_PLOT_STEMS;
        if (series[s].style == HESSE_PLOT_HLINE) { /* its height only: it spans any x */
            if (series[s].n > 0 && usable(series[s].y[0], ay->log)) {
                ay->lo = fmin(ay->lo, to_axis(series[s].y[0], ay->log));
                ay->hi = fmax(ay->hi, to_axis(series[s].y[0], ay->log));
            }
            continue;
        }
        for (int64_t i = 0; i < series[s].n; i++) {
            double x = series[s].x[i], y = series[s].y[i];
            if (!usable(x, ax->log) || !usable(y, ay->log)) continue;
            ax->lo = fmin(ax->lo, to_axis(x, ax->log));
            ax->hi = fmax(ax->hi, to_axis(x, ax->log));
            ay->lo = fmin(ay->lo, to_axis(y, ay->log));
            ay->hi = fmax(ay->hi, to_axis(y, ay->log));
        }
    }
    if (ax->lo > ax->hi)
        return hesse_error(HESSE_EINVAL, "plot \"%s\": no finite points to draw",
                           d->title ? d->title : "");
    if (stems && !ay->log) { /* stems rise from zero: keep it in range */
        ay->lo = fmin(ay->lo, 0.0);
        ay->hi = fmax(ay->hi, 0.0);
    }
    finish_range(ax, 1);
    finish_range(ay, 1);
    return HESSE_OK;
}

/* The page, title, ticks, frame and axis labels, and the clip of the plot area. */
static void draw_frame(hesse_iobuf *b, const hesse_plot *d, const axis *ax, const axis *ay) {
    hesse_iobuf_printf(b,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                       "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n",
                       d->width, d->height, d->width, d->height);
    hesse_iobuf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", d->width,
                       d->height);
    if (d->title) {
        hesse_iobuf_printf(b, "<text x=\"%d\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">",
                           d->width / 2);
        xml_text(b, d->title);
        hesse_iobuf_puts(b, "</text>\n");
    }
    draw_ticks(b, ax, 0, d->xint, ay->px0, ay->px1);
    draw_ticks(b, ay, 1, 0, ax->px0, ax->px1);
    hesse_iobuf_printf(b,
                       "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                       "stroke=\"#444\"/>\n",
                       ax->px0, ay->px1, ax->px1 - ax->px0, ay->px0 - ay->px1);
    if (d->xlabel) {
        hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">",
                           0.5 * (ax->px0 + ax->px1), d->height - 12);
        xml_text(b, d->xlabel);
        hesse_iobuf_puts(b, "</text>\n");
    }
    if (d->ylabel) {
        double cy = 0.5 * (ay->px0 + ay->px1);
        hesse_iobuf_printf(b,
                           "<text x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
                           "transform=\"rotate(-90 14 %.1f)\">",
                           cy, cy);
        xml_text(b, d->ylabel);
        hesse_iobuf_puts(b, "</text>\n");
    }
    hesse_iobuf_printf(b,
                       "<clipPath id=\"plotarea\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                       "height=\"%.1f\"/></clipPath>\n<g clip-path=\"url(#plotarea)\">\n",
                       ax->px0, ay->px1, ax->px1 - ax->px0, ay->px0 - ay->px1);
}

/* A reference line across the plot, its label above it at the left end. */
static void draw_hline(hesse_iobuf *b, const hesse_series *se, const char *color, const axis *ax,
                       const axis *ay) {
    if (se->n < 1 || !usable(se->y[0], ay->log)) return;
    double py = to_px(ay, se->y[0]);
    hesse_iobuf_printf(b,
                       "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                       "stroke-width=\"1.2\"%s/>\n",
                       ax->px0, py, ax->px1, py, color,
                       se->dashed ? " stroke-dasharray=\"6 4\"" : "");
    if (!se->label) return;
    hesse_iobuf_printf(b, "<text x=\"%.2f\" y=\"%.2f\" fill=\"%s\">", ax->px0 + 6, py - 4, color);
    xml_text(b, se->label);
    hesse_iobuf_puts(b, "</text>\n");
}

/* One series: a polyline, markers (with stems from zero), or a reference line. */
static void draw_series(hesse_iobuf *b, const hesse_series *se, const char *color, const axis *ax,
                        const axis *ay) {
    if (se->style == HESSE_PLOT_HLINE) {
        draw_hline(b, se, color, ax, ay);
        return;
    }
    if (se->style == HESSE_PLOT_LINE) {
        hesse_iobuf_printf(b,
                           "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s points=\"",
                           color, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int64_t i = 0; i < se->n; i++)
            if (usable(se->x[i], ax->log) && usable(se->y[i], ay->log))
                hesse_iobuf_printf(b, "%.2f,%.2f ", to_px(ax, se->x[i]), to_px(ay, se->y[i]));
        hesse_iobuf_puts(b, "\"/>\n");
        return;
    }
    double base = ay->log ? ay->px0 : to_px(ay, 0.0);
    hesse_iobuf_printf(b, "<g fill=\"%s\" stroke=\"%s\">\n", color, color);
    for (int64_t i = 0; i < se->n; i++) {
        if (!usable(se->x[i], ax->log) || !usable(se->y[i], ay->log)) continue;
        double px = to_px(ax, se->x[i]), py = to_px(ay, se->y[i]);
        if (se->style == HESSE_PLOT_STEMS)
            hesse_iobuf_printf(b, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>", px,
                               base, px, py);
        hesse_iobuf_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"2.2\"/>", px, py);
    }
    hesse_iobuf_puts(b, "\n</g>\n");
}

/* The labelled series, one line each in the top right corner. */
static void draw_legend(hesse_iobuf *b, const hesse_series *series, int nseries, const axis *ax,
                        const axis *ay, int right) {
    double y = ay->px1 + 14, x0 = right ? ax->px1 + 182 : ax->px1; /* the swatch at x0 - 170 */
    for (int s = 0; s < nseries; s++) {
        if (!series[s].label) continue;
        const char *color = series[s].color ? series[s].color : palette[s % PALETTE_SIZE];
        if (series[s].style == HESSE_PLOT_LINE || series[s].style == HESSE_PLOT_HLINE)
            hesse_iobuf_printf(b,
                               "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                               "stroke=\"%s\" stroke-width=\"2\"%s/>",
                               x0 - 170, y - 4, x0 - 150, y - 4, color,
                               series[s].dashed ? " stroke-dasharray=\"6 4\"" : "");
        else /* points and stems: their marker */
            hesse_iobuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", x0 - 160,
                               y - 4, color);
        hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", x0 - 145, y);
        xml_text(b, series[s].label);
        hesse_iobuf_puts(b, "</text>\n");
        y += 15;
    }
}

int hesse_svg_render(const hesse_plot *p, const hesse_series *series, int nseries, char **svg) {
    if (!svg) return hesse_error(HESSE_EINVAL, "hesse_svg_render: NULL output");
    *svg = NULL;
    hesse_plot d = p ? *p : hesse_plot_defaults();
    if (d.width <= 0) d.width = 640;
    if (d.height <= 0) d.height = 400;
    axis ax, ay;
    int rc = fit_axes(&d, series, nseries, &ax, &ay);
    if (rc != HESSE_OK) return rc;
    hesse_iobuf b = {0};
    draw_frame(&b, &d, &ax, &ay);
    int legend = 0;
    for (int s = 0; s < nseries; s++) {
        const hesse_series *se = &series[s];
        legend += se->label != NULL;
        draw_series(&b, se, se->color ? se->color : palette[s % PALETTE_SIZE], &ax, &ay);
    }
    hesse_iobuf_puts(&b, "</g>\n");
    if (legend) draw_legend(&b, series, nseries, &ax, &ay, d.legend_right);
    hesse_iobuf_puts(&b, "</svg>\n");
    rc = hesse_iobuf_status(&b);
    if (rc != HESSE_OK) {
        hesse_iobuf_free(&b);
        return rc;
    }
    *svg = b.data;
    return HESSE_OK;
}

int hesse_svg_write(const hesse_plot *p, const hesse_series *series, int nseries,
                    const char *path) {
    char *svg = NULL;
    int rc = hesse_svg_render(p, series, nseries, &svg);
    if (rc == HESSE_OK) rc = hesse_write_file_atomic(path, svg, strlen(svg));
    free(svg);
    return rc;
}

/* ---- Heat map ---------------------------------------------------------------------------------
 */

/* White (t = 0) to #08306b (t = 1). */
static void heat_colour(char *buf, size_t cap, double t) {
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    snprintf(buf, cap, "#%02x%02x%02x", (int)lround(255 + t * (8 - 255)),
             (int)lround(255 + t * (48 - 255)), (int)lround(255 + t * (107 - 255)));
}

static void heat_cell(hesse_iobuf *b, const hesse_heatmap *h, int i, int j, double x, double y,
                      double cell) {
    double v = h->values[(int64_t)i * h->n + j], t = (v - h->vmin) / (h->vmax - h->vmin);
    char fill[16], num[32];
    if (isfinite(v))
        heat_colour(fill, sizeof fill, t);
    else
        snprintf(fill, sizeof fill, "#bbbbbb");
    snprintf(num, sizeof num, isfinite(v) ? "%.3g" : "n/a", v);
    hesse_iobuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                       x, y, cell, cell, fill);
    hesse_iobuf_puts(b, "<title>");
    xml_text(b, h->labels[i]);
    hesse_iobuf_puts(b, " vs ");
    xml_text(b, h->labels[j]);
    hesse_iobuf_printf(b, ": %s</title></rect>\n", num);
    if (h->n <= 16)
        hesse_iobuf_printf(b,
                           "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.0f\" text-anchor=\"middle\" "
                           "fill=\"%s\">%s</text>\n",
                           x + cell / 2, y + cell / 2 + 4, fmin(11, cell / 3.2),
                           isfinite(v) && t > 0.55 ? "#ffffff" : "#222222", num);
}

static void heat_labels(hesse_iobuf *b, const hesse_heatmap *h, double x0, double y0, double cell) {
    for (int i = 0; i < h->n; i++) {
        hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">",
                           x0 - 4, y0 + (i + 0.5) * cell + 4);
        xml_text(b, h->labels[i]);
        hesse_iobuf_puts(b, "</text>\n");
        double x = x0 + (i + 0.5) * cell + 4;
        hesse_iobuf_printf(b,
                           "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                           "transform=\"rotate(-60 %.1f %.1f)\">",
                           x, y0 - 4, x, y0 - 4);
        xml_text(b, h->labels[i]);
        hesse_iobuf_puts(b, "</text>\n");
    }
}

/* A vertical bar of 10 steps from vmin (bottom) to vmax (top), labelled at both ends. */
static void heat_bar(hesse_iobuf *b, const hesse_heatmap *h, double x, double y, double height) {
    char fill[16];
    for (int k = 0; k < 10; k++) {
        heat_colour(fill, sizeof fill, (k + 0.5) / 10);
        hesse_iobuf_printf(
            b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.2f\" fill=\"%s\"/>\n", x,
            y + height * (9 - k) / 10, height / 10, fill);
    }
    hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%.3g</text>\n", x + 18,
                       y + 10, h->vmax);
    hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%.3g</text>\n", x + 18,
                       y + height, h->vmin);
    if (h->scale_label) {
        hesse_iobuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">", x, y + height + 16);
        xml_text(b, h->scale_label);
        hesse_iobuf_puts(b, "</text>\n");
    }
}

int hesse_heatmap_render(const hesse_heatmap *h, char **svg) {
    if (!svg) return hesse_error(HESSE_EINVAL, "hesse_heatmap_render: NULL output");
    *svg = NULL;
    if (!h || h->n < 1 || !h->values || !h->labels || !(h->vmax > h->vmin))
        return hesse_error(HESSE_EINVAL, "hesse_heatmap_render: no cells, labels or scale");
    size_t longest = 1;
    for (int i = 0; i < h->n; i++)
        if (h->labels[i] && strlen(h->labels[i]) > longest) longest = strlen(h->labels[i]);
    for (int i = 0; i < h->n; i++)
        if (!h->labels[i]) return hesse_error(HESSE_EINVAL, "hesse_heatmap_render: NULL label");
    double cell = fmax(14, fmin(44, 520.0 / h->n)), side = fmin(320, 6.5 * (double)longest + 12);
    double x0 = side + 10, y0 = side * 0.87 + 36, w = x0 + h->n * cell + 90,
           ht = y0 + h->n * cell + 30;
    if (h->title && w < 20 + 7.5 * (double)strlen(h->title))
        w = 20 + 7.5 * (double)strlen(h->title);
    hesse_iobuf b = {0};
    hesse_iobuf_printf(&b,
                       "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                       "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
                       "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
                       w, ht, w, ht);
    if (h->title) {
        hesse_iobuf_puts(&b, "<text x=\"10\" y=\"18\" font-size=\"14\">");
        xml_text(&b, h->title);
        hesse_iobuf_puts(&b, "</text>\n");
    }
    for (int i = 0; i < h->n; i++)
        for (int j = 0; j < h->n; j++) heat_cell(&b, h, i, j, x0 + j * cell, y0 + i * cell, cell);
    heat_labels(&b, h, x0, y0, cell);
    heat_bar(&b, h, x0 + h->n * cell + 16, y0, fmax(100, fmin(h->n * cell, 240)));
    hesse_iobuf_puts(&b, "</svg>\n");
    int rc = hesse_iobuf_status(&b);
    if (rc != HESSE_OK) {
        hesse_iobuf_free(&b);
        return rc;
    }
    *svg = b.data;
    return HESSE_OK;
}

int hesse_heatmap_write(const hesse_heatmap *h, const char *path) {
    char *svg = NULL;
    int rc = hesse_heatmap_render(h, &svg);
    if (rc == HESSE_OK) rc = hesse_write_file_atomic(path, svg, strlen(svg));
    free(svg);
    return rc;
}
