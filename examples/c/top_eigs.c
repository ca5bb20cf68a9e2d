/* The five largest Hessian eigenvalues of a trained model, with their residuals: a first
 * program against the hesse library. Build: cc top_eigs.c $(pkg-config --cflags --libs hesse)
 * or see CMakeLists.txt. Usage: top_eigs MODEL.safetensors [DATASET [SAMPLES]], where DATASET
 * is fashion-mnist (default), an IDX or CIFAR directory, or a .safetensors file. */
#include <hesse/hesse.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.safetensors [DATASET [SAMPLES]]\n", argv[0]);
        return 2;
    }
    hesse_dataset *ds = NULL;
    hesse_model *m = NULL;
    hesse_engine *e = NULL;
    hesse_samples s = {0};
    hesse_op H = {0};
    hesse_eigs r = {0};
    char *pre = NULL; /* the preprocessing the model was trained with (JSON) */
    hesse_selection sel = hesse_selection_defaults();
    hesse_preprocess pp = hesse_preprocess_defaults();
    sel.n = argc > 3 ? atoll(argv[3]) : 1000; /* the first 1000 samples */
    int rc;
    HESSE_CHECK(hesse_dataset_open(argc > 2 ? argv[2] : "fashion-mnist", HESSE_SPLIT_TRAIN, &ds));
    HESSE_CHECK(hesse_model_load(argv[1], NULL, &m, &pre));
    if (pre) HESSE_CHECK(hesse_preprocess_from_json(pre, &pp));
    HESSE_CHECK(hesse_dataset_select(ds, &sel, &pp, &s));
    hesse_engine_params ep = hesse_engine_defaults();
    ep.max_block = 8; /* vectors per pass over the data */
    HESSE_CHECK(hesse_engine_create(m, &ep, &e));
    HESSE_CHECK(hesse_op_curvature(e, &s, HESSE_CURV_HESSIAN, &H));
    hesse_lanczos_params p = hesse_lanczos_defaults(); /* tolerance 1e-8 relative to ||H|| */
    p.top = 5;
    HESSE_CHECK(hesse_lanczos_eigs(&H, &p, &r));
    for (int i = 0; i < r.ntop; i++)
        printf("lambda_%d = %.17g  residual %.3e\n", i + 1, r.values[i], r.residuals[i]);
    printf("products: %lld\n", (long long)r.products);
cleanup:
    if (rc != HESSE_OK) fprintf(stderr, "top_eigs: %s\n", hesse_last_error());
    hesse_eigs_free(&r);
    hesse_op_free(&H);
    hesse_engine_free(e);
    hesse_samples_free(&s);
    hesse_free(pre);
    hesse_model_free(m);
    hesse_dataset_free(ds);
    return rc == HESSE_OK ? 0 : 1;
}
