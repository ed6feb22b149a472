//! The one sanitiser for text from the server (or any file) on its way to a
//! terminal: targets, codes, messages, request IDs, error lines.
//!
//! Control characters would move the cursor, recolour or retitle the
//! terminal, and a newline could forge a row of the report; bidi controls
//! would reorder what is shown. Each is escaped visibly (`\n`, `\u{202e}`)
//! rather than dropped, so what the server sent can still be read exactly.

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
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Control characters, and the invisible characters that change how the rest
/// of a line is ordered or broken.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'                  // Arabic letter mark
            | '\u{200b}'..='\u{200f}'   // zero-width space, joiners, LRM, RLM
            | '\u{2028}'..='\u{202e}'   // line/paragraph separators, embeddings, overrides
            | '\u{2060}'..='\u{2069}'   // word joiner, isolates
            | '\u{feff}'                // zero-width no-break space
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
        assert_eq!(cell("plain text, é and 中", 80), "plain text, é and 中");
    }

    #[test]
    fn cuts_at_max_characters() {
        assert_eq!(cell("abcdef", 3), "abc…");
        assert_eq!(cell("abc", 3), "abc");
    }
}
