//! The YAML front matter of a `SKILL.md`: the block between two `---` lines at the top.
//!
//! Only its top-level scalar fields are read (a skill needs `name` and `description`), in
//! the forms skill authors write: plain text (continued on more-indented lines), `'single'`
//! and `"double"` quotes (escapes, line folding), and `|` / `>` block scalars with their
//! chomping indicators. A key whose value is a nested mapping, a list or a flow collection
//! (`metadata:`, `allowed-tools: [Read]`) is skipped, not rejected: the field exists, we
//! just do not need it. This is a small reader rather than a YAML crate because the
//! maintained ones cost more build time than the whole feature (docs/performance.md has the
//! measurement) and `serde_yaml` is deprecated; what it does not read, it says so by line.

use std::collections::BTreeMap;

/// The front matter's top-level scalars by key, and the text after it.
#[derive(Debug, PartialEq, Eq)]
pub struct FrontMatter<'a> {
    pub fields: BTreeMap<String, String>,
    pub body: &'a str,
}

/// Splits `text` into its front matter and body. `Err` says what is wrong and on which line
/// (1-based, counting the opening `---` as line 1).
pub fn parse(text: &str) -> Result<FrontMatter<'_>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = split_lines(text);
    let first = lines.next();
    if first.is_none_or(|(_, line, _)| line.trim_end() != "---") {
        return Err("it does not start with YAML front matter (a `---` line, then `name:` and `description:`, then `---`)".into());
    }
    let mut block = Vec::new();
    let mut body = None;
    for (number, line, rest) in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            body = Some(rest);
            break;
        }
        block.push((number, line));
    }
    let Some(body) = body else {
        return Err("its front matter is not closed by a `---` line".into());
    };
    Ok(FrontMatter {
        fields: fields(&block)?,
        body,
    })
}

/// `(1-based number, line without its ending, the text after the line)`.
fn split_lines(text: &str) -> impl Iterator<Item = (usize, &str, &str)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let (line, after) = match rest.find('\n') {
            Some(end) => (&rest[..end], &rest[end + 1..]),
            None => (rest, ""),
        };
        rest = after;
        Some((number, line.strip_suffix('\r').unwrap_or(line), after))
    })
}

fn fields(block: &[(usize, &str)]) -> Result<BTreeMap<String, String>, String> {
    let mut fields = BTreeMap::new();
    let mut seen = Vec::new();
    let mut at = 0;
    while at < block.len() {
        let (number, line) = block[at];
        at += 1;
        if is_blank_or_comment(line) {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            return Err(format!(
                "front matter line {number}: indented text where a `key: value` line was expected"
            ));
        }
        let Some((key, value)) = split_key(line) else {
            return Err(format!(
                "front matter line {number}: expected `key: value`, found `{}`",
                line.trim()
            ));
        };
        if seen.contains(&key) {
            return Err(format!(
                "front matter line {number}: `{key}` is given twice"
            ));
        }
        seen.push(key.clone());
        // The lines that belong to this key: more indented ones, the items of a list
        // (which YAML lets start in the key's column), and blank lines among them.
        let start = at;
        while at < block.len() {
            let (_, next) = block[at];
            let belongs = next.trim().is_empty()
                || next.starts_with([' ', '\t'])
                || next.starts_with("- ")
                || next == "-";
            if !belongs {
                break;
            }
            at += 1;
        }
        let mut end = at;
        while end > start && block[end - 1].1.trim().is_empty() {
            end -= 1;
        }
        let continuation: Vec<&str> = block[start..end].iter().map(|(_, l)| *l).collect();
        if let Some(text) = scalar(number, value, &continuation)? {
            fields.insert(key, text);
        }
    }
    Ok(fields)
}

