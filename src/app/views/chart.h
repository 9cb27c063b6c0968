// Pieces every chart of the explanation views uses: a frame that knows its rectangle
// (for PNG export), an export toolbar, the colour legend, and rotated axis labels.
#pragma once
#include <functional>
#include <string>

#include "imgui.h"

namespace loupe::app {

struct AppState;

// Wraps a chart in a group whose rectangle EndChart reports for PNG export.
void BeginChart(const char* id);
void EndChart(AppState& app, const char* id);

// "PNG  CSV  JSON" buttons; csv/json make the data when clicked (may be null).
void ExportButtons(AppState& app, const char* chart, const std::string& basename,
                   const std::function<std::string()>& csv, const std::function<std::string()>& json);

// A horizontal colour bar of the colormap from 0 to `max_value`, ticks at 0, ½ and max,
// and `label` (what the colour measures, with its unit) beside it.
void ColorLegend(const char* label, float max_value, float width);

// Text drawn at `pos` rotated by `angle` radians about pos (for crowded axis labels).
void AddTextRotated(ImDrawList* draw, ImVec2 pos, ImU32 color, const char* text, float angle);

// Text clipped to `max_width` with an ellipsis.
std::string FitText(const std::string& text, float max_width);

}  // namespace loupe::app
