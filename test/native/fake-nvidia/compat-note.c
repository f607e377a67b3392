/* The note NVIDIA's cuda-compat libcuda carries (tests only): which host driver
   branches the package runs on, read by sif --nv-compat as by nvidia-ctk's hook.
   FAKE_COMPAT_NOTE is the JSON descriptor. */
#define NOTE_SIZE(s) ((sizeof(s) - 1 + 3) & ~3u)

static const struct {
  unsigned namesz, descsz, type;
  char name[20];
  char desc[NOTE_SIZE(FAKE_COMPAT_NOTE)];
} note __attribute__((section(".note.cuda.fwd_compatibility"), used, aligned(4))) = {
  sizeof("NVIDIA Corporation"), sizeof(FAKE_COMPAT_NOTE) - 1, 1, "NVIDIA Corporation", FAKE_COMPAT_NOTE,
};
