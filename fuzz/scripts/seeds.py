#!/usr/bin/env python3
"""Writes the seed corpus of the text targets (source, context_json, sse) from the
examples and the golden vectors; the ruleset seeds are compiled by
fuzz/scripts/seeds.sh with the CLI. Deterministic: run it again after the
examples or vectors change, and commit the result."""
import hashlib, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
corpus = os.path.join(root, "fuzz", "corpus")


def write(target, name, data):
    name = re.sub(r"[^A-Za-z0-9._-]", "-", name)
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*p):
    with open(os.path.join(root, *p), encoding="utf-8") as f:
        return f.read()


# --- source: byte 0 = JSON bits per file, files separated by NUL -------------------
ex = ["environments.yaml", "segments.yaml", "flags/checkout.yaml", "flags/ops.yaml"]
texts = [read("examples", p) for p in ex]
write("source", "examples-all.yaml", b"\x00" + "\0".join(texts).encode())
for p, t in zip(ex, texts):
    write("source", "example-" + p.replace("/", "-"), b"\x00" + t.encode())
cases = json.loads(read("tests", "vectors", "cases.json"))
# One small source per vector flag (with its prerequisites, the case's segments
# and environments), alternately YAML and JSON: small seeds keep the fuzzer fast.
import yaml  # PyYAML

for case in cases:
    src = case["source"]
    flags = src.get("flags", {})
    rest = {k: v for k, v in src.items() if k != "flags"}
    for i, (key, flag) in enumerate(flags.items()):
        one = dict(rest)
        one["flags"] = {key: flag}
        for p in flag.get("prerequisites") or []:
            pk = p.get("flag") if isinstance(p, dict) else p
            if pk in flags:
                one["flags"][pk] = flags[pk]
        if i % 2 == 0:
            text = yaml.safe_dump(one, allow_unicode=True, sort_keys=False, default_flow_style=None, width=200)
            write("source", f"vector-{case['name']}-{key}.yaml", b"\x00" + text.encode())
        else:
            text = json.dumps(one, ensure_ascii=False, separators=(",", ":"))
            write("source", f"vector-{case['name']}-{key}.json", b"\x01" + text.encode())
write("source", "two-files-duplicate.yaml", b"\x02flags:\n  a: {}\n\0{\"flags\": {\"a\": {}}}")
write("source", "errors.yaml", b"\x00flags:\n  a:\n    fallthrough: maybe\n    rules: [{clauses: [{attribute: x, op: matches, values: ['(']}]}]\n")

# --- context_json: the examples' contexts and the vectors' ------------------------
for i, line in enumerate(read("examples", "contexts.jsonl").splitlines()):
    if line.strip():
        write("context_json", f"example-{i}.json", line)
seen = set()
for case in cases:
    for c in case["cases"]:
        text = json.dumps(c["context"], ensure_ascii=False)
        if text not in seen:
            seen.add(text)
            write("context_json", "vector-" + hashlib.sha1(text.encode()).hexdigest()[:12] + ".json", text)
write("context_json", "nulls-and-lists.json", '{"key":"u","a":null,"b":[1,"x",null],"c":1e308,"key":"v"}')
write("context_json", "bad-key.json", '{"key":5}')

# --- sse: byte 0 = number of chunk cuts, 2 bytes per cut, then the stream ---------
def sse(name, stream, cuts=()):
    head = bytes([len(cuts)]) + b"".join(c.to_bytes(2, "little") for c in cuts)
    write("sse", name, head + stream)

announce = b'event: ruleset\ndata: {"env":"production","version":7,"epoch":1700000000000}\n\n'
sse("announce.txt", announce)
sse("announce-crlf-split.txt", announce.replace(b"\n", b"\r\n"), cuts=(5, 15, 16, 80))
sse("keepalive-multi.txt", b": keep-alive\n\ndata: a\ndata: b\n\nid: 3\nretry: 1000\ndata\n\n", cuts=(1, 20))
sse("no-blank-line.txt", b"data: x\n" * 8)
sse("long-line.txt", b"data: \xfe\x10x\n\n")  # expands to about MAX_LINE bytes
sse("utf8-split.txt", "data: h\u00e9llo \U0001F600\n\n".encode(), cuts=(9, 14))
print("seeds written to", corpus, file=sys.stderr)
