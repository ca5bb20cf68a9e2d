/* analysis/edge.c: the edge-of-stability verdict on hand-made series whose answers are read off
 * by eye: reached and stays within +-10 %, reached and leaves (above and below), never reached,
 * and measurements without a value skipped; bad arguments refused. */
#include <hesse/analysis.h>

#include <math.h>

#include "check.h"

int main(void) {
    hesse_edge_verdict v;
    /* reached at index 2 (9.2 / 10 = 0.92), then 0.92 .. 1.08: at the edge */
    const double stays[] = {2, 5, 9.2, 10.5, 9.4, 10.8}, ten[] = {10, 10, 10, 10, 10, 10};
    REQUIRE(hesse_edge_of_stability(stays, ten, 6, 0.1, &v) == HESSE_OK);
    CHECK(v.first == 2 && v.at_edge == 1 && v.points == 6 && v.argmax == 5);
    CHECK(v.min_after == 9.2 / 10 && v.max_after == 10.8 / 10 && v.max_ratio == 10.8 / 10);

    /* reached at index 1, then up to 1.4: not at the edge; a later dip to 0.8 lowers the min */
    const double leaves[] = {3, 9.5, 10.2, 14, 8};
    REQUIRE(hesse_edge_of_stability(leaves, ten, 5, 0.1, &v) == HESSE_OK);
    CHECK(v.first == 1 && v.at_edge == 0 && v.argmax == 3);
    CHECK(v.min_after == 8.0 / 10 && v.max_after == 14.0 / 10);
    /* only the rise past the band: reached at 1, max 1.4 alone also fails */
    REQUIRE(hesse_edge_of_stability(leaves, ten, 4, 0.1, &v) == HESSE_OK);
    CHECK(v.first == 1 && v.at_edge == 0 && v.min_after == 0.95 && v.max_after == 1.4);

    /* never reached: the largest ratio 0.85 at index 2 */
    const double never[] = {1, 2, 8.5, 7};
    REQUIRE(hesse_edge_of_stability(never, ten, 4, 0.1, &v) == HESSE_OK);
    CHECK(v.first == -1 && v.at_edge == 0 && v.argmax == 2 && v.max_ratio == 0.85);
    CHECK(isnan(v.min_after) && isnan(v.max_after));

    /* a threshold per measurement (a changing step size), and unusable points skipped: a NaN
     * sharpness, a zero threshold (its 1000 would otherwise be far outside the band) */
    const double s5[] = {1, NAN, 1000, 4.5, 5.2}, t5[] = {10, 5, 0, 5, 5};
    REQUIRE(hesse_edge_of_stability(s5, t5, 5, 0.1, &v) == HESSE_OK);
    CHECK(v.points == 3 && v.first == 3 && v.at_edge == 1);
    CHECK(v.min_after == 0.9 && v.max_after == 5.2 / 5);

    /* a narrower band: 0.92 no longer counts as reached, and 1.08 is outside */
    REQUIRE(hesse_edge_of_stability(stays, ten, 6, 0.05, &v) == HESSE_OK);
    CHECK(v.first == 3 && v.at_edge == 0);

    /* empty series: nothing usable */
    REQUIRE(hesse_edge_of_stability(NULL, NULL, 0, 0.1, &v) == HESSE_OK);
    CHECK(v.points == 0 && v.first == -1 && v.argmax == -1 && isnan(v.max_ratio));

    CHECK(hesse_edge_of_stability(stays, ten, 6, 0.1, NULL) == HESSE_EINVAL);
    CHECK(hesse_edge_of_stability(NULL, ten, 6, 0.1, &v) == HESSE_EINVAL);
    CHECK(hesse_edge_of_stability(stays, ten, -1, 0.1, &v) == HESSE_EINVAL);
    CHECK(hesse_edge_of_stability(stays, ten, 6, 0, &v) == HESSE_EINVAL);
    CHECK(hesse_edge_of_stability(stays, ten, 6, 1, &v) == HESSE_EINVAL);
    return test_summary("test_edge");
}
