/* io/report.c: documents of every schema render to one page with their sections, plots and
 * escaped strings; nothing executable or external is written; missing keys are listed, not
 * fatal; unknown schemas fall back to a table of values; bad documents fail naming the file.
 *
 * The documents are written here by hand after docs/results.md (with ' for " to keep them
 * readable), so the test also pins the layouts the report reads. */
#include <hesse/io.h>

#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "json_doc.h"

static int count(const char *s, const char *needle) {
    int c = 0;
    size_t n = strlen(needle);
    for (const char *p = strstr(s, needle); p; p = strstr(p + n, needle)) c++;
    return c;
}

static int count_nocase(const char *s, const char *needle) {
    int c = 0;
    size_t n = strlen(needle);
    for (const char *p = s; *p; p++)
        if (strncasecmp(p, needle, n) == 0) c++;
    return c;
}

/* The text of section i (1-based), malloc'd; NULL when absent. */
static char *section(const char *html, int i) {
    char id[32];
    snprintf(id, sizeof id, "<section id=\"s%d-", i);
    const char *a = strstr(html, id);
    if (!a) return NULL;
    const char *b = strstr(a, "</section>");
    if (!b) return NULL;
    return strndup(a, (size_t)(b - a));
}

#define ENV(cmd)                                                                                   \
    "'schema':'hesse." cmd "/1','hesse_version':'0.1.0','created':'2026-01-02T03:04:05Z',"         \
    "'command_line':['" cmd "','--model','m.safetensors'],"                                        \
    "'model':{'path':'m.safetensors','arch':'linear(4,3)','loss':'cross_entropy'},"                \
    "'n_params':15,'data':{'description':'fashion-mnist/train, first 9'},'operator':'hessian'"

