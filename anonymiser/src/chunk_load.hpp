// The anonymiser's scanners classify text 16 bytes at a time (SSE2); this says where to load a
// chunk from so that its last, short chunk needs no byte-by-byte loop and nothing past the text is
// read.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace veil::anonymiser {

struct ChunkLoad {
  const char* bytes;  // 16 readable bytes of the text
  unsigned skipped;   // shift a mask of them right by this much to have bit i for text[chunk + i]
};

// The 16 bytes at `chunk` (< text.size()), or for a short last chunk the text's last 16 bytes;
// nothing for a text shorter than 16 bytes. A shifted mask has no bit past the end of the text.
inline std::optional<ChunkLoad> chunk_load(std::string_view text, std::size_t chunk) {
  constexpr std::size_t kChunk = 16;
  if (chunk + kChunk <= text.size()) return ChunkLoad{text.data() + chunk, 0};
  if (text.size() < kChunk) return std::nullopt;
  return ChunkLoad{text.data() + text.size() - kChunk,
                   static_cast<unsigned>(chunk + kChunk - text.size())};
}

}  // namespace veil::anonymiser
