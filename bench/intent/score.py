#!/usr/bin/env python3
"""Score the offline intent parser on bench/intent/utterances.jsonl.

Builds intent_cli (src/intent.c + src/fjson.c), runs every utterance and
prints, per split (dev = the set the parser was tuned on, heldout = written
in a different style and not tuned on) and per language:
  intent accuracy, entity precision/recall/F1 (key and value must match;
  description and currency are not scored), out-of-scope rejection (gold
  UNKNOWN answered UNKNOWN), false actions (an action intent that differs
  from the gold intent: the costly mistake), and the mean time per parse.

  bench/intent/score.py [--json] [--floors]
--floors exits 1 when the held-out figures fall below the floors below.
"""
import json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..', '..', 'src')
ACTIONS = {'CREATE_INVOICE', 'CREATE_PAYMENT_LINK', 'SEND_MESSAGE', 'POST_TO_INSTAGRAM',
           'NOTIFY_SLACK', 'RUN_WORKFLOW', 'CREATE_WORKFLOW', 'CHECK_PAYMENT'}
SCORED = {'name', 'phone', 'email', 'amount', 'message', 'caption', 'image_url', 'channel',
          'payment_id', 'workflow', 'run_id'}
FLOORS = {'intent_accuracy': 0.85, 'entity_f1': 0.80, 'oos_rejection': 0.90, 'false_action_rate': 0.03}


def build():
    exe = os.path.join(tempfile.gettempdir(), 'flowdb_intent_cli_%d' % os.getpid())
    subprocess.check_call(['gcc', '-O2', '-I', SRC, '-o', exe, os.path.join(HERE, 'intent_cli.c'),
                           os.path.join(SRC, 'intent.c'), os.path.join(SRC, 'fjson.c'), '-lcjson', '-lm'])
    return exe


def norm(v):
    if isinstance(v, (int, float)):
        return round(float(v), 2)
    return ' '.join(str(v).lower().replace('mr. ', '').split()).strip(' .?!')


def score(rows, preds):
    n = len(rows)
    ok = tp = fp = fn = 0
    oos = oos_ok = false_actions = 0
    for r, p in zip(rows, preds):
        gi, pi = r['intent'], p['intent']
        ok += gi == pi
        if gi == 'UNKNOWN':
            oos += 1
            oos_ok += pi == 'UNKNOWN'
        if pi in ACTIONS and pi != gi:
            false_actions += 1
        g = {k: norm(v) for k, v in r['entities'].items() if k in SCORED}
        q = {k: norm(v) for k, v in p['entities'].items() if k in SCORED} if pi == gi else {}
        for k, v in q.items():
            if g.get(k) == v:
                tp += 1
            else:
                fp += 1
        fn += sum(1 for k, v in g.items() if q.get(k) != v)
    prec = tp / (tp + fp) if tp + fp else 1.0
    rec = tp / (tp + fn) if tp + fn else 1.0
    return {'n': n, 'intent_accuracy': ok / n if n else 0,
            'entity_precision': prec, 'entity_recall': rec,
            'entity_f1': 2 * prec * rec / (prec + rec) if prec + rec else 0,
            'oos_rejection': oos_oks(oos_ok, oos), 'false_actions': false_actions,
            'false_action_rate': false_actions / n if n else 0}


def oos_oks(a, b):
    return a / b if b else 1.0


def main():
    rows = [json.loads(l) for l in open(os.path.join(HERE, 'utterances.jsonl'), encoding='utf-8')]
    exe = build()
    try:
        out = subprocess.run([exe, '-t'], input='\n'.join(r['text'] for r in rows) + '\n',
                             capture_output=True, text=True, check=True)
    finally:
        os.unlink(exe)
    preds = [json.loads(l) for l in out.stdout.splitlines()]
    us = float(out.stderr.strip() or 0)
    report = {'mean_parse_us': us}
    for name, sel in (('dev', lambda r: r['split'] == 'dev'), ('heldout', lambda r: r['split'] == 'heldout'),
                      ('hinglish', lambda r: r['lang'] == 'hinglish'), ('all', lambda r: True)):
        pairs = [(r, p) for r, p in zip(rows, preds) if sel(r)]
        report[name] = score([a for a, _ in pairs], [b for _, b in pairs])
    if '--json' in sys.argv:
        print(json.dumps(report, indent=1))
    else:
        print('%-9s %5s %8s %8s %8s %8s %6s %7s' % ('split', 'n', 'intent', 'ent_P', 'ent_R', 'ent_F1',
                                                 'oos', 'false'))
        for k in ('dev', 'heldout', 'hinglish', 'all'):
            s = report[k]
            print('%-9s %5d %8.3f %8.3f %8.3f %8.3f %6.3f %3d (%.1f%%)' % (
                k, s['n'], s['intent_accuracy'], s['entity_precision'], s['entity_recall'],
                s['entity_f1'], s['oos_rejection'], s['false_actions'], 100 * s['false_action_rate']))
        print('mean parse time: %.1f us' % us)
        if '-v' in sys.argv:
            for r, p in zip(rows, preds):
                if r['intent'] != p['intent']:
                    print('MISS [%s] %s: want %s got %s' % (r['split'], r['text'], r['intent'], p['intent']))
    if '--floors' in sys.argv:
        h = report['heldout']
        bad = [k for k, f in FLOORS.items()
               if (h[k] > f if k == 'false_action_rate' else h[k] < f)]
        if bad:
            print('below floors: ' + ', '.join('%s=%.3f (floor %.2f)' % (k, h[k], FLOORS[k]) for k in bad))
            sys.exit(1)


if __name__ == '__main__':
    main()
