//! Text from a component, made safe to print: its names, docs, messages
//! and Python's tracebacks are its author's, and must not drive the
//! terminal (ESC sequences, carriage returns that overwrite a line).

/// `text` with its control characters escaped (`\u{1b}`), tabs kept.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() && c != '\t' {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// [`printable`], line by line: the line breaks are kept.
pub(crate) fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::{printable, printable_lines};

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("add(a: int)\t# ok"), "add(a: int)\t# ok");
        assert_eq!(printable("x\u{1b}[2Jy"), "x\\u{1b}[2Jy");
        assert_eq!(printable("a\rb\nc"), "a\\rb\\nc");
        assert_eq!(printable("ünïcödé ✓"), "ünïcödé ✓");
        assert_eq!(printable_lines("one\u{1b}\ntwo\n"), "one\\u{1b}\ntwo\n");
    }
}
