//! Reads the contracts' field comments: for every field of every message under
//! `proto/`, its full name, its type and its `Accepts:` paragraph — the part of
//! the comment that says which values the server takes (anything else is
//! INVALID_ARGUMENT). A line scanner, not a protobuf parser: it knows only the
//! plain layout our protos use (top-level messages, one field per line).

use std::collections::BTreeMap;
use std::path::Path;

/// The marker that opens a field's statement of what it accepts; the statement
/// runs to the end of the comment.
pub const MARKER: &str = "Accepts:";

/// One field of one message.
#[derive(Debug, Clone)]
pub struct Field {
    /// The field's type as written (`string`, `travel.common.v1.Date`, `Money`...).
    pub type_name: String,
    /// The whole comment above the field, lines joined with spaces.
    pub comment: String,
    /// The `Accepts:` paragraph, whitespace collapsed; `None` when there is none.
    pub accepts: Option<String>,
}

/// Every field of every message: full message name (`travel.flight.v1.HoldSeatsRequest`)
/// to its fields by name, in file order.
pub type Contracts = BTreeMap<String, Vec<(String, Field)>>;

/// Reads every `.proto` file under `dir`.
pub fn read(dir: &Path) -> Contracts {
    let mut contracts = Contracts::new();
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no .proto files under {}", dir.display());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        scan(&text, &mut contracts);
    }
    contracts
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

fn scan(text: &str, contracts: &mut Contracts) {
    let mut package = String::new();
    let mut message: Option<String> = None;
    let mut depth = 0usize;
    let mut comment: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(c) = line.strip_prefix("//") {
            comment.push(c.trim().to_owned());
            continue;
        }
        if let Some(p) = line.strip_prefix("package ") {
            package = p.trim_end_matches(';').trim().to_owned();
        } else if depth == 0 && line.starts_with("message ") && line.ends_with('{') {
            let name = line["message ".len()..line.len() - 1].trim();
            message = Some(format!("{package}.{name}"));
            contracts.entry(format!("{package}.{name}")).or_default();
            depth = 1;
        } else if line.ends_with('{') {
            depth += 1;
        } else if line.starts_with('}') {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                message = None;
            }
        } else if let (Some(m), 1, Some((decl, _number))) = (&message, depth, line.split_once('=')) {
            let words: Vec<&str> = decl.split_whitespace().filter(|w| *w != "repeated").collect();
            if let [type_name, name] = words[..] {
                let field = Field {
                    type_name: type_name.to_owned(),
                    comment: comment.join(" "),
                    accepts: accepts(&comment),
                };
                contracts.entry(m.clone()).or_default().push((name.to_owned(), field));
            }
        }
        comment.clear();
    }
}

/// The `Accepts:` paragraph of a comment: from the line that starts with the
/// marker to the end, whitespace collapsed.
fn accepts(comment: &[String]) -> Option<String> {
    let start = comment.iter().position(|l| l.starts_with(MARKER))?;
    let joined = comment[start..].join(" ");
    Some(joined[MARKER.len()..].split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The messages a caller sends: every `…Request` message and, transitively,
/// every message of ours that one of their fields holds.
pub fn inputs(contracts: &Contracts) -> Vec<String> {
    let mut found: Vec<String> = contracts.keys().filter(|m| m.ends_with("Request")).cloned().collect();
    let mut i = 0;
    while i < found.len() {
        let package = found[i].rsplit_once('.').map(|(p, _)| p.to_owned()).unwrap_or_default();
        for (_, field) in &contracts[&found[i]] {
            let candidates = [field.type_name.clone(), format!("{package}.{}", field.type_name)];
            for c in candidates {
                if contracts.contains_key(&c) && !found.contains(&c) {
                    found.push(c);
                }
            }
        }
        i += 1;
    }
    found
}

#[test]
fn the_accepts_paragraph_runs_to_the_end_of_the_comment() {
    // Arrange
    let text = "package p.v1;\n\nmessage XRequest {\n  // What it is.\n  // Accepts: 1 to 9,\n  //   more.\n  int32 n = 1;\n  // No rule.\n  Y y = 2;\n}\n\nmessage Y {\n  string s = 1;\n}\n";
    let mut contracts = Contracts::new();

    // Act
    scan(text, &mut contracts);

    // Assert
    let fields = &contracts["p.v1.XRequest"];
    assert_eq!(fields[0].1.accepts.as_deref(), Some("1 to 9, more."));
    assert_eq!(fields[1].1.accepts, None);
    assert_eq!(inputs(&contracts), ["p.v1.XRequest", "p.v1.Y"]);
}
