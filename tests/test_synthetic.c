/* Synthetic data and label noise (data/gaussmix.c, data/labelnoise.c), against closed forms
 * and statistics: the class means form a regular simplex of the spec's separation, the samples
 * scatter around them with the spec's standard deviation, each seed gives one data set, the
 * splits are independent draws; label noise changes exactly round(P n) labels, each to another
 * class, reproducibly, and nothing else. */
#include <hesse/hesse.h>

#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static hesse_dataset *open_spec(const char *spec, hesse_split split) {
    hesse_dataset *ds = NULL;
    int rc = hesse_dataset_open(spec, split, &ds);
    REQUIRE(rc == HESSE_OK && ds);
    return ds;
}

/* ||mu_c - mu_c'|| = S, sum_c mu_c = 0, ||mu_c||^2 = S^2 (C - 1) / (2C): closed forms of a
 * regular simplex; rounding of a few hundred products of O(1) values, hence 1e-12. */
static void test_means(void) {
    hesse_gaussmix g;
    REQUIRE(hesse_gaussmix_parse("gaussmix:classes=7,dim=30,separation=3.5,seed=11", &g) ==
            HESSE_OK);
    CHECK(g.classes == 7 && g.dim == 30 && g.separation == 3.5 && g.seed == 11);
    CHECK(g.samples == 5000 && g.test == 1000 && g.noise == 1.0); /* the documented defaults */
    double mu[7 * 30];
    REQUIRE(hesse_gaussmix_means(&g, mu) == HESSE_OK);
    for (int a = 0; a < 7; a++) {
        double norm2 = 0;
        for (int d = 0; d < 30; d++) norm2 += mu[a * 30 + d] * mu[a * 30 + d];
        CHECK_CLOSE(norm2, 3.5 * 3.5 * 6.0 / 14.0, 1e-12, 0);
        for (int b = a + 1; b < 7; b++) {
            double dist2 = 0;
            for (int d = 0; d < 30; d++) {
                double t = mu[a * 30 + d] - mu[b * 30 + d];
                dist2 += t * t;
            }
            CHECK_CLOSE(sqrt(dist2), 3.5, 1e-12, 0);
        }
    }
    for (int d = 0; d < 30; d++) {
        double sum = 0;
        for (int c = 0; c < 7; c++) sum += mu[c * 30 + d];
        CHECK(fabs(sum) < 1e-12);
    }
}

/* The samples: labels i mod C, class means within 5 standard errors of mu_c in every
 * coordinate (sigma / sqrt(n_c); 5 se over 2,000 coordinates fails by chance with probability
 * ~1e-3, and the seed is fixed), the pooled within-class variance within 3 of its standard
 * errors (sqrt(2 / dof)) of sigma^2. */
static void test_samples(void) {
    const char *spec = "gaussmix:classes=4,dim=50,separation=6,seed=3,samples=4000,test=40,"
                       "noise=2.5";
    hesse_gaussmix g;
    REQUIRE(hesse_gaussmix_parse(spec, &g) == HESSE_OK);
    hesse_dataset *ds = open_spec(spec, HESSE_SPLIT_TRAIN);
    int c, h, w;
    hesse_dataset_shape(ds, &c, &h, &w);
    CHECK(hesse_dataset_size(ds) == 4000 && c == 50 && h == 1 && w == 1);
    CHECK(hesse_dataset_num_classes(ds) == 4 && !hesse_dataset_is_bytes(ds));
    CHECK(strcmp(hesse_dataset_name(ds), "gaussmix:classes=4,dim=50,separation=6,seed=3,"
                                         "samples=4000,test=40,noise=2.5/train") == 0);
    char name[256];
    g.noise = 0.3; /* the shortest text that reads back */
    hesse_gaussmix_name(&g, name, sizeof name);
    CHECK(strstr(name, ",noise=0.3") != NULL);
    const double *x = hesse_dataset_values(ds);
    double mu[4 * 50], mean[4 * 50] = {0};
    REQUIRE(x && hesse_gaussmix_means(&g, mu) == HESSE_OK);
    int labels_ok = 1;
    for (int64_t i = 0; i < 4000; i++) {
        int y = hesse_dataset_label(ds, i);
        labels_ok &= y == (int)(i % 4);
        for (int d = 0; d < 50; d++) mean[y * 50 + d] += x[i * 50 + d] / 1000.0;
    }
    CHECK(labels_ok);
    double worst = 0, ss = 0;
    for (int k = 0; k < 200; k++) worst = fmax(worst, fabs(mean[k] - mu[k]));
    CHECK_MSG(worst < 5 * 2.5 / sqrt(1000.0), "largest mean error %g", worst);
    for (int64_t i = 0; i < 4000; i++)
        for (int d = 0; d < 50; d++) {
            double t = x[i * 50 + d] - mean[(i % 4) * 50 + d];
            ss += t * t;
        }
    const double dof = 4000.0 * 50 - 200, var = ss / dof;
    CHECK_MSG(fabs(var / (2.5 * 2.5) - 1) < 3 * sqrt(2 / dof), "variance %g, expected 6.25", var);
    hesse_dataset_free(ds);
}

