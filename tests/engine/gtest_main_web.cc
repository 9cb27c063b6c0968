// main() for the wasm build of the engine tests (Debian ships gtest's sources, not its
// main library, for emcc).
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
