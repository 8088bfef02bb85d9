#!/usr/bin/env python3
"""Converts docs/openapi.yaml to the JSON kagid serves at GET /v1/openapi.json.

Usage: scripts/openapi-json.py SPEC.yaml OUT.json
The YAML is read with PyYAML's safe loader, except that a date-like scalar
stays a string (JSON has no dates). Compact output, UTF-8, keys in the
document's order. The build runs this (src/CMakeLists.txt) and embeds the
result in the binary; tests/integration/test_openapi.py compares the two.
"""
import json
import os
import sys

import yaml


class SpecLoader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver: 2026-11-28 is a string."""


SpecLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=SpecLoader)  # noqa: S506 - a SafeLoader


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: openapi-json.py SPEC.yaml OUT.json\n")
        return 2
    try:
        spec = load(argv[1])
    except (OSError, yaml.YAMLError) as e:
        sys.stderr.write(f"{argv[1]}: {e}\n")
        return 1
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    with open(argv[2] + ".tmp", "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(argv[2] + ".tmp", argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
