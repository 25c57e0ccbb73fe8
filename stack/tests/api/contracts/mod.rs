//! The contracts say what each field accepts, and the servers agree: every
//! field of every request message under `proto/` ends its comment with an
//! `Accepts:` paragraph; every paragraph is quoted by the rows of the table in
//! `rows/`; and every row is fed to the running stack — the value at the
//! boundary is not refused as malformed, the value just past it is refused
//! with INVALID_ARGUMENT and a BadRequest violation naming the field.
//!
//! To change what a field accepts: change the validation, its `Accepts:`
//! paragraph and its rows together; this test fails until all three agree.

mod calls;
mod protos;
mod rows;

use std::path::Path;

use tonic::Code;
use tonic_types::StatusExt;
use travel_stack::Stack;

use calls::{Call, Clients};
use protos::MARKER;
use rows::Row;

use crate::helpers::{self, stack_config as config};

const ADMIN: (&str, &str) = (helpers::ADMIN, helpers::PASSWORD);
const SERVICE: (&str, &str) = helpers::SERVICE;

/// What is wrong between the protos and the table: fields that do not say
/// what they accept, paragraphs no row checks, rows quoting something else.
fn documentation_problems(rows: &[Row]) -> Vec<String> {
    let contracts = protos::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto"));
    let mut problems = Vec::new();
    for message in protos::inputs(&contracts) {
        for (name, field) in &contracts[&message] {
            let full = format!("{message}.{name}");
            match &field.accepts {
                None => problems.push(format!(
                    "{full} does not say what it accepts: end its comment with an `{MARKER}` paragraph \
                     (it now says: {:?})",
                    field.comment
                )),
                Some(rule) if !rows.iter().any(|r| r.field == full) => problems.push(format!(
                    "{full} accepts {rule:?}, but no row of the table feeds that to the server"
                )),
                Some(_) => {}
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for row in rows.iter().filter(|r| seen.insert((r.field.as_str(), r.rule))) {
        let documented = row.field.rsplit_once('.').and_then(|(message, name)| {
            contracts
                .get(message)
                .and_then(|fields| fields.iter().find(|(n, _)| n == name))
        });
        match documented {
            None => problems.push(format!("row for {}: no such field in the protos", row.field)),
            Some((_, field)) if field.accepts.as_deref() != Some(row.rule) => problems.push(format!(
                "row for {} quotes {:?}, but the proto's `{MARKER}` paragraph is {:?}",
                row.field, row.rule, field.accepts
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Feeds each row's two requests to the stack; what the server did differently.
async fn boundary_problems(rows: Vec<Row>) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let stack = Stack::start(&config(dir.path())).await.expect("stack starts");
    let clients = Clients::connect(&stack, ADMIN, SERVICE).await;
    let mut problems = Vec::new();
    for row in rows {
        let label = format!("{} ({:?})", row.field, row.rule.chars().take(60).collect::<String>());
        if let Err(status) = clients.send(row.accepted.clone()).await
            && status.code() == Code::InvalidArgument
        {
            problems.push(format!(
                "{label}: a value at the boundary was refused: {:?} in {}",
                status.message(),
                brief(&row.accepted)
            ));
        }
        match clients.send(row.refused.clone()).await {
            Err(status) if status.code() == Code::InvalidArgument => {
                let named = status
                    .get_details_bad_request()
                    .is_some_and(|bad| bad.field_violations.iter().any(|v| v.field == row.violation));
                if !named {
                    problems.push(format!(
                        "{label}: refused, but no violation names {:?}: {:?}",
                        row.violation,
                        status.message()
                    ));
                }
            }
            other => problems.push(format!(
                "{label}: a value past the boundary was not refused as malformed: {:?} for {}",
                other.map_err(|s| (s.code(), s.message().to_owned())),
                brief(&row.refused)
            )),
        }
    }
    stack.stop().await;
    problems
}

/// A request, shortened for a failure message.
fn brief(call: &Call) -> String {
    let text = format!("{call:?}");
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

fn report(problems: &[String]) -> String {
    format!("{} problem(s):\n  {}", problems.len(), problems.join("\n  "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contracts_say_what_each_field_accepts() {
    // Arrange
    let rows = rows::all();

    // Act
    let mut problems = documentation_problems(&rows);
    problems.extend(boundary_problems(rows).await);

    // Assert
    assert!(problems.is_empty(), "{}", report(&problems));
}
