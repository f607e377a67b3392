#!/usr/bin/env python3
"""Joins the tar archives read one after another on stdin into one archive on stdout,
for the build benchmark's floor (`gzip -dc` of each layer | this | tar2sqfs).

tar2sqfs stops at the first end-of-archive blocks and refuses a path twice, so the
layers cannot simply be concatenated: zero blocks between archives are skipped (as
`tar --ignore-zeros` does) and an entry whose path came earlier is dropped (the
first, lower layer's one stays; whiteouts stay plain files). The floor so stands for
inflating and compressing every layer's bytes, not for flattening them. Data is
copied in large pieces; only headers are looked at.
"""
import sys

BLOCK = 512
src = sys.stdin.buffer
out = sys.stdout.buffer
seen = set()


def read_exact(n):
    buf = src.read(n)
    while buf is not None and len(buf) < n:
        more = src.read(n - len(buf))
        if not more:
            break
        buf += more
    return buf


def octal(field):
    field = field.rstrip(b'\0 ').lstrip(b' ')
    if field and field[0] & 0x80:  # GNU base-256
        n = int.from_bytes(field, 'big') & ~(0x80 << (8 * (len(field) - 1)))
        return n
    return int(field or b'0', 8)


def padded(size):
    return (size + BLOCK - 1) // BLOCK * BLOCK


def copy(n, keep):
    while n > 0:
        piece = src.read(min(n, 1 << 20))
        if not piece:
            sys.exit('one-tar: the input ends inside an entry')
        if keep:
            out.write(piece)
        n -= len(piece)


def main():
    pending = []  # extension headers (pax 'x', GNU 'L'/'K') with their data, before their entry
    long_name = None
    while True:
        h = read_exact(BLOCK)
        if not h:
            break
        if len(h) < BLOCK:
            sys.exit('one-tar: the input ends inside a header')
        if h == b'\0' * BLOCK:
            continue  # the end of one layer's archive: go on with the next
        flag = h[156:157]
        size = octal(h[124:136])
        if flag in (b'x', b'L', b'K', b'g'):
            data = read_exact(padded(size))
            if flag == b'g':
                continue
            pending.append(h + data)
            if flag == b'L':
                long_name = data[:size].rstrip(b'\0')
            elif flag == b'x':
                for rec in data[:size].split(b'\n'):
                    if b' path=' in rec:
                        long_name = rec.split(b' path=', 1)[1]
            continue
        name = long_name
        if name is None:
            name = h[0:100].rstrip(b'\0')
            if h[257:262] == b'ustar' and h[345] != 0:
                name = h[345:500].rstrip(b'\0') + b'/' + name
        key = name.strip(b'/')
        if key.startswith(b'./'):
            key = key[2:]
        keep = key not in seen
        seen.add(key)
        data_size = 0 if flag in (b'1', b'2', b'3', b'4', b'5', b'6') else size
        if keep:
            for p in pending:
                out.write(p)
            out.write(h)
        copy(padded(data_size), keep)
        pending = []
        long_name = None
    out.write(b'\0' * (2 * BLOCK))
    out.flush()


main()
