#!/usr/bin/env python3
"""replace_functions.py: print functions of the install script as CREATE OR
REPLACE FUNCTION statements, for the update script.

  python3 scripts/replace_functions.py flowdb.dispatch_event public.flow_cancel
  python3 scripts/replace_functions.py --grep "ERRCODE = '"

Reads sql/flowdb--<EXTVERSION>.sql (EXTVERSION from the Makefile) and
prints, in script order, every CREATE FUNCTION statement whose name is
given (all overloads) or whose text matches --grep, with its preceding
comment block, turned into CREATE OR REPLACE.  Paste the output into your
section of sql/flowdb--<previous>--<EXTVERSION>.sql; test/t/029_upgrade.pl
then compares an updated database with a fresh install.
"""
import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def statements(text):
    """Yield (start, end) of each top-level CREATE FUNCTION statement."""
    for m in re.finditer(r"^CREATE FUNCTION ", text, re.M):
        i = m.start()
        n = len(text)
        while i < n:
            c = text[i]
            if c == "'":
                j = i + 1
                while True:
                    j = text.index("'", j)
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                i = j + 1
            elif c == "$":
                t = re.match(r"\$[A-Za-z_]*\$", text[i:])
                if t:
                    i = text.index(t.group(0), i + len(t.group(0))) + len(t.group(0))
                else:
                    i += 1
            elif c == "-" and text.startswith("--", i):
                i = text.index("\n", i)
            elif c == ";":
                yield m.start(), i + 1
                break
            else:
                i += 1


def leading_comment(text, start):
    """The comment lines right above start (no blank line between)."""
    lines = text[:start].split("\n")[:-1]
    out = []
    while lines and lines[-1].startswith("--") and not lines[-1].startswith("-----"):
        out.insert(0, lines.pop())
    return "\n".join(out) + ("\n" if out else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="schema-qualified function names")
    ap.add_argument("--grep", help="also every function whose text matches this regex")
    args = ap.parse_args()
    mk = open(os.path.join(ROOT, "Makefile")).read()
    version = re.search(r"^EXTVERSION\s*=\s*(\S+)", mk, re.M).group(1)
    text = open(os.path.join(ROOT, "sql", "flowdb--%s.sql" % version)).read()
    wanted = set(args.names)
    found = set()
    for start, end in statements(text):
        stmt = text[start:end]
        name = re.match(r"CREATE FUNCTION ([\w.]+)\s*\(", stmt).group(1)
        if name in wanted or (args.grep and re.search(args.grep, stmt)):
            found.add(name)
            print(leading_comment(text, start)
                  + "CREATE OR REPLACE FUNCTION " + stmt[len("CREATE FUNCTION "):] + "\n")
    missing = wanted - found
    if missing:
        sys.exit("not in the install script: " + ", ".join(sorted(missing)))


if __name__ == "__main__":
    main()
