// Keyboard shortcuts (src/app/shortcuts.h): key events fed into ImGui frame by frame, as
// the SDL backend would (io.KeysDown indexed by SDL scancode, typed text through
// AddInputCharacter), and the app state checked after each. No window or GL needed.
#include <SDL_scancode.h>
#include <gtest/gtest.h>

#include "app.h"
#include "imgui.h"
#include "shortcuts.h"

namespace loupe::app {
namespace {

class ShortcutsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = nullptr;
    io.DisplaySize = ImVec2(1366, 768);
    io.DeltaTime = 1.0f / 60.0f;
    unsigned char* pixels = nullptr;
    int w = 0, h = 0;
    io.Fonts->GetTexDataAsRGBA32(&pixels, &w, &h);  // builds the atlas NewFrame needs
    Frame();  // every key up
  }
  void TearDown() override { ImGui::DestroyContext(); }

  // One frame with the keys as they are now; HandleShortcuts and the help panel run in it.
  void Frame(bool text_field_active = false) {
    ImGui::NewFrame();
    if (text_field_active) ImGui::GetIO().WantTextInput = true;
    HandleShortcuts(app_);
    DrawShortcutHelp(app_);
    ImGui::Render();
  }

  // Presses `scancode` (with the modifiers) for one frame and releases it the next.
  void Press(int scancode, bool ctrl = false, bool text_field_active = false) {
    ImGuiIO& io = ImGui::GetIO();
    io.KeyCtrl = ctrl;
    io.KeysDown[scancode] = true;
    Frame(text_field_active);
    io.KeysDown[scancode] = false;
    io.KeyCtrl = false;
    Frame(text_field_active);
  }

  void Type(ImWchar c) {
    ImGui::GetIO().AddInputCharacter(c);
    Frame();
  }

  // A synthetic explanation: 6 tokens, layers 0..2, heads 0..3.
  void GiveExplanation() {
    ExplainResult r;
    for (int i = 0; i < 6; ++i) r.tokens.push_back(ExplainToken{});
    r.attention_layers = {0, 1, 2};
    r.attention_heads = {0, 1, 2, 3};
    r.lens_slots = 4;
    app_.explain.result = r;
  }

  AppState app_;
};

TEST_F(ShortcutsTest, CtrlDigitAndPlainDigitSwitchViews) {
  Press(SDL_SCANCODE_3, /*ctrl=*/true);
  EXPECT_EQ(app_.view, Views()[2].id);
  Press(SDL_SCANCODE_5, true);
  EXPECT_EQ(app_.view, ViewId::kAttention);
  Press(SDL_SCANCODE_2);  // a plain digit, no text field active
  EXPECT_EQ(app_.view, ViewId::kModel);
  Press(SDL_SCANCODE_4, false, /*text_field_active=*/true);  // typing a 4 into a field
  EXPECT_EQ(app_.view, ViewId::kModel);
  Press(SDL_SCANCODE_4, true, true);  // Ctrl+4 works even while typing
  EXPECT_EQ(app_.view, ViewId::kTokens);
  EXPECT_STREQ(ViewShortcut(0), "Ctrl+1");
  EXPECT_STREQ(ViewShortcut(9), "");
}

TEST_F(ShortcutsTest, F1AndQuestionMarkToggleTheListAndEscClosesIt) {
  EXPECT_FALSE(app_.show_shortcuts);
  Press(SDL_SCANCODE_F1);
  EXPECT_TRUE(app_.show_shortcuts);
  Press(SDL_SCANCODE_ESCAPE);
  EXPECT_FALSE(app_.show_shortcuts);
  Type('?');
  EXPECT_TRUE(app_.show_shortcuts);
  Type('?');
  EXPECT_FALSE(app_.show_shortcuts);
  // Every shortcut of the list has keys and an action.
  ASSERT_GE(Shortcuts().size(), 8u);
  for (const Shortcut& s : Shortcuts()) {
    EXPECT_NE(s.keys[0], '\0');
    EXPECT_NE(s.action[0], '\0');
  }
}

