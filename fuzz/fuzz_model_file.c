/* Model files (io/model_file.c): safetensors plus the hesse.* metadata (format, arch, input
 * shape, loss) and the tensors an architecture needs. The first byte chooses how the file is
 * loaded: from its own metadata, or with an architecture and input shape given (as --arch
 * does for a PyTorch state_dict), and with which loss. */
#include "fuzz.h"

#include <math.h>
#include <string.h>

/* Whether the architecture the load would build has more than FUZZ_MAX_PARAMS parameters
 * (fuzz.h: a legitimate request that only measures the machine's memory). */
static int too_large(const uint8_t *data, size_t size, const hesse_load_options *opt) {
    hesse_st_file *f = NULL;
    if (hesse_st_open_memory(data, size, "screen", &f) != HESSE_OK) return 0;
    const char *arch = opt->arch ? opt->arch : hesse_st_meta(f, "hesse.arch");
    const char *shape = hesse_st_meta(f, "hesse.input_shape");
    int c = opt->c, h = opt->h, w = opt->w, large = 0;
    if (!c && shape) {
        long v[3] = {0, 0, 0};
        const char *p = shape;
        for (int i = 0; i < 3; i++) {
            char *end;
            v[i] = strtol(p, &end, 10);
            if (end == p || v[i] < 1 || v[i] > 1000000 || (i < 2 && *end != ',')) v[0] = 0;
            p = *end ? end + 1 : end;
        }
        c = (int)v[0];
        h = (int)v[1];
        w = (int)v[2];
    }
    if (arch && c > 0 && h > 0 && w > 0) large = fuzz_arch_params(arch, c, h, w) > FUZZ_MAX_PARAMS;
    hesse_st_close(f);
    return large;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    uint8_t mode = data[0];
    const char *path = fuzz_write_file("model.safetensors", data + 1, size - 1);
    hesse_load_options opt = hesse_load_defaults();
    if (mode & 1) {
        opt.arch = (mode & 2) ? "flatten,linear(4,3),relu,linear(3,2)"
                              : "conv2d(1,2,2,padding=1),relu,maxpool2d(2),flatten,linear(2,2)";
        opt.c = 1;
        opt.h = 2;
        opt.w = 2;
    } else if (mode & 2) {
        opt.c = 1 + (mode >> 4 & 3);
        opt.h = 1 + (mode >> 2 & 3);
        opt.w = opt.h;
    }
    if (mode & 64) opt.loss = (mode & 128) ? HESSE_LOSS_MSE : HESSE_LOSS_CROSS_ENTROPY;
    if (too_large(data + 1, size - 1, &opt)) return 0;
    hesse_model *m = NULL;
    char *pre = NULL;
    hesse_clear_error();
    int rc = hesse_model_load(path, &opt, &m, &pre);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(m == NULL && pre == NULL);
        return 0;
    }
    /* A loaded model is whole: finite parameters, consistent tensor views. */
    int64_t n = hesse_model_num_params(m), total = 0;
    const double *p = hesse_model_params_const(m);
    for (int64_t i = 0; i < n; i++) FUZZ_ASSERT(isfinite(p[i]));
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, i);
        FUZZ_ASSERT(t->offset == total);
        total += t->count;
    }
    FUZZ_ASSERT(total == n);
    free(pre);
    hesse_model_free(m);
    return 0;
}
