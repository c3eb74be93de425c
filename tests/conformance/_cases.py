"""Shared by the `_generate.py` scripts of the conformance suites: write a suite's cases.

`write_cases(out, cases)` empties `out` of case directories, then writes each case as
`<name>/input.json` plus `expected.json` (when the case has an expected result) or
`expected_error.json`. `cases` maps a name to `(input, expected or None, expected_error)`.
"""
import json
import os
import shutil


def write_cases(out, cases):
    for d in os.listdir(out):
        p = os.path.join(out, d)
        if os.path.isdir(p):
            shutil.rmtree(p)
    for name, (inp, exp, e) in sorted(cases.items()):
        d = os.path.join(out, name)
        os.makedirs(d)
        with open(os.path.join(d, "input.json"), "w", encoding="utf-8") as f:
            json.dump(inp, f, indent=2, ensure_ascii=False)
            f.write("\n")
        name, data = ("expected.json", exp) if exp is not None else ("expected_error.json", e)
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, ensure_ascii=False)
            f.write("\n")
    print(len(cases), "cases")
