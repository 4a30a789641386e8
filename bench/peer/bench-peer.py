#!/usr/bin/env python3
"""bench-peer: gencost and llama.cpp's llama-bench side by side, on the same GGUF files.

A measuring tool (`make bench-peer`), not part of gencost's build or `make test`. Python 3,
standard library only.

usage: bench/peer/bench-peer.py [--gencost PATH] [--llama-bench PATH] [--models LIST]
           [--quants LIST] [--rounds N] [--threads N] [--reps N] [--cache DIR] [--out DIR]
           [--re-export] [--llama-args ARGS] [--gencost-args ARGS]

What it does
  1. Exports each model/quant once with `gencost export --preset P --quant Q` into the cache
     folder (default /tmp/gencost-peer/P-Q.gguf) and reuses the file afterwards. Both tools
     load that one file; gencost runs it with `--quant native` (the file's own tensor types).
  2. Runs ROUNDS rounds (default 3). In each round, for each model/quant, it first measures the
     machine's read bandwidth (`gencost run --workload triad`: its `read` phase where the build
     has one, else the `triad` phase, labelled so), then runs both tools, alternating which
     goes first from round to round (A B, B A, ...), with the same thread count (default:
     every physical core, as `gencost info --json` counts them).
  3. Prints ONE markdown table and writes it with the raw figures into the output folder
     (default CACHE/results-<UTC time>/): table.md, peer.json (everything, every sample),
     peer.csv (the table's numbers), samples.csv (one row per timed sample) and raw/ (each
     tool's own output files and logs).

What each side measures (defaults; --prompts, --depths and --gen change the numbers)
  prefill P (P = 128, 512)
    llama-bench `-p P -n 0`: per repetition the KV cache is cleared, then one llama_decode of
      a P-token batch (random ids; n_batch 2048, n_ubatch 512, so one ubatch) is timed;
      logits of the last position only. Warm-up: one such run.
    gencost `--phases prefill --prompt P`: one forward pass of a P-token batch from an empty
      cache, logits of the last position only. Warm-up: one run (--warmup 1).
  decode, short context and at depth D (D = 0, 128)
    llama-bench `-p 0 -n G -d D` (tg G, G = 32): per repetition the cache is filled to depth D
      (untimed; restored from a saved state after the first), then G single-token
      llama_decode calls at positions D .. D+G-1 are timed together; token/s = G / time.
      Warm-up: one single-token run.
    gencost `--phases decode --kv-depth D+G/2`: each repetition is one token at one KV depth
      (the cache is filled once, untimed, before the repetitions). Attention work grows
      linearly with depth, so the depth is the middle of llama-bench's G positions (D + G/2):
      the same mean work per token. So a gencost sample is one token and a llama-bench sample
      is G tokens; gencost's per-sample spread is naturally wider.
  Both: the KV cache in f16 (-ctk f16 -ctv f16 / --kv-type f16), the same thread count.
  Differences left in place: llama-bench uses its defaults for everything else (flash
  attention `auto`, which llama.cpp resolves per device and peer.json records as llama-bench
  reports it, -1 for auto; no thread pinning, --poll 50); gencost pins one thread per physical core and verifies each case's logits
  against its scalar reference before timing it (untimed). gencost's repetitions run until
  both --reps and 1 s of timed work are reached; llama-bench runs exactly --reps.
  Figures: per tool, model/quant and test, the median and min-max of every timed sample of
  every round (token/s).

Decode bandwidth
  weight bytes read per token (gencost's `weight_bytes_per_token` of the file: every weight
  tensor once, the token embedding as one row; both tools read those tensors per token) x
  token/s, as a fraction of the read bandwidth's median over every probe of the run. KV-cache reads are
  not counted (0.5 MB per 128 positions for tinyllama-1.1b, f16).

Checking identical work
  Both tools load the same file. After each llama-bench run its reported model_size (bytes of
  tensors) and model_n_params are checked against gencost's `weight_bytes` and `params` of the
  same file; a mismatch is printed under the table. Logits are not compared: the llama.cpp
  build this expects (../shared/anchors/build-llama-cpp.sh: llama-bench and test-backend-ops
  only) has no tool that prints logits. gencost's own logits are verified against its scalar
  reference in every case.

Exit status: 0 all ran, 1 some measurement failed (the table says which), 2 bad input or a
missing tool, 130 interrupted (what was measured is still written).
"""
import argparse
import csv
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

