#!/usr/bin/env python3
"""Score offline transcripts against bench/speech_commands.tsv.

Usage: speech.py TSV RESULTS  (RESULTS: one "index<TAB>transcript" line per
command).  Prints one line per command and the accuracy of the command
words, the name, the amount and of all three together; exits 0.
"""
import re
import sys


def words(s):
    return re.findall(r"[a-z0-9]+", s.lower())


def has(transcript, phrase):
    """phrase's words appear in transcript as consecutive whole words"""
    t, p = words(transcript), words(phrase)
    return any(t[i:i + len(p)] == p for i in range(len(t) - len(p) + 1))


def load(tsv):
    rows = []
    for line in open(tsv, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        f = line.rstrip("\n").split("\t")
        f += [""] * (4 - len(f))
        rows.append(f[:4])
    return rows


def main():
    rows = load(sys.argv[1])
    got = {}
    for line in open(sys.argv[2], encoding="utf-8"):
        i, _, t = line.rstrip("\n").partition("\t")
        got[int(i)] = t
    n = len(rows)
    ok = {"command": 0, "name": 0, "amount": 0, "all": 0}
    for i, (text, command, name, amount) in enumerate(rows):
        t = got.get(i, "")
        c = all(has(t, w) for w in command.split())
        nm = has(t, name) if name else True
        a = has(t, amount) if amount else not re.search(r"\d", t)
        for k, v in (("command", c), ("name", nm), ("amount", a), ("all", c and nm and a)):
            ok[k] += v
        mark = "ok  " if c and nm and a else "MISS"
        print(f"{mark} {text!r:70} -> {t!r}")
    print()
    for k in ("command", "name", "amount", "all"):
        print(f"{k:8} {ok[k]:3}/{n} = {100.0 * ok[k] / n:5.1f}%")


if __name__ == "__main__":
    main()
