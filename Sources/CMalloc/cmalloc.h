/* glibc's malloc tuning calls (malloc_trim), which the Glibc module does not export: the daemon gives freed heap
   memory back to the system when its last socket connection closes. */
#include <malloc.h>
