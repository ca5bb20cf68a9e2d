/* hesse info: what this build runs on, or (--model) what a model file holds. */
#include "cli/cli.h"

#include <hesse/dist.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void shape_text(const hesse_tensor_info *t, char *buf, size_t cap) {
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && at < cap; d++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* Every parameter and buffer of m into "tensors" of doc: name, kind, shape. */
static void describe_tensors(const hesse_model *m, cJSON *doc) {
    cJSON *ts = cJSON_AddArrayToObject(doc, "tensors");
    for (int pass = 0; pass < 2; pass++) {
        int count = pass ? hesse_model_num_buffers(m) : hesse_model_num_tensors(m);
        for (int i = 0; i < count; i++) {
            const hesse_tensor_info *t = pass ? hesse_model_buffer(m, i) : hesse_model_tensor(m, i);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", t->name);
            cJSON_AddStringToObject(o, "kind", pass ? "buffer" : "parameter");
            int shape[4];
            for (int d = 0; d < t->ndim; d++) shape[d] = (int)t->shape[d];
            cJSON_AddItemToObject(o, "shape", cJSON_CreateIntArray(shape, t->ndim));
            cJSON_AddItemToArray(ts, o);
        }
    }
}

static void print_model(const hesse_model *m, const char *path) {
    int c, h, w;
    hesse_model_input_shape(m, &c, &h, &w);
    printf("model:      %s\narch:       %s\ninput:      %dx%dx%d\nparameters: %lld\n", path,
           hesse_model_arch(m), c, h, w, (long long)hesse_model_num_params(m));
    char shape[96];
    for (int i = 0; i < hesse_model_num_tensors(m); i++) {
        const hesse_tensor_info *t = hesse_model_tensor(m, i);
        shape_text(t, shape, sizeof shape);
        printf("  parameter %-40s %s\n", t->name, shape);
    }
    for (int i = 0; i < hesse_model_num_buffers(m); i++) {
        const hesse_tensor_info *t = hesse_model_buffer(m, i);
        shape_text(t, shape, sizeof shape);
        printf("  buffer    %-40s %s\n", t->name, shape);
    }
}

/* The model's parameters and buffers, as text or as JSON. */
static int model_info(const cli_model_opts *mo, const char *input, int json, const char *out,
                      int argc, char **argv) {
    hesse_model *m = NULL;
    hesse_load_options lo = hesse_load_defaults();
    lo.arch = mo->arch;
    if (input && sscanf(input, "%d,%d,%d", &lo.c, &lo.h, &lo.w) != 3)
        return hesse_error(HESSE_EINVAL, "option --input-shape: expected C,H,W, got '%s'", input);
    int rc = hesse_model_load(mo->model, &lo, &m, NULL);
    if (rc == HESSE_OK && (json || out)) {
        cJSON *doc = hesse_result_new("info", argc, argv);
        cli_describe_model(doc, m, mo->model);
        describe_tensors(m, doc);
        rc = cli_emit(doc, out);
        cJSON_Delete(doc);
    } else if (rc == HESSE_OK) {
        print_model(m, mo->model);
    }
    hesse_model_free(m);
    return rc;
}

/* The build as JSON: memory and the distributed backend. */
static int system_json(const char *out, int argc, char **argv) {
    cJSON *doc_json = hesse_result_new("info", argc, argv);
    cJSON_AddNumberToObject(doc_json, "memory_available_bytes", (double)hesse_mem_available());
    cJSON *dist = cJSON_AddObjectToObject(doc_json, "distributed");
    cJSON_AddStringToObject(dist, "backend", hesse_dist_backend());
    cJSON_AddStringToObject(dist, "library", hesse_dist_library());
    cJSON_AddNumberToObject(dist, "ranks", hesse_dist_size());
    int rc = cli_emit(doc_json, out);
    cJSON_Delete(doc_json);
    return rc;
}

/* The build as text: CPU, BLAS library, core and threads, memory, distributed backend. */
static void print_system(void) {
    hesse_blas_info b;
    hesse_blas_get_info(&b);
    printf("hesse %s\n", hesse_version());
    printf("cpu:          %s (%d online)\n", b.cpu_model[0] ? b.cpu_model : "unknown", b.cpus);
    printf("cpu features: %s\n", b.cpu_features[0] ? b.cpu_features : "(none of interest)");
    printf("blas:         %s\n", b.library);
    printf("blas core:    %s (", b.core);
    if (b.core_source[0] == 'u')
        printf("OPENBLAS_CORETYPE=%s set by the user", b.core_env);
    else if (b.core_source[0] == 'h')
        printf("OPENBLAS_CORETYPE=%s chosen by hesse", b.core_env);
    else
        printf("detected by OpenBLAS");
    printf(")\nblas threads: %d\n", b.threads);
    printf("memory:       %.1f GiB available\n", (double)hesse_mem_available() / 1073741824.0);
    printf("distributed:  %s, %d rank%s (%s%s)\n", hesse_dist_backend(), hesse_dist_size(),
           hesse_dist_size() == 1 ? "" : "s",
           hesse_dist_library()[0] ? "built with " : "built without MPI", hesse_dist_library());
}

/* A dataset split: its name, size, sample shape, classes and per-class counts (text: the
 * count of each target byte), as text or JSON ("dataset"). */
