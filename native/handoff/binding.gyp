{
  "targets": [
    {
      "target_name": "handoff",
      "sources": ["handoff.c", "user-entry.c", "../common/idle-holder.c"],
      "include_dirs": ["../common"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]
    }
  ]
}
