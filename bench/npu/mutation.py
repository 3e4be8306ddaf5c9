#!/usr/bin/env python3
"""Mutation score of the NPU's co-simulation regression.

Plants each mutant of bench/npu/mutants.txt (operator swaps, off-by-ones in
counters and address generators, dropped tokens, stuck enables) in a copy of
hw/rtl, rebuilds the RTL executor (ember-npu in a build of its own pointed at
the copy with -DEMBER_NPU_RTL_DIR), and runs the regression with `ember-npu
cosim --ref golden --dut rtl` on each program: the example kernels, the
directed programs of the NPU tests (`ember-npu gen --directed`, one
hand-over directory) and constrained-random programs from `ember-npu gen`
(every bias). A mutant is
caught when a run diverges; the report names the program and the first
divergent instruction that localised it. A mutant that does not build is
stillborn and not counted.

  python3 bench/npu/mutation.py [--build DIR] [--dim 8] [--seeds 24]
                                [--only ID,ID] [--out FILE.md]
                                [--handover DIR]... [--no-directed]

--handover DIR adds a compiled model's programs to the regression, first: the
hand-over directory `ember cosim MODEL --dut golden --handover DIR` writes
(compiled at the mutant builds' DIM); `ember-npu cosim DIR` compares them in
order and names the divergent instruction's layer. The detect time of each
caught mutant is the time of the run that caught it.

The last line is `mutants=<n> caught=<n> score=<x> stillborn=<n>`.
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read_mutants(path):
    out = []
    for line in open(path):
        if line.startswith('#') or not line.strip():
            continue
        ident, f, kind, rest = [p.strip() for p in line.split('|', 3)]
        old, new = [s.strip() for s in rest.split(' => ', 1)]
        out.append(dict(id=ident, file=f, kind=kind, old=old, new=new))
    return out


def run(cmd, timeout=None, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, **kw)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(SRC, 'build-mutants'))
    ap.add_argument('--dim', type=int, default=8,
                    help='array size of the mutant builds (8 builds fastest)')
    ap.add_argument('--seeds', type=int, default=24,
                    help='random programs in the regression')
    ap.add_argument('--length', type=int, default=200)
    ap.add_argument('--only', default='', help='comma-separated mutant ids')
    ap.add_argument('--out', default='', help='also write the table (markdown)')
    ap.add_argument('--no-directed', action='store_true',
                    help='leave the directed programs of the NPU tests out')
    ap.add_argument('--handover', action='append', default=[],
                    help='a compiled model\'s hand-over directory (repeatable)')
    args = ap.parse_args()

    mutants = read_mutants(os.path.join(SRC, 'bench', 'npu', 'mutants.txt'))
    if args.only:
        keep = set(args.only.split(','))
        mutants = [m for m in mutants if m['id'] in keep]
    work = os.path.join(args.build, 'mutant-work')
    rtl = os.path.join(work, 'rtl')
    progs = os.path.join(work, 'programs')
    os.makedirs(progs, exist_ok=True)
    if os.path.exists(rtl):
        shutil.rmtree(rtl)
    shutil.copytree(os.path.join(SRC, 'hw', 'rtl'), rtl)
    cfg = run(['cmake', '-S', SRC, '-B', args.build, '-G', 'Ninja',
               '-DCMAKE_BUILD_TYPE=Release', '-DEMBER_BUILD_TESTS=OFF',
               '-DEMBER_BUILD_PYTHON=OFF', '-DEMBER_NPU_DIM=%d' % args.dim,
               '-DEMBER_NPU_RTL=ON', '-DEMBER_NPU_RTL_TRACE=OFF',
               '-DEMBER_NPU_RTL_OPT_FAST=-O1', '-DEMBER_NPU_RTL_DIR=' + rtl])
    if cfg.returncode:
        sys.exit('error: configuring the mutant build failed (%s)\n%s' %
                 (args.build, cfg.stdout[-2000:]))
    npu = os.path.join(args.build, 'bin', 'ember-npu')

    def build():
        t0 = time.time()
        r = run(['cmake', '--build', args.build, '-j2', '--target', 'ember-npu'])
        return r.returncode == 0, time.time() - t0, r.stdout

    ok, secs, log = build()
    if not ok:
        sys.exit('error: the unmutated RTL does not build\n' + log[-3000:])
    # The regression: the models' hand-overs, the kernels and random
    # programs of every bias.
    cases = [('model ' + os.path.basename(os.path.abspath(h)), h)
             for h in args.handover]
    for k in ('gemm', 'conv', 'conv16x8'):
        p = os.path.join(progs, 'kernel_' + k)
        run([npu, 'kernel', k, '-o', p])
        cases.append(('kernel ' + k, p))
    if not args.no_directed:
        p = os.path.join(progs, 'directed')
        if os.path.exists(p):
            shutil.rmtree(p)
        run([npu, 'gen', '--directed', '-o', p])
        cases.append(('directed', p))
    biases = ['none', 'dma', 'gemm', 'vector', 'hazards']
    for s in range(args.seeds):
        b = biases[s % len(biases)]
        p = os.path.join(progs, 'gen_%d_%s' % (s, b))
        run([npu, 'gen', '--seed', str(s), '--length', str(args.length),
             '--bias', b, '-o', p])
        cases.append(('gen --seed %d --bias %s' % (s, b), p))

    def regress():
        start = time.time()
        for name, p in cases:
            what = [p] if os.path.isdir(p) else [p + '.nasm', '--load', p + '.dram@0']
            t0 = time.time()
            try:
                r = run([npu, 'cosim'] + what +
                        ['--ref', 'golden', '--dut', 'rtl', '--no-waveform',
                         '--max-bytes', '4'],
                        timeout=300)
            except subprocess.TimeoutExpired:
                return name, 'timeout (300 s)', time.time() - t0
            if r.returncode != 0:
                first = [l for l in r.stdout.splitlines()
                         if l.startswith('first divergence') or l.startswith('  engine')
                         or l.startswith('  in layer')]
                last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''
                return name, ' / '.join(first) or last, time.time() - t0
        return None, '', time.time() - start

    base, why, _ = regress()
    if base:
        sys.exit('error: the unmutated RTL diverges on %s: %s' % (base, why))
    print('baseline: %d programs agree (DIM %d, build %.0f s)' %
          (len(cases), args.dim, secs), flush=True)

    rows = []
    for m in mutants:
        path = os.path.join(rtl, m['file'])
        orig = open(os.path.join(SRC, 'hw', 'rtl', m['file'])).read()
        if m['old'] not in orig:
            sys.exit('error: mutant %s: its text is not in hw/rtl/%s' %
                     (m['id'], m['file']))
        open(path, 'w').write(orig.replace(m['old'], m['new'], 1))
        ok, secs, log = build()
        if not ok:
            rows.append((m, 'stillborn', '', '', secs, 0.0))
        else:
            name, why, t = regress()
            rows.append((m, 'caught' if name else 'survived', name or '', why,
                         secs, t))
        open(path, 'w').write(orig)
        r = rows[-1]
        print('%-14s %-10s %-9s %s %s (build %.0f s, %s %.1f s)' %
              (m['id'], m['kind'], r[1], r[2], r[3], r[4],
               'caught in' if r[1] == 'caught' else 'regression', r[5]),
              flush=True)
    # Leave the copy unmutated and built.
    build()
    live = [r for r in rows if r[1] != 'stillborn']
    caught = [r for r in live if r[1] == 'caught']
    if args.out:
        with open(args.out, 'w') as f:
            f.write('| mutant | kind | result | caught by | first divergence |\n')
            f.write('|---|---|---|---|---|\n')
            for m, res, name, why, _, _ in rows:
                f.write('| %s | %s | %s | %s | %s |\n' %
                        (m['id'], m['kind'], res, name, why.replace('|', '/')))
    print('mutants=%d caught=%d score=%.3f stillborn=%d' %
          (len(live), len(caught), len(caught) / len(live) if live else 0,
           len(rows) - len(live)))


if __name__ == '__main__':
    main()
