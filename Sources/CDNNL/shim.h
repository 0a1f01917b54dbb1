// oneDNN's C API (Debian libdnnl-dev: dnnl.h in the default include folder, no pkg-config file).
#include <dnnl.h>
