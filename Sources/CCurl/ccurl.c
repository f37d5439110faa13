// Everything lives in include/ccurl.h as static inline wrappers; this file gives SwiftPM a C source to compile.
#include "ccurl.h"
