/* io/schema.c: the tables are consistent (no path twice, every nested row under a declared
 * object or array of objects), hesse_result_new writes the declared version, and
 * hesse_schema_check accepts a complete document and refuses a missing required key, a wrong
 * kind, an undeclared key (at the top, nested and inside array elements) and a bad "schema".
 *
 * With file arguments it is the checker tests/cli/schema.sh runs over documents the real
 * binary wrote: each file must pass; exit 1 naming the first problem of each that does not. */
#include <hesse/hesse.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_doc.h"

static int check_files(int count, char **paths) {
    int bad = 0;
    for (int i = 0; i < count; i++) {
        unsigned char *text = NULL;
        size_t len = 0;
        char why[512] = "";
        int rc = hesse_read_file(paths[i], &text, &len);
        cJSON *d = rc == HESSE_OK ? cJSON_ParseWithLength((const char *)text, len) : NULL;
        if (rc != HESSE_OK)
            snprintf(why, sizeof why, "%s", hesse_last_error());
        else if (!d)
            snprintf(why, sizeof why, "not JSON");
        else
            rc = hesse_schema_check(d, why, sizeof why);
        if (rc != HESSE_OK || !d) {
            fprintf(stderr, "%s: %s\n", paths[i], why);
            bad++;
        }
        cJSON_Delete(d);
        free(text);
    }
    return bad ? 1 : 0;
}

/* Every path once per schema; "a.b" under an object "a", "a[].b" under an array "a". */
static void test_tables(void) {
    int n = 0;
    const hesse_schema *all = hesse_schema_all(&n);
    CHECK(n >= 12);
    for (int i = 0; i < n; i++) {
        const hesse_schema *s = &all[i];
        CHECK(hesse_schema_find(s->command) == s && s->version >= 1);
        for (int p = 0; p < s->nparts; p++)
            for (const hesse_key *k = s->parts[p].keys; k->path; k++) {
                CHECK_MSG(hesse_schema_key(s, k->path, NULL) == k, "%s: %s declared twice",
                          s->command, k->path);
                CHECK_MSG(k->label && k->label[0] && k->unit, "%s: %s has no label", s->command,
                          k->path);
                char parent[256];
                snprintf(parent, sizeof parent, "%s", k->path);
                char *dot = strrchr(parent, '.');
                if (!dot) continue;
                *dot = '\0';
                size_t len = strlen(parent);
                int elements = len > 2 && strcmp(parent + len - 2, "[]") == 0;
                if (elements) parent[len - 2] = '\0';
                const hesse_key *up = hesse_schema_key(s, parent, NULL);
                CHECK_MSG(up && up->kind == (elements ? HESSE_KEY_ARRAY : HESSE_KEY_OBJECT),
                          "%s: %s has no parent %s of the right kind", s->command, k->path, parent);
            }
    }
    CHECK(hesse_schema_find("nonesuch") == NULL && hesse_schema_find(NULL) == NULL);
    /* the rows the commands share, without a schema */
    int req = -1;
    const hesse_key *arch = hesse_schema_key(NULL, "model.arch", &req);
    CHECK(arch && strcmp(arch->label, "architecture") == 0 && req == 1);
    /* an optional part makes its top-level keys optional, not the keys below them */
    const hesse_schema *pl = hesse_schema_find("powerlaw");
    CHECK(hesse_schema_key(pl, "model", &req) && req == 0);
    CHECK(hesse_schema_key(pl, "model.arch", &req) && req == 1);
    CHECK(hesse_schema_key(pl, "fit", &req) && req == 1);
    CHECK(strcmp(hesse_key_kind_name(HESSE_KEY_INT), "int") == 0);
}

