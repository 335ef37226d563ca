//! Escaping of untrusted text for the terminal report.
//!
//! Everything the human report prints about a subject comes from the image or
//! artifact under judgement: file names, reference names, user names, label
//! values, messages built from them. A report must not be forgeable by what it
//! reports, so before such a string is interpolated it goes through
//! [`visible`], which
//!
//! - shows control characters (C0 including `\n`, `\r`, `\t` and ESC, DEL,
//!   and C1 U+0080..=U+009F) as visible escapes: a file name cannot start a
//!   new line reading `verdict: ADMIT`, move the cursor, clear a line, or
//!   start an ANSI/OSC sequence (they all begin with ESC or a C1 byte);
//! - shows bidirectional controls, zero-width and other invisible format
//!   characters (see [`is_invisible`]) the same way, so text cannot be
//!   reordered or hidden on screen;
//! - caps the length, so one field cannot push a `DENY` off the screen.
//!
//! Escapes read like Rust literals: `\n`, `\r`, `\t`, `\x1b` for the other
//! ASCII controls, `\u{202e}` for everything else. Backslashes are not
//! doubled: the aim is that nothing can be hidden or forged, not that the text
//! can be decoded back (the JSON and SARIF reports carry it exactly).
//!
//! Only data goes through here; the report's own colour codes are added
//! around the escaped text afterwards.

use std::borrow::Cow;
use std::fmt::Write;

/// The most characters one field shows in the terminal report.
pub const FIELD_MAX: usize = 512;

/// `s` as it may be shown on a terminal: every dangerous character escaped
/// and at most `max` characters of output (escapes count by their visible
/// length), then `… (N more bytes)` for the N bytes of `s` left out.
///
/// Borrows `s` when it is short enough and has nothing to escape (the common
/// case), so clean text costs one scan and no allocation.
pub fn visible(s: &str, max: usize) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) && (s.len() <= max || s.chars().count() <= max) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len().min(max) + 24);
    let mut shown = 0;
    for (at, c) in s.char_indices() {
        let before = out.len();
        if needs_escape(c) {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
        let width = out[before..].chars().count();
        if shown + width > max {
            out.truncate(before);
            let _ = write!(out, "… ({} more bytes)", s.len() - at);
            break;
        }
        shown += width;
    }
    Cow::Owned(out)
}

/// Whether `c` must not reach the terminal as it is.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible(c)
}

/// Invisible format characters that can reorder or hide text: bidi embeddings,
/// overrides, isolates and marks, zero-width characters, the line and
/// paragraph separators, the byte-order mark, interlinear annotation
/// controls, the soft hyphen and the tag characters.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

fn push_escape(out: &mut String, c: char) {
    let _ = match c {
        '\n' => write!(out, "\\n"),
        '\r' => write!(out, "\\r"),
        '\t' => write!(out, "\\t"),
        c if c.is_ascii() => write!(out, "\\x{:02x}", c as u32),
        c => write!(out, "\\u{{{:x}}}", c as u32),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> String {
        visible(s, FIELD_MAX).into_owned()
    }

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for s in ["", "/usr/local/bin/hello", "User 'nonroot' — ünïcödé, 日本語, emoji 🦀", "a\\x1b literal"]
        {
            let out = visible(s, FIELD_MAX);
            assert!(matches!(out, Cow::Borrowed(_)), "{s}");
            assert_eq!(out, s);
        }
    }

    #[test]
    fn c0_controls_newlines_and_del_are_shown() {
        assert_eq!(v("a\nverdict: ADMIT"), "a\\nverdict: ADMIT");
        assert_eq!(v("x\r\ty"), "x\\r\\ty");
        assert_eq!(v("\0\x07\x08\x7f"), "\\x00\\x07\\x08\\x7f");
    }

    #[test]
    fn ansi_and_osc_sequences_lose_their_escape() {
        assert_eq!(v("\x1b[2K\x1b[1;32mADMIT\x1b[0m"), "\\x1b[2K\\x1b[1;32mADMIT\\x1b[0m");
        assert_eq!(v("\x1b]8;;https://evil\x07link\x1b]8;;\x1b\\"), "\\x1b]8;;https://evil\\x07link\\x1b]8;;\\x1b\\");
        assert!(!v("\x1b[A").contains('\x1b'));
    }

    #[test]
    fn c1_controls_are_shown() {
        // U+009B is the single-character CSI, U+0085 NEL a line break.
        assert_eq!(v("a\u{9b}2Kb\u{85}c\u{80}"), "a\\u{9b}2Kb\\u{85}c\\u{80}");
    }

    #[test]
    fn bidi_and_invisible_format_characters_are_shown() {
        assert_eq!(v("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(v(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
        for c in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{feff}', '\u{2028}', '\u{2029}'] {
            assert!(v(&format!("a{c}b")).starts_with("a\\u{"), "{:x}", c as u32);
        }
        assert_eq!(v("tag\u{e0041}"), "tag\\u{e0041}");
    }

    #[test]
    fn long_text_is_capped_with_the_bytes_left_out() {
        let s = "a".repeat(600);
        assert_eq!(visible(&s, 512), format!("{}… (88 more bytes)", "a".repeat(512)));
        assert_eq!(visible(&s, 600), s.as_str(), "exactly at the cap: unchanged");
        assert!(matches!(visible(&s, 600), Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_count_towards_the_cap() {
        // Ten newlines show as twenty characters: eight fit into a cap of 17.
        assert_eq!(visible(&"\n".repeat(10), 17), format!("{}… (2 more bytes)", "\\n".repeat(8)));
        // An escape is never cut in half.
        assert_eq!(visible("ab\x1b", 4), "ab… (1 more bytes)");
    }

    #[test]
    fn multi_byte_text_is_cut_on_a_character_boundary() {
        // 'é' is two bytes, '日' three, '🦀' four: the cap counts characters.
        for (s, max) in
            [("é".repeat(10), 5), ("日本".repeat(5), 3), ("🦀".repeat(9), 1), (format!("a{}", "🦀".repeat(3)), 2)]
        {
            let out = visible(&s, max);
            let (kept, rest) = out.split_once('…').expect("capped");
            assert_eq!(kept.chars().count(), max, "{s}");
            assert!(s.starts_with(kept));
            assert_eq!(rest, format!(" ({} more bytes)", s.len() - kept.len()));
        }
        // Under the cap in characters though over it in bytes: untouched.
        let s = "日".repeat(10);
        assert!(matches!(visible(&s, 10), Cow::Borrowed(_)));
    }
}
