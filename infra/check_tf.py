#!/usr/bin/env python3
"""Offline check of infra/aws/*.tf (terraform cannot reach its registry in CI).

Parses every .tf with python-hcl2 and asserts what the deployment relies on: a
private, versioned, encrypted bucket; CloudFront with Origin Access Control, a
revalidating cache policy for current.efr, a long-lived one for versions/*, CORS
exposing ETag/Link; least-privilege publisher and reader policies; the outputs the
README promises; variables declared, described and used.
"""
import glob
import os
import re
import sys

try:
    import hcl2
except ImportError:
    sys.exit("infra check: python-hcl2 is missing (pip install python-hcl2)")

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aws")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"  FAIL {what}")
    return cond


def norm(v):
    """python-hcl2 >= 5 keeps quotes and adds __is_block__; strip both."""
    if isinstance(v, dict):
        return {norm(k): norm(x) for k, x in v.items() if k != "__is_block__"}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def blocks(doc, kind):
    """{(type, name): body} for resource/data; {name: body} for variable/output."""
    out = {}
    for entry in doc.get(kind, []):
        for k1, v1 in entry.items():
            if kind in ("resource", "data"):
                for k2, v2 in v1.items():
                    out[(k1, k2)] = v2
            else:
                out[k1] = v1
    return out


def one(body, key):
    v = body.get(key)
    return v[0] if isinstance(v, list) and v and isinstance(v[0], dict) else v


