/* Runs in a test image: loads the driver as CUDA programs do (dlopen by soname,
   found through LD_LIBRARY_PATH) and prints what it answers. */
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
  void *cuda = dlopen("libcuda.so.1", RTLD_NOW), *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
  if (!cuda || !nvml) {
    printf("dlopen failed: %s\n", dlerror());
    return 1;
  }
  int (*init)(unsigned) = (int (*)(unsigned))dlsym(cuda, "cuInit");
  int (*version)(int *) = (int (*)(int *))dlsym(cuda, "cuDriverGetVersion");
  int (*count)(int *) = (int (*)(int *))dlsym(cuda, "cuDeviceGetCount");
  int (*nvml_init)(void) = (int (*)(void))dlsym(nvml, "nvmlInit_v2");
  int (*nvml_version)(char *, unsigned) = (int (*)(char *, unsigned))dlsym(nvml, "nvmlSystemGetDriverVersion");
  if (!init || !version || !count || !nvml_init || !nvml_version) {
    printf("dlsym failed\n");
    return 1;
  }
  int v = 0, n = -1;
  char driver[80] = "";
  int r = init(0);
  version(&v);
  count(&n);
  nvml_init();
  nvml_version(driver, sizeof driver);
  printf("cuInit=%d cuDriverGetVersion=%d cuDeviceGetCount=%d nvmlSystemGetDriverVersion=%s\n", r, v, n, driver);
  return 0;
}