fn is_blank_or_comment(line: &str) -> bool {
    let trimmed = line.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// `key: rest` at the start of a line; the key may be quoted.
fn split_key(line: &str) -> Option<(String, &str)> {
    if let Some(quote) = line.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let close = line[1..].find(quote)? + 1;
        let rest = line[close + 1..].strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None;
        }
        return Some((line[1..close].to_string(), rest.trim_start()));
    }
    let colon = line
        .char_indices()
        .find(|&(i, c)| {
            c == ':'
                && line[i + 1..]
                    .chars()
                    .next()
                    .is_none_or(|n| n == ' ' || n == '\t')
        })?
        .0;
    let key = line[..colon].trim_end();
    if key.is_empty() || key.starts_with(['-', '[', '{', '#', '&', '*', '!', '|', '>']) {
        return None;
    }
    Some((key.to_string(), line[colon + 1..].trim_start()))
}

/// The value that starts as `value` on the key's line, continued by `more` (its indented
/// lines). `None`: not a scalar (a nested mapping, a list, a flow collection).
fn scalar(number: usize, value: &str, more: &[&str]) -> Result<Option<String>, String> {
    let value = strip_tag(value);
    let first = value.chars().next();
    match first {
        None | Some('#') => {
            let Some(first_more) = more.iter().find(|l| !is_blank_or_comment(l)) else {
                return Ok(Some(String::new()));
            };
            let inner = first_more.trim_start();
            if inner.starts_with("- ") || inner == "-" || split_key(inner).is_some() {
                return Ok(None);
            }
            Ok(Some(plain("", more)))
        }
        Some('[' | '{') => Ok(None),
        Some('&' | '*') => Err(format!(
            "front matter line {number}: anchors and aliases are not supported; write the text itself"
        )),
        Some('|' | '>') => block_scalar(number, value, more).map(Some),
        Some('"') => double_quoted(number, value, more).map(Some),
        Some('\'') => single_quoted(number, value, more).map(Some),
        Some(_) => Ok(Some(plain(value, more))),
    }
}

/// `!!str text` is text.
fn strip_tag(value: &str) -> &str {
    match value.strip_prefix("!!str") {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => rest.trim_start(),
        _ => value,
    }
}

/// A plain scalar: its lines folded with single spaces (an empty line is a line break),
/// a ` #` comment cut.
fn plain(first: &str, more: &[&str]) -> String {
    let mut lines = vec![cut_comment(first)];
    lines.extend(more.iter().map(|l| cut_comment(l.trim())));
    fold(&lines)
}

fn cut_comment(text: &str) -> &str {
    let cut = text
        .char_indices()
        .find(|&(i, c)| c == '#' && (i == 0 || text[..i].ends_with([' ', '\t'])))
        .map_or(text.len(), |(i, _)| i);
    text[..cut].trim()
}

/// YAML's line folding: lines join with a space, each empty line is a newline.
fn fold(lines: &[&str]) -> String {
    let mut text = String::new();
    let mut breaks = 0;
    for line in lines {
        if line.is_empty() {
            breaks += 1;
            continue;
        }
        if !text.is_empty() {
            if breaks == 0 {
                text.push(' ');
            } else {
                text.extend(std::iter::repeat_n('\n', breaks));
            }
        }
        breaks = 0;
        text.push_str(line);
    }
    text
}

fn block_scalar(number: usize, header: &str, more: &[&str]) -> Result<String, String> {
    let header = cut_comment(header);
    let literal = header.starts_with('|');
    let mut chomp = Chomp::Clip;
    let mut indent = None;
    for c in header[1..].chars() {
        match c {
            '-' => chomp = Chomp::Strip,
            '+' => chomp = Chomp::Keep,
            '1'..='9' => indent = Some(c as usize - '0' as usize),
            _ => {
                return Err(format!(
                    "front matter line {number}: `{header}` is not a block scalar header (`|`, `>`, `|-`, `>+`, …)"
                ));
            }
        }
    }
    let indent = indent.unwrap_or_else(|| {
        more.iter()
            .find(|l| !l.trim().is_empty())
            .map_or(0, |l| l.len() - l.trim_start().len())
    });
    let lines: Vec<&str> = more
        .iter()
        .map(|l| {
            if l.len() >= indent {
                &l[indent..]
            } else {
                l.trim_start()
            }
        })
        .collect();
    let mut text = if literal {
        lines.join("\n")
    } else {
        fold_block(&lines)
    };
    match chomp {
        Chomp::Strip => text.truncate(text.trim_end_matches('\n').len()),
        Chomp::Clip => {
            text.truncate(text.trim_end_matches('\n').len());
            if !text.is_empty() {
                text.push('\n');
            }
        }
        Chomp::Keep => text.push('\n'),
    }
    Ok(text)
}

