// Share links: encode/decode round trips, and every kind of broken or hostile fragment
// gives a message instead of a crash or a half-applied state.
#include <gtest/gtest.h>

#include <string>

#include "app.h"
#include "share_link.h"

namespace loupe::app {
namespace {

ShareState FullState() {
  ShareState s;
  s.view = "attention";
  s.model = "https://example.org/models/tiny model.gguf?x=1&y=2#frag";
  s.prompt = "Hà Nội, Huế, Đà Nẵng — 100% \"quoted\" & <tagged> +plus\nnew line\ttab =equals #hash";
  s.seed = 18446744073709551615ull;
  s.temperature = 0.7;
  s.top_k = 40;
  s.top_p = 0.95;
  s.min_p = 0.05;
  s.repeat_penalty = 1.1;
  s.max_tokens = 64;
  s.token = 3;
  s.layer = 2;
  s.head = 11;
  s.method = "integrated_gradients";
  return s;
}

TEST(ShareLink, RoundTripsEveryField) {
  const ShareState s = FullState();
  const std::string fragment = EncodeShareFragment(s);
  EXPECT_EQ(fragment.rfind("v=1&", 0), 0u) << fragment;
  // Only unreserved characters, '%', '=' and '&' appear: safe in any URL.
  for (char c : fragment) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || std::string("-._~%=&").find(c) != std::string::npos) << c;
  const ShareDecode d = DecodeShareFragment("#" + fragment);
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.state, s);
  EXPECT_EQ(DecodeShareFragment(fragment).state, s);  // with or without '#'
}

TEST(ShareLink, RoundTripsAnEmptyState) {
  const ShareDecode d = DecodeShareFragment(EncodeShareFragment(ShareState{}));
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.state, ShareState{});
}

TEST(ShareLink, NoFragmentIsNotAnError) {
  for (const char* f : {"", "#"}) {
    const ShareDecode d = DecodeShareFragment(f);
    EXPECT_FALSE(d.ok);
    EXPECT_TRUE(d.empty);
    EXPECT_TRUE(d.error.empty());
  }
}

TEST(ShareLink, PercentEncodingFollowsRfc3986) {
  EXPECT_EQ(PercentEncode("a b&c=d/é~"), "a%20b%26c%3Dd%2F%C3%A9~");
  EXPECT_EQ(PercentDecode("a%20b+c%2f").value(), "a b c/");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
}

TEST(ShareLink, MangledFragmentsAreRejectedWithAMessage) {
  const char* const mangled[] = {
      "garbage",                        // no key=value
      "view=attention",                 // no version first
      "v=abc&view=attention",           // version not a number
      "v=1&prompt=%E0%A4",              // broken %-escape
      "v=1&prompt=%C3%28",              // invalid UTF-8
      "v=1&prompt=%ED%A0%80",           // a UTF-16 surrogate in UTF-8
      "v=1&prompt=%C0%AF",              // overlong
      "v=1&seed=-1",                    // negative seed
      "v=1&seed=99999999999999999999",  // above 2^64
      "v=1&temperature=nan",
      "v=1&temperature=1e999",
      "v=1&top_p=1.5",
      "v=1&layer=-3",
      "v=1&head=2x",
      "v=1&method=rm%20-rf",
      "v=1&view",                       // key without '='
  };
  for (const char* f : mangled) {
    const ShareDecode d = DecodeShareFragment(f);
    EXPECT_FALSE(d.ok) << f;
    EXPECT_FALSE(d.empty) << f;
    EXPECT_FALSE(d.error.empty()) << f;
    EXPECT_EQ(d.state, ShareState{}) << f << ": nothing half-applied";
  }
}

TEST(ShareLink, UnknownVersionSaysSo) {
  const ShareDecode d = DecodeShareFragment("v=2&view=attention");
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("different version"), std::string::npos) << d.error;
}

TEST(ShareLink, UnknownKeysAreSkipped) {
  const ShareDecode d = DecodeShareFragment("v=1&view=attention&future_key=whatever&&layer=1");
  ASSERT_TRUE(d.ok) << d.error;
  EXPECT_EQ(d.state.view, "attention");
  EXPECT_EQ(d.state.layer, 1);
}

TEST(ShareLink, HugeAndHostileStringsAreBounded) {
  // A fragment past the limit is refused before any work.
  const std::string huge = "v=1&prompt=" + std::string(kMaxShareFragment, 'a');
  ShareDecode d = DecodeShareFragment(huge);
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.error.find("too long"), std::string::npos);
  // A prompt past its own limit.
  d = DecodeShareFragment("v=1&prompt=" + std::string(kMaxSharePrompt + 1, 'b'));
  EXPECT_FALSE(d.ok);
  // Thousands of tiny pairs, NUL bytes and control characters decode or fail, never crash.
  std::string many = "v=1";
  for (int i = 0; i < 5000; ++i) many += "&x=%00";
  EXPECT_TRUE(DecodeShareFragment(many).ok);
  d = DecodeShareFragment("v=1&prompt=%00%01%1B%5B31m");
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.state.prompt, std::string("\0\x01\x1b[31m", 7));
  // Every byte value as a key and a value.
  std::string all = "v=1";
  for (int c = 1; c < 256; ++c)
    if (c != '&' && c != '=' && c != '%') all += "&" + std::string(1, char(c)) + "=" + std::string(1, char(c));
  DecodeShareFragment(all);  // must not crash; its verdict does not matter
}

TEST(ShareLink, AppliesToTheApp) {
  AppState app;
  ShareState s = FullState();
  s.model = "";
  ApplyShareState(app, s);
  EXPECT_EQ(app.view, ViewId::kAttention);
  EXPECT_EQ(std::string(app.explain.prompt), s.prompt);
  EXPECT_EQ(std::string(app.generate.prompt), s.prompt);
  EXPECT_EQ(app.explain.attention.layer, 2);
  EXPECT_EQ(app.explain.attention.head, 11);
  EXPECT_EQ(app.explain.attention.query, 3);
  EXPECT_EQ(app.explain.attribution.method, 1);
  EXPECT_EQ(app.generate.top_k, 40);
  // And back: the app's state gives the same link fields.
  const ShareState back = CurrentShareState(app);
  EXPECT_EQ(back.view, "attention");
  EXPECT_EQ(back.prompt, s.prompt);
  EXPECT_EQ(back.layer, 2);
  EXPECT_EQ(back.method, "integrated_gradients");
  // Every view's name survives the trip.
  for (const ViewInfo& v : Views()) {
    app.view = v.id;
    const ShareDecode d = DecodeShareFragment(EncodeShareFragment(CurrentShareState(app)));
    ASSERT_TRUE(d.ok);
    AppState other;
    ApplyShareState(other, d.state);
    EXPECT_EQ(other.view, v.id) << v.name;
  }
}

TEST(ShareLink, StartupLinkRestoresOrExplains) {
  AppState app;
  app.startup_link = "#v=1&view=logit-lens&prompt=Hu%E1%BA%BF";
  CheckShareLink(app);
  EXPECT_EQ(app.view, ViewId::kLens);
  EXPECT_EQ(std::string(app.explain.prompt), "Huế");
  EXPECT_FALSE(app.link_error);

  AppState broken;
  broken.startup_link = "#v=1&prompt=%ZZ";
  CheckShareLink(broken);
  EXPECT_TRUE(broken.link_error);
  EXPECT_NE(broken.link_message.find("damaged"), std::string::npos) << broken.link_message;
  EXPECT_EQ(broken.view, ViewId::kStart);
}

}  // namespace
}  // namespace loupe::app
