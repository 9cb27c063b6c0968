// Small drawing helpers shared by the views.
#pragma once

namespace loupe::app {

struct AppState;

// A view's title in the heading font, with its one-sentence purpose below it.
void ViewHeading(const AppState& app, const char* title, const char* purpose);
// Wrapped secondary text.
void Caption(const AppState& app, const char* text);
// A wrapped notice in the warning colour: for things this build cannot do yet.
void Notice(const AppState& app, const char* text);
// A "(?)" that explains something in context when hovered.
void HelpMarker(const char* text);
// Puts the next item on the current row when `width` pixels fit after the last item,
// else on a new row: rows of controls wrap on a narrow window instead of being clipped.
void SameLineIfFits(float width, float spacing = 24.0f);

}  // namespace loupe::app