static int same_values(const hesse_dataset *a, const hesse_dataset *b, int64_t n, int dim) {
    return memcmp(hesse_dataset_values(a), hesse_dataset_values(b),
                  (size_t)(n * dim) * sizeof(double)) == 0;
}

/* One data set per seed; the training split does not depend on the test split's size; no test
 * sample equals a training sample. */
static void test_determinism(void) {
    hesse_dataset *a = open_spec("gaussmix:classes=3,dim=5,separation=1,seed=9,samples=60,test=10",
                                 HESSE_SPLIT_TRAIN);
    hesse_dataset *b = open_spec("gaussmix:seed=9,test=500,samples=60,dim=5,classes=3,separation=1",
                                 HESSE_SPLIT_TRAIN);
    hesse_dataset *other = open_spec(
        "gaussmix:classes=3,dim=5,separation=1,seed=10,samples=60,test=10", HESSE_SPLIT_TRAIN);
    hesse_dataset *test = open_spec(
        "gaussmix:classes=3,dim=5,separation=1,seed=9,samples=60,test=10", HESSE_SPLIT_TEST);
    CHECK(same_values(a, b, 60, 5));
    CHECK(!same_values(a, other, 60, 5));
    CHECK(hesse_dataset_size(test) == 10);
    int shared = 0;
    const double *xa = hesse_dataset_values(a), *xt = hesse_dataset_values(test);
    for (int i = 0; i < 60; i++)
        for (int j = 0; j < 10; j++)
            shared += memcmp(xa + i * 5, xt + j * 5, 5 * sizeof(double)) == 0;
    CHECK(shared == 0);
    CHECK(strstr(hesse_dataset_name(test), "/test") != NULL);
    hesse_dataset_free(a);
    hesse_dataset_free(b);
    hesse_dataset_free(other);
    hesse_dataset_free(test);
}