/* The envelope hesse_result_new writes passes as the start of a document of its command. */
static void test_envelope(void) {
    char *argv[] = {"bench", "-o", "b.json"};
    cJSON *d = hesse_result_new("bench", 3, argv);
    REQUIRE(d != NULL);
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(d, "schema");
    char want[64];
    snprintf(want, sizeof want, "hesse.bench/%d", hesse_schema_find("bench")->version);
    CHECK(cJSON_IsString(sc) && strcmp(sc->valuestring, want) == 0);
    char why[256];
    /* bench's own keys are still missing */
    CHECK(hesse_schema_check(d, why, sizeof why) == HESSE_EINPUT);
    CHECK_MSG(strstr(why, "$.precision") != NULL, "%s", why);
    cJSON_AddStringToObject(d, "precision", "f64");
    cJSON_AddNumberToObject(d, "repeat", 5);
    cJSON_AddStringToObject(d, "hvp_flops_formula", "4 * forward");
    cJSON_AddArrayToObject(d, "cases");
    CHECK_MSG(hesse_schema_check(d, why, sizeof why) == HESSE_OK, "%s", why);
    cJSON_Delete(d);
}

#define BLAS                                                                                       \
    "'blas':{'library':'OpenBLAS','core':'Haswell','core_source':'openblas','threads':2,"          \
    "'cpu_model':'x','cpu_features':'avx2','cpus':2}"

/* A train document written by hand after docs/results.md. */
static const char train_text[] =
    "{'schema':'hesse.train/1','hesse_version':'0.1.0','command_line':['train'],"
    "'created':'2026-01-02T03:04:05Z'," BLAS ","
    "'model':{'path':'m.safetensors','arch':'flatten,linear(784,10)','loss':'cross_entropy',"
    "'sha256':'ab','input_shape':[1,28,28]},'n_params':7850,"
    "'data':{'dataset':'fashion-mnist/train','select':'first','samples':200,'seed':0,"
    "'description':'fashion-mnist/train, first 200','preprocess':{'scale':0.00392156862745098}},"
    "'history':[{'epoch':1,'lr':0.1,'train_loss':2.1,'train_accuracy':0.3,'test_loss':null,"
    "'test_accuracy':0.31,'seconds':0.5},"
    "{'epoch':2,'lr':0.1,'train_loss':1.9,'train_accuracy':0.4,'seconds':0.5}]}";

/* Checks a mutation of the train document: HESSE_OK expected, or a refusal whose message holds
 * `needle`. */
static void expect(cJSON *d, const char *needle, const char *what) {
    char why[512] = "";
    int rc = hesse_schema_check(d, why, sizeof why);
    if (!needle) {
        CHECK_MSG(rc == HESSE_OK, "%s: refused: %s", what, why);
        return;
    }
    CHECK_MSG(rc == HESSE_EINPUT && strstr(why, needle) != NULL, "%s: rc %d, '%s'", what, rc, why);
    CHECK(rc != HESSE_OK && strstr(hesse_last_error(), needle) != NULL);
}

static cJSON *train(void) {
    cJSON *d = doc(train_text);
    REQUIRE(d != NULL);
    return d;
}