static int data_info(const cli_data_opts *o, int json, const char *out, int argc, char **argv) {
    cli_data dd;
    int rc = cli_data_open(o, &dd);
    if (rc != HESSE_OK) return rc;
    const hesse_dataset *ds = dd.dataset;
    const int C = hesse_dataset_num_classes(ds), P = hesse_dataset_targets(ds);
    const int64_t n = hesse_dataset_size(ds);
    int64_t *counts = calloc((size_t)C, sizeof *counts);
    if (!counts) {
        cli_data_free(&dd);
        return hesse_error(HESSE_ENOMEM, "cannot allocate %d class counts", C);
    }
    for (int64_t i = 0; i < n * P; i++) counts[hesse_dataset_label(ds, i)]++;
    int shape[3];
    hesse_dataset_shape(ds, &shape[0], &shape[1], &shape[2]);
    const char *storage = hesse_dataset_is_bytes(ds) ? "uint8" : "float64";
    if (json || out) {
        cJSON *doc = hesse_result_new("info", argc, argv), *d = cJSON_CreateObject();
        cJSON_AddItemToObject(doc, "dataset", d);
        cJSON_AddStringToObject(d, "name", hesse_dataset_name(ds));
        cJSON_AddNumberToObject(d, "samples", (double)n);
        cJSON_AddItemToObject(d, "shape", cJSON_CreateIntArray(shape, 3));
        cJSON_AddNumberToObject(d, "classes", C);
        cJSON_AddStringToObject(d, "storage", storage);
        cJSON *cc = cJSON_AddArrayToObject(d, "class_counts");
        for (int k = 0; k < C; k++) cJSON_AddItemToArray(cc, cJSON_CreateNumber((double)counts[k]));
        if (P > 1) cJSON_AddNumberToObject(d, "targets", P);
        rc = cli_emit(doc, out);
        cJSON_Delete(doc);
    } else {
        printf("dataset:  %s\nsamples:  %lld\nshape:    %dx%dx%d (%s)\nclasses:  %d\n",
               hesse_dataset_name(ds), (long long)n, shape[0], shape[1], shape[2], storage, C);
        if (P > 1) printf("targets:  %d a sample (class counts over targets)\n", P);
        for (int k = 0; k < C && k < 100; k++)
            printf("  class %-4d %lld\n", k, (long long)counts[k]);
    }
    free(counts);
    cli_data_free(&dd);
    return rc;
}

/* The option values of hesse info. */
typedef struct {
    const char *out, *input;
    cli_data_opts d; /* data, split, context */
    int json;
    cli_model_opts mo;
} info_args;

static int parse_info(info_args *a, int argc, char **argv) {
    cli_opt opts[] = {
        {"json", 0, OPT_FLAG, &a->json, NULL, "print JSON instead of text", CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &a->out, "FILE", "write the JSON to FILE", CLI_NO_RANGE, 0},
        {"model", 'm', OPT_STRING, &a->mo.model, "FILE",
         "list a model's parameters and buffers instead", CLI_NO_RANGE, 0},
        {"arch", 0, OPT_STRING, &a->mo.arch, "A", "architecture of a PyTorch state_dict (--model)",
         CLI_NO_RANGE, 0},
        {"input-shape", 0, OPT_STRING, &a->input, "C,H,W",
         "input shape of a PyTorch state_dict (--model)", CLI_NO_RANGE, 0},
        {"data", 0, OPT_STRING, &a->d.data, "D",
         "describe a dataset split instead (any --data of the other commands)", CLI_NO_RANGE, 0},
        {"split", 0, OPT_STRING, &a->d.split, "S", "with --data: train (default) or test",
         CLI_NO_RANGE, 0},
        {"context", 0, OPT_INT, &a->d.context, "T", "with --data text:FILE: bytes per window", 1,
         HESSE_TEXT_CONTEXT_MAX, 0},
    };
    cli_command_doc doc = {"info", "version, BLAS library and core, threads, CPU features",
                           "[--json] [-o FILE] [--model M [--arch A --input-shape C,H,W] | "
                           "--data D [--split S] [--context T]]",
                           "The BLAS core is chosen from the CPU's features before OpenBLAS loads "
                           "(AVX-512F: SkylakeX, AVX2+FMA: Haswell); a value of OPENBLAS_CORETYPE "
                           "set by the user is kept. With --model: the model's architecture, its "
                           "parameter tensors and its buffers (batch norm's running statistics, "
                           "which are loaded and saved but are not parameters). With --data: the "
                           "split's name, size, sample shape, storage, classes and samples per "
                           "class."};
    return cli_parse(&doc, argc, argv, opts, (int)(sizeof opts / sizeof opts[0]));
}

int cmd_info(int argc, char **argv) {
    info_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_info(&a, argc, argv);
    if (rc == 1) return 0;
    if (rc == HESSE_OK) rc = cli_check_output(a.out, "option --output");
    if (rc == HESSE_OK && a.d.data && a.mo.model)
        rc = hesse_error(HESSE_EINVAL, "options --data and --model: describe one or the other");
    else if (rc == HESSE_OK && a.d.data)
        rc = data_info(&a.d, a.json, a.out, argc, argv);
    else if (rc == HESSE_OK && a.mo.model)
        rc = model_info(&a.mo, a.input, a.json, a.out, argc, argv);
    else if (rc == HESSE_OK && (a.json || a.out))
        rc = system_json(a.out, argc, argv);
    else if (rc == HESSE_OK)
        print_system();
    return rc == HESSE_OK ? 0 : cli_fail("info", rc);
}
