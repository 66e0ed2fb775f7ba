/* IMDS / App Service request validation, identity selection and bodies (idep_logic.c). */
#include "cloud/idep.h"

#include "sg_alloc.h"
#include "sg_buf.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define VM_ID "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
#define U1_ID                                                                                      \
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"                     \
    "userAssignedIdentities/u1"
#define U2_ID                                                                                      \
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"                     \
    "userAssignedIdentities/u2"

static void make_set(sg_idep_idset *set, int system, int nuami)
{
    sg_compute_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", VM_ID);
    r.kind = SG_KIND_VM;
    if (system) {
        snprintf(r.system_principal_id, sizeof r.system_principal_id, "%s",
                 "00000000-0000-0000-0000-0000000000a1");
        snprintf(r.system_client_id, sizeof r.system_client_id, "%s",
                 "00000000-0000-0000-0000-0000000000c1");
    }
    if (nuami >= 1) {
        snprintf(r.uami[0].id, sizeof r.uami[0].id, "%s", U1_ID);
        snprintf(r.uami[0].principal_id, sizeof r.uami[0].principal_id, "%s",
                 "11111111-0000-0000-0000-0000000000a1");
        snprintf(r.uami[0].client_id, sizeof r.uami[0].client_id, "%s",
                 "11111111-0000-0000-0000-0000000000c1");
    }
    if (nuami >= 2) {
        snprintf(r.uami[1].id, sizeof r.uami[1].id, "%s", U2_ID);
        snprintf(r.uami[1].principal_id, sizeof r.uami[1].principal_id, "%s",
                 "22222222-0000-0000-0000-0000000000a1");
        snprintf(r.uami[1].client_id, sizeof r.uami[1].client_id, "%s",
                 "22222222-0000-0000-0000-0000000000c1");
    }
    r.n_uami = (size_t)nuami;
    sg_idep_idset_from_compute(set, &r);
}

static sg_slice s_true = SG_SLICE_LIT("true");

static void imds(const sg_idep_idset *set, const char *path, const char *query,
                 const sg_slice *metadata, const sg_slice *fwd, sg_idep_out *out)
{
    sg_idep_in in;
    memset(&in, 0, sizeof in);
    in.method = SG_HTTP_GET;
    in.path = sg_slice_cstr(path);
    in.query = sg_slice_cstr(query);
    in.metadata = metadata;
    in.forwarded = fwd;
    sg_idep_evaluate(SG_IDEP_IMDS, set, NULL, &in, out);
}

#define Q "api-version=2018-02-01&resource=https%3A%2F%2Fsignalr.azure.com"
#define P "/metadata/identity/oauth2/token"

