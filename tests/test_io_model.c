/* io/ model files and safetensors datasets: save -> load gives the same parameters bit for
 * bit; files with a wrong shape, a missing or extra tensor, a non-float dtype, non-finite
 * values or no architecture are refused with a message naming file, tensor and what was
 * expected; datasets keep their pixels, values and labels and refuse bad labels. */
#include <hesse/io.h>

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define ARCH "flatten,linear(4,3),relu,linear(3,2)"

static char tmpdir[] = "/tmp/hesse_test_io_model.XXXXXX";

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}

/* Checks that the last call failed with `status` and a message containing every phrase. */
static void expect_error(int rc, int status, const char *a, const char *b, const char *c) {
    const char *msg = hesse_last_error();
    CHECK_MSG(rc == status, "status %d, expected %d: %s", rc, status, msg);
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++)
        if (parts[i]) CHECK_MSG(strstr(msg, parts[i]) != NULL, "'%s' not in: %s", parts[i], msg);
    if (getenv("HESSE_TEST_VERBOSE")) fprintf(stderr, "  refused: %s\n", msg);
}

/* A state_dict-like file of the ARCH tensors written by the plain writer (no hesse
 * metadata unless `with_meta`), with optional changes: tensor `skip` left out, tensor
 * `extra` added, "1.weight" given `w_cols` columns, "3.bias" stored with `bias_dtype`. */
typedef struct {
    const char *skip, *extra;
    int w_cols;
    hesse_dtype bias_dtype;
    int with_meta;
    double poison; /* stored at 1.weight[1][1] when not 0 */
} variant;

static void write_variant(const char *path, variant v) {
    static double w1[3 * 5], b1[3], w3[2 * 3], x[4];
    static float b3f[2];
    static int64_t b3i[2];
    for (int i = 0; i < 15; i++) w1[i] = 0.1 * (i + 1);
    for (int i = 0; i < 3; i++) b1[i] = -0.5 + i;
    for (int i = 0; i < 6; i++) w3[i] = 1.0 / (i + 1);
    b3f[0] = 0.25f, b3f[1] = -0.75f;
    b3i[0] = 1, b3i[1] = 2;
    if (v.poison != 0) w1[1 * 4 + 1] = v.poison;
    int64_t s_w1[2] = {3, v.w_cols ? v.w_cols : 4}, s_b1[1] = {3}, s_w3[2] = {2, 3}, s_b3[1] = {2},
            s_x[1] = {4};
    hesse_st_writer *w = NULL;
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    if (v.with_meta) {
        hesse_st_add_meta(w, "hesse.arch", ARCH);
        hesse_st_add_meta(w, "hesse.input_shape", "1,2,2");
    }
    const char *names[4] = {"1.weight", "1.bias", "3.weight", "3.bias"};
    const void *data[4] = {w1, b1, w3, NULL};
    const int64_t *shapes[4] = {s_w1, s_b1, s_w3, s_b3};
    int ndims[4] = {2, 1, 2, 1};
    for (int i = 0; i < 4; i++) {
        if (v.skip && strcmp(v.skip, names[i]) == 0) continue;
        hesse_dtype dt = HESSE_DTYPE_F64;
        if (i == 3) {
            dt = v.bias_dtype;
            data[3] = dt == HESSE_DTYPE_I64 ? (const void *)b3i : (const void *)b3f;
        }
        REQUIRE(hesse_st_add(w, names[i], dt, ndims[i], shapes[i], data[i]) == HESSE_OK);
    }
    if (v.extra) REQUIRE(hesse_st_add(w, v.extra, HESSE_DTYPE_F64, 1, s_x, x) == HESSE_OK);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
}

