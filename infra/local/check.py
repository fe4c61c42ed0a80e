#!/usr/bin/env python3
"""End-to-end smoke test of the local stack (run through `infra/local/stack.sh check`).

Publishes objects with the Cache-Control/Content-Type of docs/distribution.md under
`_stackcheck/` in the Garage bucket, then checks what a client sees:
  * Garage web endpoint (anonymous): 200 with a strong ETag, 304 for If-None-Match;
  * nginx (CDN stand-in): same, and an overwrite of current.efr is visible at once;
    versions/*.efr are cached (MISS then HIT) and answer 304 from the cache; CORS;
  * moto: a second `If-None-Match: *` PUT of the same key fails with 412.
Components that are not running are skipped (and said so). Exit 1 on any failure.
Needs boto3 (it comes with moto[server]).
"""
import os
import sys
import time
import urllib.error
import urllib.request

try:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
except ImportError:
    sys.exit("check: boto3 is missing (pip install 'moto[server]' brings it)")

ENV = "_stackcheck"
RULESET = "application/vnd.edgeflag.ruleset"
CURRENT_CC = "public, max-age=0, must-revalidate"
VERSION_CC = "public, max-age=31536000, immutable"
failures = []


def ok(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def up(url):
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return True
    except Exception:
        return False
    return True


def get(url, etag=None, method="GET", headers=None):
    req = urllib.request.Request(url, method=method)
    if etag:
        req.add_header("If-None-Match", etag)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def s3(endpoint):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def put(client, bucket, key, body, cc, **kw):
    return client.put_object(
        Bucket=bucket, Key=key, Body=body, ContentType=RULESET, CacheControl=cc, **kw
    )


def check_origin(name, base, tag):
    url = f"{base}/{ENV}/current.efr"
    print(f"{name}: {url}")
    st, h, body = get(url)
    ok(st == 200, f"GET -> {st}")
    etag = h.get("ETag", "")
    ok(etag.startswith('"') and not etag.startswith("W/"), f"strong ETag {etag}")
    ok(body == tag, f"body {body!r}")
    ok(h.get("Cache-Control") == CURRENT_CC, f"Cache-Control {h.get('Cache-Control')!r}")
    ok(h.get("Content-Type") == RULESET, f"Content-Type {h.get('Content-Type')!r}")
    st, h2, body = get(url, etag)
    ok(st == 304 and body == b"", f"If-None-Match {etag} -> {st}, {len(body)} bytes")
    return etag, h


def main():
    bucket = os.environ["EDGEFLAG_S3_BUCKET"]
    web = os.environ["EDGEFLAG_GARAGE_WEB_URL"]
    cdn = os.environ["EDGEFLAG_CDN_URL"]
    moto = os.environ["EDGEFLAG_MOTO_ENDPOINT"]
    endpoint = os.environ["EDGEFLAG_S3_ENDPOINT"]
    ttl = int(os.environ.get("EDGEFLAG_CDN_CURRENT_TTL", "0") or 0)

    if up(endpoint):
        print(f"garage s3: {endpoint} bucket {bucket}")
        g = s3(endpoint)
        stamp = str(time.time_ns()).encode()
        v1 = b"v1-" + stamp
        put(g, bucket, f"{ENV}/current.efr", v1, CURRENT_CC)
        vkey = f"{ENV}/versions/{time.time_ns():020d}.efr"
        put(g, bucket, vkey, b"version-" + stamp, VERSION_CC)
        ok(True, "PUT current.efr and a versions/ object")

        etag1, _ = check_origin("garage web", web, v1)

        if up(cdn):
            etag_cdn, h = check_origin("nginx cdn", cdn, v1)
            ok(etag_cdn == etag1, "CDN passes the origin's ETag through")
            ok(h.get("X-Cache-Status") is not None, f"X-Cache-Status {h.get('X-Cache-Status')}")
            ok(h.get("Access-Control-Allow-Origin") == "*", "CORS Access-Control-Allow-Origin *")
            ok("ETag" in (h.get("Access-Control-Expose-Headers") or ""), "CORS exposes ETag")
            st, h, _ = get(f"{cdn}/{ENV}/current.efr", method="OPTIONS",
                           headers={"Origin": "http://example.test",
                                    "Access-Control-Request-Headers": "if-none-match"})
            ok(st == 204 and "If-None-Match" in (h.get("Access-Control-Allow-Headers") or ""),
               f"OPTIONS preflight -> {st}, allows If-None-Match")

            v2 = b"v2-" + stamp
            put(g, bucket, f"{ENV}/current.efr", v2, CURRENT_CC)
            if ttl:
                print(f"  (micro-cache of {ttl}s: waiting for it to expire)")
                time.sleep(ttl + 1)
            st, h, body = get(f"{cdn}/{ENV}/current.efr", etag_cdn)
            ok(st == 200 and body == v2 and h.get("ETag") != etag_cdn,
               f"after overwrite, old If-None-Match -> {st}, new body, ETag {h.get('ETag')}")
            st, h, _ = get(f"{cdn}/{ENV}/current.efr", h.get("ETag"))
            ok(st == 304, f"new ETag -> {st} ({h.get('X-Cache-Status')})")

            vurl = f"{cdn}/{vkey}"
            print(f"nginx cdn: {vurl}")
            st1, h1, _ = get(vurl)
            st2, h2, _ = get(vurl)
            ok(st1 == 200 and h1.get("X-Cache-Status") == "MISS", f"first GET -> {st1} {h1.get('X-Cache-Status')}")
            ok(st2 == 200 and h2.get("X-Cache-Status") == "HIT", f"second GET -> {st2} {h2.get('X-Cache-Status')}")
            st3, h3, _ = get(vurl, h2.get("ETag"))
            ok(st3 == 304 and h3.get("X-Cache-Status") == "HIT", f"If-None-Match -> {st3} {h3.get('X-Cache-Status')}")
            st, h, _ = get(f"{cdn}/{ENV}/versions/{0:020d}.efr")
            ok(st == 404, f"missing version -> {st} (not cached: {h.get('X-Cache-Status')})")
        else:
            print(f"nginx cdn: {cdn} not running, skipped")
    else:
        print(f"garage: {endpoint} not running, skipped")

    if up(moto):
        print(f"moto: {moto}")
        m = s3(moto)
        key = f"{ENV}/versions/{time.time_ns():020d}.efr"
        put(m, bucket, key, b"a", VERSION_CC, IfNoneMatch="*")
        try:
            put(m, bucket, key, b"b", VERSION_CC, IfNoneMatch="*")
            ok(False, "second If-None-Match: * PUT should fail")
        except ClientError as e:
            code = e.response["ResponseMetadata"]["HTTPStatusCode"]
            ok(code == 412, f"second If-None-Match: * PUT -> {code}")
    else:
        print(f"moto: {moto} not running, skipped")

    if failures:
        print(f"\n{len(failures)} check(s) failed")
        return 1
    print("\nstack check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
