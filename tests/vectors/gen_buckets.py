#!/usr/bin/env python3
"""Prints the rollout buckets used by tests/vectors/cases.json.

Independent of the Rust code: it implements the bucketing rule of the contract
(docs/rule-language.md, "Bucketing") with the `xxhash` package
(`pip install xxhash`):

    bucket = xxh3_64(seed 0, salt ++ b":" ++ value) mod 100000

where value is a string attribute's UTF-8 bytes or an integer's decimal digits.
It only prints buckets; the expectations in cases.json were written by hand from
these numbers and the rollout weights (a slice with cumulative upper bound U takes
the buckets below U).
"""
import sys

try:
    import xxhash
except ImportError:  # pragma: no cover
    sys.exit("pip install xxhash")


def bucket(salt: str, value: str) -> int:
    return xxhash.xxh3_64_intdigest(salt.encode() + b":" + value.encode()) % 100000


# (salt, bucket value) pairs that appear in cases.json
PAIRS = [
    ("new-checkout", "user-42"),
    ("new-checkout", "user-2"),
    ("new-checkout", "user-6"),
    ("new-checkout", "user-3"),
    ("ro-thirds", "user-156447"),
    ("ro-thirds", "user-26354"),
    ("ro-thirds", "user-1222"),
    ("ro-thirds", "user-421657"),
    ("ro-thirds", "user-9"),
    ("ro-zero", "user-2"),
    ("ro-zero", "user-13"),
    ("ro-zero", "user-11"),
    ("ro-zero", "user-4"),
    ("ro-org", "initech"),
    ("ro-org", "acme"),
    ("ro-acct", "0"),
    ("ro-acct", "12345"),
    ("ro-acct", "-7"),
    ("ro-acct", "42"),
    ("ro-acct", "9007199254740991"),
    ("exp-2026", "user-7"),
    ("exp-2026", "user-1"),
    ("exp-2026", "user-2"),
    ("ro-salted", "user-7"),
    ("ro-salted", "user-2"),
]


def main() -> None:
    h = xxhash.xxh3_64_intdigest(b"")
    assert h == 0x2D06800538D394C2, hex(h)
    assert bucket("new-checkout", "user-42") == 8050
    print("xxh3_64(b'') = 0x%016X  (ok)" % h)
    print("bucket(new-checkout, user-42) = 8050  (ok)")
    for salt, value in PAIRS:
        print(f"bucket({salt}, {value}) = {bucket(salt, value)}")


if __name__ == "__main__":
    main()
