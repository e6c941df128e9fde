// Tests of NFC: hand cases for each step of UAX #15 and for malformed UTF-8, then strings with
// the NFC Python gave them (tests/data/nfc_vectors.jsonl, by scripts/gen_unicode_nfc_tables.py).
#include "model/unicode_nfc.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace dcllm {
namespace {

// UTF-8 of the code points, so expectations read as the standard writes them.
std::string u8(std::initializer_list<char32_t> cps) {
  std::string out;
  for (char32_t cp : cps) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

TEST(UnicodeNfc, ComposesABaseAndItsMark) {
  EXPECT_EQ(nfc_normalize(u8({'e', 0x301})), u8({0xE9}));
  EXPECT_EQ(nfc_normalize(u8({'c', 'a', 'f', 'e', 0x301, '!'})), u8({'c', 'a', 'f', 0xE9, '!'}));
  // Already composed text stays; decomposition and recomposition meet again.
  EXPECT_EQ(nfc_normalize(u8({0xE9})), u8({0xE9}));
  EXPECT_EQ(nfc_normalize(u8({0x1E08})), u8({0x1E08}));             // C, cedilla, acute
  EXPECT_EQ(nfc_normalize(u8({'C', 0x327, 0x301})), u8({0x1E08}));  // composed in two steps
  EXPECT_EQ(nfc_normalize(u8({0x1F82})), u8({0x1F82}));             // four deep
  EXPECT_EQ(nfc_normalize(u8({0x3B1, 0x313, 0x300, 0x345})), u8({0x1F82}));
}

TEST(UnicodeNfc, HangulJamoComposeToSyllables) {
  EXPECT_EQ(nfc_normalize(u8({0x1100, 0x1161})), u8({0xAC00}));          // L V
  EXPECT_EQ(nfc_normalize(u8({0x1100, 0x1161, 0x11A8})), u8({0xAC01}));  // L V T
  EXPECT_EQ(nfc_normalize(u8({0xAC00, 0x11A8})), u8({0xAC01}));          // LV T
  EXPECT_EQ(nfc_normalize(u8({0xAC01})), u8({0xAC01}));
  // An LVT syllable takes no second T; U+11A7 is not a trailing consonant.
  EXPECT_EQ(nfc_normalize(u8({0xAC01, 0x11A8})), u8({0xAC01, 0x11A8}));
  EXPECT_EQ(nfc_normalize(u8({0xAC00, 0x11A7})), u8({0xAC00, 0x11A7}));
  EXPECT_EQ(nfc_normalize(u8({0x1100, 0x1161, 0x11A8, 0x11A8})), u8({0xAC01, 0x11A8}));
}

TEST(UnicodeNfc, SingletonsAndExclusionsStayDecomposed) {
  EXPECT_EQ(nfc_normalize(u8({0x2126})), u8({0x3A9}));  // OHM SIGN -> OMEGA
  EXPECT_EQ(nfc_normalize(u8({0x212A})), "K");          // KELVIN SIGN
  EXPECT_EQ(nfc_normalize(u8({0x212B})), u8({0xC5}));   // ANGSTROM SIGN -> A WITH RING
  // Composition exclusions decompose and do not come back.
  EXPECT_EQ(nfc_normalize(u8({0x958})), u8({0x915, 0x93C}));
  EXPECT_EQ(nfc_normalize(u8({0x915, 0x93C})), u8({0x915, 0x93C}));
  EXPECT_EQ(nfc_normalize(u8({0x2ADC})), u8({0x2ADD, 0x338}));
  // A non-starter decomposition.
  EXPECT_EQ(nfc_normalize(u8({'a', 0x344})), u8({0xE4, 0x301}));
}

TEST(UnicodeNfc, MarksAreOrderedByCombiningClassBeforeComposing) {
  // Dot below (220) goes before acute (230); then a + dot below composes, and acute is left.
  EXPECT_EQ(nfc_normalize(u8({'a', 0x301, 0x323})), u8({0x1EA1, 0x301}));
  EXPECT_EQ(nfc_normalize(u8({'x', 0x301, 0x323})), u8({'x', 0x323, 0x301}));
  EXPECT_EQ(nfc_normalize(u8({'q', 0x307, 0x323})), u8({'q', 0x323, 0x307}));
  // Two marks of one class keep their order, and the second is blocked by the first.
  EXPECT_EQ(nfc_normalize(u8({'a', 0x301, 0x300})), u8({0xE1, 0x300}));
  EXPECT_EQ(nfc_normalize(u8({'a', 0x300, 0x301})), u8({0xE0, 0x301}));
  // A mark of a lower class between does not block.
  EXPECT_EQ(nfc_normalize(u8({0xC5, 0x31B})), u8({0xC5, 0x31B}));
  // Two starters compose when adjacent, not across a mark.
  EXPECT_EQ(nfc_normalize(u8({0xB47, 0xB3E})), u8({0xB4B}));
  EXPECT_EQ(nfc_normalize(u8({0x9C7, 0x301, 0x9BE})), u8({0x9C7, 0x301, 0x9BE}));
  // Marks with nothing to attach to are only ordered.
  EXPECT_EQ(nfc_normalize(u8({0x301, 0x323})), u8({0x323, 0x301}));
}

TEST(UnicodeNfc, MalformedBytesPassThroughAndBlockComposition) {
  for (const std::string& bad : {
           std::string("\xFF"),
           std::string("e\xCC"),                 // acute cut short
           std::string("\xCC\x81\x81"),          // a stray continuation byte
           std::string("\xC0\xAF"),              // overlong '/'
           std::string("\xE0\x80\xAF"),          // overlong, three bytes
           std::string("\xED\xA0\x80"),          // a surrogate
           std::string("\xF4\x90\x80\x80"),      // past U+10FFFF
           std::string("\xF8\x88\x80\x80\x80"),  // five bytes
           std::string("e\xFF\xCC\x81"),         // the bad byte sits between e and its acute
       }) {
    EXPECT_EQ(nfc_normalize(bad), bad) << bad;
  }
  EXPECT_EQ(nfc_normalize(std::string("\xFF") + u8({'e', 0x301})),
            std::string("\xFF") + u8({0xE9}));
  EXPECT_EQ(nfc_normalize(u8({'e', 0x301}) + "\xC0"), u8({0xE9}) + "\xC0");
  EXPECT_EQ(nfc_normalize(std::string("\0e\xCC\x81", 4)), std::string("\0\xC3\xA9", 3));
  EXPECT_EQ(nfc_normalize(""), "");
}

TEST(UnicodeNfc, QuickCheckVouchesOnlyForTextThatIsNfc) {
  EXPECT_TRUE(passes_nfc_quick_check(""));
  EXPECT_TRUE(passes_nfc_quick_check("plain ASCII text\n"));
  EXPECT_TRUE(passes_nfc_quick_check(u8({'c', 'a', 'f', 0xE9, 0x4E2D, 0x1F600, 0xAC01})));
  // Hebrew points compose with nothing: in class order they pass, out of it they do not.
  EXPECT_TRUE(passes_nfc_quick_check(u8({0x5D1, 0x5B0, 0x5B4})));
  EXPECT_FALSE(passes_nfc_quick_check(u8({0x5D1, 0x5B4, 0x5B0})));
  EXPECT_EQ(nfc_normalize(u8({0x5D1, 0x5B4, 0x5B0})), u8({0x5D1, 0x5B0, 0x5B4}));
  EXPECT_FALSE(passes_nfc_quick_check(u8({'e', 0x301})));  // may compose
  EXPECT_FALSE(passes_nfc_quick_check(u8({0x2126})));      // never in NFC
  EXPECT_TRUE(passes_nfc_quick_check("\xFF\xFE"));
  const std::string ascii(1000, 'a');
  EXPECT_EQ(nfc_normalize(ascii), ascii);
}

TEST(UnicodeNfc, CharacterData) {
  EXPECT_EQ(nfc_properties('a').ccc, 0);
  EXPECT_EQ(nfc_properties(0x301).ccc, 230);
  EXPECT_EQ(nfc_properties(0x301).quick_check, NfcQuickCheck::kMaybe);
  EXPECT_EQ(nfc_properties(0x2126).quick_check, NfcQuickCheck::kNo);
  EXPECT_EQ(nfc_properties(0x110000).quick_check, NfcQuickCheck::kYes);
  char32_t parts[2];
  ASSERT_EQ(canonical_decomposition(0xE9, parts), 2);
  EXPECT_EQ(parts[0], U'e');
  EXPECT_EQ(parts[1], 0x301u);
  ASSERT_EQ(canonical_decomposition(0x2126, parts), 1);
  EXPECT_EQ(parts[0], 0x3A9u);
  EXPECT_EQ(canonical_decomposition('e', parts), 0);
  EXPECT_EQ(primary_composite('e', 0x301), 0xE9u);
  EXPECT_EQ(primary_composite(0x915, 0x93C), 0u);  // excluded
}

// Python's unicodedata.normalize('NFC', s) for random mixes of letters, marks, jamo, CJK and
// emoji, every code point NFC changes and every primary composite taken apart.
TEST(UnicodeNfc, MatchesPythonOnRecordedVectors) {
  std::ifstream in(std::string(DCLLM_TEST_DATA) + "/nfc_vectors.jsonl", std::ios::binary);
  ASSERT_TRUE(in) << "tests/data/nfc_vectors.jsonl is missing";
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const nlohmann::json header = nlohmann::json::parse(line);
  EXPECT_EQ(header.at("unicode").get<std::string>(), nfc_unicode_version())
      << "tables and vectors come from different runs of scripts/gen_unicode_nfc_tables.py";
  size_t count = 0, changed = 0, failures = 0;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line);
    const std::string input = j.at("in").get<std::string>();
    const std::string expected = j.at("nfc").get<std::string>();
    const std::string got = nfc_normalize(input);
    ++count;
    changed += input != expected;
    if (got != expected && ++failures <= 10) {
      ADD_FAILURE() << "line " << count + 1 << ": " << line << " gave " << got;
    }
    // NFC is idempotent, and a string the quick check passes is unchanged.
    EXPECT_EQ(nfc_normalize(expected), expected) << line;
    if (passes_nfc_quick_check(input)) {
      EXPECT_EQ(input, expected) << line;
    }
  }
  EXPECT_EQ(failures, 0u) << "of " << count;
  EXPECT_GT(count, 1000u);
  EXPECT_GT(changed, count / 4);
}

}  // namespace
}  // namespace dcllm
