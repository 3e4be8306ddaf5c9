// The process's heap in use, for tests that check a cycle (compile and
// release, create and release) keeps nothing: glibc's mallinfo2, counting
// every arena and mmapped blocks. Memory taken some other way (mmap, a
// device) is not seen.
#pragma once

#include <cstdint>
#include <malloc.h>

namespace ember {

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
constexpr bool kHaveHeapCount = true;
// Bytes allocated from the heap now, in every arena (mmapped blocks too).
inline int64_t heapInUse() {
  struct mallinfo2 m = mallinfo2();
  return int64_t(m.uordblks + m.hblkhd);
}
#else
// This C library has no mallinfo2(): callers skip their checks.
constexpr bool kHaveHeapCount = false;
inline int64_t heapInUse() { return 0; }
#endif

} // namespace ember