static cJSON *item(cJSON *obj, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static void test_check(void) {
    cJSON *d = train();
    expect(d, NULL, "the complete document (null for a number, optional keys left out)");
    cJSON_Delete(d);

    /* a missing required key, at the top, nested and in an element */
    d = train();
    cJSON_DeleteItemFromObject(d, "n_params");
    expect(d, "$.n_params: required", "n_params removed");
    cJSON_Delete(d);
    d = train();
    cJSON_DeleteItemFromObject(item(d, "blas"), "core");
    expect(d, "$.blas.core: required", "blas.core removed");
    cJSON_Delete(d);
    d = train();
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(item(d, "history"), 1), "epoch");
    expect(d, "$.history[1].epoch: required", "history[1].epoch removed");
    cJSON_Delete(d);
    d = train();
    cJSON_DeleteItemFromObject(item(d, "model"), "path"); /* optional */
    expect(d, NULL, "model.path removed");
    cJSON_Delete(d);

    /* a wrong kind */
    d = train();
    cJSON_ReplaceItemInObject(d, "n_params", cJSON_CreateString("7850"));
    expect(d, "$.n_params: expected int, found string", "n_params a string");
    cJSON_Delete(d);
    d = train();
    cJSON_ReplaceItemInObject(d, "n_params", cJSON_CreateNumber(7850.5));
    expect(d, "$.n_params: expected int, found number with a fraction", "n_params 7850.5");
    cJSON_Delete(d);
    d = train();
    cJSON_ReplaceItemInObject(d, "n_params", cJSON_CreateNull());
    expect(d, "$.n_params: expected int, found null", "n_params null");
    cJSON_Delete(d);
    d = train();
    cJSON_ReplaceItemInObject(item(d, "data"), "preprocess", cJSON_CreateArray());
    expect(d, "$.data.preprocess: expected object, found array", "preprocess an array");
    cJSON_Delete(d);
    d = train();
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(item(d, "history"), 0), "lr", cJSON_CreateTrue());
    expect(d, "$.history[0].lr: expected number, found bool", "lr a bool");
    cJSON_Delete(d);
    d = train();
    cJSON_AddItemToArray(item(d, "history"), cJSON_CreateNumber(3));
    expect(d, "$.history[2]: expected object, found number", "history element a number");
    cJSON_Delete(d);

    /* an undeclared key, at the top, nested and in an element */
    d = train();
    cJSON_AddNumberToObject(d, "grad_norm", 1); /* eval's key, not train's */
    expect(d, "$.grad_norm: not in schema hesse.train/1", "grad_norm added");
    cJSON_Delete(d);
    d = train();
    cJSON_AddNumberToObject(item(d, "model"), "archh", 1);
    expect(d, "$.model.archh: not in schema", "model.archh added");
    cJSON_Delete(d);
    d = train();
    cJSON_AddNumberToObject(cJSON_GetArrayItem(item(d, "history"), 1), "test_los", 1);
    expect(d, "$.history[1].test_los: not in schema", "history[1].test_los added");
    cJSON_Delete(d);

    /* the schema itself */
    static const char *const bad[][2] = {
        {"hesse.train/2", "version 2 of hesse.train, expected 1"},
        {"hesse.nonesuch/1", "no schema for command 'nonesuch'"},
        {"hesse.train/1x", "expected \"hesse.<command>/<version>\""},
        {"other.train/1", "expected \"hesse.<command>/<version>\""},
    };
    for (int i = 0; i < 4; i++) {
        d = train();
        cJSON_ReplaceItemInObject(d, "schema", cJSON_CreateString(bad[i][0]));
        expect(d, bad[i][1], bad[i][0]);
        cJSON_Delete(d);
    }
    d = train();
    cJSON_DeleteItemFromObject(d, "schema");
    expect(d, "$.schema: expected a string", "no schema");
    cJSON_Delete(d);
    d = doc("[1]");
    expect(d, "$: expected a JSON object", "an array");
    cJSON_Delete(d);
    CHECK(hesse_schema_check(NULL, NULL, 0) == HESSE_EINVAL);

    /* nested arrays of objects (kronecker's cross-model overlaps) and an optional part
     * (powerlaw without a model) */
    const hesse_schema *k = hesse_schema_find("kronecker");
    int req = 0;
    CHECK(hesse_schema_key(k, "cross_model_overlap[].pairs[].overlap", &req) && req == 1);
    d = doc("{'schema':'hesse.powerlaw/1','hesse_version':'0.1.0','command_line':[],"
            "'created':''," BLAS ",'K':3,'K_requested':3,'eigenvalues':[3,2,1],"
            "'fit':{'s_ls':1,'intercept_ls':1,'r2_ls':1,'beta':2,'beta_stderr':0.1,'s_mle':1,"
            "'d_ks':0.1,'d_c':0.7,'accepted':true,'lambda_min':1,'lambda_max':3,'dropped':0},"
            "'source':'e.txt'}");
    REQUIRE(d != NULL);
    expect(d, NULL, "powerlaw from a file");
    cJSON_AddObjectToObject(d, "model");
    expect(d, "$.model.arch: required", "powerlaw with an empty model");
    cJSON_Delete(d);
}

int main(int argc, char **argv) {
    if (argc > 1) return check_files(argc - 1, argv + 1);
    test_tables();
    test_envelope();
    test_check();
    return test_summary("test_schema");
}
