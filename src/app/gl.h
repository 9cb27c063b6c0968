// OpenGL for the app's own drawing: WebGL2 (OpenGL ES 3.0) on the web, OpenGL 3.3 core
// natively. ImGui's backend loads its own function pointers; ours come from libGL.
#pragma once

#ifdef __EMSCRIPTEN__
#include <GLES3/gl3.h>
#else
#ifndef GL_GLEXT_PROTOTYPES
#define GL_GLEXT_PROTOTYPES 1
#endif
#include <GL/gl.h>
#include <GL/glext.h>
#endif

namespace loupe::app {

// The GLSL version line ImGui's OpenGL3 backend compiles its shaders with.
#ifdef __EMSCRIPTEN__
inline constexpr const char* kGlslVersion = "#version 300 es";
#else
inline constexpr const char* kGlslVersion = "#version 330 core";
#endif

}  // namespace loupe::app
