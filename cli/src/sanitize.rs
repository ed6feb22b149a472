//! The one sanitiser for text from the server (or any file) on its way to a
//! terminal: targets, codes, messages, request IDs, error lines.
//!
//! Control characters would move the cursor, recolour or retitle the
//! terminal, and a newline could forge a row of the report; bidi controls
//! would reorder what is shown. Each is escaped visibly (`\n`, `\u{202e}`)
//! rather than dropped, so what the server sent can still be read exactly.
//! JSON output escapes the same characters its own way (`\u202e`), in
//! [`crate::output::json`].

/// `text` on one line, escaped, cut at `max` characters (with `…`).
pub fn cell(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 8));
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Whether `c` could change what a terminal shows without being seen:
/// control characters (C0, DEL, C1), Unicode's whole "format" class (Cf:
/// bidi embeddings, overrides, isolates and marks, zero-width spaces and
/// joiners, the byte-order mark, soft hyphen, invisible tags, ...) and the
/// line and paragraph separators (Zl, Zp). The format class is listed as of
/// Unicode 16.0; it changes rarely, and a new member merely shows raw.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'                     // soft hyphen
            | '\u{0600}'..='\u{0605}'     // Arabic number signs
            | '\u{061c}'                   // Arabic letter mark
            | '\u{06dd}'                   // Arabic end of ayah
            | '\u{070f}'                   // Syriac abbreviation mark
            | '\u{0890}'..='\u{0891}'     // Arabic pound and piastre marks above
            | '\u{08e2}'                   // Arabic disputed end of ayah
            | '\u{180e}'                   // Mongolian vowel separator
            | '\u{200b}'..='\u{200f}'     // zero-width space, joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'     // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{206f}'     // word joiner, invisible operators, isolates, deprecated
            | '\u{feff}'                   // zero-width no-break space (byte-order mark)
            | '\u{fff9}'..='\u{fffb}'     // interlinear annotation
            | '\u{110bd}'                  // Kaithi number sign
            | '\u{110cd}'                  // Kaithi number sign above
            | '\u{13430}'..='\u{1343f}'   // Egyptian hieroglyph format controls
            | '\u{1bca0}'..='\u{1bca3}'   // shorthand format controls
            | '\u{1d173}'..='\u{1d17a}'   // musical symbol format controls
            | '\u{e0001}'                  // language tag
            | '\u{e0020}'..='\u{e007f}'   // tag characters (can spell hidden text)
        )
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(cell("dev-1\nFAKE-ROW success", 80), "dev-1\\nFAKE-ROW success");
        assert_eq!(cell("\u{1b}[31mred\u{7}", 80), "\\u{1b}[31mred\\u{7}");
        assert_eq!(cell("abc\u{202e}fed", 80), "abc\\u{202e}fed");
        assert_eq!(cell("a\u{2066}b\u{2069}", 80), "a\\u{2066}b\\u{2069}");
        assert_eq!(cell("a\u{85}b", 80), "a\\u{85}b");
        assert_eq!(cell("a\u{ad}b\u{e0041}", 80), "a\\u{ad}b\\u{e0041}");
        assert_eq!(cell("plain text, é and 中", 80), "plain text, é and 中");
    }

    #[test]
    fn cuts_at_max_characters() {
        assert_eq!(cell("abcdef", 3), "abc…");
        assert_eq!(cell("abc", 3), "abc");
    }
}
