//! Calls a Python module through typed bindings generated at build time.
//!
//! `build.rs` turns `python/inventory.py` into `Inventory`, whose methods are
//! async, typed, and documented from the Python docstrings. The module's
//! dataclasses, enums, `Literal`s and unions become Rust types too.

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

/// Calls that pass and return the module's own types.
async fn run_types(inventory: &Inventory) -> snakebox::Result<Vec<String>> {
    let mut lines = Vec::new();
    let pears = Delivery {
        item: "pear".into(),
        count: 6,
        grade: Grade::Fresh,
        note: None,
    };
    let shelf = inventory.shelf_for(pears.grade).await?;
    lines.push(format!("shelf_for(Fresh) -> {shelf:?}"));
    let received = inventory.receive(pears.clone(), Some(shelf)).await?;
    lines.push(format!("receive(pears) -> {received:?}"));
    let plums = Delivery {
        item: "plum".into(),
        count: 4,
        grade: Grade::Spoilt,
        note: Some("late".into()),
    };
    let received = inventory.receive(plums.clone(), None).await?;
    lines.push(format!("receive(plums) -> {:?}", received.note));
    lines.push(format!(
        "audit(pear) -> {}",
        inventory.audit("pear".into()).await?
    ));
    let mut grades: Vec<(Grade, i64)> = inventory
        .grades(vec![pears, plums.clone(), plums])
        .await?
        .into_iter()
        .collect();
    grades.sort_by_key(|(grade, _)| *grade as u8);
    lines.push(format!("grades(..) -> {grades:?}"));
    // The host writes a `Loose` untagged, and a `Boxed` (which would read
    // back as a `Loose`) tagged.
    let loose = inventory.pack(3, false).await?;
    let boxed = inventory.pack(2, true).await?;
    lines.push(format!("pack(3, false) -> {loose:?}"));
    lines.push(format!("pack(2, true) -> {boxed:?}"));
    lines.push(format!(
        "unpack(loose) -> {}",
        inventory.unpack(loose).await?
    ));
    lines.push(format!(
        "unpack(boxed) -> {}",
        inventory.unpack(boxed).await?
    ));
    // An integer reads back as the `int` case although `float` comes first.
    for amount in [
        FloatOrInt::Int(250),
        FloatOrInt::Float(2.0),
        FloatOrInt::Float(0.5),
    ] {
        let weighed = inventory.weigh(amount.clone()).await?;
        lines.push(format!("weigh({amount:?}) -> {weighed:?}"));
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
    for line in run_types(&inventory).await? {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snakebox::futures::StreamExt as _;

    #[tokio::test]
    async fn typed_generators_stream_their_items() {
        let runtime = snakebox::Runtime::new().expect("runtime");
        let inventory = Inventory::load(&runtime).expect("builds and loads");
        inventory
            .restock("fig".into(), Some(2))
            .await
            .expect("restock");
        inventory
            .restock("date".into(), None)
            .await
            .expect("restock");
        let report: Vec<(String, i64)> = inventory
            .stock_report()
            .map(|item| item.expect("an item"))
            .collect()
            .await;
        assert!(report.contains(&("fig".to_owned(), 2)), "{report:?}");
        assert!(report.contains(&("date".to_owned(), 1)), "{report:?}");
        let arrivals: Vec<Delivery> = inventory
            .arrivals(3)
            .map(|item| item.expect("an item"))
            .collect()
            .await;
        let items: Vec<(&str, i64)> = arrivals
            .iter()
            .map(|d| (d.item.as_str(), d.count))
            .collect();
        assert_eq!(items, [("crate0", 0), ("crate1", 1), ("crate2", 2)]);
        assert!(
            arrivals
                .iter()
                .all(|d| d.grade == Grade::Fresh && d.note.is_none())
        );
    }

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

    #[tokio::test]
    async fn typed_records_enums_and_unions_round_trip() {
        let runtime = snakebox::Runtime::new().expect("runtime");
        let inventory = Inventory::load(&runtime).expect("builds and loads");
        let lines = run_types(&inventory).await.expect("runs");
        assert_eq!(
            lines,
            [
                "shelf_for(Fresh) -> ColdRoom",
                "receive(pears) -> Delivery { item: \"pear\", count: 6, grade: Fresh, \
                 note: Some(\"fresh on the cold_room shelf\") }",
                "receive(plums) -> Some(\"spoilt on the front shelf\")",
                "audit(pear) -> 6",
                "grades(..) -> [(Fresh, 6), (Spoilt, 8)]",
                "pack(3, false) -> Loose(Loose { count: 3 })",
                "pack(2, true) -> Boxed(Boxed { count: 2 })",
                "unpack(loose) -> 3",
                "unpack(boxed) -> 24",
                "weigh(Int(250)) -> Int(250)",
                "weigh(Float(2.0)) -> Float(2.0)",
                "weigh(Float(0.5)) -> Float(0.5)",
            ]
        );
    }
}
