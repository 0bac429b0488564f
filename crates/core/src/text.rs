//! Which characters stored text may hold, decided once for every field and parameter.
//!
//! Any Unicode text is welcome except what no name or description needs and what the
//! engines or the screens that show it treat specially: C0 controls (PostgreSQL refuses
//! U+0000 outright, SQLite keeps it; ESC sequences rewrite a terminal), DEL, C1 controls
//! and Unicode noncharacters. Multi-line fields also take LF and TAB; CRLF and a lone
//! CR, as a browser's textarea sends them, are stored as LF. Single-line fields take no
//! line break, U+2028 and U+2029 included. Lengths count characters (Unicode scalar
//! values), not bytes. A Rust `str` is valid UTF-8 and holds no surrogates, so "valid
//! Unicode" is the type's promise; bodies and queries are decoded into one.

use std::borrow::Cow;
use std::fmt;

/// Whether a field is one line of text or may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Single,
    Multi,
}

/// The characters and length one text field may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub min_chars: usize,
    pub max_chars: usize,
    pub lines: Lines,
}

/// Ids and names presented in a path (client ids, scope names, secret ids): one line,
/// at most 128 characters, as long as the longest id this server issues or accepts.
/// Checked before the id's own grammar, so a control character is named as such.
pub const IDENTIFIER: TextRule = TextRule::single_line(1, 128);

impl TextRule {
    pub const fn single_line(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_chars,
            max_chars,
            lines: Lines::Single,
        }
    }

    pub const fn multi_line(min_chars: usize, max_chars: usize) -> Self {
        Self {
            min_chars,
            max_chars,
            lines: Lines::Multi,
        }
    }

    /// Checks `value` exactly as given: its characters, then its length.
    pub fn check(&self, field: &'static str, value: &str) -> Result<(), TextError> {
        if let Some((position, character)) = self.first_refused(value, false) {
            return Err(TextError::refused(field, character, position, self.lines));
        }
        self.check_length(field, value.chars().count())
    }

    /// The text to store for `raw`: its characters checked as written (so a position in
    /// an error is one the caller can find), surrounding whitespace trimmed, line breaks
    /// written as LF, then its length checked.
    pub fn normalise(&self, field: &'static str, raw: &str) -> Result<String, TextError> {
        if let Some((position, character)) = self.first_refused(raw, true) {
            return Err(TextError::refused(field, character, position, self.lines));
        }
        let trimmed = raw.trim();
        let text = if self.lines == Lines::Multi && trimmed.contains('\r') {
            trimmed.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            trimmed.to_owned()
        };
        self.check_length(field, text.chars().count())?;
        Ok(text)
    }

    /// The first refused character and its 1-based position. `cr_allowed`: CR may stand
    /// in a multi-line value that is about to be normalised.
    fn first_refused(&self, value: &str, cr_allowed: bool) -> Option<(usize, char)> {
        let allowed = |c: char| match self.lines {
            Lines::Multi => c == '\n' || c == '\t' || (cr_allowed && c == '\r'),
            Lines::Single => false,
        };
        value
            .chars()
            .enumerate()
            .find(|&(_, c)| !allowed(c) && is_refused(c, self.lines))
            .map(|(index, c)| (index + 1, c))
    }

    fn check_length(&self, field: &'static str, chars: usize) -> Result<(), TextError> {
        if chars < self.min_chars {
            Err(TextError::TooShort {
                field,
                min_chars: self.min_chars,
            })
        } else if chars > self.max_chars {
            Err(TextError::TooLong {
                field,
                max_chars: self.max_chars,
                chars,
            })
        } else {
            Ok(())
        }
    }
}

/// Refused in every field (controls, DEL, noncharacters), or in a single line (line breaks).
fn is_refused(c: char, lines: Lines) -> bool {
    c.is_control()
        || is_noncharacter(c)
        || (lines == Lines::Single && matches!(c, '\u{2028}' | '\u{2029}'))
}

/// U+FDD0..U+FDEF and the last two code points of every plane (Unicode §23.7): never
/// assigned, reserved for a program's internal use, not for interchange.
fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// What is wrong with a text value, naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// A character no field or no single-line field may hold.
    Refused {
        field: &'static str,
        character: char,
        /// 1-based, in characters.
        position: usize,
        kind: RefusedKind,
    },
    TooShort {
        field: &'static str,
        min_chars: usize,
    },
    TooLong {
        field: &'static str,
        max_chars: usize,
        chars: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    ControlCharacter,
    LineBreak,
    Noncharacter,
}

