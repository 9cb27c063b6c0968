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

namespace loupe {

// Keeps freed memory for reuse: no mmap'd blocks, no trimming. Programs call it once at
// start-up (loupe-cli, the native app); the engine never does on its own. A no-op where
// malloc is not glibc's (in wasm the heap never shrinks anyway).
void keep_freed_memory();

}  // namespace loupe
