#!/usr/bin/env python3
"""Simulation speed of the NPU's SystemC model and RTL, against a baseline build.

Runs `npu-rtl-bench --raw` of this build and, with --baseline, of another
build's (an older commit built with this benchmark's source: RtlBench.cpp only
uses driver.h and the example kernels), interleaved run by run so both see the
same load, and prints per executor and kernel the median simulated cycles per
second of CPU time (user + sys of the run) of each and their ratio. With
--callgrind it also counts the instructions each executes per simulated cycle
(valgrind --tool=callgrind, one run, collecting inside ember_npu_run only),
which does not depend on the machine's load.

  python3 bench/npu/sim_speed.py --bench build/bin/npu-rtl-bench \\
      [--baseline OLD/bin/npu-rtl-bench] [--rounds 5] [--callgrind] \\
      [--executor rtl,systemc] [--kernel gemm,conv]

A baseline whose npu-rtl-bench has no --raw (any older build) is compared by
instruction counts alone: --cli build/bin/ember-npu --baseline-cli
OLD/bin/ember-npu counts the instructions inside ember_npu_run of one
`ember-npu sim --executor E` run of each kernel with each (the SystemC model's
elaboration included, the same in both) and prints their ratio.

docs/npu-rtl.md ("Simulation speed") and docs/npu-performance.md have the
figures and the commands that made them.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile


def raw_runs(bench, executors, kernels, reps):
    """{(executor, kernel): (cycles, [cpu seconds])} of one invocation."""
    out = subprocess.run([bench, '--raw', '--reps', str(reps), '--executor',
                          executors, '--kernel', kernels],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    if out.returncode != 0:
        sys.exit('error: %s failed: %s' % (bench, out.stderr.strip()))
    runs = {}
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) != 7 or f[0] != 'raw':
            continue
        key = (f[1], f[2])
        cycles, cpu = int(f[3]), float(f[4])
        runs.setdefault(key, (cycles, []))[1].append(cpu)
    return runs


def callgrind_refs(bench, executor, kernel, reps):
    """(instructions inside ember_npu_run, simulated cycles of a run)."""
    with tempfile.TemporaryDirectory() as tmp:
        cg = os.path.join(tmp, 'cg.out')
        out = subprocess.run(
            ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + cg,
             '--toggle-collect=ember_npu_run', bench, '--raw', '--reps',
             str(reps), '--executor', executor, '--kernel', kernel],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        m = re.search(r'refs:\s+([\d,]+)', out.stderr)
        c = [l.split() for l in out.stdout.splitlines() if l.startswith('raw ')]
        if out.returncode != 0 or not m or not c:
            return None, None
        return int(m.group(1).replace(',', '')), int(c[0][3])


def insns_per_cycle(bench, executor, kernel):
    """User-space instructions per simulated cycle of one run after the
    first (two runs' count minus one run's: the first run, untimed, includes
    the SystemC model's elaboration)."""
    if not shutil.which('valgrind'):
        return None
    one, cycles = callgrind_refs(bench, executor, kernel, 1)
    two, _ = callgrind_refs(bench, executor, kernel, 2)
    if one is None or two is None:
        return None
    return (two - one) / cycles


def cli_insns_per_cycle(cli, executor, kernel, work):
    """Instructions inside ember_npu_run per simulated cycle of one
    `ember-npu sim` run of the example kernel (None without valgrind)."""
    if not shutil.which('valgrind'):
        return None
    prefix = os.path.join(work, kernel)
    if not os.path.exists(prefix + '.nasm'):
        subprocess.run([cli, 'kernel', kernel, '-o', prefix], check=True,
                       stdout=subprocess.DEVNULL)
    cg = os.path.join(work, 'cg.out')
    out = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=' + cg,
         '--toggle-collect=ember_npu_run', cli, 'sim', prefix + '.nasm',
         '--load', prefix + '.dram@0', '--dram-bytes', '1048576',
         '--executor=' + executor, '--quiet'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = re.search(r'refs:\s+([\d,]+)', out.stderr)
    c = re.search(r'cycles=(\d+)', out.stdout)
    if out.returncode != 0 or not m or not c:
        sys.exit('error: %s sim --executor=%s on %s failed: %s' %
                 (cli, executor, kernel, out.stderr.strip()[-400:]))
    return int(m.group(1).replace(',', '')) / int(c.group(1))


def cli_table(args):
    """The --cli / --baseline-cli instruction-count comparison."""
    print('instructions inside ember_npu_run per simulated cycle, one '
          '`ember-npu sim` run each (valgrind --tool=callgrind)')
    print()
    print('| executor | kernel | this | baseline | baseline / this |')
    print('|---|---|---|---|---|')
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.kernel.split(','):
            for ex in args.executor.split(','):
                this = cli_insns_per_cycle(args.cli, ex, k, tmp)
                base = cli_insns_per_cycle(args.baseline_cli, ex, k, tmp)
                if this is None or base is None:
                    sys.exit('error: valgrind not found (--cli needs it)')
                print('| %s | %s | %.0f | %.0f | %.2fx |' %
                      (ex, k, this, base, base / this))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--bench', default='', help="this build's npu-rtl-bench")
    ap.add_argument('--cli', default='', help="this build's ember-npu "
                    '(with --baseline-cli: instruction counts only)')
    ap.add_argument('--baseline-cli', default='',
                    help="another build's ember-npu (the before column)")
    ap.add_argument('--baseline', default='',
                    help="another build's npu-rtl-bench (the before column)")
    ap.add_argument('--rounds', type=int, default=5,
                    help='interleaved rounds (each --reps runs per kernel)')
    ap.add_argument('--reps', type=int, default=5,
                    help='timed runs per kernel in a round (after an untimed '
                         'one)')
    ap.add_argument('--executor', default='rtl,systemc')
    ap.add_argument('--kernel', default='gemm,conv')
    ap.add_argument('--callgrind', action='store_true',
                    help='also count instructions per simulated cycle')
    args = ap.parse_args()
    if args.cli or args.baseline_cli:
        if not (args.cli and args.baseline_cli):
            sys.exit('error: --cli and --baseline-cli go together')
        cli_table(args)
        return
    if not args.bench:
        sys.exit('error: --bench (or --cli and --baseline-cli) is required')
    benches = [('this', args.bench)]
    if args.baseline:
        benches.append(('baseline', args.baseline))
    cpu = {}
    cycles = {}
    for _ in range(args.rounds):
        for name, bench in benches:
            for key, (cyc, secs) in raw_runs(bench, args.executor, args.kernel,
                                             args.reps).items():
                cycles[(name,) + key] = cyc
                cpu.setdefault((name,) + key, []).extend(secs)
    keys = sorted({k[1:] for k in cycles}, key=lambda k: (k[1], k[0]))
    print('median of %d runs each (%d rounds of %d, interleaved, each after an '
          'untimed run); M = million simulated cycles per second of CPU time '
          '(user + sys)' % (args.rounds * args.reps, args.rounds, args.reps))
    print()
    head = '| executor | kernel | cycles | this | '
    head += 'baseline | this / baseline | ' if args.baseline else ''
    head += 'insns/cycle (this) | ' if args.callgrind else ''
    head += 'insns/cycle (baseline) | ' if args.callgrind and args.baseline else ''
    print(head.rstrip())
    print('|' + '---|' * (head.count('|') - 1))
    for ex, k in keys:
        rate = {}
        for name, _ in benches:
            secs = cpu.get((name, ex, k))
            if secs:
                rate[name] = cycles[(name, ex, k)] / statistics.median(secs) / 1e6
        row = '| %s | %s | %d | %.3f M | ' % (ex, k, cycles[('this', ex, k)],
                                            rate['this'])
        if args.baseline:
            if (('baseline', ex, k) in cycles and
                    cycles[('baseline', ex, k)] != cycles[('this', ex, k)]):
                sys.exit('error: %s %s: %d cycles here, %d in the baseline' %
                         (ex, k, cycles[('this', ex, k)],
                          cycles[('baseline', ex, k)]))
            b = rate.get('baseline')
            row += ('%.3f M | %.2fx | ' % (b, rate['this'] / b)) if b else '- | - | '
        if args.callgrind:
            for name, bench in benches:
                ipc = insns_per_cycle(bench, ex, k)
                row += ('%.0f | ' % ipc) if ipc else 'n/a | '
        print(row.rstrip())


if __name__ == '__main__':
    main()
