/* io/svg.c: documents are complete, escape text, place points inside the plot area, drop
 * non-finite and (on log axes) non-positive points, and refuse plots with nothing to draw. */
#include <hesse/io.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"

static int count(const char *s, const char *needle) {
    int c = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) c++;
    return c;
}

int main(void) {
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {1, 10, NAN, 1000, -1};
    hesse_series s[2] = {{"density <a&b>", x, y, 5, HESSE_PLOT_LINE, NULL, 0},
                         {"eigenvalues", x, y, 5, HESSE_PLOT_STEMS, "#000", 0}};
    hesse_plot p = hesse_plot_defaults();
    p.title = "t \"q\"";
    p.xlabel = "lambda";
    p.ylabel = "log10 density";
    char *svg = NULL;
    REQUIRE(hesse_svg_render(&p, s, 2, &svg) == HESSE_OK);
    CHECK(strncmp(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39) == 0);
    CHECK(strcmp(svg + strlen(svg) - 7, "</svg>\n") == 0);
    CHECK(strstr(svg, "density &lt;a&amp;b&gt;") != NULL);
    CHECK(strstr(svg, "t &quot;q&quot;") != NULL);
    /* data markers (radius 2.2; legend markers are 3): NaN left out, -1 kept on a linear axis */
    CHECK(count(svg, "r=\"2.2\"") == 4);
    CHECK(count(svg, "r=\"3\"") == 1); /* the stem series' legend shows its marker */
    CHECK(count(svg, "<polyline") == 1);
    /* every point lies inside the 640 x 400 canvas */
    int inside = 1;
    for (const char *c = strstr(svg, "<circle"); c; c = strstr(c + 1, "<circle")) {
        double cx, cy;
        if (sscanf(c, "<circle cx=\"%lf\" cy=\"%lf\"", &cx, &cy) != 2)
            inside = 0;
        else
            inside &= cx > 60 && cx < 630 && cy > 20 && cy < 360;
    }
    CHECK(inside);
    free(svg);

    p.ylog = 1; /* -1 cannot be drawn on a log axis */
    REQUIRE(hesse_svg_render(&p, s + 1, 1, &svg) == HESSE_OK);
    CHECK(count(svg, "r=\"2.2\"") == 3);
    CHECK(strstr(svg, ">1e3<") != NULL || strstr(svg, ">1e2<") != NULL);
    free(svg);

    double bad[2] = {NAN, INFINITY};
    hesse_series none = {NULL, bad, bad, 2, HESSE_PLOT_POINTS, NULL, 0};
    CHECK(hesse_svg_render(&p, &none, 1, &svg) == HESSE_EINVAL && svg == NULL);
    return test_summary("test_svg");
}
