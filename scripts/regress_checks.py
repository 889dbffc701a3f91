#!/usr/bin/env python3
"""regress_checks.py: count pg_regress checks per SQL statement.

Usage: regress_checks.py DIR

DIR holds sql/NNN_*.sql, expected/NNN_*.out and (after a pg_regress run)
results/NNN_*.out.  pg_regress reports one result per file; a file holds
dozens of statements, each of which compares its output with the expected
one.  This script counts those comparisons: every SQL statement a test
file sends (a semicolon outside quotes, dollar quotes and comments, or a
psql \\g-style command ending a statement) is one check, which passes when
its output in results/ is the same as in expected/.

psql -a (as pg_regress runs it) echoes every input line and prints a
statement's output right after the line that completes it, so both .out
files are cut into blocks: the output that follows each statement-ending
line.  A differing block fails every statement its line completed; a file
without results fails all its statements.  psql meta-commands (\\set,
\\echo, \\x...) are not counted.  When expected/NNN_K.out alternatives
exist, the best-matching one counts (as pg_regress picks one).

Prints one line per file with failures, then
"regress statements: N passed, M failed (F files)".
"""

import glob
import os
import re
import sys


def statement_ends(lines):
    """For each line, how many SQL statements it completes, and whether
    psql echoes it (it skips empty lines outside quotes and comments)."""
    ends = [0] * len(lines)
    echoed = [True] * len(lines)
    buf = False  # non-blank statement text pending
    quote = None  # "'", '"', "E" (E'...'), or a dollar tag
    depth = 0  # /* */ nesting
    for i, line in enumerate(lines):
        if line == "" and not quote and not depth:
            echoed[i] = False
        j = 0
        n = len(line)
        while j < n:
            c = line[j]
            if depth:
                if line.startswith("*/", j):
                    depth -= 1
                    j += 2
                elif line.startswith("/*", j):
                    depth += 1
                    j += 2
                else:
                    j += 1
                continue
            if quote:
                if quote == "E":
                    if c == "\\":
                        j += 2
                        continue
                    if c == "'":
                        if line.startswith("''", j):
                            j += 2
                            continue
                        quote = None
                    j += 1
                elif quote in ("'", '"'):
                    if c == quote:
                        if line.startswith(quote * 2, j):
                            j += 2
                            continue
                        quote = None
                    j += 1
                else:  # dollar tag
                    if line.startswith(quote, j):
                        j += len(quote)
                        quote = None
                    else:
                        j += 1
                continue
            if line.startswith("--", j):
                break
            if line.startswith("/*", j):
                depth += 1
                j += 2
                continue
            if c in "eE" and line.startswith("'", j + 1) and (j == 0 or not (line[j - 1].isalnum() or line[j - 1] == "_")):
                quote = "E"
                buf = True
                j += 2
                continue
            if c in ("'", '"'):
                quote = c
                buf = True
                j += 1
                continue
            if c == "$":
                m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", line[j:])
                if m and (j == 0 or not (line[j - 1].isalnum() or line[j - 1] == "_")):
                    quote = m.group(0)
                    buf = True
                    j += len(quote)
                    continue
            if c == ";":
                if buf:
                    ends[i] += 1
                buf = False
                j += 1
                continue
            if c == "\\":
                # a meta-command takes the rest of the line; \g, \gset,
                # \gx ... send the statement buffer
                if buf and re.match(r"\\g", line[j:]):
                    ends[i] += 1
                buf = False
                break
            if not c.isspace():
                buf = True
            j += 1
    return ends, echoed


def blocks(sql_lines, ends, echoed, out_lines):
    """{sql line index: output lines after it} for statement-ending lines."""
    res = {i: [] for i, e in enumerate(ends) if e}
    k = 0  # next sql line expected as an echo
    current = None
    for line in out_lines:
        while k < len(sql_lines) and not echoed[k]:
            k += 1
        if k < len(sql_lines) and line == sql_lines[k]:
            if ends[k]:
                current = k
            k += 1
            continue
        if current is not None:
            res[current].append(line)
    return res


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().split("\n")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    passed = failed = files = 0
    for sql in sorted(glob.glob(os.path.join(root, "sql", "*.sql"))):
        name = os.path.basename(sql)[:-4]
        if name.startswith("flowdb--"):
            continue
        files += 1
        sql_lines = read_lines(sql)
        ends, echoed = statement_ends(sql_lines)
        total = sum(ends)
        result = os.path.join(root, "results", name + ".out")
        alts = sorted(glob.glob(os.path.join(root, "expected", name + ".out")) +
                      glob.glob(os.path.join(root, "expected", name + "_[0-9].out")))
        if not os.path.exists(result) or not alts:
            print("regress %s: no results, %d statements failed" % (name, total))
            failed += total
            continue
        got = blocks(sql_lines, ends, echoed, read_lines(result))
        best = None
        for alt in alts:
            want = blocks(sql_lines, ends, echoed, read_lines(alt))
            bad = sum(ends[i] for i in want if want[i] != got.get(i))
            if best is None or bad < best:
                best = bad
        if best:
            print("regress %s: %d of %d statements differ" % (name, best, total))
        failed += best
        passed += total - best
    print("regress statements: %d passed, %d failed (%d files)" % (passed, failed, files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