static const char *const texts[] = {
    /* 1 eval: a <script> in the command line and the architecture must come out as text */
    "{'schema':'hesse.eval/1','hesse_version':'0.1.0','created':'2026-01-02T03:04:05Z',"
    "'command_line':['eval','--arch','<script>alert(1)</script>'],"
    "'model':{'arch':'<script>x</script>','path':'a&b.safetensors'},'n_params':15,"
    "'samples':9,'loss':1.25,'accuracy':0.5,'correct':4,'grad_norm':0.125,'seconds':0.01}",
    /* 2 train */
    "{" ENV("train") ",'history':["
                     "{'epoch':1,'lr':0.1,'train_loss':2.3,'train_accuracy':0.1,'test_loss':2.2,"
                     "'test_accuracy':0.12,'seconds':0.5},"
                     "{'epoch':2,'lr':0.1,'train_loss':2.0,'train_accuracy':0.3,'test_loss':2.1,"
                     "'test_accuracy':0.25,'seconds':0.5}]}",
    /* 3 dense */
    "{" ENV("dense") ",'eigenvalues':[-0.5,-0.1,0,0.2,1.5,4],'trace':5.1,'frobenius':4.3,"
                     "'max':4,'min':-0.5,'negative_count':2,'negative_threshold':-1e-14,"
                     "'asymmetry':1e-16,'products':6,'seconds':0.001}",
    /* 4 spectrum: a null (non-finite) residual */
    "{" ENV("spectrum") ",'solver':{'method':'lanczos','tol':1e-8,'basis':20,'restarts':0},"
                        "'converged':3,'anorm':4,'residuals_explicit':true,'top':[4,1.5],"
                        "'bottom':[-0.5],'residuals_top':[1e-12,null],'residuals_bottom':[2e-12],"
                        "'products':30,'seconds':0.01}",
    /* 5 density with deflated outliers */
    "{" ENV("density") ",'solver':{'method':'slq','probes':2,'steps':5},'lo':-1,'hi':1,"
                       "'sigma':0.1,'eps':1e-8,'grid':[-1,-0.5,0,0.5,1],"
                       "'density':[0,0.5,1,0.5,0],'log10_density':[-8,-0.3,0,-0.3,-8],"
                       "'deflated':[4],'deflated_residuals':[1e-10],'products':10,'seconds':0.1}",
    /* 6 trace */
    "{" ENV("trace") ",'solver':{'method':'hutchpp','probes':9},'trace':5.0,'stderr':0.1,"
                     "'lowrank_rank':3,'lowrank_trace':4.5,'products':9,'seconds':0.01}",
    /* 7 bench */
    "{'schema':'hesse.bench/1','created':'2026-01-02T03:04:05Z','command_line':['bench'],"
    "'cases':[{'case':'mlp-small','arch':'flatten,linear(784,100)','n_params':78500,"
    "'batch':1000,'grad_ms':2.0,'hvp_ms':5.0,'grad_ms_runs':[2,2.1],'hvp_ms_runs':[5,5]}]}",
    /* 8 powerlaw */
    "{" ENV("powerlaw") ",'K':5,'K_requested':6,'eigenvalues':[10,5,3.3,2.5,2],"
                        "'fit':{'s_ls':1.0,'intercept_ls':2.3,'r2_ls':0.99,'beta':2,"
                        "'beta_stderr':0.4,'s_mle':1,'d_ks':0.2,'d_c':0.608,'accepted':true,"
                        "'lambda_min':2,'lambda_max':10,'dropped':1},'source':'lanczos'}",
    /* 9 classes */
    "{" ENV("classes") ",'classes':3,'class_weights':[0.3,0.3,0.4],"
                       "'means_eigenvalues':[3,2,1e-3],'class_eigenvalues':[2.9,1.9,0.1],"
                       "'cross_eigenvalues':[0.1,-0.05],"
                       "'spectra':{'hessian':{'top':[3.1,2.1,0.2,0.1]},'ggn':{'top':[3,2,0.2,0.1]},"
                       "'within':{'top':[0.2,0.15,0.1,0.05]},"
                       "'residual':{'top':[0.01],'bottom':[-0.02]}},"
                       "'trace':{'ggn':6,'ggn_stderr':0.1,'means':5,'within':1,"
                       "'within_stderr':0.05,'identity_gap':0.01,'identity_stderr':0.1},"
                       "'overlap':{'averaging_vs_hessian':0.9,'averaging_vs_ggn':0.95},"
                       "'outliers':{'count':2,'gap_ratio':10.5}}",
    /* 10 samples */
    "{" ENV("samples") ",'classes':2,'sizes':[10,100],'runs':["
                       "{'samples':10,'outliers':[5,3,1],'bulk_edge':0.8,'grid':[0,0.5,1],"
                       "'density':[1,0.5,0.1],'log10_density':[0,-0.3,-1],'products':5,"
                       "'seconds':0.1},"
                       "{'samples':100,'outliers':[4,2.5,0.7],'bulk_edge':0.5,'grid':[0,0.5,1],"
                       "'density':[1,0.4,0.05],'log10_density':[0,-0.4,-1.3]}]}",
    /* 11 kronecker: a layer name with markup */
    "{" ENV("kronecker") ",'classes':3,'k':3,'layers':[{'name':'0.weight<b>','kind':'linear',"
                         "'shape':[3,4],'M_eigenvalues':[2,1,0.1],'M_exact':false,"
                         "'xx_eigenvalues':[5,1,0.5,0.1],'kron_top':[10,5,2],"
                         "'exact_top':[9.5,5.2,1.9],'overlap':0.97,'rank_one':[0.99,0.98,0.9],"
                         "'outliers':2,'M_outliers':2,'x_mean_norm':2,'x_mean_ratio_fro':0.5,"
                         "'x_mean_ratio_2':0.75,'x_mean_overlap':0.875}],"
                         "'cross_model_overlap':[{'name':'0.weight<b>','pairs':["
                         "{'a':0,'b':1,'overlap':0.5},{'a':0,'b':2,'overlap':0.25}]}]}",
    /* 12 an unknown schema */
    ("{'schema':'other.tool/7','answer':42,'nested':{'deep':{'x':1.5}},'tags':['a','b'],"
     "'note':'<script>alert(2)</script>'}"),
};
#define NDOCS (int)(sizeof texts / sizeof texts[0])