static void test_model_roundtrip(void) {
    hesse_model *m = NULL, *back = NULL;
    REQUIRE(hesse_model_create(ARCH, 1, 2, 2, HESSE_LOSS_MSE, &m) == HESSE_OK);
    hesse_model_init(m, 7);
    hesse_model_params(m)[0] = 0.1; /* a value that needs 17 digits elsewhere */
    char path[600];
    tmp_path(path, sizeof path, "m.safetensors");
    hesse_model_meta meta = {"{\"scale\": 0.00392156862745098}", "{\"loss\": [2.3, 1.1]}",
                             "{\"dataset\": \"fashion-mnist\"}", 12345678901234ULL};
    REQUIRE(hesse_model_save(m, &meta, path) == HESSE_OK);

    char *pre = NULL;
    REQUIRE(hesse_model_load(path, NULL, &back, &pre) == HESSE_OK);
    CHECK(hesse_model_num_params(back) == hesse_model_num_params(m) &&
          hesse_model_num_params(m) == 4 * 3 + 3 + 3 * 2 + 2);
    CHECK(memcmp(hesse_model_params_const(back), hesse_model_params_const(m),
                 (size_t)hesse_model_num_params(m) * sizeof(double)) == 0);
    CHECK(strcmp(hesse_model_arch(back), hesse_model_arch(m)) == 0);
    CHECK(hesse_model_loss(back) == HESSE_LOSS_MSE);
    int c, h, w;
    hesse_model_input_shape(back, &c, &h, &w);
    CHECK(c == 1 && h == 2 && w == 2);
    CHECK(pre && strcmp(pre, meta.preprocess_json) == 0);
    free(pre);
    hesse_model_free(back);
    back = NULL;

    /* The metadata is all there, and the tensors carry PyTorch's names and shapes. */
    hesse_st_file *f = NULL;
    REQUIRE(hesse_st_open(path, &f) == HESSE_OK);
    CHECK(strcmp(hesse_st_meta(f, "hesse.format"), "1") == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.input_shape"), "1,2,2") == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.loss"), "mse") == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.seed"), "12345678901234") == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.history"), meta.history_json) == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.data"), meta.data_json) == 0);
    CHECK(strcmp(hesse_st_meta(f, "hesse.version"), hesse_version()) == 0);
    CHECK(strcmp(hesse_st_meta_key(f, 0), "hesse.format") == 0);
    const hesse_st_tensor *t = hesse_st_find(f, "1.weight");
    CHECK(t && t->dtype == HESSE_DTYPE_F64 && t->ndim == 2 && t->shape[0] == 3 &&
          t->shape[1] == 4 && t == hesse_st_at(f, 0));
    CHECK(hesse_st_count(f) == 4);
    hesse_st_close(f);

    /* Options: the loss can be overridden; a matching input shape is accepted, another one
     * refused; the architecture given replaces the file's. */
    hesse_load_options opt = hesse_load_defaults();
    opt.loss = HESSE_LOSS_CROSS_ENTROPY;
    opt.c = 1, opt.h = 2, opt.w = 2;
    CHECK(hesse_model_load(path, &opt, &back, NULL) == HESSE_OK &&
          hesse_model_loss(back) == HESSE_LOSS_CROSS_ENTROPY);
    hesse_model_free(back);
    back = NULL;
    opt.c = 4, opt.h = 1, opt.w = 1;
    expect_error(hesse_model_load(path, &opt, &back, NULL), HESSE_EINPUT, path, "1,2,2", "4,1,1");
    CHECK(back == NULL);
    opt = hesse_load_defaults();
    opt.arch = "flatten,linear(4,3),tanh,linear(3,2)";
    CHECK(hesse_model_load(path, &opt, &back, NULL) == HESSE_OK &&
          strstr(hesse_model_arch(back), "tanh"));
    hesse_model_free(back);
    back = NULL;
    opt.arch = "flatten,linear(4,5),relu,linear(5,2)";
    expect_error(hesse_model_load(path, &opt, &back, NULL), HESSE_EINPUT, "'1.weight'", "[3, 4]",
                 "[5, 4]");

    /* A failed save leaves nothing behind and does not touch the old file. */
    char bad[700];
    snprintf(bad, sizeof bad, "%s/no/such/dir/m.safetensors", tmpdir);
    expect_error(hesse_model_save(m, NULL, bad), HESSE_EIO, bad, NULL, NULL);
    hesse_model_meta broken = {"{not json", NULL, NULL, 0};
    expect_error(hesse_model_save(m, &broken, path), HESSE_EINVAL, "hesse.preprocess", NULL, NULL);
    REQUIRE(hesse_model_load(path, NULL, &back, NULL) == HESSE_OK);
    CHECK(memcmp(hesse_model_params_const(back), hesse_model_params_const(m),
                 (size_t)hesse_model_num_params(m) * sizeof(double)) == 0);
    hesse_model_free(back);
    hesse_model_free(m);
}

