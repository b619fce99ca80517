//! Checks that every quoted CSV field is closed, and that nothing follows a closing quote but a
//! separator or a line end.
//!
//! The `csv` crate is lenient: a quote that is never closed takes the rest of the input into
//! one field, so `q1,1,"a\nq2,2,b\n` reads as one record holding the next row. Input in which
//! that happens is malformed, and is refused whole before any of it is read.

/// A malformed quote, with the 1-based line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct QuoteError {
    pub line: usize,
    pub message: &'static str,
}

/// The checker's state, so that input can be fed in pieces (a file read in chunks).
#[derive(Debug)]
pub struct QuoteCheck {
    line: usize,
    /// Where the quoted field being read opened.
    opened_on: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    FieldStart,
    /// Inside a field that did not start with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: it closes the field, or doubles a quote.
    QuoteInQuoted,
}

impl Default for QuoteCheck {
    fn default() -> Self {
        QuoteCheck {
            line: 1,
            opened_on: 0,
            state: State::FieldStart,
        }
    }
}

impl QuoteCheck {
    /// Checks the next piece of input.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), QuoteError> {
        for &byte in bytes {
            self.state = match (self.state, byte) {
                (State::Quoted, b'"') => State::QuoteInQuoted,
                (State::Quoted, b'\n') => {
                    self.line += 1;
                    State::Quoted
                }
                (State::Quoted, _) => State::Quoted,
                (State::QuoteInQuoted, b'"') => State::Quoted,
                (State::QuoteInQuoted, b'\r') => State::Unquoted,
                (State::QuoteInQuoted, b',') | (_, b',') => State::FieldStart,
                (_, b'\n') => {
                    self.line += 1;
                    State::FieldStart
                }
                (State::QuoteInQuoted, _) => {
                    return Err(QuoteError {
                        line: self.line,
                        message: "text after the closing quote of a field (a quote inside a \
                                  quoted field is written twice: \"\")",
                    });
                }
                (State::FieldStart, b'"') => {
                    self.opened_on = self.line;
                    State::Quoted
                }
                (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            };
        }
        Ok(())
    }

    /// The end of the input: fails if a quoted field is still open.
    pub fn finish(&self) -> Result<(), QuoteError> {
        match self.state {
            State::Quoted => Err(QuoteError {
                line: self.opened_on,
                message: "a quoted field opened here is never closed",
            }),
            _ => Ok(()),
        }
    }
}

/// Checks a whole input.
pub fn check(bytes: &[u8]) -> Result<(), QuoteError> {
    if memchr::memchr(b'"', bytes).is_none() {
        return Ok(());
    }
    let mut check = QuoteCheck::default();
    check.feed(bytes)?;
    check.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_quotes_pass_and_open_ones_name_their_line() {
        for good in [
            "id,x,c\nq1,1,a\n",
            "id,x,c\nq1,1,\"a\"\nq2,2,\"b,c\"\n",
            "id,x,c\r\nq1,1,\"a \"\"quoted\"\" word\"\r\n",
            "id,x,c\nq1,1,\"two\nlines\"\nq2,2,b",
            "a,\"\"\n",
            "a,b\"c,d\n",
            "",
        ] {
            assert_eq!(check(good.as_bytes()), Ok(()), "{good:?}");
        }
        let cases = [
            ("id,x,c\nq1,1,\"a\nq2,2,b\n", 2, "never closed"),
            ("id,x\n\"q1,1\n", 2, "never closed"),
            ("id,x,c\nq1,1,\"a\"b\n", 2, "after the closing quote"),
            ("id\n\"a\nb\"x\n", 3, "after the closing quote"),
        ];
        for (bad, line, message) in cases {
            let error = check(bad.as_bytes()).unwrap_err();
            assert_eq!(error.line, line, "{bad:?}: {error}");
            assert!(error.message.contains(message), "{bad:?}: {error}");
        }
    }

    #[test]
    fn input_fed_in_pieces_is_checked_as_a_whole() {
        let text = b"id,x,c\nq1,1,\"a \"\"b\"\" c\"\nq2,2,\"d\n";
        for split in 0..text.len() {
            let mut check = QuoteCheck::default();
            let outcome = check
                .feed(&text[..split])
                .and_then(|()| check.feed(&text[split..]))
                .and_then(|()| check.finish());
            assert_eq!(outcome.unwrap_err().line, 3, "split at {split}");
        }
    }
}
