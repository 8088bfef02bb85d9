"""Writes one benchmark's section of docs/BENCHMARKS.md: the text between
<!-- bench:NAME --> and <!-- /bench:NAME --> is replaced (the section is
appended when absent). Each bench script owns one section.

From Python: sys.path.insert(0, "bench"); import section;
section.write_block(text) (text starts with the opening marker and ends with
the closing one) or section.write(name, body). From a shell:
python3 bench/section.py NAME BODY."""
import os
import re
import sys

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "BENCHMARKS.md")


def write_block(block, path=PATH):
    m = re.match(r"<!-- bench:([\w-]+) -->", block)
    if not m or not block.rstrip().endswith(f"<!-- /bench:{m.group(1)} -->"):
        raise ValueError("a section block starts and ends with its bench markers")
    start, end = f"<!-- bench:{m.group(1)} -->", f"<!-- /bench:{m.group(1)} -->"
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if start in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + block.rstrip() + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block.rstrip() + "\n"
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"docs/BENCHMARKS.md: section {m.group(1)} written", file=sys.stderr)


def write(name, body, path=PATH):
    write_block(f"<!-- bench:{name} -->\n{body}\n<!-- /bench:{name} -->", path)


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
