//! CTranslate2's `vocabulary.txt` → the raw token bytes whisper.cpp wants.
//!
//! Whisper's tokenizer is GPT-2's byte-level BPE: each byte is shown as a printable Unicode
//! character (`bytes_to_unicode`, e.g. a space is `Ġ`). CTranslate2 writes tokens in that form,
//! one per line; ggml files store the raw bytes, so each character is mapped back to its byte.

use std::collections::HashMap;
use std::path::Path;

use super::error::ModelError;

/// The token that ends text; ids from it on are special tokens that whisper.cpp makes itself.
pub(crate) const END_OF_TEXT: &str = "<|endoftext|>";

/// GPT-2's `bytes_to_unicode` inverse: printable character → byte.
fn unicode_to_bytes() -> HashMap<char, u8> {
    let mut map = HashMap::with_capacity(256);
    let printable = |b: u32| (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || b >= 0xae;
    let mut n = 0u32;
    for b in 0u32..256 {
        let c = if printable(b) {
            b
        } else {
            n += 1;
            255 + n
        };
        if let Some(c) = char::from_u32(c) {
            map.insert(c, b as u8);
        }
    }
    map
}

/// Parses `vocabulary.txt` into the byte strings of the regular tokens (ids below
/// `<|endoftext|>`).
pub(crate) fn read_vocabulary(path: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let text = std::fs::read_to_string(path).map_err(ModelError::io(path))?;
    parse_vocabulary(&text, path)
}

pub(crate) fn parse_vocabulary(text: &str, path: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let inverse = unicode_to_bytes();
    let mut tokens = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if line == END_OF_TEXT {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| {
                inverse
                    .get(&c)
                    .copied()
                    .ok_or_else(|| ModelError::Vocabulary {
                        path: path.to_path_buf(),
                        line: i + 1,
                        reason: format!("{c:?} is not a byte-level BPE character"),
                    })
            })
            .collect::<Result<Vec<u8>, _>>()?;
        tokens.push(bytes);
    }
    Err(ModelError::Vocabulary {
        path: path.to_path_buf(),
        line: tokens.len(),
        reason: format!("no {END_OF_TEXT} token: not a whisper vocabulary"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_covers_all_bytes() {
        let m = unicode_to_bytes();
        assert_eq!(m.len(), 256);
        assert_eq!(m[&'Ġ'], b' ');
        assert_eq!(m[&'Ċ'], b'\n');
        assert_eq!(m[&'!'], b'!');
        assert_eq!(m[&'Ā'], 0);
    }

    #[test]
    fn decodes_tokens_and_stops_at_end_of_text() {
        // "Ġthe" = " the"; "æĪĳ" = UTF-8 of 我.
        let text = "!\nĠthe\næĪĳ\n<|endoftext|>\n<|startoftranscript|>\n";
        let t = parse_vocabulary(text, Path::new("v.txt")).unwrap();
        assert_eq!(
            t,
            vec![b"!".to_vec(), b" the".to_vec(), "我".as_bytes().to_vec()]
        );
    }

    #[test]
    fn rejects_foreign_characters_and_missing_end() {
        let e = parse_vocabulary("a\n我\n<|endoftext|>", Path::new("v.txt")).unwrap_err();
        assert!(matches!(e, ModelError::Vocabulary { line: 2, .. }), "{e}");
        let e = parse_vocabulary("a\nb\n", Path::new("v.txt")).unwrap_err();
        assert!(e.to_string().contains("endoftext"), "{e}");
    }
}
