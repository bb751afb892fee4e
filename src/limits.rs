//! Bounds on what the harness reads from files and the command line: a file
//! is read up to a size limit (never whole first), YAML is refused when it
//! nests deeper than a few dozen levels before any parser sees it, and a
//! `--tags` expression is refused when it is long or deep enough to exhaust
//! the stack of the recursive tag-expression parser.

use std::io::Read;
use std::path::Path;

/// Largest profile or waiver file read (bytes).
pub const MAX_YAML_FILE: u64 = 1024 * 1024;
/// Largest `report.json` read (bytes); a default run writes well under 1 MB.
pub const MAX_REPORT_JSON: u64 = 64 * 1024 * 1024;
/// Deepest YAML nesting (block indentation levels, compact `- ` entries and
/// flow `[`/`{` together) accepted; real profiles nest four or five levels.
pub const MAX_YAML_DEPTH: usize = 64;
/// Most tokens (tags, operators, parentheses) in a `--tags` expression.
pub const MAX_TAG_TOKENS: usize = 512;
/// Deepest parenthesis nesting in a `--tags` expression.
pub const MAX_TAG_DEPTH: usize = 32;

/// Reads a text file, refusing (without reading it whole) one longer than
/// `max` bytes; a device such as `/dev/zero` stops at the limit too.
pub fn read_text(path: &Path, max: u64) -> Result<String, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read the file ({e})"))?;
    let mut bytes = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file ({e})"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "expected at most {max} bytes, came more (the file is not read past the limit)"
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "expected UTF-8 text, came a byte 0x{:02x} at offset {} that is not",
            e.as_bytes()[e.utf8_error().valid_up_to()],
            e.utf8_error().valid_up_to()
        )
    })
}

/// An over-estimate of how deep a YAML text nests, cheap and linear: each
/// more-indented line opens a level, each compact `- ` entry on a line
/// another, each unquoted `[` or `{` another (until its closer). Quoted
/// scalars and comments are skipped.
pub fn yaml_depth(text: &str) -> usize {
    let mut stack: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut max = 0usize;
    for line in text.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if flow == 0 && (rest.is_empty() || rest.starts_with('#')) {
            continue;
        }
        if flow == 0 {
            // Block structure: the line's own column, then one per `- `.
            let mut cols = vec![indent];
            let mut r = rest;
            let mut col = indent;
            while let Some(after) = r.strip_prefix("- ").or_else(|| r.strip_prefix("? ")) {
                let skip = 2 + (after.len() - after.trim_start_matches(' ').len());
                col += skip;
                r = &r[skip..];
                cols.push(col);
            }
            while stack.last().is_some_and(|&top| top >= cols[0]) {
                stack.pop();
            }
            stack.extend(cols);
        }
        // Flow collections, outside quotes and comments.
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in rest.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' if matches!(prev, ' ' | '[' | '{' | ',' | ':') => quote = Some(c),
                    '#' if prev == ' ' => break,
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = c;
            max = max.max(stack.len() + flow);
        }
        max = max.max(stack.len() + flow);
    }
    max
}

/// Refuses YAML nesting deeper than [`MAX_YAML_DEPTH`] (before parsing:
/// a parser given 100 000 levels works for a minute before it refuses).
pub fn check_yaml_depth(text: &str) -> Result<(), String> {
    let d = yaml_depth(text);
    if d > MAX_YAML_DEPTH {
        return Err(format!(
            "expected YAML nested at most {MAX_YAML_DEPTH} levels, came {d} or more"
        ));
    }
    Ok(())
}

/// Refuses a `--tags` expression with more than [`MAX_TAG_TOKENS`] tokens or
/// parentheses nested deeper than [`MAX_TAG_DEPTH`] (the parser and the
/// evaluation recurse once per level).
pub fn check_tag_expression(expr: &str) -> Result<(), String> {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    for c in expr.chars() {
        match c {
            '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_TAG_DEPTH {
        return Err(format!(
            "expected parentheses nested at most {MAX_TAG_DEPTH} levels, came {deepest}"
        ));
    }
    let tokens = expr.replace(['(', ')'], " ( ").split_whitespace().count();
    if tokens > MAX_TAG_TOKENS {
        return Err(format!(
            "expected at most {MAX_TAG_TOKENS} tags, operators and parentheses, came {tokens}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_depth_counts_blocks_compact_entries_and_flows() {
        assert_eq!(yaml_depth("a: 1\nb: 2\n"), 1);
        assert_eq!(yaml_depth("a:\n  b:\n    c: 1\nd: 2\n"), 3);
        assert_eq!(yaml_depth("- - - x\n"), 4);
        assert_eq!(yaml_depth("a: [1, {b: [2]}]\n"), 4);
        assert_eq!(yaml_depth("a: \"[[[[\" # [[[[\n"), 1);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(check_yaml_depth(&deep).is_err());
        let dashes = "- ".repeat(100_000) + "x\n";
        assert!(check_yaml_depth(&dashes).is_err());
        let indented: String = (0..100)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        assert!(check_yaml_depth(&indented).is_err());
    }

    #[test]
    fn tag_expressions_are_bounded() {
        assert!(check_tag_expression("@DR-1 and (not @im-server or @smpp)").is_ok());
        let deep = format!("{}@a{}", "(".repeat(20_000), ")".repeat(20_000));
        let e = check_tag_expression(&deep).unwrap_err();
        assert!(e.contains("expected") && e.contains("came"), "{e}");
        let long = vec!["@a"; 10_000].join(" or ");
        assert!(check_tag_expression(&long).is_err());
    }

    #[test]
    fn reading_stops_at_the_limit() {
        let e = read_text(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.contains("at most 1024 bytes"), "{e}");
    }
}
