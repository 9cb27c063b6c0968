#include "core/memory.h"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace loupe {

void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);                 // every block from the heap, none mmap'd on its own
  mallopt(M_TRIM_THRESHOLD, 0x7fffffff);  // and the heap never given back
#endif
}

}  // namespace loupe
