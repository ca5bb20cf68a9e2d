#!/usr/bin/env python3
"""Marks every function declared in include/hesse/*.h that lacks HESSE_API (hesse/export.h).

    tools/hesse_api.py [--check]

gcc -aux-info lists each declaration with its file and line; a declaration whose line does not
start with HESSE_API gets it. Declarations that do not start on the line gcc names (a return type
on the line above) are reported for a hand edit; a header without #include <hesse/export.h>
gets it. Run clang-format on the headers afterwards.
--check changes nothing and exits 1 when a declaration lacks the macro. tests/install/symbols.sh
is the test that catches a missing one in the built library.
"""
import collections
import glob
import os
import re
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
check = "--check" in sys.argv[1:]
headers = sorted(glob.glob(os.path.join(root, "include", "hesse", "*.h")))
with tempfile.TemporaryDirectory() as tmp:
    src, aux = os.path.join(tmp, "all.c"), os.path.join(tmp, "aux.txt")
    with open(src, "w") as f:
        f.writelines(f"#include <hesse/{os.path.basename(h)}>\n" for h in headers)
    subprocess.run(["gcc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-I", os.path.join(root, "include"),
                    "-fsyntax-only", "-aux-info", aux, src], check=True)
    decls = collections.defaultdict(list)
    for line in open(aux):
        m = re.match(r"/\* (.*/include/hesse/\w+\.h):(\d+):\w+ \*/ extern .*?(\w+) \(", line)
        if m:
            decls[m.group(1)].append((int(m.group(2)), m.group(3)))
missing, manual = 0, 0
for path, items in sorted(decls.items()):
    lines = open(path).read().split("\n")
    for number, name in items:
        text = lines[number - 1]
        if text.startswith("HESSE_API "):
            continue
        rel = os.path.relpath(path, root)
        if name not in text or text[:1].isspace():
            print(f"{rel}:{number}: {name}: add HESSE_API by hand (declaration starts elsewhere)")
            manual += 1
            continue
        print(f"{rel}:{number}: {name}: HESSE_API missing" + ("" if check else ", added"))
        missing += 1
        lines[number - 1] = "HESSE_API " + text
    text = "\n".join(lines)
    if "#include <hesse/export.h>" not in text:
        print(f"{os.path.relpath(path, root)}: does not include <hesse/export.h>" + ("" if check else ", added"))
        missing += 1
        text = re.sub(r"(#define HESSE_\w+_H\n\n)", r"\1#include <hesse/export.h>\n", text, count=1)
    if not check:
        open(path, "w").write(text)
sys.exit(1 if (missing and check) or manual else 0)