def main():
    files = sorted(glob.glob(os.path.join(ROOT, "*.tf")))
    check(files, f"no .tf files in {ROOT}")
    merged = {"resource": [], "data": [], "variable": [], "output": [], "locals": []}
    text = ""
    for f in files:
        try:
            with open(f) as fh:
                src = fh.read()
            doc = norm(hcl2.loads(src))
        except Exception as e:  # noqa: BLE001 — report any parse error
            check(False, f"{os.path.relpath(f)} does not parse: {e}")
            continue
        text += src
        for k in merged:
            merged[k].extend(doc.get(k, []))
    res = blocks(merged, "resource")
    data = blocks(merged, "data")
    variables = blocks(merged, "variable")
    outputs = blocks(merged, "output")
    locals_ = {k: v for d in merged["locals"] for k, v in d.items()}

    def res_of(kind):
        found = [v for (t, _), v in res.items() if t == kind]
        check(found, f"resource {kind} missing")
        return found[0] if found else {}

    # --- bucket -------------------------------------------------------------------
    res_of("aws_s3_bucket")
    pab = res_of("aws_s3_bucket_public_access_block")
    for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
        check(pab.get(k) is True, f"public access block: {k} must be true")
    ver = one(res_of("aws_s3_bucket_versioning"), "versioning_configuration") or {}
    check(ver.get("status") == "Enabled", "bucket versioning must be Enabled")
    sse = one(res_of("aws_s3_bucket_server_side_encryption_configuration"), "rule") or {}
    check(one(sse, "apply_server_side_encryption_by_default"), "default encryption rule missing")
    own = one(res_of("aws_s3_bucket_ownership_controls"), "rule") or {}
    check(own.get("object_ownership") == "BucketOwnerEnforced", "ACLs must be disabled (BucketOwnerEnforced)")
    check("aws_s3_bucket_policy" in {t for t, _ in res}, "bucket policy missing")

    bucket_doc = data.get(("aws_iam_policy_document", "bucket"), {})
    for st in bucket_doc.get("statement", []):
        principals = one(st, "principals") or {}
        if st.get("effect", "Allow") == "Allow":
            check(principals.get("identifiers") != ["*"], "bucket policy must not allow '*'")
            if principals.get("type") == "Service":
                check(any(c.get("variable") == "AWS:SourceArn" for c in st.get("condition", [])),
                      "CloudFront statement must be scoped by AWS:SourceArn")

    # --- CloudFront -----------------------------------------------------------------
    oac = res_of("aws_cloudfront_origin_access_control")
    check(oac.get("origin_access_control_origin_type") == "s3", "OAC origin type must be s3")
    check(oac.get("signing_behavior") == "always", "OAC must always sign")
    dist = res_of("aws_cloudfront_distribution")
    origin = one(dist, "origin") or {}
    check("origin_access_control_id" in origin, "distribution origin must use the OAC")
    check("s3_origin_config" not in origin or not one(origin, "s3_origin_config").get("origin_access_identity"),
          "no legacy origin access identity")
    default = one(dist, "default_cache_behavior") or {}
    check(default.get("viewer_protocol_policy") in ("redirect-to-https", "https-only"), "HTTPS only for viewers")
    check("response_headers_policy_id" in default, "default behaviour needs the CORS response headers policy")

    patterns = " ".join(str(b.get("path")) for b in locals_.get("behaviors", []))
    patterns += " ".join(str(b.get("path_pattern")) for b in dist.get("ordered_cache_behavior", []))
    check("*/current.efr" in patterns, "a cache behaviour for */current.efr")
    check("*/versions/*" in patterns, "a cache behaviour for */versions/*")

    policies = {n: v for (t, n), v in res.items() if t == "aws_cloudfront_cache_policy"}
    reval = [p for p in policies.values() if p.get("min_ttl") == 0 and p.get("default_ttl") == 0]
    check(reval, "a cache policy with min_ttl = 0 and default_ttl = 0 (revalidate current.efr)")
    longp = [p for p in policies.values() if isinstance(p.get("default_ttl"), int) and p["default_ttl"] >= 86400]
    check(longp, "a cache policy with a long default_ttl (versions/*)")
    for name, p in policies.items():
        params = one(p, "parameters_in_cache_key_and_forwarded_to_origin") or {}
        qs = one(params, "query_strings_config") or {}
        check(qs.get("query_string_behavior") == "none", f"cache policy {name}: query strings must not key the cache")

    cors = one(res_of("aws_cloudfront_response_headers_policy"), "cors_config") or {}
    exposed = (one(cors, "access_control_expose_headers") or {}).get("items", [])
    for h in ("ETag", "Link"):
        check(h in exposed, f"CORS must expose {h}")
    allowed = (one(cors, "access_control_allow_headers") or {}).get("items", [])
    check("If-None-Match" in allowed, "CORS must allow If-None-Match")

    # --- IAM ------------------------------------------------------------------------
    def actions(doc_name):
        doc = data.get(("aws_iam_policy_document", doc_name))
        check(doc is not None, f"policy document {doc_name} missing")
        acts = set()
        for st in (doc or {}).get("statement", []):
            acts.update(st.get("actions", []))
            check(st.get("resources") not in (["*"], None), f"{doc_name}: statement {st.get('sid')} needs scoped resources")
        for dyn in (doc or {}).get("dynamic", []):
            for body in dyn.values():
                for c in body.get("content", []):
                    acts.update(c.get("actions", []))
        return acts

    pub = actions("publisher")
    for a in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"):
        check(a in pub, f"publisher policy needs {a}")
    check(not any(a.endswith("*") or "Delete" in a for a in pub), f"publisher policy too broad: {sorted(pub)}")
    rd = actions("reader")
    check("s3:GetObject" in rd, "reader policy needs s3:GetObject")
    check(not {a for a in rd if a.startswith("s3:")} - {"s3:GetObject"}, f"reader policy must be read-only: {sorted(rd)}")
    for kind in ("publisher", "reader"):
        check(("aws_iam_policy", kind) in res, f"aws_iam_policy.{kind} missing")

    # --- variables / outputs ----------------------------------------------------------
    for name, v in variables.items():
        check(v.get("description"), f"variable {name} has no description")
    used = set(re.findall(r"\bvar\.([A-Za-z0-9_]+)", text))
    for name in used - set(variables):
        check(False, f"var.{name} is used but not declared")
    for name in set(variables) - used:
        check(False, f"variable {name} is declared but never used")
    for name in ("bucket", "distribution_domain", "publish_command", "publish_destination", "client_url_template"):
        check(name in outputs, f"output {name} missing")
    for name, o in outputs.items():
        check(o.get("description"), f"output {name} has no description")

    check(os.path.exists(os.path.join(ROOT, "README.md")), "infra/aws/README.md missing")

    n_res = len(res)
    if failures:
        print(f"infra check: {len(failures)} problem(s) in {len(files)} files")
        return 1
    print(f"infra check: {len(files)} .tf files parse; {n_res} resources, {len(data)} data sources, "
          f"{len(variables)} variables, {len(outputs)} outputs look right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