DEFAULT_LLAMA_BENCH = "/tmp/anchors/llama.cpp/src/build/bin/llama-bench"
PRESETS = ("tiny", "tinyllama-1.1b", "llama2-7b", "llama3-8b", "mistral-7b")
QUANTS = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q4_k", "q6_k")
TOOLS = ("llama.cpp", "gencost")


class Failure(Exception):
    """A measurement that did not produce figures; the message is one line."""


def die(msg, status=2):
    print(f"bench-peer: {msg}", file=sys.stderr)
    sys.exit(status)


def log(msg):
    print(f"bench-peer: {msg}", file=sys.stderr, flush=True)


def int_list(text, name, lo):
    try:
        vals = [int(x) for x in text.split(",") if x != ""]
    except ValueError:
        die(f"--{name}: '{text}' is not a comma list of whole numbers")
    if not vals or any(v < lo for v in vals):
        die(f"--{name}: '{text}' needs whole numbers of at least {lo}")
    return vals


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="bench-peer",
        description="gencost and llama.cpp's llama-bench side by side on the same GGUF files "
        "(see the header of this script for what each side measures).")
    ap.add_argument("--gencost", default="build/gencost", help="gencost binary (default build/gencost)")
    ap.add_argument("--llama-bench", default=os.environ.get("LLAMA_BENCH", DEFAULT_LLAMA_BENCH),
                    help="llama-bench binary (default $LLAMA_BENCH or " + DEFAULT_LLAMA_BENCH + ")")
    ap.add_argument("--models", default="tinyllama-1.1b",
                    help="comma list of presets, each optionally MODEL:Q/Q to give it its own quants "
                    "(default tinyllama-1.1b; e.g. tinyllama-1.1b,llama2-7b:q4_0)")
    ap.add_argument("--quants", default="q4_0,q8_0,q4_k,f16",
                    help="quants of models without their own (default q4_0,q8_0,q4_k,f16)")
    ap.add_argument("--rounds", default="3", help="A/B rounds (default 3)")
    ap.add_argument("--threads", default="", help="threads for both tools (default: every physical core)")
    ap.add_argument("--reps", default="5", help="timed repetitions per test and round (default 5)")
    ap.add_argument("--prompts", default="128,512", help="prefill sizes (default 128,512)")
    ap.add_argument("--depths", default="0,128", help="decode depths (default 0,128)")
    ap.add_argument("--gen", default="32", help="tokens per llama-bench decode test (default 32)")
    ap.add_argument("--cache", default="/tmp/gencost-peer", help="exported GGUF files (default /tmp/gencost-peer)")
    ap.add_argument("--out", default="", help="output folder (default CACHE/results-<UTC time>)")
    ap.add_argument("--re-export", action="store_true", help="export the GGUF files again even if cached")
    ap.add_argument("--llama-args", default="", help="extra llama-bench arguments (one string)")
    ap.add_argument("--gencost-args", default="", help="extra gencost run arguments (one string)")
    a = ap.parse_args(argv)
    a.rounds = int_list(a.rounds, "rounds", 1)[0]
    a.reps = int_list(a.reps, "reps", 1)[0]
    a.gen = int_list(a.gen, "gen", 2)[0]
    a.prompts = int_list(a.prompts, "prompts", 1)
    a.depths = int_list(a.depths, "depths", 0)
    a.threads = int_list(a.threads, "threads", 1)[0] if a.threads else 0
    default_quants = a.quants.split(",")
    a.items = []
    for spec in a.models.split(","):
        model, _, qs = spec.partition(":")
        if model not in PRESETS:
            die(f"--models: '{model}' is not a preset ({', '.join(PRESETS)})")
        for q in (qs.split("/") if qs else default_quants):
            if q not in QUANTS:
                die(f"--models/--quants: '{q}' is not a quant type ({', '.join(QUANTS)})")
            a.items.append((model, q))
    return a