impl TextError {
    fn refused(field: &'static str, character: char, position: usize, lines: Lines) -> Self {
        let line_break = matches!(character, '\n' | '\r' | '\u{2028}' | '\u{2029}');
        let kind = if lines == Lines::Single && line_break {
            RefusedKind::LineBreak
        } else if character.is_control() {
            RefusedKind::ControlCharacter
        } else {
            RefusedKind::Noncharacter
        };
        Self::Refused {
            field,
            character,
            position,
            kind,
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            Self::Refused { field, .. }
            | Self::TooShort { field, .. }
            | Self::TooLong { field, .. } => field,
        }
    }
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field(), self.problem())
    }
}

/// What is wrong, without the field's name.
pub struct Problem<'a>(&'a TextError);

impl TextError {
    /// What is wrong, for a message that names the value its own way.
    pub fn problem(&self) -> Problem<'_> {
        Problem(self)
    }
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            TextError::Refused {
                character,
                position,
                kind,
                ..
            } => {
                let what = match kind {
                    RefusedKind::ControlCharacter => "a control character",
                    RefusedKind::LineBreak => "a line break",
                    RefusedKind::Noncharacter => "a Unicode noncharacter",
                };
                write!(
                    f,
                    "contains {what} (U+{:04X}) at character {position}",
                    u32::from(*character)
                )?;
                if *kind == RefusedKind::LineBreak {
                    write!(f, "; it must be a single line")?;
                }
                Ok(())
            }
            TextError::TooShort { min_chars, .. } if *min_chars <= 1 => {
                write!(f, "must not be empty")
            }
            TextError::TooShort { min_chars, .. } => {
                write!(f, "must be at least {min_chars} characters")
            }
            TextError::TooLong {
                max_chars, chars, ..
            } => write!(f, "must be at most {max_chars} characters (it has {chars})"),
        }
    }
}

impl std::error::Error for TextError {}