static const char *const titles[NDOCS] = {"Evaluation",
                                          "Training",
                                          "Dense spectrum",
                                          "Extreme eigenvalues",
                                          "Spectral density",
                                          "Trace",
                                          "Benchmark",
                                          "Power-law fit",
                                          "Class-mean decomposition",
                                          "Sample-size dynamics",
                                          "Kronecker decoupling",
                                          "Result"};
/* plots each section must draw (docs/report.md) */
static const int plots[NDOCS] = {0, 2, 2, 1, 2, 0, 0, 1, 1, 2, 2, 0};

static void check_clean(const char *html) {
    CHECK(count_nocase(html, "<script") == 0);
    CHECK(count(html, "https://") == 0);
    int http = count(html, "http://"), xmlns = count(html, "xmlns=\"http://www.w3.org/2000/svg\"");
    CHECK_MSG(http == xmlns, "%d http:// references, %d of them SVG namespaces", http, xmlns);
    /* what opens closes (a cheap well-formedness check; the CLI test parses the page) */
    static const char *const tags[] = {"section", "table", "figure", "svg", "details", "tr", "p"};
    for (int i = 0; i < (int)(sizeof tags / sizeof tags[0]); i++) {
        char open[24], open2[24], close[24];
        snprintf(open, sizeof open, "<%s ", tags[i]);
        snprintf(open2, sizeof open2, "<%s>", tags[i]);
        snprintf(close, sizeof close, "</%s>", tags[i]);
        CHECK_MSG(count(html, open) + count(html, open2) == count(html, close), "<%s> unbalanced",
                  tags[i]);
    }
    /* every number names its JSON path and exact value */
    CHECK(count(html, "<td class=\"n\" title=\"$.") == count(html, "<td class=\"n\""));
    CHECK(count(html, "<dd class=\"n\" title=\"$.") == count(html, "<dd class=\"n\""));
    /* element ids are unique: each plot's clip path was renamed */
    CHECK(count(html, "id=\"plotarea\"") == 0);
    CHECK(count(html, "id=\"plotarea-") == count(html, "<svg"));
}

