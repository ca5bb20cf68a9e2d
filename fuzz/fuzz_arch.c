/* Architecture strings (nn/arch.c): tokens, arguments, keywords, pairs, layer names, and the
 * shapes they resolve to on an input. A string that resolves must give a canonical form
 * that resolves again to itself and to the same parameter layout.
 *
 * Input: three bytes choosing the input shape (channels 1-4, height and width 1-64), one
 * byte the loss, then the string (up to 4096 bytes; a NUL ends it early). */
#include "fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4 || size > 4100) return 0;
    int c = 1 + data[0] % 4, h = 1 + data[1] % 64, w = 1 + data[2] % 64;
    hesse_loss_kind loss = (data[3] & 1) ? HESSE_LOSS_MSE : HESSE_LOSS_CROSS_ENTROPY;
    char *arch = malloc(size - 4 + 1);
    FUZZ_ASSERT(arch);
    memcpy(arch, data + 4, size - 4);
    arch[size - 4] = '\0';
    hesse_clear_error();
    int64_t params = fuzz_arch_params(arch, c, h, w);
    if (params < 0) FUZZ_CHECK_FAILURE(HESSE_EINPUT);
    if (params < 0 || params > FUZZ_MAX_PARAMS) {
        free(arch);
        return 0;
    }
    hesse_model *m = NULL;
    int rc = hesse_model_create(arch, c, h, w, loss, &m);
    if (rc != HESSE_OK) {
        FUZZ_CHECK_FAILURE(rc);
        FUZZ_ASSERT(m == NULL && params == 0); /* it resolved: only "no parameters" is left */
        free(arch);
        return 0;
    }
    FUZZ_ASSERT(hesse_model_num_params(m) == params);
    /* The canonical string is a fixed point with the same layout. */
    const char *canon = hesse_model_arch(m);
    hesse_model *again = NULL;
    rc = hesse_model_create(canon, c, h, w, loss, &again);
    if (rc != HESSE_OK) fprintf(stderr, "canonical '%s': %s\n", canon, hesse_last_error());
    FUZZ_ASSERT(rc == HESSE_OK);
    FUZZ_ASSERT(strcmp(hesse_model_arch(again), canon) == 0);
    FUZZ_ASSERT(hesse_model_num_params(again) == hesse_model_num_params(m));
    FUZZ_ASSERT(hesse_model_num_tensors(again) == hesse_model_num_tensors(m));
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *a = hesse_model_tensor(m, i), *b = hesse_model_tensor(again, i);
        FUZZ_ASSERT(strcmp(a->name, b->name) == 0 && a->count == b->count && a->ndim == b->ndim);
        FUZZ_ASSERT(hesse_model_find_tensor(m, a->name) == a);
    }
    hesse_model_free(again);
    hesse_model_free(m);
    free(arch);
    return 0;
}
