/* hesse info: what this build runs on. */
#include "cli/cli.h"

#include <hesse/dist.h>

#include <stdio.h>

int cmd_info(int argc, char **argv) {
    const char *out = NULL;
    int json = 0;
    cli_opt opts[] = {
        {"json", 0, OPT_FLAG, &json, NULL, "print JSON instead of text", CLI_NO_RANGE, 0},
        {"output", 'o', OPT_STRING, &out, "FILE", "write the JSON to FILE", CLI_NO_RANGE, 0},
    };
    cli_command_doc doc = {"info", "version, BLAS library and core, threads, CPU features",
                           "[--json] [-o FILE]",
                           "The BLAS core is chosen from the CPU's features before OpenBLAS loads "
                           "(AVX-512F: SkylakeX, AVX2+FMA: Haswell); a value of OPENBLAS_CORETYPE "
                           "set by the user is kept."};
    int rc = cli_parse(&doc, argc, argv, opts, 2);
    if (rc == 1) return 0;
    if (rc != HESSE_OK) return cli_fail("info", rc);
    hesse_blas_info b;
    hesse_blas_get_info(&b);
    if (json || out) {
        cJSON *doc_json = hesse_result_new("info", argc, argv);
        cJSON_AddNumberToObject(doc_json, "memory_available_bytes", (double)hesse_mem_available());
        cJSON *dist = cJSON_AddObjectToObject(doc_json, "distributed");
        cJSON_AddStringToObject(dist, "backend", hesse_dist_backend());
        cJSON_AddStringToObject(dist, "library", hesse_dist_library());
        cJSON_AddNumberToObject(dist, "ranks", hesse_dist_size());
        rc = cli_emit(doc_json, out);
        cJSON_Delete(doc_json);
        return rc == HESSE_OK ? 0 : cli_fail("info", rc);
    }
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
    return 0;
}
