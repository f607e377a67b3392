#!/usr/bin/env python3
"""Prints one JSON object describing a directory tree, for comparing two trees:
path -> type, mode, owner, size, mtime, content hash, link target, device
numbers, xattrs, and a hard-link group (the first path of each inode with
several names). Run as root so every file can be read. Paths are bytes decoded
as latin-1, so non-UTF-8 names compare exactly."""
import hashlib
import json
import os
import stat
import sys

root = os.fsencode(sys.argv[1])
skip = {os.fsencode(p) for p in sys.argv[2:]}
out = {}
first_name = {}

def describe(rel, full):
    st = os.lstat(full)
    m = st.st_mode
    d = {"mode": oct(stat.S_IMODE(m)), "uid": st.st_uid, "gid": st.st_gid, "mtime": int(st.st_mtime)}
    if stat.S_ISDIR(m):
        d["type"] = "dir"
        d.pop("mtime")  # directory mtimes change as the tree is unpacked
    elif stat.S_ISREG(m):
        d["type"] = "file"
        d["size"] = st.st_size
        h = hashlib.sha256()
        with open(full, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        d["sha256"] = h.hexdigest()
    elif stat.S_ISLNK(m):
        d["type"] = "symlink"
        d["target"] = os.readlink(full).decode("latin-1")
        d.pop("mode")
    elif stat.S_ISCHR(m) or stat.S_ISBLK(m):
        d["type"] = "char" if stat.S_ISCHR(m) else "block"
        d["rdev"] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
    elif stat.S_ISFIFO(m):
        d["type"] = "fifo"
    elif stat.S_ISSOCK(m):
        d["type"] = "socket"
    if not stat.S_ISLNK(m):
        try:
            names = sorted(os.listxattr(full, follow_symlinks=False))
        except OSError:
            names = []
        xs = {n: os.getxattr(full, n, follow_symlinks=False).hex() for n in names}
        if xs:
            d["xattrs"] = xs
    if not stat.S_ISDIR(m) and st.st_nlink > 1:
        key = (st.st_dev, st.st_ino)
        d["inode"] = first_name.setdefault(key, rel.decode("latin-1"))
    return d

for dirpath, dirnames, filenames in os.walk(root):
    dirnames.sort()
    rel_dir = os.path.relpath(dirpath, root)
    for name in sorted(dirnames) + sorted(filenames):
        rel = os.path.normpath(os.path.join(rel_dir, name))
        if rel in skip or any(rel.startswith(s + b"/") for s in skip):
            continue
        out[rel.decode("latin-1")] = describe(rel, os.path.join(dirpath, name))
out["."] = describe(b".", root)
json.dump(out, sys.stdout, sort_keys=True)