/// A `>` scalar's folding: lines join with a space and each empty line is a newline, but
/// the breaks around more-indented lines are kept.
fn fold_block(lines: &[&str]) -> String {
    let mut text = String::new();
    let mut empty = 0;
    let mut previous: Option<bool> = None;
    for line in lines {
        if line.is_empty() {
            empty += 1;
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        match previous {
            None => text.extend(std::iter::repeat_n('\n', empty)),
            Some(false) if !indented && empty == 0 => text.push(' '),
            Some(false) if !indented => text.extend(std::iter::repeat_n('\n', empty)),
            Some(_) => text.extend(std::iter::repeat_n('\n', empty + 1)),
        }
        text.push_str(line);
        empty = 0;
        previous = Some(indented);
    }
    text
}

enum Chomp {
    Strip,
    Clip,
    Keep,
}

/// The quoted text starting at `value`, which may go on over `more` lines.
fn quoted_source(value: &str, more: &[&str]) -> Vec<String> {
    std::iter::once(value.to_string())
        .chain(more.iter().map(|l| l.trim().to_string()))
        .collect()
}

fn single_quoted(number: usize, value: &str, more: &[&str]) -> Result<String, String> {
    let source = quoted_source(value, more);
    let joined = source.join("\n");
    let mut chars = joined[1..].chars().peekable();
    let mut raw = String::new();
    loop {
        match chars.next() {
            None => {
                return Err(format!(
                    "front matter line {number}: the '-quoted text is not closed"
                ));
            }
            Some('\'') if chars.peek() == Some(&'\'') => {
                chars.next();
                raw.push('\'');
            }
            Some('\'') => break,
            Some(c) => raw.push(c),
        }
    }
    expect_end(number, chars.collect::<String>().as_str())?;
    Ok(fold(&raw.split('\n').map(str::trim).collect::<Vec<_>>()))
}

fn double_quoted(number: usize, value: &str, more: &[&str]) -> Result<String, String> {
    let joined = quoted_source(value, more).join("\n");
    let mut chars = joined[1..].chars();
    // Escapes are decoded after folding, so an escaped `\n` is not folded away: keep them
    // as private-use placeholders until then.
    let mut raw = String::new();
    let mut escapes = Vec::new();
    loop {
        match chars.next() {
            None => {
                return Err(format!(
                    "front matter line {number}: the \"-quoted text is not closed"
                ));
            }
            Some('"') => break,
            Some('\\') => {
                let escaped = match chars.next() {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some('0') => '\0',
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some(' ') => ' ',
                    Some('\n') => continue,
                    Some(kind @ ('x' | 'u' | 'U')) => {
                        let digits = match kind {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.by_ref().take(digits).collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                format!(
                                    "front matter line {number}: `\\{kind}{hex}` is not a character"
                                )
                            })?
                    }
                    other => {
                        return Err(format!(
                            "front matter line {number}: unknown escape `\\{}`",
                            other.map(String::from).unwrap_or_default()
                        ));
                    }
                };
                escapes.push(escaped);
                raw.push('\u{E000}');
            }
            Some(c) => raw.push(c),
        }
    }
    expect_end(number, chars.collect::<String>().as_str())?;
    let folded = fold(&raw.split('\n').map(str::trim).collect::<Vec<_>>());
    let mut escapes = escapes.into_iter();
    Ok(folded
        .chars()
        .map(|c| match c {
            '\u{E000}' => escapes.next().unwrap_or(c),
            c => c,
        })
        .collect())
}

