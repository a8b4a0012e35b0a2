//! The README's bank (`examples/bank/bank.py`) through typed bindings:
//! each Python class is a Rust type whose objects stay in the sandbox.

use std::time::Duration;

include!(concat!(env!("OUT_DIR"), "/bank.rs"));

#[tokio::test]
async fn classes_are_rust_types_with_async_methods() -> snakebox::Result<()> {
    // From here on to its end mark, the README's lines (checked below).
    let bank = Bank::load(&snakebox::Runtime::new()?)?;
    // The constructor, with and without its default.
    let ann = Account::new(&bank, "ann".into(), None).await?;
    let bob = Account::new(&bank, "bob".into(), Some(50)).await?;
    assert_eq!(ann.deposit(30, None).await?, 30);
    assert_eq!(ann.deposit(5, Some("tip".into())).await?, 35);
    // A static function is an associated function.
    assert_eq!(Account::currency(&bank).await?, "EUR");
    // Functions take `&Account` and return `Account`.
    let cy: Account = bank.open_account("cy".into()).await?;
    assert_eq!(bank.transfer(&bob, &cy, 20).await?, 20);
    // The README's end.
    // An async method interleaves with the store's other calls.
    let (settled, deposited) = tokio::join!(ann.settle(0.2), bob.deposit(1, None));
    assert_eq!((settled?, deposited?), (35, 31));
    // A Python error is a Python error.
    let error = ann.deposit(-1, None).await.expect_err("negative");
    assert_eq!(
        error.python().map(|p| p.message.as_str()),
        Some("cannot deposit -1")
    );
    assert_eq!(bank.open_accounts().await?, 3);
    // Dropping the Rust values releases the Python objects.
    drop((ann, bob, cy));
    for _ in 0..200 {
        if bank.open_accounts().await? == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the accounts stayed open");
}

/// The test above runs the README's Rust for classes: each line of that
/// block is in the test's marked lines (white space aside), so changing
/// the README without the test fails here.
#[test]
fn the_test_runs_the_readme_s_lines() {
    let readme = include_str!("../../../../README.md");
    let marker = "With typed bindings (`Bindings::new(\"python/bank.py\")`)";
    let block = readme
        .split_once(marker)
        .and_then(|(_, after)| after.split_once("```rust"))
        .and_then(|(_, rest)| rest.split_once('\n'))
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the README's classes block")
        .0;
    let squeezed = |text: &str| text.split_whitespace().collect::<String>();
    let this = include_str!("classes.rs");
    let body = this
        .split_once("// From here on to its end mark, the README's lines")
        .and_then(|(_, rest)| rest.split_once("// The README's end."))
        .expect("the marked lines")
        .0;
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 7, "{lines:?}");
    for line in lines {
        assert!(
            squeezed(body).contains(&squeezed(line)),
            "the test does not run the README's line: {line}"
        );
    }
}
