#!/usr/bin/env python3
"""report.py METRICS RESULTS_MD RSS_SAMPLES: render bench/run.sh's metrics.

Prints the summary table (metric, flowdb, bound, ratio, target) to stdout
and writes the full markdown report.  Standard library only.
"""
import sys


def load(path):
    m = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                m[k] = v
    return m


def num(m, k, default=None):
    try:
        return float(m[k])
    except (KeyError, ValueError):
        return default


def lat(m, key):
    """(p50, p90, p99, max, mean, n) in microseconds, or None."""
    v = m.get("lat_" + key)
    if not v:
        return None
    p = v.split()
    try:
        return tuple(float(x) for x in p[:5]) + (int(p[5]),)
    except (ValueError, IndexError):
        return None


def ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f} ms"


def signed_ms(us):
    return "n/a" if us is None else f"{us / 1000:+.2f} ms"


def fmt_rate(x):
    return "n/a" if x is None else f"{x:,.0f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def verdict(ok):
    return "met" if ok else "NOT met"


def secs(x):
    return "n/a" if x is None else f"{x:.3f} s"


PGNET_BOUND = 200   # pg_net's design: a batch of at most 200 requests per 1 s loop


def main():
    m = load(sys.argv[1])
    out_path = sys.argv[2]
    rss_path = sys.argv[3] if len(sys.argv) > 3 else None
    smoke = m.get("mode") == "smoke"

    tps = num(m, "pgbench_tps")
    tps_b = num(m, "pgbench_batch_steps")
    k = m.get("pgbench_batch_k", "?")
    r1 = num(m, "one_step_rate")
    r5 = num(m, "five_step_rate")
    rs = num(m, "stream_rate")
    r2 = num(m, "two_workers_rate")
    bound = lat(m, "bound_commit")
    fcommit = lat(m, "flowdb_commit")
    p0 = lat(m, "pickup_from_t0")
    p1 = lat(m, "pickup_from_t1")

    rss_start = num(m, "rss_start_kb")
    rss_warm = num(m, "rss_warm_kb")
    rss_peak = num(m, "rss_peak_kb")
    rss_end = num(m, "rss_end_kb")
    growth = None
    if rss_warm and rss_end is not None:
        growth = (rss_end - rss_warm) / rss_warm
    an_start = num(m, "anon_start_kb")
    an_warm = num(m, "anon_warm_kb")
    an_peak = num(m, "anon_peak_kb")
    an_end = num(m, "anon_end_kb")
    an_growth = None
    if an_warm and an_end is not None:
        an_growth = (an_end - an_warm) / an_warm
    total_steps = sum(int(num(m, f"{p}_steps", 0)) for p in ("one_step", "five_step", "stream"))

    # the ceilings (pgbench doing the worker's own writes, below)
    c1 = num(m, "ceiling_steps")
    c2 = num(m, "ceiling2_steps")
    c5 = num(m, "ceiling5_steps")
    nfan = num(m, "fan_n", 0)
    fan = num(m, "fan_flowdb_secs")
    fan_curl = num(m, "fan_curl_secs")
    fan_floor = nfan / c1 if c1 and nfan else None    # the fan-out's writes alone, s

    def quotient(a, b):
        return a / b if a is not None and b else None

    # a target cell: met or not by value (a ratio), and the ratio the
    # writes alone reach when even they miss it
    def target(label, value, ceiling, meets):
        cell = f"{label}: {verdict(value is not None and meets(value))}"
        if ceiling is not None and not meets(ceiling):
            cell += f" (writes alone: {ceiling:.2f}x)"
        return cell

    # summary rows: metric, flowdb, bound, ratio, target
    rows = []
    rows.append(("Throughput, 1-step runs (steps/s)", fmt_rate(r1),
                 f"{fmt_rate(tps)} (pgbench tps)", ratio(r1, tps),
                 f">= 1.5x: {verdict(r1 is not None and tps and r1 / tps >= 1.5)}"))
    rows.append(("Throughput, 5-step runs (steps/s)", fmt_rate(r5),
                 f"{fmt_rate(tps)} (pgbench tps)", ratio(r5, tps),
                 f">= 1.5x: {verdict(r5 is not None and tps and r5 / tps >= 1.5)}"))
    rows.append(("Throughput, steady stream (steps/s)", fmt_rate(rs),
                 f"{fmt_rate(tps)} (pgbench tps)", ratio(rs, tps), "(queue-rate bound)"))
    rows.append((f"Throughput, 1-step vs batched bound ({k} steps/txn)", fmt_rate(r1),
                 f"{fmt_rate(tps_b)} (steps/s)", ratio(r1, tps_b),
                 target(">= 0.6x", quotient(r1, tps_b), quotient(c1, tps_b), lambda x: x >= 0.6)))
    rows.append((f"Throughput, 5-step vs batched bound ({k} steps/txn)", fmt_rate(r5),
                 f"{fmt_rate(tps_b)} (steps/s)", ratio(r5, tps_b),
                 target(">= 0.6x", quotient(r5, tps_b), quotient(c5, tps_b), lambda x: x >= 0.6)))
    if "two_workers_rate" in m:
        rows.append((f"Throughput, 1-step runs, two workers vs batched bound ({k} steps/txn)", fmt_rate(r2),
                     f"{fmt_rate(tps_b)} (steps/s)", ratio(r2, tps_b),
                     target(">= 1.0x", quotient(r2, tps_b), quotient(c2, tps_b), lambda x: x >= 1.0)))
    # the ceiling: pgbench doing the worker's own writes (claim, commits,
    # finish) and nothing else: what no engine with these writes exceeds
    for label, c, r in (("1-step", c1, r1), ("5-step", c5, r5)):
        if c is None:
            continue
        rows.append((f"Ceiling, {label} runs: the worker's writes alone (pgbench, 1 client)", fmt_rate(c),
                     f"{fmt_rate(tps_b)} (batched bound)", ratio(c, tps_b), "(most any engine reaches)"))
        rows.append((f"Throughput, {label} runs vs that ceiling", fmt_rate(r), f"{fmt_rate(c)} (ceiling)",
                     ratio(r, c), "(the engine's own cost)"))
    if c2 is not None:
        rows.append(("Ceiling, 1-step runs: the worker's writes alone (pgbench, 2 clients)", fmt_rate(c2),
                     f"{fmt_rate(tps_b)} (batched bound)", ratio(c2, tps_b), "(most two workers reach)"))
        if "two_workers_rate" in m:
            rows.append(("Throughput, two workers vs that ceiling", fmt_rate(r2), f"{fmt_rate(c2)} (ceiling)",
                         ratio(r2, c2), "(the engine's own cost)"))
    if p0 and bound:
        rows.append(("Pickup p50, arrival - t0 (before COMMIT)", ms(p0[0]),
                     f"{ms(bound[0])} (bare COMMIT p50)", signed_ms(p0[0] - bound[0]),
                     f"<= 1 ms: {verdict(p0[0] <= 1000)}"))
        rows.append(("Pickup p99, arrival - t0 (before COMMIT)", ms(p0[2]),
                     f"{ms(bound[2])} (bare COMMIT p99)", signed_ms(p0[2] - bound[2]),
                     f"<= 5 ms: {verdict(p0[2] <= 5000)}"))
    if p1:
        rows.append(("Pickup p50, arrival - t1 (after COMMIT returned)", ms(p1[0]), "0 (request at commit return)",
                     "-", f"<= 1 ms: {verdict(p1[0] <= 1000)}"))
        rows.append(("Pickup p99, arrival - t1 (after COMMIT returned)", ms(p1[2]), "0", "-",
                     f"<= 5 ms: {verdict(p1[2] <= 5000)}"))
    if fcommit and bound:
        rows.append(("COMMIT of flow_execute p50 / p99", f"{ms(fcommit[0])} / {ms(fcommit[2])}",
                     f"{ms(bound[0])} / {ms(bound[2])}", ratio(fcommit[0], bound[0]), "(cost of queueing)"))
    if rss_warm:
        flat = growth is not None and growth < 0.10
        rows.append(("Worker RSS start / warm / peak / end", f"{rss_start/1024:.1f} / {rss_warm/1024:.1f} / "
                     f"{rss_peak/1024:.1f} / {rss_end/1024:.1f} MB", "-",
                     f"{growth*100:+.1f}% after warm-up" if growth is not None else "n/a",
                     f"(phases of different sizes: {'flat' if flat else 'grows'})"))
    if an_warm:
        flat = an_growth is not None and an_growth < 0.10
        rows.append(("Worker RssAnon (private) start / warm / peak / end",
                     f"{an_start/1024:.1f} / {an_warm/1024:.1f} / {an_peak/1024:.1f} / {an_end/1024:.1f} MB", "-",
                     f"{an_growth*100:+.1f}% after warm-up" if an_growth is not None else "n/a",
                     f"(phases of different sizes: {'flat' if flat else 'grows'})"))
    cpu1 = num(m, "one_step_cpu_us_per_step")
    if cpu1 is not None:
        busy = m.get("one_step_cpu_busy_pct")
        rows.append(("Worker CPU per step, 1-step phase", f"{cpu1:.0f} us (busy {busy}%)", "-",
                     f"max {1e6 / cpu1:,.0f} steps/s per core" if cpu1 else "n/a", "(where the time goes)"))
    an_c0 = num(m, "five_step_anon_end_kb")
    an_c1 = num(m, "stream_anon_end_kb")
    if an_c0 and an_c1 is not None:
        g = (an_c1 - an_c0) / an_c0
        rows.append(("Worker RssAnon over the steady-stream phase", f"{an_c0/1024:.1f} -> {an_c1/1024:.1f} MB", "-",
                     f"{g*100:+.1f}% over {int(num(m, 'stream_steps', 0)):,} steps",
                     f"flat (< 10%) across the stream: {verdict(g < 0.10)}"))
    # slow API: the in-flight bound max_inflight / latency
    slow = num(m, "slow_rate_from_start")
    slow_bound = num(m, "slow_bound")
    slow_ms = m.get("slow_delay_ms", "?")
    if slow is not None or slow_bound is not None:
        rows.append((f"Slow API ({slow_ms} ms answers), 1-step runs (steps/s)", fmt_rate(slow),
                     f"{fmt_rate(slow_bound)} (max_inflight {m.get('slow_max_inflight', '?')} / {slow_ms} ms)",
                     ratio(slow, slow_bound),
                     f">= 0.9x: {verdict(slow is not None and slow_bound and slow / slow_bound >= 0.9)}"))
        rows.append(("Slow API vs pg_net's design bound (steps/s)", fmt_rate(slow),
                     f"{PGNET_BOUND} (pg_net: batch 200 per 1 s loop)", ratio(slow, PGNET_BOUND),
                     "(for reference)"))
    if fan is not None or fan_curl is not None:
        rows.append((f"Fan-out, {int(num(m, 'fan_n', 0)):,} GETs as 1-step runs (COMMIT to last answer)", secs(fan),
                     f"{secs(fan_curl)} (curl --parallel-max {m.get('fan_parallel', '?')})", ratio(fan, fan_curl),
                     target("<= 2x", quotient(fan, fan_curl), quotient(fan_floor, fan_curl), lambda x: x <= 2)))
    if fan_curl and fan_floor:
        rows.append((f"Fan-out: the writes alone of {int(nfan):,} runs, one client", secs(fan_floor),
                     f"{secs(fan_curl)} (curl)", ratio(fan_floor, fan_curl), "(least any engine takes)"))
    map_rate = num(m, "map_rate")
    if map_rate is not None:
        rows.append((f"Map over {int(num(m, 'map_items', 0)):,} items in one run (steps/s)", fmt_rate(map_rate),
                     f"{fmt_rate(num(m, 'one_step_rate'))} (the same step as 1-step runs)",
                     ratio(map_rate, num(m, "one_step_rate")), "(for reference)"))
    sub_secs = num(m, "submap_secs")
    if sub_secs:
        nsub = num(m, "submap_items", 0)
        rows.append((f"Map over {int(nsub):,} items of a sub-workflow (a child run each, 10 at a time)",
                     f"{sub_secs:.3f} s = {fmt_rate(nsub / sub_secs)} items/s", "-", "-",
                     "(for reference)"))
    tsteps = num(m, "total_steps")
    tcommits = num(m, "total_commits")
    if tsteps and tcommits:
        rows.append(("Worker steps / commits (all phases" + (", one worker)" if "two_workers_rate" in m else ")"), f"{int(tsteps):,} / {int(tcommits):,}", "1 per txn",
                     f"{tsteps / tcommits:.1f} steps/commit", "(batching)"))

    head = ("metric", "flowdb", "bound", "ratio", "target")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]

    def line(r):
        return "| " + " | ".join(str(r[i]).ljust(widths[i]) for i in range(5)) + " |"

    table = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows]
    print("\n".join(table))

    md = []
    md.append(f"# flowdb benchmark results ({m.get('mode')})\n")
    md.append("Generated by `bash bench/run.sh" + (" --smoke" if smoke else "") +
              "`; do not edit by hand.  See bench/README.md for what is measured and how.\n")
    if m.get("failed"):
        md.append(f"**THE RUN FAILED: {m['failed']}**  The numbers below are partial.\n")
    if m.get("worker_crash"):
        md.append("**The flowdb worker crashed:**\n")
        md.append("```\n" + m["worker_crash"] + "\n```\n")
    md.append("## Machine\n")
    md.append(f"- date: {m.get('date')}")
    md.append(f"- nproc: {m.get('nproc')}; CPU: {m.get('cpu')}; memory: {m.get('mem')}; kernel {m.get('kernel')}")
    md.append(f"- PostgreSQL {m.get('pg_version')}; settings: {m.get('pg_settings')}")
    md.append(f"- flowdb commit: {m.get('git')}")
    if m.get("extra_conf"):
        md.append(f"- EXPERIMENT, extra settings (BENCH_CONF): {m['extra_conf']}")
    md.append(f"- load average at start / end: {m.get('loadavg_start')} / {m.get('loadavg_end')} "
              "(anything above ~1 means other processes competed for the 2 cores)")
    md.append(f"- fastserver self-test: {fmt_rate(num(m, 'server_rps'))} req/s with 64 keep-alive connections "
              f"(needs > 20,000: {verdict((num(m, 'server_rps') or 0) > 20000)})")
    md.append(f"- benchmark time: {m.get('bench_secs')} s (total with build {m.get('total_secs')} s)")
    if m.get("build_warning"):
        md.append(f"- WARNING: {m['build_warning']}")
    md.append("")
    md.append("## Summary\n")
    md.extend(table)
    md.append("")
    errors = [f"- {k}: {v}" for k, v in m.items() if k.endswith("_error")]
    if errors:
        md.append("**Errors:**\n")
        md.extend(errors)
        md.append("")

    md.append("## Throughput phases\n")
    md.append("steps/s = log rows / (last finished_at - first finished_at) of the phase, "
              "from flowdb.workflow_logs.  Worker counters from flowdb.worker_info().\n")
    md.append("| phase | runs ok | steps | seconds | steps/s | queueing s | worker commits | steps/commit | wakeups | "
              "worker CPU/step | worker CPU busy | waiting for a CPU | HTTP p50 | VmRSS / RssAnon at end |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for p, label in (("one_step", "1-step, one bulk transaction"),
                     ("five_step", "5-step, one bulk transaction"),
                     ("stream", "1-step, steady stream (pgbench queues 20/txn)"),
                     ("two_workers", "1-step, one bulk transaction, two workers (CPU, RSS: both)")):
        if f"{p}_rate" not in m:
            continue
        md.append(f"| {label} | {m.get(p + '_runs_ok')} | {m.get(p + '_steps')} | {m.get(p + '_secs')} | "
                  f"{fmt_rate(num(m, p + '_rate'))} | {m.get(p + '_queue_secs')} | {m.get(p + '_worker_commits')} | "
                  f"{m.get(p + '_steps_per_commit')} | {m.get(p + '_worker_wakeups')} | "
                  f"{m.get(p + '_cpu_us_per_step')} us | {m.get(p + '_cpu_busy_pct')}% | {m.get(p + '_runq_wait_pct')}% | "
                  f"{m.get(p + '_http_p50_ms')} ms | {num(m, p + '_rss_end_kb', 0) / 1024:.1f} / "
                  f"{num(m, p + '_anon_end_kb', 0) / 1024:.1f} MB |")
    md.append("")
    md.append(f"Total steps in the throughput phases: {total_steps:,}.  Worker CPU busy = its user+system "
              f"time / the phase's wall time (queueing to idle); waiting for a CPU = time it was runnable but "
              f"not running (/proc/<pid>/schedstat): other processes on the machine took the core.\n")
    md.append("## Bound: pgbench, one client, same writes\n")
    md.append(f"- per step (`bench/out/pgbench-step.sql`): BEGIN; INSERT INTO flowdb.workflow_logs (input/output "
              f"jsonb as flowdb wrote them: {m.get('row_bytes')}); UPDATE flowdb.runs SET state = ..., "
              f"updated_at = now() WHERE id = <random existing run>; END.  "
              f"pgbench -c 1 -j 1: **{m.get('pgbench_tps')} tps** (latency {m.get('pgbench_latency_ms')} ms).")
    md.append(f"- batched like flowdb (`bench/out/pgbench-batch.sql`): {k} steps' INSERT + UPDATE per transaction "
              f"({k} = the worker's steps/commit in the 1-step phase): {m.get('pgbench_batch_tps')} tps = "
              f"**{fmt_rate(tps_b)} steps/s**.")
    md.append("- the runs_wake statement trigger is disabled during the bound: clients that queue runs fire it, "
              "the worker's own writes do not.\n")

    if c1 is not None:
        md.append("## Ceiling: pgbench doing the worker's own writes\n")
        md.append(f"The bound above writes what a step writes.  A run writes more: the worker leases it before its "
                  f"request goes out and releases it when it ends.  These scripts write exactly what the worker's "
                  f"claim and commit statements write, by primary key, {m.get('ceiling_k')} runs per transaction, "
                  f"into queued runs made for the purpose (then deleted), right after the bound on the same tables: "
                  f"no walk of the queue, no SKIP LOCKED, no engine, no HTTP.  Like the worker's, the statements "
                  f"are prepared (`pgbench -M prepared`) and the claim commits without waiting for its WAL flush.  "
                  f"So no engine with these writes can go much faster.\n")
        md.append(f"- 1-step (`bench/out/pgbench-ceiling-1step.sql`): the claim (UPDATE of lease, next_at, status "
                  f"with the claim's RETURNING), then one transaction of {m.get('ceiling_k')} log rows and the "
                  f"UPDATE that finishes the runs: **{fmt_rate(c1)} runs/s** with one client = {ratio(c1, tps_b)} of "
                  f"the batched bound; **{fmt_rate(c2)}** with two clients = {ratio(c2, tps_b)}.")
        md.append(f"- 5-step (`bench/out/pgbench-ceiling-5step.sql`): the claim, four commits that keep the lease "
                  f"(HOT updates of state), one that finishes: **{fmt_rate(c5)} steps/s** = {ratio(c5, tps_b)} of the "
                  f"batched bound.  Its state is the 1-step run's at every step, smaller than a 5-step run's.")
        md.append(f"- flowdb / ceiling: 1-step {ratio(r1, c1)}, 5-step {ratio(r5, c5)}"
                  + (f", two workers {ratio(r2, c2)}" if "two_workers_rate" in m else "") + ".\n")

    if "two_workers_rate" in m:
        nw = int(num(m, "two_workers_workers", 2))
        wsteps = [num(m, f"two_workers_w{i}_steps", 0) for i in range(1, nw + 1)]
        wtotal = sum(wsteps) or 1
        md.append("## Two workers\n")
        md.append(f"Last phase: the cluster restarted with flowdb.workers = {m.get('two_workers_setting')}, then the "
                  f"1-step bulk phase again ({m.get('two_workers_runs_ok')} runs, one transaction, same blueprint): "
                  f"**{fmt_rate(r2)} steps/s** over the finished_at span ({m.get('two_workers_secs')} s), "
                  f"{m.get('two_workers_worker_commits')} commits ({m.get('two_workers_steps_per_commit')} steps/commit).\n")
        md.append("- split: " + "; ".join(
            f"worker {i} (pid {m.get(f'two_workers_w{i}_pid')}) {int(wsteps[i - 1]):,} steps "
            f"({100 * wsteps[i - 1] / wtotal:.0f}%) in {m.get(f'two_workers_w{i}_commits')} commits, "
            f"CPU {m.get(f'two_workers_w{i}_cpu_secs')} s" for i in range(1, nw + 1)) + ".")
        md.append(f"- both workers' CPU: {m.get('two_workers_cpu_secs')} s = {m.get('two_workers_cpu_us_per_step')} us "
                  f"per step (1-step phase, one worker: {m.get('one_step_cpu_us_per_step')} us); busy "
                  f"{m.get('two_workers_cpu_busy_pct')}% of one core (at most {100 * nw}%).")
        md.append(f"- bound: the batched pgbench figure above ({k} steps per transaction, one client) = "
                  f"{fmt_rate(tps_b)} steps/s; two workers / bound = {ratio(r2, tps_b)}; target >= 1.0x: "
                  f"**{verdict(r2 is not None and tps_b and r2 / tps_b >= 1.0)}**.\n")

    md.append("## Pickup latency\n")
    md.append("One run at a time: BEGIN; SELECT flow_execute(1-step blueprint, url http://127.0.0.1:PORT/t/{{run.id}}); "
              "t0; COMMIT; t1; arrival = CLOCK_REALTIME at fastserver when the request was read.  "
              "Each sample waits for the run to finish.  Bound samples (bare COMMIT of an equivalent insert into "
              "bench.commit_probe) are interleaved with the flowdb samples.  Raw: bench/out/latency-*.csv.\n")
    md.append("| series | p50 | p90 | p99 | max | mean | n |")
    md.append("|---|---|---|---|---|---|---|")
    for key, label in (("bound_commit", "bound: bare COMMIT (t1 - t0)"),
                       ("flowdb_commit", "flowdb: COMMIT of flow_execute (t1 - t0)"),
                       ("pickup_from_t0", "flowdb: arrival - t0"),
                       ("pickup_from_t1", "flowdb: arrival - t1 (negative: worker beat the client's return)")):
        v = lat(m, key)
        if v:
            md.append(f"| {label} | {ms(v[0])} | {ms(v[1])} | {ms(v[2])} | {ms(v[3])} | {ms(v[4])} | {v[5]} |")
    md.append("")

    if "slow_rate" in m:
        md.append("## Slow API\n")
        md.append(f"{m.get('slow_steps')} 1-step runs ({int(num(m, 'slow_steps', 0)) // max(1, int(num(m, 'slow_max_inflight', 1)))} "
                  f"waves of flowdb.max_inflight = {m.get('slow_max_inflight')}) queued in one transaction; every request "
                  f"goes to fastserver's `/d/{slow_ms}/slow`, answered {slow_ms} ms after it was read.  "
                  f"flowdb.max_host_connections = {m.get('slow_max_host_connections')} "
                  f"({'no cap' if m.get('slow_max_host_connections') == '0' else 'capped'}): "
                  f"the worker may open as many connections to the server as it has requests in flight.  "
                  f"steps/s = log rows / (last finished_at - first started_at): the first answers arrive "
                  f"{slow_ms} ms after the phase starts, so the finished_at span of the other phases would leave out "
                  f"one latency (shown for comparison).\n")
        md.append("| runs ok | steps | seconds (first start to last finish) | **steps/s** | steps/s over the finished_at span | "
                  "HTTP p50 (worker's duration_ms) | in flight: peak / mean | queueing s | worker commits | steps/commit | "
                  "worker CPU/step | worker CPU busy | waiting for a CPU |")
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        md.append(f"| {m.get('slow_runs_ok')} | {m.get('slow_steps')} | {m.get('slow_secs_from_start')} | "
                  f"**{fmt_rate(slow)}** | {fmt_rate(num(m, 'slow_rate'))} ({m.get('slow_secs')} s) | "
                  f"{m.get('slow_http_p50_ms')} ms | {m.get('slow_inflight_peak')} / {m.get('slow_inflight_mean')} | "
                  f"{m.get('slow_queue_secs')} | {m.get('slow_worker_commits')} | {m.get('slow_steps_per_commit')} | "
                  f"{m.get('slow_cpu_us_per_step')} us | {m.get('slow_cpu_busy_pct')}% | {m.get('slow_runq_wait_pct')}% |")
        md.append("")
        md.append(f"- bound: flowdb.max_inflight / latency = {m.get('slow_max_inflight')} / {slow_ms} ms = "
                  f"**{fmt_rate(slow_bound)} steps/s**; flowdb {fmt_rate(slow)} = {ratio(slow, slow_bound)}; "
                  f"target >= 0.9x: **{verdict(slow is not None and slow_bound and slow / slow_bound >= 0.9)}**.")
        md.append(f"- pg_net design bound (batch 200 per 1 s loop): {PGNET_BOUND}/s whatever the latency; "
                  f"flowdb / {PGNET_BOUND} = {ratio(slow, PGNET_BOUND)}.  A design figure, not measured here.")
        md.append(f"- in flight: peak = most requests between their log row's started_at and finished_at at once; "
                  f"mean = sum of (finished_at - started_at) / the phase's seconds (steps/s = mean in flight / "
                  f"mean request time).")
        md.append(f"- server check just before the phase: loadgen, {m.get('slow_selftest_conns')} keep-alive connections "
                  f"on `/d/{slow_ms}/`, closed loop: {fmt_rate(num(m, 'slow_selftest_rps'))} req/s, latency "
                  f"min/mean/max {m.get('slow_selftest_latency_ms')} ms (the server is not the limit when this "
                  f"exceeds the bound: "
                  f"{verdict((num(m, 'slow_selftest_rps') or 0) > (slow_bound or 0))}).\n")

    if "fanout_rate" in m:
        md.append("## Fan-out\n")
        md.append(f"{int(num(m, 'fan_n', 0)):,} GETs of `http://127.0.0.1:PORT/f/<i>` (i = 1..{m.get('fan_n')}, "
                  f"fastserver answers at once).\n")
        md.append(f"- flowdb: {m.get('fan_n')} 1-step runs (`http`/`request`, method GET) queued in one transaction "
                  f"(`flow_execute` over generate_series); from the queuing COMMIT (clock_timestamp() just before "
                  f"it) to the last log row's finished_at (the last answer): **{secs(fan)}**; to the last run's "
                  f"finished_at (now() of the worker's commit): {secs(num(m, 'fan_flowdb_durable_secs'))}.  "
                  f"Runs ok {m.get('fanout_runs_ok')}; the server saw {m.get('fanout_server_requests')} requests; "
                  f"worker {fmt_rate(num(m, 'fanout_rate'))} steps/s over the finished_at span, in flight peak / mean "
                  f"{m.get('fanout_inflight_peak')} / {m.get('fanout_inflight_mean')}, HTTP p50 "
                  f"{m.get('fanout_http_p50_ms')} ms, {m.get('fanout_worker_commits')} commits "
                  f"({m.get('fanout_steps_per_commit')} steps/commit), CPU {m.get('fanout_cpu_us_per_step')} us/step.")
        md.append(f"- bound: `curl --parallel --parallel-max {m.get('fan_parallel')} -w '%{{http_code}}\\n' "
                  f"-K bench/out/fanout.curl` (one `url` and `output = \"/dev/null\"` per GET; "
                  f"{m.get('fan_curl_version')}), wall time of the process (date +%s.%N around it): "
                  f"**{secs(fan_curl)}**; all {m.get('fan_n')} answers 200, the server saw "
                  f"{m.get('fan_curl_server_requests')} requests.")
        md.append(f"- flowdb / curl = {ratio(fan, fan_curl)}; target <= 2x: "
                  f"**{verdict(fan is not None and fan_curl and fan / fan_curl <= 2)}**.\n")

    if "map_rate" in m:
        md.append("## A large map\n")
        md.append(f"One run whose `map` node posts to `/w/notify` once per item, 100 at a time, over "
                  f"{int(num(m, 'map_items', 0)):,} items (`{{{{item.phone}}}}`, `{{{{index}}}}` in the body).  The "
                  f"map's items and results are kept apart from the run's state while it runs (flowdb.map_parts: each "
                  f"commit adds the new results only; the final commit writes the whole state): "
                  f"**{m.get('map_run_secs')} s** from the run's start to its finish, "
                  f"{fmt_rate(map_rate)} steps/s over the log rows' finished_at span "
                  f"({ratio(map_rate, num(m, 'one_step_rate'))} of the 1-step runs' rate), "
                  f"{m.get('map_worker_commits')} commits, worker CPU {m.get('map_cpu_us_per_step')} us per item; "
                  f"final state {int(num(m, 'map_state_text_bytes', 0)):,} bytes of JSON, "
                  f"{int(num(m, 'map_state_bytes', 0)):,} stored (compressed).\n")

    md.append("## Worker memory\n")
    md.append(f"VmRSS of the flowdb worker (pid from flowdb.worker_info()), sampled every second during the "
              f"throughput phases ({m.get('rss_samples')} samples, bench/out/rss-*.txt): start "
              f"{(rss_start or 0)/1024:.1f} MB, after warm-up (end of the 1-step phase) {(rss_warm or 0)/1024:.1f} MB, "
              f"peak {(rss_peak or 0)/1024:.1f} MB, end {(rss_end or 0)/1024:.1f} MB"
              + (f" ({growth*100:+.1f}% after warm-up: {'flat' if growth < 0.10 else 'NOT flat'})." if growth is not None else ".")
              + f"  Worker restarted during the run: {'no' if m.get('worker_pid_same') == 'yes' else m.get('worker_pid_same')}.")
    palloc = num(m, "worker_palloc_total")
    if palloc is not None and rss_end:
        md.append(f"\nPostgreSQL memory contexts of the worker at the end (pg_log_backend_memory_contexts, "
                  f"bench/out/worker-memory-contexts-*.txt): {palloc / 1048576:.1f} MB in total; the rest of "
                  f"RssAnon is malloc (cJSON run state, libcurl) and glibc arena slack.")
    if an_warm:
        md.append(f"\nVmRSS counts the shared_buffers pages the worker has touched (RssShmem, "
                  f"{num(m, 'shmem_end_kb', 0)/1024:.1f} MB at the end; bounded by shared_buffers), so it grows while "
                  f"the worker writes to new pages and says little about leaks.  Private memory (RssAnon): start "
                  f"{an_start/1024:.1f} MB, after warm-up {an_warm/1024:.1f} MB, peak {an_peak/1024:.1f} MB, end "
                  f"{an_end/1024:.1f} MB"
                  + (f" ({an_growth*100:+.1f}% after warm-up: {'flat' if an_growth < 0.10 else 'NOT flat'})." if an_growth is not None else "."))
    if rss_path:
        try:
            with open(rss_path) as f:
                pts = [tuple(map(float, l.split())) for l in f if len(l.split()) == 4]
            if pts:
                t0 = pts[0][0]
                step = max(1, len(pts) // 20)
                md.append("\n| t (s) | VmRSS (MB) | RssAnon (MB) | RssShmem (MB) |")
                md.append("|---|---|---|---|")
                sel = pts[::step]
                if (len(pts) - 1) % step:
                    sel.append(pts[-1])
                for t, r, a, sh in sel:
                    md.append(f"| {t - t0:.0f} | {r / 1024:.1f} | {a / 1024:.1f} | {sh / 1024:.1f} |")
        except OSError:
            pass
    md.append("")
    md.append("## flowdb.worker_info() at the end\n")
    md.append(f"claimed {m.get('total_claimed')}, steps {m.get('total_steps')}, commits {m.get('total_commits')}, "
              f"wakeups {m.get('total_wakeups')}"
              + (f" -> {tsteps / tcommits:.1f} steps per commit overall (includes the latency phase, 1 step per commit, and the slow-API and fan-out phases)."
                 if tsteps and tcommits else ".")
              + (" Read before the restart with two workers (the counters start from zero at a restart)."
                 if "two_workers_rate" in m else ""))
    md.append("")
    with open(out_path, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
