// How the programs ask the C library to treat freed memory.
//
// glibc's malloc hands large blocks (from 128 KB, a threshold it raises up to 32 MB as it
// goes) back to the kernel when they are freed, and trims the top of its heap; the next
// pass's buffers of the same size then fault in again, page by page, zero-filled. On the
// 2-core machine this project is measured on a fault costs ~11 µs per 4 KB page (2.8 ms per
// MB), so the ~100 MB an explanation of 128 tokens captures cost more to fault in than the
// forward pass that fills them (docs/explain.md, "Cost"). Kept in the heap, freed memory
// serves the next request without faults.
#pragma once

#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace loupe {

// An allocator whose value-less construct() leaves the value uninitialized, for large
// buffers that are always written before they are read (the KV cache): resizing one
// neither zero-fills it nor touches its pages, so a 2048-position cache (94 MB for the
// 124M benchmark model) costs nothing until positions are stored, instead of a pass
// over all of it (and, in fresh memory, a page fault per 4 KB) before the first token.
template <class T>
struct UninitializedAllocator : std::allocator<T> {
  using std::allocator<T>::allocator;
  template <class U>
  struct rebind {
    using other = UninitializedAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
// Floats whose resize leaves new values unset: see UninitializedAllocator.
using UninitializedFloats = std::vector<float, UninitializedAllocator<float>>;

// Keeps freed memory for reuse: no mmap'd blocks, no trimming. Programs call it once at
// start-up (loupe-cli, the native app); the engine never does on its own. A no-op where
// malloc is not glibc's (in wasm the heap never shrinks anyway).
void keep_freed_memory();

}  // namespace loupe
