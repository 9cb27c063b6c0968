#include "colormap.h"

#include <cmath>

namespace loupe::app {

namespace {
const Rgb kViridis[kColormapSize] = {
#include "colormap_viridis.inc"
};

int Index(float t) {
  if (!(t > 0.0f)) return 0;  // also NaN
  if (t >= 1.0f) return kColormapSize - 1;
  return static_cast<int>(t * (kColormapSize - 1) + 0.5f);
}

uint32_t Pack(const Rgb& c) {
  auto byte = [](float v) { return static_cast<uint32_t>(v * 255.0f + 0.5f); };
  return byte(c.r) | byte(c.g) << 8 | byte(c.b) << 16 | 0xFF000000u;
}
}  // namespace

const Rgb* ViridisTable() { return kViridis; }
Rgb Viridis(float t) { return kViridis[Index(t)]; }
uint32_t ViridisU32(float t) { return Pack(Viridis(t)); }

uint32_t TextColorOnViridis(float t) {
  const Rgb c = Viridis(t);
  const float luma = 0.2126f * c.r + 0.7152f * c.g + 0.0722f * c.b;
  return luma > 0.45f ? 0xFF000000u : 0xFFFFFFFFu;
}

}  // namespace loupe::app