static void test_parse_errors(void) {
    static const char *const bad[] = {
        "gaussmix:",
        "gaussmix:classes=3,dim=20",                /* separation missing */
        "gaussmix:classes=3,dim=2,separation=1",    /* C > D */
        "gaussmix:classes=1,dim=2,separation=1",    /* one class */
        "gaussmix:classes=3,dim=20,separation=0",   /* S must be > 0 */
        "gaussmix:classes=3,dim=20,separation=inf", /* and finite */
        "gaussmix:classes=3,dim=20,separation=1,noise=-1",
        "gaussmix:classes=3,dim=20,separation=1,seed=-2",
        "gaussmix:classes=3.5,dim=20,separation=1",
        "gaussmix:classes=3,dim=20,separation=1,foo=2", /* unknown key */
        "gaussmix:classes=3,classes=3,dim=20,separation=1",
        "gaussmix:classes=3,dim=20,separation",                    /* no value */
        "gaussmix:classes=3,dim=20,separation=1,,",                /* empty item */
        "gaussmix:classes=3,dim=1000,separation=1,samples=300000", /* 3e8 values > 2^28 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hesse_dataset *ds = (hesse_dataset *)&ds;
        int rc = hesse_dataset_open(bad[i], HESSE_SPLIT_TRAIN, &ds);
        CHECK_MSG(rc == HESSE_EINVAL && ds == NULL, "'%s' gave %d", bad[i], rc);
        CHECK_MSG(strstr(hesse_last_error(), bad[i]) != NULL, "'%s': message '%s'", bad[i],
                  hesse_last_error());
    }
}

/* n samples of C classes with labels i mod C. */
static hesse_samples labelled(int64_t n, int C) {
    hesse_samples s;
    REQUIRE(hesse_samples_alloc(n, 1, 1, 1, C, &s) == HESSE_OK);
    for (int64_t i = 0; i < n; i++) {
        s.x[i] = (double)i;
        s.y[i] = (int32_t)(i % C);
    }
    return s;
}

static int64_t differ(const hesse_samples *a, const hesse_samples *b) {
    int64_t k = 0;
    for (int64_t i = 0; i < a->n; i++) k += a->y[i] != b->y[i];
    return k;
}

/* Exactly round(P n) labels change, every changed one to a valid other class, the same seed
 * gives the same labels and another seed others; inputs untouched. The new labels are uniform
 * over the other classes: each of the C - 1 offsets (y' - y mod C) within 5 binomial standard
 * deviations of m / (C - 1). */
static void test_label_noise(void) {
    const int64_t n = 10000;
    const int C = 10;
    hesse_samples clean = labelled(n, C), a = labelled(n, C), b = labelled(n, C),
                  c = labelled(n, C);
    int64_t changed = -1;
    REQUIRE(hesse_samples_label_noise(&a, 0.4, 7, &changed) == HESSE_OK);
    CHECK(changed == 4000 && differ(&a, &clean) == 4000);
    int valid = 1, inputs = 1;
    int64_t offsets[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        valid &= a.y[i] >= 0 && a.y[i] < C;
        inputs &= a.x[i] == (double)i;
        if (a.y[i] != clean.y[i]) offsets[((a.y[i] - clean.y[i]) % C + C) % C]++;
    }
    CHECK(valid && inputs && offsets[0] == 0);
    const double expect = 4000.0 / 9, sd = sqrt(4000.0 * (1.0 / 9) * (8.0 / 9));
    for (int k = 1; k < C; k++)
        CHECK_MSG(fabs((double)offsets[k] - expect) < 5 * sd, "offset %d: %lld", k,
                  (long long)offsets[k]);
    /* the changed positions spread over the set: each half holds 2000 +- 5 sd of them */
    int64_t first_half = 0;
    for (int64_t i = 0; i < n / 2; i++) first_half += a.y[i] != clean.y[i];
    CHECK_MSG(fabs((double)first_half - 2000) < 5 * sqrt(10000 * 0.4 * 0.6 / 4), "%lld",
              (long long)first_half);
    REQUIRE(hesse_samples_label_noise(&b, 0.4, 7, NULL) == HESSE_OK);
    CHECK(differ(&a, &b) == 0);
    REQUIRE(hesse_samples_label_noise(&c, 0.4, 8, NULL) == HESSE_OK);
    CHECK(differ(&a, &c) > 0 && differ(&c, &clean) == 4000);
    hesse_samples_free(&a);
    hesse_samples_free(&b);
    hesse_samples_free(&c);
    hesse_samples_free(&clean);

    /* rounding: round(0.5 * 7) = 4, round(0.3 * 7) = 2 (2.1), and P = 0 changes nothing */
    const double fractions[] = {0.5, 0.3, 0.0, 0.999};
    const int64_t expected[] = {4, 2, 0, 7};
    for (int k = 0; k < 4; k++) {
        hesse_samples s = labelled(7, 3), ref = labelled(7, 3);
        REQUIRE(hesse_samples_label_noise(&s, fractions[k], 1, &changed) == HESSE_OK);
        CHECK(changed == expected[k] && differ(&s, &ref) == expected[k]);
        hesse_samples_free(&s);
        hesse_samples_free(&ref);
    }
    /* refused: P outside [0, 1), NaN, one class */
    const double bad[] = {1.0, -0.1, NAN, 2.0};
    hesse_samples s = labelled(10, 3), ref = labelled(10, 3);
    for (int k = 0; k < 4; k++)
        CHECK(hesse_samples_label_noise(&s, bad[k], 1, NULL) == HESSE_EINVAL);
    CHECK(differ(&s, &ref) == 0);
    s.num_classes = 1;
    CHECK(hesse_samples_label_noise(&s, 0.5, 1, NULL) == HESSE_EINVAL);
    CHECK(differ(&s, &ref) == 0);
    hesse_samples_free(&s);
    hesse_samples_free(&ref);
}

int main(void) {
    test_means();
    test_samples();
    test_determinism();
    test_parse_errors();
    test_label_noise();
    return test_summary("test_synthetic");
}
