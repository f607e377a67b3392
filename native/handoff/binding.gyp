{
  "targets": [
    {
      "target_name": "handoff",
      "sources": ["handoff.c", "user-entry.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]
    }
  ]
}
