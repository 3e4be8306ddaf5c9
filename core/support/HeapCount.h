// The process's heap in use, for tests that check a cycle (compile and
// release, create and release) keeps nothing: glibc's mallinfo2, counting
// every arena (each thread's too, checked: a thread's 10 MB in an arena of
// its own reads as 10 MB) and mmapped blocks. Memory taken some other way
// (mmap, a device) is not seen.
//
// What mallinfo2 counts as in use includes glibc's per-thread caches of
// freed chunks (tcache: up to 7 chunks of each of 64 sizes, 16 to 1032
// bytes, about 240 KB at most per thread), which fill and drain as a thread
// allocates: a plugin that keeps nothing read 100-400 bytes of growth per
// compilation for its first hundred compilations, and again now and then
// after. settledHeapInUse() takes the calling thread's cache out of that:
// it reads with the cache full in every size, so two readings differ by
// what was allocated and not freed between them (to 0 +- 2 bytes per
// compilation from the first tens on, as with the cache off through
// GLIBC_TUNABLES=glibc.malloc.tcache_count=0). Other threads' caches remain.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <malloc.h>

namespace ember {

#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
constexpr bool kHaveHeapCount = true;
// Bytes allocated from the heap now, in every arena (mmapped blocks too).
inline int64_t heapInUse() {
  struct mallinfo2 m = mallinfo2();
  return int64_t(m.uordblks + m.hblkhd);
}

namespace heap_count {
// Called through volatile pointers: a malloc and free of nothing else may
// otherwise be dropped by the compiler.
inline void *(*volatile allocate)(size_t) = std::malloc;
inline void (*volatile release)(void *) = std::free;
// Chunks allocated and freed per size: more than the cache holds of each
// (glibc's default 7; the tunable glibc.malloc.tcache_count may raise it,
// and a larger cache is noise again).
constexpr int kFill = 16;
// The largest request the cache takes by default (glibc.malloc.tcache_max).
constexpr size_t kLargestCached = 1032;
} // namespace heap_count

// heapInUse() with the calling thread's tcache full in every size: kFill
// chunks of each size allocated (the first from the cache), then freed
// (the cache takes them until full, the arena the rest), so that the cache
// holds the same bytes at every reading.
inline int64_t settledHeapInUse() {
  void *chunks[heap_count::kFill];
  for (size_t size = 8; size <= heap_count::kLargestCached; size += 8) {
    for (void *&c : chunks)
      c = heap_count::allocate(size);
    for (void *c : chunks)
      heap_count::release(c);
  }
  return heapInUse();
}
#else
// This C library has no mallinfo2(): callers skip their checks.
constexpr bool kHaveHeapCount = false;
inline int64_t heapInUse() { return 0; }
inline int64_t settledHeapInUse() { return 0; }
#endif

} // namespace ember