static void test_model_errors(void) {
    char path[600];
    tmp_path(path, sizeof path, "v.safetensors");
    hesse_model *m = NULL;
    variant base = {NULL, NULL, 0, HESSE_DTYPE_F32, 1, 0};

    /* The base variant loads, with an F32 tensor widened exactly. */
    write_variant(path, base);
    REQUIRE(hesse_model_load(path, NULL, &m, NULL) == HESSE_OK);
    const hesse_tensor_info *b3 = hesse_model_find_tensor(m, "3.bias");
    CHECK(b3 && hesse_model_params(m)[b3->offset] == 0.25 &&
          hesse_model_params(m)[b3->offset + 1] == -0.75);
    hesse_model_free(m);
    m = NULL;

    variant v = base;
    v.w_cols = 5;
    write_variant(path, v);
    char want[800];
    snprintf(want, sizeof want,
             "%s: tensor '1.weight' has shape [3, 5], expected [3, 4] for linear(4,3)", path);
    hesse_clear_error();
    CHECK(hesse_model_load(path, NULL, &m, NULL) == HESSE_EINPUT && m == NULL);
    CHECK_MSG(strcmp(hesse_last_error(), want) == 0, "%s", hesse_last_error());

    v = base;
    v.skip = "3.bias";
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, path, "'3.bias'", "missing");

    v = base;
    v.extra = "5.weight";
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, path, "'5.weight'",
                 "no such tensor");

    v = base;
    v.bias_dtype = HESSE_DTYPE_I64;
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, "'3.bias'", "I64", NULL);

    v = base;
    v.poison = NAN;
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, "'1.weight'", "[1, 1]",
                 "non-finite");
    v.poison = -INFINITY;
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, "'1.weight'", "-inf", NULL);

    /* A PyTorch state_dict: no hesse metadata. It needs --arch, and then an input shape. */
    v = base;
    v.with_meta = 0;
    write_variant(path, v);
    expect_error(hesse_model_load(path, NULL, &m, NULL), HESSE_EINPUT, path, "--arch", NULL);
    hesse_load_options opt = hesse_load_defaults();
    opt.arch = ARCH;
    expect_error(hesse_model_load(path, &opt, &m, NULL), HESSE_EINPUT, path, "input shape", NULL);
    opt.c = 1, opt.h = 2, opt.w = 2;
    char *pre = (char *)"unchanged";
    CHECK(hesse_model_load(path, &opt, &m, &pre) == HESSE_OK && pre == NULL);
    CHECK(m && hesse_model_loss(m) == HESSE_LOSS_CROSS_ENTROPY);
    hesse_model_free(m);
    m = NULL;

    /* An architecture the model module refuses: the message still names the file. */
    opt.arch = "flatten,linear(5,3)";
    expect_error(hesse_model_load(path, &opt, &m, NULL), HESSE_EINPUT, path, NULL, NULL);
    CHECK(m == NULL);
}

