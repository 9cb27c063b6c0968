// The C functions the page calls (web/index.html builds window.loupe on them).
#include <emscripten.h>

#include "app.h"
#include "core/version.h"

extern "C" {

// The engine's version, e.g. "0.1.0" (static storage; read with UTF8ToString).
EMSCRIPTEN_KEEPALIVE const char* loupe_version() { return loupe::kVersion; }

// Threads the engine may use: 1 in loupe.js, navigator.hardwareConcurrency in loupe-mt.js.
EMSCRIPTEN_KEEPALIVE int loupe_threads() { return loupe::app::AvailableThreads(); }

// 1 in the threaded build (loupe-mt.js), 0 in the single-thread one.
EMSCRIPTEN_KEEPALIVE int loupe_threaded() { return loupe::app::ThreadedBuild() ? 1 : 0; }

}
