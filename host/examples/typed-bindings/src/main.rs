//! Calls a Python module through typed bindings generated at build time.
//!
//! `build.rs` turns `python/inventory.py` into `Inventory`, whose methods are
//! async, typed, and documented from the Python docstrings.

include!(concat!(env!("OUT_DIR"), "/inventory.rs"));

/// Runs the example; returns what it printed, for the test below.
async fn run(inventory: &Inventory) -> snakebox::Result<Vec<String>> {
    let mut lines = Vec::new();
    lines.push(format!(
        "restock(apple) -> {}",
        inventory.restock("apple".into(), None).await?
    ));
    lines.push(format!(
        "restock(apple, 4) -> {}",
        inventory.restock("apple".into(), Some(4)).await?
    ));
    let reserved = inventory.reserve("apple".into(), 3, None).await?;
    lines.push(format!("reserve(apple, 3) -> {reserved:?}"));
    let refused = inventory.reserve("apple".into(), 30, Some(0.01)).await?;
    lines.push(format!("reserve(apple, 30) -> {refused:?}"));
    lines.push(format!("levels() -> {:?}", inventory.levels().await?));
    match inventory.audit("pear".into()).await {
        Err(snakebox::Error::Python(error)) => lines.push(format!("audit(pear) raised {error}")),
        other => lines.push(format!("audit(pear) -> {other:?}")),
    }
    Ok(lines)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), snakebox::Error> {
    let runtime = snakebox::Runtime::new()?;
    let inventory = Inventory::load(&runtime)?;
    for line in run(&inventory).await? {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn typed_calls_round_trip() {
        let runtime = snakebox::Runtime::new().expect("runtime");
        let inventory = Inventory::load(&runtime).expect("builds and loads");
        let lines = run(&inventory).await.expect("runs");
        assert_eq!(
            lines,
            [
                "restock(apple) -> 1",
                "restock(apple, 4) -> 5",
                "reserve(apple, 3) -> Some(2)",
                "reserve(apple, 30) -> None",
                "levels() -> {\"apple\": 2}",
                "audit(pear) raised KeyError: 'pear'",
            ]
        );
    }
}