static void test_imds_paths_and_guards(void **st)
{
    (void)st;
    sg_idep_idset set;
    sg_idep_out out;
    make_set(&set, 1, 0);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_string_equal(out.resource, "https://signalr.azure.com");
    imds(&set, P "/", Q, &s_true, NULL, &out); /* msal-node's trailing slash */
    assert_int_equal(out.status, 200);
    imds(&set, "/metadata/identity/getplatformmetadata", "cred-api-version=2.0", &s_true, NULL,
         &out);
    assert_int_equal(out.status, 404);
    imds(&set, "/metadata/instance", "", &s_true, NULL, &out);
    assert_int_equal(out.status, 404);
    /* no Metadata header: exactly the body the DAC probe expects */
    imds(&set, P, Q, NULL, NULL, &out);
    assert_int_equal(out.status, 400);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_idep_error_body(SG_IDEP_IMDS, &out, &b), 0);
    assert_string_equal(b.data, "{\"error\":\"invalid_request\",\"error_description\":"
                                "\"Required metadata header not specified\"}");
    sg_buf_free(&b);
    sg_slice bad = SG_SLICE_LIT("false");
    imds(&set, P, Q, &bad, NULL, &out);
    assert_int_equal(out.status, 400);
    sg_slice xff = SG_SLICE_LIT("10.0.0.1");
    imds(&set, P, Q, &s_true, &xff, &out);
    assert_int_equal(out.status, 400);
    assert_non_null(strstr(out.message, "X-Forwarded-For"));
    /* method */
    sg_idep_in in;
    memset(&in, 0, sizeof in);
    in.method = SG_HTTP_POST;
    in.path = sg_slice_cstr(P);
    in.query = sg_slice_cstr(Q);
    in.metadata = &s_true;
    sg_idep_evaluate(SG_IDEP_IMDS, &set, NULL, &in, &out);
    assert_int_equal(out.status, 405);
    /* parameters */
    imds(&set, P, "resource=https%3A%2F%2Fsignalr.azure.com", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_non_null(strstr(out.message, "api-version"));
    imds(&set, P, "api-version=2018-02-01", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, "Required audience parameter not specified");
    imds(&set, P, "api-version=garbage&resource=x", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    imds(&set, P, "api-version=2018-02-01&resource=%zz", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    /* not UTF-8 once decoded (fuzz_imds): the resource is echoed in the JSON body */
    imds(&set, P, "api-version=2018-02-01&resource=http%FF://x", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    imds(&set, P, "api-version=2018-02-01&resource=http\xff://x", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    imds(&set, P, Q "&client_id=%C3%A9", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, "Identity not found");
    imds(&set, P, Q "&client_id=a&object_id=b", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_non_null(strstr(out.message, "Only one"));
}

static void test_imds_selection(void **st)
{
    (void)st;
    sg_idep_idset set;
    sg_idep_out out;

    /* no identity at all */
    make_set(&set, 0, 0);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, "Identity not found");

    /* system only */
    make_set(&set, 1, 0);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_true(set.ids[out.ident].system);
    assert_string_equal(set.ids[out.ident].mirid, VM_ID);

    /* single UAMI, no system: IMDS picks it */
    make_set(&set, 0, 1);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_string_equal(set.ids[out.ident].client_id, "11111111-0000-0000-0000-0000000000c1");

    /* two UAMIs, no system, no selector: not found */
    make_set(&set, 0, 2);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, "Identity not found");

    /* system + UAMIs: no selector = system */
    make_set(&set, 1, 2);
    imds(&set, P, Q, &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_true(set.ids[out.ident].system);

    /* by client id (case-insensitive), object id, resource id */
    imds(&set, P, Q "&client_id=22222222-0000-0000-0000-0000000000C1", &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_string_equal(set.ids[out.ident].mirid, U2_ID);
    imds(&set, P, Q "&object_id=11111111-0000-0000-0000-0000000000a1", &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_string_equal(set.ids[out.ident].mirid, U1_ID);
    assert_string_equal(out.sel_name, "object_id");
    imds(&set, P,
         Q "&msi_res_id=%2Fsubscriptions%2Fs1%2FresourceGroups%2Frg%2Fproviders%2FMicrosoft."
           "ManagedIdentity%2FuserAssignedIdentities%2Fu2",
         &s_true, NULL, &out);
    assert_int_equal(out.status, 200);
    assert_string_equal(set.ids[out.ident].oid, "22222222-0000-0000-0000-0000000000a1");

    /* object id passed as client id: not found */
    imds(&set, P, Q "&client_id=11111111-0000-0000-0000-0000000000a1", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    assert_string_equal(out.message, "Identity not found");
    /* unattached identity */
    imds(&set, P, Q "&client_id=33333333-0000-0000-0000-0000000000c1", &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
    /* the VM's own id is not a user-assigned resource id */
    imds(&set, P, Q "&msi_res_id=" VM_ID, &s_true, NULL, &out);
    assert_int_equal(out.status, 400);
}

static void appsvc(const sg_idep_idset *set, const char *query, const char *hdr, sg_idep_out *out)
{
    sg_idep_in in;
    memset(&in, 0, sizeof in);
    sg_slice h = hdr ? sg_slice_cstr(hdr) : (sg_slice){0};
    in.method = SG_HTTP_GET;
    in.path = SG_SLICE_LIT("/msi/token");
    in.query = sg_slice_cstr(query);
    in.identity_header = hdr ? &h : NULL;
    sg_idep_evaluate(SG_IDEP_APPSVC, set, "s3cret-header", &in, out);
}

#define AQ "api-version=2019-08-01&resource=https%3A%2F%2Fsignalr.azure.com"

static void test_appsvc(void **st)
{
    (void)st;
    sg_idep_idset set;
    sg_idep_out out;
    make_set(&set, 1, 1);
    appsvc(&set, AQ, "s3cret-header", &out);
    assert_int_equal(out.status, 200);
    assert_true(set.ids[out.ident].system);
    appsvc(&set, AQ, NULL, &out);
    assert_int_equal(out.status, 400);
    appsvc(&set, AQ, "s3cret-headeR", &out);
    assert_int_equal(out.status, 401);
    appsvc(&set, AQ, "s3cret-header-longer", &out);
    assert_int_equal(out.status, 401);
    appsvc(&set, "api-version=2018-02-01&resource=x", "s3cret-header", &out);
    assert_int_equal(out.status, 400);
    appsvc(&set, AQ "&principal_id=11111111-0000-0000-0000-0000000000a1", "s3cret-header", &out);
    assert_int_equal(out.status, 200);
    assert_false(set.ids[out.ident].system);
    appsvc(&set, AQ "&object_id=11111111-0000-0000-0000-0000000000a1", "s3cret-header", &out);
    assert_int_equal(out.status, 200);
    appsvc(&set, AQ "&mi_res_id=" U1_ID, "s3cret-header", &out);
    assert_int_equal(out.status, 200);
    appsvc(&set, AQ "&client_id=11111111-0000-0000-0000-0000000000c1", "s3cret-header", &out);
    assert_int_equal(out.status, 200);
    /* only a UAMI and no selector: App Service does NOT default to it */
    make_set(&set, 0, 1);
    appsvc(&set, AQ, "s3cret-header", &out);
    assert_int_equal(out.status, 400);
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(sg_idep_error_body(SG_IDEP_APPSVC, &out, &b), 0);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "statusCode")), 400);
    assert_non_null(json_string_value(json_object_get(j, "message")));
    assert_non_null(json_string_value(json_object_get(j, "correlationId")));
    json_decref(j);
    sg_buf_free(&b);
}

static void test_bodies(void **st)
{
    (void)st;
    sg_buf b;
    sg_buf_init(&b, 0);
    assert_int_equal(
        sg_idep_token_body(SG_IDEP_IMDS, "eyJ.x.y", "cid", "https://a\"b", 1000, 700, 87400, &b),
        0);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    const char *keys[] = {"access_token",   "client_id",  "expires_in", "expires_on",
                          "ext_expires_in", "not_before", "resource",   "token_type"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_true(json_is_string(json_object_get(j, keys[i])));
    assert_string_equal(json_string_value(json_object_get(j, "expires_in")), "86400");
    assert_string_equal(json_string_value(json_object_get(j, "expires_on")), "87400");
    assert_string_equal(json_string_value(json_object_get(j, "not_before")), "700");
    assert_string_equal(json_string_value(json_object_get(j, "resource")), "https://a\"b");
    assert_string_equal(json_string_value(json_object_get(j, "token_type")), "Bearer");
    json_decref(j);
    sg_buf_reset(&b);
    assert_int_equal(
        sg_idep_token_body(SG_IDEP_APPSVC, "eyJ.x.y", "cid", "https://r", 1000, 700, 87400, &b), 0);
    j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "expires_on")), "87400");
    assert_null(json_object_get(j, "expires_in"));
    assert_string_equal(json_string_value(json_object_get(j, "client_id")), "cid");
    json_decref(j);
    sg_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imds_paths_and_guards),
        cmocka_unit_test(test_imds_selection),
        cmocka_unit_test(test_appsvc),
        cmocka_unit_test(test_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
