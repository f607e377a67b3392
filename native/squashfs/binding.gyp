{
  "targets": [
    {
      "target_name": "sqfs_writer",
      "sources": ["addon.c", "writer.c", "compressor-guard.c", "zstd-block.c"],
      "cflags": [
        "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wformat=2", "-Wshadow",
        "<!@(pkg-config --cflags libsquashfs1)"
      ],
      "libraries": ["<!@(pkg-config --libs libsquashfs1)", "<!@(pkg-config --libs libzstd)", "-lm"]
    }
  ]
}
