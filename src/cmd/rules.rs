//! `tapir rules check [PATH...]`: loads rules (native and Sigma, files or folders) the way a
//! run does, lists every rule with what it reads, and every rule that cannot be run with the
//! file, line and reason. Exit status 1 when any rule is rejected.

use std::fmt::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::detect::{AggKind, RuleSet};

#[derive(Debug, clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Load rules and report each one (id, name, format, event types, fields read) and each
    /// rejected one (file, line, why); exit status 1 when any is rejected.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check the built-in default rules as well as the PATHs (they are checked alone when no
    /// PATH is given).
    #[arg(long)]
    pub builtin: bool,
    /// Rule files or folders (`.yml`/`.yaml`, native and Sigma mixed).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs the command; Ok(false) when a rule was rejected.
pub fn run(args: &RulesArgs) -> Result<bool> {
    match &args.command {
        RulesCommand::Check(c) => check(c),
    }
}

fn check(args: &CheckArgs) -> Result<bool> {
    let files = if args.builtin || args.paths.is_empty() {
        crate::detect::builtin::sources()
    } else {
        Vec::new()
    };
    let set = crate::detect::load_sources(&files, &args.paths).context("cannot load the rules")?;
    print!("{}", render(&set));
    Ok(set.report.rejected.is_empty())
}

/// The report `tapir rules check` prints.
pub fn render(set: &RuleSet) -> String {
    let mut o = String::new();
    for r in &set.rules {
        let m = &r.meta;
        let _ = writeln!(o, "rule {}  [{}]  {}", m.id, m.format.as_str(), m.name);
        let _ = writeln!(o, "  file         {}", m.file);
        if !r.event_types.is_empty() {
            let _ = writeln!(o, "  event types  {}", r.event_types.join(", "));
        }
        let fields = r.fields();
        if !fields.is_empty() {
            let _ = writeln!(o, "  reads        {}", fields.join(", "));
        }
        if let Some(a) = &r.aggregate {
            let what = match &a.kind {
                AggKind::Count { min } => format!("at least {min} hits"),
                AggKind::Distinct { field, min } => format!("at least {min} distinct {field}"),
                AggKind::Temporal { ordered } => format!(
                    "all of {} rules{}",
                    a.over.len(),
                    if *ordered { " in order" } else { "" }
                ),
            };
            let by = if a.group_by.is_empty() {
                String::new()
            } else {
                format!(" by {}", a.group_by.join(", "))
            };
            let _ = writeln!(
                o,
                "  aggregate    {what}{by} within {} s",
                a.window_ns as f64 / 1e9
            );
        }
    }
    for x in &set.report.rejected {
        let _ = writeln!(
            o,
            "rejected {}:{}{}: {}",
            x.file,
            x.line,
            x.rule
                .as_deref()
                .map(|id| format!(" ({id})"))
                .unwrap_or_default(),
            x.why
        );
    }
    let r = &set.report;
    let _ = writeln!(
        o,
        "{} rules loaded ({} native, {} sigma) from {} files; {} rejected",
        set.rules.len(),
        r.native,
        r.sigma,
        r.files,
        r.rejected.len()
    );
    o
}
