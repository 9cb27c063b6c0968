// The landing-pad context of WebAssembly exception handling, for the pthread builds
// (loupe-engine-worker-mt, loupe-mt). Linked only into those; it replaces libunwind's
// Unwind-wasm.o, which the linker then leaves out.
//
// Why: Debian's Emscripten 3.1.6 ships a libunwind whose `__wasm_lpad_context` is
// thread_local, but its clang 14 still compiles every landing pad to write that context
// as a plain global (LLVM made it thread-local only in a later release). In a -pthread
// build thread-locals are real, so the two disagree: landing pads store the landing-pad
// index and LSDA at the TLS *offset* taken as an absolute address (bytes 4..12 of the
// heap), the personality function reads the real thread-local slot, never finds a
// matching catch clause, and every C++ exception escapes to JavaScript as an uncaught
// WebAssembly.Exception followed by endless abort() calls, which in Chromium closes the
// tab. The single-thread builds are unaffected (there thread_local is an ordinary global).
//
// Here the context is an ordinary global, as the compiled landing pads expect. The cost:
// two threads unwinding exceptions at the same instant would share it. The engine throws
// only on the thread that handles requests (the worker's own thread); the kernel pool's
// threads run arithmetic that does not throw.
#include <cstdint>

extern "C" {

// The ABI of compiler-generated landing pads (fields in this order).
struct LoupeLandingPadContext {
  uintptr_t lpad_index;  // in: which landing pad of the function
  uintptr_t lsda;        // in: the function's language-specific data area
  uintptr_t selector;    // out: which catch clause matched (0: none, cleanup only)
};

// The start of the Itanium ABI's _Unwind_Exception: all this file reads of it.
struct LoupeUnwindException {
  uint64_t exception_class;
  void (*exception_cleanup)(int reason, LoupeUnwindException* exception);
};

constexpr int kUrcForeignExceptionCaught = 1;  // _URC_FOREIGN_EXCEPTION_CAUGHT
constexpr int kUaCleanupPhase = 2;             // _UA_CLEANUP_PHASE

// Not thread_local: see the header comment.
LoupeLandingPadContext __wasm_lpad_context;

int __gxx_personality_wasm0(int version, int actions, uint64_t exception_class,
                            LoupeUnwindException* exception, void* context);

// Called from every landing pad with the thrown object. Wasm unwinds in one phase (the
// VM finds the frames), so only the cleanup phase of the personality runs.
int _Unwind_CallPersonality(void* exception_pointer) {
  auto* exception = static_cast<LoupeUnwindException*>(exception_pointer);
  __wasm_lpad_context.selector = 0;
  return __gxx_personality_wasm0(1, kUaCleanupPhase, exception->exception_class, exception,
                                 &__wasm_lpad_context);
}

// Called by __cxa_throw: tag 0 is the C++ exception tag.
int _Unwind_RaiseException(LoupeUnwindException* exception) {
  __builtin_wasm_throw(0, exception);
}

// Called by __cxa_end_catch.
void _Unwind_DeleteException(LoupeUnwindException* exception) {
  if (exception->exception_cleanup) exception->exception_cleanup(kUrcForeignExceptionCaught, exception);
}

// The personality reports the matched clause through register 1.
void _Unwind_SetGR(void* context, int index, uintptr_t value) {
  if (index == 1) static_cast<LoupeLandingPadContext*>(context)->selector = value;
}

// The personality decrements this and uses it as a 1-based call-site index.
uintptr_t _Unwind_GetIP(void* context) {
  return static_cast<LoupeLandingPadContext*>(context)->lpad_index + 2;
}

void _Unwind_SetIP(void*, uintptr_t) {}

uintptr_t _Unwind_GetLanguageSpecificData(void* context) {
  return static_cast<LoupeLandingPadContext*>(context)->lsda;
}

uintptr_t _Unwind_GetRegionStart(void*) { return 0; }

}  // extern "C"