static void test_dataset(void) {
    char path[600];
    tmp_path(path, sizeof path, "d.safetensors");
    /* Pixels [N=4, 1, 2, 3] and labels. */
    uint8_t px[4 * 6];
    for (int i = 0; i < 24; i++) px[i] = (uint8_t)(i * 11);
    int64_t y[4] = {2, 0, 1, 2};
    int64_t s_px[4] = {4, 1, 2, 3}, s_y[1] = {4};
    hesse_st_writer *w = NULL;
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_U8, 4, s_px, px);
    hesse_st_add(w, "y", HESSE_DTYPE_I64, 1, s_y, y);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    hesse_dataset *ds = NULL;
    REQUIRE(hesse_dataset_read_safetensors(path, &ds) == HESSE_OK);
    int c, h, wd;
    hesse_dataset_shape(ds, &c, &h, &wd);
    CHECK(hesse_dataset_size(ds) == 4 && c == 1 && h == 2 && wd == 3);
    CHECK(hesse_dataset_is_bytes(ds) && hesse_dataset_num_classes(ds) == 3);
    CHECK(hesse_dataset_label(ds, 0) == 2 && hesse_dataset_label(ds, 3) == 2);
    hesse_selection sel = hesse_selection_defaults();
    hesse_preprocess pre = hesse_preprocess_defaults();
    hesse_samples s = {0};
    REQUIRE(hesse_dataset_select(ds, &sel, &pre, &s) == HESSE_OK);
    /* Pixels are scaled by 1/255 by default; two roundings at most. */
    int close = s.n == 4;
    for (int i = 0; close && i < 24; i++) close = test_close(s.x[i], px[i] / 255.0, 1e-15, 1e-300);
    CHECK(close && s.y[1] == 0);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    ds = NULL;

    /* Float values [N=3, D=5]: c = D features, kept exactly; num_classes from metadata. */
    float xf[15];
    for (int i = 0; i < 15; i++) xf[i] = 0.1f * (float)i - 0.7f;
    int32_t y3[3] = {0, 4, 1};
    int64_t s_x[2] = {3, 5}, s_y3[1] = {3};
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    hesse_st_add(w, "y", HESSE_DTYPE_I32, 1, s_y3, y3);
    hesse_st_add_meta(w, "num_classes", "10");
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    REQUIRE(hesse_dataset_read_safetensors(path, &ds) == HESSE_OK);
    hesse_dataset_shape(ds, &c, &h, &wd);
    CHECK(c == 5 && h == 1 && wd == 1 && !hesse_dataset_is_bytes(ds));
    CHECK(hesse_dataset_num_classes(ds) == 10);
    REQUIRE(hesse_dataset_select(ds, &sel, &pre, &s) == HESSE_OK);
    int exact = 1;
    for (int i = 0; i < 15; i++) exact &= s.x[i] == (double)xf[i];
    CHECK(exact);
    hesse_samples_free(&s);
    hesse_dataset_free(ds);
    ds = NULL;

    /* num_classes below a label, negative labels, mismatched counts, missing tensors. */
    hesse_st_add_meta(w, "num_classes", "3");
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "num_classes", "4");
    hesse_st_writer_free(w);

    int32_t yneg[3] = {0, -1, 1};
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    hesse_st_add(w, "y", HESSE_DTYPE_I32, 1, s_y3, yneg);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "negative",
                 "sample 1");

    int64_t s_y2[1] = {2};
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    hesse_st_add(w, "y", HESSE_DTYPE_I32, 1, s_y2, y3);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "'y' has shape [2]",
                 "expected [3]");

    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "'y'", NULL);

    float yf[3] = {0, 1, 2};
    xf[7] = NAN;
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    hesse_st_add(w, "y", HESSE_DTYPE_F32, 1, s_y3, yf);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "'y'", "F32");
    hesse_st_add(w, "y", HESSE_DTYPE_I32, 1, s_y3, y3); /* refused: name taken */
    hesse_st_writer_free(w);
    REQUIRE(hesse_st_writer_create(&w) == HESSE_OK);
    hesse_st_add(w, "x", HESSE_DTYPE_F32, 2, s_x, xf);
    hesse_st_add(w, "y", HESSE_DTYPE_I32, 1, s_y3, y3);
    REQUIRE(hesse_st_write(w, path) == HESSE_OK);
    hesse_st_writer_free(w);
    expect_error(hesse_dataset_read_safetensors(path, &ds), HESSE_EINPUT, path, "sample 1",
                 "non-finite");
    CHECK(ds == NULL);
}

int main(void) {
    REQUIRE(mkdtemp(tmpdir) != NULL);
    test_model_roundtrip();
    test_model_errors();
    test_dataset();
    remove_dir(tmpdir);
    return test_summary("test_io_model");
}
