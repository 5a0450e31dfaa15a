/*
 * A minimal stand-in for libnvidia-ml.so.1, for testing on machines without
 * a GPU. It exports only the functions of an old driver that knows one GPU
 * and its temperature; every other NVML function is missing, exactly as on a
 * driver too old to have it. The exporter must never call a missing function:
 * doing so kills the process with a symbol lookup error.
 *
 * Built with -DNVMLSTUB_NO_COUNT it also lacks nvmlDeviceGetCount_v2 (and
 * nvmlDeviceGetCount), which start-up calls unconditionally: the exporter
 * must refuse such a library before calling into it.
 */
#include <string.h>

typedef int nvmlReturn_t;
typedef void *nvmlDevice_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

static int fake_device;

nvmlReturn_t nvmlInit_v2(void) { return 0; }
nvmlReturn_t nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(nvmlReturn_t r) { (void)r; return "stub error"; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int n) {
    strncpy(v, "999.01", n);
    return 0;
}

#ifndef NVMLSTUB_NO_COUNT
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) { *count = 1; return 0; }
#endif

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
    if (i != 0) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *d = &fake_device;
    return 0;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int n) {
    (void)d;
    strncpy(uuid, "GPU-57b00000-0000-0000-0000-000000000000", n);
    return 0;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int n) {
    (void)d;
    strncpy(name, "Stub GPU", n);
    return 0;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *pci) {
    (void)d;
    memset(pci, 0, sizeof *pci);
    strcpy(pci->busId, "00000000:01:00.0");
    return 0;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t) {
    (void)d; (void)sensor;
    *t = 42;
    return 0;
}
