// TextStream: stop strings split across pieces are caught and never sent, and text is sent
// only in whole UTF-8 characters.
#include "serve/text_stream.h"

#include <gtest/gtest.h>

namespace dcllm {
namespace {

TEST(TextStream, HoldsBackWhatMayBeginAStopString) {
  TextStream s({"\n\nUser:"});
  EXPECT_EQ(s.feed("Hello"), "Hello");
  EXPECT_EQ(s.feed(" there\n"), " there");  // "\n" may begin the stop string
  EXPECT_EQ(s.feed("\nUs"), "");
  EXPECT_EQ(s.feed("er: more"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.feed("ignored"), "");
  EXPECT_EQ(s.finish(), "");
}

TEST(TextStream, ReleasesHeldTextThatTurnsOutNotToMatch) {
  TextStream s({"STOP"});
  EXPECT_EQ(s.feed("a ST"), "a ");
  EXPECT_EQ(s.feed("OP"), "");
  EXPECT_TRUE(s.stopped());

  TextStream t({"STOP"});
  EXPECT_EQ(t.feed("a ST"), "a ");
  EXPECT_EQ(t.feed("ART"), "START");
  EXPECT_EQ(t.feed(" S"), " ");
  EXPECT_FALSE(t.stopped());
  EXPECT_EQ(t.finish(), "S");
}

TEST(TextStream, EarliestOfSeveralStopStringsWins) {
  TextStream s({"world", "lo"});
  EXPECT_EQ(s.feed("hello world"), "hel");
  EXPECT_TRUE(s.stopped());
}

TEST(TextStream, SendsWholeUtf8CharactersOnly) {
  TextStream s({});
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(s.feed("a\xE2"), "a");
  EXPECT_EQ(s.feed("\x82"), "");
  EXPECT_EQ(s.feed("\xAC!"), euro + "!");
  EXPECT_EQ(s.feed("\xF0\x9F"), "");
  EXPECT_EQ(s.finish(), "\xF0\x9F");  // the end sends what is left, complete or not
  EXPECT_EQ(incomplete_utf8_tail("ab"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_tail("\xC3\xA9"), 0u);
  EXPECT_EQ(incomplete_utf8_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_tail("\x80\x80"), 0u);
}

}  // namespace
}  // namespace dcllm
