# Writes a Pynamic-like package tree: N modules of F functions each, every function
# with a small body, so that importing them all reads N .pyc files of a few KiB.
# Usage: python3 pynamic-gen.py DIR [MODULES] [FUNCTIONS]
import os
import sys

out = sys.argv[1]
modules = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
functions = int(sys.argv[3]) if len(sys.argv) > 3 else 20
os.makedirs(out, exist_ok=True)
for m in range(modules):
    lines = [f'"""Generated module {m}."""', f'VALUE = {m}', '']
    for f in range(functions):
        lines += [
            f'def f{f}(x, y={f}):',
            f'    total = x * {m} + y',
            f'    for i in range({f + 1}):',
            '        total = (total * 31 + i) % 1000003',
            f'    return total, "m{m}.f{f}"',
            '',
        ]
    with open(os.path.join(out, f'pyn{m:04d}.py'), 'w') as fh:
        fh.write('\n'.join(lines))