/// `value` fit to quote in an error description: characters no single line may hold
/// written as `\u{…}` escapes, and cut after 100 characters, so a message never carries
/// a NUL or a terminal escape sequence from the request back to the caller or a log.
pub fn shown(value: &str) -> Cow<'_, str> {
    const MAX_SHOWN: usize = 100;
    let clean = !value.chars().any(|c| is_refused(c, Lines::Single));
    if clean && value.chars().nth(MAX_SHOWN).is_none() {
        return Cow::Borrowed(value);
    }
    let mut shown = String::new();
    for (index, c) in value.chars().enumerate() {
        if index == MAX_SHOWN {
            shown.push('…');
            break;
        }
        if is_refused(c, Lines::Single) {
            shown.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: TextRule = TextRule::single_line(1, 10);
    const NOTE: TextRule = TextRule::multi_line(0, 10);

    #[test]
    fn refused_characters_are_named_with_their_position() {
        for (rule, value, expected) in [
            (
                NAME,
                "ab\u{0}",
                "`f` contains a control character (U+0000) at character 3",
            ),
            (
                NOTE,
                "\u{0}",
                "`f` contains a control character (U+0000) at character 1",
            ),
            (
                NAME,
                "\u{1f}",
                "`f` contains a control character (U+001F) at character 1",
            ),
            (
                NAME,
                "a\u{1b}[2J",
                "`f` contains a control character (U+001B) at character 2",
            ),
            (
                NOTE,
                "a\u{7}",
                "`f` contains a control character (U+0007) at character 2",
            ),
            (
                NOTE,
                "a\u{b}",
                "`f` contains a control character (U+000B) at character 2",
            ),
            (
                NOTE,
                "a\u{c}",
                "`f` contains a control character (U+000C) at character 2",
            ),
            (
                NAME,
                "a\u{7f}",
                "`f` contains a control character (U+007F) at character 2",
            ),
            (
                NOTE,
                "a\u{80}",
                "`f` contains a control character (U+0080) at character 2",
            ),
            (
                NAME,
                "é\u{85}",
                "`f` contains a control character (U+0085) at character 2",
            ),
            (
                NOTE,
                "a\u{9f}",
                "`f` contains a control character (U+009F) at character 2",
            ),
            (
                NAME,
                "\u{fdd0}",
                "`f` contains a Unicode noncharacter (U+FDD0) at character 1",
            ),
            (
                NOTE,
                "\u{fdef}",
                "`f` contains a Unicode noncharacter (U+FDEF) at character 1",
            ),
            (
                NAME,
                "\u{fffe}",
                "`f` contains a Unicode noncharacter (U+FFFE) at character 1",
            ),
            (
                NOTE,
                "\u{ffff}",
                "`f` contains a Unicode noncharacter (U+FFFF) at character 1",
            ),
            (
                NAME,
                "\u{1fffe}",
                "`f` contains a Unicode noncharacter (U+1FFFE) at character 1",
            ),
            (
                NOTE,
                "\u{10ffff}",
                "`f` contains a Unicode noncharacter (U+10FFFF) at character 1",
            ),
            (
                NAME,
                "a\tb",
                "`f` contains a control character (U+0009) at character 2",
            ),
            (
                NAME,
                "a\nb",
                "`f` contains a line break (U+000A) at character 2; it must be a single line",
            ),
            (
                NAME,
                "a\rb",
                "`f` contains a line break (U+000D) at character 2; it must be a single line",
            ),
            (
                NAME,
                "a\u{2028}",
                "`f` contains a line break (U+2028) at character 2; it must be a single line",
            ),
            (
                NAME,
                "a\u{2029}",
                "`f` contains a line break (U+2029) at character 2; it must be a single line",
            ),
        ] {
            let checked = rule.check("f", value).unwrap_err();
            assert_eq!(checked.to_string(), expected, "{value:?}");
            assert_eq!(checked.field(), "f");
            // Positions count in the text as written, before trimming.
            let normalised = rule.normalise("f", value).unwrap_err();
            assert_eq!(normalised, checked, "{value:?}");
        }
        let leading = NAME.normalise("f", "  a\u{0}").unwrap_err();
        assert!(leading.to_string().ends_with("at character 4"), "{leading}");
    }

    #[test]
    fn other_text_is_kept_as_written() {
        for (rule, value) in [
            (NAME, "Zählwerk"),
            (NAME, "計算機 🦀"),
            (NAME, "👩‍👩‍👧"),
            (NAME, "مرحبا"),
            (NAME, "e\u{301}\u{200d}\u{e000}"),
            (NAME, "\u{fffd}\u{fdcf}\u{fdf0}"),
            (NAME, "\u{1fffd}\u{10fffd}"),
            (NAME, "\u{a0}a\u{a0}"),
            (NOTE, "a\nb\tc"),
            (NOTE, "a\u{2028}b\u{2029}"),
            (NOTE, ""),
        ] {
            assert_eq!(rule.check("f", value), Ok(()), "{value:?}");
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert_eq!(NAME.check("f", &"🦀".repeat(10)), Ok(()));
        assert_eq!(
            NAME.check("f", &"🦀".repeat(11)).unwrap_err().to_string(),
            "`f` must be at most 10 characters (it has 11)"
        );
        assert_eq!(
            NAME.check("f", "").unwrap_err().to_string(),
            "`f` must not be empty"
        );
        assert_eq!(
            TextRule::single_line(3, 5)
                .check("f", "ab")
                .unwrap_err()
                .to_string(),
            "`f` must be at least 3 characters"
        );
        // Combining marks are characters of their own.
        assert!(NAME.check("f", &"e\u{301}".repeat(6)).is_err());
    }

    #[test]
    fn normalising_trims_and_writes_line_breaks_as_lf() {
        let long_note = TextRule::multi_line(0, 100);
        for (rule, raw, stored) in [
            (NAME, "  Billing  ", "Billing"),
            (NAME, "\u{a0}Billing\u{3000}", "Billing"),
            (long_note, " one\r\ntwo\rthree\n ", "one\ntwo\nthree"),
            (long_note, "a\r\n\r\nb", "a\n\nb"),
            (long_note, "\t\n  ", ""),
        ] {
            assert_eq!(rule.normalise("f", raw).as_deref(), Ok(stored), "{raw:?}");
        }
        // CRLF counts as one character once it is LF.
        assert_eq!(
            NOTE.normalise("f", "12345\r\n7890").map(|t| t.len()),
            Ok(10)
        );
        assert!(NAME.normalise("f", "  ").is_err());
        assert!(NAME.normalise("f", "a\r\nb").is_err());
        // `check` takes text as stored: no CR.
        assert!(NOTE.check("f", "a\r\nb").is_err());
    }

    #[test]
    fn shown_escapes_what_no_line_may_hold_and_cuts_long_values() {
        assert_eq!(shown("plain ü 🦀"), "plain ü 🦀");
        assert_eq!(
            shown("a\u{0}b\u{1b}[2J\n"),
            "a\\u{0000}b\\u{001B}[2J\\u{000A}"
        );
        let long = shown(&"x".repeat(150)).into_owned();
        assert_eq!(long.chars().count(), 101);
        assert!(long.ends_with("x…"));
    }
}