TEST_F(ShortcutsTest, ArrowsMoveTheFocusToken) {
  app_.view = ViewId::kGenerate;
  app_.engine.tokens.resize(3);
  Press(SDL_SCANCODE_RIGHT);
  EXPECT_EQ(app_.focus_token, 0);
  Press(SDL_SCANCODE_RIGHT);
  Press(SDL_SCANCODE_RIGHT);
  Press(SDL_SCANCODE_RIGHT);  // stays on the last token
  EXPECT_EQ(app_.focus_token, 2);
  Press(SDL_SCANCODE_LEFT);
  EXPECT_EQ(app_.focus_token, 1);
  Press(SDL_SCANCODE_LEFT, false, /*text_field_active=*/true);  // the caret moves, not the token
  EXPECT_EQ(app_.focus_token, 1);
}

TEST_F(ShortcutsTest, AttentionKeysMoveTokenLayerHeadZoomAndArcs) {
  GiveExplanation();
  app_.view = ViewId::kAttention;
  AttentionViewState& a = app_.explain.attention;
  Press(SDL_SCANCODE_LEFT);  // no query yet: the last token
  EXPECT_EQ(a.query, 5);
  Press(SDL_SCANCODE_LEFT);
  EXPECT_EQ(a.query, 4);
  Press(SDL_SCANCODE_RIGHTBRACKET);
  Press(SDL_SCANCODE_RIGHTBRACKET);
  Press(SDL_SCANCODE_RIGHTBRACKET);
  EXPECT_EQ(a.layer, 2);
  Press(SDL_SCANCODE_LEFTBRACKET);
  EXPECT_EQ(a.layer, 1);
  a.mode = AttentionMode::kMean;
  Press(SDL_SCANCODE_PERIOD);
  EXPECT_EQ(a.head, 1);
  EXPECT_EQ(a.mode, AttentionMode::kHead);
  Press(SDL_SCANCODE_COMMA);
  Press(SDL_SCANCODE_COMMA);
  EXPECT_EQ(a.head, 0);
  Press(SDL_SCANCODE_EQUALS);
  EXPECT_FLOAT_EQ(a.zoom, 1.25f);
  Press(SDL_SCANCODE_0);
  EXPECT_FLOAT_EQ(a.zoom, 1.0f);
  EXPECT_EQ(app_.view, ViewId::kAttention);  // 0 is not a view
  ASSERT_TRUE(a.arcs_from_query);
  Press(SDL_SCANCODE_A);
  EXPECT_FALSE(a.arcs_from_query);
  Press(SDL_SCANCODE_RIGHT);  // now the key moves: the token others read
  EXPECT_EQ(a.key, 0);
}

TEST_F(ShortcutsTest, LensLayerAndPosition) {
  GiveExplanation();
  app_.view = ViewId::kLens;
  Press(SDL_SCANCODE_RIGHT);
  EXPECT_EQ(app_.explain.lens.position, 0);
  Press(SDL_SCANCODE_RIGHTBRACKET);
  EXPECT_EQ(app_.explain.lens.layer, 0);
  Press(SDL_SCANCODE_RIGHTBRACKET);
  EXPECT_EQ(app_.explain.lens.layer, 1);
}

TEST_F(ShortcutsTest, ThemeAndCtrlEnterWithoutAModelDoNothingHarmful) {
  const Theme before = app_.theme;
  Press(SDL_SCANCODE_T);
  EXPECT_NE(app_.theme, before);
  EXPECT_TRUE(app_.theme_changed);
  app_.view = ViewId::kGenerate;
  Press(SDL_SCANCODE_RETURN, /*ctrl=*/true);  // no model: nothing starts
  EXPECT_FALSE(app_.engine.generating);
  Press(SDL_SCANCODE_ESCAPE);  // nothing to stop
  EXPECT_FALSE(app_.engine.generating);
}

}  // namespace
}  // namespace loupe::app