int main(void) {
    cJSON *docs[NDOCS];
    const char *names[NDOCS];
    char namebuf[NDOCS][32];
    for (int i = 0; i < NDOCS; i++) {
        docs[i] = doc(texts[i]);
        REQUIRE(docs[i] != NULL);
        snprintf(namebuf[i], sizeof namebuf[i], "results/doc%d.json", i + 1);
        names[i] = namebuf[i];
    }
    names[2] = "results/<dense>.json";
    char *html = NULL;
    REQUIRE(hesse_report_html((const cJSON *const *)docs, names, NDOCS, "T <&> \"q\"", &html) ==
            HESSE_OK);
    check_clean(html);
    CHECK(strstr(html, "<title>T &lt;&amp;&gt; &quot;q&quot;</title>") != NULL);
    CHECK(count(html, "<section id=") == NDOCS);
    CHECK(count(html, "<nav class=\"toc\">") == 1);
    /* strings come out escaped wherever they go */
    CHECK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL); /* command line */
    CHECK(strstr(html, "&lt;script&gt;x&lt;/script&gt;") != NULL);        /* arch */
    CHECK(strstr(html, "a&amp;b.safetensors") != NULL);
    CHECK(strstr(html, "results/&lt;dense&gt;.json") != NULL); /* file name */
    CHECK(strstr(html, "0.weight&lt;b&gt;") != NULL);
    CHECK(strstr(html, "&lt;script&gt;alert(2)&lt;/script&gt;") != NULL); /* unknown schema */
    int total = 0;
    for (int i = 0; i < NDOCS; i++) {
        char *sec = section(html, i + 1);
        CHECK_MSG(sec != NULL, "section %d", i + 1);
        if (!sec) continue;
        char h2[64];
        snprintf(h2, sizeof h2, "<h2>%d. %s", i + 1, titles[i]);
        CHECK_MSG(strstr(sec, h2) != NULL, "section %d has no heading '%s'", i + 1, h2);
        /* a link to it in the contents */
        char toc[64];
        snprintf(toc, sizeof toc, "<li><a href=\"#s%d-", i + 1);
        CHECK(strstr(html, toc) != NULL);
        CHECK_MSG(count(sec, "<svg") == plots[i], "section %d: %d plots, expected %d", i + 1,
                  count(sec, "<svg"), plots[i]);
        total += plots[i];
        /* every document is complete: nothing reported missing */
        CHECK_MSG(strstr(sec, "Not in this document") == NULL, "section %d: %s", i + 1,
                  strstr(sec, "Not in this document"));
        CHECK(strstr(sec, "created <time>2026-01-02T03:04:05Z</time>") != NULL || i >= 11);
        free(sec);
    }
    CHECK(count(html, "<svg") == total);
    /* provenance: schema, command line; numbers carry their path and exact value */
    CHECK(strstr(html, "schema <code>hesse.dense/1</code>") != NULL);
    CHECK(strstr(html, "<pre class=\"cmd\">hesse dense --model m.safetensors</pre>") != NULL);
    CHECK(strstr(html, "title=\"$.top[0] = 4\">4</td>") != NULL);
    CHECK(strstr(html, "title=\"$.residuals_top[1] = null (not finite)\">null</td>") != NULL);
    CHECK(strstr(html, "title=\"$.history[1].train_loss = 2\">2</td>") != NULL);
    CHECK(strstr(html, "title=\"$.fit.d_ks = 0.2\">0.2</td>") != NULL);
    CHECK(strstr(html, "title=\"$.layers[0].rank_one[2] = 0.9\">0.9</td>") != NULL);
    /* kronecker: E[x]'s dominance beside the mean cross-model overlap, (0.5 + 0.25) / 2 */
    CHECK(strstr(html, "title=\"$.layers[0].x_mean_ratio_2 = 0.75\">0.75</td>") != NULL);
    CHECK(strstr(html, "mean of $.cross_model_overlap[0].pairs[].overlap = 0.375") != NULL);
    CHECK(strstr(html, "$.eigenvalues[5] = 4") != NULL); /* dense: the largest */
    CHECK(strstr(html, "power law is accepted") != NULL);
    /* the unknown schema: a note and its values by path */
    char *last = section(html, NDOCS);
    CHECK(last && strstr(last, "No renderer for schema") != NULL);
    CHECK(last && strstr(last, "title=\"$.nested.deep.x = 1.5\">1.5</td>") != NULL);
    CHECK(last && strstr(last, "$.tags") != NULL && strstr(last, ">a, b</td>") != NULL);
    free(last);
    free(html);

    /* Missing keys: rendered, and listed */
    cJSON *part[2] = {doc("{'schema':'hesse.powerlaw/1','K':3,'eigenvalues':[4,2,1]}"),
                      doc("{'schema':'hesse.classes/1','classes':2}")};
    const char *pnames[2] = {"p.json", "c.json"};
    REQUIRE(part[0] && part[1]);
    REQUIRE(hesse_report_html((const cJSON *const *)part, pnames, 2, NULL, &html) == HESSE_OK);
    check_clean(html);
    CHECK(strstr(html, "<title>hesse report</title>") != NULL);
    char *sec = section(html, 1);
    CHECK(sec && strstr(sec, "Not in this document: $.fit") != NULL);
    CHECK(sec && count(sec, "<svg") == 1); /* the points alone */
    free(sec);
    sec = section(html, 2);
    CHECK(sec && strstr(sec, "Not in this document: $.spectra, $.trace, $.overlap, $.outliers, "
                             "$.class_weights, $.means_eigenvalues") != NULL);
    CHECK(sec && strstr(sec, "$.spectra.hessian") == NULL); /* the parent says it */
    CHECK(sec && count(sec, "<svg") == 0);
    free(sec);
    free(html);
    /* a newer layout version still renders, with a note */
    cJSON_ReplaceItemInObject(part[0], "schema", cJSON_CreateString("hesse.powerlaw/2"));
    REQUIRE(hesse_report_html((const cJSON *const *)part, pnames, 1, NULL, &html) == HESSE_OK);
    CHECK(strstr(html, "Layout version 2") != NULL && count(html, "<svg") == 1);
    free(html);
    cJSON_Delete(part[0]);
    cJSON_Delete(part[1]);

    /* Bad documents fail naming the file */
    cJSON *bad[2] = {docs[0], doc("[1, 2]")};
    const char *bnames[2] = {"good.json", "list.json"};
    html = (char *)1;
    CHECK(hesse_report_html((const cJSON *const *)bad, bnames, 2, NULL, &html) == HESSE_EINPUT);
    CHECK(html == NULL && strstr(hesse_last_error(), "list.json") != NULL);
    cJSON_Delete(bad[1]);
    bad[1] = doc("{'created':'x'}");
    CHECK(hesse_report_html((const cJSON *const *)bad, bnames, 2, NULL, &html) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "list.json") && strstr(hesse_last_error(), "schema"));
    cJSON_Delete(bad[1]);
    CHECK(hesse_report_html((const cJSON *const *)bad, bnames, 0, NULL, &html) == HESSE_EINVAL);

    /* Files: one that is not JSON names itself and where the syntax breaks */
    char dir[] = "/tmp/hesse_test_report.XXXXXX", good[64], broken[64], empty[64];
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(good, sizeof good, "%s/eval.json", dir);
    snprintf(broken, sizeof broken, "%s/broken.json", dir);
    snprintf(empty, sizeof empty, "%s/empty.json", dir);
    char *text = cJSON_Print(docs[0]);
    REQUIRE(text && hesse_write_file_atomic(good, text, strlen(text)) == HESSE_OK);
    free(text);
    REQUIRE(hesse_write_file_atomic(broken, "{\"schema\": \"hesse.eval/1\",\n  \"loss\": }", 38) ==
            HESSE_OK);
    REQUIRE(hesse_write_file_atomic(empty, "", 0) == HESSE_OK);
    const char *paths[2] = {good, broken};
    CHECK(hesse_report_files(paths, 1, "one", &html) == HESSE_OK);
    CHECK(html && count(html, "<section id=") == 1 && strstr(html, "eval.json") != NULL);
    free(html);
    CHECK(hesse_report_files(paths, 2, NULL, &html) == HESSE_EINPUT && html == NULL);
    CHECK_MSG(strstr(hesse_last_error(), broken) && strstr(hesse_last_error(), "line 2"), "%s",
              hesse_last_error());
    paths[1] = empty;
    CHECK(hesse_report_files(paths, 2, NULL, &html) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), empty) != NULL);
    REQUIRE(hesse_write_file_atomic(broken, "{\"schema\": \"hesse.eval/1\"} trailing", 35) ==
            HESSE_OK);
    paths[1] = broken;
    CHECK(hesse_report_files(paths, 2, NULL, &html) == HESSE_EINPUT);
    paths[1] = "/nonexistent/x.json";
    CHECK(hesse_report_files(paths, 2, NULL, &html) == HESSE_EINPUT);
    CHECK(strstr(hesse_last_error(), "/nonexistent/x.json") != NULL);
    unlink(good);
    unlink(broken);
    unlink(empty);
    rmdir(dir);

    for (int i = 0; i < NDOCS; i++) cJSON_Delete(docs[i]);
    return test_summary("test_report");
}
