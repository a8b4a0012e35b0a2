//! `snakebox cache`: where the cache is, and shrinking it.

use std::process::ExitCode;

use crate::flags::CacheCommand;

pub(crate) fn run(command: CacheCommand) -> anyhow::Result<ExitCode> {
    let dir = snakebox::default_cache_dir();
    // Says what to do when there is no cache folder, and refuses one that
    // is not the user's alone.
    snakebox::builder::open_cache(&dir)?;
    match command {
        CacheCommand::Dir => println!("{}", dir.display()),
        CacheCommand::Prune {
            unused_for,
            dry_run,
        } => {
            let pruned = snakebox::prune_cache(&dir, unused_for, dry_run)?;
            let verb = match dry_run {
                true => "would remove",
                false => "removed",
            };
            for entry in &pruned {
                let shown = entry.path.strip_prefix(&dir).unwrap_or(&entry.path);
                println!("{verb} {} ({})", shown.display(), mib(entry.bytes));
            }
            let total = pruned.iter().map(|entry| entry.bytes).sum();
            println!(
                "{verb} {} from {}: {}",
                match pruned.len() {
                    1 => "1 entry".to_owned(),
                    n => format!("{n} entries"),
                },
                dir.display(),
                mib(total)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
