"""No documented config key is dead, and none is undocumented: every key of
the table in docs/configuration.md is a key of the config table
(src/base/config.c) whose kg_config field some code outside config.c reads,
and every key of the config table is documented. `kagi config dump` (the
real binary) prints the same set of keys."""
import os
import re

import kagitest as kt
from kagitest import check

SRC = os.path.join(kt.SOURCE_DIR, "src")


def doc_keys():
    """The backticked keys of the first column of the table's rows."""
    keys = set()
    for line in open(os.path.join(kt.SOURCE_DIR, "docs", "configuration.md"), encoding="utf-8"):
        if line.startswith("| `"):
            first = line.split("|")[1]
            keys.update(re.findall(r"`([a-z0-9_.]+)`", first))
    return keys


def table_keys():
    """key -> kg_config field, from the STR/INT/BOOL lines of config.c."""
    text = open(os.path.join(SRC, "base", "config.c"), encoding="utf-8").read()
    return dict(re.findall(r'\b(?:STR|INT|BOOL)\("([a-z0-9_.]+)",\s*(\w+)', text))


def sources_outside_config():
    for root, _, files in os.walk(SRC):
        for f in files:
            path = os.path.join(root, f)
            if f.endswith((".c", ".h")) and path != os.path.join(SRC, "base", "config.c"):
                yield path, open(path, encoding="utf-8").read()


def test_config_keys():
    docs, table = doc_keys(), table_keys()
    check(len(table) > 30 and len(docs) > 30, "both tables parsed", (len(table), len(docs)))
    check(docs - table.keys() == set(), "documented keys that kagi does not have",
          sorted(docs - table.keys()))
    check(table.keys() - docs == set(), "config keys missing from docs/configuration.md",
          sorted(table.keys() - docs))
    sources = list(sources_outside_config())
    dead = []
    for key, field in sorted(table.items()):
        use = re.compile(r"(->|\.)" + re.escape(field) + r"\b")
        if not any(use.search(text) for path, text in sources if not path.endswith("base.h")):
            dead.append(f"{key} ({field})")
    check(dead == [], "config keys that no code outside config.c reads", dead)
    dump = kt.kagi("config", "dump").stdout
    dumped = set(re.findall(r"^([a-z0-9_.]+)\s*=", dump, re.M))
    check(dumped == table.keys(), "kagi config dump prints the config table's keys",
          sorted(dumped ^ table.keys()))


if __name__ == "__main__":
    kt.main([test_config_keys])
