/* A stand-in for the NVIDIA driver's libcuda (tests only): the entry points a
   program calls first, with fixed answers; the device count is the number of
   /dev/nvidia<N> nodes the process can see, as a container binds them. */
#include <dirent.h>
#include <string.h>

int cuInit(unsigned flags) { return flags == 0 ? 0 : 1; /* CUDA_SUCCESS, CUDA_ERROR_INVALID_VALUE */ }

int cuDriverGetVersion(int *version) {
  *version = FAKE_CUDA_VERSION;
  return 0;
}

int cuDeviceGetCount(int *count) {
  DIR *d = opendir("/dev");
  struct dirent *e;
  *count = 0;
  if (!d) return 0;
  while ((e = readdir(d)))
    if (!strncmp(e->d_name, "nvidia", 6) && e->d_name[6] >= '0' && e->d_name[6] <= '9') ++*count;
  closedir(d);
  return 0;
}
