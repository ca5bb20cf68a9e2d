/* Layer-block operators: the restriction of a network's curvature operator to the parameters
 * of some of its tensors (hesse spectrum --layer). */
#include <hesse/curv.h>

enum { MAX_RANGES = 64 };

int hesse_op_layer_block(const hesse_model *m, const hesse_op *full, const char *spec, int *tensors,
                         int *ntensors, hesse_op *block) {
    if (!m || !full || !spec || !tensors || !ntensors || !block)
        return hesse_error(HESSE_EINVAL, "hesse_op_layer_block: NULL argument");
    int cap = hesse_model_num_tensors(m);
    int rc = hesse_select_tensors(m, spec, tensors, cap, ntensors);
    if (rc != HESSE_OK) return rc;
    int64_t off[MAX_RANGES], len[MAX_RANGES];
    int nr = 0;
    for (int i = 0; i < *ntensors; i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, tensors[i]);
        if (nr > 0 && off[nr - 1] + len[nr - 1] == t->offset) { /* merge neighbours */
            len[nr - 1] += t->count;
            continue;
        }
        if (nr == MAX_RANGES)
            return hesse_error(HESSE_EINVAL,
                               "layer block %s: more than %d separate ranges of parameters", spec,
                               MAX_RANGES);
        off[nr] = t->offset;
        len[nr++] = t->count;
    }
    return hesse_op_restrict(full, nr, off, len, block);
}