def run(cmd, log_path, what):
    """Runs cmd, its stdout and stderr into log_path; returns (rc, stdout, stderr)."""
    t0 = time.time()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(log_path, "w") as f:
        f.write("$ " + shlex.join(cmd) + "\n" + p.stdout + "\n--- stderr ---\n" + p.stderr)
    if p.returncode == 130 or p.returncode == -2:
        raise KeyboardInterrupt
    log(f"  {what}: {time.time() - t0:.0f} s{'' if p.returncode == 0 else f' (exit {p.returncode})'}")
    return p.returncode, p.stdout, p.stderr


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1][:300] if lines else "no output"


def check_tools(a):
    if not (os.path.isfile(a.llama_bench) and os.access(a.llama_bench, os.X_OK)):
        die(f"llama-bench not found at {a.llama_bench}: build it with `bash ../shared/anchors/build-llama-cpp.sh` "
            "(or point LLAMA_BENCH=PATH / --llama-bench PATH at one)")
    if not (os.path.isfile(a.gencost) and os.access(a.gencost, os.X_OK)):
        die(f"gencost not found at {a.gencost}: build it with `make`, or pass --gencost PATH")


def host_facts(a):
    p = subprocess.run([a.gencost, "info", "--json"], stdout=subprocess.PIPE, text=True)
    info = json.loads(p.stdout) if p.returncode == 0 else {}
    ver = subprocess.run([a.gencost, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    lver = subprocess.run([a.llama_bench, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True).stdout.strip()
    cores = info.get("cpu", {}).get("cores") or os.cpu_count()
    return {"cpu": info.get("cpu", {}).get("model", "unknown"), "physical_cores": cores,
            "gencost_version": ver, "host": info,
            "llama_bench_version": "; ".join(l.strip() for l in lver.splitlines() if l.strip()).replace("version: ", "")}


def export(a, model, quant):
    path = os.path.join(a.cache, f"{model}-{quant}.gguf")
    if os.path.isfile(path) and not a.re_export:
        return path
    tmp = os.path.join(a.cache, f".{model}-{quant}.partial.gguf")
    log(f"exporting {model} {quant} to {path}")
    rc, out, err = run([a.gencost, "export", "--preset", model, "--quant", quant, tmp],
                       os.path.join(a.raw, f"export-{model}-{quant}.log"), f"export {model} {quant}")
    if rc != 0:
        die(f"gencost export --preset {model} --quant {quant} failed: {last_line(err or out)}", 1)
    os.replace(tmp, path)
    return path


def tests_of(a):
    """The measurements: (key, kind, size) with kind prefill (size P) or decode (size depth)."""
    return ([(f"pp{p}", "prefill", p) for p in a.prompts] +
            [(f"tg{a.gen}" + (f"@d{d}" if d else ""), "decode", d) for d in a.depths])


def label_of(a, key, kind, size):
    if kind == "prefill":
        return f"prefill {size} (pp{size})"
    if size == 0:
        return f"decode, short context (tg{a.gen})"
    return f"decode at depth {size} (tg{a.gen} @ d{size})"


# ---- llama-bench ------------------------------------------------------------------------------

def llama_side(a, model, quant, path, rnd, threads):
    """Two llama-bench runs (prefill sizes, decode depths); returns {test key: record}."""
    base = [a.llama_bench, "-m", path, "-t", str(threads), "-r", str(a.reps), "-ctk", "f16", "-ctv", "f16",
            "-o", "json"] + shlex.split(a.llama_args)
    runs = [("prefill", ["-p", ",".join(map(str, a.prompts)), "-n", "0"]),
            ("decode", ["-p", "0", "-n", str(a.gen), "-d", ",".join(map(str, a.depths))])]
    got = {}
    for kind, extra in runs:
        stem = os.path.join(a.raw, f"llama-{model}-{quant}-r{rnd + 1}-{kind}")
        rc, out, err = run(base + extra, stem + ".log", f"llama-bench {kind}")
        if rc != 0:
            raise Failure(f"llama-bench {kind} exit {rc}: {last_line(err or out)}")
        with open(stem + ".json", "w") as f:
            f.write(out)
        try:
            for t in json.loads(out):
                key = (f"pp{t['n_prompt']}" if t["n_prompt"] else
                       f"tg{t['n_gen']}" + (f"@d{t['n_depth']}" if t["n_depth"] else ""))
                got[key] = {"samples": [float(x) for x in t["samples_ts"]], "model_size": t["model_size"],
                            "model_n_params": t["model_n_params"], "flash_attn": t.get("flash_attn"),
                            "n_threads": t.get("n_threads"), "build_commit": t.get("build_commit"),
                            "model_type": t.get("model_type")}
        except (ValueError, KeyError, TypeError) as e:
            raise Failure(f"llama-bench {kind}: unreadable JSON output ({e})")
    return got


# ---- gencost ----------------------------------------------------------------------------------

def gencost_cases(a):
    """gencost run invocations: (prompt, depth or None, phases); prefill i and decode i share one."""
    n = max(len(a.prompts), len(a.depths))
    out = []
    for i in range(n):
        p = a.prompts[i] if i < len(a.prompts) else None
        d = a.depths[i] if i < len(a.depths) else None
        phases = ",".join(x for x, v in (("prefill", p), ("decode", d)) if v is not None)
        out.append((p if p is not None else a.gen, d, phases))
    return out


def gencost_side(a, model, quant, path, rnd, threads):
    got = {}
    for i, (p, d, phases) in enumerate(gencost_cases(a)):
        stem = os.path.join(a.raw, f"gencost-{model}-{quant}-r{rnd + 1}-{i + 1}")
        cmd = [a.gencost, "run", "--workload", "llm", "--model", path, "--quant", "native", "--threads",
               str(threads), "--prompt", str(p), "--gen", str(a.gen), "--kv-type", "f16", "--phases", phases,
               "--reps", str(a.reps), "--out", stem + ".json"]
        if d is not None:
            cmd += ["--kv-depth", str(d + a.gen // 2)]
        cmd += shlex.split(a.gencost_args)
        rc, out, err = run(cmd, stem + ".log", f"gencost {phases} (prompt {p}" +
                           ("" if d is None else f", depth {d + a.gen // 2}") + ")")
        try:
            with open(stem + ".json") as f:
                res = json.load(f)
        except (OSError, ValueError) as e:
            raise Failure(f"gencost run exit {rc}, no results file ({last_line(err or out)})")
        for c in res.get("cases", []):
            key = f"pp{p}" if c["phase"] == "prefill" else f"tg{a.gen}" + (f"@d{d}" if d else "")
            if c.get("status") != "ok":
                got[key] = {"error": f"gencost {c['phase']}: {c.get('status')}: {c.get('error', '')}"[:300]}
                continue
            m = c.get("metrics", {})
            got[key] = {"samples": [c["work_per_rep"] / s for s in c["samples_s"] if s > 0],
                        "weight_bytes": m.get("weight_bytes"), "params": m.get("params"),
                        "weight_bytes_per_token": m.get("weight_bytes_per_token"),
                        "kv_depth": m.get("kv_depth"), "device": c.get("device"),
                        "threads": c.get("threads"), "verify": c.get("verify", {}).get("detail")}
        if rc != 0 and not got:
            raise Failure(f"gencost run exit {rc}: {last_line(err or out)}")
    return got


def read_bandwidth(a, rnd, idx, threads):
    """The machine's read bandwidth now, GB/s: the triad workload's read phase, else triad."""
    stem = os.path.join(a.raw, f"triad-r{rnd + 1}-{idx + 1}")
    rc, out, err = run([a.gencost, "run", "--workload", "triad", "--threads", str(threads), "--out",
                        stem + ".json"], stem + ".log", "read bandwidth (gencost triad)")
    try:
        with open(stem + ".json") as f:
            cases = {c["phase"]: c for c in json.load(f)["cases"] if c.get("status") == "ok"}
    except (OSError, ValueError, KeyError):
        cases = {}
    for phase in ("read", "triad"):
        if phase in cases:
            return phase, cases[phase]["throughput"]["median"]
    log(f"  no bandwidth figure this round: {last_line(err or out)}")
    return None, None


# ---- summary ----------------------------------------------------------------------------------

def stats_of(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "n": len(samples)} if samples else None


def fmt(x):
    return f"{x:.3g}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def summarise(a, meas, bw):
    """One row per model/quant/test: each tool's statistics, the ratio, decode bandwidth fractions."""
    bw_med = statistics.median(bw["figures"]) if bw["figures"] else None
    rows = []
    for model, quant in a.items:
        for key, kind, size in tests_of(a):
            row = {"model": model, "quant": quant, "test": key, "kind": kind, "label": label_of(a, key, kind, size)}
            for tool in TOOLS:
                recs = [r for r in meas if (r["model"], r["quant"], r["test"], r["tool"]) == (model, quant, key, tool)]
                samples = [s for r in recs for s in r.get("samples", [])]
                errors = [r["error"] for r in recs if "error" in r]
                row[tool] = stats_of(samples)
                row[tool + " errors"] = errors
            bpt = next((r.get("weight_bytes_per_token") for r in meas if r["tool"] == "gencost" and
                        (r["model"], r["quant"]) == (model, quant) and r.get("weight_bytes_per_token")), None)
            row["weight_bytes_per_token"] = bpt
            g, l = row["gencost"], row["llama.cpp"]
            row["ratio"] = g["median"] / l["median"] if g and l else None
            for tool in TOOLS:
                s = row[tool]
                ok = kind == "decode" and s and bpt and bw_med
                row[tool + " decode_gbs"] = bpt * s["median"] / 1e9 if ok else None
                row[tool + " bw_fraction"] = bpt * s["median"] / 1e9 / bw_med if ok else None
            rows.append(row)
    return rows, bw_med


def cell(row, tool):
    s = row[tool]
    if not s:
        return "failed" if row[tool + " errors"] else "—"
    return f"{fmt(s['median'])} ({fmt(s['min'])}–{fmt(s['max'])})"


def bw_cell(row, tool):
    f = row[tool + " bw_fraction"]
    return "" if f is None else f"{f:.2f} ({row[tool + ' decode_gbs']:.1f} GB/s)"


def table(a, rows, bw, bw_med, facts, threads, checks):
    bw_name = bw["phase"] or "read"
    head = ("| model | quant | test | llama.cpp token/s | gencost token/s | gencost ÷ llama.cpp | "
            f"llama.cpp decode ÷ {bw_name} BW | gencost decode ÷ {bw_name} BW |")
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"| {r['model']} | {r['quant']} | {r['label']} | {cell(r, 'llama.cpp')} | {cell(r, 'gencost')} "
                     f"| {ratio} | {bw_cell(r, 'llama.cpp')} | {bw_cell(r, 'gencost')} |")
    if bw["phase"] == "read":
        bw_note = "the `read` phase of `gencost run --workload triad`"
    else:
        bw_note = ("the `triad` phase of `gencost run --workload triad` (this gencost has no `read` phase; "
                   "triad's read-read-write stream is slower than a read-only one)")
    figs = bw["figures"]
    notes = [
        "",
        f"{facts['cpu']}, {threads} threads for both tools, {a.rounds} round(s) alternating A/B, "
        f"{a.reps} repetitions per test per round; token/s median (min–max) over every timed sample.",
        f"{facts['gencost_version']}; llama-bench {facts['llama_bench_version']}.",
        (f"Read bandwidth: {bw_note}, median {bw_med:.1f} GB/s (min {min(figs):.1f}, max {max(figs):.1f}) "
         f"over {len(figs)} sample(s), one before each model/quant of every round; decode ÷ BW = weight bytes per token × token/s ÷ that median."
         if figs else "Read bandwidth: not measured (see raw/triad-*.log), so no decode fractions."),
        "Same file for both tools: " + ("; ".join(checks) if checks else "not checked (no pair ran)") +
        ". Logits not compared: this llama.cpp build has no tool that prints them.",
    ]
    for r in rows:
        for tool in TOOLS:
            for e in sorted(set(r[tool + " errors"])):
                notes.append(f"{tool} {r['model']} {r['quant']} {r['test']}: {e}")
    return "\n".join(lines + notes) + "\n"


def same_file_checks(meas):
    """llama-bench's model_size and n_params against gencost's weight_bytes and params, per file."""
    out = []
    for mq in sorted({(r["model"], r["quant"]) for r in meas}):
        l = next((r for r in meas if (r["model"], r["quant"]) == mq and r["tool"] == "llama.cpp"
                  and "model_size" in r), None)
        g = next((r for r in meas if (r["model"], r["quant"]) == mq and r["tool"] == "gencost"
                  and r.get("weight_bytes")), None)
        if not (l and g):
            continue
        same = int(l["model_size"]) == int(g["weight_bytes"]) and int(l["model_n_params"]) == int(g["params"])
        out.append(f"{mq[0]} {mq[1]} " + (f"{int(g['weight_bytes'])} weight bytes and {int(g['params'])} "
                   "parameters on both sides" if same else
                   f"MISMATCH: llama.cpp {l['model_size']} bytes / {l['model_n_params']} params, gencost "
                   f"{int(g['weight_bytes'])} bytes / {int(g['params'])} params"))
    return out


def write_outputs(a, meas, bw, facts, threads, complete):
    rows, bw_med = summarise(a, meas, bw)
    checks = same_file_checks(meas)
    text = table(a, rows, bw, bw_med, facts, threads, checks)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(text)
    doc = {"complete": complete, "command_line": sys.argv, "finished": utc_now(), "threads": threads,
           "rounds": a.rounds, "reps": a.reps, "facts": facts, "read_bandwidth": bw, "same_file": checks,
           "rows": rows, "measurements": meas}
    with open(os.path.join(a.out, "peer.json"), "w") as f:
        json.dump(doc, f, indent=1)
    with open(os.path.join(a.out, "peer.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "quant", "test", "tool", "median_tps", "min_tps", "max_tps", "n_samples",
                    "ratio_gencost_llama", "decode_gbs", "decode_bw_fraction", "bw_phase", "bw_gbs"])
        for r in rows:
            for tool in TOOLS:
                s = r[tool] or {}
                w.writerow([r["model"], r["quant"], r["test"], tool, s.get("median", ""), s.get("min", ""),
                            s.get("max", ""), s.get("n", 0), "" if r["ratio"] is None else r["ratio"],
                            r[tool + " decode_gbs"] or "", r[tool + " bw_fraction"] or "", bw["phase"] or "",
                            "" if bw_med is None else bw_med])
    with open(os.path.join(a.out, "samples.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "quant", "test", "tool", "round", "sample", "token_per_s"])
        for r in meas:
            for i, s in enumerate(r.get("samples", [])):
                w.writerow([r["model"], r["quant"], r["test"], r["tool"], r["round"], i + 1, s])
    return text, rows


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def measure(a, facts, threads, meas, bw):
    for rnd in range(a.rounds):
        log(f"round {rnd + 1}/{a.rounds}")
        for idx, (model, quant) in enumerate(a.items):
            # One probe before each pair, not one a round: a shared VM's bandwidth drifts within
            # minutes (one sample a round read 48 and 30 GB/s an hour apart, 34-36 between).
            phase, gbs = read_bandwidth(a, rnd, idx, threads)
            if gbs:
                bw["phase"] = bw["phase"] or phase
                bw["figures"].append(gbs)
            path = a.files[(model, quant)]
            order = TOOLS if (rnd + idx) % 2 == 0 else TOOLS[::-1]
            for tool in order:
                log(f" {model} {quant}: {tool}")
                side = llama_side if tool == "llama.cpp" else gencost_side
                try:
                    got = side(a, model, quant, path, rnd, threads)
                except Failure as e:
                    got = {k: {"error": str(e)} for k, _, _ in tests_of(a)}
                for key, rec in got.items():
                    meas.append({"model": model, "quant": quant, "test": key, "tool": tool, "round": rnd + 1,
                                 "file": path, **rec})


def main(argv):
    a = parse_args(argv)
    check_tools(a)
    facts = host_facts(a)
    threads = a.threads or facts["physical_cores"]
    a.out = a.out or os.path.join(a.cache, "results-" + utc_now().replace(":", ""))
    a.raw = os.path.join(a.out, "raw")
    os.makedirs(a.cache, exist_ok=True)
    os.makedirs(a.raw, exist_ok=True)
    a.files = {mq: export(a, *mq) for mq in a.items}
    facts["started"] = utc_now()
    meas, bw = [], {"phase": None, "figures": []}
    complete = True
    try:
        measure(a, facts, threads, meas, bw)
    except KeyboardInterrupt:
        complete = False
    text, rows = write_outputs(a, meas, bw, facts, threads, complete)
    print(text, end="")
    print(f"\nwritten: {a.out}/table.md, peer.json, peer.csv, samples.csv (tool outputs in raw/)")
    if not complete:
        print("interrupted: the table holds what was measured before Ctrl-C", file=sys.stderr)
        return 130
    failed = any(r[t + " errors"] or not r[t] for r in rows for t in TOOLS)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