fn expect_end(number: usize, after: &str) -> Result<(), String> {
    let after = after.trim();
    if after.is_empty() || after.starts_with('#') {
        Ok(())
    } else {
        Err(format!(
            "front matter line {number}: unexpected `{after}` after the quoted text"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, key: &str) -> String {
        let parsed = parse(text).unwrap_or_else(|e| panic!("{e}: {text}"));
        parsed.fields.get(key).cloned().unwrap_or_default()
    }

    #[test]
    fn plain_fields_and_the_body_after_the_block() {
        let text = "---\nname: pdf\ndescription: Fill PDF forms. Use it for PDFs # a comment\nlicense: Proprietary. LICENSE.txt has complete terms\n---\n# PDF\n\nBody text\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.fields["name"], "pdf");
        assert_eq!(
            parsed.fields["description"],
            "Fill PDF forms. Use it for PDFs"
        );
        assert_eq!(parsed.body, "# PDF\n\nBody text\n");
    }

    #[test]
    fn plain_text_continued_on_indented_lines_is_folded() {
        let text = "---\nname: x\ndescription: first line\n  second line\n\n  new paragraph\n---\n";
        assert_eq!(
            field(text, "description"),
            "first line second line\nnew paragraph"
        );
        let next_line = "---\ndescription:\n  all on\n  the next lines\n---\n";
        assert_eq!(field(next_line, "description"), "all on the next lines");
    }

    #[test]
    fn quoted_text_with_escapes_and_colons() {
        let text = "---\nname: 'it''s: quoted'\ndescription: \"Say \\\"hi\\\": a\\tb\\u00e9\n  folded\"\n---\n";
        assert_eq!(field(text, "name"), "it's: quoted");
        assert_eq!(field(text, "description"), "Say \"hi\": a\tbé folded");
    }

    #[test]
    fn block_scalars_keep_or_fold_lines_and_chomp() {
        let literal = "---\ndescription: |\n  one\n  two\n\nname: x\n---\n";
        assert_eq!(field(literal, "description"), "one\ntwo\n");
        let folded = "---\ndescription: >-\n  one\n  two\n\n  three\n---\n";
        assert_eq!(field(folded, "description"), "one two\nthree");
        let kept = "---\ndescription: |+\n  one\n---\n";
        assert_eq!(field(kept, "description"), "one\n");
    }

    #[test]
    fn nested_mappings_lists_and_flow_collections_are_skipped() {
        let text = "---\nname: x\nmetadata:\n  short-description: s\n  tags:\n    - a\nallowed-tools: [Read, Write]\nitems:\n- one\ndescription: d\n---\n";
        let parsed = parse(text).unwrap();
        let keys: Vec<&str> = parsed.fields.keys().map(String::as_str).collect();
        assert_eq!(keys, ["description", "name"]);
    }

    #[test]
    fn windows_line_endings_and_a_byte_order_mark_are_read() {
        let text = "\u{feff}---\r\nname: x\r\ndescription: d\r\n---\r\nbody\r\n";
        let parsed = parse(text).unwrap();
        assert_eq!(parsed.fields["description"], "d");
        assert_eq!(parsed.body, "body\r\n");
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let cases = [
            ("name: x\n", "does not start with YAML front matter"),
            ("---\nname: x\n", "not closed by a `---` line"),
            (
                "---\nname: x\njust words\n---\n",
                "line 3: expected `key: value`",
            ),
            (
                "---\nname: x\nname: y\n---\n",
                "line 3: `name` is given twice",
            ),
            (
                "---\ndescription: \"open\n---\n",
                "line 2: the \"-quoted text is not closed",
            ),
            ("---\ndescription: 'a' b\n---\n", "unexpected `b`"),
            ("---\ndescription: \"\\q\"\n---\n", "unknown escape `\\q`"),
            ("---\ndescription: *ref\n---\n", "aliases are not supported"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}
