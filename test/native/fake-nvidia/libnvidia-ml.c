/* A stand-in for the driver's NVML (tests only). */
#include <stdio.h>

int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char *out, unsigned len) {
  snprintf(out, len, "%s", FAKE_DRIVER_VERSION);
  return 0;
}
