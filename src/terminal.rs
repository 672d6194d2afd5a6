//! Text from a user's files (class names, file names, paths) made safe to print to a
//! terminal or a log: a folder named with ESC, BEL, CR or LF would otherwise clear the
//! screen, retitle the window or forge output lines. Stored metadata and JSON output
//! keep the text as it is; only what is printed for people goes through [`printable`].

use std::borrow::Cow;

/// `text` with every control character escaped: C0 (U+0000–U+001F: NUL, BEL, tab, LF,
/// CR, ESC, …) and DEL as `\x1b`, C1 (U+0080–U+009F) as `\u{9b}`. Text without any is
/// returned as it is. A backslash is left alone, so a name that holds the four
/// characters `\x1b` prints the same as one holding ESC: readable, and harmless.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c as u32 {
            code @ (0..=0x1F | 0x7F) => out.push_str(&format!("\\x{code:02x}")),
            code @ 0x80..=0x9F => out.push_str(&format!("\\u{{{code:x}}}")),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path as [`printable`] text (invalid UTF-8 shown as U+FFFD, as `display` does).
pub fn printable_path(path: &std::path::Path) -> String {
    printable(&path.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(printable("tabby cat, Ärger ✓"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\x1b]0;title\x07b\r\nc\x7f\u{9b}2J\td"),
            "a\\x1b]0;title\\x07b\\x0d\\x0ac\\x7f\\u{9b}2J\\x09d"
        );
        assert_eq!(
            printable_path(std::path::Path::new("cats\x1b[2J/x.png")),
            "cats\\x1b[2J/x.png"
        );
    }
}
