// GPT-2, Llama-3 and Qwen2 pre-tokenizers: the alternatives of the split regex tried in order at
// each position, as a backtracking regex engine would, over classified code points.
#include "model/tokenizer_pretokenize.h"

#include <algorithm>

namespace dcllm {

namespace {

bool is_white_space(char32_t cp) {
  // The Unicode White_Space property, which is what \s means to the engines GPT-2-style
  // tokenizers were defined with (Python `regex`, Oniguruma, PCRE with UCP).
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

struct ClassifiedChar {
  uint32_t offset;
  char32_t cp;
  CodepointClass cls;
};

bool is_contraction_letter(char32_t c) {
  return c == 's' || c == 't' || c == 'm' || c == 'd';
}

// ASCII lower case, plus U+017F (long s), which case-insensitive matching folds to 's'.
char32_t fold_case(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + ('a' - 'A');
  return c == 0x17F ? 's' : c;
}

// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) starting at chars[i], or 0;
// `any_case` matches it case-insensitively, as the Llama-3 regex's (?i:...) does.
size_t contraction_length(const std::vector<ClassifiedChar>& chars, size_t i, bool any_case) {
  if (chars[i].cp != '\'' || i + 1 >= chars.size()) return 0;
  auto letter = [&](size_t k) { return any_case ? fold_case(chars[k].cp) : chars[k].cp; };
  const char32_t a = letter(i + 1);
  if (is_contraction_letter(a)) return 2;
  if (i + 2 >= chars.size()) return 0;
  const char32_t b = letter(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

void classify(std::string_view text, std::vector<ClassifiedChar>& chars);

// What both regex splitters do over the classified characters of `text`: cut a piece, find the
// end of a run of one class.
struct CharSplitter {
  std::string_view text;
  const std::vector<ClassifiedChar>& chars;
  std::vector<std::string_view>& out;

  // Characters [from, to) as one piece.
  void emit(size_t from, size_t to) const {
    const size_t begin = chars[from].offset;
    const size_t end = to < chars.size() ? chars[to].offset : text.size();
    out.push_back(text.substr(begin, end - begin));
  }
  size_t run_end(size_t from, CodepointClass cls) const {
    while (from < chars.size() && chars[from].cls == cls) ++from;
    return from;
  }
};

void split_gpt2(std::string_view text, std::vector<ClassifiedChar>& chars,
                std::vector<std::string_view>& out) {
  classify(text, chars);
  const size_t n = chars.size();
  const CharSplitter split{text, chars, out};
  auto emit = [&](size_t from, size_t to) { split.emit(from, to); };
  auto run_end = [&](size_t from, CodepointClass cls) { return split.run_end(from, cls); };

  size_t i = 0;
  while (i < n) {
    if (size_t len = contraction_length(chars, i, false)) {
      emit(i, i + len);
      i += len;
      continue;
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional literal space, then a run.
    size_t j = i;
    if (chars[i].cp == ' ' && i + 1 < n && chars[i + 1].cls != CodepointClass::kWhitespace)
      j = i + 1;
    if (chars[j].cls != CodepointClass::kWhitespace) {
      size_t end = run_end(j, chars[j].cls);
      emit(i, end);
      i = end;
      continue;
    }
    // `\s+(?!\S)` gives back the last white space before a non-space (so " word" can take it);
    // a single white space before a non-space is `\s+` alone.
    size_t end = run_end(i, CodepointClass::kWhitespace);
    if (end < n && end - i >= 2) --end;
    emit(i, end);
    i = end;
  }
}

bool is_line_break(char32_t c) {
  return c == '\r' || c == '\n';
}

void classify(std::string_view text, std::vector<ClassifiedChar>& chars) {
  chars.clear();
  for (size_t pos = 0; pos < text.size();) {
    Utf8Char c = decode_utf8_char(text.substr(pos));
    chars.push_back({static_cast<uint32_t>(pos), c.cp,
                     c.valid ? classify_codepoint(c.cp) : CodepointClass::kOther});
    pos += c.len;
  }
}

// The Llama-3 regex (Qwen2's with max_digits 1); alternatives tried in order at each position.
void split_llama3(std::string_view text, size_t max_digits, std::vector<ClassifiedChar>& chars,
                  std::vector<std::string_view>& out) {
  classify(text, chars);
  const size_t n = chars.size();
  const CharSplitter split{text, chars, out};
  auto emit = [&](size_t from, size_t to) { split.emit(from, to); };
  auto run_end = [&](size_t from, CodepointClass cls) { return split.run_end(from, cls); };
  using enum CodepointClass;
  size_t i = 0;
  while (i < n) {
    if (size_t len = contraction_length(chars, i, true)) {
      emit(i, i + len);
      i += len;
      continue;
    }
    const CodepointClass cls = chars[i].cls;
    // `[^\r\n\p{L}\p{N}]?\p{L}+`: one optional character that is no letter, number or line
    // break (white space included), then letters.
    size_t j = i;
    if (cls != kLetter && cls != kNumber && !is_line_break(chars[i].cp)) j = i + 1;
    if (j < n && chars[j].cls == kLetter) {
      const size_t end = run_end(j, kLetter);
      emit(i, end);
      i = end;
      continue;
    }
    if (cls == kNumber) {  // `\p{N}{1,3}`
      const size_t end = std::min(run_end(i, kNumber), i + max_digits);
      emit(i, end);
      i = end;
      continue;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    j = i;
    if (chars[i].cp == ' ' && i + 1 < n && chars[i + 1].cls == kOther) j = i + 1;
    if (chars[j].cls == kOther) {
      size_t end = run_end(j, kOther);
      while (end < n && is_line_break(chars[end].cp)) ++end;
      emit(i, end);
      i = end;
      continue;
    }
    // White space from here. `\s*[\r\n]+` ends at the run's last line break.
    const size_t run = run_end(i, kWhitespace);
    size_t end = run;
    while (end > i && !is_line_break(chars[end - 1].cp)) --end;
    if (end == i) {
      // `\s+(?!\S)` leaves the last white space to a following non-space; `\s+` otherwise.
      end = run;
      if (run < n && run - i >= 2) --end;
    }
    emit(i, end);
    i = end;
  }
}

}  // namespace

PreTokenizer pre_tokenizer_from_name(std::string_view name) {
  for (std::string_view digits : {"smollm", "starcoder", "refact", "command-r"}) {
    if (name == digits) return PreTokenizer::kDigitsSplit;
  }
  if (name == "llama-bpe" || name == "llama3") return PreTokenizer::kLlama3;
  if (name == "qwen2") return PreTokenizer::kQwen2;
  return PreTokenizer::kGpt2;
}

CodepointClass classify_codepoint(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CodepointClass::kLetter;
    if (cp >= '0' && cp <= '9') return CodepointClass::kNumber;
    return is_white_space(cp) ? CodepointClass::kWhitespace : CodepointClass::kOther;
  }
  if (is_white_space(cp)) return CodepointClass::kWhitespace;
  return classify_codepoint_table(cp);
}

Utf8Char decode_utf8_char(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(0);
  const Utf8Char invalid{b0, 1, false};
  if (b0 < 0x80) return {b0, 1, true};
  uint32_t len;
  char32_t cp;
  char32_t min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return invalid;
  }
  if (s.size() < len) return invalid;
  for (uint32_t i = 1; i < len; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return invalid;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;
  return {cp, len, true};
}

void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& out) {
  std::vector<ClassifiedChar> chars;
  switch (kind) {
    case PreTokenizer::kGpt2:
      split_gpt2(text, chars, out);
      return;
    case PreTokenizer::kLlama3:
      split_llama3(text, 3, chars, out);
      return;
    case PreTokenizer::kQwen2:
      split_llama3(text, 1, chars, out);
      return;
    case PreTokenizer::kDigitsSplit:
      break;
  }
  // kDigitsSplit: each number character stands alone; the text between goes through GPT-2.
  size_t segment = 0;
  for (size_t pos = 0; pos < text.size();) {
    Utf8Char c = decode_utf8_char(text.substr(pos));
    if (c.valid && classify_codepoint(c.cp) == CodepointClass::kNumber) {
      if (pos > segment) split_gpt2(text.substr(segment, pos - segment), chars, out);
      out.push_back(text.substr(pos, c.len));
      segment = pos + c.len;
    }
    pos += c.len;
  }
  if (segment < text.size()) split_gpt2(text.substr(segment), chars, out);
}

}  // namespace dcllm
